//! Physical line numbers of text records, counted from the bytes read.
//!
//! Policy: csv's own record positions lag behind CRLF and blank lines, so [`LineNumbers`] counts
//! line breaks as [`Counting`] reads them. Memory holds only the breaks since the last numbered
//! record (a run of blank lines is one entry), never an index per line, and a record that grows
//! past [`MAX_RECORD_BYTES`] without a line end stops the read (binary data, or a quote opened
//! and never closed).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufReader, Read};
use std::rc::Rc;

use crate::input::MAX_RECORD_BYTES;

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
pub(super) struct LineIndex {
    /// Line ends before the runs still kept.
    newlines_before: u64,
    pub(super) runs: VecDeque<BreakRun>,
    /// Non-break bytes read since the last numbered record.
    text_since_record: usize,
    /// The line of the last numbered record.
    last_line: u64,
}

/// Consecutive line-break bytes `[start, end)` and the line ends they make (`\r\n` is one).
pub(super) struct BreakRun {
    start: u64,
    end: u64,
    ends: u64,
    last_cr: bool,
}

impl LineIndex {
    pub(super) fn push_break(&mut self, offset: u64, b: u8) {
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
    pub(super) fn line_at(&mut self, start: u64) -> u64 {
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
