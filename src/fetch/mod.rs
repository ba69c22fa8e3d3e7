//! The fetch pipeline: input ids -> paced, concurrent requests -> the single writer.
//!
//! - [`FetchOptions`]: everything a run needs, already validated.
//! - [`run`]: registers the input, fetches what is not final yet, returns a [`FetchReport`].
//! - [`pace`]: the rate limit and the shared 429 pause.
//! - [`adaptive`]: `--rate auto`, the controller that finds the vendor's limit.
//! - [`retry`]: the back-off policy and the circuit breaker.
//! - [`progress`]: counters, progress bar and periodic log lines.
//! - [`attempt`]: one id's attempts until a final answer, and the rows they leave.
//! - [`watch`]: interrupts and the database file, watched beside the run.
//! - [`dispatch`]: the id queue: the producer paging ids out of the database, a task per id.
//! - face images are written through [`crate::faces`] when the user passes `--save-images`.
//!
//! Data flows one way: a producer pages ids that still need the vendor out of the database,
//! each id becomes a task that asks the vendor within `--concurrency` request slots (each
//! request first waits for the pace; a back-off wait gives its slot back), and every attempt
//! and result goes to the writer thread. A watcher stops the run if the database file is
//! deleted or replaced under it. A stop (credentials, account, outage, Ctrl-C, the time
//! budget's cut-off, a write failure) cancels the run: no new request starts, requests in
//! flight get a short grace to finish and be saved, and every unfinished id stays as it was
//! for the next run.

pub(crate) mod adaptive;

pub(crate) mod pace;
pub(crate) mod progress;
pub(crate) mod retry;

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::check::{Class, Status};
use crate::codes::{Category, CodeTable};
use crate::config::VendorSettings;
use crate::faces;
use crate::input::{InputOptions, Source};
use crate::setting::Setting;
use crate::store::account::{self, RunAccount};
use crate::store::intake::{self, IntakeError, IntakeStats, ToFetch};
use crate::store::writer::{self, AttemptRow, StoredAnswer, WriteOp, WriterHandle};
use crate::store::{DbWatch, FetchLock, OpenMode, RunRecord, StatusCounts, Store, StoreError};
use crate::td::answer::{Fault, ResultAnswer, VendorStop, Verdict};
use crate::td::client::{ClientOptions, VendorClient, VendorError};
use adaptive::Estimate;
use pace::{Pace, Rate};
use progress::{ProgressMode, Reporter, Tally, TallySnapshot};
use retry::{Breaker, RetryPolicy};

mod watch;
pub(crate) use watch::watch_intake_signals;
use watch::*;
mod attempt;
mod dispatch;
mod registration;
use dispatch::{ID_CHUNK, dispatch_on_runtime, produce_ids};
pub(crate) use registration::log_intake;

/// How long requests in flight may still finish after a stop.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// The default request rate (per second) when the user gives none. The vendor publishes no
/// limit; this is deliberately modest for a paid API.
pub(crate) const DEFAULT_RATE: u32 = 10;

/// A validated fetch run.
#[derive(Debug, Clone)]
pub(crate) struct FetchOptions {
    pub db: PathBuf,
    pub sources: Vec<Source>,
    /// Also ask again every stored check of the account that still needs the vendor.
    pub pending: bool,
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
    pub(crate) fn effective_concurrency(&self) -> usize {
        match (self.concurrency, self.rate) {
            (Some(c), _) => c.max(1),
            (None, Rate::Fixed(rate)) => (rate.get() as usize).clamp(8, 1024),
            (None, Rate::Auto(bounds)) => (bounds.max.ceil() as usize).clamp(8, 1024),
            (None, Rate::Unlimited) => 64,
        }
    }

    /// The account the run records (never its key).
    pub(crate) fn account(&self) -> RunAccount {
        RunAccount {
            name: self.vendor.account.name.clone(),
            partner_code: self.vendor.partner_code.clone(),
            endpoint_host: self.vendor.endpoint_host(),
        }
    }

