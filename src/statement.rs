//! Reading the vendor's statement: itemised (one line per billed check) or summary (one line per
//! day or month with a count), whatever its column names.
//!
//! Policy: the vendor publishes no statement format, so columns are found by header (flags name
//! them when the guess is wrong) and the shape follows from the columns: a liveness id or a
//! sequence id column makes it itemised; a count column with a date or period makes it a summary.
//! A malformed line (no id, a time or amount that cannot be read) is reported with its line
//! number, and with its amount when that much of it can be read (the bridge holds it, so the
//! money ties to the file's total); it never stops the rest from being checked. Lines are streamed to the
//! caller, so a million-line statement never sits in memory.

use std::path::Path;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use rust_decimal::Decimal;

use crate::setting::Setting;
use crate::timestamp::parse_instant_ms;

mod amount;
mod columns;
pub(crate) use amount::{parse_amount, read_amount};
pub(crate) use columns::StatementColumns;
use columns::*;

/// One billed check of an itemised statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub line: u64,
    pub liveness_id: Option<String>,
    pub sequence_id: Option<String>,
    pub time_ms: Option<i64>,
    pub code: Option<i64>,
    pub amount: Option<Decimal>,
    /// The account the line bills, when the statement has a partner code column.
    pub partner_code: Option<String>,
    /// The currency its amount names (a currency column, or a code beside the amount).
    pub currency: Option<String>,
}

/// A billing period of a summary statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PeriodKey {
    Day(Date),
    Month(i16, i8),
}

impl std::fmt::Display for PeriodKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeriodKey::Day(d) => write!(f, "{d}"),
            PeriodKey::Month(y, m) => write!(f, "{y:04}-{m:02}"),
        }
    }
}

/// One line of a summary statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SummaryLine {
    pub line: u64,
    pub period: PeriodKey,
    pub count: i64,
    pub amount: Option<Decimal>,
    /// The account the line bills, when the statement has a partner code column.
    pub partner_code: Option<String>,
    pub currency: Option<String>,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Malformed {
    pub line: u64,
    pub problem: String,
    /// What the line bills, when its amount cell can be read (in our currency); `None` when
    /// it is blank, unreadable or in another currency.
    #[serde(serialize_with = "crate::money::optional")]
    pub amount: Option<Decimal>,
}

/// The statement's shape, with the columns it used.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shape {
    Itemised { columns: String },
    Summary { columns: String },
}

/// Errors that make the statement unusable as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StatementError {
    #[error("cannot read the statement {file}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{file}:1: cannot tell the statement's shape from its header ({headers}); an itemised \
         statement needs a liveness id or sequence id column (--statement-id-column, \
         --statement-sequence-column), a summary one a count column with a date or period \
         ({statement_count_column_flag}, {statement_period_column_flag})",
        statement_count_column_flag = Setting::StatementCountColumn,
        statement_period_column_flag = Setting::StatementPeriodColumn
    )]
    Shape { file: String, headers: String },
    #[error("{file}: cannot read this workbook: {message}; save the statement as CSV")]
    Workbook { file: String, message: String },
    #[error(
        "{file}:{line}: the statement bills in {found}, our prices are in {expected}; give the \
         price list (or {currency_flag} with {price_flag}) of the statement's currency",
        currency_flag = Setting::Currency,
        price_flag = Setting::Price
    )]
    Currency {
        file: String,
        line: u64,
        found: String,
        expected: String,
    },
    #[error(transparent)]
    Input(crate::input::InputError),
    #[error("{file}:1: no column {name:?} in the header ({headers})")]
    Column {
        file: String,
        name: String,
        headers: String,
    },
    #[error("{file}:{line}: {message}; check the quoting near this line")]
    Csv {
        file: String,
        line: u64,
        message: String,
    },
}

/// Parses a period: `2026-10` (a month) or any date or date-time (its day in `zone`).
pub(crate) fn parse_period(text: &str, zone: &TimeZone) -> Option<PeriodKey> {
    let t = text.trim();
    let month_part = t.replace('/', "-");
    if month_part.len() == 7
        && let Some((y, m)) = month_part.split_once('-')
        && let (Ok(y), Ok(m)) = (y.parse::<i16>(), m.parse::<i8>())
        && (1..=12).contains(&m)
    {
        return Some(PeriodKey::Month(y, m));
    }
    if let Ok(d) = month_part.parse::<Date>() {
        return Some(PeriodKey::Day(d));
    }
    let ms = parse_instant_ms(t, zone)?;
    let ts = jiff::Timestamp::from_millisecond(ms).ok()?;
    Some(PeriodKey::Day(ts.to_zoned_datetime(zone.clone()).date()))
}

