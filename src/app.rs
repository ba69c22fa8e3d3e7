//! From a parsed command line to library calls and an exit status.
//!
//! Policy: every flag is validated here, before anything is sent or written; each failure maps
//! to one documented [`ExitStatus`] through [`Failure`], and its message names the setting or
//! the file and line at fault. Logs go to stderr (text or JSON), results to stdout or `--output`.
//! Colour on stderr only where a person reads it: `--color auto` (the default) colours a
//! terminal unless `NO_COLOR` is set to something; `always` and `never` override both.

use std::io::{IsTerminal, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::cli::{
    AttacksArgs, BadTimesArg, BillingArgs, Cli, CodesArgs, ColorChoice, Command, ExportArgs,
    FetchArgs, GlobalArgs, LicenseArgs, LogFormat, MockArgs, PurgeArgs, ReconcileArgs, ReportArgs,
    ReportCommand, VendorArgs,
};
use crate::config::RateValue;
use crate::config::{ConfigError, FileConfig, FlagValues, Layers};
use crate::exit::ExitStatus;
use crate::export::ExportFormat;
use crate::fetch::adaptive::AutoRate;
use crate::fetch::pace::Rate;
use crate::fetch::progress::ProgressMode;
use crate::fetch::{FetchError, FetchOptions, FetchReport, StopCause};
use crate::input::{BadTimes, InputOptions};
use crate::mock::{MockOptions, MockServer};
use crate::report::render::{Document, Format, Section, render};
use crate::report::{ReportError, Window, attacks, billing, load_buckets};
use crate::store::intake::IntakeError;
use crate::store::{OpenMode, Store, StoreError};
use crate::vendor::answer::StopReason;
use crate::vendor::client::{ClientOptions, VendorClient, VendorError};
use crate::vendor::codes::CodeTable;

/// An error with the exit status it ends the process with.
#[derive(Debug)]
pub struct Failure {
    pub status: ExitStatus,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn usage(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            status: ExitStatus::Usage,
            error: error.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            status: ExitStatus::Internal,
            error: error.into(),
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::usage(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        if e.is_read_only() {
            return Failure::usage(anyhow::Error::new(e).context(
                "the database cannot be written (read-only file or file system); give a \
                 writable --db or LIVEAUDIT_DB",
            ));
        }
        if e.is_corrupt() && matches!(e, StoreError::Query(_) | StoreError::Sqlite { .. }) {
            return Failure::usage(anyhow::Error::new(e).context(
                "the database is damaged (SQLite reports corruption); restore it from a backup, \
                 or give another --db and fetch again",
            ));
        }
        let status = match e {
            StoreError::NotADatabase { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Missing { .. }
            | StoreError::Foreign { .. }
            | StoreError::Uri { .. }
            | StoreError::OutputIsDatabase { .. }
            | StoreError::Busy { .. } => ExitStatus::Usage,
            _ if e.is_corrupt() => ExitStatus::Usage,
            _ => ExitStatus::Internal,
        };
        Failure {
            status,
            error: e.into(),
        }
    }
}

impl From<ReportError> for Failure {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Store(s) => s.into(),
            other => Failure::usage(other),
        }
    }
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<ExitStatus, Failure> {
    init_logging(&cli.global);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::internal)?;
    let global = &cli.global;
    match cli.command {
        Command::Fetch(args) => runtime.block_on(fetch(global, args)),
        Command::Export(args) => export(global, &args),
        Command::Report(ReportCommand::Billing(args)) => report_billing(global, &args),
        Command::Report(ReportCommand::Attacks(args)) => report_attacks(global, &args),
        Command::Reconcile(args) => reconcile(global, &args),
        Command::License(args) => runtime.block_on(license(global, args)),
        Command::Purge(args) => purge(global, &args),
        Command::Codes(args) => codes(global, &args),
        Command::Mock(args) => runtime.block_on(mock(args)),
        Command::Demo(args) => runtime.block_on(crate::demo::run(global, args)),
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut cmd, "liveaudit", &mut out);
            out.flush().map_err(write_failure)?;
            Ok(ExitStatus::Ok)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(Failure::internal)?;
            let mut out = std::io::stdout().lock();
            out.write_all(&title_first(&page))
                .and_then(|()| out.flush())
                .map_err(write_failure)?;
            Ok(ExitStatus::Ok)
        }
    }
}

/// The manual page with its `.TH` title line first (clap_mangen puts string definitions
/// before it; `man`, `whatis` and packagers look for the title at the top).
fn title_first(page: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(page);
    let mut lines: Vec<&str> = text.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.starts_with(".TH ")) {
        let title = lines.remove(i);
        lines.insert(0, title);
    }
    let mut out = lines.join("\n").into_bytes();
    out.push(b'\n');
    out
}

/// Whether stderr gets colour: `always`/`never` as told; `auto` only on a terminal and when
/// `NO_COLOR` is unset or empty (<https://no-color.org>).
pub fn use_color(choice: ColorChoice, no_color: Option<&str>, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(str::is_empty),
    }
}

/// Whether stderr gets colour in this process.
pub fn stderr_color(global: &GlobalArgs) -> bool {
    use_color(
        global.color,
        std::env::var("NO_COLOR").ok().as_deref(),
        std::io::stderr().is_terminal(),
    )
}

fn init_logging(global: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let default = if global.quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env("LIVEAUDIT_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("liveaudit={default},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match global.log_format {
        LogFormat::Json => {
            // A panic is a log line like any other: JSON, so the collector keeps one format.
            std::panic::set_hook(Box::new(|info| {
                tracing::error!(panic = %info, "internal error (a bug): please report it");
            }));
            builder
                // Redacts the key, escapes control characters, survives a closed stderr.
                .with_writer(crate::text::SafeStderr::plain)
                .json()
                .with_ansi(false)
                .flatten_event(true)
                .try_init()
        }
        // With colour, the writer lets the colour sequences (SGR) through and escapes every
        // other control sequence; without, it escapes them all.
        LogFormat::Text if stderr_color(global) => builder
            .with_writer(crate::text::SafeStderr::keeping_colour)
            .without_time()
            .with_ansi(true)
            .try_init(),
        LogFormat::Text => builder
            .with_writer(crate::text::SafeStderr::plain)
            .without_time()
            .with_ansi(false)
            .try_init(),
    };
}

fn layers(global: &GlobalArgs, vendor: &VendorArgs) -> Result<Layers, Failure> {
    let file = FileConfig::load(global.config.as_deref())?;
    Ok(Layers::new(
        FlagValues {
            partner_code: vendor.partner_code.clone(),
            partner_key_file: vendor.partner_key_file.clone(),
            result_url: vendor.result_url.clone(),
            license_url: vendor.license_url.clone(),
            db: global.db.clone(),
            codes_file: global.codes_file.clone(),
        },
        file,
    ))
}

/// The code table in force: built-in plus the user's file, if any.
pub fn code_table(layers: &Layers) -> Result<CodeTable, Failure> {
    match layers.codes_file() {
        Some(path) => CodeTable::with_overrides(&path).map_err(Failure::usage),
        None => Ok(CodeTable::shipped()),
    }
}

fn seconds(flag: &str, value: f64) -> Result<Duration, Failure> {
    if value.is_finite() && value > 0.0 && value <= 86_400.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(Failure::usage(anyhow!(
            "--{flag} {value} is not a number of seconds between 0 and 86400"
        )))
    }
}

