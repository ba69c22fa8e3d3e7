//! Registering one input file in chunks that each commit, and going on next time from where
//! the last commit left it: the nightly job's intake, so that a file larger than a night's
//! budget still moves.
//!
//! Policy: every [`CHUNK_IDS`] ids are committed together, and after each commit the caller
//! records how far the file was read (its rows handed over so far) beside the file's size and
//! the SHA-256 of its first [`HEAD_BYTES`] bytes ([`Progress`]). A later reading of a file with
//! the same size and start skips that many rows; any other file starts from the beginning. A
//! cut-off or a signal commits what was read before it, so a stop loses nothing; a `kill -9`
//! loses the chunk in flight, which the next reading registers again (registering an id twice
//! changes nothing). An input error rolls back its own chunk only: the ids committed before it
//! are real ids of the file and stay registered. A time that cannot be read stops the reading
//! at its row unless `--bad-times fetch-time`. (`fetch` keeps its one transaction:
//! [`crate::store::intake::register`].)

use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::input::{BadTimes, IdRow, InputError, InputOptions, InputStats, Source, read_ids};
use crate::store::account::RunAccount;
use crate::store::intake::{Batch, INTAKE_ROWS, IntakeError, IntakeStats};

/// Ids committed together.
pub(crate) const CHUNK_IDS: u64 = 20_000;

/// How much of a file's start its fingerprint hashes.
pub(crate) const HEAD_BYTES: usize = 64 * 1024;

/// How far a file was read, and which file it was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Progress {
    pub size: u64,
    pub head_sha256: String,
    /// Rows handed over (and committed) so far.
    pub rows: u64,
}

/// A file's size and the SHA-256 of its first [`HEAD_BYTES`] bytes.
pub(crate) fn fingerprint(path: &Path) -> std::io::Result<(u64, String)> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut head = Vec::with_capacity(HEAD_BYTES);
    file.take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    let digest = Sha256::digest(&head);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((size, hex))
}

/// Where the progress of `file` is kept: `.progress/NAME.json` in the file's folder.
pub(crate) fn progress_path(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = file.parent().unwrap_or(Path::new("."));
    dir.join(".progress").join(format!("{name}.json"))
}

/// The rows of `file` already registered, if its progress file describes this very file
/// (same size and start); else 0.
pub(crate) fn rows_done(progress: &Path, size: u64, head: &str) -> u64 {
    std::fs::read_to_string(progress)
        .ok()
        .and_then(|t| serde_json::from_str::<Progress>(&t).ok())
        .filter(|p| p.size == size && p.head_sha256 == head)
        .map_or(0, |p| p.rows)
}

/// Replaces the progress file atomically.
pub(crate) fn save(progress: &Path, p: &Progress) -> std::io::Result<()> {
    if let Some(dir) = progress.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string(p).map_err(std::io::Error::other)?;
    crate::destination::write_atomic(progress, &format!("{text}\n"))
}

/// How a reading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The whole file is registered.
    Done,
    /// A cut-off or a signal stopped it; what was read before is committed.
    Stopped,
}

/// Why the sink stopped the reader.
enum SinkStop {
    Db(rusqlite::Error),
    BadTime,
}

impl From<rusqlite::Error> for SinkStop {
    fn from(e: rusqlite::Error) -> Self {
        SinkStop::Db(e)
    }
}

