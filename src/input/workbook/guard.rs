//! What a ZIP workbook (.xlsx, .xlsb, .ods) would cost, measured before calamine opens it.
//!
//! Policy: every part calamine reads is unpacked once here, streaming, and counted by what it
//! really unpacks to (a ZIP's declared sizes can lie); a part past its size limit stops the
//! count at once. XML parts are scanned token by token: no text, tag, comment or CDATA section
//! may pass `--max-cell-bytes` (so no XML reader ever buffers a 1.5 GiB cell), and a DOCTYPE
//! (entity expansion) is refused. The shared-string table is counted (entries and its
//! `uniqueCount`, which calamine would reserve). An .ods content.xml is counted the way calamine
//! expands it: repeated rows and columns (`number-rows-repeated`, `number-columns-repeated`)
//! multiplied out over the area from the first to the last non-empty row, every sheet, since
//! calamine reads them all whole. An .xlsb part is read as records, none longer than
//! `--max-cell-bytes`. Kinds are told by their parts, never by the file name, and a
//! password-protected .ods (an encrypted manifest entry) is named as such.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::input::limits::{Limits, OverLimit};
use crate::setting::Setting;
use ods::OdsCells;

/// Rows and columns calamine gives an .ods sheet at most.
const ODS_MAX_ROWS: u64 = 1_048_576;
const ODS_MAX_COLUMNS: u64 = 16_384;

/// A ZIP workbook's format, by its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ZipKind {
    Xlsx,
    Xlsb,
    Ods,
}

/// Why a ZIP file is not read.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Over a limit, in the named part.
    Over { part: String, limit: OverLimit },
    /// Not a workbook liveaudit can read, or protected: what it is and what to do.
    Not(String),
}

/// Checks a ZIP file against `limits` and tells which workbook it is.
pub(super) fn check_zip(path: &Path, limits: &Limits) -> Result<ZipKind, Refusal> {
    let not = |m: String| Refusal::Not(m);
    let file = std::fs::File::open(path).map_err(|e| not(format!("cannot open it: {e}")))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
        not(format!(
            "this file starts like a ZIP archive but is not a workbook liveaudit can read \
             ({e}); save the workbook again, or save the sheet as CSV"
        ))
    })?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .map(Into::into)
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    let kind = if has("xl/workbook.xml") {
        ZipKind::Xlsx
    } else if has("xl/workbook.bin") {
        ZipKind::Xlsb
    } else if has("content.xml") || has("mimetype") {
        ZipKind::Ods
    } else {
        return Err(not(
            "this ZIP file is not a workbook (no xl/workbook.xml of an .xlsx, xl/workbook.bin of \
             an .xlsb, or content.xml of an .ods); unpack it and give the files inside"
                .into(),
        ));
    };
    if kind == ZipKind::Ods && ods_is_encrypted(&mut zip) {
        return Err(not(
            "this .ods is password-protected (encrypted); open it in LibreOffice, remove the \
             password (File > Properties, or Save As without \"Save with password\") and save \
             it again, or save the sheet as CSV"
                .into(),
        ));
    }
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                return Err(not(format!(
                    "part {i} of this ZIP file cannot be read ({e}); if the workbook has a \
                     password, save it without one, or save the sheet as CSV"
                )));
            }
        };
        let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let Some(part) = Part::of(&name, kind) else {
            continue;
        };
        let cap = part.cap(limits);
        let over_size = |seen: u64| Refusal::Over {
            part: name.clone(),
            limit: OverLimit::new(
                "the part unpacks to more than liveaudit reads",
                seen,
                cap,
                "bytes",
                Setting::MaxUnpackedMib,
            ),
        };
        if entry.size() > cap {
            return Err(over_size(entry.size()));
        }
        let mut counted = Counted {
            inner: (&mut entry).take(cap + 1),
            n: 0,
        };
        let scanned = match part {
            Part::Xlsb { .. } => scan_xlsb_part(&mut counted, &name, part, limits),
            _ => scan_xml_part(&mut counted, &name, part, limits),
        };
        if counted.n > cap {
            return Err(over_size(counted.n));
        }
        scanned?;
    }
    Ok(kind)
}

