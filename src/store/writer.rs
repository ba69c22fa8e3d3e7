//! The single writer: every result, failure and attempt of a fetch is written here.
//!
//! Policy: one thread owns the write connection and is fed by a bounded channel. It takes
//! whatever has queued up (at least one operation, at most [`MAX_BATCH`]) and commits it as one
//! transaction, so batches grow under load and shrink to single rows when the vendor is slow.
//! When results arrive together but only a few at a time, it waits [`LINGER`] once for more
//! before committing (a commit costs as much as the rows in it). A result and its id's state
//! live in one row and change in one statement, with the id's attempt count (so an attempt
//! costs one insert and no update); a result whose face digest another check already carries
//! is recorded in `repeated_faces` in the same transaction. A write error (a full disk) ends the
//! thread with the error; the fetcher sees the channel close and stops sending.
//!
//! What a killed process loses (and the next run asks again): the requests holding a request
//! slot (at most `--concurrency`; a slot is given back once the answer is queued here), plus the
//! answers queued or in the batch being committed: one writer cycle's worth ([`LINGER`] and
//! one commit, at the rate answers arrive). Committed batches survive (WAL). Bounding the loss
//! by `--concurrency` alone would hold every slot through a commit, which takes a large share
//! of a fast run's throughput; slots stay short instead.

use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::{Connection, params};
use tokio::sync::mpsc;

use super::turns::Turns;
use super::{OpenMode, Store, StoreError};
use crate::check::Status;

/// The most operations committed in one transaction.
/// The queue in front of the writer holds two batches: enough to ride out a checkpoint, and
/// small enough that memory stays flat whatever the number of ids.
pub const MAX_BATCH: usize = 1024;

/// How long a small batch (more than one operation, fewer than `LINGER_BELOW`) waits for more.
/// Rule: results arriving close together share a commit (fewer fsyncs on a fast vendor); a
/// single result (a slow or rate-limited vendor) is committed at once.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(2);
const LINGER_BELOW: usize = 256;

/// One request sent to the vendor, for the attempts log.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    /// The id asked about.
    pub liveness_id: String,
    /// When the request was granted to leave (Unix ms).
    pub sent_at_ms: i64,
    /// From sending to the end of the answer (or the failure).
    pub latency_ms: i64,
    /// The HTTP status; `None` when no answer came.
    pub http_status: Option<u16>,
    /// The code the vendor answered, when it answered one.
    pub code: Option<i64>,
    /// The vendor's sequence id, when it answered one.
    pub sequence_id: Option<String>,
    /// `final`, `retry:<kind>`, `give_up:<kind>` or `stop`.
    pub outcome: String,
    /// The fault or stop reason of a retried, given-up or stopping attempt, or the fields
    /// dropped from a kept answer; no URL, no key.
    pub detail: Option<String>,
}

/// The parts of an answer that are stored.
#[derive(Debug, Clone)]
pub struct StoredAnswer {
    /// The result code.
    pub code: i64,
    /// The vendor's message.
    pub message: String,
    /// The liveness score, if the vendor sent one.
    pub score: Option<f64>,
    /// The vendor's sequence id, if it sent one.
    pub sequence_id: Option<String>,
    /// Hex SHA-256 of the face image, if the answer carried one.
    pub image_sha256: Option<String>,
    /// Length of the face image in bytes, if the answer carried one.
    pub image_bytes: Option<i64>,
}

