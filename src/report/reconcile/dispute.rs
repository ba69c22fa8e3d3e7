//! The dispute file (`reconcile --dispute FILE`): the statement lines to send back to the
//! vendor, each with the evidence the vendor needs.
//!
//! Policy: one row per statement line of a "to dispute" bucket (`overbilled`, `duplicate`,
//! `unknown_to_us`, `provisional_confirmed`, `above_price`; see `bucket.rs`), in line order,
//! with the liveness id, the statement's line number and amount, our code and message, the
//! sequence id, when we fetched the answer and in how many attempts, the bucket and the amount
//! disputed (the line's amount; for `above_price` what it bills above the expected price). The
//! disputed amounts add up to the bridge's "to dispute" amount exactly. The file's kind follows
//! its name: `.csv` (the rows; cells neutralised against formulas like every CSV), or `.xlsx`
//! (sheets `disputes`, `bridge` and `period`); any other name is refused before the statement
//! is read. Memory stays flat however many lines are disputed: each line is spooled to an
//! unnamed temporary file as it is found, and the file is written from the spool row by row
//! (the workbook's `disputes` sheet in rust_xlsxwriter's constant-memory mode).

use std::io::{Seek, Write};
use std::sync::Arc;

use super::*;
use crate::money::Money;
use crate::setting::Setting;

/// One disputed line as spooled: the line's side and the disputed amount (our evidence is
/// looked up when the file is written).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Spooled {
    line: Option<u64>,
    liveness_id: Option<String>,
    sequence_id: Option<String>,
    statement_amount: Option<String>,
    our_code: Option<i64>,
    ours: bool,
    bucket: String,
    disputed: Decimal,
    note: String,
}

/// The disputed lines being found, spooled to an unnamed temporary file.
pub(super) struct Spool {
    writer: csv::Writer<std::io::BufWriter<std::fs::File>>,
    count: u64,
    total: Decimal,
}

/// The disputed lines of a reconcile: how many, their disputed amount, and the spool they are
/// read back from to write the file.
#[derive(Debug, Clone)]
pub(crate) struct Disputes {
    pub count: u64,
    pub total: Decimal,
    file: Arc<std::fs::File>,
}

impl PartialEq for Disputes {
    fn eq(&self, other: &Disputes) -> bool {
        (self.count, self.total) == (other.count, other.total)
    }
}

impl Spool {
    pub(super) fn open() -> std::io::Result<Spool> {
        Ok(Spool {
            writer: csv::Writer::from_writer(std::io::BufWriter::new(tempfile::tempfile()?)),
            count: 0,
            total: Decimal::ZERO,
        })
    }

    /// Spools one disputed line (`d`, disputing `amount`).
    pub(super) fn push(&mut self, d: &Detail, amount: Decimal) -> std::io::Result<()> {
        self.count += 1;
        self.total += amount;
        self.writer
            .serialize(Spooled {
                line: d.line,
                liveness_id: d.liveness_id.clone(),
                sequence_id: d.sequence_id.clone(),
                statement_amount: d.statement_amount.clone(),
                our_code: d.our_code,
                ours: d.our_status.is_some(),
                bucket: d.bucket.as_str().to_string(),
                disputed: amount,
                note: d.note.clone(),
            })
            .map_err(std::io::Error::other)
    }

    /// The spool, complete and ready to be read from its start.
    pub(super) fn finish(self) -> std::io::Result<Disputes> {
        let mut file = self
            .writer
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.flush()?;
        Ok(Disputes {
            count: self.count,
            total: self.total,
            file: Arc::new(file),
        })
    }
}

/// The kinds of dispute file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DisputeKind {
    Csv,
    Xlsx,
}

impl DisputeKind {
    /// The kind `path` names by its extension; anything else is refused with what to use.
    pub(crate) fn of(path: &Path) -> Result<DisputeKind, String> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") => Ok(DisputeKind::Csv),
            Some("xlsx") => Ok(DisputeKind::Xlsx),
            _ => Err(format!(
                "{} {}: the dispute file is written as .csv or .xlsx, by its name; name \
                 it FILE.csv or FILE.xlsx",
                Setting::Dispute,
                path.display()
            )),
        }
    }
}

