//! The run's input: registered before the first request (one transaction), or while the
//! requests run (committed chunks handed to the workers as they commit), and what reading it
//! found, logged.
//!
//! Policy: an input that will be refused sends nothing and registers nothing. A run without a
//! rate limit (`--rate 0`) whose inputs are all regular files (they can be read twice) and that
//! does not also ask stored checks again (`--pending`) is *streamed*: the whole input is first
//! read without writing anything (the check: every error a registration would find,
//! unreadable times included), then registered on a thread of its own in chunks of
//! [`CHUNK_IDS`] ids, each handed to the workers once committed, a chunk or so ahead of the
//! requests (memory stays flat). So the first request leaves after the check and one chunk,
//! not after the whole registration, which at no limit is a large share of the run; under a
//! limit it is a small one (a million ids register in about 25 s, a million requests at
//! 1,000/s take 17 minutes), and the input is registered whole first, so the counts and the
//! progress bar's length are known from the start. A streamed run's counts (ids, duplicates,
//! already final, ...) are those of one transaction, logged once the registration ends; a stop
//! of the requests (the vendor, the cut-off) lets it finish, so they stay whole; a signal ends
//! it with what was read committed (the next run registers the rest). Standard input, FIFOs
//! and `--pending` runs register everything first, in one transaction.

use super::*;
use crate::input::InputError;
pub(super) use crate::store::intake::chunked::CHUNK_IDS;
use crate::store::intake::chunked::{Ended, register_chunked};

/// Whether the run's input is registered while its requests run (the rule: module doc).
pub(super) fn streams(opts: &FetchOptions) -> bool {
    opts.rate == Rate::Unlimited
        && !opts.pending
        && opts.sources.iter().all(|s| match s {
            Source::File(path) => std::fs::metadata(path).is_ok_and(|m| m.is_file()),
            Source::Stdin => false,
        })
}

/// Runs `read` with a signal watched (a signal sets the input's `interrupted` flag, so the
/// reading stops), telling the runtime that it may block (stdin, a FIFO).
fn while_watching_signals<T>(
    opts: &FetchOptions,
    read: impl FnOnce(&InputOptions) -> T,
) -> (T, Arc<std::sync::atomic::AtomicBool>) {
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let intake_signals = watch_intake_signals(interrupted.clone());
    let mut input = opts.input.clone();
    input.interrupted = Some(interrupted.clone());
    let read = || read(&input);
    let out = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(read),
        _ => read(),
    };
    intake_signals.abort();
    (out, interrupted)
}

/// Reads the input into the run in one transaction (a signal while reading stops it); a
/// failure is recorded as the run's end before it is returned.
pub(super) fn register_input(
    store: &mut Store,
    run_id: i64,
    account: &RunAccount,
    opts: &FetchOptions,
) -> Result<IntakeStats, FetchError> {
    let (registered, _) = while_watching_signals(opts, |input| {
        intake::register(&mut store.conn, run_id, account, &opts.sources, input)
    });
    registered.map_err(|e| record_failure(store, run_id, e))
}

