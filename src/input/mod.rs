//! Reading id lists as they come: CSV/TSV/pipe/semicolon text in UTF-8 or UTF-16, gzip-compressed
//! or not, workbooks (.xlsx, .xls, .ods), folders of those, files, FIFOs and stdin.
//!
//! - [`detect`]: what a stream is (compression, encoding, workbook, binary) and its delimiter.
//! - [`records`]: rows of text or workbook cells to ids: columns, line numbers, caps, id rules.
//! - [`workbook`]: the first (or named) sheet of a workbook as rows of text.
//! - [`times`]: reading the time column (`--time-format`, then the built-in forms).
//! - [`limits`]: what one input may cost (cells, cell bytes, shared strings, unpacked parts,
//!   kept columns and attribute bytes); over a limit the input is refused.
//!
//! Policy: what can be read unambiguously is read and counted (BOMs, CRLF, quoted fields, blank
//! lines, padded ids, ragged rows, repeated header rows, stray Latin-1 outside the id column).
//! What could send the wrong id (no id column, a control character, a space or a delimiter
//! inside an id, undecodable bytes, a broken quote, binary data, a workbook number that already
//! lost digits or is not whole, an id a spreadsheet damaged (scientific notation, a `.0` tail,
//! a leading apostrophe, an error value), an unreadable time unless `--bad-times fetch-time`)
//! stops the whole run before anything is sent, naming file, line and the fix. Every text taken
//! from the input is shown escaped ([`shown`]): no control byte from an input ever reaches a
//! terminal or a log.
//! Memory stays flat: a record is capped at [`MAX_RECORD_BYTES`], an id at [`MAX_ID_BYTES`], the
//! columns and attribute bytes a row keeps and what a workbook may unpack to by [`Limits`], and
//! nothing is kept per line.

pub mod detect;
pub mod limits;
pub mod records;
pub mod times;
pub mod workbook;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::setting::Setting;
use jiff::tz::TimeZone;

pub use limits::Limits;
pub(crate) use records::numbered_csv_with;

/// The longest id accepted; anything longer is a wrong column, not an id.
pub const MAX_ID_BYTES: usize = 512;
/// The most bytes of text one record (a row, quoted line breaks included) may hold; past it the
/// input is not an id list (a line of binary, or a quote opened and never closed).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Unreadable times quoted in the error that stops a run.
const BAD_TIME_EXAMPLES: usize = 3;

/// Where ids come from: a file (or FIFO, or `/dev/fd/N`), or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input (`-`), read once as it streams.
    Stdin,
    /// A file, FIFO or `/dev/fd/N`.
    File(PathBuf),
}

impl Source {
    /// The source a command-line argument names: `-` is standard input, anything else a path.
    pub fn from_arg(arg: &Path) -> Source {
        if arg.as_os_str() == "-" {
            Source::Stdin
        } else {
            Source::File(arg.to_path_buf())
        }
    }

    /// The name used in messages and `checks.source`, escaped.
    pub fn name(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".into(),
            Source::File(p) => shown(&p.display().to_string()),
        }
    }
}

/// The file names a folder argument reads (and their `.gz`, `.zst`), compared lower-case.
pub const FOLDER_EXTENSIONS: &[&str] = &["csv", "tsv", "txt", "xlsx", "xls", "ods"];

/// Turns command-line arguments into sources: `-` is stdin, a folder gives its input files
/// (sorted by name, not recursive), anything else readable (file, FIFO, `/dev/fd/N`) is read as
/// it is. Returns the sources and one note per folder that skipped entries.
pub fn sources_from_args(args: &[PathBuf]) -> Result<(Vec<Source>, Vec<String>), InputError> {
    let mut sources = Vec::new();
    let mut notes = Vec::new();
    if args.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(InputError::Usage(
            "standard input (-) can be given once".into(),
        ));
    }
    for arg in args {
        if arg.as_os_str() == "-" {
            sources.push(Source::Stdin);
            continue;
        }
        let meta = std::fs::metadata(arg).map_err(|_| {
            InputError::Usage(format!(
                "{}: no such file or folder; give id files (CSV, TSV, text, workbooks, their \
                 .gz or .zst), folders of them, or - for standard input",
                shown(&arg.display().to_string())
            ))
        })?;
        if !meta.is_dir() {
            sources.push(Source::File(arg.clone()));
            continue;
        }
        let (files, skipped) = folder_files(arg)?;
        let folder = shown(&arg.display().to_string());
        if files.is_empty() {
            return Err(InputError::Usage(format!(
                "{folder}: the folder holds no input files (*.{} and their .gz, .zst){}",
                FOLDER_EXTENSIONS.join(" *."),
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!("; skipped: {}", skipped.join(", "))
                }
            )));
        }
        if !skipped.is_empty() {
            notes.push(format!(
                "{folder}: read {} files, skipped {}: {}",
                files.len(),
                skipped.len(),
                skipped.join(", ")
            ));
        }
        sources.extend(files.into_iter().map(Source::File));
    }
    Ok((sources, notes))
}

