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
//! - `provisional` (+1): billed, but we hold 11350 (uncharged) and have not asked again since
//!   the period: fetch again before disputing; `provisional_confirmed` (+1) when our last
//!   answer came after the period's end;
//! - `unknown_to_us` (+1): no such id or sequence id in our records;
//! - `unresolved` (+1): we have no final answer (pending, failed): fetch, then reconcile again;
//! - `unknown_code` (+1): our code is not in the code table: needs a decision;
//! - `duplicate` (+1): the same check on a second (third...) line in the period;
//! - `credit` (+1): a line with a negative amount;
//! - `shifted_in` (+1): billed in the period, but our charged check is dated outside it (or
//!   undated): often a time-zone shift;
//! - `underbilled` (-1): charged in our records in the period, on no line; noted when within
//!   `--boundary-hours` of the period's edge;
//! - `shifted_out` (-1): charged in our records in the period, its line dated just outside it
//!   (within `--boundary-hours`): a time-zone shift, both times shown;
//! - `outside_period` (0): a line dated outside the period: never matched, not in `lines`;
//! - `amount_variance` and `code_differs` are flags on top of a line's bucket (no effect): a
//!   line's amount differs from its expected amount; the statement's code differs from ours.
//!   The expected amount is `--price`, or under a price list (`--prices`) the price the list
//!   gives our charged check: its period, and its tier by its place among our charged checks of
//!   its calendar month (counted from the month's first day, before `--from` too). A line whose
//!   check we do not charge has no expected amount under a list.
//!
//! With a price, [`Bridge`] ties `billed - expected` to the buckets' amounts, the matched
//! lines' variance (`above_price`, `below_price`) and rounding, and sums them into the three
//! totals (to dispute, owed, to check; see `bucket.rs`).
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
use super::{ReportError, Window, load_quarter_hours};
use crate::check::{Class, DateBy, Period, Status, classify, dated_within};
use crate::codes::CodeTable;
use crate::prices::{PriceList, PriceRate, Pricer};
use crate::setting::Setting;
use crate::statement::{self, Malformed, PeriodKey, Shape, StatementColumns, StatementError};
use crate::timestamp::format_utc;
use crate::zone::Zone;

mod bucket;
pub(crate) use bucket::*;
mod bridge;
pub(crate) use bridge::*;
mod line_bucket;
use line_bucket::*;
mod matching;
use matching::*;
mod summary;
use summary::*;
mod summary_value;
use summary_value::Valuer;
mod list_prices;
use list_prices::*;
mod layout;
pub(crate) use layout::*;
mod dispute;
pub(crate) use dispute::*;
mod zone_hint;
pub(crate) use zone_hint::ZoneHint;

/// Detail rows kept per bucket for the printed report (all go to `--details`).
const SHOWN_PER_BUCKET: usize = 50;

/// Errors of a reconcile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ReconcileError {
    #[error(transparent)]
    Statement(#[from] StatementError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("spooling the lines to dispute to a temporary file: {0}")]
    Spool(#[source] std::io::Error),
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

/// One discrepancy (or match), with its evidence.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Detail {
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

impl Detail {
    /// The detail with every text cell as `guard` writes it.
    fn guarded(&self, guard: crate::text::CellGuard) -> Detail {
        let cell = |s: &Option<String>| s.as_deref().map(|s| guard.apply(s).into_owned());
        Detail {
            liveness_id: cell(&self.liveness_id),
            sequence_id: cell(&self.sequence_id),
            statement_time: cell(&self.statement_time),
            statement_amount: cell(&self.statement_amount),
            our_status: cell(&self.our_status),
            our_time: cell(&self.our_time),
            note: guard.apply(&self.note).into_owned(),
            ..self.clone()
        }
    }
}

/// Count and amount of one bucket.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub(crate) struct BucketTotal {
    pub count: u64,
    /// What each item adds to `net_difference`; `null` for flags that overlap other buckets.
    pub effect: Option<i64>,
    /// A flag on top of another bucket, not one of the exclusive buckets.
    pub overlaps: bool,
    #[serde(serialize_with = "crate::money::exact")]
    pub amount: Decimal,
    /// Details beyond those kept in this report (all are in `--details`).
    pub not_shown: u64,
}

/// A period row of a summary statement.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct PeriodComparison {
    pub period: String,
    pub billed: i64,
    pub ours: i64,
    pub difference: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub billed_amount: Option<Decimal>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub amount_difference: Option<Decimal>,
    pub lines: Vec<u64>,
}

