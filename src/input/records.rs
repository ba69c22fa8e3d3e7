//! Rows to ids: finding the id and time columns, numbering rows by physical line, and the rules
//! an id must meet before it may reach the vendor.
//!
//! Policy: text rows are streamed through the `csv` crate with the delimiter [`super::detect`]
//! chose; memory holds one record (capped at [`super::MAX_RECORD_BYTES`]) and the line breaks
//! after it, never an index per line (the numbering is in `lines`). An id is refused (the run
//! stops before sending) when it holds a control or invisible character, whitespace inside, or a
//! delimiter character, when it is not UTF-8, longer than [`super::MAX_ID_BYTES`], a workbook number
//! that lost digits or is not whole, an error cell, or spreadsheet damage in text
//! (`spreadsheet_damage`; these character and damage rules are in `id_rules`). A quoted
//! field that swallowed whole rows (a broken quote) stops the run too. A row equal to the header
//! is a repeated header (concatenated exports): skipped and counted. A headerless file's first
//! row is a header only if it names a known id column. A title above the header (up to
//! `TITLE_ROWS` rows, each filling fewer cells than the header that follows) is skipped; in a file
//! with a time column, rows at its end with no time whose "id" has other kinds of character
//! than the checks' ids and is alone or without digits (up to `FOOTER_ROWS`) are a footer,
//! skipped: neither is ever sent as an id.

use std::io::Read;

use jiff::tz::TimeZone;

use super::detect::Delimiter;
use super::{
    ID_NAMES, IdRow, InputError, InputOptions, InputStats, is_id_name, normalise_name, shown,
};

mod id_rules;
pub(crate) use id_rules::spreadsheet_damage;
mod layout;
mod lines;

use layout::Layout;
// The tests reach these through `use super::*`.
#[cfg(test)]
use super::MAX_RECORD_BYTES;
use crate::setting::Setting;
#[cfg(test)]
use lines::LineIndex;
pub(crate) use lines::numbered_csv_with;

/// More names that make the first row of a single-column file a header rather than an id.
const SINGLE_COLUMN_HEADERS: &[&str] = &["ids", "livenessids", "uuid", "checkid", "requestid"];
/// Header names recognised as the time column, in order of preference.
const TIME_NAMES: &[&str] = &[
    "createdat",
    "eventtime",
    "timestamp",
    "checkedat",
    "datetime",
    "createtime",
    "createdtime",
    "time",
    "date",
    "created",
    "ts",
];

/// One row of a text file or a workbook sheet.
pub(crate) struct Row {
    /// Physical line (text) or sheet row (workbook), 1-based.
    pub line: u64,
    pub record: csv::ByteRecord,
    /// Workbook cells that cannot be ids whatever their text, by column.
    pub damaged: Vec<(usize, CellDamage)>,
}

/// What makes a workbook cell unfit as an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CellDamage {
    /// A number above 2^53: the workbook already lost its last digits.
    LostDigits,
    /// A number that is not whole (`12.5`): no id is a fraction.
    NotWhole,
    /// An error cell (`#N/A`, `#VALUE!`).
    ErrorCell,
    /// A date, time or duration cell: the workbook holds a number shown as a date.
    DateCell,
    /// A boolean cell (`TRUE`, `FALSE`).
    BoolCell,
}

/// Reads a text input whose form and delimiter are known.
pub(crate) fn read_text<E>(
    file: &str,
    reader: Box<dyn Read>,
    form: &str,
    delimiter: Delimiter,
    opts: &InputOptions,
    stats: &mut InputStats,
    sink: impl FnMut(IdRow) -> Result<(), E>,
) -> Result<Result<(), E>, InputError> {
    if opts.sheet.is_some() {
        tracing::warn!(
            "{file}: {} applies to workbooks; this file is text, read whole",
            Setting::Sheet
        );
    }
    let (mut csv, lines) = numbered_csv_with(reader, false, delimiter.byte);
    let mut record = csv::ByteRecord::new();
    let rows = std::iter::from_fn(|| match csv.read_byte_record(&mut record) {
        Ok(true) => Some(Ok(Row {
            line: lines.of(&record),
            record: record.clone(),
            damaged: Vec::new(),
        })),
        Ok(false) => None,
        Err(e) => Some(Err(csv_error(e, file))),
    });
    let described = format!("{form}, {}", delimiter.describe());
    read_rows(
        file,
        &described,
        Some(delimiter.byte),
        rows,
        opts,
        stats,
        sink,
    )
}

