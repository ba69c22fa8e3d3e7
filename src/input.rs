//! Reading id lists: CSV files or stdin, streamed row by row so memory never grows with length.
//!
//! Policy: real exports are messy, so whatever can be read unambiguously is read and counted (a
//! UTF-8 BOM, CRLF, quoted fields with commas and newlines, blank lines, padded ids, ragged rows,
//! stray Latin-1 bytes outside the id column, unparsable times). What would make us send the
//! wrong id (no id column, non-UTF-8 bytes inside an id, an absurdly long id, a broken quote)
//! stops the whole run before anything is sent, naming file, line and the fix.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use jiff::tz::TimeZone;

use crate::timestamp::parse_instant_ms;

/// Header names recognised as the id column (compared lower-case, without `_`, `-`, spaces).
const ID_NAMES: &[&str] = &["livenessid", "livenessdetectionid", "id"];
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

/// The longest id accepted; anything longer is a wrong column, not an id.
pub const MAX_ID_BYTES: usize = 512;

/// Where ids come from: a file, or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
}

impl Source {
    pub fn from_arg(arg: &Path) -> Source {
        if arg.as_os_str() == "-" {
            Source::Stdin
        } else {
            Source::File(arg.to_path_buf())
        }
    }

    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".into(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// How to find the columns.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    pub id_column: Option<String>,
    pub time_column: Option<String>,
    /// Zone for times written without an offset (UTC when `None`).
    pub zone: Option<TimeZone>,
}

/// One id read from the input, with what the reports need of its row.
#[derive(Debug, Clone, PartialEq)]
pub struct IdRow {
    pub liveness_id: String,
    pub event_time_ms: Option<i64>,
    /// The row's other columns as a JSON object (`None` for headerless input).
    pub attrs: Option<String>,
    /// `file:line` of the row.
    pub source: String,
}

/// What reading counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputStats {
    pub files: usize,
    pub rows: u64,
    pub ids: u64,
    pub blank_ids: u64,
    pub ragged_rows: u64,
    pub latin1_fields: u64,
    pub bad_times: u64,
    /// The first unparsable time, as `file:line: value`, for the summary.
    pub first_bad_time: Option<String>,
    /// The id and time columns each file used, for the summary.
    pub columns: Vec<String>,
}

/// Input that cannot be read safely.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    #[error("cannot read {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: the file is empty; give a CSV with a liveness_id column")]
    Empty { file: String },
    #[error(
        "{file}:1: no id column in the header ({headers}); name it with --id-column, or give a \
         single-column file of ids"
    )]
    NoIdColumn { file: String, headers: String },
    #[error("{file}:1: no column {name:?} in the header ({headers}); check --{flag}")]
    ColumnNotFound {
        file: String,
        name: String,
        headers: String,
        flag: &'static str,
    },
    #[error(
        "{file}:{line}: the id holds bytes that are not UTF-8 ({shown}); re-export the file as \
         UTF-8"
    )]
    IdNotUtf8 {
        file: String,
        line: u64,
        shown: String,
    },
    #[error(
        "{file}:{line}: the id is {len} bytes long (at most {MAX_ID_BYTES}); is --id-column the \
         right column?"
    )]
    IdTooLong { file: String, line: u64, len: usize },
    #[error("{file}:{line}: {message}; check the quoting near this line")]
    Csv {
        file: String,
        line: u64,
        message: String,
    },
}

