//! One file's layout: which column holds the id and which the time (found from the first row,
//! or named by `--id-column` / `--time-column`), and one row read through it into an id that
//! meets the rules, its event time and its other columns.
//!
//! Policy: two columns that could each be the id column are refused rather than guessed; a
//! one-column file's first row is a header only if it names an id column; a time that cannot be
//! read is counted and kept among the row's columns so it stays visible.

use jiff::tz::TimeZone;

use super::id_rules::{cell_damage_text, id_problem, spreadsheet_damage};
use super::{
    CellDamage, ID_NAMES, Row, SINGLE_COLUMN_HEADERS, TIME_NAMES, latin1, lossy, normalise_name,
};
use crate::input::limits::OverLimit;
use crate::input::times::{implausible, parse_time};
use crate::input::{BadTimes, IdRow, InputError, InputOptions, InputStats, MAX_ID_BYTES, shown};
use crate::setting::Setting;

pub(super) struct Layout {
    pub(super) has_header: bool,
    headers: Vec<String>,
    id_index: usize,
    time_index: Option<usize>,
    delimiter: Option<u8>,
    /// When the reading started (Unix ms): event times are plausible up to a day after it.
    now_ms: i64,
}

/// A first row being read as a header: its names as written and normalised, and where it is.
struct Header<'a> {
    file: &'a str,
    line: u64,
    first: &'a [String],
    normalised: Vec<String>,
}

impl Header<'_> {
    /// The column a flag names: its exact header text first, else the same name spelt another
    /// way.
    fn find(&self, name: &str) -> Option<usize> {
        let wanted = normalise_name(name);
        self.first
            .iter()
            .position(|h| h.trim() == name)
            .or_else(|| self.normalised.iter().position(|h| *h == wanted))
    }

    /// Every column whose normalised name is `wanted`.
    fn all(&self, wanted: &str) -> Vec<usize> {
        (0..self.first.len())
            .filter(|&i| self.normalised[i] == wanted)
            .collect()
    }

    fn not_found(&self, name: &str, setting: Setting) -> InputError {
        InputError::ColumnNotFound {
            file: self.file.to_string(),
            line: self.line,
            name: shown(name),
            headers: shown(&self.first.join(", ")),
            setting,
        }
    }

    /// Two columns that could each be the id column: reading either could send the wrong ids,
    /// so the header must say which (an exact `--id-column` name wins over a spelling).
    fn ambiguous(&self, columns: Vec<usize>, exact: bool) -> InputError {
        InputError::AmbiguousIdColumn {
            file: self.file.to_string(),
            line: self.line,
            columns: columns
                .iter()
                .map(|&i| format!("\"{}\" (column {})", shown(&self.first[i]), i + 1))
                .collect::<Vec<_>>()
                .join(", "),
            fix: if exact {
                "rename one of them in the header".into()
            } else {
                format!(
                    "name the one to use with {} (its exact header text), or rename the other",
                    Setting::IdColumn
                )
            },
        }
    }

    /// The id column `--id-column` names.
    fn named_id(&self, name: &str) -> Result<usize, InputError> {
        let exact: Vec<usize> = (0..self.first.len())
            .filter(|&i| self.first[i].trim() == name)
            .collect();
        match exact.as_slice() {
            [one] => Ok(*one),
            [] => match self.all(&normalise_name(name)).as_slice() {
                [] => Err(self.not_found(name, Setting::IdColumn)),
                [one] => Ok(*one),
                many => Err(self.ambiguous(many.to_vec(), false)),
            },
            many => Err(self.ambiguous(many.to_vec(), true)),
        }
    }

    /// The time column: the one `--time-column` names (which needs a header), else the first
    /// known time name in the header.
    fn time_index(
        &self,
        opts: &InputOptions,
        headers_present: bool,
    ) -> Result<Option<usize>, InputError> {
        match &opts.time_column {
            Some(name) if headers_present => self
                .find(name)
                .map(Some)
                .ok_or_else(|| self.not_found(name, Setting::TimeColumn)),
            Some(name) => Err(self.not_found(name, Setting::TimeColumn)),
            None if headers_present => Ok(TIME_NAMES
                .iter()
                .find_map(|t| self.normalised.iter().position(|h| h == t))),
            None => Ok(None),
        }
    }

    /// No id column found; a first row holding a time or an id-like value is data: the header
    /// is missing, and the error says so.
    fn no_id_column(&self, opts: &InputOptions) -> InputError {
        let looks_like_data = self.first.iter().any(|f| {
            let f = f.trim();
            parse_time(f, &opts.time_formats, &TimeZone::UTC).is_some()
                || (f.len() >= 8
                    && f.chars().any(|c| c.is_ascii_digit())
                    && f.chars().any(|c| c.is_ascii_alphabetic()))
        });
        InputError::NoIdColumn {
            file: self.file.to_string(),
            line: self.line,
            headers: shown(&self.first.join(", ")),
            hint: if looks_like_data {
                "; the first row looks like data: add a header row naming the columns \
                 (liveness_id, created_at, ...)"
                    .into()
            } else {
                String::new()
            },
        }
    }
}