    /// The rate as the user gave it: `auto`, `0` (no limit) or a number per second.
    pub(crate) fn rate_setting(&self) -> String {
        match self.rate {
            Rate::Unlimited => "0".into(),
            Rate::Fixed(r) => r.to_string(),
            Rate::Auto(_) => "auto".into(),
        }
    }
}

/// Why a run stopped before every id was tried: the vendor's [`VendorStop`], or a stop of our
/// own.
///
/// A stop ends the run, not the command: the run's record and summary keep it, and the
/// command turns it into its exit status (a [`crate::failure::Failure`] is a command's error).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum StopCause {
    #[error("{0}")]
    Vendor(VendorStop),
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
pub(crate) enum FetchError {
    #[error(transparent)]
    Intake(#[from] IntakeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vendor(#[from] VendorError),
    /// An input found readable before the run, refused while it was registered during the
    /// requests: it changed in between.
    #[error(
        "{0} (the input changed after it was checked; the ids registered before this line were \
         asked and their answers are saved: fix the input, then run the same command again)"
    )]
    InputChanged(crate::input::InputError),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub(crate) struct FetchReport {
    pub run_id: i64,
    /// The account the run fetched under.
    pub account: RunAccount,
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
    /// Whether every id of the run's input has a final answer, those another account read
    /// first included (they wait for that account's run).
    pub(crate) fn complete(&self) -> bool {
        self.stop.is_none()
            && self.counts.failed == 0
            && self.counts.pending == 0
            && self.intake.other_account.open == 0
    }
}

struct Ctx<V = VendorClient> {
    client: V,
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
    /// The run's shared state: `concurrency` request slots, the pace and retry rules of `opts`.
    fn new(
        opts: &FetchOptions,
        client: VendorClient,
        writer: WriterHandle,
        concurrency: usize,
        tally: Arc<Tally>,
    ) -> Ctx {
        Ctx {
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
            cancel: CancellationToken::new(),
            stop: Mutex::new(None),
            slots: tokio::sync::Semaphore::new(concurrency),
            tally,
            save_images: opts.save_images.clone(),
            failures_explained: Mutex::default(),
        }
    }
}