/// Reads every id of `source`, calling `sink` for each non-blank one, in file order.
pub fn read_ids<E>(
    source: &Source,
    opts: &InputOptions,
    stats: &mut InputStats,
    mut sink: impl FnMut(IdRow) -> Result<(), E>,
) -> Result<Result<(), E>, InputError> {
    let file = source.name();
    let reader: Box<dyn Read> = match source {
        Source::Stdin => Box::new(std::io::stdin().lock()),
        Source::File(p) => Box::new(File::open(p).map_err(|e| InputError::Io {
            file: file.clone(),
            source: e,
        })?),
    };
    let (mut csv, lines) = numbered_csv(reader, false);
    let line_of = |record: &csv::ByteRecord| lines.of(record);
    let zone = opts.zone.clone().unwrap_or(TimeZone::UTC);
    stats.files += 1;

    let mut record = csv::ByteRecord::new();
    let csv_err = |e: csv::Error, file: &str| -> InputError {
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(source) => InputError::Io {
                file: file.to_string(),
                source,
            },
            other => InputError::Csv {
                file: file.to_string(),
                line,
                message: format!("{other:?}"),
            },
        }
    };
    // The first non-blank record decides the layout.
    let first = loop {
        if !csv
            .read_byte_record(&mut record)
            .map_err(|e| csv_err(e, &file))?
        {
            return Err(InputError::Empty { file });
        }
        if !is_blank(&record) {
            break record.clone();
        }
    };
    let first_line = line_of(&first);
    let mut first_fields: Vec<String> = first.iter().map(lossy).collect();
    if let Some(f) = first_fields.first_mut()
        && let Some(stripped) = f.strip_prefix('\u{feff}')
    {
        *f = stripped.to_string();
    }
    let layout = Layout::detect(&file, &first_fields, opts)?;
    stats.columns.push(layout.describe(&file));
    if !layout.has_header {
        let mut row = first.clone();
        if let Some(f) = row
            .get(0)
            .map(|f| f.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(f).to_vec())
        {
            let mut rebuilt = csv::ByteRecord::new();
            rebuilt.push_field(&f);
            for field in first.iter().skip(1) {
                rebuilt.push_field(field);
            }
            row = rebuilt;
        }
        if let Some(id_row) = layout.row(&file, first_line, &row, &zone, stats)?
            && let Err(e) = sink(id_row)
        {
            return Ok(Err(e));
        }
    }
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_err(e, &file)),
        }
        if is_blank(&record) {
            continue;
        }
        let line = line_of(&record);
        if let Some(id_row) = layout.row(&file, line, &record, &zone, stats)?
            && let Err(e) = sink(id_row)
        {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

/// A flexible CSV reader over `reader` and the physical line numbers of its records.
pub(crate) fn numbered_csv<R: Read>(
    reader: R,
    has_headers: bool,
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
        .from_reader(BufReader::with_capacity(1 << 16, counted));
    (csv, LineNumbers(index))
}

/// Physical line numbers of records. csv's own positions lag behind CRLF and blank lines, so
/// they are counted from the bytes read.
pub(crate) struct LineNumbers(Rc<RefCell<LineIndex>>);

impl LineNumbers {
    /// The line `record` starts on (records must be asked about in reading order).
    pub(crate) fn of(&self, record: &csv::ByteRecord) -> u64 {
        let start = record.position().map_or(0, |p| p.byte());
        self.0.borrow_mut().line_at(start)
    }
}

/// Where the line breaks are in the bytes read so far, to number records by physical line.
/// Only breaks after the last numbered record are kept, so memory stays at the read-ahead size.
#[derive(Default)]
struct LineIndex {
    newlines_before: u64,
    /// (offset, byte) of every `\r` and `\n` not yet passed.
    breaks: VecDeque<(u64, u8)>,
}

impl LineIndex {
    /// The physical line (1-based) of the record that starts at byte `start`: line breaks
    /// (and blank lines) right at the start belong before it.
    fn line_at(&mut self, start: u64) -> u64 {
        while let Some(&(offset, _)) = self.breaks.front() {
            if offset >= start {
                break;
            }
            if self.ends_line(0) {
                self.newlines_before += 1;
            }
            self.breaks.pop_front();
        }
        let mut leading = 0;
        for i in 0..self.breaks.len() {
            if self.breaks[i].0 != start + i as u64 {
                break;
            }
            if self.ends_line(i) {
                leading += 1;
            }
        }
        1 + self.newlines_before + leading
    }

    /// Whether break `i` ends a line: `\n`, or a `\r` not followed by `\n` (old Mac files).
    fn ends_line(&self, i: usize) -> bool {
        match self.breaks[i] {
            (_, b'\n') => true,
            (offset, _) => self.breaks.get(i + 1) != Some(&(offset + 1, b'\n')),
        }
    }
}

/// A reader that notes where line breaks are, for [`LineIndex`].
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
                index.breaks.push_back((self.offset + i as u64, b));
            }
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

