//! The nightly job's intake: the inbox's files registered one by one into the database, in
//! chunks that each commit ([`crate::store::resume`]), before anything is fetched.
//!
//! Policy: a file whose ids are all registered is done (its answers are `fetch --pending`'s
//! from then on); a file that cannot be read is rejected on its own and holds nothing back; a
//! file cut off by the budget or a signal keeps what was registered and waits for the next
//! night in place, which goes on from where it stopped. Reading shares the night's budget:
//! past the deadline no file is started and the one being read stops.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::input::{InputError, InputOptions, Source};
use crate::store::account::{self, RunAccount};
use crate::store::intake::{IntakeError, IntakeStats};
use crate::store::resume::{self, Ended};
use crate::store::{FetchLock, OpenMode, RunRecord, Store, StoreError};

/// What became of one file.
#[derive(Debug)]
pub(crate) enum FileDisposition {
    /// Every id registered.
    Registered(Box<IntakeStats>),
    /// It cannot be read: why, naming the file and line.
    Rejected(String),
    /// The budget ran out while (or before) reading it: what this reading registered (nothing
    /// when it was not started), kept for the next night to go on from.
    CutOff(Box<IntakeStats>),
    /// A signal stopped the reading.
    Interrupted,
}

/// Registers each of `files` under `account` in its own transaction, within `deadline`.
/// `signalled` is set by a signal watcher; the intake stops when it is.
pub(crate) fn register_files(
    db: &Path,
    account: &RunAccount,
    files: &[PathBuf],
    input: &InputOptions,
    deadline: Option<Instant>,
    signalled: &Arc<AtomicBool>,
) -> Result<Vec<(PathBuf, FileDisposition)>, StoreError> {
    let _lock = FetchLock::acquire(db)?;
    let mut store = Store::open(db, OpenMode::CreateOrMigrate)?;
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let run = store.begin_run(&names)?;
    account::record_run(&store.conn, run, account)?;
    // One flag stops the reader: set by a signal, or by the budget's timer.
    let stop = Arc::new(AtomicBool::new(false));
    let timer = spawn_timer(deadline, stop.clone(), signalled.clone());
    let mut opts = input.clone();
    opts.interrupted = Some(stop.clone());
    let mut out = Vec::new();
    let mut totals = RunRecord::default();
    // What the run's row records beside the totals (other accounts' rows, odd times).
    let mut found = IntakeStats::default();
    for file in files {
        let outcome = if signalled.load(Ordering::Relaxed) {
            FileDisposition::Interrupted
        } else if stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d) {
            FileDisposition::CutOff(Box::default())
        } else {
            let read = read_one(&mut store.conn, run, account, file, &opts);
            if let Ok((stats, _)) = &read {
                add_up(&mut totals, &mut found, stats);
            }
            match read {
                Ok((stats, Ended::Done)) => FileDisposition::Registered(Box::new(stats)),
                Ok((_, Ended::Stopped)) if signalled.load(Ordering::Relaxed) => {
                    FileDisposition::Interrupted
                }
                Ok((stats, Ended::Stopped)) => FileDisposition::CutOff(Box::new(stats)),
                Err(IntakeError::Input(e)) => FileDisposition::Rejected(e.to_string()),
                Err(IntakeError::Store(e)) => return Err(e),
            }
        };
        out.push((file.clone(), outcome));
    }
    // Ends the timer (it is not waited for: it notices within a tick).
    stop.store(true, Ordering::Relaxed);
    drop(timer);
    totals.outcome = if out
        .iter()
        .any(|(_, o)| matches!(o, FileDisposition::Interrupted))
    {
        "interrupted"
    } else if out
        .iter()
        .any(|(_, o)| matches!(o, FileDisposition::CutOff(_)))
    {
        "cut_off"
    } else {
        crate::fetch::run_ending(None, &crate::store::StatusCounts::default())
    }
    .into();
    store.finish_run(run, &totals)?;
    crate::store::intake::record_intake(&store.conn, run, &found)?;
    Ok(out)
}

/// Adds one file's reading (whole or cut off) to the intake run's totals, and what the run's
/// row records beside them.
fn add_up(totals: &mut RunRecord, found: &mut IntakeStats, stats: &IntakeStats) {
    totals.rows_read += stats.input.rows as i64;
    totals.ids_read += stats.input.ids as i64;
    totals.blank_ids += stats.input.blank_ids as i64;
    totals.duplicate_ids += stats.duplicates as i64;
    found.input.bad_times += stats.input.bad_times;
    found.other_account.rows += stats.other_account.rows;
    found.retimed.count += stats.retimed.count;
    found.retimed.fixed |= stats.retimed.fixed;
}

/// Reads one file in chunks from where its last reading stopped, keeping its progress beside
/// it (`.progress/NAME.json`) and logging how far it got every few seconds; the progress is
/// forgotten once the file is done or refused.
fn read_one(
    conn: &mut rusqlite::Connection,
    run: i64,
    account: &RunAccount,
    file: &Path,
    opts: &InputOptions,
) -> Result<(IntakeStats, Ended), IntakeError> {
    let (size, head) = resume::fingerprint(file)
        .map_err(|e| IntakeError::Input(InputError::Usage(format!("{}: {e}", file.display()))))?;
    let progress = resume::progress_path(file);
    let skip = resume::rows_done(&progress, size, &head);
    let name = crate::input::shown(&file.display().to_string());
    if skip > 0 {
        tracing::info!(file = %name, rows = skip, "going on from the last reading");
    }
    let mut logged = Instant::now();
    let mut committed = |rows: u64| {
        let p = resume::Progress {
            size,
            head_sha256: head.clone(),
            rows,
        };
        if let Err(e) = resume::save(&progress, &p) {
            tracing::warn!(file = %name, error = %e, "could not record how far the file was read");
        }
        if logged.elapsed() >= PROGRESS_EVERY {
            tracing::info!(file = %name, rows, "reading");
            logged = Instant::now();
        }
    };
    let source = Source::File(file.to_path_buf());
    let read = resume::register_resumable(conn, run, account, &source, opts, skip, &mut committed);
    if !matches!(read, Ok((_, Ended::Stopped))) {
        let _ = std::fs::remove_file(&progress);
    }
    read
}

/// How often reading a large file logs how far it got.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A thread that sets `stop` at `deadline`, or as soon as `signalled` is set.
fn spawn_timer(
    deadline: Option<Instant>,
    stop: Arc<AtomicBool>,
    signalled: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        // A short tick: the thread ends within it once the intake is over (stop set below).
        while deadline.is_none_or(|d| Instant::now() < d) && !signalled.load(Ordering::Relaxed) {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
    })
}
