//! An `.xls` workbook written byte by byte (BIFF8 records in an OLE file), for the tests of the
//! `.xls` guard: the end-to-end tests use it through `util`, and the unit tests of
//! `src/input/workbook/xls_guard.rs` include this file by its path, so both build one format.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

/// The record types written here.
pub(crate) const BOF: u16 = 0x0809;
pub(crate) const EOF: u16 = 0x000A;
pub(crate) const BOUND_SHEET: u16 = 0x0085;
pub(crate) const NUMBER: u16 = 0x0203;

/// One BIFF record: type, length, data.
pub(crate) fn rec(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut out = typ.to_le_bytes().to_vec();
    out.extend((data.len() as u16).to_le_bytes());
    out.extend(data);
    out
}

/// A BIFF8 beginning-of-file record: 5 starts the globals, 0x10 a worksheet.
pub(crate) fn bof(kind: u16) -> Vec<u8> {
    let mut data = vec![0u8; 16];
    data[0..2].copy_from_slice(&0x0600u16.to_le_bytes());
    data[2..4].copy_from_slice(&kind.to_le_bytes());
    rec(BOF, &data)
}

/// A number cell at `row`, `col`.
pub(crate) fn number(row: u16, col: u16) -> Vec<u8> {
    let mut data = [row.to_le_bytes(), col.to_le_bytes(), [0, 0]].concat();
    data.extend(1.0f64.to_le_bytes());
    rec(NUMBER, &data)
}

/// A `Workbook` stream: globals listing `entries` sheets that all start at the one sheet made
/// of `sheet` records (between its BOF and EOF). The sheets are named `0000`, `0001`, ...:
/// distinct, as a repeated name would replace the sheet before it.
pub(crate) fn stream(entries: u32, sheet: &[Vec<u8>]) -> Vec<u8> {
    let bound = |at: u32, n: u32| {
        let mut data = at.to_le_bytes().to_vec();
        data.extend([0, 0, 4, 0]);
        data.extend(format!("{n:04}").bytes());
        rec(BOUND_SHEET, &data)
    };
    let globals = bof(5).len() + entries as usize * bound(0, 0).len() + rec(EOF, &[]).len();
    let mut out = bof(5);
    for n in 0..entries {
        out.extend(bound(globals as u32, n));
    }
    out.extend(rec(EOF, &[]));
    out.extend(bof(0x10));
    for r in sheet {
        out.extend(r);
    }
    out.extend(rec(EOF, &[]));
    out
}

/// Writes an OLE file at `path` holding `stream` as its `Workbook`.
pub(crate) fn ole(path: &Path, stream: &[u8]) {
    let mut book = cfb::create(path).unwrap();
    book.create_stream("/Workbook")
        .unwrap()
        .write_all(stream)
        .unwrap();
    book.flush().unwrap();
}
