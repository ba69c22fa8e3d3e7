//! What an input stream is, from its first bytes (never from its name alone): gzip or zstd
//! (unpacked while streaming), a workbook, UTF-8 with or without a BOM, UTF-16 with a BOM (decoded while
//! streaming), or something that is not an id list; and which delimiter its rows use.
//!
//! Policy: only what is certain is decoded. UTF-16 without a byte-order mark, UTF-32, other
//! compressions, archives, PDFs, images, databases and binary data are refused with what was
//! seen and how to fix it. The delimiter is `--delimiter` if given, tab for `.tsv`, else the one
//! of `,` `;` tab `|` that splits the header line and keeps the same field count over the next
//! rows; none found means a single column.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use super::{InputError, InputOptions, Source};
use crate::setting::Setting;

/// Bytes looked at to tell what a stream is.
const SNIFF_BYTES: usize = 8 * 1024;
/// Decoded text looked at to find the delimiter.
const DELIMITER_SNIFF_BYTES: usize = 64 * 1024;
/// Rows after the header compared when finding the delimiter.
const DELIMITER_ROWS: usize = 10;
/// The delimiters detected, in order of preference on a tie.
pub const DELIMITERS: &[u8] = b",;\t|";

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// The largest zstd window accepted (`zstd -19` uses 8 MiB; a `--long` file would need more
/// memory than an id list is worth).
const ZSTD_MAX_WINDOW: u64 = 32 << 20;

type ZstdFrame = ruzstd::decoding::StreamingDecoder<
    std::io::BufReader<Box<dyn Read>>,
    ruzstd::decoding::FrameDecoder,
>;

/// A zstd stream of one or more frames (`zstd` writes one; `pzstd` and appended files write
/// several), unpacked while streaming with a bounded window.
struct ZstdFrames {
    source: Option<std::io::BufReader<Box<dyn Read>>>,
    frame: Option<ZstdFrame>,
}

impl ZstdFrames {
    fn new(reader: Box<dyn Read>) -> ZstdFrames {
        ZstdFrames {
            source: Some(std::io::BufReader::new(reader)),
            frame: None,
        }
    }
}

impl Read for ZstdFrames {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::BufRead;
        loop {
            if let Some(frame) = &mut self.frame {
                let n = frame.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.source = self.frame.take().map(ZstdFrame::into_inner);
            }
            let Some(mut source) = self.source.take() else {
                return Ok(0);
            };
            if source.fill_buf()?.is_empty() {
                return Ok(0);
            }
            let frame = ruzstd::decoding::StreamingDecoder::new_with_max_window_size(
                source,
                ZSTD_MAX_WINDOW,
            )
            .map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("zstd: {e}"))
            })?;
            self.frame = Some(frame);
        }
    }
}

/// A workbook format, by its container's magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkbookKind {
    /// A ZIP container: .xlsx or .ods.
    Zip,
    /// An OLE container: .xls.
    Ole,
}

/// An input ready to read.
pub enum Opened {
    /// Text: decompressed, and UTF-16 decoded to UTF-8.
    Text {
        /// The text, from its first byte.
        reader: Box<dyn Read>,
        /// What was found, e.g. "UTF-16LE text (BOM), gzip".
        form: String,
        /// The delimiter and how it was chosen.
        delimiter: Delimiter,
    },
    /// A workbook, read by its path (a workbook needs random access).
    Workbook {
        /// The workbook file.
        path: PathBuf,
        /// Its container.
        kind: WorkbookKind,
    },
}

/// The field delimiter of a text input and how it was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiter {
    /// The delimiter byte.
    pub byte: u8,
    /// How it was chosen (given by the user, or detected and how), for the log.
    pub how: &'static str,
}

impl Delimiter {
    /// The delimiter and how it was chosen, as the input log line shows it.
    pub fn describe(&self) -> String {
        let name = match self.byte {
            b'\t' => "tab".to_string(),
            b => format!("'{}'", char::from(b)),
        };
        format!("delimiter {name} ({})", self.how)
    }
}

