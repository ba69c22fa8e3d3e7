//! The fetch pipeline: input ids -> paced, concurrent requests -> the single writer.
//!
//! - [`FetchOptions`]: everything a run needs, already validated.
//! - [`run`]: registers the input, fetches what is not final yet, returns a [`FetchReport`].
//! - [`pace`]: the rate limit and the shared 429 pause.
//! - [`adaptive`]: `--rate auto`, the controller that finds the vendor's limit.
//! - [`retry`]: the back-off policy and the circuit breaker.
//! - [`progress`]: counters, progress bar and periodic log lines.
//! - [`faces`]: writing face images when the user passes `--save-images`.
//!
//! Data flows one way: a producer pages ids that still need the vendor out of the database,
//! each id becomes a task that asks the vendor within `--concurrency` request slots (each
//! request first waits for the pace; a back-off wait gives its slot back), and every attempt
//! and result goes to the writer thread. A watcher stops the run if the database file is
//! deleted or replaced under it. A stop (credentials, account, outage, Ctrl-C, the time
//! budget's cut-off, a write failure) cancels the run: no new request starts, requests in flight get a short grace
//! to finish and be saved, and every unfinished id stays as it was for the next run.

pub mod adaptive;
pub mod faces;
pub mod pace;
pub mod progress;
pub mod retry;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::check::{Class, Status};
use crate::config::VendorSettings;
use crate::input::{InputOptions, Source};
use crate::store::intake::{self, IntakeError, IntakeStats, ToFetch};
use crate::store::writer::{self, AttemptRow, StoredAnswer, WriteOp, WriterHandle};
use crate::store::{DbWatch, FetchLock, OpenMode, RunRecord, StatusCounts, Store, StoreError};
use crate::vendor::answer::{Fault, ResultAnswer, StopReason, Verdict};
use crate::vendor::client::{ClientOptions, VendorClient, VendorError};
use crate::vendor::codes::{Category, CodeTable};
use adaptive::Estimate;
use pace::{Pace, Rate};
use progress::{ProgressMode, Reporter, Tally, TallySnapshot};
use retry::{Breaker, RetryPolicy};

/// How long requests in flight may still finish after a stop.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The default request rate (per second) when the user gives none. The vendor publishes no
/// limit; this is deliberately modest for a paid API.
pub const DEFAULT_RATE: u32 = 10;

/// A validated fetch run.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub db: PathBuf,
    pub sources: Vec<Source>,
    pub input: InputOptions,
    pub vendor: VendorSettings,
    pub codes: CodeTable,
    /// Requests per second over all workers, retries included.
    pub rate: Rate,
    pub burst: NonZeroU32,
    /// Requests in flight at most; `None`: sized from the rate.
    pub concurrency: Option<usize>,
    pub client: ClientOptions,
    pub retry: RetryPolicy,
    /// Outage faults in a row that stop the run.
    pub breaker_threshold: u32,
    pub save_images: Option<PathBuf>,
    pub progress: ProgressMode,
    /// When to stop taking ids (the time budget); `None`: no budget.
    pub deadline: Option<Instant>,
}

impl FetchOptions {
    /// The concurrency in force: the user's, or enough to keep the rate with a second of
    /// latency. Under `auto` it is the most ever in flight (the maximum rate's worth); how many
    /// are follows the rate and the latency measured.
    pub fn effective_concurrency(&self) -> usize {
        match (self.concurrency, self.rate) {
            (Some(c), _) => c.max(1),
            (None, Rate::Fixed(rate)) => (rate.get() as usize).clamp(8, 1024),
            (None, Rate::Auto(bounds)) => (bounds.max.ceil() as usize).clamp(8, 1024),
            (None, Rate::Unlimited) => 64,
        }
    }

    /// The rate as the user gave it: `auto`, `0` (no limit) or a number per second.
    pub fn rate_setting(&self) -> String {
        match self.rate {
            Rate::Unlimited => "0".into(),
            Rate::Fixed(r) => r.to_string(),
            Rate::Auto(_) => "auto".into(),
        }
    }
}

