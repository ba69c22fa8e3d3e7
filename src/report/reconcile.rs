//! Reconciling the vendor's statement against our records: where the two disagree, with the
//! evidence (ids, sequence ids, times, codes) finance needs to dispute a line.
//!
//! Policy, itemised statements (each line is matched by liveness id, else by sequence id):
//! - `matched`: billed, and our code for it is charged;
//! - `overbilled`: billed, but our code is not charged (request errors, 11340...);
//! - `unknown_to_us`: no such id or sequence id in our records;
//! - `unresolved`: we have no final code (pending, failed, or 11350 asked again): fetch, then
//!   reconcile again;
//! - `unknown_code`: our code is not in the code table: needs a decision;
//! - `duplicate`: the same check on a second (third...) line;
//! - `underbilled`: charged in our records within the statement's period but on no line; noted
//!   when within `--boundary-hours` of the period's edge (often a time-zone shift);
//! - `amount_variance`: a line's amount differs from `--price`; `code_differs`: the statement's
//!   code differs from ours. These two are flagged on top of the line's bucket.
//!
//! Summary statements are compared per period: billed count against our charged count.
//! The statement is loaded into a temporary table on disk and matched with SQL joins, so a
//! million-line statement reconciles in seconds with flat memory.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;
use rusqlite::{Connection, params};
use rust_decimal::Decimal;
use serde::Serialize;

use super::render::{Document, Section};
use super::{ReportError, Window, load_buckets};
use crate::cli::Period;
use crate::statement::{self, Malformed, PeriodKey, Shape, StatementColumns, StatementError};
use crate::timestamp::format_utc;
use crate::vendor::codes::CodeTable;

/// Detail rows kept per bucket for the printed report (all go to `--details`).
const SHOWN_PER_BUCKET: usize = 50;

/// Errors of a reconcile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("writing the details file {path}: {source}")]
    Details {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl From<rusqlite::Error> for ReconcileError {
    fn from(e: rusqlite::Error) -> Self {
        ReconcileError::Report(e.into())
    }
}

/// The kinds of lines a reconcile sorts into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketKind {
    Matched,
    Overbilled,
    UnknownToUs,
    Unresolved,
    UnknownCode,
    Duplicate,
    Underbilled,
    AmountVariance,
    CodeDiffers,
    PeriodDifference,
}

impl BucketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BucketKind::Matched => "matched",
            BucketKind::Overbilled => "overbilled",
            BucketKind::UnknownToUs => "unknown_to_us",
            BucketKind::Unresolved => "unresolved",
            BucketKind::UnknownCode => "unknown_code",
            BucketKind::Duplicate => "duplicate",
            BucketKind::Underbilled => "underbilled",
            BucketKind::AmountVariance => "amount_variance",
            BucketKind::CodeDiffers => "code_differs",
            BucketKind::PeriodDifference => "period_difference",
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            BucketKind::Matched => "billed and charged in our records",
            BucketKind::Overbilled => "billed, but our code is not charged: dispute",
            BucketKind::UnknownToUs => "billed, but no such check in our records: dispute",
            BucketKind::Unresolved => {
                "billed, but we have no final code yet: fetch, then reconcile again"
            }
            BucketKind::UnknownCode => "billed for a code not in the code table: decide",
            BucketKind::Duplicate => "the same check billed again: dispute",
            BucketKind::Underbilled => "charged in our records, not billed in the period",
            BucketKind::AmountVariance => "line amount differs from --price",
            BucketKind::CodeDiffers => "statement code differs from ours",
            BucketKind::PeriodDifference => "billed count differs from our charged count",
        }
    }
}

/// One discrepancy (or match), with its evidence.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Detail {
    pub bucket: BucketKind,
    /// Statement line (none for underbilled checks).
    pub line: Option<u64>,
    pub liveness_id: Option<String>,
    pub sequence_id: Option<String>,
    pub statement_time: Option<String>,
    pub statement_code: Option<i64>,
    pub statement_amount: Option<String>,
    pub our_status: Option<String>,
    pub our_code: Option<i64>,
    pub our_time: Option<String>,
    pub note: String,
}

/// Count and amount of one bucket.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct BucketTotal {
    pub count: u64,
    #[serde(serialize_with = "super::money::exact")]
    pub amount: Decimal,
    /// Details beyond those kept in this report (all are in `--details`).
    pub not_shown: u64,
}

