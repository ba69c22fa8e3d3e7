//! Workbooks (.xlsx, .xlsb, .ods in a ZIP container; .xls in an OLE container) read with
//! calamine: the first sheet, or the one `--sheet` names, as rows for [`super::records`].
//!
//! A ZIP workbook is measured by `guard` before calamine opens it (what its parts unpack to,
//! the longest cell, the shared strings, the cells an .ods expands to), an .xls by
//! `xls_guard` (the cells its sheets span), and each is refused over the input's limits; its kind comes from its parts, so an .ods error is never hidden behind an
//! .xlsx one. An OLE file that holds an encrypted OOXML package is a password-protected .xlsx
//! and is named so.
//!
//! Policy: cells become text exactly. Whole numbers are written without exponent or `.0`
//! (`123456789012345678` as stored text stays itself; a number cell up to 2^53 is exact). A
//! number cell above 2^53 has already lost digits inside the workbook, a number that is not
//! whole (`12.5`), an error cell (`#N/A`), a date, time or boolean cell is no id: as an id each
//! stops the run, naming the cell, before anything is sent.
//! Date cells are workbook serial dates with no zone: they are read as civil times in
//! `--input-tz` and converted to the millisecond. An .xlsx or .xlsb sheet is streamed cell by
//! cell (the workbook's shared-string table is held, as the format requires); .xls (at most
//! 65,536 rows) and .ods sheets are read whole.

mod guard;
mod xls_guard;

use std::path::Path;

use calamine::{Data, Reader, open_workbook};
use jiff::tz::TimeZone;

use super::detect::WorkbookKind;
use super::records::{CellDamage, Row, read_rows};
use super::{IdRow, InputError, InputOptions, InputStats, shown};
use crate::setting::Setting;

/// Columns a sheet has (A to XFD).
const MAX_COLUMNS: u32 = 16_384;

/// Largest integer a workbook number (an IEEE double) holds exactly.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// Reads the ids of a workbook file.
pub(crate) fn read<E>(
    file: &str,
    path: &Path,
    kind: WorkbookKind,
    opts: &InputOptions,
    stats: &mut InputStats,
    sink: impl FnMut(IdRow) -> Result<(), E>,
) -> Result<Result<(), E>, InputError> {
    let failed = |message: String| InputError::Workbook {
        file: file.to_string(),
        message,
    };
    let zone = opts.zone.clone().unwrap_or(TimeZone::UTC);
    // .xlsx and .xlsb are streamed cell by cell alike; their readers are distinct types.
    macro_rules! streamed {
        ($book:ty, $kind:literal) => {{
            let mut book =
                open_workbook::<$book, _>(path).map_err(|e| failed(cannot_open($kind, &e)))?;
            let names = book.sheet_names();
            let name = sheet_name(&names, opts).map_err(failed)?;
            let mut cells = book
                .worksheet_cells_reader(&name)
                .map_err(|e| failed(cannot_read(&name, &e)))?;
            let next = || {
                cells
                    .next_cell()
                    .map(|c| c.map(|c| (c.get_position(), Data::from(c.get_value().clone()))))
                    .map_err(|e| cannot_read(&name, &e))
            };
            let form = describe(&name, opts, names.len());
            return read_streamed(file, &form, next, &zone, opts, stats, sink);
        }};
    }
    let refused = |refusal| match refusal {
        guard::Refusal::Over { part, limit } => InputError::OverLimit {
            place: format!("{file} ({})", shown(&part)),
            limit: Box::new(limit),
        },
        guard::Refusal::Not(message) => failed(message),
    };
    let (range, sheet, sheets) = match kind {
        WorkbookKind::Ole => match xls_guard::check_xls(path, &opts.limits)
            .map_err(refused)
            .map(|()| open_workbook::<calamine::Xls<_>, _>(path))?
        {
            Ok(book) => sheet(book, opts),
            Err(e) => return Err(failed(xls_unreadable(path, &e))),
        },
        WorkbookKind::Zip => match guard::check_zip(path, &opts.limits) {
            Err(refusal) => return Err(refused(refusal)),
            Ok(guard::ZipKind::Xlsx) => streamed!(calamine::Xlsx<_>, ".xlsx"),
            Ok(guard::ZipKind::Xlsb) => streamed!(calamine::Xlsb<_>, ".xlsb"),
            Ok(guard::ZipKind::Ods) => sheet(
                open_workbook::<calamine::Ods<_>, _>(path)
                    .map_err(|e| failed(cannot_open(".ods", &e)))?,
                opts,
            ),
        },
    }
    .map_err(failed)?;
    let first_row = u64::from(range.start().map_or(0, |(r, _)| r));
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let rows = range.rows().enumerate().map(|(i, cells)| {
        let mut row = RowBuilder::new(first_row + i as u64 + 1);
        for (c, cell) in cells.iter().enumerate() {
            row.put(first_col + c, cell, &zone);
        }
        Ok(row.finish())
    });
    let form = describe(&sheet, opts, sheets);
    read_rows(file, &form, None, rows, opts, stats, sink)
}