/// Why a run stopped before every id was tried.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StopCause {
    #[error("{0}")]
    Vendor(StopReason),
    #[error(
        "the vendor looks down: {count} requests in a row failed (last: {last}); unfinished ids \
         stay pending, run the same command again later"
    )]
    Outage { count: u32, last: String },
    #[error("interrupted; what was fetched is saved")]
    Interrupted,
    #[error("cut off: the time budget ran out; what was fetched is saved")]
    CutOff,
    #[error("writing the database failed: {0}")]
    Storage(String),
}

/// Errors that end a fetch before or outside the request loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vendor(#[from] VendorError),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct FetchReport {
    pub run_id: i64,
    pub intake: IntakeStats,
    pub to_fetch: i64,
    pub tally: TallySnapshot,
    /// States of this run's ids after the run.
    pub counts: StatusCounts,
    pub stop: Option<StopCause>,
    pub elapsed: Duration,
    pub concurrency: usize,
    /// Under `--rate auto`: where the controller ended.
    pub auto: Option<Estimate>,
}

impl FetchReport {
    /// Whether every id of the run has a final answer.
    pub fn complete(&self) -> bool {
        self.stop.is_none() && self.counts.failed == 0 && self.counts.pending == 0
    }
}

struct Ctx {
    client: VendorClient,
    codes: CodeTable,
    pace: Pace,
    retry: RetryPolicy,
    breaker: Breaker,
    writer: WriterHandle,
    cancel: CancellationToken,
    stop: Mutex<Option<StopCause>>,
    /// One per request allowed in flight (`--concurrency`); not held during back-off waits.
    slots: tokio::sync::Semaphore,
    tally: Arc<Tally>,
    save_images: Option<PathBuf>,
    /// Kinds of failure already explained in the log (each kind is explained once per run).
    failures_explained: Mutex<std::collections::HashSet<&'static str>>,
}

impl Ctx {
    /// Records the first stop cause and cancels the run.
    fn stop(&self, cause: StopCause) {
        let mut stop = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if stop.is_none() {
            tracing::warn!(reason = %cause, "stopping the run");
            *stop = Some(cause);
        }
        self.cancel.cancel();
    }

    /// Logs why an id failed, once per kind of failure, so a run that ends with failed ids
    /// always says why (the attempts table keeps every id's cause).
    fn explain_failure(&self, id: &str, fault: &Fault, attempts: i64) {
        let mut explained = self
            .failures_explained
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if explained.insert(fault.kind()) {
            let cause = fault.to_string();
            tracing::warn!(
                liveness_id = %id,
                attempts,
                cause = %crate::text::redact(&cause),
                "an id failed: retries ran out; it stays failed and the next run asks again \
                 (further failures of this kind are counted, not logged)"
            );
        }
    }

    async fn write(&self, op: WriteOp) -> bool {
        if self.writer.send(op).await.is_err() {
            // The writer ended: its error is collected when it is joined.
            self.stop(StopCause::Storage("the database writer stopped".into()));
            return false;
        }
        true
    }
}

/// The word for how a run ended, as the `runs` table and the run summary keep it.
pub fn outcome(stop: Option<&StopCause>, counts: &StatusCounts) -> &'static str {
    match stop {
        Some(StopCause::Interrupted) => "interrupted",
        Some(StopCause::CutOff) => "cut_off",
        Some(StopCause::Vendor(_)) => "stopped",
        Some(StopCause::Outage { .. }) => "vendor_down",
        Some(StopCause::Storage(_)) => "storage_error",
        None if counts.failed + counts.pending > 0 => "incomplete",
        None => "done",
    }
}