/// A period row of a summary statement.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeriodComparison {
    pub period: String,
    pub billed: i64,
    pub ours: i64,
    pub difference: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::money::optional"
    )]
    pub billed_amount: Option<Decimal>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::money::optional"
    )]
    pub amount_difference: Option<Decimal>,
    pub lines: Vec<u64>,
}

/// The result of a reconcile; its JSON form is the `--format json` output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reconciliation {
    pub report: &'static str,
    pub statement: String,
    pub shape: &'static str,
    pub columns: String,
    pub zone: String,
    /// The period compared (local dates, inclusive).
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub lines: u64,
    #[serde(serialize_with = "super::money::exact")]
    pub billed_amount: Decimal,
    pub our_charged: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::money::optional"
    )]
    pub our_amount: Option<Decimal>,
    pub net_difference: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "super::money::optional"
    )]
    pub net_amount: Option<Decimal>,
    pub discrepancies: u64,
    pub buckets: BTreeMap<&'static str, BucketTotal>,
    pub periods: Vec<PeriodComparison>,
    pub malformed: Vec<Malformed>,
    pub details: Vec<Detail>,
    pub notes: Vec<String>,
}

/// Options of a reconcile.
#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    pub statement: PathBuf,
    pub columns: StatementColumns,
    pub tz_name: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub price: Option<Decimal>,
    pub currency: String,
    pub boundary_hours: u32,
    pub details: Option<PathBuf>,
}

struct DetailSink {
    writer: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
    path: PathBuf,
    kept: Vec<Detail>,
    totals: BTreeMap<BucketKind, BucketTotal>,
}

impl DetailSink {
    fn add(&mut self, d: Detail, amount: Decimal) -> Result<(), ReconcileError> {
        let total = self.totals.entry(d.bucket).or_default();
        total.count += 1;
        total.amount += amount;
        if d.bucket == BucketKind::Matched {
            return Ok(());
        }
        if let Some(w) = &mut self.writer {
            w.serialize(&d).map_err(|e| ReconcileError::Details {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })?;
        }
        let shown = self.kept.iter().filter(|k| k.bucket == d.bucket).count();
        if shown < SHOWN_PER_BUCKET {
            self.kept.push(d);
        } else {
            total.not_shown += 1;
        }
        Ok(())
    }
}

/// Runs a reconcile of `opts.statement` against the database behind `conn`.
pub fn reconcile(
    conn: &mut Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
) -> Result<Reconciliation, ReconcileError> {
    let zone = TimeZone::get(&opts.tz_name).map_err(|_| ReportError::Zone(opts.tz_name.clone()))?;
    // The statement table may be large: keep it in a temporary file, not in memory.
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.execute_batch(
        "DROP TABLE IF EXISTS temp.stmt;
         CREATE TEMP TABLE stmt (line INTEGER PRIMARY KEY, liveness_id TEXT, sequence_id TEXT,
                                 time INTEGER, code INTEGER, amount TEXT, cid INTEGER);",
    )?;
    let mut summary_lines = Vec::new();
    let (shape, malformed) = {
        let tx = conn.transaction()?;
        let read = {
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO stmt (line, liveness_id, sequence_id, time, code, amount)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            statement::read(
                &opts.statement,
                &opts.columns,
                &zone,
                |item| {
                    insert
                        .execute(params![
                            item.line as i64,
                            item.liveness_id,
                            item.sequence_id,
                            item.time_ms,
                            item.code,
                            item.amount.map(|a| a.to_string())
                        ])
                        .map(|_| ())
                },
                |line| summary_lines.push(line),
            )??
        };
        tx.commit()?;
        read
    };
    let mut sink = DetailSink {
        writer: match &opts.details {
            Some(p) => Some(csv::Writer::from_writer(std::io::BufWriter::new(
                std::fs::File::create(p).map_err(|source| ReconcileError::Details {
                    path: p.clone(),
                    source,
                })?,
            ))),
            None => None,
        },
        path: opts.details.clone().unwrap_or_default(),
        kept: Vec::new(),
        totals: BTreeMap::new(),
    };
    let mut notes = Vec::new();
    let mut result = match &shape {
        Shape::Itemised { columns } => {
            itemised(conn, codes, opts, &mut sink, &mut notes, columns.clone())?
        }
        Shape::Summary { columns } => summary(
            conn,
            codes,
            opts,
            &summary_lines,
            &mut sink,
            columns.clone(),
        )?,
    };
    if let Some(w) = &mut sink.writer {
        w.flush().map_err(|source| ReconcileError::Details {
            path: sink.path.clone(),
            source,
        })?;
    }
    conn.execute_batch("DROP TABLE IF EXISTS temp.stmt;")?;
    result.malformed = malformed;
    result.discrepancies = sink
        .totals
        .iter()
        .filter(|(k, _)| **k != BucketKind::Matched)
        .map(|(_, t)| t.count)
        .sum::<u64>()
        + result.malformed.len() as u64;
    result.buckets = sink
        .totals
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    result.details = sink.kept;
    result.notes.extend(notes);
    Ok(result)
}