/// Reads a statement, sending each line to `item` or `summary` by its shape, and returns the
/// shape and the malformed lines.
pub(crate) fn read(
    path: &Path,
    columns: &StatementColumns,
    zone: &TimeZone,
    mut item: impl FnMut(Item) -> Result<(), rusqlite::Error>,
    mut summary: impl FnMut(SummaryLine),
) -> Result<Result<(Shape, Vec<Malformed>), rusqlite::Error>, StatementError> {
    let file = path.display().to_string();
    let Some((reader, delimiter)) = open_text(path, &file, zone)? else {
        // An empty file is a statement that bills nothing.
        let shape = Shape::Itemised {
            columns: "empty statement".into(),
        };
        return Ok(Ok((shape, Vec::new())));
    };
    let (mut rdr, lines) = crate::input::numbered_csv_with(reader, true, delimiter);
    let headers = header_names(&mut rdr).map_err(|e| StatementError::Csv {
        file: file.clone(),
        line: 1,
        message: e.to_string(),
    })?;
    let (layout, shape) = Layout::find(columns, &headers, &file)?;

    let mut malformed = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                malformed.push(Malformed {
                    line: e.position().map_or(0, |p| p.line()),
                    problem: format!("unreadable CSV: {e}"),
                    amount: None,
                });
                // The csv reader cannot resync after a broken quote: the rest is one field.
                break;
            }
        }
        let line = lines.of(&record);
        if passed_over(&record, columns, &layout) {
            continue;
        }
        let read = layout.line(&record, line, zone);
        same_currency(&read, columns, &file, line)?;
        match read {
            Ok(Line::Item(one)) => {
                if let Err(e) = item(one) {
                    return Ok(Err(e));
                }
            }
            Ok(Line::Summary(one)) => summary(one),
            Err(problem) => malformed.push(Malformed {
                line,
                problem,
                amount: layout.readable_amount(&record, columns),
            }),
        }
    }
    Ok(Ok((shape, malformed)))
}

/// A line that is not read: blank, or another partner code's when the statement is narrowed
/// to one.
fn passed_over(record: &csv::ByteRecord, columns: &StatementColumns, layout: &Layout) -> bool {
    if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
        return true;
    }
    matches!(
        (&columns.only_partner, field(record, layout.partner)),
        (Some(wanted), Some(code)) if *wanted != code
    )
}

/// A line billed in another currency than our prices' refuses the whole statement there.
fn same_currency(
    read: &Result<Line, String>,
    columns: &StatementColumns,
    file: &str,
    line: u64,
) -> Result<(), StatementError> {
    if let (
        Ok(Line::Item(Item {
            currency: Some(found),
            ..
        }))
        | Ok(Line::Summary(SummaryLine {
            currency: Some(found),
            ..
        })),
        Some(expected),
    ) = (read, &columns.expect_currency)
        && found != expected
    {
        return Err(StatementError::Currency {
            file: file.to_string(),
            line,
            found: found.clone(),
            expected: expected.clone(),
        });
    }
    Ok(())
}

/// The partner codes a statement's partner code column names, with their line counts, in order;
/// empty when it has no such column (or no lines). Read before matching, so a statement of several accounts can be
/// refused, or one of a single account can choose it, before anything is counted.
pub(crate) fn partner_codes(
    path: &Path,
    columns: &StatementColumns,
) -> Result<std::collections::BTreeMap<String, u64>, StatementError> {
    let file = path.display().to_string();
    let mut codes = std::collections::BTreeMap::new();
    let Some((reader, delimiter)) = open_text(path, &file, &TimeZone::UTC)? else {
        return Ok(codes);
    };
    let (mut rdr, _) = crate::input::numbered_csv_with(reader, true, delimiter);
    // An unreadable header is named, with its line, by the full read.
    let Ok(headers) = header_names(&mut rdr) else {
        return Ok(codes);
    };
    let (layout, _) = Layout::find(columns, &headers, &file)?;
    if layout.partner.is_none() {
        return Ok(codes);
    }
    let mut record = csv::ByteRecord::new();
    while let Ok(true) = rdr.read_byte_record(&mut record) {
        if let Some(code) = field(&record, layout.partner) {
            *codes.entry(code).or_insert(0) += 1;
        }
    }
    Ok(codes)
}

