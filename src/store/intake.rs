//! Registering a run's input ids, and listing the ids that still need the vendor.
//!
//! Policy: a fetch's input is registered in one transaction before the first request, so an
//! input error (exit 2) leaves the database as it was and sends nothing; or, at no rate limit,
//! in committed chunks while the requests run (`chunked`, after a reading that found no
//! error). An id already in the database
//! keeps its result; a run only re-asks ids that are pending, failed, or answered 11350.
//! Duplicates are detected by the database itself (an id already marked with this run), so
//! memory does not grow with the input. Unreadable input times are an input error too, checked
//! before the commit, unless `--bad-times fetch-time` asked to date those checks by their fetch
//! time: then each is marked `time_basis = 'fetch'` and the run counts them in `runs.bad_times`.
//! Each id is recorded under the run's account, adopted from `unknown`, or set aside when
//! another account read it first (the rules are in [`crate::store::account`]).

use rusqlite::{Connection, params};

use crate::input::{IdRow, InputError, InputOptions, InputStats, Source, read_ids};
use crate::store::StoreError;
use crate::store::account::{
    OtherAccount, RunAccount, adopt_unknown, other_accounts_exist, set_aside_other_accounts,
    unknown_exist,
};

/// Errors registering input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntakeError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for IntakeError {
    fn from(e: rusqlite::Error) -> Self {
        IntakeError::Store(StoreError::Query(e))
    }
}

/// What registering counted on top of [`InputStats`].
#[derive(Debug, Default, Clone)]
pub struct IntakeStats {
    pub input: InputStats,
    /// Ids seen more than once in this run's input (fetched once).
    pub duplicates: u64,
    /// Distinct ids this run's input holds.
    pub distinct: u64,
    /// Duplicates whose event time or other columns differ from the first mention (which is
    /// the one kept).
    pub conflicts: u64,
    /// The first few conflicting duplicates, as `file:line: "id" ... (first at file:line)`.
    pub conflict_examples: Vec<String>,
    /// Input rows naming ids another account read first: not registered, never asked.
    pub other_account: OtherAccount,
    /// Checks recorded as `unknown` this run adopted for its account.
    pub adopted: u64,
    /// Stored checks outside the input that `--pending` asks again.
    pub pending: u64,
    /// Stored checks this input gives another event time (kept, or fixed by `--fix-times`).
    pub retimed: crate::store::retimed::Retimed,
}

/// Conflicting duplicates quoted in the warning.
const CONFLICT_EXAMPLES: usize = 3;

/// Ids registered by one statement. SQLite journals each page a statement touches once per
/// statement, so one upsert of 64 rows costs less per id than 64 upserts (measurements in
/// BENCHMARKS.md).
pub(super) const INTAKE_ROWS: usize = 64;

/// Reads every source and records its ids against `run` under `account`, all in one
/// transaction.
pub fn register(
    conn: &mut Connection,
    run: i64,
    account: &RunAccount,
    sources: &[Source],
    opts: &InputOptions,
) -> Result<IntakeStats, IntakeError> {
    // One transaction holds every new row and index entry, and a million ids touch far more
    // pages than SQLite's 2 MiB cache: it would spill pages to the WAL and read them back,
    // again and again. Rule: an 8 MiB cache for this step alone, and statement journals in
    // memory (a few MiB of peak memory before the first request buys the intake of large
    // inputs; BENCHMARKS.md has the numbers). The fetch keeps the default cache.
    // Both are put back afterwards (a report's large sort should spill to a file, not RAM).
    with_intake_cache(conn, |conn| {
        register_in_one_transaction(conn, run, account, sources, opts)
    })
}

/// Runs `register` with the intake's page cache and statement journals in memory, and puts
/// both back afterwards (the rule: [`register`]).
fn with_intake_cache<T>(
    conn: &mut Connection,
    register: impl FnOnce(&mut Connection) -> Result<T, IntakeError>,
) -> Result<T, IntakeError> {
    let cache: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
    let temp: i64 = conn.query_row("PRAGMA temp_store", [], |r| r.get(0))?;
    conn.execute_batch(&format!(
        "PRAGMA temp_store = MEMORY; PRAGMA cache_size = -{INTAKE_CACHE_KIB};"
    ))?;
    let registered = register(conn);
    let restored = conn.execute_batch(&format!(
        "PRAGMA cache_size = {cache}; PRAGMA temp_store = {temp};"
    ));
    // A failed registration reports its own error, not a failure to put the pragmas back.
    let stats = registered?;
    restored?;
    Ok(stats)
}