impl<V> Ctx<V> {
    /// Records the first stop cause and cancels the run.
    fn stop(&self, cause: StopCause) {
        // Cancel first: no request may be granted after the decision to stop, and writing the
        // log line can block (a slow stderr) while other workers go on sending.
        self.cancel.cancel();
        let mut stop = self.stop.lock().unwrap_or_else(|p| p.into_inner());
        if stop.is_none() {
            *stop = Some(cause.clone());
            drop(stop);
            tracing::warn!(reason = %cause, "stopping the run");
        }
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
pub(crate) fn run_ending(stop: Option<&StopCause>, counts: &StatusCounts) -> &'static str {
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

/// Runs a fetch: lock, register input (before the requests, or while they run:
/// [`registration`]),
/// fetch, record the run.
pub(crate) async fn run(opts: FetchOptions) -> Result<FetchReport, FetchError> {
    let started = Instant::now();
    let lock = FetchLock::acquire(&opts.db)?;
    let mut store = Store::open(&opts.db, OpenMode::CreateOrMigrate)?;
    let names: Vec<String> = opts.sources.iter().map(Source::name).collect();
    let run_id = store.begin_run(&names)?;
    let account = opts.account();
    account::record_run(&store.conn, run_id, &account)?;
    account::warn_if_name_is_a_recorded_code(&store.conn, &account).map_err(StoreError::Query)?;
    let concurrency = opts.effective_concurrency();
    let tally = Arc::new(Tally::default());
    let (intake, to_fetch, mut stop, auto) = if registration::streams(&opts) {
        stream_and_fetch(&store, &opts, run_id, &account, &tally, lock.watch()).await?
    } else {
        let mut intake = registration::register_input(&mut store, run_id, &account, &opts)?;
        registration::log_intake(&intake, &account);
        if opts.pending {
            intake.pending = intake::mark_needing_vendor(&store.conn, run_id, &account)?;
            tracing::info!(
                stored = intake.pending,
                "stored checks that still need the vendor are asked again ({pending_flag})",
                pending_flag = Setting::Pending
            );
        }
        let to_fetch = intake::count_to_fetch(&store.conn, run_id, &account.partner_code)?;
        registration::log_registered(&intake, to_fetch, &opts.rate_setting(), concurrency);
        let (mut stop, mut auto) = (None, None);
        if to_fetch > 0 && opts.deadline.is_some_and(|d| Instant::now() >= d) {
            stop = Some(StopCause::CutOff);
        } else if to_fetch > 0 {
            let total = Arc::new(std::sync::atomic::AtomicU64::new(to_fetch as u64));
            let (db, code) = (opts.db.clone(), opts.vendor.partner_code.clone());
            let stored = move |ids_tx, ctx: Arc<Ctx>, _| {
                let cancel = ctx.cancel.clone();
                tokio::task::spawn_blocking(move || {
                    produce_ids(&db, run_id, &code, ids_tx, &cancel).map_err(FetchError::from)
                })
            };
            let buffer = concurrency / ID_CHUNK + 16;
            let ids = Ids {
                total,
                spawn: stored,
                buffer,
            };
            (stop, auto, _) =
                fetch_pending(&opts, run_id, ids, concurrency, tally.clone(), lock.watch()).await?;
        }
        (intake, to_fetch, stop, auto)
    };
    // Results written to a database that was deleted or replaced meanwhile are lost with it.
    if let Err(e) = lock.check_in_place() {
        tracing::error!(error = %e, "the database is gone");
        stop = Some(StopCause::Storage(e.to_string()));
    }

    let counts = store.status_counts(Some(run_id))?;
    let report = FetchReport {
        run_id,
        account,
        intake,
        to_fetch,
        tally: tally.snapshot(),
        counts,
        stop,
        elapsed: started.elapsed(),
        concurrency,
        auto,
    };
    record_end(&mut store, &opts, &report);
    Ok(report)
}

/// What a run registered and fetched: its counts, the ids to fetch, why it stopped, and where
/// `--rate auto` ended.
type Fetched = (IntakeStats, i64, Option<StopCause>, Option<Estimate>);

/// Checks the input, then registers it while its ids are fetched ([`registration`]); a
/// registration that failed is recorded as the run's end.
async fn stream_and_fetch(
    store: &Store,
    opts: &FetchOptions,
    run_id: i64,
    account: &RunAccount,
    tally: &Arc<Tally>,
    db_watch: DbWatch,
) -> Result<Fetched, FetchError> {
    registration::check_input(store, run_id, opts)?;
    let concurrency = opts.effective_concurrency();
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let streamed =
        registration::spawn_streamed(opts, run_id, account.clone(), concurrency, total.clone());
    // The queue holds a chunk and more: the next chunk registers while this one is asked.
    let buffer = (registration::CHUNK_IDS + concurrency) / ID_CHUNK + 16;
    let ids = Ids {
        total,
        spawn: streamed,
        buffer,
    };
    match fetch_pending(opts, run_id, ids, concurrency, tally.clone(), db_watch).await {
        Ok((stop, auto, s)) => {
            // A run with nothing to ask was not cut off, whenever its budget ended.
            let stop = stop.filter(|c| s.to_fetch > 0 || *c != StopCause::CutOff);
            Ok((s.stats, s.to_fetch, stop, auto))
        }
        Err(FetchError::Intake(e)) => Err(registration::record_failure(store, run_id, e)),
        Err(e) => Err(e),
    }
}

/// Records how the run ended in the `runs` table.
fn record_end(store: &mut Store, opts: &FetchOptions, report: &FetchReport) {
    let (intake, auto) = (&report.intake, report.auto);
    let record = RunRecord {
        outcome: run_ending(report.stop.as_ref(), &report.counts).into(),
        stop_reason: report.stop.as_ref().map(ToString::to_string),
        rows_read: intake.input.rows as i64,
        ids_read: intake.input.ids as i64,
        blank_ids: intake.input.blank_ids as i64,
        duplicate_ids: intake.duplicates as i64,
        to_fetch: report.to_fetch,
        resolved: report.tally.resolved as i64,
        failed: report.tally.failed as i64,
        rate: Some(opts.rate_setting()),
        settled_rate: auto.map(|e| e.settled),
        limit_found: auto.and_then(|e| e.limit),
    };
    // A full disk may refuse even this small write; the results are already committed.
    if let Err(e) = store.finish_run(report.run_id, &record) {
        tracing::warn!(error = %e, "could not record the run's end");
    }
}

/// Where a run's ids come from: `spawn` starts the task that hands them to the workers (and
/// returns what it found once every id is handed over; it is given the writer's connection,
/// to write in turns beside it), `total` is how many there are so far
/// (the progress bar's length), `buffer` how many hand-overs may wait in the queue.
struct Ids<F> {
    spawn: F,
    total: Arc<std::sync::atomic::AtomicU64>,
    buffer: usize,
}

/// Fetches the run's ids that still need the vendor: starts the writer, the producer and the
/// watchers, dispatches every id, then collects why the run stopped (if it did) and what the
/// producer returned.
async fn fetch_pending<P, F>(
    opts: &FetchOptions,
    run_id: i64,
    ids: Ids<F>,
    concurrency: usize,
    tally: Arc<Tally>,
    db_watch: DbWatch,
) -> Result<(Option<StopCause>, Option<Estimate>, P), FetchError>
where
    F: FnOnce(
        async_channel::Sender<Vec<ToFetch>>,
        Arc<Ctx>,
        writer::SharedConnection,
    ) -> tokio::task::JoinHandle<Result<P, FetchError>>,
{
    let mut client_opts = opts.client.clone();
    client_opts.pool_max_idle = concurrency;
    let client = VendorClient::new(&opts.vendor, client_opts)?;
    let (writer, writer_thread, conn) = writer::spawn(&opts.db, run_id)?;
    let ctx = Arc::new(Ctx::new(opts, client, writer, concurrency, tally.clone()));

    let signals = tokio::spawn(watch_signals(ctx.clone()));
    let budget = opts.deadline.map(|deadline| {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(deadline.into()).await;
            ctx.stop(StopCause::CutOff);
        })
    });
    let adaptive = ctx.pace.adaptive();
    let reporter = Reporter::start(opts.progress, ids.total, tally, adaptive.clone());
    let db_watcher = tokio::spawn(watch_database(ctx.clone(), db_watch));
    // Many workers take from one queue: an MPMC channel, so no worker holds a lock while it
    // waits. Ids travel in small chunks: one hand-over (and at most one wake-up of the
    // producer) per chunk rather than per id, so the hand-over costs little CPU on a fast run.
    let (ids_tx, ids_rx) = async_channel::bounded::<Vec<ToFetch>>(ids.buffer);
    let producer = (ids.spawn)(ids_tx, ctx.clone(), conn);