/// The header's cells as text (invalid UTF-8 replaced).
fn header_names<R: std::io::Read>(rdr: &mut csv::Reader<R>) -> Result<Vec<String>, csv::Error> {
    Ok(rdr
        .byte_headers()?
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect())
}

/// A statement's decoded text and its delimiter byte.
type Text = (Box<dyn std::io::Read>, u8);

/// Opens a statement like an id list (gzip/zstd, UTF-8 or UTF-16 with a BOM, the delimiter
/// detected; a workbook's first sheet as CSV, its date cells civil times in `zone`): its text
/// and delimiter, or `None` for an empty file.
fn open_text(path: &Path, file: &str, zone: &TimeZone) -> Result<Option<Text>, StatementError> {
    use crate::input::detect::{Opened, open};
    use crate::input::{InputError, InputOptions, Source};
    let source = Source::File(path.to_path_buf());
    match open(&source, file, &InputOptions::default()) {
        Ok(Opened::Text {
            reader, delimiter, ..
        }) => Ok(Some((reader, delimiter.byte))),
        Ok(Opened::Workbook { path, kind }) => {
            crate::input::workbook::sheet_as_csv(&path, kind, zone)
                .map(|csv| {
                    Some((
                        Box::new(std::io::Cursor::new(csv)) as Box<dyn std::io::Read>,
                        b',',
                    ))
                })
                .map_err(|message| StatementError::Workbook {
                    file: file.into(),
                    message,
                })
        }
        Err(InputError::Empty { .. }) => Ok(None),
        Err(InputError::Io { error, .. }) => Err(StatementError::Io {
            file: file.into(),
            source: error,
        }),
        Err(e) => Err(StatementError::Input(e)),
    }
}

/// Where each known column stands in a statement's header, and so the statement's shape: a
/// liveness id or sequence id column makes it itemised; otherwise a count with a period (or a
/// time) makes it a summary.
struct Layout {
    id: Option<usize>,
    seq: Option<usize>,
    time: Option<usize>,
    code: Option<usize>,
    amount: Option<usize>,
    count: Option<usize>,
    period: Option<usize>,
    partner: Option<usize>,
    currency: Option<usize>,
    itemised: bool,
}

/// One readable line of a statement.
enum Line {
    Item(Item),
    Summary(SummaryLine),
}