fn line_amount(amount: Option<&str>, price: Option<Decimal>) -> Decimal {
    amount
        .and_then(|a| a.parse().ok())
        .or(price)
        .unwrap_or(Decimal::ZERO)
}

fn itemised(
    conn: &mut Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    sink: &mut DetailSink,
    notes: &mut Vec<String>,
    columns: String,
) -> Result<Reconciliation, ReconcileError> {
    conn.execute_batch(
        "UPDATE temp.stmt SET cid = coalesce(
             (SELECT id FROM checks WHERE checks.liveness_id = stmt.liveness_id),
             (SELECT id FROM checks WHERE checks.sequence_id = stmt.sequence_id));
         CREATE INDEX temp.stmt_by_cid ON stmt (cid);",
    )?;
    let mut lines = 0u64;
    let mut billed_amount = Decimal::ZERO;
    let (mut min_time, mut max_time) = (None::<i64>, None::<i64>);
    {
        let mut stmt = conn.prepare(
            "SELECT s.line, s.liveness_id, s.sequence_id, s.time, s.code, s.amount,
                    c.liveness_id, c.sequence_id, c.status, c.code,
                    coalesce(c.event_time, c.fetched_at),
                    row_number() OVER (
                        PARTITION BY coalesce('c' || s.cid, 'i' || s.liveness_id, 's' || s.sequence_id)
                        ORDER BY s.line)
             FROM temp.stmt s LEFT JOIN checks c ON c.id = s.cid
             ORDER BY s.line",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let line: i64 = r.get(0)?;
            let s_time: Option<i64> = r.get(3)?;
            let s_code: Option<i64> = r.get(4)?;
            let s_amount: Option<String> = r.get(5)?;
            let our_status: Option<String> = r.get(8)?;
            let our_code: Option<i64> = r.get(9)?;
            let nth: i64 = r.get(11)?;
            lines += 1;
            let amount = line_amount(s_amount.as_deref(), opts.price);
            billed_amount += amount;
            if let Some(t) = s_time {
                min_time = Some(min_time.map_or(t, |m| m.min(t)));
                max_time = Some(max_time.map_or(t, |m| m.max(t)));
            }
            let found = our_status.is_some();
            let (bucket, note) = if nth > 1 {
                (BucketKind::Duplicate, format!("billed {nth} times"))
            } else if !found {
                (BucketKind::UnknownToUs, String::new())
            } else {
                match (our_status.as_deref(), our_code) {
                    (Some("done"), Some(code)) if code == crate::vendor::codes::INTERNAL_ERROR => (
                        BucketKind::Unresolved,
                        "we hold 11350 (internal error): fetch again".to_string(),
                    ),
                    (Some("done"), Some(code)) => match codes.charged(code) {
                        Some(true) => (BucketKind::Matched, String::new()),
                        Some(false) => (
                            BucketKind::Overbilled,
                            format!("code {code} is not charged ({})", codes.category(code)),
                        ),
                        None => (
                            BucketKind::UnknownCode,
                            format!("code {code} is not in the code table"),
                        ),
                    },
                    (status, _) => (
                        BucketKind::Unresolved,
                        format!("our status is {}", status.unwrap_or("pending")),
                    ),
                }
            };
            let detail = |bucket: BucketKind, note: String| -> Result<Detail, rusqlite::Error> {
                Ok(Detail {
                    bucket,
                    line: Some(line as u64),
                    liveness_id: r.get::<_, Option<String>>(6)?.or(r.get(1)?),
                    sequence_id: r.get::<_, Option<String>>(7)?.or(r.get(2)?),
                    statement_time: s_time.map(format_utc),
                    statement_code: s_code,
                    statement_amount: s_amount.clone(),
                    our_status: our_status.clone(),
                    our_code,
                    our_time: r.get::<_, Option<i64>>(10)?.map(format_utc),
                    note,
                })
            };
            sink.add(detail(bucket, note)?, amount)?;
            if let (Some(price), Some(a)) = (
                opts.price,
                s_amount.as_deref().and_then(|a| a.parse::<Decimal>().ok()),
            ) && a != price
            {
                sink.add(
                    detail(
                        BucketKind::AmountVariance,
                        format!("billed {a}, price {price}"),
                    )?,
                    a - price,
                )?;
            }
            if let (Some(sc), Some(oc)) = (s_code, our_code)
                && sc != oc
                && nth == 1
            {
                sink.add(
                    detail(
                        BucketKind::CodeDiffers,
                        format!("statement {sc}, ours {oc}"),
                    )?,
                    Decimal::ZERO,
                )?;
            }
        }
    }

    // The period compared: the flags, else the statement's own first and last day.
    let window = Window::new(
        &opts.tz_name,
        Period::Day,
        opts.from.as_deref(),
        opts.to.as_deref(),
    )?;
    let local = |ms: i64| window.local_date(ms);
    let from = window.from.or_else(|| min_time.and_then(local));
    let to = window.to.or_else(|| max_time.and_then(local));
    let mut our_charged = 0;
    if let (Some(from), Some(to)) = (from, to) {
        let bounds = Window::new(
            &opts.tz_name,
            Period::Day,
            Some(&from.to_string()),
            Some(&to.to_string()),
        )?
        .bounds_ms();
        let (Some(start), Some(end)) = bounds else {
            return Err(ReportError::Range {
                from: from.to_string(),
                to: to.to_string(),
            }
            .into());
        };
        let charged: Vec<String> = codes
            .iter()
            .filter(|c| c.charged == Some(true))
            .map(|c| c.code.to_string())
            .collect();
        let charged = charged.join(",");
        our_charged = conn.query_row(
            &format!(
                "SELECT count(*) FROM checks WHERE status = 'done' AND code IN ({charged})
                 AND coalesce(event_time, fetched_at) >= ?1 AND coalesce(event_time, fetched_at) < ?2"
            ),
            params![start, end],
            |r| r.get(0),
        )?;
        let mut stmt = conn.prepare(&format!(
            "SELECT c.liveness_id, c.sequence_id, c.code, coalesce(c.event_time, c.fetched_at) AS t
             FROM checks c
             WHERE c.status = 'done' AND c.code IN ({charged}) AND t >= ?1 AND t < ?2
               AND NOT EXISTS (SELECT 1 FROM temp.stmt s WHERE s.cid = c.id)
             ORDER BY t, c.liveness_id"
        ))?;
        let mut rows = stmt.query(params![start, end])?;
        let near = i64::from(opts.boundary_hours) * 3_600_000;
        while let Some(r) = rows.next()? {
            let t: i64 = r.get(3)?;
            let note = if t - start < near {
                format!(
                    "within {}h of the period start: possibly billed the day before (time zone?)",
                    opts.boundary_hours
                )
            } else if end - t <= near {
                format!(
                    "within {}h of the period end: possibly billed the day after (time zone?)",
                    opts.boundary_hours
                )
            } else {
                String::new()
            };
            sink.add(
                Detail {
                    bucket: BucketKind::Underbilled,
                    line: None,
                    liveness_id: r.get(0)?,
                    sequence_id: r.get(1)?,
                    statement_time: None,
                    statement_code: None,
                    statement_amount: None,
                    our_status: Some("done".into()),
                    our_code: r.get(2)?,
                    our_time: Some(format_utc(t)),
                    note,
                },
                opts.price.unwrap_or(Decimal::ZERO),
            )?;
        }
    } else {
        notes.push(
            "the statement has no times and no --from/--to was given: underbilled checks \
             cannot be looked for"
                .into(),
        );
    }
    let our_amount = opts.price.map(|p| p * Decimal::from(our_charged));
    Ok(Reconciliation {
        report: "reconcile",
        statement: opts.statement.display().to_string(),
        shape: "itemised",
        columns,
        zone: opts.tz_name.clone(),
        period_from: from.map(|d| d.to_string()),
        period_to: to.map(|d| d.to_string()),
        lines,
        billed_amount,
        our_charged,
        our_amount,
        net_difference: lines as i64 - our_charged,
        net_amount: our_amount.map(|a| billed_amount - a),
        discrepancies: 0,
        buckets: BTreeMap::new(),
        periods: Vec::new(),
        malformed: Vec::new(),
        details: Vec::new(),
        notes: Vec::new(),
    })
}