/// A folder's input files sorted by name, and the names it skipped (escaped).
fn folder_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<String>), InputError> {
    let io = |error| InputError::Io {
        file: shown(&dir.display().to_string()),
        error,
    };
    let mut entries: Vec<(String, PathBuf, bool)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = path.is_dir();
        entries.push((name, path, is_dir));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for (name, path, is_dir) in entries {
        let lower = name.to_lowercase();
        let base = lower
            .strip_suffix(".gz")
            .or_else(|| lower.strip_suffix(".zst"))
            .unwrap_or(&lower);
        let wanted = !is_dir
            && !name.starts_with('.')
            && !name.starts_with("~$")
            && FOLDER_EXTENSIONS
                .iter()
                .any(|ext| base.strip_suffix(ext).is_some_and(|s| s.ends_with('.')));
        if wanted {
            files.push(path);
        } else {
            skipped.push(if is_dir {
                format!("{}/", shown(&name))
            } else {
                shown(&name)
            });
        }
    }
    Ok((files, skipped))
}

/// What to do with a time that cannot be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BadTimes {
    /// Stop the run before anything is sent (the default).
    #[default]
    Stop,
    /// Register the check dated by its fetch time, marked so per check and counted per run.
    FetchTime,
}

/// How to read the input.
#[derive(Debug, Clone, Default)]
pub struct InputOptions {
    /// `--id-column`: the id column's header (exact text first, then the same name spelt
    /// another way); found by the usual names when `None`.
    pub id_column: Option<String>,
    /// `--time-column`: the event time column's header; found by the usual names when `None`.
    pub time_column: Option<String>,
    /// Zone for times written without an offset, and for workbook dates (UTC when `None`).
    pub zone: Option<TimeZone>,
    /// That zone's name and where it came from (`UTC (the default)`), named in the log line of
    /// each file with a time column.
    pub zone_label: Option<String>,
    /// `--fix-times`: a stored check takes the event time this input gives it.
    pub fix_times: bool,
    /// The field delimiter; detected per file when `None`.
    pub delimiter: Option<u8>,
    /// strftime formats tried in order before the built-in time forms.
    pub time_formats: Vec<String>,
    /// What an unreadable event time does (`--bad-times`).
    pub bad_times: BadTimes,
    /// The workbook sheet to read (the first when `None`).
    pub sheet: Option<String>,
    /// Set by a signal handler: reading stops at the next record.
    pub interrupted: Option<Arc<AtomicBool>>,
    /// What one input may cost.
    pub limits: Limits,
}

impl InputOptions {
    fn is_interrupted(&self) -> bool {
        self.interrupted
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

/// One id read from the input, with what the reports need of its row.
#[derive(Debug, Clone, PartialEq)]
pub struct IdRow {
    /// The id, trimmed, checked against the id rules.
    pub liveness_id: String,
    /// The row's event time (Unix ms), when it has one that could be read.
    pub event_time_ms: Option<i64>,
    /// The row's time could not be read and `--bad-times fetch-time` dates it by fetch time.
    pub dated_by_fetch: bool,
    /// The row's time could not be read (whatever `--bad-times` does with it).
    pub unreadable_time: bool,
    /// The row's other columns as a JSON object (`None` for headerless input).
    pub attrs: Option<String>,
    /// `file:line` of the row (`file:row` for workbooks).
    pub source: String,
}

/// Header names recognised as the id column (compared lower-case, without `_`, `-`, spaces).
const ID_NAMES: &[&str] = &["livenessid", "livenessdetectionid", "id"];

/// A header name lower-cased, with only its letters and digits (`Liveness ID` -> `livenessid`).
fn normalise_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether a header cell is one of the known id column names ([`ID_NAMES`], spelt any way).
fn is_id_name(cell: &str) -> bool {
    ID_NAMES.contains(&normalise_name(cell).as_str())
}

/// What reading counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InputStats {
    /// Sources read (files, FIFOs, standard input).
    pub files: usize,
    /// Data rows read (header rows and blank lines excluded).
    pub rows: u64,
    /// Rows with a non-blank id.
    pub ids: u64,
    /// Rows whose id cell was blank: skipped.
    pub blank_ids: u64,
    /// Rows with more or fewer fields than the header: read as far as they go.
    pub ragged_rows: u64,
    /// Other fields that were not UTF-8, kept read as Latin-1.
    pub latin1_fields: u64,
    /// Rows equal to the header met again after it (concatenated exports): skipped.
    pub repeated_headers: u64,
    /// Per file with a title above its header: where, and the title (those rows are skipped).
    pub above_header: Vec<String>,
    /// Rows at a file's end that look like a footer (no time, nothing but a word or the id):
    /// skipped, never sent.
    pub footer_rows: u64,
    /// Per file with a footer: where, and its first row.
    pub footers: Vec<String>,
    /// Event times that could not be read (or read outside the plausible window).
    pub bad_times: u64,
    /// Of those, times that read but lie before 2000 or more than a day ahead.
    pub implausible_times: u64,
    /// The first few unparsable times, as `file:line: "value"`.
    pub bad_time_examples: Vec<String>,
    /// What the unparsable times look like, for the suggested `--time-format`.
    pub bad_time_shape: times::ShapeEvidence,
    /// One line per file: its form, delimiter, id and time columns, for the log.
    pub columns: Vec<String>,
}

impl InputStats {
    fn note_bad_time(&mut self, place: &str, text: &str) {
        self.bad_times += 1;
        if self.bad_time_examples.len() < BAD_TIME_EXAMPLES {
            self.bad_time_examples
                .push(format!("{place}: \"{}\"", shown(text)));
        }
        self.bad_time_shape.observe(text);
    }