impl Layout {
    pub(super) fn detect(
        file: &str,
        line: u64,
        first: &[String],
        delimiter: Option<u8>,
        opts: &InputOptions,
    ) -> Result<Layout, InputError> {
        let header = Header {
            file,
            line,
            first,
            normalised: first.iter().map(|h| normalise_name(h)).collect(),
        };
        let layout = |has_header, id_index, time_index| Layout {
            has_header,
            headers: first.to_vec(),
            id_index,
            time_index,
            delimiter,
            now_ms: jiff::Timestamp::now().as_millisecond(),
        };
        let layout = |has_header, id_index, time_index| {
            let layout: Layout = layout(has_header, id_index, time_index);
            layout.within_column_limit(file, line, opts)
        };
        if let Some(name) = &opts.id_column {
            let id_index = header.named_id(name)?;
            return layout(true, id_index, header.time_index(opts, true)?);
        }
        if let Some(name) = ID_NAMES
            .iter()
            .find(|n| header.normalised.iter().any(|h| h == *n))
        {
            let columns = header.all(name);
            if columns.len() > 1 {
                let exact = columns
                    .iter()
                    .all(|&i| first[i].trim() == first[columns[0]].trim());
                return Err(header.ambiguous(columns, exact));
            }
            return layout(true, columns[0], header.time_index(opts, true)?);
        }
        if first.len() == 1 {
            // One column: a header only if it names an id column; anything else is the first id.
            let is_header = SINGLE_COLUMN_HEADERS.contains(&header.normalised[0].as_str());
            return layout(is_header, 0, header.time_index(opts, is_header)?);
        }
        Err(header.no_id_column(opts))
    }

    /// Refuses a header naming more columns to keep than `--max-columns` allows.
    fn within_column_limit(
        self,
        file: &str,
        line: u64,
        opts: &InputOptions,
    ) -> Result<Layout, InputError> {
        if !self.has_header {
            return Ok(self);
        }
        let kept = (0..self.headers.len())
            .filter(|&i| i != self.id_index && Some(i) != self.time_index)
            .filter(|&i| !self.headers[i].trim().is_empty())
            .count();
        let max = opts.limits.max_columns;
        if kept > max {
            return Err(InputError::OverLimit {
                place: format!("{file}:{line}"),
                limit: Box::new(OverLimit::new(
                    "the header names more columns than a row may keep beside the id and time",
                    kept as u64,
                    max as u64,
                    "columns",
                    Setting::MaxColumns,
                )),
            });
        }
        Ok(self)
    }

    /// Whether the input has a time column.
    pub(super) fn has_time(&self) -> bool {
        self.time_index.is_some()
    }

