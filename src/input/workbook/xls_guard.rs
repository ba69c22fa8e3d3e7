//! What an .xls (OLE) workbook would cost, measured before calamine opens it.
//!
//! calamine parses every sheet of an .xls when it opens the file, and holds each sheet as a
//! rectangle: the cells from the first used row and column to the last, gaps included (a sheet
//! with one cell in A1 and one in its last row takes the whole sheet), once for the values and
//! once for the formulas, after reserving the area the sheet's `DIMENSIONS` record claims. So a
//! 200-byte file can ask for gigabytes, or for more than any allocator gives (the process
//! aborts).
//!
//! Policy: the `Workbook` stream is read record by record here (never held whole), following
//! the sheets the way calamine does (every `BoundSheet8` entry, from its offset to the sheet's
//! end, nested chart substreams skipped), and the areas calamine would hold are added up over
//! every sheet: the claimed dimensions, the used area of the values and of the formulas. Over
//! `--max-cells` the file is refused before calamine sees it. The stream may not exceed
//! `--max-unpacked-mib`, nor may the sheets' records read in all (entries may point at one
//! sheet many times). A sheet entry pointing past the stream's end is refused as damaged.
//! Anything else this reader cannot follow (no `Workbook` stream, an encrypted package, a
//! damaged container) is left to calamine, which says what the file is.

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::guard::Refusal;
use crate::input::limits::{Limits, OverLimit};
use crate::setting::Setting;

/// Record types read (MS-XLS 2.3).
mod record {
    pub(super) const BOF: u16 = 0x0809;
    pub(super) const EOF: u16 = 0x000A;
    pub(super) const BOUND_SHEET: u16 = 0x0085;
    pub(super) const DIMENSIONS: u16 = 0x0200;
    pub(super) const NUMBER: u16 = 0x0203;
    pub(super) const LABEL: u16 = 0x0204;
    pub(super) const RSTRING: u16 = 0x00D6;
    pub(super) const BOOL_ERR: u16 = 0x0205;
    pub(super) const RK: u16 = 0x027E;
    pub(super) const LABEL_SST: u16 = 0x00FD;
    pub(super) const MUL_RK: u16 = 0x00BD;
    pub(super) const FORMULA: u16 = 0x0006;
}

/// The rectangle spanned by some cells.
#[derive(Debug, Default, Clone, Copy)]
struct Span(Option<(u32, u32, u32, u32)>);

impl Span {
    fn add(&mut self, row: u32, col: u32) {
        self.0 = Some(match self.0 {
            None => (row, row, col, col),
            Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(col), c1.max(col)),
        });
    }

    fn cells(self) -> u64 {
        self.0.map_or(0, |(r0, r1, c0, c1)| {
            (u64::from(r1 - r0) + 1) * (u64::from(c1 - c0) + 1)
        })
    }
}

/// Checks an .xls file against `limits` (see the module doc).
pub(super) fn check_xls(path: &Path, limits: &Limits) -> Result<(), Refusal> {
    let Ok(mut book) = cfb::open(path) else {
        return Ok(());
    };
    let name = ["/Workbook", "/Book"]
        .into_iter()
        .find(|n| book.is_stream(n));
    let Some(name) = name else {
        return Ok(());
    };
    let Ok(stream) = book.open_stream(name) else {
        return Ok(());
    };
    let over = |limit: OverLimit| Refusal::Over {
        part: name.trim_start_matches('/').to_string(),
        limit,
    };
    let len = stream.len();
    let budget = limits.part_bytes();
    if len > budget {
        return Err(over(unpacked(len, limits)));
    }
    let mut records = Records::new(BufReader::new(stream), len);
    let sheets = records.sheet_offsets().map_err(damaged)?;
    let mut cells: u64 = 0;
    let mut read: u64 = 0;
    for offset in sheets {
        if offset > len {
            return Err(Refusal::Not(
                "this .xls workbook is damaged (a sheet starts past the end of the workbook); \
                 open it and save it again, or save the sheet as CSV"
                    .into(),
            ));
        }
        let (sheet_cells, sheet_bytes) = records.sheet(offset).map_err(damaged)?;
        cells = cells.saturating_add(sheet_cells);
        read = read.saturating_add(sheet_bytes);
        if cells > limits.max_cells {
            return Err(over(OverLimit::new(
                "the sheets span more cells than liveaudit reads whole (rows x columns from \
                 the first used cell to the last, gaps included, over every sheet)",
                cells,
                limits.max_cells,
                "cells",
                Setting::MaxCells,
            )));
        }
        if read > budget {
            return Err(over(unpacked(read, limits)));
        }
    }
    Ok(())
}

fn unpacked(seen: u64, limits: &Limits) -> OverLimit {
    OverLimit::new(
        "the workbook's sheets are larger than liveaudit reads",
        seen,
        limits.part_bytes(),
        "bytes",
        Setting::MaxUnpackedMib,
    )
}

fn damaged(e: std::io::Error) -> Refusal {
    Refusal::Not(format!(
        "cannot read this .xls workbook ({e}); open it and save it again, or save the sheet as \
         CSV"
    ))
}