/// Whether an .ods manifest marks an entry encrypted (a password-protected document).
fn ods_is_encrypted<R: Read + std::io::Seek>(zip: &mut zip::ZipArchive<R>) -> bool {
    let Ok(manifest) = zip.by_name("META-INF/manifest.xml") else {
        return false;
    };
    let mut text = Vec::new();
    if manifest.take(1 << 20).read_to_end(&mut text).is_err() {
        return false;
    }
    text.windows(b"encryption-data".len())
        .any(|w| w == b"encryption-data")
}

/// A part calamine reads, and how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// An .xlsx sheet (streamed): tokens only.
    Sheet,
    /// The .xlsx shared strings: entries counted.
    SharedStrings,
    /// The .ods content.xml: cells counted as calamine expands them.
    OdsContent,
    /// Any other XML part: tokens only, a smaller size.
    OtherXml,
    /// An .xlsb binary part: records; the shared strings counted.
    Xlsb { shared_strings: bool, large: bool },
}

impl Part {
    fn of(name: &str, kind: ZipKind) -> Option<Part> {
        let lower = name.to_ascii_lowercase();
        match kind {
            ZipKind::Xlsb if lower.ends_with(".bin") && lower.starts_with("xl/") => {
                Some(Part::Xlsb {
                    shared_strings: lower == "xl/sharedstrings.bin",
                    large: lower.starts_with("xl/worksheets/") || lower == "xl/sharedstrings.bin",
                })
            }
            ZipKind::Ods if lower == "content.xml" => Some(Part::OdsContent),
            ZipKind::Xlsx if lower.starts_with("xl/worksheets/") && lower.ends_with(".xml") => {
                Some(Part::Sheet)
            }
            ZipKind::Xlsx if lower == "xl/sharedstrings.xml" => Some(Part::SharedStrings),
            _ if lower.ends_with(".xml") || lower.ends_with(".rels") => Some(Part::OtherXml),
            _ => None,
        }
    }

    fn cap(self, limits: &Limits) -> u64 {
        match self {
            Part::Sheet | Part::OdsContent | Part::Xlsb { large: true, .. } => limits.part_bytes(),
            Part::SharedStrings => limits.shared_string_bytes().min(limits.part_bytes()),
            Part::OtherXml | Part::Xlsb { large: false, .. } => limits.small_part_bytes(),
        }
    }
}

/// A reader that counts what passed through it.
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

fn unreadable(name: &str, e: &std::io::Error) -> Refusal {
    Refusal::Not(format!(
        "part {name} of this workbook cannot be unpacked ({e}); save the workbook again, or save \
         the sheet as CSV"
    ))
}

fn cell_too_long(name: &str, seen: u64, limits: &Limits) -> Refusal {
    Refusal::Over {
        part: name.to_string(),
        limit: OverLimit::new(
            "a cell, string or tag is longer than liveaudit reads",
            seen,
            limits.max_cell_bytes,
            "bytes",
            Setting::MaxCellBytes,
        ),
    }
}

fn too_many_strings(name: &str, seen: u64, limits: &Limits) -> Refusal {
    Refusal::Over {
        part: name.to_string(),
        limit: OverLimit::new(
            "the shared-string table holds more entries than liveaudit keeps",
            seen,
            limits.max_shared_strings,
            "strings",
            Setting::MaxSharedStrings,
        ),
    }
}

/// One token of an XML stream: an element tag (between `<` and `>`), or a run of text.
enum Token<'a> {
    Tag(&'a [u8]),
    Text(u64),
}

/// Where an XML scan stands between two bytes.
#[derive(Clone, Copy)]
enum State {
    Text,
    Lt,
    Tag,
    Bang,
    /// A comment, CDATA section or processing instruction, ended by `>` after these.
    Special([u8; 2]),
}

/// An XML scan in progress: its state, the length of the text or special section being read,
/// the tag being read, and the last two bytes of a special section.
struct XmlScan {
    state: State,
    run: u64,
    tag: Vec<u8>,
    last: [u8; 2],
}