/// Runs a fetch: lock, register input, fetch, record the run.
pub async fn run(opts: FetchOptions) -> Result<FetchReport, FetchError> {
    let started = Instant::now();
    let lock = FetchLock::acquire(&opts.db)?;
    let mut store = Store::open(&opts.db, OpenMode::ReadWrite)?;
    let names: Vec<String> = opts.sources.iter().map(Source::name).collect();
    let run_id = store.begin_run(&names)?;

    // A signal while reading the input stops the reading; the run is recorded as interrupted.
    let interrupted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let intake_signals = watch_intake_signals(interrupted.clone());
    let mut input = opts.input.clone();
    input.interrupted = Some(interrupted);
    // Reading may block (stdin, a FIFO): the runtime is told, so the signal task still runs.
    let mut register = || intake::register(&mut store.conn, run_id, &opts.sources, &input);
    let registered = match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(register),
        _ => register(),
    };
    intake_signals.abort();
    let intake = match registered {
        Ok(stats) => stats,
        Err(e) => {
            let outcome = match e {
                IntakeError::Input(crate::input::InputError::Interrupted) => "interrupted",
                _ => "input_error",
            };
            store.finish_run(
                run_id,
                &RunRecord {
                    outcome: outcome.into(),
                    stop_reason: Some(e.to_string()),
                    ..RunRecord::default()
                },
            )?;
            return Err(e.into());
        }
    };
    for line in &intake.input.columns {
        tracing::info!("{line}");
    }
    if intake.input.bad_times > 0 {
        tracing::warn!(
            count = intake.input.bad_times,
            first = %intake.input.bad_time_examples.join("; "),
            "times that could not be read: those checks are dated by their fetch time, as \
             --bad-times fetch-time asks (marked per check, counted in the run)"
        );
    }
    if intake.input.repeated_headers > 0 {
        tracing::info!(
            count = intake.input.repeated_headers,
            "repeated header rows skipped"
        );
    }
    let to_fetch = intake::count_to_fetch(&store.conn, run_id)?;
    let concurrency = opts.effective_concurrency();
    tracing::info!(
        ids = intake.distinct,
        duplicates = intake.duplicates,
        blank = intake.input.blank_ids,
        to_fetch,
        already_final = intake.distinct as i64 - to_fetch,
        rate = %opts.rate_setting(),
        concurrency,
        "input registered"
    );

    let tally = Arc::new(Tally::default());
    let mut stop = None;
    let mut auto = None;
    if to_fetch > 0 && opts.deadline.is_some_and(|d| Instant::now() >= d) {
        stop = Some(StopCause::CutOff);
    } else if to_fetch > 0 {
        (stop, auto) = fetch_pending(
            &opts,
            run_id,
            to_fetch,
            concurrency,
            tally.clone(),
            lock.watch(),
        )
        .await?;
    }
    // Results written to a database that was deleted or replaced meanwhile are lost with it.
    if let Err(e) = lock.check_in_place() {
        tracing::error!(error = %e, "the database is gone");
        stop = Some(StopCause::Storage(e.to_string()));
    }

    let counts = store.status_counts(Some(run_id))?;
    let snapshot = tally.snapshot();
    let outcome = outcome(stop.as_ref(), &counts);
    let record = RunRecord {
        outcome: outcome.into(),
        stop_reason: stop.as_ref().map(ToString::to_string),
        rows_read: intake.input.rows as i64,
        ids_read: intake.input.ids as i64,
        blank_ids: intake.input.blank_ids as i64,
        duplicate_ids: intake.duplicates as i64,
        to_fetch,
        resolved: snapshot.resolved as i64,
        failed: snapshot.failed as i64,
        rate: Some(opts.rate_setting()),
        settled_rate: auto.map(|e| e.settled),
        limit_found: auto.and_then(|e| e.limit),
    };
    // A full disk may refuse even this small write; the results are already committed.
    if let Err(e) = store.finish_run(run_id, &record) {
        tracing::warn!(error = %e, "could not record the run's end");
    }
    Ok(FetchReport {
        run_id,
        intake,
        to_fetch,
        tally: snapshot,
        counts,
        stop,
        elapsed: started.elapsed(),
        concurrency,
        auto,
    })
}