/// The page cache while registering input, in KiB.
pub(super) const INTAKE_CACHE_KIB: i64 = 8 * 1024;

fn register_in_one_transaction(
    conn: &mut Connection,
    run: i64,
    account: &RunAccount,
    sources: &[Source],
    opts: &InputOptions,
) -> Result<IntakeStats, IntakeError> {
    let tx = conn.transaction()?;
    let mut stats = IntakeStats::default();
    let mut pending: Vec<IdRow> = Vec::with_capacity(INTAKE_ROWS);
    let mut batch = Batch::new(&tx, run, account)?;
    batch.fix_times = opts.fix_times;
    let mut input = InputStats::default();
    for source in sources {
        let mut insert = |row: IdRow| -> Result<(), rusqlite::Error> {
            pending.push(row);
            if pending.len() == INTAKE_ROWS {
                batch.flush(&tx, &mut pending, &mut stats)?;
            }
            Ok(())
        };
        read_ids(source, opts, &mut input, &mut insert)??;
    }
    batch.flush(&tx, &mut pending, &mut stats)?;
    stats.input = input;
    let input = &stats.input;
    // Unreadable times stop the run here, before the commit, unless they are to be dated by
    // fetch time: then the run records how many.
    if let Some(e) = input.bad_times_error(opts) {
        return Err(e.into());
    }
    record_intake(&tx, run, &stats)?;
    tx.commit()?;
    Ok(stats)
}

/// Records in the run's row what reading its input counted (times dated by fetch, other
/// accounts' rows, stored checks given another time).
pub(crate) fn record_intake(
    conn: &Connection,
    run: i64,
    stats: &IntakeStats,
) -> Result<(), rusqlite::Error> {
    let fixed = if stats.retimed.fixed {
        stats.retimed.count
    } else {
        0
    };
    conn.execute(
        "UPDATE runs SET bad_times = ?2, other_account = ?3, time_differs = ?4, times_fixed = ?5
         WHERE id = ?1",
        params![
            run,
            stats.input.bad_times as i64,
            stats.other_account.rows as i64,
            stats.retimed.count as i64,
            fixed as i64
        ],
    )?;
    Ok(())
}

/// How a run registers batches of rows: its run and account, and what was true of the
/// database when it began.
pub(super) struct Batch<'a> {
    run: i64,
    account: &'a RunAccount,
    /// Whether another account's check existed (this run only adds checks of `account`, so
    /// none appears while registering).
    others: bool,
    unknown: bool,
    /// `--fix-times`: stored checks take the event times the input gives them.
    pub(super) fix_times: bool,
}

impl<'a> Batch<'a> {
    pub(super) fn new(
        conn: &Connection,
        run: i64,
        account: &'a RunAccount,
    ) -> Result<Batch<'a>, rusqlite::Error> {
        Ok(Batch {
            run,
            account,
            others: other_accounts_exist(conn, account)?,
            unknown: unknown_exist(conn)?,
            fix_times: false,
        })
    }

    /// Registers `pending` (emptied) and counts what it found in `stats`.
    pub(super) fn flush(
        &self,
        conn: &Connection,
        pending: &mut Vec<IdRow>,
        stats: &mut IntakeStats,
    ) -> Result<(), rusqlite::Error> {
        self.flush_into(conn, pending, stats, None)
    }

    /// [`Batch::flush`], and appends to `queue` the ids it registered for this run that need
    /// the vendor under the run's account (each id once: a duplicate is registered once).
    pub(super) fn flush_into(
        &self,
        conn: &Connection,
        pending: &mut Vec<IdRow>,
        stats: &mut IntakeStats,
        queue: Option<&mut Vec<ToFetch>>,
    ) -> Result<(), rusqlite::Error> {
        if self.others {
            set_aside_other_accounts(conn, self.account, pending, &mut stats.other_account)?;
        }
        for conflict in conflicting_duplicates(conn, self.run, pending)? {
            stats.conflicts += 1;
            if stats.conflict_examples.len() < CONFLICT_EXAMPLES {
                stats.conflict_examples.push(conflict);
            }
        }
        crate::store::retimed::compare(
            conn,
            self.run,
            pending,
            self.fix_times,
            &mut stats.retimed,
        )?;
        let registered = upsert(conn, self.run, self.account, pending)?;
        if self.unknown {
            stats.adopted += adopt_unknown(conn, self.account, pending)?;
        }
        if let Some(queue) = queue {
            // An `unknown` check the run registered was adopted just above: it is the run's.
            queue.extend(
                registered
                    .iter()
                    .filter(|r| r.needs_vendor && (r.ours || self.unknown))
                    .map(|r| r.id.clone()),
            );
        }
        let registered = registered.len() as u64;
        stats.distinct += registered;
        stats.duplicates += pending.len() as u64 - registered;
        pending.clear();
        Ok(())
    }
}