/// The records of a `Workbook` stream: type, length (at most 8,224 bytes), data.
struct Records<R> {
    reader: R,
    len: u64,
    at: u64,
    data: Vec<u8>,
}

impl<R: Read + Seek> Records<R> {
    fn new(reader: R, len: u64) -> Records<R> {
        Records {
            reader,
            len,
            at: 0,
            data: Vec::with_capacity(1 << 13),
        }
    }

    fn seek(&mut self, offset: u64) -> std::io::Result<()> {
        self.reader.seek(SeekFrom::Start(offset))?;
        self.at = offset;
        Ok(())
    }

    /// The next record's type, its data in `self.data`; `None` at the stream's end (a record
    /// cut short there ends the stream too, as calamine reads it).
    fn next(&mut self) -> std::io::Result<Option<u16>> {
        if self.at + 4 > self.len {
            return Ok(None);
        }
        let mut head = [0u8; 4];
        self.reader.read_exact(&mut head)?;
        let typ = u16::from_le_bytes([head[0], head[1]]);
        let size = u64::from(u16::from_le_bytes([head[2], head[3]]));
        self.at += 4;
        if self.at + size > self.len {
            return Ok(None);
        }
        self.data.clear();
        (&mut self.reader).take(size).read_to_end(&mut self.data)?;
        self.at += size;
        Ok(Some(typ))
    }

    /// The offsets of the sheets the workbook globals list (up to the globals' end).
    fn sheet_offsets(&mut self) -> std::io::Result<Vec<u64>> {
        self.seek(0)?;
        let mut offsets = Vec::new();
        while let Some(typ) = self.next()? {
            match typ {
                record::BOUND_SHEET if self.data.len() >= 4 => {
                    offsets.push(u64::from(u32::from_le_bytes([
                        self.data[0],
                        self.data[1],
                        self.data[2],
                        self.data[3],
                    ])))
                }
                record::EOF => break,
                _ => {}
            }
        }
        Ok(offsets)
    }

    /// The cells calamine would hold for the sheet at `offset`, and the bytes read.
    fn sheet(&mut self, offset: u64) -> std::io::Result<(u64, u64)> {
        self.seek(offset)?;
        let mut values = Span::default();
        let mut formulas = Span::default();
        let mut reserved: u64 = 0;
        let mut seen_bof = false;
        let mut depth = 0usize;
        while let Some(typ) = self.next()? {
            let d = &self.data;
            let u16_at = |i: usize| u32::from(u16::from_le_bytes([d[i], d[i + 1]]));
            let u32_at = |i: usize| u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
            if depth > 0 {
                match typ {
                    record::BOF => depth += 1,
                    record::EOF => depth -= 1,
                    _ => {}
                }
                continue;
            }
            match typ {
                record::BOF if seen_bof => depth += 1,
                record::BOF => seen_bof = true,
                record::EOF => break,
                record::DIMENSIONS => {
                    let claimed = match d.len() {
                        10 => Some((u16_at(0), u16_at(2), u16_at(4), u16_at(6))),
                        14 | 16 => Some((u32_at(0), u32_at(4), u16_at(8), u16_at(10))),
                        _ => None,
                    };
                    if let Some(claimed) = claimed {
                        // calamine reserves room for the claim (room already reserved counts).
                        reserved = reserved.max(reserved_cells(claimed));
                    }
                }
                record::NUMBER
                | record::LABEL
                | record::RSTRING
                | record::BOOL_ERR
                | record::RK
                | record::LABEL_SST
                    if d.len() >= 4 =>
                {
                    values.add(u16_at(0), u16_at(2));
                }
                record::MUL_RK if d.len() >= 6 => {
                    let row = u16_at(0);
                    values.add(row, u16_at(2));
                    values.add(row, u16_at(d.len() - 2));
                }
                record::FORMULA if d.len() >= 4 => {
                    values.add(u16_at(0), u16_at(2));
                    formulas.add(u16_at(0), u16_at(2));
                }
                _ => {}
            }
        }
        let cells = reserved
            .saturating_add(values.cells())
            .saturating_add(formulas.cells());
        Ok((cells, self.at.saturating_sub(offset)))
    }
}

/// The cells calamine reserves for a `DIMENSIONS` record (first row, row after the last, first
/// column, column after the last), computed as calamine computes it: in 32-bit arithmetic that
/// wraps, so a record whose last row comes before its first claims about four billion rows.
fn reserved_cells((first_row, row_after, first_col, col_after): (u32, u32, u32, u32)) -> u64 {
    let first_col = if first_col > 0xFF || col_after < first_col {
        0
    } else {
        first_col
    };
    if row_after == 0 || col_after == 0 {
        return 1;
    }
    let rows = (row_after - 1).wrapping_sub(first_row).wrapping_add(1);
    let cols = (col_after - 1).wrapping_sub(first_col).wrapping_add(1);
    u64::from(rows) * u64::from(cols)
}

#[cfg(test)]
#[path = "xls_guard/tests.rs"]
mod tests;
