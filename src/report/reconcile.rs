//! Reconciling the vendor's statement against our records: where the two disagree, with the
//! evidence (ids, sequence ids, times, codes) finance needs to dispute a line.
//!
//! Policy, itemised statements (each line is matched by liveness id, else by sequence id; our
//! side is every check [`crate::check::classify`] calls charged and dated in the period, exactly
//! what `report billing` counts as charged for the same window). Each line, and each charged
//! check of ours without a line, lands in exactly one bucket; its `effect` is what it adds to
//! `net_difference = lines - our_charged` (lines: statement lines dated in the period):
//! - `matched` (0): billed in the period, charged and dated in the period in our records;
//! - `overbilled` (+1): billed, but our code is not charged (request errors, 11340...);
//! - `provisional` (+1): billed, but we hold 11350 (uncharged, asked again): fetch again
//!   before disputing;
//! - `unknown_to_us` (+1): no such id or sequence id in our records;
//! - `unresolved` (+1): we have no final answer (pending, failed): fetch, then reconcile again;
//! - `unknown_code` (+1): our code is not in the code table: needs a decision;
//! - `duplicate` (+1): the same check on a second (third...) line in the period;
//! - `shifted_in` (+1): billed in the period, but our charged check is dated outside it (or
//!   undated): often a time-zone shift;
//! - `underbilled` (-1): charged in our records in the period, on no line; noted when within
//!   `--boundary-hours` of the period's edge;
//! - `shifted_out` (-1): charged in our records in the period, its line dated just outside it
//!   (within `--boundary-hours`): a time-zone shift, both times shown;
//! - `outside_period` (0): a line dated outside the period: never matched, not in `lines`;
//! - `amount_variance` and `code_differs` are flags on top of a line's bucket (no effect): a
//!   line's amount differs from `--price`; the statement's code differs from ours.
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
use super::{MoneyScale, ReportError, Window, load_buckets};
use crate::check::{Class, DateBy, Period, Status, classify, dated_within};
use crate::statement::{self, Malformed, PeriodKey, Shape, StatementColumns, StatementError};
use crate::td::codes::CodeTable;
use crate::timestamp::format_utc;

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
    Provisional,
    UnknownToUs,
    Unresolved,
    UnknownCode,
    Duplicate,
    ShiftedIn,
    Underbilled,
    ShiftedOut,
    OutsidePeriod,
    AmountVariance,
    CodeDiffers,
    PeriodDifference,
}

impl BucketKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BucketKind::Matched => "matched",
            BucketKind::Overbilled => "overbilled",
            BucketKind::Provisional => "provisional",
            BucketKind::ShiftedIn => "shifted_in",
            BucketKind::ShiftedOut => "shifted_out",
            BucketKind::OutsidePeriod => "outside_period",
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

    /// What one item of the bucket adds to `net_difference` (`None`: a flag on top of another
    /// bucket, or a summary statement's period).
    pub fn effect(self) -> Option<i64> {
        match self {
            BucketKind::Matched | BucketKind::OutsidePeriod => Some(0),
            BucketKind::Overbilled
            | BucketKind::Provisional
            | BucketKind::UnknownToUs
            | BucketKind::Unresolved
            | BucketKind::UnknownCode
            | BucketKind::Duplicate
            | BucketKind::ShiftedIn => Some(1),
            BucketKind::Underbilled | BucketKind::ShiftedOut => Some(-1),
            BucketKind::AmountVariance | BucketKind::CodeDiffers | BucketKind::PeriodDifference => {
                None
            }
        }
    }

    fn meaning(self) -> &'static str {
        match self {
            BucketKind::Provisional => {
                "billed, but we hold the vendor's internal error (uncharged): fetch again first"
            }
            BucketKind::ShiftedIn => "billed in the period, our check dated outside it: time zone?",
            BucketKind::ShiftedOut => "charged in the period, its line just outside it: time zone?",
            BucketKind::OutsidePeriod => "line dated outside the period: not compared",
            BucketKind::Matched => "billed and charged in our records",
            BucketKind::Overbilled => "billed, but our code is not charged: dispute",
            BucketKind::UnknownToUs => "billed, but no such check in our records: dispute",
            BucketKind::Unresolved => {
                "billed, but we have no final answer (pending, failed): fetch, then reconcile again"
            }
            BucketKind::UnknownCode => "billed for a code not in the code table: decide",
            BucketKind::Duplicate => "the same check billed again: dispute",
            BucketKind::Underbilled => "charged in our records, not billed in the period",
            BucketKind::AmountVariance => {
                "line amount differs from --price (a flag: overlaps the buckets above)"
            }
            BucketKind::CodeDiffers => {
                "statement code differs from ours (a flag: overlaps the buckets above)"
            }
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
    /// What each item adds to `net_difference`; `null` for flags that overlap other buckets.
    pub effect: Option<i64>,
    /// A flag on top of another bucket, not one of the exclusive buckets.
    pub overlaps: bool,
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
    /// Which time dates our checks (as in the reports).
    pub date_by: DateBy,
}