impl Layout {
    /// Finds the columns (by flag, else by the usual names) and the shape they make.
    fn find(
        columns: &StatementColumns,
        headers: &[String],
        file: &str,
    ) -> Result<(Layout, Shape), StatementError> {
        let finder = Finder {
            normalised: headers.iter().map(|h| norm(h)).collect(),
            headers,
            file,
        };
        let id = finder.find(&columns.id, ID_NAMES)?;
        let seq = finder.find(&columns.sequence, SEQ_NAMES)?;
        let layout = Layout {
            id,
            seq,
            code: finder.find(&columns.code, CODE_NAMES)?,
            amount: finder.find(&columns.amount, AMOUNT_NAMES)?,
            count: finder.find(&columns.count, COUNT_NAMES)?,
            itemised: id.is_some() || seq.is_some(),
            time: finder.find(&columns.time, TIME_NAMES)?,
            period: finder.find(&columns.period, PERIOD_NAMES)?,
            partner: finder.find(&columns.partner, PARTNER_NAMES)?,
            currency: finder.find(&columns.currency, CURRENCY_NAMES)?,
        };
        let describe = |pairs: &[(&str, Option<usize>)]| {
            pairs
                .iter()
                .filter_map(|(what, i)| i.map(|i| format!("{what} {:?}", headers[i])))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let shape = if layout.itemised {
            Shape::Itemised {
                columns: describe(&[
                    ("liveness id", layout.id),
                    ("sequence id", layout.seq),
                    ("time", layout.time),
                    ("code", layout.code),
                    ("amount", layout.amount),
                    ("partner code", layout.partner),
                ]),
            }
        } else if let (Some(_), Some(_)) = (layout.count, layout.summary_period()) {
            Shape::Summary {
                columns: describe(&[
                    ("period", layout.summary_period()),
                    ("count", layout.count),
                    ("amount", layout.amount),
                    ("partner code", layout.partner),
                ]),
            }
        } else {
            return Err(StatementError::Shape {
                file: file.into(),
                headers: shown_headers(headers),
            });
        };
        Ok((layout, shape))
    }

    /// A summary's period column: the period, else the time.
    fn summary_period(&self) -> Option<usize> {
        self.period.or(self.time)
    }

    /// The amount of a line that could not be read, when its amount cell can be: one number,
    /// in our currency (no currency column or code saying another).
    fn readable_amount(
        &self,
        record: &csv::ByteRecord,
        columns: &StatementColumns,
    ) -> Option<Decimal> {
        let read = read_amount(&field(record, self.amount)?).ok()?;
        let column = field(record, self.currency).map(|c| c.to_ascii_uppercase());
        let mut named = column.iter().chain(read.currency.iter());
        let first = named.next();
        // Two currencies that disagree, or one that is not ours, leave the amount unread.
        let agree = named.all(|c| Some(c) == first);
        let ours = match (&columns.expect_currency, first) {
            (Some(expected), Some(found)) => expected == found,
            _ => true,
        };
        (agree && ours).then_some(read.value)
    }

    /// Reads one non-blank line, or says what is wrong with it.
    fn line(&self, record: &csv::ByteRecord, line: u64, zone: &TimeZone) -> Result<Line, String> {
        let read = field(record, self.amount)
            .map(|text| read_amount(&text))
            .transpose()?;
        let column = field(record, self.currency).map(|c| c.to_ascii_uppercase());
        let currency = match (column, read.as_ref().and_then(|a| a.currency.clone())) {
            (Some(c), Some(a)) if c != a => {
                return Err(format!("currency {c} but the amount says {a}"));
            }
            (c, a) => c.or(a),
        };
        let amount = read.map(|a| a.value);
        Ok(if self.itemised {
            let mut item = self.item(record, line, zone, amount)?;
            item.currency = currency;
            Line::Item(item)
        } else {
            let mut one = self.summary(record, line, zone, amount)?;
            one.currency = currency;
            Line::Summary(one)
        })
    }

    fn item(
        &self,
        record: &csv::ByteRecord,
        line: u64,
        zone: &TimeZone,
        amount: Option<Decimal>,
    ) -> Result<Item, String> {
        let (liveness_id, sequence_id) = (field(record, self.id), field(record, self.seq));
        if liveness_id.is_none() && sequence_id.is_none() {
            return Err("no liveness id or sequence id".into());
        }
        // An id a spreadsheet damaged (`2.12011E+18`: the statement opened and saved in Excel)
        // matches no check: read as is, every such line would be "unknown to us" and disputed,
        // and every check "underbilled". The line is malformed instead, saying why.
        for (what, id) in [("liveness id", &liveness_id), ("sequence id", &sequence_id)] {
            if let Some((problem, fix)) = id
                .as_deref()
                .and_then(crate::input::records::spreadsheet_damage)
            {
                return Err(format!(
                    "{what} {:?} {problem}: {fix}",
                    id.as_deref().unwrap_or("")
                ));
            }
        }
        let time_ms = match field(record, self.time) {
            Some(text) => Some(
                parse_instant_ms(&text, zone)
                    .ok_or_else(|| format!("time {text:?} is not a date or time"))?,
            ),
            None => None,
        };
        let code = match field(record, self.code) {
            Some(text) => Some(
                text.parse::<i64>()
                    .map_err(|_| format!("code {text:?} is not a number"))?,
            ),
            None => None,
        };
        Ok(Item {
            line,
            liveness_id,
            sequence_id,
            time_ms,
            code,
            amount,
            partner_code: field(record, self.partner),
            currency: None,
        })
    }

    fn summary(
        &self,
        record: &csv::ByteRecord,
        line: u64,
        zone: &TimeZone,
        amount: Option<Decimal>,
    ) -> Result<SummaryLine, String> {
        let Some(period_text) = field(record, self.summary_period()) else {
            return Err("no period".into());
        };
        let Some(period) = parse_period(&period_text, zone) else {
            return Err(format!("period {period_text:?} is not a date or YYYY-MM"));
        };
        let count_text = field(record, self.count).unwrap_or_default();
        let Some(count) = parse_amount(&count_text)
            .filter(|d| d.fract().is_zero() && !d.is_sign_negative())
            .and_then(|d| i64::try_from(d).ok())
        else {
            return Err(format!("count {count_text:?} is not a whole number"));
        };
        Ok(SummaryLine {
            line,
            period,
            count,
            amount,
            partner_code: field(record, self.partner),
            currency: None,
        })
    }
}

/// A cell's text, trimmed; `None` when the column is absent or the cell is blank.
fn field(record: &csv::ByteRecord, i: Option<usize>) -> Option<String> {
    let raw = record.get(i?)?;
    let s = String::from_utf8_lossy(raw).trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests;