/// Why an OLE file calamine cannot open as .xls is refused: an encrypted .xlsx (also an OLE
/// file) is named as such.
fn xls_unreadable(path: &Path, e: &impl std::fmt::Display) -> String {
    if is_encrypted_ooxml(path) {
        "this is a password-protected (encrypted) .xlsx workbook; open it, remove the password \
         (File > Info > Protect Workbook > Encrypt with Password, cleared) and save it again, or \
         save the sheet as CSV"
            .into()
    } else {
        format!(
            "cannot read this .xls workbook: {}; save it again as .xlsx, or save the sheet as CSV",
            shown(&e.to_string())
        )
    }
}

fn describe(sheet: &str, opts: &InputOptions, sheets: usize) -> String {
    format!(
        "workbook, sheet \"{}\" ({} of {sheets}), rows numbered as in the sheet",
        shown(sheet),
        if opts.sheet.is_some() {
            "named"
        } else {
            "first"
        },
    )
}

fn cannot_open(kind: &str, e: &dyn std::fmt::Display) -> String {
    format!(
        "cannot read this {kind} workbook: {}; save it again, or save the sheet as CSV",
        shown(&e.to_string())
    )
}

fn cannot_read(sheet: &str, e: &dyn std::fmt::Display) -> String {
    format!(
        "cannot read sheet \"{}\": {}",
        shown(sheet),
        shown(&e.to_string())
    )
}

/// Whether an OLE file holds an encrypted OOXML package (a password-protected .xlsx): its
/// directory names the `EncryptedPackage` stream (UTF-16). The first 16 MiB are searched.
fn is_encrypted_ooxml(path: &Path) -> bool {
    use std::io::Read;
    let name: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(16 << 20).read_to_end(&mut bytes));
    read.is_ok() && bytes.windows(name.len()).any(|w| w == name.as_slice())
}

/// A sheet streamed cell by cell (.xlsx, .xlsb: memory holds one row, plus the workbook's table
/// of shared strings), rows handed on as they end.
fn read_streamed<E>(
    file: &str,
    form: &str,
    mut next_cell: impl FnMut() -> Result<Option<((u32, u32), Data)>, String>,
    zone: &TimeZone,
    opts: &InputOptions,
    stats: &mut InputStats,
    sink: impl FnMut(IdRow) -> Result<(), E>,
) -> Result<Result<(), E>, InputError> {
    let failed = |message: String| InputError::Workbook {
        file: file.to_string(),
        message,
    };
    let mut current: Option<RowBuilder> = None;
    let mut done = false;
    let rows = std::iter::from_fn(|| {
        while !done {
            let cell = match next_cell() {
                Ok(cell) => cell,
                Err(message) => {
                    done = true;
                    return Some(Err(failed(message)));
                }
            };
            let Some(((r, c), value)) = cell else {
                done = true;
                return current.take().map(|row| Ok(row.finish()));
            };
            if c >= MAX_COLUMNS {
                done = true;
                return Some(Err(failed(format!(
                    "row {}: a cell in column {} lies past the last column a sheet has \
                     ({MAX_COLUMNS}); save the workbook again from a spreadsheet",
                    u64::from(r) + 1,
                    u64::from(c) + 1
                ))));
            }
            let line = u64::from(r) + 1;
            match &mut current {
                Some(row) if row.line == line => row.put(c as usize, &value, zone),
                _ => {
                    let mut next = RowBuilder::new(line);
                    next.put(c as usize, &value, zone);
                    if let Some(ended) = current.replace(next) {
                        return Some(Ok(ended.finish()));
                    }
                }
            }
        }
        None
    });
    read_rows(file, form, None, rows, opts, stats, sink)
}

