//! Rows to ids: finding the id and time columns, numbering rows by physical line, and the rules
//! an id must meet before it may reach the vendor.
//!
//! Policy: text rows are streamed through the `csv` crate with the delimiter [`super::detect`]
//! chose; memory holds one record (capped at [`super::MAX_RECORD_BYTES`]) and the line breaks
//! after it, never an index per line (the numbering is in [`lines`]). An id is refused (the run
//! stops before sending) when it holds a control or invisible character, whitespace inside, or a
//! delimiter character, when it is not UTF-8, longer than [`MAX_ID_BYTES`], a workbook number
//! that lost digits or is not whole, an error cell, or spreadsheet damage in text
//! ([`spreadsheet_damage`]; these character and damage rules are in [`id_rules`]). A quoted
//! field that swallowed whole rows (a broken quote) stops the run too. A row equal to the header
//! is a repeated header (concatenated exports): skipped and counted. A headerless file's first
//! row is a header only if it names a known id column.

use std::io::Read;

use jiff::tz::TimeZone;

use super::detect::Delimiter;
use super::times::parse_time;
use super::{BadTimes, IdRow, InputError, InputOptions, InputStats, MAX_ID_BYTES, shown};

mod id_rules;
mod lines;

use id_rules::{cell_damage_text, id_problem, spreadsheet_damage};
// The tests reach these through `use super::*`.
#[cfg(test)]
use super::MAX_RECORD_BYTES;
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
        tracing::warn!("{file}: --sheet applies to workbooks; this file is text, read whole");
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
    stats
        .columns
        .push(format!("{file}: {form}, {}", layout.describe()));
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

struct Layout {
    has_header: bool,
    headers: Vec<String>,
    id_index: usize,
    time_index: Option<usize>,
    delimiter: Option<u8>,
}

impl Layout {
    fn detect(
        file: &str,
        line: u64,
        first: &[String],
        delimiter: Option<u8>,
        opts: &InputOptions,
    ) -> Result<Layout, InputError> {
        let normalised: Vec<String> = first.iter().map(|h| normalise_name(h)).collect();
        let shown_headers = shown(&first.join(", "));
        let find = |name: &str| {
            let wanted = normalise_name(name);
            first
                .iter()
                .position(|h| h.trim() == name)
                .or_else(|| normalised.iter().position(|h| *h == wanted))
        };
        let not_found = |name: &str, flag| InputError::ColumnNotFound {
            file: file.to_string(),
            line,
            name: shown(name),
            headers: shown_headers.clone(),
            flag,
        };
        let time_index = |headers_present: bool| -> Result<Option<usize>, InputError> {
            match &opts.time_column {
                Some(name) if headers_present => find(name)
                    .map(Some)
                    .ok_or_else(|| not_found(name, "time-column")),
                Some(name) => Err(not_found(name, "time-column")),
                None if headers_present => Ok(TIME_NAMES
                    .iter()
                    .find_map(|t| normalised.iter().position(|h| h == t))),
                None => Ok(None),
            }
        };
        let layout = |has_header, id_index, time_index| Layout {
            has_header,
            headers: first.to_vec(),
            id_index,
            time_index,
            delimiter,
        };
        // Two columns that could each be the id column: reading either could send the wrong
        // ids, so the header must say which (an exact `--id-column` name wins over a spelling).
        let ambiguous = |columns: Vec<usize>, exact: bool| InputError::AmbiguousIdColumn {
            file: file.to_string(),
            line,
            columns: columns
                .iter()
                .map(|&i| format!("\"{}\" (column {})", shown(&first[i]), i + 1))
                .collect::<Vec<_>>()
                .join(", "),
            fix: if exact {
                "rename one of them in the header"
            } else {
                "name the one to use with --id-column (its exact header text), or rename the other"
            },
        };
        let all = |wanted: &str| -> Vec<usize> {
            (0..first.len())
                .filter(|&i| normalised[i] == wanted)
                .collect()
        };
        if let Some(name) = &opts.id_column {
            let exact: Vec<usize> = (0..first.len())
                .filter(|&i| first[i].trim() == name)
                .collect();
            let id_index = match exact.as_slice() {
                [one] => *one,
                [] => match all(&normalise_name(name)).as_slice() {
                    [] => return Err(not_found(name, "id-column")),
                    [one] => *one,
                    many => return Err(ambiguous(many.to_vec(), false)),
                },
                many => return Err(ambiguous(many.to_vec(), true)),
            };
            return Ok(layout(true, id_index, time_index(true)?));
        }
        if let Some(name) = ID_NAMES.iter().find(|n| normalised.iter().any(|h| h == *n)) {
            let columns = all(name);
            if columns.len() > 1 {
                let exact = columns
                    .iter()
                    .all(|&i| first[i].trim() == first[columns[0]].trim());
                return Err(ambiguous(columns, exact));
            }
            return Ok(layout(true, columns[0], time_index(true)?));
        }
        if first.len() == 1 {
            // One column: a header only if it names an id column; anything else is the first id.
            let is_header = SINGLE_COLUMN_HEADERS.contains(&normalised[0].as_str());
            return Ok(layout(is_header, 0, time_index(is_header)?));
        }
        // A first row holding a time or an id-like value is data: the header is missing.
        let looks_like_data = first.iter().any(|f| {
            let f = f.trim();
            parse_time(f, &opts.time_formats, &TimeZone::UTC).is_some()
                || (f.len() >= 8
                    && f.chars().any(|c| c.is_ascii_digit())
                    && f.chars().any(|c| c.is_ascii_alphabetic()))
        });
        Err(InputError::NoIdColumn {
            file: file.to_string(),
            line,
            headers: shown_headers,
            hint: if looks_like_data {
                "; the first row looks like data: add a header row naming the columns \
                 (liveness_id, created_at, ...)"
                    .into()
            } else {
                String::new()
            },
        })
    }