/// Streams XML, refusing any token longer than `max` bytes and any DOCTYPE, and hands each
/// tag and text run to `on`.
fn scan_xml<R: Read>(
    reader: R,
    name: &str,
    limits: &Limits,
    mut on: impl FnMut(Token<'_>) -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    let max = limits.max_cell_bytes;
    let mut reader = BufReader::with_capacity(64 << 10, reader);
    let mut scan = XmlScan {
        state: State::Text,
        run: 0,
        tag: Vec::new(),
        last: [0u8; 2],
    };
    loop {
        let chunk = reader.fill_buf().map_err(|e| unreadable(name, &e))?;
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        let mut i = 0;
        while i < n {
            i = scan.step(chunk, i, name, limits, &mut on)?;
            let seen = scan.run.max(scan.tag.len() as u64);
            if seen > max {
                return Err(cell_too_long(name, seen, limits));
            }
        }
        reader.consume(n);
    }
    Ok(())
}

impl XmlScan {
    /// Reads `chunk` from `i` as far as the current state goes; returns where it stopped.
    fn step(
        &mut self,
        chunk: &[u8],
        mut i: usize,
        name: &str,
        limits: &Limits,
        on: &mut impl FnMut(Token<'_>) -> Result<(), Refusal>,
    ) -> Result<usize, Refusal> {
        let (max, n) = (limits.max_cell_bytes, chunk.len());
        match self.state {
            State::Text => match chunk[i..].iter().position(|&b| b == b'<') {
                Some(p) => {
                    self.run += p as u64;
                    if self.run > max {
                        return Err(cell_too_long(name, self.run, limits));
                    }
                    if self.run > 0 {
                        on(Token::Text(self.run))?;
                    }
                    self.run = 0;
                    self.state = State::Lt;
                    i += p + 1;
                }
                None => {
                    self.run += (n - i) as u64;
                    i = n;
                }
            },
            State::Lt => {
                self.tag.clear();
                self.state = match chunk[i] {
                    b'!' => State::Bang,
                    b'?' => State::Special([b'?', b'?']),
                    _ => State::Tag,
                };
                if !matches!(self.state, State::Tag) {
                    i += 1;
                }
            }
            State::Tag => match chunk[i..].iter().position(|&b| b == b'>') {
                Some(p) => {
                    self.tag.extend_from_slice(&chunk[i..i + p]);
                    if self.tag.len() as u64 > max {
                        return Err(cell_too_long(name, self.tag.len() as u64, limits));
                    }
                    on(Token::Tag(&self.tag))?;
                    self.state = State::Text;
                    i += p + 1;
                }
                None => {
                    self.tag.extend_from_slice(&chunk[i..]);
                    i = n;
                }
            },
            State::Bang => {
                self.bang(chunk[i], name)?;
                i += 1;
            }
            State::Special(end) => {
                self.special(chunk[i], end);
                i += 1;
            }
        }
        Ok(i)
    }

    /// One byte after `<!`: a comment or CDATA section starts, or a DOCTYPE is refused.
    fn bang(&mut self, b: u8, name: &str) -> Result<(), Refusal> {
        self.tag.push(b);
        if self.tag.starts_with(b"--") {
            self.state = State::Special([b'-', b'-']);
        } else if self.tag.as_slice() == b"[CDATA[" {
            self.state = State::Special([b']', b']']);
        } else if !b"[CDATA[".starts_with(&self.tag) && !b"--".starts_with(&self.tag) {
            return Err(Refusal::Not(format!(
                "part {name} holds a DOCTYPE or declaration no workbook writes; save \
                 the workbook again from a spreadsheet, or save the sheet as CSV"
            )));
        }
        Ok(())
    }

    /// One byte of a comment, CDATA section or processing instruction ended by `end` + `>`.
    fn special(&mut self, b: u8, end: [u8; 2]) {
        self.run += 1;
        let ended = b == b'>'
            && if end[0] == b'?' {
                self.last[1] == b'?'
            } else {
                self.last == end
            };
        self.last = [self.last[1], b];
        if ended {
            self.state = State::Text;
            self.run = 0;
            self.last = [0, 0];
        }
    }
}

/// A tag's element name (without a namespace prefix when `local`), whether it closes an
/// element (`</x>`) and whether it is empty (`<x/>`).
fn tag_name(tag: &[u8]) -> (&[u8], bool, bool) {
    let closing = tag.first() == Some(&b'/');
    let body = if closing { &tag[1..] } else { tag };
    let end = body
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/')
        .unwrap_or(body.len());
    (&body[..end], closing, tag.last() == Some(&b'/'))
}

fn local(name: &[u8]) -> &[u8] {
    name.iter()
        .rposition(|&b| b == b':')
        .map_or(name, |p| &name[p + 1..])
}

/// The value of attribute `name` in a tag (quotes removed).
fn attr<'t>(tag: &'t [u8], name: &[u8]) -> Option<&'t [u8]> {
    let mut from = 0;
    while let Some(p) = tag[from..].windows(name.len()).position(|w| w == name) {
        let at = from + p;
        from = at + 1;
        if at == 0 || !tag[at - 1].is_ascii_whitespace() {
            continue;
        }
        let rest = tag[at + name.len()..].trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b"=") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        let quote = *rest.first()?;
        if quote != b'"' && quote != b'\'' {
            continue;
        }
        let value = &rest[1..];
        return value.iter().position(|&b| b == quote).map(|e| &value[..e]);
    }
    None
}