fn csv_error(e: csv::Error, file: &str) -> InputError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(error) => InputError::Io {
            file: file.to_string(),
            error,
        },
        other => InputError::Csv {
            file: file.to_string(),
            line,
            message: shown(&format!("{other:?}")),
        },
    }
}

/// Turns rows into ids: the first non-blank row decides the layout, the rest are checked and
/// given to `sink` in order.
pub(crate) fn read_rows<E>(
    file: &str,
    form: &str,
    delimiter: Option<u8>,
    mut rows: impl Iterator<Item = Result<Row, InputError>>,
    opts: &InputOptions,
    stats: &mut InputStats,
    mut sink: impl FnMut(IdRow) -> Result<(), E>,
) -> Result<Result<(), E>, InputError> {
    let zone = opts.zone.clone().unwrap_or(TimeZone::UTC);
    let first = first_row(file, &mut rows, opts)?;
    let mut ahead = std::collections::VecDeque::new();
    let (first, above) = below_title(first, &mut rows, &mut ahead, opts)?;
    let first_fields: Vec<String> = first.record.iter().map(lossy).collect();
    let layout = Layout::detect(file, first.line, &first_fields, delimiter, opts)?;
    note_title(file, first.line, &above, stats);
    let mut described = format!("{file}: {form}, {}", layout.describe());
    if let (true, Some(zone)) = (layout.has_time(), &opts.zone_label) {
        described.push_str(&format!(", times without an offset read in {zone}"));
    }
    stats.columns.push(described);
    let handle = |row: &Row, stats: &mut InputStats| -> Result<Option<IdRow>, InputError> {
        layout.row(file, row, &zone, opts, stats)
    };
    if !layout.has_header
        && let Some(id_row) = handle(&first, stats)?
        && let Err(e) = sink(id_row)
    {
        return Ok(Err(e));
    }
    // Rows that may be a footer wait here until a row of the table follows them (then they are
    // rows like any other) or the file ends (then they are the footer).
    let mut held: Vec<Row> = Vec::new();
    // The last check's id shape; `None` until a row of the table is read.
    let mut table_id = None;
    // Footer-like rows in a row: more than FOOTER_ROWS are rows of the table.
    let mut streak = 0;
    for row in ahead.into_iter().map(Ok).chain(rows) {
        if opts.is_interrupted() {
            return Err(InputError::Interrupted);
        }
        let row = row?;
        if is_blank(&row.record) {
            continue;
        }
        if layout.is_header_again(&row.record) {
            stats.repeated_headers += 1;
            continue;
        }
        // Only a row of the table makes a footer possible after it.
        if table_id.is_some() && layout.footer_like(&row.record, table_id) {
            streak += 1;
            held.push(row);
            if streak <= FOOTER_ROWS {
                continue;
            }
        } else {
            streak = 0;
            table_id = layout.id_shape(&row.record);
            held.push(row);
        }
        for row in held.drain(..) {
            if let Some(id_row) = handle(&row, stats)?
                && let Err(e) = sink(id_row)
            {
                return Ok(Err(e));
            }
        }
    }
    if opts.is_interrupted() {
        return Err(InputError::Interrupted);
    }
    note_footer(file, &held, stats);
    Ok(Ok(()))
}

/// The first row that is not blank, without a byte-order mark.
fn first_row(
    file: &str,
    rows: &mut impl Iterator<Item = Result<Row, InputError>>,
    opts: &InputOptions,
) -> Result<Row, InputError> {
    loop {
        if opts.is_interrupted() {
            return Err(InputError::Interrupted);
        }
        let Some(row) = rows.next() else {
            return Err(InputError::Empty {
                file: file.to_string(),
            });
        };
        let mut row = row?;
        if !is_blank(&row.record) {
            row.record = strip_bom(&row.record);
            return Ok(row);
        }
    }
}