/// Opens `source` and works out what it holds.
pub fn open(source: &Source, file: &str, opts: &InputOptions) -> Result<Opened, InputError> {
    let io = |error| InputError::Io {
        file: file.to_string(),
        error,
    };
    let (raw, path, regular): (Box<dyn Read>, Option<&Path>, bool) = match source {
        Source::Stdin => (Box::new(std::io::stdin()), None, false),
        Source::File(p) => {
            let f = File::open(p).map_err(io)?;
            let regular = f.metadata().map(|m| m.is_file()).unwrap_or(false);
            (Box::new(f), Some(p.as_path()), regular)
        }
    };
    let (head, reader) = peek(raw, SNIFF_BYTES).map_err(io)?;
    if head.is_empty() {
        return Err(InputError::Empty {
            file: file.to_string(),
        });
    }
    let Unpacked {
        form_suffix,
        head,
        reader,
    } = unpack(head, reader, file)?;
    if let Some(kind) = workbook_kind(&head) {
        return match path {
            Some(p) if regular => Ok(Opened::Workbook {
                path: p.to_path_buf(),
                kind,
            }),
            _ => Err(not_text(
                file,
                "this looks like a workbook (xlsx/xls/ods) read from a stream".into(),
                "give the workbook as a file name: workbooks cannot be read from a pipe",
            )),
        };
    }
    let (decoded, encoding) = decode(&head, reader, file)?;
    let (text_head, reader) = peek(decoded, DELIMITER_SNIFF_BYTES).map_err(io)?;
    let delimiter = match opts.delimiter {
        Some(byte) => Delimiter {
            byte,
            how: Setting::Delimiter.flag(),
        },
        None if path.is_some_and(is_tsv) => Delimiter {
            byte: b'\t',
            how: ".tsv file",
        },
        None => detect_delimiter(&text_head),
    };
    Ok(Opened::Text {
        reader,
        form: format!("{encoding}{form_suffix}"),
        delimiter,
    })
}

/// What [`unpack`] gives: the form's suffix, the first bytes of the content and its reader.
struct Unpacked {
    form_suffix: String,
    head: Vec<u8>,
    reader: Box<dyn Read>,
}

/// `reader` (starting with `head`) unpacked when it is gzip or zstd: the form's suffix
/// (`", gzip"`), the first bytes of what it holds and a reader of it. A compressed file that
/// holds another compressed file or a workbook is refused.
fn unpack(head: Vec<u8>, reader: Box<dyn Read>, file: &str) -> Result<Unpacked, InputError> {
    let io = |error| InputError::Io {
        file: file.to_string(),
        error,
    };
    let (compression, reader): (Option<&str>, Box<dyn Read>) = if head.starts_with(GZIP_MAGIC) {
        (
            Some("gzip"),
            Box::new(flate2::read::MultiGzDecoder::new(reader)),
        )
    } else if head.starts_with(ZSTD_MAGIC) {
        (Some("zstd"), Box::new(ZstdFrames::new(reader)))
    } else {
        (None, reader)
    };
    Ok(match compression {
        Some(name) => {
            let (inner, reader) = peek(reader, SNIFF_BYTES).map_err(io)?;
            if inner.is_empty() {
                return Err(InputError::Empty {
                    file: file.to_string(),
                });
            }
            if inner.starts_with(GZIP_MAGIC)
                || inner.starts_with(ZSTD_MAGIC)
                || workbook_kind(&inner).is_some()
            {
                return Err(not_text(
                    file,
                    format!("this {name} file holds another compressed file or a workbook"),
                    "unpack it first, then give the file inside",
                ));
            }
            Unpacked {
                form_suffix: format!(", {name}"),
                head: inner,
                reader,
            }
        }
        None => Unpacked {
            form_suffix: String::new(),
            head,
            reader,
        },
    })
}

/// `reader` decoded to UTF-8 by its byte-order mark (none: UTF-8), with the encoding's name;
/// UTF-32 and what is not text at all are refused.
fn decode(
    head: &[u8],
    reader: Box<dyn Read>,
    file: &str,
) -> Result<(Box<dyn Read>, &'static str), InputError> {
    Ok(match bom(head) {
        Some(Bom::Utf8) => (reader, "UTF-8 text (BOM)"),
        Some(Bom::Utf16Le) => (utf16(reader, encoding_rs::UTF_16LE), "UTF-16LE text (BOM)"),
        Some(Bom::Utf16Be) => (utf16(reader, encoding_rs::UTF_16BE), "UTF-16BE text (BOM)"),
        Some(Bom::Utf32) => {
            return Err(not_text(
                file,
                "this looks like UTF-32 text".into(),
                "save it as UTF-8 (or UTF-16 with a byte-order mark)",
            ));
        }
        None => {
            if let Some((seen, fix)) = not_text_kind(head) {
                return Err(not_text(file, seen, fix));
            }
            (reader, "UTF-8 text")
        }
    })
}

fn not_text(file: &str, seen: String, fix: &'static str) -> InputError {
    InputError::NotText {
        file: file.to_string(),
        seen,
        fix,
    }
}

fn is_tsv(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    name.ends_with(".tsv") || name.ends_with(".tsv.gz")
}

