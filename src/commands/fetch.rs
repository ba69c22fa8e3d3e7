//! `liveaudit fetch`: flags to checked [`FetchOptions`], the run, its summary on stderr and the
//! `--summary-file` / `--metrics-file` it leaves for a scheduler.
//!
//! Policy: every flag is checked before anything is sent; the exit status of a finished run
//! follows from how it stopped ([`fetch_status`]); a run file that cannot be written (a full
//! disk, a FIFO nobody reads) is logged and turns an exit status 0 into 1, so a scheduler that
//! reads only the status still learns its files are stale (a non-zero status is kept).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::{code_table, layers};
use crate::cli::{FetchArgs, GlobalArgs, LogFormat};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::fetch::{FetchError, FetchReport, StopCause};
use crate::store::intake::IntakeError;
use crate::store::{OpenMode, Store};
use crate::td::answer::VendorStop;

mod options;
use options::fetch_cutoff;
pub(crate) use options::fetch_options;

/// Runs `liveaudit fetch`.
pub(crate) async fn fetch(global: &GlobalArgs, args: FetchArgs) -> Result<ExitStatus, Failure> {
    fetch_with_report(global, args).await.0
}

/// Runs a fetch as `liveaudit fetch` does (summary, run files, exit status), and returns its
/// report too when it got as far as one (the nightly job's metrics and summary use it).
pub(crate) async fn fetch_with_report(
    global: &GlobalArgs,
    args: FetchArgs,
) -> (Result<ExitStatus, Failure>, Option<FetchReport>) {
    let started = jiff::Timestamp::now();
    let clock = std::time::Instant::now();
    let mut db = None;
    let mut account = None;
    let result = async {
        let opts = fetch_options(global, &args)?;
        if let Some(deadline) = opts.deadline {
            let at = started
                .checked_add(deadline.saturating_duration_since(clock))
                .unwrap_or(started);
            tracing::info!(
                cutoff = %crate::timestamp::format_utc(at.as_millisecond()),
                "time budget: no new id is started after the cut-off"
            );
        }
        db = Some(opts.db.clone());
        account = Some(opts.account());
        crate::fetch::run(opts).await.map_err(fetch_failure)
    }
    .await;
    let status = match &result {
        Ok(report) => fetch_status(report),
        Err(failure) => failure.status,
    };
    if let Ok(report) = &result {
        print_summary(
            report,
            db.as_deref().unwrap_or(Path::new("")),
            global.log_format,
            status,
        );
    }
    let ending = RunEnding {
        started,
        elapsed: clock.elapsed(),
        status,
        report: result.as_ref().ok(),
        error: result.as_ref().err().map(|f| format!("{:#}", f.error)),
        cutoff: fetch_cutoff(global, &args, started).ok().flatten(),
        db: db.as_deref(),
        account: account.as_ref(),
    };
    let files = write_run_files(global, &args, &ending);
    match result {
        Ok(report) if files == RunFiles::Failed && status == ExitStatus::Ok => {
            (Ok(ExitStatus::Internal), Some(report))
        }
        Ok(report) => (Ok(status), Some(report)),
        Err(failure) => (Err(failure), None),
    }
}

/// Whether the run files were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunFiles {
    Written,
    Failed,
}

/// How a fetch (or a night) ended, for the summary and metrics files.
pub(crate) struct RunEnding<'a> {
    pub started: jiff::Timestamp,
    pub elapsed: Duration,
    pub status: ExitStatus,
    pub report: Option<&'a FetchReport>,
    pub error: Option<String>,
    pub cutoff: Option<crate::schedule::Cutoff>,
    pub db: Option<&'a Path>,
    /// The account chosen, once the settings were read (also for a run that then failed).
    pub account: Option<&'a crate::store::account::RunAccount>,
}