async fn fetch_pending(
    opts: &FetchOptions,
    run_id: i64,
    to_fetch: i64,
    concurrency: usize,
    tally: Arc<Tally>,
    db_watch: DbWatch,
) -> Result<(Option<StopCause>, Option<Estimate>), FetchError> {
    let mut client_opts = opts.client.clone();
    client_opts.pool_max_idle = concurrency;
    let client = VendorClient::new(&opts.vendor, client_opts)?;
    let (writer, writer_thread) = writer::spawn(&opts.db, run_id)?;
    let cancel = CancellationToken::new();
    let ctx = Arc::new(Ctx {
        client,
        codes: opts.codes.clone(),
        pace: Pace::new(
            opts.rate,
            opts.burst,
            concurrency,
            opts.concurrency.is_none(),
        ),
        retry: opts.retry.clone(),
        breaker: Breaker::new(opts.breaker_threshold),
        writer,
        cancel: cancel.clone(),
        stop: Mutex::new(None),
        slots: tokio::sync::Semaphore::new(concurrency),
        tally: tally.clone(),
        save_images: opts.save_images.clone(),
        failures_explained: Mutex::default(),
    });

    let signals = tokio::spawn(watch_signals(ctx.clone()));
    let budget = opts.deadline.map(|deadline| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            ctx.stop(StopCause::CutOff);
        })
    });
    let adaptive = ctx.pace.adaptive();
    let reporter = Reporter::start(opts.progress, to_fetch as u64, tally, adaptive.clone());
    let db_watcher = tokio::spawn(watch_database(ctx.clone(), db_watch));
    // Many workers take from one queue: an MPMC channel, so no worker holds a lock while it
    // waits. Ids travel in small chunks: one hand-over (and at most one wake-up of the
    // producer) per chunk rather than per id, which measured as a tenth of a fast run's CPU.
    let (ids_tx, ids_rx) = async_channel::bounded::<Vec<ToFetch>>(concurrency / ID_CHUNK + 16);
    let producer = tokio::task::spawn_blocking({
        let db = opts.db.clone();
        let cancel = cancel.clone();
        move || produce_ids(&db, run_id, ids_tx, &cancel)
    });

    // Every id is its own task, so requests are parsed and classified on every runtime thread.
    // A request needs one of `concurrency` slots; an id waiting out a back-off gives its slot
    // back, so ids held at 11350 or 5xx do not starve the others. At most
    // `HELD_PER_SLOT * concurrency` ids are in progress at once (memory stays flat).
    let held = Arc::new(tokio::sync::Semaphore::new(concurrency * HELD_PER_SLOT));
    let mut tasks = tokio::task::JoinSet::new();
    let reap = |joined: Result<(), tokio::task::JoinError>, ctx: &Ctx| {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a fetch task failed");
            ctx.stop(StopCause::Storage(format!(
                "internal error in a fetch task: {e}"
            )));
        }
    };
    'dispatch: loop {
        let chunk = tokio::select! {
            _ = ctx.cancel.cancelled() => break,
            chunk = ids_rx.recv() => match chunk {
                Ok(chunk) => chunk,
                Err(_) => break,
            },
        };
        for check in chunk {
            let permit = tokio::select! {
                _ = ctx.cancel.cancelled() => break 'dispatch,
                permit = held.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break 'dispatch,
                },
            };
            let task_ctx = ctx.clone();
            tasks.spawn(async move {
                fetch_one(&task_ctx, check).await;
                drop(permit);
            });
            while let Some(joined) = tasks.try_join_next() {
                reap(joined, &ctx);
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        reap(joined, &ctx);
    }
    reporter.finish();
    signals.abort();
    if let Some(budget) = budget {
        budget.abort();
    }
    db_watcher.abort();
    // Close the id channel: a producer blocked on a full channel after a stop sees it and ends.
    ids_rx.close();

    let produced = producer
        .await
        .map_err(|e| StoreError::Thread(format!("reader: {e}")))?;
    let stop = ctx.stop.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let estimate = adaptive.map(|a| a.estimate());
    drop(ctx); // the last writer handle: the writer drains and ends
    let written = writer_thread
        .join()
        .map_err(|_| StoreError::Thread("writer panicked".into()))?;
    match written {
        Err(e) => {
            let disk_full = e.is_disk_full();
            tracing::error!(error = %e, disk_full, "writing results failed; committed results are kept");
            let cause = StopCause::Storage(if disk_full {
                format!("{e} (the disk is full: free space, then run the same command again)")
            } else {
                e.to_string()
            });
            Ok((Some(cause), estimate))
        }
        Ok(stats) => {
            tracing::debug!(
                attempts = stats.attempts,
                resolved = stats.resolved,
                failed = stats.failed,
                transactions = stats.transactions,
                "writer finished"
            );
            produced?;
            Ok((stop, estimate))
        }
    }
}