/// What the first mention of an id in this run registered.
struct FirstMention {
    event_time: Option<i64>,
    attrs: Option<String>,
    source: String,
}

/// The rows of `rows` that repeat an id this run already has (registered by an earlier batch,
/// or earlier in `rows`) with another event time or other columns, described for a warning.
/// The first mention is kept; a repeat that carries no time or no columns conflicts with
/// nothing. One indexed query per batch, so memory stays flat.
fn conflicting_duplicates(
    conn: &Connection,
    run: i64,
    rows: &[IdRow],
) -> Result<Vec<String>, rusqlite::Error> {
    use std::collections::HashMap;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&first_mentions_sql(rows.len()))?;
    let params = std::iter::once(&run as &dyn rusqlite::ToSql)
        .chain(rows.iter().map(|r| &r.liveness_id as &dyn rusqlite::ToSql));
    let mut first: HashMap<String, FirstMention> = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            Ok((
                r.get::<_, String>(0)?,
                FirstMention {
                    event_time: r.get(1)?,
                    attrs: r.get(2)?,
                    source: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                },
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for row in rows {
        let Some(kept) = first.get(&row.liveness_id) else {
            first.insert(
                row.liveness_id.clone(),
                FirstMention {
                    event_time: row.event_time_ms,
                    attrs: row.attrs.clone(),
                    source: row.source.clone(),
                },
            );
            continue;
        };
        let time_differs = row.event_time_ms.is_some() && row.event_time_ms != kept.event_time;
        let attrs_differ = row.attrs.is_some() && row.attrs != kept.attrs;
        if !(time_differs || attrs_differ) {
            continue;
        }
        let mut what = Vec::new();
        if time_differs {
            what.push(format!(
                "event time {} (kept: {})",
                shown_time(row.event_time_ms),
                shown_time(kept.event_time)
            ));
        }
        if attrs_differ {
            what.push(format!(
                "other columns {} (kept: {})",
                crate::input::shown(row.attrs.as_deref().unwrap_or("{}")),
                crate::input::shown(kept.attrs.as_deref().unwrap_or("{}"))
            ));
        }
        out.push(format!(
            "{}: \"{}\" first listed at {}, again with {}",
            row.source,
            crate::input::shown(&row.liveness_id),
            kept.source,
            what.join(" and ")
        ));
    }
    Ok(out)
}

/// The query for the first mentions of `n` ids in a run. It looks the ids up by the unique
/// `liveness_id` index: `+last_run` keeps SQLite from walking the run's index instead, which
/// visits every id the run registered so far for each batch (quadratic in the input's size).
fn first_mentions_sql(n: usize) -> String {
    let marks = vec!["?"; n].join(", ");
    format!(
        "SELECT liveness_id, event_time, attrs, source FROM checks
         WHERE +last_run = ? AND liveness_id IN ({marks})"
    )
}

fn shown_time(ms: Option<i64>) -> String {
    match ms.map(jiff::Timestamp::from_millisecond) {
        Some(Ok(t)) => t.to_string(),
        Some(Err(_)) => ms.unwrap_or_default().to_string(),
        None => "none".into(),
    }
}

/// Registers `rows` and returns how many it registered for this run: a new id is inserted; an
/// id already in the database is marked with this run, keeping its result, and gains an event
/// time or attributes it lacked. An id this run already registered changes nothing (a
/// duplicate). Rows of another account are set aside before this (they never reach it): a new
/// id is recorded under `account`, and a check of `account` that still needs the vendor takes
/// this run's endpoint host (where it will be asked). The partner code of a known check is not
/// written here (it is indexed: writing it for every re-read id would rewrite its index entry
/// too); `unknown` checks are adopted by [`adopt_unknown`] afterwards.
fn upsert(
    conn: &Connection,
    run: i64,
    account: &RunAccount,
    rows: &[IdRow],
) -> Result<Vec<Registered>, rusqlite::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; rows.len()].join(", ");
    // A check dated by fetch time (its input time unreadable) that was already fetched takes
    // its fetch time now; one not fetched yet takes it when its result is stored (trigger).
    let mut stmt = conn.prepare_cached(&format!(
        "INSERT INTO checks
             (liveness_id, event_time, time_basis, attrs, source, first_run, last_run,
              partner_code, endpoint_host)
         VALUES {values}
         ON CONFLICT (liveness_id) DO UPDATE SET
             last_run = excluded.last_run,
             endpoint_host = CASE WHEN checks.partner_code = excluded.partner_code
                     AND {needs_vendor}
                 THEN excluded.endpoint_host ELSE checks.endpoint_host END,
             time_basis = CASE WHEN checks.event_time IS NULL
                 THEN excluded.time_basis ELSE checks.time_basis END,
             event_time = coalesce(checks.event_time, excluded.event_time,
                 CASE WHEN excluded.time_basis = 'fetch' THEN checks.fetched_at END),
             attrs = coalesce(checks.attrs, excluded.attrs)
         WHERE checks.last_run IS NOT excluded.last_run
         RETURNING id, liveness_id, {needs_vendor}, partner_code = ?",
        needs_vendor = crate::check::NEEDS_VENDOR_SQL,
    ))?;
    let fetch: Option<&str> = Some("fetch");
    let params = rows.iter().flat_map(|row| -> [&dyn rusqlite::ToSql; 9] {
        [
            &row.liveness_id,
            &row.event_time_ms,
            if row.dated_by_fetch {
                &fetch
            } else {
                &None::<&str>
            },
            &row.attrs,
            &row.source,
            &run,
            &run,
            &account.partner_code,
            &account.endpoint_host,
        ]
    });
    let ours: &dyn rusqlite::ToSql = &account.partner_code;
    let rows = stmt.query_map(
        rusqlite::params_from_iter(params.chain(std::iter::once(ours))),
        |r| {
            Ok(Registered {
                id: ToFetch {
                    check: r.get(0)?,
                    liveness_id: r.get(1)?,
                },
                needs_vendor: r.get(2)?,
                ours: r.get(3)?,
            })
        },
    )?;
    rows.collect()
}