/// Writes `--summary-file` and `--metrics-file`. A failure here is logged; the files report the
/// run's own outcome, and the caller turns a clean exit into 1.
fn write_run_files(global: &GlobalArgs, args: &FetchArgs, e: &RunEnding<'_>) -> RunFiles {
    use crate::run_summary::{AccountSummary, InputAfter, RunSummary, ThisRun};
    let finished = jiff::Timestamp::now();
    let mut written = RunFiles::Written;
    // A run that ended before it started because a run file's own folder is missing has said
    // so in its error: writing that file is not tried again (it would only fail twice).
    let unwritable = |flag: &str, path: &Path| {
        e.report.is_none() && super::writable_later(flag, Some(path)).is_err()
    };
    if let Some(path) = args
        .summary_file
        .as_ref()
        .filter(|p| !unwritable("summary-file", p))
    {
        let summary = RunSummary {
            run_id: e.report.map(|r| r.run_id),
            command: "fetch",
            started_at: crate::timestamp::format_utc(e.started.as_millisecond()),
            finished_at: crate::timestamp::format_utc(finished.as_millisecond()),
            duration_secs: (e.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            exit_status: e.status.code(),
            outcome: e
                .report
                .map_or("error", crate::run_summary::run_ending)
                .to_string(),
            stop_reason: e
                .report
                .and_then(|r| r.stop.as_ref().map(ToString::to_string))
                .or_else(|| e.error.clone()),
            cutoff_at: e
                .cutoff
                .as_ref()
                .map(|c| crate::timestamp::format_utc(c.at.as_millisecond())),
            account: e
                .report
                .map(|r| &r.account)
                .or(e.account)
                .map(AccountSummary::of),
            this_run: e.report.map(ThisRun::of),
            input_after: e.report.map(InputAfter::of),
            database: e.db.map(|p| p.display().to_string()),
        };
        if let Err(err) = crate::run_summary::append(path, &summary) {
            tracing::error!(path = %path.display(), error = %err, "could not write the summary file");
            written = RunFiles::Failed;
        }
    }
    if let Some(path) = args
        .metrics_file
        .as_ref()
        .filter(|p| !unwritable("metrics-file", p))
    {
        let codes = layers(global, &args.vendor)
            .ok()
            .and_then(|l| code_table(&l).ok());
        if write_metrics(path, e, codes.as_ref(), finished) == RunFiles::Failed {
            written = RunFiles::Failed;
        }
    }
    written
}

/// Writes the metrics of a run that ended as `e` to `path`; a failure is logged and returned.
pub(crate) fn write_metrics(
    path: &Path,
    e: &RunEnding<'_>,
    codes: Option<&crate::codes::CodeTable>,
    finished: jiff::Timestamp,
) -> RunFiles {
    let account = e.report.map(|r| &r.account).or(e.account);
    let mut metrics = crate::metrics::Metrics {
        account: account.map(|a| (a.label().to_string(), a.partner_code.clone())),
        ended_at: finished.as_millisecond() as f64 / 1000.0,
        duration_secs: e.elapsed.as_secs_f64(),
        exit_status: e.status.code(),
        ids_left: e.report.map(|r| r.counts.unresolved()),
        ..crate::metrics::Metrics::default()
    };
    // The database as it is now; an ending before it existed still writes the status.
    if let Some(db) = e.db.filter(|p| p.exists())
        && let Ok(store) = Store::open(db, OpenMode::MigrateExisting)
    {
        if let Some(r) = e.report {
            metrics.requests =
                crate::metrics::requests_by_outcome(&store, r.run_id).unwrap_or_default();
        }
        let code = account.map(|a| a.partner_code.as_str());
        metrics.ids_pending = store.status_counts_of(code).ok().map(|c| c.unresolved());
        // A night that never fetched still says what is left: the account's open ids.
        metrics.ids_left = metrics.ids_left.or(metrics.ids_pending);
        if let Some(codes) = codes {
            metrics.checks = crate::metrics::checks_by_class(&store, codes, code).ok();
        }
    }
    let text = crate::metrics::render(&metrics);
    if let Err(err) = crate::metrics::write_atomic(path, &text) {
        tracing::error!(path = %path.display(), error = %err, "could not write the metrics file");
        return RunFiles::Failed;
    }
    RunFiles::Written
}

/// Maps a fetch error to its exit status.
pub(crate) fn fetch_failure(e: FetchError) -> Failure {
    match e {
        FetchError::Intake(IntakeError::Input(crate::input::InputError::Interrupted)) => Failure {
            status: ExitStatus::Interrupted,
            error: anyhow::Error::new(crate::input::InputError::Interrupted),
        },
        FetchError::Intake(IntakeError::Input(input)) => Failure::usage(
            anyhow::Error::new(input).context("reading the input (nothing was sent)"),
        ),
        FetchError::Intake(IntakeError::Store(s)) | FetchError::Store(s) => s.into(),
        FetchError::Vendor(v) => Failure::internal(v),
        e @ FetchError::InputChanged(_) => Failure::usage(anyhow::Error::new(e)),
    }
}

/// The exit status a finished fetch reports.
pub(crate) fn fetch_status(report: &FetchReport) -> ExitStatus {
    match &report.stop {
        Some(StopCause::Vendor(
            VendorStop::Misconfigured { .. }
            | VendorStop::LicenseApi
            | VendorStop::Untrusted { .. },
        )) => ExitStatus::Usage,
        Some(StopCause::Vendor(_)) => ExitStatus::Refused,
        Some(StopCause::Interrupted) => ExitStatus::Interrupted,
        Some(StopCause::CutOff) => ExitStatus::Incomplete,
        Some(StopCause::Storage(_)) => ExitStatus::Internal,
        Some(StopCause::Outage { .. }) => ExitStatus::Incomplete,
        None if report.complete() => ExitStatus::Ok,
        None => ExitStatus::Incomplete,
    }
}

/// The summary's account line: label, partner code and endpoint host (never the key).
fn account_line(a: &crate::store::account::RunAccount) -> String {
    format!(
        "account {}, endpoint {}",
        crate::store::account::describe(a.name.as_deref(), &a.partner_code),
        a.endpoint_host.as_deref().unwrap_or("(none)")
    )
}

fn print_summary(r: &FetchReport, db: &Path, format: LogFormat, status: ExitStatus) {
    let t = &r.tally;
    let c = &r.counts;
    let secs = r.elapsed.as_secs_f64();
    let next = match (&r.stop, c.failed + c.pending) {
        (Some(StopCause::Vendor(VendorStop::CredentialsRefused { .. })), _) => {
            "fix the credentials (check with `liveaudit license`), then run the same command again"
        }
        (Some(StopCause::Vendor(VendorStop::Account { .. })), _) => {
            "the account is stopped at the vendor; when it is open again, run the same command again"
        }
        (Some(StopCause::CutOff), _) => "the next run continues with the ids left",
        (
            Some(StopCause::Vendor(
                VendorStop::LicenseApi
                | VendorStop::Misconfigured { .. }
                | VendorStop::Untrusted { .. },
            )),
            _,
        ) => "fix the result URL, then run the same command again",
        (Some(_), _) | (None, 1..) => "run the same command again to fetch the rest",
        (None, _) if r.intake.other_account.open > 0 => {
            "the ids of another account wait for a fetch with its own --account"
        }
        (None, _) => "nothing left to fetch",
    };
    let cut_off = (r.stop == Some(StopCause::CutOff))
        .then(|| format!("cut off: {} ids left for the next run", c.unresolved()));
    match format {
        // This run's work under `run_*`, the input's state after it under `input_*`.
        LogFormat::Json => tracing::info!(
            run = r.run_id,
            exit_status = status.code(),
            account = r.account.name.as_deref(),
            partner_code = %r.account.partner_code,
            endpoint_host = r.account.endpoint_host.as_deref(),
            run_other_account = r.intake.other_account.rows,
            run_adopted = r.intake.adopted,
            run_pending_asked_again = r.intake.pending,
            run_ids = r.intake.distinct,
            run_duplicates = r.intake.duplicates,
            run_blank = r.intake.input.blank_ids,
            run_to_fetch = r.to_fetch,
            run_requests = t.requests,
            run_retries = t.retries,
            run_rate_limited = t.rate_limited,
            run_resolved = t.resolved,
            run_charged = t.charged,
            run_attacks = t.attacks,
            run_unknown_codes = t.unknown_codes,
            run_failed = t.failed,
            input_done = c.done,
            input_internal_error = c.internal_error,
            input_failed = c.failed,
            input_pending = c.pending,
            ids_left = c.unresolved(),
            run_dated_by_fetch = r.intake.input.bad_times,
            run_event_times_differ = r.intake.retimed.count,
            run_event_times_fixed = r.intake.retimed.fixed,
            elapsed_secs = (secs * 1000.0).round() / 1000.0,
            rate_settled_per_sec = r.auto.map(|e| e.settled.floor()),
            limit_found_per_sec = r.auto.and_then(|e| e.limit).map(f64::round),
            stop = r.stop.as_ref().map(ToString::to_string),
            cut_off,
            next,
            "run finished"
        ),
        LogFormat::Text => {
            let lines = text_summary(r, db, next, cut_off.as_deref());
            let mut err = crate::text::SafeStderr::plain();
            for line in lines {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

/// The text summary's lines, in order: the run, its account, notes on the input's times, the
/// requests (and what `--rate auto` found), what was resolved, where this input's ids stand,
/// why the run stopped, and the database with what to do next.
fn text_summary(r: &FetchReport, db: &Path, next: &str, cut_off: Option<&str>) -> Vec<String> {
    let (t, c) = (&r.tally, &r.counts);
    let mut lines = vec![run_line(r), account_and_adoption(r)];
    lines.extend(time_notes(r));
    lines.push(requests_line(r));
    lines.extend(r.auto.as_ref().map(|auto| auto.summary()));
    lines.push(format!(
        "this run resolved {} (charged {}, attacks {}, unknown codes {}), failed {}",
        t.resolved, t.charged, t.attacks, t.unknown_codes, t.failed
    ));
    lines.push(format!(
        "ids of this input now: {} done, {} kept at {} (provisional: asked again next run), {} failed, {} pending",
        c.done,
        c.internal_error,
        crate::check::INTERNAL_ERROR,
        c.failed,
        c.pending
    ));
    if r.intake.other_account.open > 0 {
        lines.push(format!(
            "{} ids of this input belong to another account and still need the vendor there \
             (see the warning above)",
            r.intake.other_account.open
        ));
    }
    match (cut_off, &r.stop) {
        (Some(line), _) => lines.push(line.to_string()),
        (None, Some(stop)) => lines.push(format!("stopped: {stop}")),
        (None, None) => {}
    }
    lines.push(format!("database: {}; next: {next}", db.display()));
    lines
}

/// What the run read: ids, duplicates, blanks, other accounts' rows, stored ids still open.
fn run_line(r: &FetchReport) -> String {
    format!(
        "run {}: {} ids ({} duplicates, {} blank skipped{}){}, {} needed the vendor",
        r.run_id,
        r.intake.distinct,
        r.intake.duplicates,
        r.intake.input.blank_ids,
        match r.intake.other_account.rows {
            0 => String::new(),
            n => format!(", {n} of another account skipped"),
        },
        match r.intake.pending {
            0 => String::new(),
            n => format!(" and {n} stored ids still open (--pending)"),
        },
        r.to_fetch
    )
}

/// The run's account, and the checks of account `unknown` it adopted.
fn account_and_adoption(r: &FetchReport) -> String {
    let mut account = account_line(&r.account);
    if r.intake.adopted > 0 {
        account.push_str(&format!(
            "; adopted {} checks of account unknown (read before accounts were recorded)",
            r.intake.adopted
        ));
    }
    account
}

/// Checks dated by their fetch time, and stored checks the input gave another event time.
fn time_notes(r: &FetchReport) -> Vec<String> {
    let mut notes = Vec::new();
    if r.intake.input.bad_times > 0 {
        notes.push(format!(
            "{} checks with an unreadable time are dated by their fetch time \
             (--bad-times fetch-time)",
            r.intake.input.bad_times
        ));
    }
    if r.intake.retimed.count > 0 {
        let what = match r.intake.retimed.fixed {
            true => "took the input's (--fix-times)",
            false => "kept their stored one (fetch --fix-times takes the input's)",
        };
        let n = r.intake.retimed.count;
        notes.push(format!("{n} stored checks given another event time {what}"));
    }
    notes
}

/// Requests sent, retried and rate-limited, their rate, and the concurrency.
fn requests_line(r: &FetchReport) -> String {
    let t = &r.tally;
    let secs = r.elapsed.as_secs_f64();
    let per_sec = if secs > 0.0 {
        t.requests as f64 / secs
    } else {
        0.0
    };
    format!(
        "requests {} (retries {}, rate-limited {}) in {:.1}s, {:.1}/s, concurrency {}",
        t.requests,
        t.retries,
        t.rate_limited,
        secs,
        per_sec,
        match r.auto.and_then(|e| e.concurrency) {
            Some(now) => format!("{now} (following the rate, at most {})", r.concurrency),
            None => r.concurrency.to_string(),
        }
    )
}