/// Records the title rows skipped above the header on `header_line`.
fn note_title(file: &str, header_line: u64, above: &[Row], stats: &mut InputStats) {
    let (Some(top), Some(last)) = (above.first(), above.last()) else {
        return;
    };
    let lines = if top.line == last.line {
        format!("line {}", top.line)
    } else {
        format!("lines {}-{}", top.line, last.line)
    };
    stats.above_header.push(format!(
        "{file}: {lines} above the header on line {header_line} (\"{}\")",
        shown(&filled_text(&top.record))
    ));
}

/// Records the footer rows skipped at the file's end.
fn note_footer(file: &str, footer: &[Row], stats: &mut InputStats) {
    let (Some(top), Some(last)) = (footer.first(), footer.last()) else {
        return;
    };
    stats.footer_rows += footer.len() as u64;
    stats.footers.push(format!(
        "{file}:{}-{} (\"{}\")",
        top.line,
        last.line,
        shown(&filled_text(&top.record))
    ));
}

/// Rows looked through for the header below a title: report exports put a title, a date or
/// a note above the table.
const TITLE_ROWS: usize = 10;
/// Rows held back as a possible footer at a file's end (a total, "generated by").
const FOOTER_ROWS: usize = 10;

/// The header row and the rows above it, when `first` is a title above a table: `first` names
/// no id column, and one of the next [`TITLE_ROWS`] rows does and fills more cells than each row
/// above it (a title fills one or two). Otherwise `first` itself, nothing above it, and the
/// rows looked at wait in `ahead` to be read as usual.
fn below_title(
    first: Row,
    rows: &mut impl Iterator<Item = Result<Row, InputError>>,
    ahead: &mut std::collections::VecDeque<Row>,
    opts: &InputOptions,
) -> Result<(Row, Vec<Row>), InputError> {
    if names_id_column(&first.record, opts) {
        return Ok((first, Vec::new()));
    }
    while ahead.len() < TITLE_ROWS {
        let Some(row) = rows.next() else { break };
        let row = row?;
        if is_blank(&row.record) {
            continue;
        }
        if names_id_column(&row.record, opts) {
            let cells = filled(&row.record);
            let is_header = cells >= 2
                && filled(&first.record) < cells
                && ahead.iter().all(|r| filled(&r.record) < cells);
            if is_header {
                let above = std::iter::once(first).chain(ahead.drain(..)).collect();
                return Ok((row, above));
            }
            ahead.push_back(row);
            break;
        }
        ahead.push_back(row);
    }
    Ok((first, Vec::new()))
}

/// Whether a row names an id column: `--id-column`'s name, or one of [`ID_NAMES`].
fn names_id_column(record: &csv::ByteRecord, opts: &InputOptions) -> bool {
    let wanted = opts.id_column.as_deref().map(normalise_name);
    record.iter().map(lossy).any(|field| {
        let name = normalise_name(&field);
        match &wanted {
            Some(w) => *w == name || opts.id_column.as_deref() == Some(field.trim()),
            None => is_id_name(&field),
        }
    })
}

/// Cells of a row that hold something.
fn filled(record: &csv::ByteRecord) -> usize {
    record
        .iter()
        .filter(|f| !f.iter().all(u8::is_ascii_whitespace))
        .count()
}

/// A row's filled cells, joined for a message.
fn filled_text(record: &csv::ByteRecord) -> String {
    record
        .iter()
        .filter(|f| !f.iter().all(u8::is_ascii_whitespace))
        .map(|f| lossy(f).trim().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn strip_bom(record: &csv::ByteRecord) -> csv::ByteRecord {
    let mut rebuilt = csv::ByteRecord::new();
    for (i, field) in record.iter().enumerate() {
        if i == 0 {
            rebuilt.push_field(field.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(field));
        } else {
            rebuilt.push_field(field);
        }
    }
    rebuilt.set_position(record.position().cloned());
    rebuilt
}

fn is_blank(record: &csv::ByteRecord) -> bool {
    record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

fn lossy(field: &[u8]) -> String {
    match std::str::from_utf8(field) {
        Ok(s) => s.to_string(),
        Err(_) => latin1(field),
    }
}

fn latin1(field: &[u8]) -> String {
    field.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests;