struct DetailSink {
    writer: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
    path: PathBuf,
    kept: Vec<Detail>,
    totals: BTreeMap<BucketKind, BucketTotal>,
}

impl DetailSink {
    fn add(&mut self, d: Detail, amount: Decimal) -> Result<(), ReconcileError> {
        let total = self.totals.entry(d.bucket).or_insert_with(|| BucketTotal {
            effect: d.bucket.effect(),
            overlaps: matches!(
                d.bucket,
                BucketKind::AmountVariance | BucketKind::CodeDiffers
            ),
            ..BucketTotal::default()
        });
        total.count += 1;
        total.amount += amount;
        if matches!(d.bucket, BucketKind::Matched | BucketKind::OutsidePeriod) {
            // Not discrepancies; outside lines are counted, not listed.
            if d.bucket == BucketKind::Matched {
                return Ok(());
            }
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
                                 time INTEGER, code INTEGER, amount TEXT, cid INTEGER,
                                 inp INTEGER);",
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
        .filter(|(k, _)| !matches!(**k, BucketKind::Matched | BucketKind::OutsidePeriod))
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

/// What the line loop needs of one statement line and our check.
struct LineRow {
    line: i64,
    s_time: Option<i64>,
    s_code: Option<i64>,
    s_amount: Option<String>,
    in_period: bool,
    /// Its place among the lines of the same check on the same side of the period.
    nth: i64,
    found: bool,
    class: Class,
    our_status: Option<String>,
    our_code: Option<i64>,
    our_time: Option<i64>,
    /// Our check is dated inside the period.
    check_in: bool,
    /// Our check has a line inside the period.
    has_line_in: bool,
    /// The first of this check's lines dated outside the period but within the boundary hours.
    shift_line: Option<i64>,
    ids: (Option<String>, Option<String>),
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
    // The period compared: the flags, else the statement's own first and last day.
    let flags = Window::new(
        &opts.tz_name,
        Period::Day,
        opts.from.as_deref(),
        opts.to.as_deref(),
    )?;
    let (min_time, max_time): (Option<i64>, Option<i64>) =
        conn.query_row("SELECT min(time), max(time) FROM temp.stmt", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let local = |ms: i64| flags.local_date(ms);
    let from = flags.from.or_else(|| min_time.and_then(local));
    let to = flags.to.or_else(|| max_time.and_then(local));
    let window = Window::new(
        &opts.tz_name,
        Period::Day,
        from.map(|d| d.to_string()).as_deref(),
        to.map(|d| d.to_string()).as_deref(),
    )?
    .dated_by(opts.date_by);
    let bounds = window.bounds_ms();
    let period_known = from.is_some() || to.is_some();
    if !period_known {
        notes.push(
            "the statement has no times and no --from/--to was given: our side is the checks \
             its lines name, and underbilled checks cannot be looked for"
                .into(),
        );
    }
    let near = i64::from(opts.boundary_hours) * 3_600_000;
    // A line without a time is taken as inside the period.
    conn.execute(
        "UPDATE temp.stmt SET inp = (time IS NULL OR ((?1 IS NULL OR time >= ?1)
                                      AND (?2 IS NULL OR time < ?2)))",
        params![bounds.0, bounds.1],
    )?;
    let mut lines = 0u64;
    let mut billed_amount = Decimal::ZERO;
    {
        let mut stmt = conn.prepare(
            "SELECT s.line, s.liveness_id, s.sequence_id, s.time, s.code, s.amount, s.inp,
                    row_number() OVER (
                        PARTITION BY s.inp,
                            coalesce('c' || s.cid, 'i' || s.liveness_id, 's' || s.sequence_id)
                        ORDER BY s.line),
                    c.liveness_id, c.sequence_id, c.status, c.code, c.event_time, c.fetched_at,
                    EXISTS (SELECT 1 FROM temp.stmt i WHERE i.cid = s.cid AND i.inp),
                    (SELECT min(o.line) FROM temp.stmt o WHERE o.cid = s.cid AND NOT o.inp
                        AND o.time >= ?1 - ?3 AND o.time < ?2 + ?3)
             FROM temp.stmt s LEFT JOIN checks c ON c.id = s.cid
             ORDER BY s.line",
        )?;
        let mut rows = stmt.query(params![bounds.0, bounds.1, near])?;
        while let Some(r) = rows.next()? {
            let our_status: Option<String> = r.get(10)?;
            let our_code: Option<i64> = r.get(11)?;
            let our_time = opts.date_by.time(r.get(12)?, r.get(13)?);
            let found = our_status.is_some();
            let row = LineRow {
                line: r.get(0)?,
                s_time: r.get(3)?,
                s_code: r.get(4)?,
                s_amount: r.get(5)?,
                in_period: r.get(6)?,
                nth: r.get(7)?,
                found,
                class: classify(
                    Status::from_db(our_status.as_deref().unwrap_or_default().as_bytes()),
                    our_code,
                    codes,
                ),
                our_status,
                our_code,
                our_time,
                check_in: found && dated_within(bounds, our_time),
                has_line_in: r.get(14)?,
                shift_line: r.get(15)?,
                ids: (
                    r.get::<_, Option<String>>(8)?.or(r.get(1)?),
                    r.get::<_, Option<String>>(9)?.or(r.get(2)?),
                ),
            };
            if row.in_period {
                lines += 1;
                billed_amount += line_amount(row.s_amount.as_deref(), opts.price);
            }
            sort_line(&row, codes, opts, &window, sink)?;
        }
    }

    let our_charged = our_side(conn, codes, opts, &window, period_known, sink, notes)?;
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

/// Our side of an itemised reconcile: counts every charged check dated in the period (as
/// billing does) and sorts those no line of the period bills into `underbilled` or, when their
/// line is dated just outside the period, `shifted_out`. With no period known, only the checks
/// the lines name are ours to compare.
fn our_side(
    conn: &Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    window: &Window,
    period_known: bool,
    sink: &mut DetailSink,
    notes: &mut Vec<String>,
) -> Result<i64, ReconcileError> {
    let bounds = window.bounds_ms();
    let near = i64::from(opts.boundary_hours) * 3_600_000;
    let charged_sql = crate::check::charged_sql(codes, "c.");
    // Unqualified times are `c`'s: the only table of the outer query.
    let in_window = if period_known {
        window.sql()
    } else {
        // No period: only the checks the lines name (each once) are compared.
        "?1 IS NULL AND ?2 IS NULL AND EXISTS (SELECT 1 FROM temp.stmt s WHERE s.cid = c.id)".into()
    };
    let our_charged: i64 = conn.query_row(
        &format!("SELECT count(*) FROM checks c WHERE {charged_sql} AND {in_window}"),
        params![bounds.0, bounds.1],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare(&format!(
        "SELECT c.liveness_id, c.sequence_id, c.status, c.code, c.event_time, c.fetched_at,
                (SELECT min(o.line) FROM temp.stmt o WHERE o.cid = c.id AND NOT o.inp
                    AND o.time >= ?1 - ?3 AND o.time < ?2 + ?3)
         FROM checks c
         WHERE {charged_sql} AND {in_window}
           AND NOT EXISTS (SELECT 1 FROM temp.stmt s WHERE s.cid = c.id AND s.inp)
         ORDER BY coalesce(c.event_time, c.fetched_at), c.liveness_id"
    ))?;
    let mut rows = stmt.query(params![bounds.0, bounds.1, near])?;
    let mut shift_times =
        conn.prepare("SELECT time, code, amount FROM temp.stmt WHERE line = ?1")?;
    while let Some(r) = rows.next()? {
        let t = opts.date_by.time(r.get(4)?, r.get(5)?);
        let shift_line: Option<i64> = r.get(6)?;
        let mut detail = Detail {
            bucket: BucketKind::Underbilled,
            line: None,
            liveness_id: r.get(0)?,
            sequence_id: r.get(1)?,
            statement_time: None,
            statement_code: None,
            statement_amount: None,
            our_status: r.get(2)?,
            our_code: r.get(3)?,
            our_time: t.map(format_utc),
            note: String::new(),
        };
        if let Some(line) = shift_line {
            let (s_time, s_code, s_amount): (Option<i64>, Option<i64>, Option<String>) =
                shift_times.query_row(params![line], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            detail.bucket = BucketKind::ShiftedOut;
            detail.line = Some(line as u64);
            detail.statement_time = s_time.map(format_utc);
            detail.statement_code = s_code;
            detail.statement_amount = s_amount;
            detail.note = format!(
                "ours {} is inside the period, the line {} just outside it: time zone? (--tz)",
                t.map(format_utc).unwrap_or_default(),
                s_time.map(format_utc).unwrap_or_default()
            );
        } else if let (Some(t), (Some(start), Some(end))) = (t, bounds) {
            if t - start < near {
                detail.note = format!(
                    "within {}h of the period start: possibly billed the day before (time zone?)",
                    opts.boundary_hours
                );
            } else if end - t <= near {
                detail.note = format!(
                    "within {}h of the period end: possibly billed the day after (time zone?)",
                    opts.boundary_hours
                );
            }
        }
        sink.add(detail, opts.price.unwrap_or(Decimal::ZERO))?;
    }
    // Charged checks without a time under --date-by cannot be in a bounded period: say so.
    let undated_charged: i64 = if window.bounded() {
        conn.query_row(
            &format!(
                "SELECT count(*) FROM checks c WHERE {charged_sql} AND {} IS NULL",
                opts.date_by.time_sql()
            ),
            [],
            |r| r.get(0),
        )?
    } else {
        0
    };
    if undated_charged > 0 {
        notes.push(match opts.date_by {
            DateBy::Fetch => format!(
                "{undated_charged} charged checks were never fetched and are not in our count"
            ),
            _ => format!(
                "{undated_charged} charged checks have no event time and are not in our count; \
                 --date-by event-or-fetch dates them by fetch time"
            ),
        });
    }
    Ok(our_charged)
}

/// Sorts one statement line into its bucket (see the module doc), with the flags on top.
fn sort_line(
    row: &LineRow,
    codes: &CodeTable,
    opts: &ReconcileOptions,
    window: &Window,
    sink: &mut DetailSink,
) -> Result<(), ReconcileError> {
    let amount = line_amount(row.s_amount.as_deref(), opts.price);
    let (bucket, note) = if !row.in_period {
        if row.found
            && row.class == Class::Charged
            && row.check_in
            && !row.has_line_in
            && row.shift_line == Some(row.line)
        {
            // Shown once, from our side, as `shifted_out` (both times named).
            return Ok(());
        }
        (
            BucketKind::OutsidePeriod,
            "dated outside the period: not compared".to_string(),
        )
    } else if row.nth > 1 {
        (BucketKind::Duplicate, format!("billed {} times", row.nth))
    } else if !row.found {
        (BucketKind::UnknownToUs, String::new())
    } else {
        match row.class {
            Class::Charged if row.check_in => (BucketKind::Matched, String::new()),
            Class::Charged => (
                BucketKind::ShiftedIn,
                match row.our_time {
                    None => "we have no event time for it (see --date-by)".to_string(),
                    Some(t) => format!(
                        "ours is dated {} ({}), outside the period: time zone? (--tz)",
                        format_utc(t),
                        window
                            .local_date(t)
                            .map(|d| d.to_string())
                            .unwrap_or_default()
                    ),
                },
            ),
            Class::Provisional => (
                BucketKind::Provisional,
                format!(
                    "we hold {} (internal error): fetch again before disputing",
                    crate::check::INTERNAL_ERROR
                ),
            ),
            Class::Uncharged => {
                let code = row.our_code.unwrap_or_default();
                (
                    BucketKind::Overbilled,
                    format!("code {code} is not charged ({})", codes.category(code)),
                )
            }
            Class::UnknownCode => (
                BucketKind::UnknownCode,
                format!(
                    "code {} is not in the code table",
                    row.our_code.unwrap_or_default()
                ),
            ),
            Class::Unresolved => (
                BucketKind::Unresolved,
                format!(
                    "our status is {}",
                    row.our_status.as_deref().unwrap_or_default()
                ),
            ),
        }
    };
    let detail = |bucket: BucketKind, note: String| Detail {
        bucket,
        line: Some(row.line as u64),
        liveness_id: row.ids.0.clone(),
        sequence_id: row.ids.1.clone(),
        statement_time: row.s_time.map(format_utc),
        statement_code: row.s_code,
        statement_amount: row.s_amount.clone(),
        our_status: row.our_status.clone(),
        our_code: row.our_code,
        our_time: row.our_time.map(format_utc),
        note,
    };
    sink.add(detail(bucket, note), amount)?;
    if !row.in_period {
        return Ok(());
    }
    if let (Some(price), Some(a)) = (
        opts.price,
        row.s_amount
            .as_deref()
            .and_then(|a| a.parse::<Decimal>().ok()),
    ) && a != price
    {
        sink.add(
            detail(
                BucketKind::AmountVariance,
                format!("billed {a}, price {price}"),
            ),
            a - price,
        )?;
    }
    if let (Some(sc), Some(oc)) = (row.s_code, row.our_code)
        && sc != oc
        && row.nth == 1
    {
        sink.add(
            detail(
                BucketKind::CodeDiffers,
                format!("statement {sc}, ours {oc}"),
            ),
            Decimal::ZERO,
        )?;
    }
    Ok(())
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
    let window = Window::new(&opts.tz_name, by, opts.from.as_deref(), opts.to.as_deref())?
        .dated_by(opts.date_by);
    let buckets = load_buckets(conn, &window)?;
    let mut ours: BTreeMap<String, i64> = BTreeMap::new();
    for b in &buckets {
        if classify(b.status, b.code, codes) == Class::Charged
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

/// The order buckets are shown in.
const SHOWN_ORDER: [BucketKind; 14] = [
    BucketKind::Matched,
    BucketKind::Overbilled,
    BucketKind::Provisional,
    BucketKind::UnknownToUs,
    BucketKind::Duplicate,
    BucketKind::Unresolved,
    BucketKind::UnknownCode,
    BucketKind::ShiftedIn,
    BucketKind::Underbilled,
    BucketKind::ShiftedOut,
    BucketKind::OutsidePeriod,
    BucketKind::AmountVariance,
    BucketKind::CodeDiffers,
    BucketKind::PeriodDifference,
];

/// Lays the reconcile out for people.
pub fn document(r: &Reconciliation, currency: &str) -> Document {
    let mut amounts: Vec<Decimal> = vec![r.billed_amount];
    amounts.extend(r.buckets.values().map(|b| b.amount));
    let scale = MoneyScale::of(r.our_amount, amounts.iter());
    let money = |d: Decimal| format!("{} {currency}", scale.show(d));
    let mut summary = vec![
        format!("statement {} ({}; {})", r.statement, r.shape, r.columns),
        format!(
            "period {} to {} in {}",
            r.period_from.as_deref().unwrap_or("?"),
            r.period_to.as_deref().unwrap_or("?"),
            r.zone
        ),
        format!(
            "billed: {} {} in the period ({}); charged in our records: {}{}; net difference {:+}{}",
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
    ];
    if r.shape == "itemised" {
        // The identity, in words: every exclusive bucket times its effect.
        let terms: Vec<String> = SHOWN_ORDER
            .iter()
            .filter_map(|k| {
                let t = r.buckets.get(k.as_str())?;
                let e = k.effect().filter(|e| *e != 0)?;
                Some(format!(
                    "{} {} {}",
                    if e > 0 { "+" } else { "-" },
                    t.count,
                    k.as_str()
                ))
            })
            .collect();
        summary.push(format!(
            "net difference {:+} = {}",
            r.net_difference,
            if terms.is_empty() {
                "0".to_string()
            } else {
                terms.join(" ").trim_start_matches("+ ").to_string()
            }
        ));
    }
    summary.push(format!("{} discrepancies", r.discrepancies));
    summary.extend(r.notes.iter().cloned());
    summary.push(super::billing::CLASSES_DOC.into());

    let mut buckets = Section::new(
        "Summary",
        &["bucket", "count", "effect", "amount", "meaning"],
    )
    .keyed("summary");
    for kind in SHOWN_ORDER {
        let t = r.buckets.get(kind.as_str()).cloned().unwrap_or_default();
        if t.count == 0 && matches!(kind, BucketKind::PeriodDifference) == (r.shape == "itemised") {
            continue;
        }
        buckets.tidy_row(
            &["bucket", "count", "effect", "amount", "overlaps"],
            vec![
                kind.as_str().into(),
                t.count.to_string(),
                kind.effect().map(|e| e.to_string()).unwrap_or_default(),
                scale.show(t.amount),
                (kind.effect().is_none()).to_string(),
            ],
        );
        buckets.row(vec![
            kind.as_str().into(),
            t.count.to_string(),
            kind.effect()
                .map(|e| if e == 0 { "0".into() } else { format!("{e:+}") })
                .unwrap_or_default(),
            scale.show(t.amount),
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
        )
        .keyed("periods");
        for p in &r.periods {
            s.row(vec![
                p.period.clone(),
                p.billed.to_string(),
                p.ours.to_string(),
                format!("{:+}", p.difference),
                p.billed_amount.map(|a| scale.show(a)).unwrap_or_default(),
                p.amount_difference
                    .map(|a| scale.show(a))
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
        let text = |v: Option<String>| v.unwrap_or_default();
        let number = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        details.tidy_row(
            &DETAIL_COLUMNS,
            vec![
                d.bucket.as_str().into(),
                d.line.map(|l| l.to_string()).unwrap_or_default(),
                text(d.liveness_id.clone()),
                text(d.sequence_id.clone()),
                text(d.statement_time.clone()),
                number(d.statement_code),
                text(d.statement_amount.clone()),
                text(d.our_status.clone()),
                number(d.our_code),
                text(d.our_time.clone()),
                d.note.clone(),
            ],
        );
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
        let mut s =
            Section::new("Malformed statement lines", &["line", "problem"]).keyed("malformed");
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

/// The columns of `--details` and of the `discrepancies` CSV table.
const DETAIL_COLUMNS: [&str; 11] = [
    "bucket",
    "line",
    "liveness_id",
    "sequence_id",
    "statement_time",
    "statement_code",
    "statement_amount",
    "our_status",
    "our_code",
    "our_time",
    "note",
];

/// Writes the details header even when there are no discrepancies, so scripts can rely on it.
pub fn ensure_details_header(path: &Path) -> std::io::Result<()> {
    let empty = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    if empty {
        let mut f = std::fs::File::create(path)?;
        writeln!(f, "{}", DETAIL_COLUMNS.join(","))?;
    }
    Ok(())
}
