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
//! row is a header only if it names a known id column.

use std::io::Read;

use jiff::tz::TimeZone;

use super::detect::Delimiter;
use super::{IdRow, InputError, InputOptions, InputStats, shown};

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

/// Header names recognised as the id column (compared lower-case, without `_`, `-`, spaces).
const ID_NAMES: &[&str] = &["livenessid", "livenessdetectionid", "id"];
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
    let mut first = loop {
        if opts.is_interrupted() {
            return Err(InputError::Interrupted);
        }
        match rows.next() {
            None => {
                return Err(InputError::Empty {
                    file: file.to_string(),
                });
            }
            Some(row) => {
                let row = row?;
                if !is_blank(&row.record) {
                    break row;
                }
            }
        }
    };
    first.record = strip_bom(&first.record);
    let first_fields: Vec<String> = first.record.iter().map(lossy).collect();
    let layout = Layout::detect(file, first.line, &first_fields, delimiter, opts)?;
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
    for row in rows {
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
        if let Some(id_row) = handle(&row, stats)?
            && let Err(e) = sink(id_row)
        {
            return Ok(Err(e));
        }
    }
    if opts.is_interrupted() {
        return Err(InputError::Interrupted);
    }
    Ok(Ok(()))
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

fn normalise_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests;