/// A workbook's first sheet as CSV text (a statement is read from it like a CSV file): cells
/// as [`cell_text`] writes them, date cells civil times in `zone`.
pub(crate) fn sheet_as_csv(
    path: &Path,
    kind: WorkbookKind,
    zone: &TimeZone,
) -> Result<Vec<u8>, String> {
    let opts = InputOptions::default();
    let (range, _, _) = match kind {
        WorkbookKind::Ole => sheet(
            open_workbook::<calamine::Xls<_>, _>(path).map_err(|e| shown(&e.to_string()))?,
            &opts,
        ),
        WorkbookKind::Zip => match open_workbook::<calamine::Xlsx<_>, _>(path) {
            Ok(book) => sheet(book, &opts),
            Err(xlsx) => sheet(
                open_workbook::<calamine::Ods<_>, _>(path).map_err(|_| shown(&xlsx.to_string()))?,
                &opts,
            ),
        },
    }?;
    let mut out = csv::Writer::from_writer(Vec::new());
    for cells in range.rows() {
        let row: Vec<String> = cells.iter().map(|c| cell_text(c, zone).0).collect();
        out.write_record(&row).map_err(|e| e.to_string())?;
    }
    out.into_inner().map_err(|e| e.to_string())
}

/// One sheet row being assembled from its cells (columns kept in place, gaps empty).
struct RowBuilder {
    line: u64,
    cells: Vec<String>,
    damaged: Vec<(usize, CellDamage)>,
}

impl RowBuilder {
    fn new(line: u64) -> RowBuilder {
        RowBuilder {
            line,
            cells: Vec::new(),
            damaged: Vec::new(),
        }
    }

    fn put(&mut self, col: usize, cell: &Data, zone: &TimeZone) {
        let (text, damage) = cell_text(cell, zone);
        if let Some(damage) = damage {
            self.damaged.push((col, damage));
        }
        if col >= self.cells.len() {
            self.cells.resize(col + 1, String::new());
        }
        self.cells[col] = text;
    }

    fn finish(self) -> Row {
        let mut record = csv::ByteRecord::new();
        for cell in &self.cells {
            record.push_field(cell.as_bytes());
        }
        Row {
            line: self.line,
            record,
            damaged: self.damaged,
        }
    }
}

type Sheet = (calamine::Range<Data>, String, usize);

/// The sheet to read: `--sheet` (exact, then ignoring case), or the first.
fn sheet_name(names: &[String], opts: &InputOptions) -> Result<String, String> {
    match &opts.sheet {
        Some(wanted) => names
            .iter()
            .find(|n| *n == wanted)
            .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(wanted)))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "no sheet \"{}\" (sheets: {}); check {}",
                    shown(wanted),
                    shown(&names.join(", ")),
                    Setting::Sheet
                )
            }),
        None => names
            .first()
            .cloned()
            .ok_or_else(|| "the workbook has no sheets".to_string()),
    }
}

fn sheet<R: Reader<std::io::BufReader<std::fs::File>>>(
    mut book: R,
    opts: &InputOptions,
) -> Result<Sheet, String>
where
    R::Error: std::fmt::Display,
{
    let names = book.sheet_names();
    let name = sheet_name(&names, opts)?;
    let range = book.worksheet_range(&name).map_err(|e| {
        format!(
            "cannot read sheet \"{}\": {}",
            shown(&name),
            shown(&e.to_string())
        )
    })?;
    Ok((range, name, names.len()))
}