/// A write the fetcher asks for.
#[derive(Debug)]
pub enum WriteOp {
    /// A request that did not end its id's round (retried): logged at once.
    Attempt(AttemptRow),
    /// The vendor gave a code: the id is done.
    Resolved {
        /// The id's row in `checks`.
        check: i64,
        /// What is stored of the answer.
        answer: StoredAnswer,
        /// Requests this round took.
        attempts: i64,
        /// The request that gave the answer, when it was not logged already.
        last_attempt: Option<AttemptRow>,
    },
    /// Retries ran out (or the answer cannot improve by asking again): the id is failed.
    Failed {
        /// The id's row in `checks`.
        check: i64,
        /// Why, as the last fault says it (kept in `last_error`).
        error: String,
        /// Requests this round took.
        attempts: i64,
        /// The request that ended the round, when it was not logged already.
        last_attempt: Option<AttemptRow>,
    },
    /// The run stopped during the id's round: only its attempt count changes.
    Tried {
        /// The id's row in `checks`.
        check: i64,
        /// Requests this round took.
        attempts: i64,
    },
}

/// What the writer committed.
#[derive(Debug, Default, Clone, Copy)]
pub struct WriterStats {
    /// Attempt rows inserted.
    pub attempts: u64,
    /// Ids stored with a final answer.
    pub resolved: u64,
    /// Ids marked failed.
    pub failed: u64,
    /// Transactions committed.
    pub transactions: u64,
}

/// The sending side, cloned into every worker.
pub type WriterHandle = mpsc::Sender<WriteOp>;

/// The writer's connection, which a streamed registration shares in turns.
pub(crate) type SharedConnection = Arc<Turns<Connection>>;

/// Starts the writer thread on its own connection to `db`, for run `run`; the connection is
/// returned too, for the registration that may write beside it (in turns).
#[allow(clippy::type_complexity)]
pub(crate) fn spawn(
    db: &Path,
    run: i64,
) -> Result<
    (
        WriterHandle,
        JoinHandle<Result<WriterStats, StoreError>>,
        SharedConnection,
    ),
    StoreError,
> {
    let store = Store::open(db, OpenMode::MigrateExisting)?;
    // Results update index pages all over the file (a check's quarter hour, its sequence
    // id), so the same pages are written again and again. Checkpointing every 10,000 pages
    // (~40 MB of WAL) instead of SQLite's 1,000 folds many of those writes into one. The page
    // cache stays at SQLite's default: memory stays flat on large inputs (BENCHMARKS.md has the
    // numbers).
    store
        .conn
        .execute_batch("PRAGMA wal_autocheckpoint = 10000;")?;
    let (tx, rx) = mpsc::channel(MAX_BATCH * 2);
    let conn = Arc::new(Turns::new(store.conn));
    let shared = conn.clone();
    let handle = std::thread::Builder::new()
        .name("liveaudit-writer".into())
        .spawn(move || run_writer(&conn, run, rx))
        .map_err(|source| StoreError::Open {
            path: db.to_path_buf(),
            source,
        })?;
    Ok((tx, handle, shared))
}

fn run_writer(
    conn: &Turns<Connection>,
    run: i64,
    mut rx: mpsc::Receiver<WriteOp>,
) -> Result<WriterStats, StoreError> {
    let mut stats = WriterStats::default();
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(op) = rx.blocking_recv() {
        batch.push(op);
        take_queued(&mut batch, &mut rx);
        if batch.len() > 1 && batch.len() < LINGER_BELOW {
            std::thread::sleep(LINGER);
            take_queued(&mut batch, &mut rx);
        }
        if let Err(e) = write_batch(&mut conn.take(), run, &batch, &mut stats) {
            // Close the channel first, so senders fail fast instead of filling it.
            rx.close();
            return Err(e);
        }
        batch.clear();
    }
    Ok(stats)
}

/// Moves what is already queued into `batch`, up to [`MAX_BATCH`].
fn take_queued(batch: &mut Vec<WriteOp>, rx: &mut mpsc::Receiver<WriteOp>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(op) => batch.push(op),
            Err(_) => break,
        }
    }
}

/// Writes `batch` in one transaction.
fn write_batch(
    conn: &mut Connection,
    run: i64,
    batch: &[WriteOp],
    stats: &mut WriterStats,
) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    {
        let mut writes = Writes::prepare(&tx, run)?;
        let now = super::now_ms();
        for op in batch {
            writes.apply(op, now, stats)?;
        }
    }
    tx.commit()?;
    stats.transactions += 1;
    Ok(())
}

