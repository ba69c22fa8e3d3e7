//! Rows to ids: finding the id and time columns, numbering rows by physical line, and the rules
//! an id must meet before it may reach the vendor.
//!
//! Policy: text rows are streamed through the `csv` crate with the delimiter [`super::detect`]
//! chose; memory holds one record (capped at [`MAX_RECORD_BYTES`]) and the line breaks after it,
//! never an index per line. An id is refused (the run stops before sending) when it holds a
//! control or invisible character, whitespace inside, or a delimiter character, when it is not
//! UTF-8, longer than [`MAX_ID_BYTES`], a workbook number that lost digits or is not whole, an
//! error cell, or spreadsheet damage in text ([`spreadsheet_damage`]). A quoted field
//! that swallowed whole rows (a broken quote) stops the run too. A row equal to the header is a
//! repeated header (concatenated exports): skipped and counted. A headerless file's first row
//! is a header only if it names a known id column.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::rc::Rc;

use jiff::tz::TimeZone;

use super::detect::Delimiter;
use super::times::parse_time;
use super::{
    BadTimes, IdRow, InputError, InputOptions, InputStats, MAX_ID_BYTES, MAX_RECORD_BYTES,
    is_invisible, shown,
};

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

/// A flexible reader of `delimiter`-separated records over `reader`, and the physical line
/// numbers of its records.
pub(crate) fn numbered_csv_with<R: Read>(
    reader: R,
    has_headers: bool,
    delimiter: u8,
) -> (csv::Reader<BufReader<Counting<R>>>, LineNumbers) {
    let index = Rc::new(RefCell::new(LineIndex::default()));
    let counted = Counting {
        inner: reader,
        offset: 0,
        index: index.clone(),
    };
    let csv = csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(BufReader::with_capacity(1 << 16, counted));
    (csv, LineNumbers(index))
}

/// Physical line numbers of records. csv's own positions lag behind CRLF and blank lines, so
/// they are counted from the bytes read.
pub(crate) struct LineNumbers(Rc<RefCell<LineIndex>>);

impl LineNumbers {
    /// The line `record` starts on. Every record must be asked about, in reading order: that is
    /// what lets the index forget the breaks before it.
    pub(crate) fn of(&self, record: &csv::ByteRecord) -> u64 {
        let start = record.position().map_or(0, |p| p.byte());
        self.0.borrow_mut().line_at(start)
    }
}

/// Where the line breaks are in the bytes read since the last numbered record. Consecutive
/// breaks (blank lines) are kept as one run, so a million blank lines cost one entry; the text
/// between breaks is capped at [`MAX_RECORD_BYTES`] per record, so the runs are bounded too.
#[derive(Default)]
struct LineIndex {
    /// Line ends before the runs still kept.
    newlines_before: u64,
    runs: VecDeque<BreakRun>,
    /// Non-break bytes read since the last numbered record.
    text_since_record: usize,
    /// The line of the last numbered record.
    last_line: u64,
}

/// Consecutive line-break bytes `[start, end)` and the line ends they make (`\r\n` is one).
struct BreakRun {
    start: u64,
    end: u64,
    ends: u64,
    last_cr: bool,
}

impl LineIndex {
    fn push_break(&mut self, offset: u64, b: u8) {
        if let Some(run) = self.runs.back_mut()
            && run.end == offset
        {
            run.end += 1;
            if !(b == b'\n' && run.last_cr) {
                run.ends += 1;
            }
            run.last_cr = b == b'\r';
            return;
        }
        self.runs.push_back(BreakRun {
            start: offset,
            end: offset + 1,
            ends: 1,
            last_cr: b == b'\r',
        });
    }

    /// The physical line (1-based) of the record that starts at byte `start`: every run of
    /// breaks that starts at or before it (the previous terminator and blank lines) is before it.
    fn line_at(&mut self, start: u64) -> u64 {
        while let Some(run) = self.runs.front() {
            if run.start > start {
                break;
            }
            self.newlines_before += run.ends;
            self.runs.pop_front();
        }
        self.text_since_record = 0;
        self.last_line = 1 + self.newlines_before;
        self.last_line
    }
}

/// A reader that notes where line breaks are, for [`LineIndex`], and stops a record that grows
/// past [`MAX_RECORD_BYTES`].
pub(crate) struct Counting<R> {
    inner: R,
    offset: u64,
    index: Rc<RefCell<LineIndex>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut index = self.index.borrow_mut();
        for (i, &b) in buf[..n].iter().enumerate() {
            if b == b'\n' || b == b'\r' {
                index.push_break(self.offset + i as u64, b);
            } else {
                index.text_since_record += 1;
            }
        }
        if index.text_since_record > MAX_RECORD_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "more than {} MiB of text after line {} without the end of a row: a line of \
                     binary data, or a quote opened and never closed",
                    MAX_RECORD_BYTES >> 20,
                    index.last_line.max(1)
                ),
            ));
        }
        self.offset += n as u64;
        Ok(n)
    }
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