/// The result of a reconcile; its JSON form is the `--format json` output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Reconciliation {
    pub report: &'static str,
    pub statement: String,
    pub shape: &'static str,
    pub columns: String,
    pub zone: String,
    /// The zone statement times without an offset are read in (`--statement-tz`, else `zone`).
    pub statement_zone: String,
    /// Itemised lines dated on another day than their check, in `zone` (none for summaries).
    pub day_mismatches: Option<u64>,
    /// The offset that puts nearly all of those on their check's day, when one does.
    pub zone_hint: Option<ZoneHint>,
    /// The period compared (local dates, inclusive).
    pub period_from: Option<String>,
    pub period_to: Option<String>,
    pub lines: u64,
    #[serde(serialize_with = "crate::money::exact")]
    pub billed_amount: Decimal,
    pub our_charged: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub our_amount: Option<Decimal>,
    pub net_difference: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub net_amount: Option<Decimal>,
    /// The bridge from the billed total to our expected total (with a price or price list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<Bridge>,
    pub discrepancies: u64,
    pub buckets: BTreeMap<&'static str, BucketTotal>,
    pub periods: Vec<PeriodComparison>,
    pub malformed: Vec<Malformed>,
    pub details: Vec<Detail>,
    pub notes: Vec<String>,
    /// Our charged checks a price list's `rounding = "line"` bills at 0 (a note says so).
    pub billed_at_zero: i64,
    /// The scale amounts are shown at under a price list: the list's, widened to the decimals
    /// the statement bills at (none with a flat price).
    #[serde(skip)]
    pub list_scale: Option<u32>,
    /// The lines of the "to dispute" buckets, spooled for the dispute file (only under
    /// `--dispute`).
    #[serde(skip)]
    pub disputes: Option<Disputes>,
}

/// Options of a reconcile.
#[derive(Debug, Clone)]
pub(crate) struct ReconcileOptions {
    pub statement: PathBuf,
    pub columns: StatementColumns,
    pub zone: Zone,
    /// The zone statement times without an offset are read in, when not `zone`.
    pub statement_zone: Option<Zone>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub price: Option<Decimal>,
    /// A price list (then `price` is `None`).
    pub prices: Option<PriceList>,
    pub boundary_hours: u32,
    pub details: Option<PathBuf>,
    /// Keep every line of the "to dispute" buckets for the dispute file (`--dispute`).
    pub dispute: bool,
    /// Write the `--details` file's cells as they are (no formula neutralising).
    pub raw_cells: bool,
    /// Which time dates our checks (as in the reports).
    pub date_by: DateBy,
    /// The partner code whose checks the statement is matched against (all when `None`).
    pub account: Option<String>,
}

struct DetailSink {
    writer: Option<csv::Writer<std::io::BufWriter<std::fs::File>>>,
    /// The details file is CSV like any report: its text cells are guarded as a report's.
    guard: crate::text::CellGuard,
    path: PathBuf,
    kept: Vec<Detail>,
    totals: BTreeMap<BucketKind, BucketTotal>,
    /// Every "to dispute" line and its disputed amount, spooled to a temporary file when a
    /// dispute file is asked for.
    disputed: Option<Spool>,
}

impl DetailSink {
    /// A sink writing every detail to `--details` (created now) when given.
    fn open(opts: &ReconcileOptions) -> Result<DetailSink, ReconcileError> {
        Ok(DetailSink {
            writer: match &opts.details {
                Some(p) => Some(csv::Writer::from_writer(std::io::BufWriter::new(
                    std::fs::File::create(p).map_err(|source| ReconcileError::Details {
                        path: p.clone(),
                        source,
                    })?,
                ))),
                None => None,
            },
            guard: crate::text::CellGuard::new(true, opts.raw_cells),
            path: opts.details.clone().unwrap_or_default(),
            kept: Vec::new(),
            totals: BTreeMap::new(),
            disputed: match opts.dispute {
                true => Some(Spool::open().map_err(ReconcileError::Spool)?),
                false => None,
            },
        })
    }

    /// Counts one line or check of `d.bucket` at `amount`, and keeps its details row.
    fn add(&mut self, d: Detail, amount: Decimal) -> Result<(), ReconcileError> {
        self.add_n(d, 1, amount)
    }