    fn note_implausible_time(&mut self, place: &str, text: &str, why: &str) {
        self.bad_times += 1;
        self.implausible_times += 1;
        if self.bad_time_examples.len() < BAD_TIME_EXAMPLES {
            self.bad_time_examples
                .push(format!("{place}: \"{}\" ({why})", shown(text)));
        }
    }

    /// The error for unreadable times under `--bad-times stop`, if there were any.
    pub fn bad_times_error(&self, opts: &InputOptions) -> Option<InputError> {
        (self.bad_times > 0 && opts.bad_times == BadTimes::Stop).then(|| InputError::BadTimes {
            count: self.bad_times,
            examples: self.bad_time_examples.join("; "),
            suggestion: if self.implausible_times == self.bad_times {
                "event times lie from 2000 to a day after the run: correct the year in the input"
                    .to_string()
            } else {
                self.bad_time_shape.suggestion()
            },
        })
    }
}

/// Input that cannot be read safely. Every text from the input in these messages is escaped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The command line names no usable input (a folder without input files, ...): the reason.
    #[error("{0}")]
    Usage(String),
    /// The input cannot be opened or read. The cause is in the message (not a `source`), so a
    /// printed chain does not repeat it.
    #[error("cannot read {file}: {error}")]
    Io {
        /// The input, as named on the command line.
        file: String,
        /// Why it cannot be read.
        error: std::io::Error,
    },
    /// The input holds nothing at all: a list of ids was expected.
    #[error("{file}: the file is empty; give a list of liveness ids with a liveness_id column")]
    Empty {
        /// The input, as named on the command line.
        file: String,
    },
    /// The input is not text liveaudit can read (binary, UTF-32, a compressed file or a
    /// workbook inside a compressed file, a workbook from a pipe).
    #[error("{file}: {seen}; {fix}")]
    NotText {
        /// The input, as named on the command line.
        file: String,
        /// What the input looks like instead.
        seen: String,
        /// What to do about it.
        fix: &'static str,
    },
    /// No header names an id column, and the file has more than one column.
    #[error(
        "{file}:{line}: no id column in the header ({headers}); name it with {id_column}, or give \
         a single-column file of ids{hint}",
        id_column = Setting::IdColumn
    )]
    NoIdColumn {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The header's names, escaped and cut short.
        headers: String,
        /// What to do about it (may be empty).
        hint: String,
    },
    /// Two columns could each be the id column: the header must say which.
    #[error("{file}:{line}: several columns could be the id column: {columns}; {fix}")]
    AmbiguousIdColumn {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The candidate columns, by name and position.
        columns: String,
        /// What to do about it.
        fix: String,
    },
    /// `--id-column` or `--time-column` names a column the header does not have.
    #[error("{file}:{line}: no column \"{name}\" in the header ({headers}); check {setting}")]
    ColumnNotFound {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The column named by the flag.
        name: String,
        /// The header's names, escaped and cut short.
        headers: String,
        /// The setting that named it.
        setting: Setting,
    },
    /// An id that is not UTF-8 would reach the vendor as something else: refused.
    #[error(
        "{file}:{line}: the id holds bytes that are not UTF-8 (\"{shown}\"); re-export the file \
         as UTF-8 (or UTF-16 with a byte-order mark)"
    )]
    IdNotUtf8 {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The id's bytes, shown as Latin-1 and escaped.
        shown: String,
    },
    /// An id longer than [`MAX_ID_BYTES`]: most likely the wrong column.
    #[error(
        "{file}:{line}: the id is {len} bytes long (at most {MAX_ID_BYTES}); is {id_column} the \
         right column?",
        id_column = Setting::IdColumn
    )]
    IdTooLong {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The id's length in bytes.
        len: usize,
    },
    /// An id holding a control or invisible character, whitespace inside, or a delimiter.
    #[error("{file}:{line}: the id \"{id}\" holds {what} ({character}); {hint}")]
    BadIdCharacter {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The id, escaped.
        id: String,
        /// What is wrong with it.
        what: &'static str,
        /// The character and its position.
        character: String,
        /// What to do about it (may be empty).
        hint: String,
    },
    /// A workbook number above 2^53: its last digits are already lost.
    #[error(
        "{file}:{line}: the id is the number {value} in the workbook, above 2^53, so the workbook \
         has already lost its last digits; format the id column as Text and enter the ids again, \
         or export them from the source system as CSV"
    )]
    IdLostDigits {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The number as the workbook holds it.
        value: String,
    },
    /// An id a spreadsheet damaged: a fraction, an error, date, time or boolean cell in a
    /// workbook; scientific
    /// notation, a whole number with a decimal point, a leading apostrophe or an error value
    /// in text.
    #[error("{file}:{line}{cell}: the id \"{id}\" {what}; {hint}")]
    IdDamaged {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The workbook cell, e.g. ` (cell B5)`; empty for text.
        cell: String,
        /// The id, escaped.
        id: String,
        /// What is wrong with it.
        what: &'static str,
        /// What to do about it (may be empty).
        hint: &'static str,
    },
    /// A quoted field that swallowed whole rows: a quote opened and not closed.
    #[error(
        "{file}:{line}: a field runs over several lines and holds what looks like further rows \
         (\"{excerpt}\"): a quote opened and not closed; check the quoting near this line"
    )]
    BrokenQuote {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// The start of the first swallowed row, escaped.
        excerpt: String,
    },
    /// The CSV reader could not read a record.
    #[error("{file}:{line}: {message}; check the quoting near this line")]
    Csv {
        /// The input, as named on the command line.
        file: String,
        /// The physical line (text) or sheet row (workbook), 1-based.
        line: u64,
        /// What the reader said.
        message: String,
    },
    /// The input passes one of the [`Limits`]: refused whole.
    #[error("{place}: {limit}")]
    OverLimit {
        /// The input, and the line or part where the limit was passed.
        place: String,
        /// Which limit, how far, and the flag that raises it.
        limit: Box<limits::OverLimit>,
    },
    /// The workbook or its sheet cannot be read.
    #[error("{file}: {message}")]
    Workbook {
        /// The input, as named on the command line.
        file: String,
        /// What the reader said.
        message: String,
    },
    /// Event times that could not be read, or read outside the plausible window (before 2000,
    /// more than a day after the run), under `--bad-times stop` (the default).
    #[error(
        "{count} time(s) could not be read, e.g. {examples}; {suggestion}, or date those checks \
         by fetch time with {bad_times} fetch-time",
        bad_times = Setting::BadTimes
    )]
    BadTimes {
        /// How many times could not be read.
        count: u64,
        /// The first few, as `file:line: "value"`.
        examples: String,
        /// The `--time-format` the values' shape suggests, or how to find one.
        suggestion: String,
    },
    /// A signal stopped the reading; nothing was registered.
    #[error("interrupted while reading the input; nothing was registered or sent")]
    Interrupted,
}