/// Reads up to `n` bytes of `reader` and gives them back with a reader that still yields them.
fn peek(mut reader: Box<dyn Read>, n: usize) -> std::io::Result<(Vec<u8>, Box<dyn Read>)> {
    let mut head = Vec::with_capacity(n.min(SNIFF_BYTES));
    (&mut reader).take(n as u64).read_to_end(&mut head)?;
    let again = Cursor::new(head.clone()).chain(reader);
    Ok((head, Box::new(again)))
}

fn utf16(reader: Box<dyn Read>, encoding: &'static encoding_rs::Encoding) -> Box<dyn Read> {
    Box::new(
        encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .strip_bom(true)
            .build(reader),
    )
}

enum Bom {
    Utf8,
    Utf16Le,
    Utf16Be,
    Utf32,
}

fn bom(head: &[u8]) -> Option<Bom> {
    if head.starts_with(&[0xff, 0xfe, 0, 0]) || head.starts_with(&[0, 0, 0xfe, 0xff]) {
        Some(Bom::Utf32)
    } else if head.starts_with(&[0xef, 0xbb, 0xbf]) {
        Some(Bom::Utf8)
    } else if head.starts_with(&[0xff, 0xfe]) {
        Some(Bom::Utf16Le)
    } else if head.starts_with(&[0xfe, 0xff]) {
        Some(Bom::Utf16Be)
    } else {
        None
    }
}

fn workbook_kind(head: &[u8]) -> Option<WorkbookKind> {
    if head.starts_with(b"PK\x03\x04") {
        Some(WorkbookKind::Zip)
    } else if head.starts_with(&[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]) {
        Some(WorkbookKind::Ole)
    } else {
        None
    }
}

/// UTF-16 without a BOM: ASCII text has a NUL in every other byte.
fn utf16_without_bom(head: &[u8]) -> Option<(String, &'static str)> {
    let pairs = head.len() / 2;
    if pairs >= 2 {
        let even = head.iter().step_by(2).filter(|&&b| b == 0).count();
        let odd = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
        let (zeros, other, order) = if odd >= even {
            (odd, even, "little-endian")
        } else {
            (even, odd, "big-endian")
        };
        if zeros * 2 >= pairs && other * 8 < pairs {
            return Some((
                format!("this looks like UTF-16 ({order}) without a byte-order mark"),
                "save it as UTF-8, or as UTF-16 with a byte-order mark (Excel's \"Unicode text\")",
            ));
        }
    }
    None
}

/// What a BOM-less head that is not text looks like, and the fix.
fn not_text_kind(head: &[u8]) -> Option<(String, &'static str)> {
    const MAGIC: &[(&[u8], &str, &str)] = &[
        (
            b"BZh",
            "this looks like a bzip2 file",
            "unpack it first (bunzip2), or compress with gzip or zstd, which are read directly",
        ),
        (
            &[0xfd, b'7', b'z', b'X', b'Z', 0],
            "this looks like an xz file",
            "unpack it first (unxz), or compress with gzip or zstd, which are read directly",
        ),
        (
            b"7z\xbc\xaf\x27\x1c",
            "this looks like a 7-Zip archive",
            "unpack it first and give the files inside",
        ),
        (
            b"%PDF",
            "this looks like a PDF document",
            "export the ids as CSV or a workbook instead",
        ),
        (
            b"SQLite format 3\0",
            "this looks like an SQLite database",
            "export the ids as CSV (sqlite3 -csv), or is this the --db path?",
        ),
        (
            b"\x89PNG",
            "this looks like a PNG image",
            "give a list of liveness ids",
        ),
        (
            &[0xff, 0xd8, 0xff],
            "this looks like a JPEG image",
            "give a list of liveness ids",
        ),
    ];
    for (magic, seen, fix) in MAGIC {
        if head.starts_with(magic) {
            return Some((seen.to_string(), fix));
        }
    }
    if let Some(found) = utf16_without_bom(head) {
        return Some(found);
    }
    let controls: Vec<(usize, u8)> = head
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, b)| b == 0 || (b < 0x20 && !b"\t\n\r".contains(&b)) || b == 0x7f)
        .collect();
    let has_nul = controls.iter().any(|&(_, b)| b == 0);
    if has_nul || controls.len() > 8.max(head.len() / 20) {
        let (at, byte) = controls[0];
        return Some((
            format!(
                "this looks like binary data, not text ({} control bytes in the first {} bytes, \
                 the first \\x{byte:02x} at byte {})",
                controls.len(),
                head.len(),
                at + 1
            ),
            "give a list of liveness ids as text (CSV, TSV), gzip or a workbook",
        ));
    }
    None
}