/// Ids handed over from the producer at once.
const ID_CHUNK: usize = 8;

/// Ids in progress (sending, or waiting out a back-off) per request slot.
const HELD_PER_SLOT: usize = 8;

/// Pages ids needing the vendor out of the database into the workers' channel.
fn produce_ids(
    db: &std::path::Path,
    run_id: i64,
    tx: async_channel::Sender<Vec<ToFetch>>,
    cancel: &CancellationToken,
) -> Result<(), StoreError> {
    let store = Store::open(db, OpenMode::Existing)?;
    let mut after = 0;
    loop {
        let page = intake::next_to_fetch(&store.conn, run_id, after, 1024)?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.check;
        let mut page = page.into_iter().peekable();
        while page.peek().is_some() {
            let chunk: Vec<ToFetch> = page.by_ref().take(ID_CHUNK).collect();
            if cancel.is_cancelled() || tx.send_blocking(chunk).is_err() {
                return Ok(());
            }
        }
    }
}

/// Sets `flag` on SIGINT or SIGTERM while the input is read (handlers installed before this
/// returns); a second signal ends the process at once.
fn watch_intake_signals(flag: Arc<std::sync::atomic::AtomicBool>) -> tokio::task::JoinHandle<()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        )
    };
    tokio::spawn(async move {
        #[cfg(unix)]
        match signals {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                std::process::exit(130);
            }
            _ => std::future::pending::<()>().await,
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    })
}

/// How often a run checks that its database file is still the one it locked.
const DB_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Stops the run when the database file is deleted or replaced under it.
async fn watch_database(ctx: Arc<Ctx>, watch: DbWatch) {
    let mut every = tokio::time::interval(DB_CHECK_EVERY);
    loop {
        every.tick().await;
        let check = watch.clone();
        let gone = tokio::task::spawn_blocking(move || check.check_in_place()).await;
        if let Ok(Err(e)) = gone {
            ctx.stop(StopCause::Storage(e.to_string()));
            return;
        }
    }
}

async fn watch_signals(ctx: Arc<Ctx>) {
    let interrupted = async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    interrupted.await;
    ctx.stop(StopCause::Interrupted);
    // A second signal means "now": everything committed so far is safe on disk.
    let _ = tokio::signal::ctrl_c().await;
    std::process::exit(130);
}

/// How one id's round of attempts ended. The attempt that ended it rides along with the
/// ending when it has not been written yet, so a one-request id costs one write, and its
/// attempt row and result are committed together.
enum Ending {
    Resolved(ResultAnswer, Option<AttemptRow>),
    Failed(Fault, Option<AttemptRow>),
    /// The run stopped first: the id stays as it was.
    Stopped,
}

/// Asks the vendor for one id, then records how the round ended with the number of attempts
/// it took (retried attempts are written as they happen; the one that ended the round is
/// written with the ending).
async fn fetch_one(ctx: &Ctx, ToFetch { check, liveness_id }: ToFetch) {
    let mut attempts = 0;
    let ending = attempt_until_final(ctx, &liveness_id, &mut attempts).await;
    let op = match ending {
        Ending::Resolved(answer, last_attempt) => {
            match save_face(ctx, &liveness_id, &answer).await {
                Ok(()) => resolved_op(ctx, check, answer, attempts, last_attempt),
                Err(error) => {
                    // The answer is not stored: the id stays unresolved, so a later run asks
                    // again and writes its image then.
                    Tally::add(&ctx.tally.failed);
                    WriteOp::Failed {
                        check,
                        error,
                        attempts,
                        last_attempt,
                    }
                }
            }
        }
        Ending::Failed(fault, last_attempt) => {
            ctx.explain_failure(&liveness_id, &fault, attempts);
            Tally::add(&ctx.tally.failed);
            WriteOp::Failed {
                check,
                error: fault.to_string(),
                attempts,
                last_attempt,
            }
        }
        Ending::Stopped if attempts > 0 => WriteOp::Tried { check, attempts },
        Ending::Stopped => return,
    };
    ctx.write(op).await;
}