/// A number attribute; a value that is not one counts as `u64::MAX` (refused by any limit,
/// and calamine would refuse it too).
fn number_attr(tag: &[u8], name: &[u8]) -> Option<u64> {
    attr(tag, name).map(|v| {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(u64::MAX)
    })
}

fn scan_xml_part<R: Read>(
    reader: R,
    name: &str,
    part: Part,
    limits: &Limits,
) -> Result<(), Refusal> {
    match part {
        Part::SharedStrings => {
            let mut count: u64 = 0;
            scan_xml(reader, name, limits, |token| {
                let Token::Tag(tag) = token else {
                    return Ok(());
                };
                let (element, closing, _) = tag_name(tag);
                if closing {
                    return Ok(());
                }
                match local(element) {
                    b"si" => count += 1,
                    b"sst" => {
                        let declared = number_attr(tag, b"uniqueCount").unwrap_or(0);
                        if declared > limits.max_shared_strings {
                            return Err(too_many_strings(name, declared, limits));
                        }
                    }
                    _ => return Ok(()),
                }
                if count > limits.max_shared_strings {
                    return Err(too_many_strings(name, count, limits));
                }
                Ok(())
            })
        }
        Part::OdsContent => {
            let mut cells = OdsCells::new(name, limits);
            scan_xml(reader, name, limits, |token| cells.token(token))?;
            cells.end_table()
        }
        _ => scan_xml(reader, name, limits, |_| Ok(())),
    }
}

/// An .xlsb part as records: `type` (1-2 bytes), `length` (1-4 bytes), data. No record may be
/// longer than `--max-cell-bytes`; the shared strings (`BrtSSTItem`, type 19) are counted.
fn scan_xlsb_part<R: Read>(
    reader: R,
    name: &str,
    part: Part,
    limits: &Limits,
) -> Result<(), Refusal> {
    const BRT_SST_ITEM: u32 = 19;
    let counts_strings = matches!(
        part,
        Part::Xlsb {
            shared_strings: true,
            ..
        }
    );
    let mut reader = BufReader::new(reader);
    let mut strings: u64 = 0;
    let byte = |r: &mut BufReader<R>| -> Result<Option<u8>, Refusal> {
        let mut b = [0u8; 1];
        match r.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(b[0])),
            Err(e) => Err(unreadable(name, &e)),
        }
    };
    loop {
        let Some(first) = byte(&mut reader)? else {
            return Ok(());
        };
        let mut typ = u32::from(first & 0x7f);
        if first & 0x80 != 0 {
            let second = byte(&mut reader)?.unwrap_or(0);
            typ |= u32::from(second & 0x7f) << 7;
        }
        let mut len: u64 = 0;
        for i in 0..4 {
            let Some(b) = byte(&mut reader)? else {
                return Ok(());
            };
            len |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                break;
            }
        }
        if len > limits.max_cell_bytes {
            return Err(cell_too_long(name, len, limits));
        }
        if counts_strings && typ == BRT_SST_ITEM {
            strings += 1;
            if strings > limits.max_shared_strings {
                return Err(too_many_strings(name, strings, limits));
            }
        }
        let skipped = std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink())
            .map_err(|e| unreadable(name, &e))?;
        if skipped < len {
            return Ok(());
        }
    }
}

mod ods;
#[cfg(test)]
mod tests;