fn progress_mode(global: &GlobalArgs) -> ProgressMode {
    if global.quiet {
        ProgressMode::Quiet
    } else if global.log_format == LogFormat::Text && std::io::stderr().is_terminal() {
        ProgressMode::Bar
    } else {
        ProgressMode::Lines {
            every: Duration::from_secs(5),
        }
    }
}

/// The zone `--until` is read in: the one `tz` setting (`--tz`, `LIVEAUDIT_TZ`, the config
/// file's `tz`, else UTC), as every report reads it.
pub fn schedule_zone(global: &GlobalArgs, args: &FetchArgs) -> Result<jiff::tz::TimeZone, Failure> {
    let name = layers(global, &args.vendor)?.tz(args.tz.as_deref());
    jiff::tz::TimeZone::get(name.trim()).map_err(|_| {
        Failure::usage(anyhow!(
            "time zone {name:?} (from --tz, LIVEAUDIT_TZ or the config file's tz) is not known; \
             use an IANA name such as UTC or Asia/Jakarta"
        ))
    })
}

/// The fetch's cut-off from `--max-duration`/`--until`, counted from `now`.
pub fn fetch_cutoff(
    global: &GlobalArgs,
    args: &FetchArgs,
    now: jiff::Timestamp,
) -> Result<Option<crate::schedule::Cutoff>, Failure> {
    if args.max_duration.is_none() && args.until.is_none() {
        return Ok(None);
    }
    let zone = schedule_zone(global, args)?;
    crate::schedule::cutoff(
        args.max_duration.as_deref(),
        args.until.as_deref(),
        &zone,
        now,
    )
    .map_err(Failure::usage)
}

/// A file the program will write later must have an existing directory now, before anything
/// is sent.
fn writable_later(flag: &str, path: Option<&Path>) -> Result<(), Failure> {
    let Some(path) = path else { return Ok(()) };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Failure::usage(anyhow!(
            "--{flag} {}: the directory {} does not exist; create it or give another path",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Failure::usage(anyhow!(
            "--{flag} {} is a directory; give a file path",
            path.display()
        )));
    }
    Ok(())
}

/// Builds validated fetch options from the flags (nothing is sent or written).
pub fn fetch_options(global: &GlobalArgs, args: &FetchArgs) -> Result<FetchOptions, Failure> {
    let started = std::time::Instant::now();
    let cutoff = fetch_cutoff(global, args, jiff::Timestamp::now())?;
    writable_later("summary-file", args.summary_file.as_deref())?;
    writable_later("metrics-file", args.metrics_file.as_deref())?;
    let layers = layers(global, &args.vendor)?;
    let vendor = layers.vendor(true, false)?;
    let codes = code_table(&layers)?;
    let zone = jiff::tz::TimeZone::get(&args.input_tz).map_err(|_| {
        Failure::usage(anyhow!(
            "--input-tz {:?} is not a known time zone; use an IANA name such as UTC or Asia/Jakarta",
            args.input_tz
        ))
    })?;
    let burst = NonZeroU32::new(args.burst)
        .ok_or_else(|| Failure::usage(anyhow!("--burst must be at least 1")))?;
    if args.concurrency == Some(0) {
        return Err(Failure::usage(anyhow!("--concurrency must be at least 1")));
    }
    if args.max_body_mib == 0 || args.max_body_mib > 1024 {
        return Err(Failure::usage(anyhow!(
            "--max-body-mib must be between 1 and 1024"
        )));
    }
    let (sources, skipped) =
        crate::input::sources_from_args(&args.files).map_err(Failure::usage)?;
    for note in skipped {
        tracing::warn!("{note}");
    }
    let delimiter = args.delimiter.as_deref().map(delimiter_flag).transpose()?;
    for format in &args.time_format {
        crate::input::times::check_format(format).map_err(|e| Failure::usage(anyhow!(e)))?;
    }
    if let Some(dir) = &args.save_images {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating --save-images directory {}", dir.display()))
            .map_err(Failure::usage)?;
    }
    let timeout = seconds("timeout", args.timeout)?;
    let rate = fetch_rate(&layers, args)?;
    Ok(FetchOptions {
        db: layers.db(),
        sources,
        input: InputOptions {
            id_column: args.id_column.clone(),
            time_column: args.time_column.clone(),
            zone: Some(zone),
            delimiter,
            time_formats: args.time_format.clone(),
            bad_times: match args.bad_times {
                BadTimesArg::Stop => BadTimes::Stop,
                BadTimesArg::FetchTime => BadTimes::FetchTime,
            },
            sheet: args.sheet.clone(),
            interrupted: None,
        },
        vendor,
        codes,
        rate,
        burst,
        concurrency: args.concurrency,
        client: ClientOptions {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(10)),
            max_body: args.max_body_mib * 1024 * 1024,
            ..ClientOptions::default()
        },
        retry: crate::fetch::retry::RetryPolicy {
            max_retries: args.max_retries,
            retry_after_cap: Duration::from_secs(args.max_retry_after.max(1)),
            // A maximum below the minimum lowers the minimum too: the user asked for short waits.
            min_delay: Duration::from_millis(args.backoff_min_ms.min(args.backoff_max_ms).max(1)),
            max_delay: Duration::from_millis(args.backoff_max_ms.max(1)),
        },
        breaker_threshold: args.breaker.max(1),
        save_images: args.save_images.clone(),
        progress: progress_mode(global),
        // A budget beyond what the clock can count is no budget at all.
        deadline: cutoff.and_then(|c| started.checked_add(c.after)),
    })
}