/// The statements a batch is written with, prepared once per transaction (and cached).
struct Writes<'c> {
    run: i64,
    attempt: rusqlite::CachedStatement<'c>,
    tried: rusqlite::CachedStatement<'c>,
    resolved: rusqlite::CachedStatement<'c>,
    repeated: rusqlite::CachedStatement<'c>,
    failed: rusqlite::CachedStatement<'c>,
}

impl<'c> Writes<'c> {
    fn prepare(conn: &'c Connection, run: i64) -> Result<Writes<'c>, StoreError> {
        let (done, failed_text) = (Status::Done.sql(), Status::Failed.sql());
        Ok(Writes {
            run,
            attempt: conn.prepare_cached(
                "INSERT INTO attempts (run_id, liveness_id, sent_at, latency_ms, http_status, code,
                                       sequence_id, outcome, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?,
            tried: conn
                .prepare_cached("UPDATE checks SET attempts = attempts + ?2 WHERE id = ?1")?,
            resolved: conn.prepare_cached(&format!(
                "UPDATE checks SET status = {done}, code = ?2, message = ?3, score = ?4,
                     sequence_id = ?5, image_sha256 = ?6, image_bytes = ?7, fetched_at = ?8,
                     last_error = NULL, attempts = attempts + ?9
                 WHERE id = ?1"
            ))?,
            // A digest another check already carries is a repeated face (migration 0004).
            repeated: conn.prepare_cached(
                "INSERT OR IGNORE INTO repeated_faces (image_sha256)
                 SELECT ?1 WHERE EXISTS (SELECT 1 FROM checks WHERE image_sha256 = ?1 AND id <> ?2)",
            )?,
            // A failure never overwrites a code the vendor already gave (an 11350 stays 11350).
            failed: conn.prepare_cached(&format!(
                "UPDATE checks SET status = CASE WHEN status = {done} THEN {done} ELSE {failed_text} END,
                     last_error = ?2, attempts = attempts + ?3
                 WHERE id = ?1"
            ))?,
        })
    }

    /// Logs one attempt.
    fn log(&mut self, a: &AttemptRow, stats: &mut WriterStats) -> Result<(), StoreError> {
        self.attempt.execute(params![
            self.run,
            a.liveness_id,
            a.sent_at_ms,
            a.latency_ms,
            a.http_status,
            a.code,
            a.sequence_id,
            a.outcome,
            a.detail
        ])?;
        stats.attempts += 1;
        Ok(())
    }

    /// Writes one operation (`now`: the batch's fetch time).
    fn apply(&mut self, op: &WriteOp, now: i64, stats: &mut WriterStats) -> Result<(), StoreError> {
        match op {
            WriteOp::Attempt(a) => self.log(a, stats)?,
            WriteOp::Resolved {
                check,
                answer,
                attempts,
                last_attempt,
            } => {
                if let Some(a) = last_attempt {
                    self.log(a, stats)?;
                }
                self.resolved.execute(params![
                    check,
                    answer.code,
                    answer.message,
                    answer.score,
                    answer.sequence_id,
                    answer.image_sha256,
                    answer.image_bytes,
                    now,
                    attempts
                ])?;
                if let Some(sha) = &answer.image_sha256 {
                    self.repeated.execute(params![sha, check])?;
                }
                stats.resolved += 1;
            }
            WriteOp::Failed {
                check,
                error,
                attempts,
                last_attempt,
            } => {
                if let Some(a) = last_attempt {
                    self.log(a, stats)?;
                }
                self.failed.execute(params![check, error, attempts])?;
                stats.failed += 1;
            }
            WriteOp::Tried { check, attempts } => {
                self.tried.execute(params![check, attempts])?;
            }
        }
        Ok(())
    }
}