/// Why an id may not be sent: the character, what it is, and a hint.
fn id_problem(id: &str) -> Option<(usize, char, &'static str, &'static str)> {
    id.chars().enumerate().find_map(|(i, c)| {
        if matches!(c, ',' | ';' | '\t' | '|') {
            Some((
                i,
                c,
                "a delimiter character",
                "is the file separated by this character? give --delimiter, or quote the ids",
            ))
        } else if is_invisible(c) {
            Some((
                i,
                c,
                "a control or invisible character",
                "is the file's encoding right (UTF-16 without a byte-order mark, binary data)? \
                 re-export it as UTF-8 text",
            ))
        } else if c.is_whitespace() {
            Some((
                i,
                c,
                "whitespace inside",
                "ids hold no spaces: is --id-column the right column, or is the delimiter wrong \
                 (--delimiter)?",
            ))
        } else {
            None
        }
    })
}

/// What a workbook cell's damage is, and the fix.
fn cell_damage_text(damage: CellDamage) -> (&'static str, &'static str) {
    match damage {
        CellDamage::LostDigits => (
            "is a number above 2^53 in the workbook, so its last digits are already lost",
            "format the id column as Text and enter the ids again, or export them from the \
             source system as CSV",
        ),
        CellDamage::NotWhole => (
            "is a number with a fraction in the workbook, not an id",
            "the id column holds numbers, not ids: format the column as Text and enter the ids \
             again, or export them from the source system as CSV",
        ),
        CellDamage::ErrorCell => (
            "is an error cell in the workbook, not an id",
            "fix the formula or value in that cell, or export the ids from the source system",
        ),
    }
}

/// Damage a spreadsheet does to an id on its way to a text file, recognised only where no real
/// id looks like that (ids are hex, uuids or digits; none holds `.`, `+`, `#` or `'`):
/// - scientific notation (`1.23457E+17`, `1.2e+17`, `4.5E-3`, `1E+17`): a mantissa with a
///   decimal point or an exponent with a sign; the dropped digits are gone. A bare `12e45` is
///   left alone: it is also a hex id.
/// - a whole number written as a float (`123456789012345678.0`, pandas reading a column of
///   numbers): past 2^53 its digits are already wrong.
/// - a leading apostrophe (`'0123`): a spreadsheet's "keep as text" marker exported with the id.
/// - an error value (`#N/A`, `#VALUE!`, `#####`).
fn spreadsheet_damage(id: &str) -> Option<(&'static str, &'static str)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = id.strip_prefix(['+', '-']).unwrap_or(id);
    if let Some((mantissa, exponent)) = unsigned.split_once(['e', 'E']) {
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (mantissa, None),
        };
        let signed_exponent = exponent.strip_prefix(['+', '-']);
        let mantissa_ok = digits(whole) && fraction.is_none_or(digits);
        let exponent_ok = digits(signed_exponent.unwrap_or(exponent));
        if mantissa_ok && exponent_ok && (fraction.is_some() || signed_exponent.is_some()) {
            return Some((
                "is a number in scientific notation, not an id",
                "Excel turned a long number into scientific notation; format the column as Text \
                 and export again (the digits it dropped are not in this file)",
            ));
        }
    }
    if let Some((whole, zeros)) = id.split_once('.')
        && digits(whole)
        && !zeros.is_empty()
        && zeros.bytes().all(|b| b == b'0')
    {
        return Some((
            "is a whole number written with a decimal point, not an id",
            "a program read the ids as numbers (pandas, a spreadsheet) and wrote them back as \
             decimals, which loses digits past 16; read the column as text (pandas: \
             dtype=str) and export again",
        ));
    }
    if id.starts_with('\'') {
        return Some((
            "starts with an apostrophe, a spreadsheet's text marker",
            "remove the leading apostrophe from the ids (or export the column formatted as \
             Text) and try again",
        ));
    }
    const ERRORS: &[&str] = &[
        "#n/a",
        "#value!",
        "#ref!",
        "#div/0!",
        "#name?",
        "#num!",
        "#null!",
        "#getting_data",
        "#spill!",
        "#calc!",
    ];
    if ERRORS.contains(&id.to_ascii_lowercase().as_str())
        || (id.len() > 1 && id.bytes().all(|b| b == b'#'))
    {
        return Some((
            "is a spreadsheet error value, not an id",
            "fix the cell in the spreadsheet (a failed formula, or a column too narrow to show \
             the number) and export again",
        ));
    }
    None
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