/// The rate from `--rate` (or its environment and file layers) and, under `auto`, its bounds.
fn fetch_rate(layers: &Layers, args: &FetchArgs) -> Result<Rate, Failure> {
    let given = layers
        .rate(args.rate, RateValue::PerSec(crate::fetch::DEFAULT_RATE))
        .map_err(Failure::usage)?;
    match given {
        RateValue::PerSec(n) => Ok(NonZeroU32::new(n).map_or(Rate::Unlimited, Rate::Fixed)),
        RateValue::Auto => {
            if args.min_rate == 0 || args.min_rate > args.max_rate {
                return Err(Failure::usage(anyhow!(
                    "--min-rate {} and --max-rate {}: give 1 <= --min-rate <= --max-rate",
                    args.min_rate,
                    args.max_rate
                )));
            }
            Ok(Rate::Auto(AutoRate {
                min: f64::from(args.min_rate),
                max: f64::from(args.max_rate),
            }))
        }
    }
}

/// `--delimiter`: one of `,` `;` `|`, `tab` (or `\t`), or any single ASCII punctuation byte.
fn delimiter_flag(value: &str) -> Result<u8, Failure> {
    match value {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        v if v.len() == 1 && v.as_bytes()[0].is_ascii_punctuation() && v != "\"" => {
            Ok(v.as_bytes()[0])
        }
        v => Err(Failure::usage(anyhow!(
            "--delimiter {:?} is not a delimiter; give one of , ; | tab",
            crate::input::shown(v)
        ))),
    }
}

async fn fetch(global: &GlobalArgs, args: FetchArgs) -> Result<ExitStatus, Failure> {
    let started = jiff::Timestamp::now();
    let clock = std::time::Instant::now();
    let mut db = None;
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
    };
    write_run_files(global, &args, &ending);
    result.map(|_| status)
}

/// How a fetch ended, for the summary and metrics files.
struct RunEnding<'a> {
    started: jiff::Timestamp,
    elapsed: Duration,
    status: ExitStatus,
    report: Option<&'a FetchReport>,
    error: Option<String>,
    cutoff: Option<crate::schedule::Cutoff>,
    db: Option<&'a Path>,
}

/// Writes `--summary-file` and `--metrics-file`. A failure here is logged, never turned into
/// another exit status: the run's own outcome is what the files and the status report.
fn write_run_files(global: &GlobalArgs, args: &FetchArgs, e: &RunEnding<'_>) {
    use crate::run_summary::{InputAfter, RunSummary, ThisRun};
    let finished = jiff::Timestamp::now();
    if let Some(path) = &args.summary_file {
        let summary = RunSummary {
            run_id: e.report.map(|r| r.run_id),
            command: "fetch",
            started_at: crate::timestamp::format_utc(e.started.as_millisecond()),
            finished_at: crate::timestamp::format_utc(finished.as_millisecond()),
            duration_secs: (e.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
            exit_status: e.status.code(),
            outcome: e
                .report
                .map_or("error", crate::run_summary::outcome)
                .to_string(),
            stop_reason: e
                .report
                .and_then(|r| r.stop.as_ref().map(ToString::to_string))
                .or_else(|| e.error.clone()),
            cutoff_at: e
                .cutoff
                .as_ref()
                .map(|c| crate::timestamp::format_utc(c.at.as_millisecond())),
            this_run: e.report.map(ThisRun::of),
            input_after: e.report.map(InputAfter::of),
            database: e.db.map(|p| p.display().to_string()),
        };
        if let Err(err) = crate::run_summary::append(path, &summary) {
            tracing::error!(path = %path.display(), error = %err, "could not write the summary file");
        }
    }
    if let Some(path) = &args.metrics_file {
        let mut metrics = crate::metrics::Metrics {
            ended_at: finished.as_millisecond() as f64 / 1000.0,
            duration_secs: e.elapsed.as_secs_f64(),
            exit_status: e.status.code(),
            ids_left: e.report.map(|r| r.counts.unresolved()),
            ..crate::metrics::Metrics::default()
        };
        // The database as it is now; an ending before it existed still writes the status.
        if let Some(db) = e.db.filter(|p| p.exists())
            && let Ok(store) = Store::open(db, OpenMode::Existing)
        {
            if let Some(r) = e.report {
                metrics.requests =
                    crate::metrics::requests_by_outcome(&store, r.run_id).unwrap_or_default();
            }
            metrics.ids_pending = store.status_counts(None).ok().map(|c| c.unresolved());
            let layers = layers(global, &args.vendor).ok();
            if let Some(codes) = layers.as_ref().and_then(|l| code_table(l).ok()) {
                metrics.checks = crate::metrics::checks_by_class(&store, &codes).ok();
            }
        }
        let text = crate::metrics::render(&metrics);
        if let Err(err) = crate::metrics::write_atomic(path, &text) {
            tracing::error!(path = %path.display(), error = %err, "could not write the metrics file");
        }
    }
}

/// Maps a fetch error to its exit status.
pub fn fetch_failure(e: FetchError) -> Failure {
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
    }
}

/// The exit status a finished fetch reports.
pub fn fetch_status(report: &FetchReport) -> ExitStatus {
    match &report.stop {
        Some(StopCause::Vendor(StopReason::Misconfigured { .. } | StopReason::LicenseApi)) => {
            ExitStatus::Usage
        }
        Some(StopCause::Vendor(_)) => ExitStatus::Refused,
        Some(StopCause::Interrupted) => ExitStatus::Interrupted,
        Some(StopCause::CutOff) => ExitStatus::Incomplete,
        Some(StopCause::Storage(_)) => ExitStatus::Internal,
        Some(StopCause::Outage { .. }) => ExitStatus::Incomplete,
        None if report.complete() => ExitStatus::Ok,
        None => ExitStatus::Incomplete,
    }
}