/// Registers `source` under `run` and `account` from its row `skip` on, committing every
/// [`CHUNK_IDS`] ids; after each commit `committed` gets the rows handed over so far (skipped
/// ones included).
pub(crate) fn register_resumable(
    conn: &mut Connection,
    run: i64,
    account: &RunAccount,
    source: &Source,
    opts: &InputOptions,
    skip: u64,
    committed: &mut dyn FnMut(u64),
) -> Result<(IntakeStats, Ended), IntakeError> {
    let conn: &Connection = conn;
    let batch = Batch::new(conn, run, account)?;
    let mut stats = IntakeStats::default();
    let mut input = InputStats::default();
    let mut pending: Vec<IdRow> = Vec::with_capacity(INTAKE_ROWS);
    let (mut seen, mut in_chunk) = (0u64, 0u64);
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let read = {
        let mut sink = |row: IdRow| -> Result<(), SinkStop> {
            seen += 1;
            if seen <= skip {
                return Ok(());
            }
            if row.unreadable_time && opts.bad_times == BadTimes::Stop {
                return Err(SinkStop::BadTime);
            }
            pending.push(row);
            in_chunk += 1;
            if pending.len() == INTAKE_ROWS {
                batch.flush(conn, &mut pending, &mut stats)?;
            }
            if in_chunk >= CHUNK_IDS {
                batch.flush(conn, &mut pending, &mut stats)?;
                conn.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
                committed(seen);
                in_chunk = 0;
            }
            Ok(())
        };
        read_ids(source, opts, &mut input, &mut sink)
    };
    let ended = match read {
        Ok(Ok(())) => Ended::Done,
        Err(InputError::Interrupted) => Ended::Stopped,
        failed => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(match failed {
                Err(e) => IntakeError::Input(e),
                Ok(Err(SinkStop::Db(e))) => e.into(),
                Ok(Err(SinkStop::BadTime)) | Ok(Ok(())) => input
                    .bad_times_error(opts)
                    .map_or_else(|| IntakeError::Input(InputError::Interrupted), Into::into),
            });
        }
    };
    let finished = batch
        .flush(conn, &mut pending, &mut stats)
        .and_then(|()| conn.execute_batch("COMMIT"));
    if let Err(e) = finished {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    committed(seen);
    stats.input = input;
    Ok((stats, ended))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::store::intake::tests::{acme, csv};
    use crate::store::{OpenMode, Store};

    fn count(store: &Store) -> i64 {
        store
            .conn
            .query_row("SELECT count(*) FROM checks", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_stopped_reading_keeps_its_chunks_and_the_next_goes_on_from_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
        let n = CHUNK_IDS * 2 + 500;
        let rows: Vec<String> = (0..n)
            .map(|i| format!("r-{i:06},2024-05-01T00:00:00Z,web"))
            .collect();
        let source = csv(dir.path(), "big.csv", &rows);
        let run = store.begin_run(&[]).unwrap();
        // A stop right after the first commit (as a cut-off would land).
        let stop = Arc::new(AtomicBool::new(false));
        let opts = InputOptions {
            interrupted: Some(stop.clone()),
            ..InputOptions::default()
        };
        let mut marks = Vec::new();
        let mut committed = |rows: u64| {
            marks.push(rows);
            stop.store(true, Ordering::Relaxed);
        };
        let (first, ended) = register_resumable(
            &mut store.conn,
            run,
            &acme(),
            &source,
            &opts,
            0,
            &mut committed,
        )
        .unwrap();
        assert_eq!(ended, Ended::Stopped);
        let done = *marks.last().unwrap();
        assert!(done >= CHUNK_IDS && done < n, "{marks:?}");
        assert_eq!(
            count(&store),
            done as i64,
            "every row read before the stop is kept"
        );
        assert_eq!(first.distinct, done);
        // The next reading skips what is registered and registers the rest.
        stop.store(false, Ordering::Relaxed);
        let run = store.begin_run(&[]).unwrap();
        let mut last = 0;
        let (second, ended) = register_resumable(
            &mut store.conn,
            run,
            &acme(),
            &source,
            &InputOptions::default(),
            done,
            &mut |rows| last = rows,
        )
        .unwrap();
        assert_eq!(ended, Ended::Done);
        assert_eq!(last, n);
        assert_eq!(second.distinct, n - done);
        assert_eq!(count(&store), n as i64);
    }

    #[test]
    fn progress_belongs_to_one_file_by_size_and_start() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("Export (1).csv");
        std::fs::write(&file, "liveness_id\na\nb\n").unwrap();
        let (size, head) = fingerprint(&file).unwrap();
        let progress = progress_path(&file);
        assert_eq!(progress, dir.path().join(".progress/Export (1).csv.json"));
        assert_eq!(rows_done(&progress, size, &head), 0);
        let p = Progress {
            size,
            head_sha256: head.clone(),
            rows: 1,
        };
        save(&progress, &p).unwrap();
        assert_eq!(rows_done(&progress, size, &head), 1);
        // Another file under the same name starts again.
        std::fs::write(&file, "liveness_id\nc\nd\n").unwrap();
        let (size2, head2) = fingerprint(&file).unwrap();
        assert_eq!(size2, size);
        assert_eq!(rows_done(&progress, size2, &head2), 0);
    }
}