/// Errors writing the dispute file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DisputeError {
    #[error("reading the disputed lines back: {0}")]
    Spool(#[from] std::io::Error),
    #[error(transparent)]
    Records(#[from] rusqlite::Error),
    #[error("writing the dispute workbook: {0}")]
    Workbook(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the dispute file: {0}")]
    Csv(#[from] csv::Error),
}

/// The columns of the dispute file.
const COLUMNS: [&str; 11] = [
    "liveness_id",
    "statement_line",
    "statement_amount",
    "our_code",
    "message",
    "sequence_id",
    "fetched_at",
    "attempts",
    "bucket",
    "disputed_amount",
    "note",
];

/// Writes the dispute file of `r` as `kind` to `out`, row by row from the spool, each row with
/// our evidence (message, fetched at, attempts, sequence id) looked up in `conn`. A CSV's cells
/// are neutralised against formulas unless `raw_cells`.
pub(crate) fn write_disputes(
    conn: &Connection,
    r: &Reconciliation,
    money: &Money,
    (kind, raw_cells): (DisputeKind, bool),
    out: &mut (dyn Write + Send),
) -> Result<(), DisputeError> {
    let Some(disputes) = &r.disputes else {
        return Ok(());
    };
    let mut file: &std::fs::File = &disputes.file;
    file.rewind()?;
    let mut rows = csv::Reader::from_reader(std::io::BufReader::new(file));
    let mut evidence = conn.prepare(
        "SELECT message, fetched_at, attempts, sequence_id FROM checks WHERE liveness_id = ?1",
    )?;
    let mut cells = rows
        .deserialize::<Spooled>()
        .map(|row| -> Result<Vec<String>, DisputeError> {
            Ok(row_cells(&row?, &mut evidence, money)?)
        });
    match kind {
        DisputeKind::Csv => {
            let guard = crate::text::CellGuard::new(true, raw_cells);
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS)?;
            for row in cells {
                let row = row?;
                w.write_record(row.iter().map(|c| guard.apply(c).into_owned()))?;
            }
            w.flush()?;
        }
        DisputeKind::Xlsx => {
            let mut failed = None;
            let mut ok_rows = std::iter::from_fn(|| match cells.next()? {
                Ok(row) => Some(row),
                Err(e) => {
                    failed = Some(e);
                    None
                }
            });
            let doc = dispute_document(r, money);
            let lead = Section::new("Disputes", &COLUMNS)
                .keyed("disputes")
                .with_machine(&COLUMNS)
                .with_money(&["statement_amount", "disputed_amount"]);
            crate::report::render::xlsx::streamed_workbook(&doc, &lead, &mut ok_rows, out)?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }
    Ok(())
}

/// One disputed line's cells, with our evidence from the records (none for a line unknown to
/// us).
fn row_cells(
    d: &Spooled,
    evidence: &mut rusqlite::Statement<'_>,
    money: &Money,
) -> Result<Vec<String>, rusqlite::Error> {
    use rusqlite::OptionalExtension;
    type Evidence = (Option<String>, Option<i64>, Option<i64>, Option<String>);
    let ours: Option<Evidence> = match (&d.liveness_id, d.ours) {
        (Some(id), true) => evidence
            .query_row(params![id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?,
        _ => None,
    };
    let (message, fetched_at, attempts, sequence) = ours.unwrap_or_default();
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    let amount = d.statement_amount.as_deref();
    Ok(vec![
        text(&d.liveness_id),
        d.line.map(|l| l.to_string()).unwrap_or_default(),
        match amount.and_then(|a| a.parse::<Decimal>().ok()) {
            Some(a) => money.show(a),
            None => amount.unwrap_or_default().to_string(),
        },
        number(d.our_code),
        text(&message),
        text(&sequence.or(d.sequence_id.clone())),
        fetched_at.map(format_utc).unwrap_or_default(),
        number(attempts),
        d.bucket.clone(),
        money.show(d.disputed),
        d.note.clone(),
    ])
}

/// The dispute workbook's other sheets: the bridge and the period, and its title and summary
/// (how many lines are disputed, for how much).
fn dispute_document(r: &Reconciliation, money: &Money) -> Document {
    let (count, total) = r
        .disputes
        .as_ref()
        .map_or((0, Decimal::ZERO), |d| (d.count, d.total));
    let mut period = Section::new("Period", &["item", "value"])
        .keyed("period")
        .with_machine(&["item", "value"]);
    for (item, value) in [
        ("statement", r.statement.clone()),
        ("from", r.period_from.clone().unwrap_or_default()),
        ("to", r.period_to.clone().unwrap_or_default()),
        ("zone", r.zone.clone()),
        ("statement_zone", r.statement_zone.clone()),
        ("currency", money.currency.clone()),
    ] {
        let cells = vec![item.to_string(), value];
        period.machine_row(&[], cells.clone());
        period.row(cells);
    }
    Document {
        title: "liveaudit reconcile: lines to dispute".into(),
        summary: vec![
            format!(
                "statement {}, period {} to {} in {}",
                r.statement,
                r.period_from.as_deref().unwrap_or("?"),
                r.period_to.as_deref().unwrap_or("?"),
                r.zone
            ),
            format!(
                "{count} lines disputed, {} {} (fetched_at in UTC)",
                money.show(total),
                money.currency
            ),
        ],
        sections: vec![bridge_section(r, money), period],
        charts: Vec::new(),
        json: serde_json::Value::Null,
        money: Some(money.clone()),
        flagged: Vec::new(),
    }
}