fn print_summary(r: &FetchReport, db: &Path, format: LogFormat, status: ExitStatus) {
    let t = &r.tally;
    let c = &r.counts;
    let secs = r.elapsed.as_secs_f64();
    let per_sec = if secs > 0.0 {
        t.requests as f64 / secs
    } else {
        0.0
    };
    let next = match (&r.stop, c.failed + c.pending) {
        (Some(StopCause::Vendor(StopReason::CredentialsRefused { .. })), _) => {
            "fix the credentials (check with `liveaudit license`), then run the same command again"
        }
        (Some(StopCause::Vendor(StopReason::Account { .. })), _) => {
            "the account is stopped at the vendor; when it is open again, run the same command again"
        }
        (Some(StopCause::CutOff), _) => "the next run continues with the ids left",
        (Some(StopCause::Vendor(StopReason::LicenseApi | StopReason::Misconfigured { .. })), _) => {
            "fix the result URL, then run the same command again"
        }
        (Some(_), _) | (None, 1..) => "run the same command again to fetch the rest",
        (None, _) => "nothing left to fetch",
    };
    let cut_off = (r.stop == Some(StopCause::CutOff))
        .then(|| format!("cut off: {} ids left for the next run", c.unresolved()));
    match format {
        // This run's work under `run_*`, the input's state after it under `input_*`.
        LogFormat::Json => tracing::info!(
            run = r.run_id,
            exit_status = status.code(),
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
            elapsed_secs = (secs * 1000.0).round() / 1000.0,
            rate_settled_per_sec = r.auto.map(|e| e.settled.floor()),
            limit_found_per_sec = r.auto.and_then(|e| e.limit).map(f64::round),
            stop = r.stop.as_ref().map(ToString::to_string),
            cut_off,
            next,
            "run finished"
        ),
        LogFormat::Text => {
            let mut lines = vec![
                format!(
                    "run {}: {} ids ({} duplicates, {} blank skipped), {} needed the vendor",
                    r.run_id,
                    r.intake.distinct,
                    r.intake.duplicates,
                    r.intake.input.blank_ids,
                    r.to_fetch
                ),
                format!(
                    "requests {} (retries {}, rate-limited {}) in {:.1}s, {:.1}/s, concurrency {}",
                    t.requests,
                    t.retries,
                    t.rate_limited,
                    secs,
                    per_sec,
                    match r.auto.and_then(|e| e.concurrency) {
                        Some(now) =>
                            format!("{now} (following the rate, at most {})", r.concurrency),
                        None => r.concurrency.to_string(),
                    }
                ),
                format!(
                    "this run resolved {} (charged {}, attacks {}, unknown codes {}), failed {}",
                    t.resolved, t.charged, t.attacks, t.unknown_codes, t.failed
                ),
                format!(
                    "ids of this input now: {} done, {} kept at {} (provisional: asked again next run), {} failed, {} pending",
                    c.done,
                    c.internal_error,
                    crate::check::INTERNAL_ERROR,
                    c.failed,
                    c.pending
                ),
            ];
            if let Some(auto) = &r.auto {
                lines.insert(2, auto.summary());
            }
            if r.intake.input.bad_times > 0 {
                lines.insert(
                    1,
                    format!(
                        "{} checks with an unreadable time are dated by their fetch time \
                         (--bad-times fetch-time)",
                        r.intake.input.bad_times
                    ),
                );
            }
            match (&cut_off, &r.stop) {
                (Some(line), _) => lines.push(line.clone()),
                (None, Some(stop)) => lines.push(format!("stopped: {stop}")),
                (None, None) => {}
            }
            lines.push(format!("database: {}; next: {next}", db.display()));
            let mut err = crate::text::SafeStderr::plain();
            for line in lines {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

/// Where a command's result goes: stdout, or `--output` written to a temporary file in the same
/// directory and renamed over the path only when complete, so a full disk or a crash never
/// leaves half a file in place of the old one. A path that is not a regular file (a FIFO,
/// `/dev/stdout`) is written directly.
enum Output {
    Stdout(std::io::BufWriter<std::io::StdoutLock<'static>>),
    Direct(std::io::BufWriter<std::fs::File>),
    Staged {
        file: std::io::BufWriter<tempfile::NamedTempFile>,
        dest: PathBuf,
    },
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::Direct(w) => w.write(buf),
            Output::Staged { file, .. } => file.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::Direct(w) => w.flush(),
            Output::Staged { file, .. } => file.flush(),
        }
    }
}

impl Output {
    /// Flushes, and puts a staged file in place.
    fn finish(self) -> std::io::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush(),
            Output::Direct(mut w) => w.flush(),
            Output::Staged { file, dest } => {
                let tmp = file.into_inner().map_err(|e| e.into_error())?;
                // The new file keeps the old one's permissions; a new file is readable like any
                // report (the temporary file starts private).
                let permissions = match std::fs::metadata(&dest) {
                    Ok(old) => Some(old.permissions()),
                    Err(_) => new_file_permissions(),
                };
                if let Some(p) = permissions {
                    tmp.as_file().set_permissions(p)?;
                }
                tmp.as_file().sync_all()?;
                tmp.persist(&dest).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }
}

#[cfg(unix)]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn new_file_permissions() -> Option<std::fs::Permissions> {
    None
}

/// Opens `path` for writing (never the database `db` or its WAL), or stdout.
fn output(path: Option<&Path>, db: Option<&Path>) -> Result<Output, Failure> {
    let Some(p) = path else {
        return Ok(Output::Stdout(std::io::BufWriter::new(
            std::io::stdout().lock(),
        )));
    };
    if let Some(db) = db {
        crate::store::refuse_output_on_database("--output", p, db)?;
    }
    let creating = |e: std::io::Error| {
        Failure::usage(anyhow::Error::new(e).context(format!("creating {}", p.display())))
    };
    if std::fs::metadata(p).is_ok_and(|m| !m.is_file()) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .map_err(creating)?;
        return Ok(Output::Direct(std::io::BufWriter::new(f)));
    }
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".liveaudit-output-")
        .tempfile_in(dir)
        .map_err(creating)?;
    Ok(Output::Staged {
        file: std::io::BufWriter::new(tmp),
        dest: p.to_path_buf(),
    })
}

fn write_failure(e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        // `liveaudit export | head` is normal use, not an error worth a message; still exit 0.
        return Failure {
            status: ExitStatus::Ok,
            error: anyhow!("output closed early"),
        };
    }
    Failure::internal(anyhow::Error::new(e).context("writing the output"))
}

/// The export's format: `--format`, else the `--output` file's extension (`.csv`/`.txt`: CSV,
/// `.jsonl`/`.ndjson`/`.json`: JSON lines), else CSV. A file is never written in a format its
/// name does not say: an extension that names another format (`.xlsx`, `.html`, ...), one that
/// disagrees with `--format`, or an unknown one without `--format` is refused.
fn export_format(
    format: Option<ExportFormat>,
    output: Option<&Path>,
) -> Result<ExportFormat, Failure> {
    let ext = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let refuse = |ext: &str| {
        Failure::usage(anyhow!(
            "--output {}: export writes CSV or JSON lines, not .{}; name the file .csv or .jsonl \
             (a workbook of the reports: `liveaudit report billing -o FILE.xlsx`)",
            crate::text::clean(&output.map(|p| p.display().to_string()).unwrap_or_default()),
            crate::text::clean(ext)
        ))
    };
    let by_name = match ext.as_deref() {
        None => None,
        Some("csv" | "txt") => Some(ExportFormat::Csv),
        Some("jsonl" | "ndjson" | "json") => Some(ExportFormat::Jsonl),
        Some(other @ ("xlsx" | "xls" | "xlsm" | "ods" | "html" | "htm" | "md" | "pdf")) => {
            return Err(refuse(other));
        }
        // With --format, an extension liveaudit does not know is the user's choice.
        Some(other) if format.is_none() => return Err(refuse(other)),
        Some(_) => None,
    };
    match (format, by_name) {
        (Some(f), Some(n)) if f != n => Err(Failure::usage(anyhow!(
            "--format {} disagrees with the --output file's extension; make them agree",
            clap::ValueEnum::to_possible_value(&f)
                .map_or_else(String::new, |v| v.get_name().to_string())
        ))),
        (Some(f), _) => Ok(f),
        (None, n) => Ok(n.unwrap_or(ExportFormat::Csv)),
    }
}

