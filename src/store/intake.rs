//! Registering a run's input ids, and listing the ids that still need the vendor.
//!
//! Policy: all input is registered in one transaction before the first request, so an input
//! error (exit 2) leaves the database as it was and sends nothing. An id already in the database
//! keeps its result; a run only re-asks ids that are pending, failed, or answered 11350.
//! Duplicates are detected by the database itself (an id already marked with this run), so
//! memory does not grow with the input.

use rusqlite::{Connection, params};

use crate::input::{IdRow, InputError, InputOptions, InputStats, Source, read_ids};
use crate::store::StoreError;

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
}

/// Reads every source and records its ids against `run`, all in one transaction.
pub fn register(
    conn: &mut Connection,
    run: i64,
    sources: &[Source],
    opts: &InputOptions,
) -> Result<IntakeStats, IntakeError> {
    let tx = conn.transaction()?;
    let mut stats = IntakeStats::default();
    {
        let mut upsert = tx.prepare(
            "INSERT INTO checks (liveness_id, event_time, attrs, source, first_run, last_run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (liveness_id) DO UPDATE SET
                 last_run = excluded.last_run,
                 event_time = coalesce(checks.event_time, excluded.event_time),
                 attrs = coalesce(checks.attrs, excluded.attrs)
             WHERE checks.last_run IS NOT excluded.last_run",
        )?;
        for source in sources {
            let mut insert = |row: IdRow| -> Result<(), rusqlite::Error> {
                let changed = upsert.execute(params![
                    row.liveness_id,
                    row.event_time_ms,
                    row.attrs,
                    row.source,
                    run
                ])?;
                if changed == 0 {
                    stats.duplicates += 1;
                } else {
                    stats.distinct += 1;
                }
                Ok(())
            };
            read_ids(source, opts, &mut stats.input, &mut insert)??;
        }
    }
    tx.commit()?;
    Ok(stats)
}

/// Counts the ids of `run` that need the vendor.
pub fn count_to_fetch(conn: &Connection, run: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM checks
         WHERE last_run = ?1 AND (status <> 'done' OR code = 11350)",
        params![run],
        |r| r.get(0),
    )?)
}

/// The next `limit` ids of `run` that need the vendor, after row `after` (keyset pagination, so
/// a million ids are never in memory at once).
/// An id that needs the vendor, with its row in `checks` (results are written by row).
#[derive(Debug, Clone, PartialEq)]
pub struct ToFetch {
    pub check: i64,
    pub liveness_id: String,
}

pub fn next_to_fetch(
    conn: &Connection,
    run: i64,
    after: i64,
    limit: usize,
) -> Result<Vec<ToFetch>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, liveness_id FROM checks
         WHERE last_run = ?1 AND id > ?2 AND (status <> 'done' OR code = 11350)
         ORDER BY id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![run, after, limit as i64], |r| {
        Ok(ToFetch {
            check: r.get(0)?,
            liveness_id: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