    /// Counts `n` items of `bucket` at `amount` in all, with no details row (a summary
    /// statement's periods).
    fn tally(&mut self, bucket: BucketKind, n: u64, amount: Decimal) -> &mut BucketTotal {
        let total = self.totals.entry(bucket).or_insert_with(|| BucketTotal {
            effect: bucket.effect(),
            overlaps: bucket.overlaps(),
            ..BucketTotal::default()
        });
        total.count += n;
        total.amount += amount;
        total
    }

    /// The lines that could not be read: how many, and what those whose amount was read bill.
    fn unreadable(&self) -> TotalAmount {
        self.totals
            .get(&BucketKind::Unreadable)
            .map(|t| TotalAmount {
                count: t.count,
                amount: t.amount,
            })
            .unwrap_or_default()
    }

    /// Counts `n` items of `d.bucket` at `amount` in all (a summary period's checks), and
    /// keeps the one details row that shows them.
    fn add_n(&mut self, d: Detail, n: u64, amount: Decimal) -> Result<(), ReconcileError> {
        if let Some(spool) = &mut self.disputed
            && d.bucket.total() == Some(Total::ToDispute)
        {
            spool.push(&d, amount).map_err(ReconcileError::Spool)?;
        }
        self.tally(d.bucket, n, amount);
        if matches!(d.bucket, BucketKind::Matched | BucketKind::OutsidePeriod) {
            // Not discrepancies; outside lines are counted, not listed.
            if d.bucket == BucketKind::Matched {
                return Ok(());
            }
        }
        if let Some(w) = &mut self.writer {
            w.serialize(d.guarded(self.guard))
                .map_err(|e| ReconcileError::Details {
                    path: self.path.clone(),
                    source: std::io::Error::other(e),
                })?;
        }
        let shown = self.kept.iter().filter(|k| k.bucket == d.bucket).count();
        if shown < SHOWN_PER_BUCKET {
            self.kept.push(d);
        } else if let Some(total) = self.totals.get_mut(&d.bucket) {
            total.not_shown += 1;
        }
        Ok(())
    }
}

impl Reconciliation {
    /// A reconcile of `opts.statement` of `shape` with nothing found yet.
    fn empty(opts: &ReconcileOptions, shape: &'static str, columns: String) -> Reconciliation {
        Reconciliation {
            report: "reconcile",
            statement: opts.statement.display().to_string(),
            shape,
            columns,
            zone: opts.zone.name.clone(),
            statement_zone: opts.statement_read_zone().name.clone(),
            day_mismatches: None,
            zone_hint: None,
            period_from: None,
            period_to: None,
            lines: 0,
            billed_amount: Decimal::ZERO,
            our_charged: 0,
            our_amount: None,
            net_difference: 0,
            net_amount: None,
            bridge: None,
            discrepancies: 0,
            buckets: BTreeMap::new(),
            periods: Vec::new(),
            malformed: Vec::new(),
            details: Vec::new(),
            disputes: None,
            notes: Vec::new(),
            billed_at_zero: 0,
            list_scale: None,
        }
    }
}

impl ReconcileOptions {
    /// The zone the statement's times without an offset are read in: `--statement-tz`, else
    /// the report's zone.
    pub(crate) fn statement_read_zone(&self) -> &Zone {
        self.statement_zone.as_ref().unwrap_or(&self.zone)
    }
}