fn export(global: &GlobalArgs, args: &ExportArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let codes = code_table(&layers)?;
    let db = layers.db();
    // The worst mistake is named first: an output that is the database itself.
    if let Some(p) = args.output.as_deref() {
        crate::store::refuse_output_on_database("--output", p, &db)?;
    }
    let format = export_format(args.format, args.output.as_deref())?;
    let store = Store::open(&db, OpenMode::Existing)?;
    let since = match &args.cursor {
        Some(path) => {
            writable_later("cursor", Some(path))?;
            crate::store::refuse_output_on_database("--cursor", path, &db)?;
            Some(crate::export::read_cursor(path).map_err(Failure::usage)?)
        }
        None => None,
    };
    let mut out = output(args.output.as_deref(), Some(&db))?;
    let exported = crate::export::export_since(
        &store,
        &codes,
        format,
        args.raw_cells,
        &mut out,
        since.flatten(),
    )
    // The output is complete (flushed, synced and in place when it is a file) before the
    // cursor moves.
    .and_then(|e| {
        out.finish()
            .map(|()| e)
            .map_err(crate::export::ExportError::Write)
    });
    match exported {
        Ok(e) => {
            tracing::debug!(rows = e.rows, through = e.through, "exported");
            if let Some(path) = &args.cursor {
                crate::export::write_cursor(path, e.through)
                    .with_context(|| format!("writing the cursor {}", path.display()))
                    .map_err(Failure::internal)?;
                tracing::info!(
                    rows = e.rows,
                    cursor = e.through,
                    "exported the checks changed since the cursor; cursor advanced"
                );
            }
            Ok(ExitStatus::Ok)
        }
        Err(e @ crate::export::ExportError::CursorAhead { .. }) => Err(Failure::usage(e)),
        Err(crate::export::ExportError::Write(e)) => Err(write_failure(e)),
        Err(crate::export::ExportError::Csv(e)) if e.is_io_error() => match e.into_kind() {
            csv::ErrorKind::Io(io) => Err(write_failure(io)),
            _ => Err(Failure::internal(anyhow!("csv"))),
        },
        Err(crate::export::ExportError::Store(s)) => Err(s.into()),
        Err(other) => Err(Failure::internal(other)),
    }
}

/// The format of a report: `--format`, else the output file's extension, else a table on a
/// terminal and CSV otherwise. A file is never written in a format its name does not say: an
/// extension naming another format than `--format`, or (without `--format`) one liveaudit cannot
/// write, is refused (exit 2); `.txt` takes any text format (a table by default).
fn report_format(format: Option<Format>, output: Option<&Path>) -> Result<Format, Failure> {
    let ext = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let by_name = match ext.as_deref() {
        None | Some("txt") => None,
        Some("html" | "htm") => Some(Format::Html),
        Some("json") => Some(Format::Json),
        Some("md" | "markdown") => Some(Format::Markdown),
        Some("csv") => Some(Format::Csv),
        Some("xlsx") => Some(Format::Xlsx),
        Some(other) if format.is_none() => {
            return Err(Failure::usage(anyhow!(
                "--output {}: liveaudit cannot write .{other} files; name the file .csv, .xlsx, \
                 .json, .md, .html or .txt, or give --format",
                output.map(|p| p.display().to_string()).unwrap_or_default()
            )));
        }
        Some(_) => None,
    };
    let name = |f: Format| format!("{f:?}").to_lowercase();
    let chosen = match (format, by_name) {
        (Some(f), Some(n)) if f != n => {
            return Err(Failure::usage(anyhow!(
                "--output {} names a {} file but --format is {}; make them agree",
                output.map(|p| p.display().to_string()).unwrap_or_default(),
                name(n),
                name(f)
            )));
        }
        (Some(f), _) => f,
        (None, Some(n)) => n,
        (None, None) if ext.as_deref() == Some("txt") => Format::Table,
        (None, None) if output.is_none() && std::io::stdout().is_terminal() => Format::Table,
        (None, None) => Format::Csv,
    };
    if chosen == Format::Xlsx && ext.as_deref() == Some("txt") {
        return Err(Failure::usage(anyhow!(
            "--format xlsx writes a workbook: name the file .xlsx"
        )));
    }
    if chosen == Format::Xlsx && output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::usage(anyhow!(
            "--format xlsx writes a binary workbook: give --output FILE.xlsx"
        )));
    }
    Ok(chosen)
}