    pub(super) fn describe(&self) -> String {
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

    /// Whether `record` looks like a footer rather than a check, were it at the file's end: the
    /// file has a time column, the row has no time, its "id" is not shaped like the table's
    /// ids (other kinds of character: `TOTAL` or `Generated_by_CRM_v2` under lower-case hex
    /// ids), and either nothing but that cell is filled or it holds no digit (`TOTAL,,,1234`).
    /// An undated check shaped like the others is a check.
    pub(super) fn footer_like(&self, record: &csv::ByteRecord, table_id: Option<IdShape>) -> bool {
        let Some(time) = self.time_index.filter(|_| self.has_header) else {
            return false;
        };
        let blank = |f: &[u8]| f.iter().all(u8::is_ascii_whitespace);
        let id = record.get(self.id_index).unwrap_or_default();
        if blank(id) || !record.get(time).is_none_or(blank) {
            return false;
        }
        if table_id.is_none_or(|shape| shape == IdShape::of(id)) {
            return false;
        }
        let others_blank = record
            .iter()
            .enumerate()
            .all(|(i, f)| i == self.id_index || blank(f));
        others_blank || !id.iter().any(u8::is_ascii_digit)
    }

    /// The shape of `record`'s id, for [`Layout::footer_like`].
    pub(super) fn id_shape(&self, record: &csv::ByteRecord) -> Option<IdShape> {
        record.get(self.id_index).map(IdShape::of)
    }

    /// Whether `record` repeats the header row.
    pub(super) fn is_header_again(&self, record: &csv::ByteRecord) -> bool {
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

    pub(super) fn row(
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
        let id = self.id_text(file, row)?;
        if id.is_empty() {
            stats.blank_ids += 1;
            return Ok(None);
        }
        let damage = row
            .damaged
            .iter()
            .find(|(col, _)| *col == self.id_index)
            .map(|(_, d)| *d);
        check_id(file, line, self.id_index, id, damage)?;
        stats.ids += 1;
        let (event_time_ms, unreadable_time) =
            self.event_time(record, &format!("{file}:{line}"), zone, opts, stats);
        let attrs = self.attributes(record, unreadable_time.is_some(), stats);
        if let Some(a) = &attrs
            && a.len() > opts.limits.max_attr_bytes
        {
            return Err(InputError::OverLimit {
                place: format!("{file}:{line}"),
                limit: Box::new(OverLimit::new(
                    "the row's other columns hold more than a row may keep",
                    a.len() as u64,
                    opts.limits.max_attr_bytes as u64,
                    "bytes",
                    Setting::MaxAttrBytes,
                )),
            });
        }
        Ok(Some(IdRow {
            liveness_id: id.to_string(),
            event_time_ms,
            dated_by_fetch: unreadable_time.is_some() && opts.bad_times == BadTimes::FetchTime,
            unreadable_time: unreadable_time.is_some(),
            attrs,
            source: format!("{file}:{line}"),
        }))
    }

    /// The id cell's text, trimmed (empty for a blank id). A row swallowed by a broken quote
    /// and an id that is not UTF-8 are refused here.
    fn id_text<'r>(&self, file: &str, row: &'r Row) -> Result<&'r str, InputError> {
        let (line, record) = (row.line, &row.record);
        if let Some(swallowed) = self.swallowed_row(record) {
            return Err(InputError::BrokenQuote {
                file: file.to_string(),
                line,
                excerpt: shown(&lossy(swallowed)),
            });
        }
        let raw_id = record.get(self.id_index).unwrap_or_default();
        // In a workbook a line break is typed into the cell (Alt+Enter): no quote is involved.
        if self.delimiter.is_none()
            && let Some(at) = raw_id
                .trim_ascii()
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
        {
            return Err(InputError::BadIdCharacter {
                file: file.to_string(),
                line,
                id: shown(&lossy(raw_id.trim_ascii())),
                what: "a line break inside the cell",
                character: format!("at byte {}", at + 1),
                hint: "remove the line break from the cell (typed with Alt+Enter), or export the \
                       ids as CSV"
                    .to_string(),
            });
        }
        // In text, a line break inside the id can only come from a quoted field running over
        // lines: a quote opened and not closed (in a one-column file, the only sign of one).
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
        match std::str::from_utf8(raw_id) {
            Ok(s) => Ok(s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')),
            Err(_) => Err(InputError::IdNotUtf8 {
                file: file.to_string(),
                line,
                shown: shown(&latin1(raw_id)),
            }),
        }
    }

    /// The row's event time, and the time text when it could not be read (counted and noted
    /// under `source`).
    fn event_time(
        &self,
        record: &csv::ByteRecord,
        source: &str,
        zone: &TimeZone,
        opts: &InputOptions,
        stats: &mut InputStats,
    ) -> (Option<i64>, Option<String>) {
        match self.time_index.and_then(|i| record.get(i)) {
            Some(raw) if !raw.iter().all(u8::is_ascii_whitespace) => {
                let text = lossy(raw);
                match parse_time(&text, &opts.time_formats, zone) {
                    None => {
                        stats.note_bad_time(source, &text);
                        (None, Some(text))
                    }
                    Some(ms) => match implausible(ms, self.now_ms) {
                        Some(why) => {
                            stats.note_implausible_time(source, &text, why);
                            (None, Some(text))
                        }
                        None => (Some(ms), None),
                    },
                }
            }
            _ => (None, None),
        }
    }

    /// The row's other columns as a JSON object (header name to trimmed text), without the id
    /// and without the time unless it could not be read; `None` without a header or values.
    fn attributes(
        &self,
        record: &csv::ByteRecord,
        time_unreadable: bool,
        stats: &mut InputStats,
    ) -> Option<String> {
        if !self.has_header {
            return None;
        }
        let mut map = serde_json::Map::new();
        for (i, field) in record.iter().enumerate() {
            if i == self.id_index {
                continue;
            }
            // The time column is kept only when it could not be read, so it stays visible.
            if Some(i) == self.time_index && !time_unreadable {
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
    }
}

/// The rules a non-blank id must meet before it may reach the vendor: no workbook damage, no
/// spreadsheet damage in its text, at most [`MAX_ID_BYTES`], no forbidden character.
fn check_id(
    file: &str,
    line: u64,
    column: usize,
    id: &str,
    damage: Option<CellDamage>,
) -> Result<(), InputError> {
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
            cell: match damage {
                Some(_) => format!(" (cell {}{line})", column_letters(column)),
                None => String::new(),
            },
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
            hint,
        });
    }
    Ok(())
}

/// A 0-based column as a spreadsheet names it: `A`, `Z`, `AA`.
fn column_letters(column: usize) -> String {
    let mut n = column + 1;
    let mut letters = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

/// The kinds of character an id holds: a vendor's ids share them (lower-case hex: letters and
/// digits), where a footer's words do not (capitals, `_`, spaces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IdShape {
    lower: bool,
    upper: bool,
    digit: bool,
    other: bool,
}

impl IdShape {
    fn of(id: &[u8]) -> IdShape {
        let id = id.trim_ascii();
        IdShape {
            lower: id.iter().any(u8::is_ascii_lowercase),
            upper: id.iter().any(u8::is_ascii_uppercase),
            digit: id.iter().any(u8::is_ascii_digit),
            other: id.iter().any(|b| !b.is_ascii_alphanumeric()),
        }
    }
}
