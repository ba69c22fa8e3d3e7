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
//! is read.

use super::*;
use crate::money::Money;
use crate::setting::Setting;

/// One disputed statement line and its evidence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DisputeRow {
    pub liveness_id: Option<String>,
    pub line: Option<u64>,
    pub statement_amount: Option<String>,
    pub our_code: Option<i64>,
    pub message: Option<String>,
    pub sequence_id: Option<String>,
    pub fetched_at: Option<i64>,
    pub attempts: Option<i64>,
    pub bucket: BucketKind,
    pub disputed: Decimal,
    pub note: String,
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

/// Our record of a disputed line's check: message, fetched at, attempts, sequence id.
type Evidence = (Option<String>, Option<i64>, Option<i64>, Option<String>);

/// The evidence of each disputed line from our records (by liveness id; none for a line
/// unknown to us).
pub(super) fn evidence(
    conn: &Connection,
    disputed: Vec<(Detail, Decimal)>,
) -> Result<Vec<DisputeRow>, ReconcileError> {
    let mut stmt = conn.prepare(
        "SELECT message, fetched_at, attempts, sequence_id FROM checks WHERE liveness_id = ?1",
    )?;
    let mut rows = Vec::with_capacity(disputed.len());
    for (d, disputed) in disputed {
        use rusqlite::OptionalExtension;
        let ours: Option<Evidence> = match (&d.liveness_id, d.our_status.is_some()) {
            (Some(id), true) => stmt
                .query_row(params![id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?,
            _ => None,
        };
        let (message, fetched_at, attempts, sequence) = ours.unwrap_or_default();
        rows.push(DisputeRow {
            liveness_id: d.liveness_id,
            line: d.line,
            statement_amount: d.statement_amount,
            our_code: d.our_code,
            message,
            sequence_id: sequence.or(d.sequence_id),
            fetched_at,
            attempts,
            bucket: d.bucket,
            disputed,
            note: d.note,
        });
    }
    Ok(rows)
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

/// The dispute file as a document: the disputes, then the bridge and the period (the sheets of
/// the workbook; CSV writes the first).
pub(crate) fn dispute_document(r: &Reconciliation, money: &Money) -> Document {
    let mut disputes = Section::new("Disputes", &COLUMNS)
        .keyed("disputes")
        .with_machine(&COLUMNS)
        .with_money(&["statement_amount", "disputed_amount"]);
    let text = |s: &Option<String>| s.clone().unwrap_or_default();
    let number = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    for d in &r.disputes {
        let amount = d.statement_amount.as_deref();
        let cells = vec![
            text(&d.liveness_id),
            d.line.map(|l| l.to_string()).unwrap_or_default(),
            match amount.and_then(|a| a.parse::<Decimal>().ok()) {
                Some(a) => money.show(a),
                None => amount.unwrap_or_default().to_string(),
            },
            number(d.our_code),
            text(&d.message),
            text(&d.sequence_id),
            d.fetched_at.map(format_utc).unwrap_or_default(),
            number(d.attempts),
            d.bucket.as_str().to_string(),
            money.show(d.disputed),
            d.note.clone(),
        ];
        disputes.machine_row(&[], cells.clone());
        disputes.row(cells);
    }
    let total: Decimal = r.disputes.iter().map(|d| d.disputed).sum();
    disputes.notes.push(format!(
        "{} lines disputed, {} {}",
        r.disputes.len(),
        money.show(total),
        money.currency
    ));
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
        summary: vec![format!(
            "statement {}, period {} to {} in {}",
            r.statement,
            r.period_from.as_deref().unwrap_or("?"),
            r.period_to.as_deref().unwrap_or("?"),
            r.zone
        )],
        sections: vec![disputes, bridge_section(r, money), period],
        charts: Vec::new(),
        json: serde_json::Value::Null,
        money: Some(money.clone()),
        flagged: Vec::new(),
    }
}