/// Writes a report: one format to stdout or a file; CSV is one table (`--table`), or every
/// table as `DIR/NAME.csv` when the output is a directory.
fn emit(
    doc: &Document,
    format: Option<Format>,
    output_path: Option<&Path>,
    table: Option<&str>,
    db: &Path,
    raw_cells: bool,
) -> Result<(), Failure> {
    // The worst mistake is named first: an output that is the database itself.
    if let Some(p) = output_path {
        crate::store::refuse_output_on_database("--output", p, db)?;
    }
    let is_dir =
        output_path.is_some_and(|p| p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/'));
    let format = match (format, is_dir) {
        (None, true) => Format::Csv,
        _ => report_format(format, output_path)?,
    };
    let to_terminal = output_path.is_none() && std::io::stdout().is_terminal();
    let doc = &output_safe(doc, format, to_terminal, raw_cells);
    let choose = |key: &str| {
        doc.table(key).ok_or_else(|| {
            Failure::usage(anyhow!(
                "--table {key:?} is not a table of this report; choose one of: {}",
                doc.keys().join(", ")
            ))
        })
    };
    if table.is_some() && format != Format::Csv {
        return Err(Failure::usage(anyhow!(
            "--table chooses a table of --format csv"
        )));
    }
    if is_dir {
        let Some(dir) = output_path else {
            return Ok(());
        };
        if format != Format::Csv {
            return Err(Failure::usage(anyhow!(
                "--output {} is a directory: only --format csv writes one file per table",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating {}", dir.display()))
            .map_err(Failure::internal)?;
        let sections: Vec<&Section> = match table {
            Some(key) => vec![choose(key)?],
            None => doc.sections.iter().collect(),
        };
        for s in sections {
            let path = dir.join(format!("{}.csv", s.key));
            let mut out = output(Some(&path), Some(db))?;
            crate::report::render::render_csv(s, &mut out)
                .and_then(|()| out.finish())
                .map_err(write_failure)?;
        }
        return Ok(());
    }
    let mut out = output(output_path, Some(db))?;
    match (format, table) {
        (Format::Csv, Some(key)) => crate::report::render::render_csv(choose(key)?, &mut out),
        _ => render(doc, format, &mut out),
    }
    .and_then(|()| out.finish())
    .map_err(write_failure)
}

/// The document as it may leave the program: text cells of a table, Markdown, or anything
/// shown on a terminal have their control characters escaped; CSV cells are neutralised
/// against spreadsheet formulas unless `raw_cells`.
fn output_safe(doc: &Document, format: Format, to_terminal: bool, raw_cells: bool) -> Document {
    let escape = to_terminal || matches!(format, Format::Table | Format::Markdown);
    let neutralise = format == Format::Csv && !raw_cells;
    let fix = |s: &String| -> String {
        let s = if escape {
            crate::text::escape(s).into_owned()
        } else {
            s.clone()
        };
        if neutralise {
            crate::text::neutralise_formula(&s).into_owned()
        } else {
            s
        }
    };
    let mut safe = doc.clone();
    safe.title = fix(&safe.title);
    safe.summary = safe.summary.iter().map(fix).collect();
    for section in &mut safe.sections {
        section.title = fix(&section.title);
        section.headers = section.headers.iter().map(fix).collect();
        section.notes = section.notes.iter().map(fix).collect();
        for row in &mut section.rows {
            *row = row.iter().map(fix).collect();
        }
    }
    safe
}

/// The database, the code table and the billing day's zone of a report.
pub struct ReportContext {
    pub store: Store,
    pub codes: CodeTable,
    /// `--tz`, `LIVEAUDIT_TZ`, the config file's `tz`, else UTC.
    pub tz: String,
    /// The config file's `prices` (a `--prices` flag wins over it, `--price` over both).
    pub prices: Option<PathBuf>,
}

impl ReportContext {
    /// The price list in force: none under a flat `--price`, else `--prices`, else the
    /// config file's `prices`. A list that cannot be read or used is a usage error (exit 2).
    fn price_list(
        &self,
        flat: Option<&str>,
        flag: Option<&Path>,
    ) -> Result<Option<crate::prices::PriceList>, Failure> {
        if flat.is_some() {
            return Ok(None);
        }
        flag.or(self.prices.as_deref())
            .map(crate::prices::PriceList::load)
            .transpose()
            .map_err(Failure::usage)
    }
}

fn report_store(global: &GlobalArgs, tz_flag: Option<&str>) -> Result<ReportContext, Failure> {
    report_context(global, tz_flag, None)
}

/// The context of a report over `db` (else the database in force), with the code table in
/// force (`--codes-file` honoured) and the `tz` setting.
pub fn report_context(
    global: &GlobalArgs,
    tz_flag: Option<&str>,
    db: Option<&Path>,
) -> Result<ReportContext, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let codes = code_table(&layers)?;
    let store = Store::open(db.unwrap_or(&layers.db()), OpenMode::Existing)?;
    Ok(ReportContext {
        store,
        codes,
        tz: layers.tz(tz_flag),
        prices: layers.prices(None),
    })
}

fn window(args: &ReportArgs, tz: &str) -> Result<Window, Failure> {
    Ok(Window::new(tz, args.by, args.from.as_deref(), args.to.as_deref())?.dated_by(args.date_by))
}

/// Computes the billing report's document.
pub fn billing_document(ctx: &ReportContext, args: &BillingArgs) -> Result<Document, Failure> {
    let (store, codes) = (&ctx.store, &ctx.codes);
    let window = window(&args.common, &ctx.tz)?;
    let price = args
        .price
        .as_deref()
        .map(billing::parse_price)
        .transpose()?;
    let list = ctx.price_list(args.price.as_deref(), args.prices.as_deref())?;
    let buckets = load_buckets(&store.conn, &window)?;
    let undated = crate::report::undated_outside(&store.conn, &window)?;
    let mut report = match &list {
        None => billing::compute(&buckets, codes, &window, price, &args.currency, undated),
        Some(list) => {
            // The first month's tiers count from its first day, before --from too.
            let lead_in = billing::lead_in(&store.conn, &window)?;
            billing::compute_listed(&buckets, &lead_in, codes, &window, list, undated)
        }
    };
    // Codes the table does not know still have the vendor's own message.
    for row in report.codes.iter_mut().filter(|r| r.message.is_empty()) {
        row.message = crate::report::vendor_message(&store.conn, row.code)?.unwrap_or_default();
    }
    Ok(billing::document(&report, &window))
}

/// Computes the attack report's document.
pub fn attacks_document(ctx: &ReportContext, args: &AttacksArgs) -> Result<Document, Failure> {
    attacks_report(ctx, args).map(|(doc, _)| doc)
}

/// Computes the attack report's document and the spikes it lists.
pub fn attacks_report(
    ctx: &ReportContext,
    args: &AttacksArgs,
) -> Result<(Document, Vec<attacks::Spike>), Failure> {
    let (store, codes) = (&ctx.store, &ctx.codes);
    let window = window(&args.common, &ctx.tz)?;
    if !(args.spike_factor.is_finite() && args.spike_factor >= 1.0) {
        return Err(Failure::usage(anyhow!(
            "--spike-factor must be a number of at least 1"
        )));
    }
    let opts = attacks::AttackOptions {
        dimension: args.dimension.clone(),
        top: args.top.max(1),
        rule: attacks::SpikeRule {
            factor: args.spike_factor,
            min_count: args.spike_min.max(1),
            baseline_periods: args.baseline.max(1),
        },
    };
    let mut report = attacks::compute(&store.conn, codes, &window, &opts)?;
    for row in &mut report.unknown_codes {
        row.message = crate::report::vendor_message(&store.conn, row.code)?.unwrap_or_default();
    }
    let doc = attacks::document(&report, &window);
    Ok((doc, report.spikes))
}

fn emit_report(doc: &Document, args: &ReportArgs, db: &Path) -> Result<(), Failure> {
    emit(
        doc,
        args.format,
        args.output.as_deref(),
        args.table.as_deref(),
        db,
        args.raw_cells,
    )
}

fn report_billing(global: &GlobalArgs, args: &BillingArgs) -> Result<ExitStatus, Failure> {
    let ctx = report_store(global, args.common.tz.as_deref())?;
    emit_report(
        &billing_document(&ctx, args)?,
        &args.common,
        ctx.store.path(),
    )?;
    Ok(ExitStatus::Ok)
}

fn report_attacks(global: &GlobalArgs, args: &AttacksArgs) -> Result<ExitStatus, Failure> {
    let ctx = report_store(global, args.common.tz.as_deref())?;
    let (mut doc, spikes) = attacks_report(&ctx, args)?;
    if args.fail_on_spike {
        // The JSON output says why the status is what it is.
        if let serde_json::Value::Object(map) = &mut doc.json {
            map.insert(
                "alert".into(),
                serde_json::json!({
                    "fail_on_spike": true,
                    "exit_status": if spikes.is_empty() { 0 } else { ExitStatus::Spike.code() },
                    "spikes": spikes,
                }),
            );
        }
    }
    emit_report(&doc, &args.common, ctx.store.path())?;
    if args.fail_on_spike && !spikes.is_empty() {
        for s in &spikes {
            tracing::warn!(
                period = %s.period,
                family = %s.family,
                attacks = s.attacks,
                share = s.share,
                baseline_share = s.baseline_share,
                "attack spike"
            );
        }
        tracing::error!(
            spikes = spikes.len(),
            "--fail-on-spike: the report lists {} spike(s); exit status 6",
            spikes.len()
        );
        return Ok(ExitStatus::Spike);
    }
    Ok(ExitStatus::Ok)
}

/// Runs a reconcile and renders it; `Ok(true)` when clean within the tolerances.
pub fn reconcile_document(
    ctx: &mut ReportContext,
    args: &ReconcileArgs,
) -> Result<(Document, bool), Failure> {
    let tz = ctx.tz.clone();
    let list = ctx.price_list(args.price.as_deref(), args.prices.as_deref())?;
    let (store, codes) = (&mut ctx.store, &ctx.codes);
    use crate::report::reconcile::{self, ReconcileError, ReconcileOptions};
    let price = args
        .price
        .as_deref()
        .map(billing::parse_price)
        .transpose()?;
    let currency = list
        .as_ref()
        .map_or_else(|| args.currency.clone(), |l| l.currency.clone());
    let amount_tolerance = billing::parse_price(&args.amount_tolerance).map_err(|_| {
        Failure::usage(anyhow!(
            "--amount-tolerance {:?} is not an amount; use a plain decimal such as 0.50",
            args.amount_tolerance
        ))
    })?;
    // Validate the zone and dates before reading anything.
    Window::new(
        &tz,
        crate::check::Period::Day,
        args.from.as_deref(),
        args.to.as_deref(),
    )?;
    let opts = ReconcileOptions {
        statement: args.statement.clone(),
        columns: crate::statement::StatementColumns {
            id: args.statement_id_column.clone(),
            sequence: args.statement_sequence_column.clone(),
            time: args.statement_time_column.clone(),
            code: args.statement_code_column.clone(),
            amount: args.statement_amount_column.clone(),
            count: args.statement_count_column.clone(),
            period: args.statement_period_column.clone(),
        },
        tz_name: tz,
        from: args.from.clone(),
        to: args.to.clone(),
        price,
        prices: list,
        currency: currency.clone(),
        boundary_hours: args.boundary_hours,
        details: args.details.clone(),
        date_by: args.date_by,
    };
    let result = reconcile::reconcile(&mut store.conn, codes, &opts).map_err(|e| match e {
        ReconcileError::Statement(s) => Failure::usage(s),
        ReconcileError::Report(r) => r.into(),
        other => Failure::internal(other),
    })?;
    if let Some(p) = &args.details {
        reconcile::ensure_details_header(p)
            .with_context(|| format!("writing {}", p.display()))
            .map_err(Failure::internal)?;
    }
    let clean = reconcile::within_tolerance(&result, args.tolerance, amount_tolerance);
    Ok((reconcile::document(&result, &currency), clean))
}

fn reconcile(global: &GlobalArgs, args: &ReconcileArgs) -> Result<ExitStatus, Failure> {
    let mut ctx = report_store(global, args.tz.as_deref())?;
    let db = ctx.store.path().to_path_buf();
    for (what, path) in [("--details", &args.details), ("--output", &args.output)] {
        if let Some(p) = path {
            crate::store::refuse_output_on_database(what, p, &db)?;
        }
    }
    let (doc, clean) = reconcile_document(&mut ctx, args)?;
    emit(
        &doc,
        args.format,
        args.output.as_deref(),
        args.table.as_deref(),
        &db,
        args.raw_cells,
    )?;
    Ok(if clean {
        ExitStatus::Ok
    } else {
        ExitStatus::Discrepancies
    })
}

async fn license(global: &GlobalArgs, args: LicenseArgs) -> Result<ExitStatus, Failure> {
    if !(1..=86_400).contains(&args.duration) {
        return Err(Failure::usage(anyhow!(
            "--duration {} is out of range; the vendor accepts 1 to 86400 seconds",
            args.duration
        )));
    }
    let layers = layers(global, &args.vendor)?;
    let vendor = layers.vendor(false, true)?;
    let timeout = seconds("timeout", args.timeout)?;
    let client = VendorClient::new(
        &vendor,
        ClientOptions {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(10)),
            ..ClientOptions::default()
        },
    )
    .map_err(Failure::internal)?;
    let answer = client
        .license(args.duration as u32)
        .await
        .map_err(|e| match e {
            VendorError::Stopped(StopReason::Misconfigured { .. }) => Failure::usage(e),
            VendorError::Stopped(_) => Failure {
                status: ExitStatus::Refused,
                error: e.into(),
            },
            other => Failure::internal(other),
        })?;
    let mut out = std::io::stdout().lock();
    let expiry = answer
        .expiry_timestamp
        .and_then(|t| jiff::Timestamp::from_second(t).ok());
    let _ = writeln!(
        out,
        "license:     {}",
        crate::text::clean(answer.license.as_deref().unwrap_or("(none)"))
    );
    if let Some(t) = expiry {
        let local = t.to_zoned(jiff::tz::TimeZone::system());
        let _ = writeln!(
            out,
            "expires:     {}",
            local.strftime("%Y-%m-%d %H:%M:%S %Z (local)")
        );
        let _ = writeln!(out, "expires UTC: {}", t.strftime("%Y-%m-%dT%H:%M:%SZ"));
    }
    let _ = writeln!(
        out,
        "sequence_id: {}",
        crate::text::clean(answer.sequence_id.as_deref().unwrap_or(""))
    );
    Ok(ExitStatus::Ok)
}

fn purge(global: &GlobalArgs, args: &PurgeArgs) -> Result<ExitStatus, Failure> {
    let window =
        Window::new(&args.tz, crate::cli::Period::Day, Some(&args.before), None).map_err(|e| {
            match e {
                ReportError::Date { value, .. } => {
                    Failure::usage(anyhow!("--before {value:?} is not a date; use YYYY-MM-DD"))
                }
                other => other.into(),
            }
        })?;
    let Some(before_ms) = window.bounds_ms().0 else {
        return Err(Failure::usage(anyhow!(
            "--before {} is out of range",
            args.before
        )));
    };
    let layers = layers(global, &VendorArgs::default())?;
    let db = layers.db();
    if args.dry_run {
        let store = Store::open(&db, OpenMode::Existing)?;
        let would = crate::store::purge::count(&store, before_ms)?;
        let _ = writeln!(
            std::io::stdout(),
            "dry run: would purge scores and face digests of {would} checks dated before {} ({}); \
             nothing was changed",
            args.before,
            args.tz
        );
        return Ok(ExitStatus::Ok);
    }
    if !db.exists() {
        return Err(StoreError::Missing { path: db }.into());
    }
    let _lock = crate::store::FetchLock::acquire(&db)?;
    let mut store = Store::open(&db, OpenMode::Existing)?;
    let purged = crate::store::purge::purge(&mut store, before_ms, args.images.as_deref())?;
    let _ = writeln!(
        std::io::stdout(),
        "purged scores and face digests of {} checks dated before {} ({}); {} image files deleted; \
         codes, sequence ids and times are kept for billing",
        purged.checks,
        args.before,
        args.tz,
        purged.image_files
    );
    Ok(ExitStatus::Ok)
}

fn codes(global: &GlobalArgs, args: &CodesArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let table = code_table(&layers)?;
    let mut section = Section::new(
        "Codes",
        &["code", "message", "charged", "category", "family", "source"],
    );
    for c in table.iter() {
        section.row(vec![
            c.code.to_string(),
            c.message.clone(),
            match c.charged {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown",
            }
            .into(),
            c.category.to_string(),
            c.family.clone().unwrap_or_default(),
            c.source.clone(),
        ]);
    }
    let format = report_format(args.format, None)?;
    let doc = Document {
        title: "liveaudit code table".into(),
        summary: Vec::new(),
        sections: vec![section],
        charts: Vec::new(),
        json: serde_json::to_value(table.iter().collect::<Vec<_>>()).unwrap_or_default(),
        money: None,
    };
    // User code files are outside text: escaped for a terminal like any report.
    let doc = output_safe(&doc, format, std::io::stdout().is_terminal(), true);
    let mut out = output(None, None)?;
    if format == Format::Csv {
        // The same columns as codes.csv, so the output can be edited and fed back.
        let mut w = csv::Writer::from_writer(&mut out);
        let rows = doc.sections[0].rows.iter();
        w.write_record(&doc.sections[0].headers)
            .map_err(|e| Failure::internal(anyhow!(e)))?;
        for r in rows {
            w.write_record(r)
                .map_err(|e| Failure::internal(anyhow!(e)))?;
        }
        w.flush().map_err(write_failure)?;
    } else {
        render(&doc, format, &mut out).map_err(write_failure)?;
    }
    out.finish().map_err(write_failure)?;
    Ok(ExitStatus::Ok)
}

/// Mock options from the `mock` command's flags.
pub fn mock_options(args: &MockArgs) -> Result<MockOptions, Failure> {
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(Failure::usage(anyhow!(
            "--fault-rate must be between 0 and 1"
        )));
    }
    if args.fault_rate > 0.0 && args.faults.is_empty() {
        return Err(Failure::usage(anyhow!(
            "--fault-rate needs --faults (e.g. --faults html500,too-many,truncated)"
        )));
    }
    Ok(MockOptions {
        partner_code: args.partner_code.clone(),
        partner_key: args.partner_key.clone(),
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        fault_rate: args.fault_rate,
        faults: args.faults.clone(),
        rate_limit: args.rate_limit,
        rate_burst: args.rate_burst,
        stop_after: args.stop_after,
        image_bytes: args.image_bytes,
    })
}

async fn mock(args: MockArgs) -> Result<ExitStatus, Failure> {
    let opts = mock_options(&args)?;
    let server = MockServer::start(opts, args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))
        .map_err(Failure::usage)?;
    println!("mock vendor listening on http://{}", server.addr());
    println!("  result URL:  {}", server.result_url());
    println!("  license URL: {}", server.license_url());
    println!("  stats:       http://{}/__mock/stats", server.addr());
    println!(
        "  credentials: partner code {:?}, key {:?}",
        args.partner_code, args.partner_key
    );
    println!();
    println!("Paste into another shell to point liveaudit at this mock:");
    for (name, value) in [
        ("TD_PARTNER_CODE", args.partner_code.clone()),
        ("TD_PARTNER_KEY", args.partner_key.clone()),
        ("TD_RESULT_URL", server.result_url()),
        ("TD_LICENSE_URL", server.license_url()),
    ] {
        println!("export {name}={}", shell_quote(&value));
    }
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitStatus::Ok)
}

/// `value` as one POSIX shell word (single-quoted unless plainly safe).
pub fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// Paths of the CSV files directly in `dir`, sorted.
pub fn csv_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color_unless_forced() {
        use ColorChoice::*;
        assert!(use_color(Auto, None, true));
        assert!(
            use_color(Auto, Some(""), true),
            "an empty NO_COLOR is unset"
        );
        assert!(!use_color(Auto, Some("1"), true));
        assert!(!use_color(Auto, None, false));
        assert!(use_color(Always, Some("1"), false));
        assert!(!use_color(Never, None, true));
    }

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("demo-key"), "demo-key");
        assert_eq!(shell_quote("http://127.0.0.1:1/x"), "http://127.0.0.1:1/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_man_page_title_moves_to_the_top() {
        let page = b".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n.TH liveaudit 1\n.SH NAME\n";
        let out = String::from_utf8(title_first(page)).unwrap();
        assert!(out.starts_with(".TH liveaudit 1\n.ie"), "{out}");
        assert!(out.ends_with(".SH NAME\n"));
    }
}