/// A cell as exact text, and what makes it unfit as an id if anything: a number that already
/// lost digits, a number that is not whole (no id is a fraction), or an error cell (`#N/A`).
fn cell_text(cell: &Data, zone: &TimeZone) -> (String, Option<CellDamage>) {
    match cell {
        Data::Empty => (String::new(), None),
        Data::String(s) => (s.clone(), None),
        Data::DateTimeIso(s) | Data::DurationIso(s) => (s.clone(), Some(CellDamage::DateCell)),
        Data::Int(i) => (i.to_string(), None),
        Data::Float(f) => float_text(*f),
        Data::Bool(b) => (
            if *b { "TRUE" } else { "FALSE" }.to_string(),
            Some(CellDamage::BoolCell),
        ),
        Data::Error(e) => (format!("#{e:?}"), Some(CellDamage::ErrorCell)),
        Data::DateTime(dt) if dt.is_datetime() => {
            (serial_date_text(dt, zone), Some(CellDamage::DateCell))
        }
        Data::DateTime(dt) => (float_text(dt.as_f64()).0, Some(CellDamage::DateCell)),
    }
}

/// A number as written: whole numbers without `.0` or exponent, flagged when above 2^53;
/// other numbers as Rust writes them, flagged as not whole.
fn float_text(f: f64) -> (String, Option<CellDamage>) {
    if f.fract() == 0.0 && f.is_finite() {
        let lost = f.abs() > EXACT_INTEGER_LIMIT;
        (format!("{f:.0}"), lost.then_some(CellDamage::LostDigits))
    } else {
        (f.to_string(), Some(CellDamage::NotWhole))
    }
}

/// A workbook serial date read as a civil time in `zone`, as RFC 3339 UTC to the millisecond;
/// empty text (an unreadable time) when the serial is not a real date (Excel's 1900-02-29).
fn serial_date_text(dt: &calamine::ExcelDateTime, zone: &TimeZone) -> String {
    let (y, mo, d, h, mi, s, ms) = dt.to_ymd_hms_milli();
    let civil = jiff::civil::DateTime::new(
        y as i16,
        mo as i8,
        d as i8,
        h as i8,
        mi as i8,
        s as i8,
        i32::from(ms) * 1_000_000,
    );
    match civil.and_then(|c| c.to_zoned_datetime(zone.clone())) {
        Ok(z) => z.timestamp().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => format!("workbook serial date {}", dt.as_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_exact_or_flagged() {
        assert_eq!(
            float_text(123456789012345.0),
            ("123456789012345".into(), None)
        );
        assert!(float_text(9_007_199_254_740_992.0).1.is_none());
        assert_eq!(
            float_text(123_456_789_012_345_680.0),
            ("123456789012345680".into(), Some(CellDamage::LostDigits))
        );
        assert_eq!(float_text(1.23e17).1, Some(CellDamage::LostDigits));
        assert_eq!(
            float_text(12.5),
            ("12.5".into(), Some(CellDamage::NotWhole))
        );
        assert_eq!(float_text(f64::NAN).1, Some(CellDamage::NotWhole));
        let zone = TimeZone::UTC;
        assert_eq!(
            cell_text(&Data::Error(calamine::CellErrorType::NA), &zone).1,
            Some(CellDamage::ErrorCell)
        );
    }

    #[test]
    fn serial_dates_are_civil_times_in_the_zone() {
        // 45943.5 is 2025-10-13 12:00:00 in the 1900 system.
        let dt =
            calamine::ExcelDateTime::new(45943.5, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(
            serial_date_text(&dt, &TimeZone::UTC),
            "2025-10-13T12:00:00.000Z"
        );
        let jkt = TimeZone::get("Asia/Jakarta").unwrap();
        assert_eq!(serial_date_text(&dt, &jkt), "2025-10-13T05:00:00.000Z");
    }
}