fn summary(
    conn: &Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    lines: &[statement::SummaryLine],
    sink: &mut DetailSink,
    columns: String,
) -> Result<Reconciliation, ReconcileError> {
    let monthly = lines
        .iter()
        .any(|l| matches!(l.period, PeriodKey::Month(..)));
    let key = |p: PeriodKey| match (p, monthly) {
        (PeriodKey::Day(d), true) => PeriodKey::Month(d.year(), d.month()),
        (p, _) => p,
    };
    let mut billed: BTreeMap<PeriodKey, (i64, Option<Decimal>, Vec<u64>)> = BTreeMap::new();
    for l in lines {
        let e = billed.entry(key(l.period)).or_insert((0, None, Vec::new()));
        e.0 += l.count;
        if let Some(a) = l.amount {
            e.1 = Some(e.1.unwrap_or(Decimal::ZERO) + a);
        }
        e.2.push(l.line);
    }
    let by = if monthly { Period::Month } else { Period::Day };
    let window = Window::new(&opts.tz_name, by, opts.from.as_deref(), opts.to.as_deref())?;
    let buckets = load_buckets(conn, &window)?;
    let mut ours: BTreeMap<String, i64> = BTreeMap::new();
    for b in &buckets {
        if let (Some(code), "done") = (b.code, b.status.as_str())
            && codes.charged(code) == Some(true)
            && let Some(d) = b.start_ms.and_then(|ms| window.local_date(ms))
        {
            *ours.entry(window.label(d)).or_default() += b.count;
        }
    }
    let mut periods = Vec::new();
    let (mut total_billed, mut total_ours) = (0i64, 0i64);
    let mut billed_amount = Decimal::ZERO;
    for (period, (count, amount, line_nos)) in &billed {
        let label = period.to_string();
        let our = ours.get(&label).copied().unwrap_or(0);
        total_billed += count;
        total_ours += our;
        let this_amount = amount.or_else(|| opts.price.map(|p| p * Decimal::from(*count)));
        billed_amount += this_amount.unwrap_or(Decimal::ZERO);
        let amount_difference = match (this_amount, opts.price) {
            (Some(a), Some(p)) => Some(a - p * Decimal::from(our)),
            _ => None,
        };
        let difference = count - our;
        let row = PeriodComparison {
            period: label.clone(),
            billed: *count,
            ours: our,
            difference,
            billed_amount: this_amount,
            amount_difference,
            lines: line_nos.clone(),
        };
        if difference != 0 {
            sink.add(
                Detail {
                    bucket: BucketKind::PeriodDifference,
                    line: line_nos.first().copied(),
                    liveness_id: None,
                    sequence_id: None,
                    statement_time: Some(label.clone()),
                    statement_code: None,
                    statement_amount: this_amount.map(|a| a.to_string()),
                    our_status: None,
                    our_code: None,
                    our_time: None,
                    note: format!("billed {count}, ours {our}, difference {difference:+}"),
                },
                amount_difference.unwrap_or(Decimal::ZERO),
            )?;
        } else {
            sink.add(
                Detail {
                    bucket: BucketKind::Matched,
                    line: line_nos.first().copied(),
                    liveness_id: None,
                    sequence_id: None,
                    statement_time: Some(label.clone()),
                    statement_code: None,
                    statement_amount: None,
                    our_status: None,
                    our_code: None,
                    our_time: None,
                    note: String::new(),
                },
                Decimal::ZERO,
            )?;
        }
        periods.push(row);
    }
    let our_amount = opts.price.map(|p| p * Decimal::from(total_ours));
    Ok(Reconciliation {
        report: "reconcile",
        statement: opts.statement.display().to_string(),
        shape: "summary",
        columns,
        zone: opts.tz_name.clone(),
        period_from: billed.keys().next().map(ToString::to_string),
        period_to: billed.keys().last().map(ToString::to_string),
        lines: lines.len() as u64,
        billed_amount,
        our_charged: total_ours,
        our_amount,
        net_difference: total_billed - total_ours,
        net_amount: our_amount.map(|a| billed_amount - a),
        discrepancies: 0,
        buckets: BTreeMap::new(),
        periods,
        malformed: Vec::new(),
        details: Vec::new(),
        notes: Vec::new(),
    })
}