/// Reads every id of `source`, calling `sink` for each non-blank one, in file order.
pub fn read_ids<E>(
    source: &Source,
    opts: &InputOptions,
    stats: &mut InputStats,
    sink: impl FnMut(IdRow) -> Result<(), E>,
) -> Result<Result<(), E>, InputError> {
    let file = source.name();
    stats.files += 1;
    match detect::open(source, &file, opts)? {
        detect::Opened::Text {
            reader,
            form,
            delimiter,
        } => records::read_text(&file, reader, &form, delimiter, opts, stats, sink),
        detect::Opened::Workbook { path, kind } => {
            workbook::read(&file, &path, kind, opts, stats, sink)
        }
    }
}

/// `text` made safe for a terminal or a log: control, format and other invisible characters
/// escaped (`\u{1b}`, `\t`), backslashes doubled, and at most 80 characters kept.
pub fn shown(text: &str) -> String {
    const MAX: usize = 80;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if is_invisible(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Characters that do not show as themselves: controls (C0, DEL, C1), format characters that
/// change how text around them is drawn (bidi overrides, zero-width), BOM, replacement char.
pub(crate) fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}'
            | '\u{feff}' | '\u{fffd}' | '\u{fff9}'..='\u{fffb}')
}

#[cfg(test)]
mod tests;