/// Reads the whole input without writing anything: the errors a registration would stop at
/// (unreadable times included, unless they are to be dated by fetch time). A failure is
/// recorded as the run's end before it is returned.
pub(super) fn check_input(
    store: &Store,
    run_id: i64,
    opts: &FetchOptions,
) -> Result<(), FetchError> {
    let (checked, _) = while_watching_signals(opts, |input| -> Result<(), IntakeError> {
        let mut stats = crate::input::InputStats::default();
        for source in &opts.sources {
            crate::input::read_ids(source, input, &mut stats, |_| {
                Ok::<(), std::convert::Infallible>(())
            })?
            .unwrap_or_else(|never| match never {});
        }
        match stats.bad_times_error(input) {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    });
    checked.map_err(|e| record_failure(store, run_id, e))
}

/// Records an intake that failed as the run's end, and returns the error to report.
pub(super) fn record_failure(store: &Store, run_id: i64, e: IntakeError) -> FetchError {
    let outcome = match e {
        IntakeError::Input(InputError::Interrupted) => "interrupted",
        _ => "input_error",
    };
    let recorded = store.finish_run(
        run_id,
        &RunRecord {
            outcome: outcome.into(),
            stop_reason: Some(e.to_string()),
            ..RunRecord::default()
        },
    );
    match recorded {
        Ok(()) => e.into(),
        Err(store) => store.into(),
    }
}

/// What a streamed registration ended with.
pub(super) struct Streamed {
    pub stats: IntakeStats,
    /// Ids it handed to the workers (or would have: after a stop the rest wait for a next run).
    pub to_fetch: i64,
}

/// Registers the input of a streamed run on a blocking thread: each committed chunk's ids
/// that need the vendor go to `ids` (in hand-overs of [`ID_CHUNK`]), and `total` grows by
/// them (the progress bar's length). Once the workers stop taking ids, the registration goes on
/// to the end without handing any over. A signal stops it (what was read is committed) and the
/// run; an error cancels the run.
pub(super) fn spawn_streamed(
    opts: &FetchOptions,
    run_id: i64,
    account: RunAccount,
    concurrency: usize,
    total: Arc<std::sync::atomic::AtomicU64>,
) -> impl FnOnce(IdsTx, Arc<Ctx>, writer::SharedConnection) -> JoinHandle<Result<Streamed, FetchError>>
{
    let (sources, rate) = (opts.sources.clone(), opts.rate_setting());
    let input = opts.input.clone();
    move |ids, ctx, conn| {
        let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let signals = watch_intake_signals(interrupted.clone());
        let mut input = input;
        input.interrupted = Some(interrupted);
        tokio::task::spawn_blocking(move || {
            let mut to_fetch = 0i64;
            let mut handing_over = true;
            let mut committed = |chunk: Vec<ToFetch>| {
                to_fetch += chunk.len() as i64;
                total.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
                let mut chunk = chunk.into_iter().peekable();
                while handing_over && chunk.peek().is_some() {
                    let part: Vec<ToFetch> = chunk.by_ref().take(ID_CHUNK).collect();
                    handing_over = ids.send_blocking(part).is_ok();
                }
            };
            let registered =
                register_chunked(&conn, run_id, &account, &sources, &input, &mut committed);
            drop(ids); // the workers finish what was handed over
            signals.abort();
            match registered {
                Ok((stats, ended)) => {
                    if ended == Ended::Stopped {
                        ctx.stop(StopCause::Interrupted);
                    }
                    log_intake(&stats, &account);
                    log_registered(&stats, to_fetch, &rate, concurrency);
                    Ok(Streamed { stats, to_fetch })
                }
                Err(e) => {
                    ctx.cancel.cancel();
                    Err(match e {
                        IntakeError::Input(e) if !matches!(e, InputError::Interrupted) => {
                            FetchError::InputChanged(e)
                        }
                        e => e.into(),
                    })
                }
            }
        })
    }
}

type IdsTx = async_channel::Sender<Vec<ToFetch>>;
use tokio::task::JoinHandle;

/// Logs the line that says what the registered input holds and how the run will fetch it.
pub(super) fn log_registered(intake: &IntakeStats, to_fetch: i64, rate: &str, concurrency: usize) {
    tracing::info!(
        ids = intake.distinct,
        duplicates = intake.duplicates,
        blank = intake.input.blank_ids,
        other_account = intake.other_account.rows,
        adopted = intake.adopted,
        to_fetch,
        already_final = (intake.distinct + intake.pending) as i64 - to_fetch,
        rate,
        concurrency,
        "input registered"
    );
}

/// Logs what reading the input found: the columns used, and warnings for what needs a look.
pub(crate) fn log_intake(intake: &IntakeStats, account: &RunAccount) {
    for line in &intake.input.columns {
        tracing::info!("{line}");
    }
    if intake.input.bad_times > 0 {
        tracing::warn!(
            count = intake.input.bad_times,
            first = %intake.input.bad_time_examples.join("; "),
            "times that could not be read: those checks are dated by their fetch time, as \
             {} fetch-time asks (marked per check, counted in the run)",
            Setting::BadTimes
        );
    }
    if intake.conflicts > 0 {
        tracing::warn!(
            count = intake.conflicts,
            first = %intake.conflict_examples.join("; "),
            "ids listed more than once with a different event time or other columns: the first \
             mention of an id is kept, the later ones are ignored; check which one is right"
        );
    }
    let retimed = &intake.retimed;
    if retimed.count > 0 {
        tracing::warn!(
            count = retimed.count,
            first = %retimed.examples.join("; "),
            "{}",
            if retimed.fixed {
                format!(
                    "stored checks this input dates at another event time took the input's time \
                     ({}; each change recorded, the code and charge unchanged)",
                    Setting::FixTimes
                )
            } else {
                format!(
                    "stored checks this input dates at another event time keep their stored time \
                     (an earlier read in another {}?); fetch {} takes the input's",
                    Setting::InputTz,
                    Setting::FixTimes
                )
            }
        );
    }
    if intake.other_account.rows > 0 {
        tracing::warn!(
            count = intake.other_account.rows,
            account = %account.label(),
            first = %intake.other_account.examples.join("; "),
            "ids another account read first: an id belongs to the account that first read it, \
             so they are not asked under this one (fetch them with their own {})",
            Setting::Account
        );
    }
    for above in &intake.input.above_header {
        tracing::warn!(
            "{above}: a title above the table, skipped (the rows above the header are not ids)"
        );
    }
    if intake.input.footer_rows > 0 {
        tracing::warn!(
            count = intake.input.footer_rows,
            at = %intake.input.footers.join("; "),
            "rows after the table's last check look like a footer (no time; only a word or the \
             id filled): skipped, not sent; if they are liveness ids, give them with their times"
        );
    }
    if intake.input.repeated_headers > 0 {
        tracing::info!(
            count = intake.input.repeated_headers,
            "repeated header rows skipped"
        );
    }
}