/// Whether the reconcile is clean within the tolerances.
pub fn within_tolerance(r: &Reconciliation, count: u64, amount: Decimal) -> bool {
    r.discrepancies <= count && r.net_amount.is_none_or(|a| a.abs() <= amount)
}

/// Lays the reconcile out for people.
pub fn document(r: &Reconciliation, currency: &str) -> Document {
    let money = |d: Decimal| format!("{} {currency}", d.normalize());
    let mut summary = vec![
        format!("statement {} ({}; {})", r.statement, r.shape, r.columns),
        format!(
            "period {} to {} in {}",
            r.period_from.as_deref().unwrap_or("?"),
            r.period_to.as_deref().unwrap_or("?"),
            r.zone
        ),
        format!(
            "billed: {} {} ({}); charged in our records: {}{}; net difference {:+}{}",
            r.lines,
            if r.shape == "summary" {
                "summary lines"
            } else {
                "lines"
            },
            money(r.billed_amount),
            r.our_charged,
            r.our_amount
                .map(|a| format!(" ({})", money(a)))
                .unwrap_or_default(),
            r.net_difference,
            r.net_amount
                .map(|a| format!(" ({})", money(a)))
                .unwrap_or_default(),
        ),
        format!("{} discrepancies", r.discrepancies),
    ];
    summary.extend(r.notes.iter().cloned());

    let mut buckets = Section::new("Summary", &["bucket", "count", "amount", "meaning"]);
    for kind in [
        BucketKind::Matched,
        BucketKind::Overbilled,
        BucketKind::UnknownToUs,
        BucketKind::Duplicate,
        BucketKind::Unresolved,
        BucketKind::UnknownCode,
        BucketKind::Underbilled,
        BucketKind::AmountVariance,
        BucketKind::CodeDiffers,
        BucketKind::PeriodDifference,
    ] {
        let t = r.buckets.get(kind.as_str()).cloned().unwrap_or_default();
        if t.count == 0 && matches!(kind, BucketKind::PeriodDifference) == (r.shape == "itemised") {
            continue;
        }
        buckets.row(vec![
            kind.as_str().into(),
            t.count.to_string(),
            t.amount.normalize().to_string(),
            kind.meaning().into(),
        ]);
    }
    let mut sections = vec![buckets];
    if !r.periods.is_empty() {
        let mut s = Section::new(
            "Per period",
            &[
                "period",
                "billed",
                "ours",
                "difference",
                "billed amount",
                "amount difference",
                "lines",
            ],
        );
        for p in &r.periods {
            s.row(vec![
                p.period.clone(),
                p.billed.to_string(),
                p.ours.to_string(),
                format!("{:+}", p.difference),
                p.billed_amount
                    .map(|a| a.normalize().to_string())
                    .unwrap_or_default(),
                p.amount_difference
                    .map(|a| a.normalize().to_string())
                    .unwrap_or_default(),
                p.lines
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            ]);
        }
        sections.push(s);
    }
    // Sequence ids and amounts are in --details and the JSON; the table keeps to what fits.
    let mut details = Section::new(
        "Discrepancies",
        &["bucket", "line", "liveness id", "time", "ours", "note"],
    );
    for d in &r.details {
        details.row(vec![
            d.bucket.as_str().into(),
            d.line.map(|l| l.to_string()).unwrap_or_default(),
            d.liveness_id
                .clone()
                .or_else(|| d.sequence_id.clone())
                .unwrap_or_default(),
            d.statement_time
                .clone()
                .or_else(|| d.our_time.clone())
                .unwrap_or_default(),
            match (&d.our_status, d.our_code) {
                (Some(s), Some(c)) => format!("{s} {c}"),
                (Some(s), None) => s.clone(),
                _ => String::new(),
            },
            d.note.clone(),
        ]);
    }
    let hidden: u64 = r.buckets.values().map(|b| b.not_shown).sum();
    if hidden > 0 {
        details.notes.push(format!(
            "{hidden} more not shown; --details FILE.csv writes every one"
        ));
    }
    sections.push(details);
    if !r.malformed.is_empty() {
        let mut s = Section::new("Malformed statement lines", &["line", "problem"]);
        for m in &r.malformed {
            s.row(vec![m.line.to_string(), m.problem.clone()]);
        }
        sections.push(s);
    }
    Document {
        title: "liveaudit reconcile".into(),
        summary,
        sections,
        charts: Vec::new(),
        json: serde_json::to_value(r).unwrap_or_default(),
    }
}

/// Writes the details header even when there are no discrepancies, so scripts can rely on it.
pub fn ensure_details_header(path: &Path) -> std::io::Result<()> {
    let empty = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    if empty {
        let mut f = std::fs::File::create(path)?;
        writeln!(
            f,
            "bucket,line,liveness_id,sequence_id,statement_time,statement_code,statement_amount,\
             our_status,our_code,our_time,note"
        )?;
    }
    Ok(())
}