/// A row [`upsert`] registered for the run (inserted, or marked with the run).
struct Registered {
    id: ToFetch,
    needs_vendor: bool,
    /// Recorded under the run's account (else `unknown`: other accounts' rows never get here).
    ours: bool,
}

/// Counts the ids of `run` that need the vendor and belong to `partner_code`. (`+partner_code`:
/// the run's index finds the rows, never the account's, which may hold millions.)
pub fn count_to_fetch(conn: &Connection, run: i64, partner_code: &str) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        &format!(
            "SELECT count(*) FROM checks WHERE last_run = ?1 AND +partner_code = ?2 AND {}",
            crate::check::NEEDS_VENDOR_SQL
        ),
        params![run, partner_code],
        |r| r.get(0),
    )?)
}

/// Marks every stored check of `account` that still needs the vendor (pending, held at 11350,
/// or failed: `check::NEEDS_VENDOR_SQL`) with `run`, so the run asks them again without
/// their original file (`fetch --pending`), oldest first as every run's ids are (by row). They
/// take the run's endpoint host, as a re-read id does. Returns how many it marked that the
/// run's input had not already.
pub fn mark_needing_vendor(
    conn: &Connection,
    run: i64,
    account: &RunAccount,
) -> Result<u64, StoreError> {
    Ok(conn.execute(
        &format!(
            "UPDATE checks SET last_run = ?1, endpoint_host = ?3
             WHERE partner_code = ?2 AND last_run IS NOT ?1 AND {}",
            crate::check::NEEDS_VENDOR_SQL
        ),
        params![run, account.partner_code, account.endpoint_host],
    )? as u64)
}

/// An id that needs the vendor, with its row in `checks` (results are written by row).
#[derive(Debug, Clone, PartialEq)]
pub struct ToFetch {
    pub check: i64,
    pub liveness_id: String,
}

/// The next `limit` ids of `run` that need the vendor, after row `after` (keyset pagination, so
/// a million ids are never in memory at once). Only checks of `partner_code`: a run never asks
/// the vendor for another account's check, whatever marked it with the run.
pub fn next_to_fetch(
    conn: &Connection,
    run: i64,
    partner_code: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<ToFetch>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, liveness_id FROM checks
         WHERE last_run = ?1 AND id > ?2 AND +partner_code = ?4 AND {}
         ORDER BY id LIMIT ?3",
        crate::check::NEEDS_VENDOR_SQL
    ))?;
    let rows = stmt.query_map(params![run, after, limit as i64, partner_code], |r| {
        Ok(ToFetch {
            check: r.get(0)?,
            liveness_id: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(crate) mod chunked;

#[cfg(test)]
pub(crate) mod tests;