struct Layout {
    has_header: bool,
    headers: Vec<String>,
    id_index: usize,
    time_index: Option<usize>,
}

impl Layout {
    fn detect(file: &str, first: &[String], opts: &InputOptions) -> Result<Layout, InputError> {
        let normalised: Vec<String> = first.iter().map(|h| normalise_name(h)).collect();
        let shown = first.join(", ");
        let find = |name: &str| {
            let wanted = normalise_name(name);
            first
                .iter()
                .position(|h| h.trim() == name)
                .or_else(|| normalised.iter().position(|h| *h == wanted))
        };
        let time_index = |headers_present: bool| -> Result<Option<usize>, InputError> {
            match &opts.time_column {
                Some(name) if headers_present => {
                    find(name)
                        .map(Some)
                        .ok_or_else(|| InputError::ColumnNotFound {
                            file: file.to_string(),
                            name: name.clone(),
                            headers: shown.clone(),
                            flag: "time-column",
                        })
                }
                Some(name) => Err(InputError::ColumnNotFound {
                    file: file.to_string(),
                    name: name.clone(),
                    headers: shown.clone(),
                    flag: "time-column",
                }),
                None if headers_present => Ok(TIME_NAMES
                    .iter()
                    .find_map(|t| normalised.iter().position(|h| h == t))),
                None => Ok(None),
            }
        };
        if let Some(name) = &opts.id_column {
            let id_index = find(name).ok_or_else(|| InputError::ColumnNotFound {
                file: file.to_string(),
                name: name.clone(),
                headers: shown.clone(),
                flag: "id-column",
            })?;
            return Ok(Layout {
                has_header: true,
                headers: first.to_vec(),
                id_index,
                time_index: time_index(true)?,
            });
        }
        if let Some(id_index) = ID_NAMES
            .iter()
            .find_map(|n| normalised.iter().position(|h| h == n))
        {
            return Ok(Layout {
                has_header: true,
                headers: first.to_vec(),
                id_index,
                time_index: time_index(true)?,
            });
        }
        if first.len() == 1 {
            // One column: a header word (no digit in it) or already the first id.
            let looks_like_header = !first[0].chars().any(|c| c.is_ascii_digit())
                && first[0]
                    .chars()
                    .all(|c| c.is_alphabetic() || " _-".contains(c));
            return Ok(Layout {
                has_header: looks_like_header,
                headers: first.to_vec(),
                id_index: 0,
                time_index: time_index(looks_like_header)?,
            });
        }
        Err(InputError::NoIdColumn {
            file: file.to_string(),
            headers: shown,
        })
    }

    fn describe(&self, file: &str) -> String {
        let id = if self.has_header {
            format!("id column {:?}", self.headers[self.id_index])
        } else {
            "no header, ids in column 1".to_string()
        };
        let time = match self.time_index {
            Some(i) => format!("time column {:?}", self.headers[i]),
            None => "no time column (reports will date checks by fetch time)".to_string(),
        };
        format!("{file}: {id}, {time}")
    }