    fn describe(&self) -> String {
        let id = if self.has_header {
            format!("id column \"{}\"", shown(&self.headers[self.id_index]))
        } else {
            "no header, ids in column 1".to_string()
        };
        let time = match self.time_index {
            Some(i) => format!("time column \"{}\"", shown(&self.headers[i])),
            None => "no time column".to_string(),
        };
        format!("{id}, {time}")
    }

    /// Whether `record` repeats the header row.
    fn is_header_again(&self, record: &csv::ByteRecord) -> bool {
        self.has_header
            && record.len() == self.headers.len()
            && record
                .iter()
                .zip(&self.headers)
                .all(|(f, h)| lossy(f).trim() == h.trim())
    }

    /// A field that holds line breaks and, after one, a line shaped like a row of this file: as
    /// many fields as the header, and an id-like value (no space, a digit, 4+ characters) in
    /// the id column. That is a quote opened and not closed, swallowing rows.
    fn swallowed_row<'r>(&self, record: &'r csv::ByteRecord) -> Option<&'r [u8]> {
        let d = self.delimiter?;
        if !self.has_header || self.headers.len() < 2 {
            return None;
        }
        let id_like = |f: &[u8]| {
            let f = f.trim_ascii();
            f.len() >= 4
                && f.iter().any(u8::is_ascii_digit)
                && !f
                    .iter()
                    .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        };
        record.iter().find_map(|field| {
            field
                .split(|&b| b == b'\n' || b == b'\r')
                .skip(1)
                .find(|line| {
                    let fields: Vec<&[u8]> = line.split(|&b| b == d).collect();
                    fields.len() == self.headers.len()
                        && fields.get(self.id_index).is_some_and(|f| id_like(f))
                })
        })
    }

    fn row(
        &self,
        file: &str,
        row: &Row,
        zone: &TimeZone,
        opts: &InputOptions,
        stats: &mut InputStats,
    ) -> Result<Option<IdRow>, InputError> {
        let (line, record) = (row.line, &row.record);
        stats.rows += 1;
        if self.has_header && record.len() != self.headers.len() {
            stats.ragged_rows += 1;
        }
        if let Some(swallowed) = self.swallowed_row(record) {
            return Err(InputError::BrokenQuote {
                file: file.to_string(),
                line,
                excerpt: shown(&lossy(swallowed)),
            });
        }
        let raw_id = record.get(self.id_index).unwrap_or_default();
        // A line break inside the id can only come from a quoted field running over lines: a
        // quote opened and not closed (in a one-column file, the only sign of one).
        if let Some(next) = raw_id
            .split(|&b| b == b'\n' || b == b'\r')
            .skip(1)
            .find(|l| !l.trim_ascii().is_empty())
        {
            return Err(InputError::BrokenQuote {
                file: file.to_string(),
                line,
                excerpt: shown(&lossy(next)),
            });
        }
        let id = match std::str::from_utf8(raw_id) {
            Ok(s) => s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'),
            Err(_) => {
                return Err(InputError::IdNotUtf8 {
                    file: file.to_string(),
                    line,
                    shown: shown(&latin1(raw_id)),
                });
            }
        };
        if id.is_empty() {
            stats.blank_ids += 1;
            return Ok(None);
        }
        let damage = row
            .damaged
            .iter()
            .find(|(col, _)| *col == self.id_index)
            .map(|(_, d)| *d);
        if damage == Some(CellDamage::LostDigits) {
            return Err(InputError::IdLostDigits {
                file: file.to_string(),
                line,
                value: shown(id),
            });
        }
        if let Some((what, hint)) = damage
            .map(cell_damage_text)
            .or_else(|| spreadsheet_damage(id))
        {
            return Err(InputError::IdDamaged {
                file: file.to_string(),
                line,
                id: shown(id),
                what,
                hint,
            });
        }
        if id.len() > MAX_ID_BYTES {
            return Err(InputError::IdTooLong {
                file: file.to_string(),
                line,
                len: id.len(),
            });
        }
        if let Some((at, c, what, hint)) = id_problem(id) {
            return Err(InputError::BadIdCharacter {
                file: file.to_string(),
                line,
                id: shown(id),
                what,
                character: format!("'{}' at character {}", shown(&c.to_string()), at + 1),
                hint: hint.to_string(),
            });
        }
        stats.ids += 1;
        let mut unreadable_time = None;
        let event_time_ms = match self.time_index.and_then(|i| record.get(i)) {
            Some(raw) if !raw.iter().all(u8::is_ascii_whitespace) => {
                let text = lossy(raw);
                let parsed = parse_time(&text, &opts.time_formats, zone);
                if parsed.is_none() {
                    stats.note_bad_time(&format!("{file}:{line}"), &text);
                    unreadable_time = Some(text);
                }
                parsed
            }
            _ => None,
        };
        let attrs = if self.has_header {
            let mut map = serde_json::Map::new();
            for (i, field) in record.iter().enumerate() {
                if i == self.id_index {
                    continue;
                }
                // The time column is kept only when it could not be read, so it stays visible.
                if Some(i) == self.time_index && unreadable_time.is_none() {
                    continue;
                }
                let Some(name) = self.headers.get(i) else {
                    continue;
                };
                let value = match std::str::from_utf8(field) {
                    Ok(s) => s.trim().to_string(),
                    Err(_) => {
                        stats.latin1_fields += 1;
                        latin1(field).trim().to_string()
                    }
                };
                if !value.is_empty() && !name.trim().is_empty() {
                    map.insert(name.trim().to_string(), value.into());
                }
            }
            (!map.is_empty()).then(|| serde_json::Value::Object(map).to_string())
        } else {
            None
        };
        Ok(Some(IdRow {
            liveness_id: id.to_string(),
            event_time_ms,
            dated_by_fetch: unreadable_time.is_some() && opts.bad_times == BadTimes::FetchTime,
            attrs,
            source: format!("{file}:{line}"),
        }))
    }
}

#[cfg(test)]
mod tests;