/// The delimiter that splits the header and keeps the same field count over the next rows.
/// The header may be any of the first few lines (the earliest on a tie): a title above the
/// table (one cell, or a comma in a title over a `;` table) does not hide the table's
/// delimiter.
pub fn detect_delimiter(text: &[u8]) -> Delimiter {
    let lines = sample_lines(text);
    let mut best: Option<(usize, usize, u8)> = None;
    for (at, header) in lines.iter().enumerate().take(DELIMITER_ROWS / 2) {
        for &d in DELIMITERS {
            let fields = count_fields(header, d);
            if fields < 2 {
                continue;
            }
            // A line below the first is a header only if it names an id column and a row
            // below it agrees: a title above the table, not rows that hold a delimiter.
            if at > 0 && !names_an_id(header, d) {
                continue;
            }
            let agreeing = lines[at + 1..]
                .iter()
                .filter(|l| count_fields(l, d) == fields)
                .count();
            if at > 0 && agreeing == 0 {
                continue;
            }
            // More agreeing rows wins; then more columns; then the order of DELIMITERS.
            if best.is_none_or(|(a, f, _)| (agreeing, fields) > (a, f)) {
                best = Some((agreeing, fields, d));
            }
        }
    }
    match best {
        Some((_, _, byte)) => Delimiter {
            byte,
            how: "detected",
        },
        None => Delimiter {
            byte: b',',
            how: "none found: one column",
        },
    }
}

/// The first non-blank lines of `text` (quote-aware: a quoted line break does not end a line);
/// an incomplete last line is dropped unless it is the only one.
fn sample_lines(text: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => {
                let line = &text[start..i];
                if !line.iter().all(u8::is_ascii_whitespace) {
                    lines.push(line);
                    if lines.len() > DELIMITER_ROWS {
                        return lines;
                    }
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    let rest = &text[start..];
    if lines.is_empty() && !rest.iter().all(u8::is_ascii_whitespace) {
        lines.push(rest);
    }
    lines
}

/// Whether a field of `line`, split by `d`, is a known id column name.
fn names_an_id(line: &[u8], d: u8) -> bool {
    line.split(|&b| b == d).any(|field| {
        let text = String::from_utf8_lossy(field);
        super::is_id_name(text.trim().trim_matches('"'))
    })
}

/// Fields of `line` split by `d` outside quotes.
fn count_fields(line: &[u8], d: u8) -> usize {
    let mut quoted = false;
    let mut n = 1;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_found_from_the_header_and_rows() {
        let d = |t: &str| detect_delimiter(t.as_bytes()).byte;
        assert_eq!(
            d("liveness_id;created_at\na;2026-10-13T11:25:06+08:00\n"),
            b';'
        );
        assert_eq!(d("liveness_id\tcreated_at\na\t2026-10-13 11:25\n"), b'\t');
        assert_eq!(d("liveness_id|created_at\na|1\nb|2\n"), b'|');
        assert_eq!(d("liveness_id,created_at\na,1\n"), b',');
        // Commas inside a quoted note do not outvote the real delimiter.
        assert_eq!(d("id;note\na;\"x, y, z\"\nb;\"p, q, r\"\n"), b';');
        // Decimal commas in a semicolon file: the header decides, the rows agree.
        assert_eq!(d("id;score\na;0,5\nb;0,75\n"), b';');
        let one = detect_delimiter(b"liveness_id\nabc\n");
        assert_eq!((one.byte, one.how), (b',', "none found: one column"));
        // A title above the table: the table's header decides.
        assert_eq!(d("CRM export\n2026-11-01\nid;created_at\na;1\nb;2\n"), b';');
        assert_eq!(d("Checks, November\nid;created_at\na;1\nb;2\n"), b';');
    }

    #[test]
    fn what_is_not_text_is_named() {
        let seen = |h: &[u8]| not_text_kind(h).map(|(s, _)| s).unwrap_or_default();
        let utf16: Vec<u8> = "liveness_id\r\nabc\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert!(seen(&utf16).contains("UTF-16 (little-endian) without a byte-order mark"));
        let be: Vec<u8> = "liveness_id\nabc\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        assert!(seen(&be).contains("big-endian"));
        let all: Vec<u8> = (0..=255).collect();
        assert!(seen(&all).contains("binary data"), "{}", seen(&all));
        assert!(seen(b"%PDF-1.4\n").contains("PDF"));
        assert!(seen(b"BZh91AY&SY").contains("bzip2"));
        assert_eq!(not_text_kind(b"liveness_id\nabc\x1b[2J\n"), None);
        assert_eq!(not_text_kind("id\ncafé\n".as_bytes()), None);
    }
}