    dispatch_on_runtime(&ctx, &ids_rx, concurrency).await;
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
    let (stop, produced) = stop_after_writing(written, produced, stop)?;
    Ok((stop, estimate, produced))
}

/// The run's stop once the writer has ended, and what the producer returned: a write failure
/// outranks the stop recorded during the run (and, when the producer failed too, is the run's
/// error); otherwise the producer's error, if any, is the run's.
fn stop_after_writing<P>(
    written: Result<writer::WriterStats, StoreError>,
    produced: Result<P, FetchError>,
    stop: Option<StopCause>,
) -> Result<(Option<StopCause>, P), FetchError> {
    match written {
        Err(e) => {
            let disk_full = e.is_disk_full();
            tracing::error!(error = %e, disk_full, "writing results failed; committed results are kept");
            let stop = StopCause::Storage(if disk_full {
                format!("{e} (the disk is full: free space, then run the same command again)")
            } else {
                e.to_string()
            });
            match produced {
                Ok(produced) => Ok((Some(stop), produced)),
                Err(_) => Err(e.into()),
            }
        }
        Ok(stats) => {
            tracing::debug!(
                attempts = stats.attempts,
                resolved = stats.resolved,
                failed = stats.failed,
                transactions = stats.transactions,
                "writer finished"
            );
            Ok((stop, produced?))
        }
    }
}