/// The attempt loop of one id: until a final answer, retries run out, or the run stops.
async fn attempt_until_final(ctx: &Ctx, id: &str, attempts: &mut i64) -> Ending {
    let mut delays = ctx.retry.delays();
    let mut internal: Option<ResultAnswer> = None;
    loop {
        // The slot is held from waiting for the pace to the attempt's write, and given back
        // before a back-off wait.
        let slot = tokio::select! {
            _ = ctx.cancel.cancelled() => return stopped(internal),
            slot = ctx.slots.acquire() => match slot {
                Ok(slot) => slot,
                Err(_) => return stopped(internal),
            },
        };
        let Some(grant) = ctx.pace.ready(&ctx.cancel).await else {
            return stopped(internal);
        };
        let attempt = tokio::select! {
            a = ctx.client.fetch_result(id, &ctx.codes) => a,
            _ = async { ctx.cancel.cancelled().await; tokio::time::sleep(STOP_GRACE).await } => {
                return stopped(internal);
            }
        };
        Tally::add(&ctx.tally.requests);
        ctx.pace.answered(attempt.latency);
        *attempts += 1;
        let row = attempt_row(id, grant.at_ms, &attempt);
        let retry = match attempt.verdict {
            Verdict::Final(answer) => {
                ctx.breaker.record_ok();
                if !answer.dropped.is_empty() {
                    tracing::warn!(liveness_id = %id, "{}", dropped_note(&answer.dropped));
                }
                return Ending::Resolved(answer, Some(row));
            }
            Verdict::GiveUp(fault) => {
                ctx.breaker.record_ok();
                return Ending::Failed(fault, Some(row));
            }
            Verdict::Stop(reason) => {
                ctx.write(WriteOp::Attempt(row)).await;
                ctx.stop(StopCause::Vendor(reason));
                return stopped(internal);
            }
            Verdict::Retry(retry) => {
                if !ctx.write(WriteOp::Attempt(row)).await {
                    return stopped(internal);
                }
                retry
            }
        };
        if let Some(answer) = retry.answer {
            Tally::add(&ctx.tally.internal_errors);
            internal = Some(answer);
        }
        if ctx.cancel.is_cancelled() {
            return stopped(internal);
        }
        // A 429 that paused the run counts towards the breaker like an outage fault: a vendor
        // that refuses every request for that long is not coming back during this run.
        let refused = (retry.fault == Fault::RateLimited).then(|| {
            let pause = ctx.retry.rate_limit_pause(retry.retry_after);
            ctx.pace.refused(&grant, retry.retry_after, pause)
        });
        if retry.fault.is_outage() || refused == Some(true) {
            if ctx.breaker.record_outage() {
                ctx.stop(StopCause::Outage {
                    count: ctx.breaker.threshold(),
                    last: retry.fault.to_string(),
                });
                return stopped(internal);
            }
        } else if refused.is_none() {
            ctx.breaker.record_ok();
        }
        let delay = if refused.is_some() {
            // Not a retry used up: the shared pause is the wait, the breaker the bound.
            Tally::add(&ctx.tally.rate_limited);
            Some(Duration::ZERO)
        } else {
            if let Some(wait) = retry.retry_after {
                ctx.pace.pause_for(wait.min(ctx.retry.retry_after_cap));
            }
            delays.next()
        };
        let Some(delay) = delay else {
            return match internal {
                Some(answer) => Ending::Resolved(answer, None),
                None => Ending::Failed(retry.fault, None),
            };
        };
        Tally::add(&ctx.tally.retries);
        // Both the request slot and the room in flight are free during the back-off.
        drop(grant);
        drop(slot);
        tokio::select! {
            _ = ctx.cancel.cancelled() => return stopped(internal),
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// How a round ends when the run stops: an answer already received (11350, asked again next
/// run) is stored as the id's state, never lost; otherwise the id stays as it was.
fn stopped(internal: Option<ResultAnswer>) -> Ending {
    match internal {
        Some(answer) => Ending::Resolved(answer, None),
        None => Ending::Stopped,
    }
}

/// The note for secondary fields dropped from an answer that was kept.
fn dropped_note(fields: &[&str]) -> String {
    format!(
        "answer kept; dropped field(s) of an unexpected type: {}",
        fields.join(", ")
    )
}

fn attempt_row(id: &str, sent_at_ms: i64, attempt: &crate::vendor::client::Attempt) -> AttemptRow {
    let (outcome, code, sequence_id, detail) = match &attempt.verdict {
        Verdict::Final(a) => (
            "final".to_string(),
            Some(a.code),
            a.sequence_id.clone(),
            (!a.dropped.is_empty()).then(|| dropped_note(&a.dropped)),
        ),
        Verdict::Retry(r) => (
            format!("retry:{}", r.fault.kind()),
            r.answer.as_ref().map(|a| a.code),
            r.answer.as_ref().and_then(|a| a.sequence_id.clone()),
            Some(r.fault.to_string()),
        ),
        Verdict::GiveUp(f) => (
            format!("give_up:{}", f.kind()),
            None,
            None,
            Some(f.to_string()),
        ),
        Verdict::Stop(reason) => {
            let code = match reason {
                StopReason::Account { code, .. } => Some(*code),
                _ => None,
            };
            ("stop".to_string(), code, None, Some(reason.to_string()))
        }
    };
    AttemptRow {
        liveness_id: id.to_string(),
        sent_at_ms,
        latency_ms: attempt.latency.as_millis() as i64,
        http_status: attempt.http_status,
        code,
        sequence_id,
        outcome,
        detail,
    }
}

/// Saves the face when `--save-images` asks for it. A failure is the id's failure; a full or
/// read-only disk also stops the run, since every later image would fail the same way.
async fn save_face(ctx: &Ctx, id: &str, answer: &ResultAnswer) -> Result<(), String> {
    let (Some(dir), Some(bytes)) = (
        &ctx.save_images,
        answer.face.as_ref().and_then(|f| f.bytes.as_ref()),
    ) else {
        return Ok(());
    };
    let (dir, id_for_file, bytes) = (dir.clone(), id.to_string(), bytes.clone());
    let saved = tokio::task::spawn_blocking(move || faces::save(&dir, &id_for_file, &bytes)).await;
    let error = match saved {
        Ok(Ok(_)) => return Ok(()),
        Ok(Err(e)) => e,
        Err(e) => std::io::Error::other(e.to_string()),
    };
    let message = format!("could not save the face image under --save-images: {error}");
    tracing::warn!(liveness_id = %id, error = %error, "could not save the face image");
    // ENOSPC, EDQUOT, EROFS: the disk, not this image.
    if matches!(error.raw_os_error(), Some(28 | 122 | 30)) {
        ctx.stop(StopCause::Storage(format!(
            "{message} (free space or fix the directory, then run the same command again)"
        )));
    }
    Err(message)
}

/// Counts a resolved answer and builds its write.
fn resolved_op(
    ctx: &Ctx,
    check: i64,
    answer: ResultAnswer,
    attempts: i64,
    last_attempt: Option<AttemptRow>,
) -> WriteOp {
    let category = ctx.codes.category(answer.code);
    Tally::add(&ctx.tally.resolved);
    match crate::check::classify(Status::Done, Some(answer.code), &ctx.codes) {
        Class::Charged => Tally::add(&ctx.tally.charged),
        Class::UnknownCode => Tally::add(&ctx.tally.unknown_codes),
        Class::Uncharged | Class::Provisional | Class::Unresolved => {}
    }
    if category == Category::Attack {
        Tally::add(&ctx.tally.attacks);
    }
    WriteOp::Resolved {
        check,
        answer: StoredAnswer {
            code: answer.code,
            message: answer.message,
            score: answer.score,
            sequence_id: answer.sequence_id,
            image_sha256: answer.face.as_ref().map(|f| f.sha256.clone()),
            image_bytes: answer.face.as_ref().map(|f| f.len as i64),
        },
        attempts,
        last_attempt,
    }
}