    fn row(
        &self,
        file: &str,
        line: u64,
        record: &csv::ByteRecord,
        zone: &TimeZone,
        stats: &mut InputStats,
    ) -> Result<Option<IdRow>, InputError> {
        stats.rows += 1;
        if self.has_header && record.len() != self.headers.len() {
            stats.ragged_rows += 1;
        }
        let raw_id = record.get(self.id_index).unwrap_or_default();
        let id = match std::str::from_utf8(raw_id) {
            Ok(s) => s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'),
            Err(_) => {
                return Err(InputError::IdNotUtf8 {
                    file: file.to_string(),
                    line,
                    shown: latin1(raw_id),
                });
            }
        };
        if id.is_empty() {
            stats.blank_ids += 1;
            return Ok(None);
        }
        if id.len() > MAX_ID_BYTES {
            return Err(InputError::IdTooLong {
                file: file.to_string(),
                line,
                len: id.len(),
            });
        }
        stats.ids += 1;
        let event_time_ms = match self.time_index.and_then(|i| record.get(i)) {
            Some(raw) if !raw.iter().all(u8::is_ascii_whitespace) => {
                let text = lossy(raw);
                let parsed = parse_instant_ms(&text, zone);
                if parsed.is_none() {
                    stats.bad_times += 1;
                    if stats.first_bad_time.is_none() {
                        stats.first_bad_time = Some(format!("{file}:{line}: {text:?}"));
                    }
                }
                parsed
            }
            _ => None,
        };
        let attrs = if self.has_header {
            let mut map = serde_json::Map::new();
            for (i, field) in record.iter().enumerate() {
                if i == self.id_index || i == self.time_index.unwrap_or(usize::MAX) {
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
            attrs,
            source: format!("{file}:{line}"),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(content: &[u8], opts: &InputOptions) -> Result<(Vec<IdRow>, InputStats), InputError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        let mut stats = InputStats::default();
        let mut rows = Vec::new();
        read_ids::<()>(&Source::File(f.path().into()), opts, &mut stats, |r| {
            rows.push(r);
            Ok(())
        })?
        .unwrap();
        Ok((rows, stats))
    }

    fn ids(rows: &[IdRow]) -> Vec<&str> {
        rows.iter().map(|r| r.liveness_id.as_str()).collect()
    }

    #[test]
    fn messy_export() {
        let content = b"\xEF\xBB\xBFliveness_id,created_at,channel,note\r\n\
            \"  abc-1 \",2024-05-01 10:00:00,web,\"a, quoted\nnote\"\r\n\
            \r\n\
            ,2024-05-01 10:00:00,web,blank id\r\n\
            0012345678901234567890,1714557600,app,caf\xe9\r\n\
            ragged-1,2024-05-01T10:00:00Z\r\n\
            abc-1,not a time,web,dup\r\n";
        let (rows, stats) = read(content, &InputOptions::default()).unwrap();
        assert_eq!(
            ids(&rows),
            ["abc-1", "0012345678901234567890", "ragged-1", "abc-1"]
        );
        assert_eq!(rows[0].event_time_ms, Some(1_714_557_600_000));
        assert_eq!(rows[1].event_time_ms, Some(1_714_557_600_000));
        assert_eq!(rows[3].event_time_ms, None);
        assert_eq!(
            rows[0].attrs.as_deref(),
            Some(r#"{"channel":"web","note":"a, quoted\nnote"}"#)
        );
        assert_eq!(
            rows[1].attrs.as_deref(),
            Some(r#"{"channel":"app","note":"café"}"#)
        );
        let lines: Vec<&str> = rows
            .iter()
            .map(|r| r.source.rsplit(':').next().unwrap())
            .collect();
        assert_eq!(lines, ["2", "6", "7", "8"]);
        assert_eq!(stats.blank_ids, 1);
        assert_eq!(stats.latin1_fields, 1);
        assert_eq!(stats.ragged_rows, 1);
        assert_eq!(stats.bad_times, 1);
        assert_eq!(stats.rows, 5);
        assert_eq!(stats.ids, 4);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Whatever the quoting, line endings, BOM, blank lines, padding and duplicates, the set
        /// of ids read is exactly the set written.
        #[test]
        fn the_ids_read_are_exactly_the_ids_written(
            ids in proptest::collection::vec("[A-Za-z0-9_./:-][A-Za-z0-9 _,.\"/\n:-]{0,20}[A-Za-z0-9_.-]", 1..40),
            quote_all in proptest::bool::ANY,
            eol in proptest::sample::select(vec!["\n", "\r\n"]),
            bom in proptest::bool::ANY,
            pads in proptest::collection::vec(0usize..3, 40),
            blanks in proptest::collection::vec(0usize..3, 40),
            dups in proptest::collection::vec(proptest::bool::ANY, 40),
        ) {
            let mut content = Vec::new();
            if bom {
                content.extend_from_slice(b"\xEF\xBB\xBF");
            }
            content.extend_from_slice(format!("liveness_id,note{eol}").as_bytes());
            for (i, id) in ids.iter().enumerate() {
                let padded = format!("{}{id}{}", " ".repeat(pads[i]), "\t".repeat(pads[i] % 2));
                let needs_quotes = quote_all || id.contains([',', '"', '\n']);
                let field = if needs_quotes {
                    format!("\"{}\"", padded.replace('"', "\"\""))
                } else {
                    padded
                };
                let line = format!("{field},n{i}{eol}");
                content.extend_from_slice(line.as_bytes());
                if dups[i] {
                    content.extend_from_slice(line.as_bytes());
                }
                for _ in 0..blanks[i] {
                    content.extend_from_slice(eol.as_bytes());
                }
            }
            let (rows, stats) = read(&content, &InputOptions::default()).unwrap();
            let read_set: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.liveness_id.as_str()).collect();
            let want: std::collections::BTreeSet<&str> = ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
            proptest::prop_assert_eq!(read_set, want);
            proptest::prop_assert_eq!(stats.ids as usize, ids.len() + dups.iter().take(ids.len()).filter(|d| **d).count());
        }
    }

    #[test]
    fn lines_are_physical_lines_whatever_the_line_endings() {
        for eol in ["\n", "\r\n", "\r"] {
            let content = [
                "liveness_id,note",
                "a,x",
                "b,\"two",
                "lines\"",
                "",
                "",
                "c,y",
                "  ",
                "d,z",
            ]
            .join(eol);
            let (rows, _) = read(content.as_bytes(), &InputOptions::default()).unwrap();
            let lines: Vec<&str> = rows
                .iter()
                .map(|r| r.source.rsplit(':').next().unwrap())
                .collect();
            assert_eq!(lines, ["2", "3", "7", "9"], "{eol:?}");
        }
    }

    #[test]
    fn headerless_single_column() {
        let (rows, _) = read(b"\xEF\xBB\xBF123\n456\n\n 789 \n", &InputOptions::default()).unwrap();
        assert_eq!(ids(&rows), ["123", "456", "789"]);
        assert_eq!(rows[0].attrs, None);
        let (rows, _) = read(b"uuid\nab12\n", &InputOptions::default()).unwrap();
        assert_eq!(ids(&rows), ["ab12"]);
    }

    #[test]
    fn named_columns() {
        let opts = InputOptions {
            id_column: Some("Check Ref".into()),
            time_column: Some("when".into()),
            zone: None,
        };
        let (rows, _) = read(b"when,Check Ref\n2024-05-01,x1\n", &opts).unwrap();
        assert_eq!(ids(&rows), ["x1"]);
        assert_eq!(rows[0].event_time_ms, Some(1_714_521_600_000));
    }

    #[test]
    fn unreadable_input_names_file_line_and_fix() {
        let err = read(b"user,channel\nu1,web\n", &InputOptions::default()).unwrap_err();
        assert!(matches!(err, InputError::NoIdColumn { .. }), "{err}");
        assert!(err.to_string().contains("--id-column"), "{err}");

        let err = read(b"liveness_id\nok\nbad\xff\n", &InputOptions::default()).unwrap_err();
        assert!(
            matches!(err, InputError::IdNotUtf8 { line: 3, .. }),
            "{err}"
        );

        let long = format!("liveness_id\n{}\n", "x".repeat(600));
        let err = read(long.as_bytes(), &InputOptions::default()).unwrap_err();
        assert!(
            matches!(err, InputError::IdTooLong { line: 2, .. }),
            "{err}"
        );

        let err = read(b"", &InputOptions::default()).unwrap_err();
        assert!(matches!(err, InputError::Empty { .. }), "{err}");

        let opts = InputOptions {
            id_column: Some("nope".into()),
            ..InputOptions::default()
        };
        let err = read(b"liveness_id\n1\n", &opts).unwrap_err().to_string();
        assert!(
            err.contains("\"nope\"") && err.contains("--id-column"),
            "{err}"
        );
    }
}