/// Runs a reconcile of `opts.statement` against the database behind `conn`.
pub(crate) fn reconcile(
    conn: &mut Connection,
    codes: &CodeTable,
    opts: &ReconcileOptions,
) -> Result<Reconciliation, ReconcileError> {
    let read_in = opts.statement_read_zone();
    let (shape, malformed, summary_lines, decimals) = load_statement(conn, opts, &read_in.tz)?;
    let mut sink = DetailSink::open(opts)?;
    let mut notes = Vec::new();
    unreadable_lines(&malformed, &mut sink, &mut notes);
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
    conn.execute_batch("DROP TABLE IF EXISTS temp.stmt; DROP TABLE IF EXISTS temp.priced;")?;
    result.malformed = malformed;
    result.list_scale = opts.prices.as_ref().map(|l| l.money.scale.max(decimals));
    result.discrepancies = sink
        .totals
        .iter()
        // above_price and below_price repeat amount_variance's lines (or periods); a
        // summary's period_difference counts the periods its buckets' checks are in.
        .filter(|(k, _)| {
            !matches!(
                **k,
                BucketKind::Matched
                    | BucketKind::OutsidePeriod
                    | BucketKind::AbovePrice
                    | BucketKind::BelowPrice
                    | BucketKind::PeriodDifference
                    // Counted below, as the malformed lines.
                    | BucketKind::Unreadable
            )
        })
        .map(|(_, t)| t.count)
        .sum::<u64>()
        + result.malformed.len() as u64;
    result.buckets = sink
        .totals
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    result.details = sink.kept;
    if let Some(spool) = sink.disputed {
        result.disputes = Some(spool.finish().map_err(ReconcileError::Spool)?);
    }
    if let Some(l) = &opts.prices {
        notes.push(format!(
            "expected amounts from the price list {} ({})",
            l.source.display(),
            l.money.describe_rounding()
        ));
        if result.billed_at_zero > 0 {
            notes.push(crate::prices::billed_at_zero_note(
                result.billed_at_zero,
                l.money.scale,
            ));
        }
    }
    result.notes.extend(notes);
    Ok(result)
}

/// The lines that could not be read are still billed: they are counted in `unreadable` at
/// the amounts that can be read of them (the bridge holds them, to check), and those whose
/// amount cannot be read either are named in a note.
fn unreadable_lines(malformed: &[Malformed], sink: &mut DetailSink, notes: &mut Vec<String>) {
    if malformed.is_empty() {
        return;
    }
    let amount = malformed.iter().filter_map(|m| m.amount).sum();
    sink.tally(BucketKind::Unreadable, malformed.len() as u64, amount);
    let unpriced: Vec<u64> = malformed
        .iter()
        .filter(|m| m.amount.is_none())
        .map(|m| m.line)
        .collect();
    if let Some(first) = unpriced.first() {
        let shown: Vec<String> = unpriced.iter().take(10).map(u64::to_string).collect();
        notes.push(format!(
            "{} of the lines that could not be read show no amount that can be read either \
             (line{} {}{}): the bridge counts them in unreadable at 0; read them in the statement",
            unpriced.len(),
            if unpriced.len() == 1 { "" } else { "s" },
            if unpriced.len() == 1 {
                first.to_string()
            } else {
                shown.join(", ")
            },
            if unpriced.len() > 10 { ", ..." } else { "" },
        ));
    }
}

/// A statement read: its shape, the lines it could not read, its summary lines, and the most
/// decimals an amount of it has.
type Loaded = (Shape, Vec<Malformed>, Vec<statement::SummaryLine>, u32);

/// Reads the statement: itemised lines into the temporary table `stmt` (in one transaction),
/// summary lines into memory.
fn load_statement(
    conn: &mut Connection,
    opts: &ReconcileOptions,
    zone: &TimeZone,
) -> Result<Loaded, ReconcileError> {
    // The statement table may be large: keep it in a temporary file, not in memory.
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.execute_batch(
        "DROP TABLE IF EXISTS temp.stmt;
         CREATE TEMP TABLE stmt (line INTEGER PRIMARY KEY, liveness_id TEXT, sequence_id TEXT,
                                 time INTEGER, code INTEGER, amount TEXT, cid INTEGER,
                                 inp INTEGER);",
    )?;
    let mut summary_lines = Vec::new();
    let mut decimals = 0;
    let mut widen = |a: Option<Decimal>| {
        decimals = a.map_or(decimals, |a| decimals.max(a.normalize().scale()));
    };
    let tx = conn.transaction()?;
    let (shape, malformed) = {
        let mut insert = tx.prepare(
            "INSERT OR REPLACE INTO stmt (line, liveness_id, sequence_id, time, code, amount)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        statement::read(
            &opts.statement,
            &opts.columns,
            zone,
            |item| {
                widen(item.amount);
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
    let decimals = summary_lines
        .iter()
        .map(|l| l.amount)
        .fold(decimals, |d, a| {
            a.map_or(d, |a| d.max(a.normalize().scale()))
        });
    Ok((shape, malformed, summary_lines, decimals))
}

/// Whether the reconcile is clean within the tolerances.
pub(crate) fn within_tolerance(r: &Reconciliation, count: u64, amount: Decimal) -> bool {
    r.discrepancies <= count && r.net_amount.is_none_or(|a| a.abs() <= amount)
}
