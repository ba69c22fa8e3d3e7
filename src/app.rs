//! From a parsed command line to library calls and an exit status.
//!
//! Policy: every flag is validated here, before anything is sent or written; each failure maps
//! to one documented [`ExitStatus`] through [`Failure`], and its message names the setting or
//! the file and line at fault. Logs go to stderr (text or JSON), results to stdout or `--output`.

use std::io::{IsTerminal, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::cli::{
    AttacksArgs, BillingArgs, Cli, CodesArgs, Command, ExportArgs, FetchArgs, GlobalArgs,
    LicenseArgs, LogFormat, MockArgs, PurgeArgs, ReconcileArgs, ReportArgs, ReportCommand,
    VendorArgs,
};
use crate::config::{ConfigError, FileConfig, FlagValues, Layers};
use crate::exit::ExitStatus;
use crate::fetch::progress::ProgressMode;
use crate::fetch::{FetchError, FetchOptions, FetchReport, StopCause};
use crate::input::{InputOptions, Source};
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
        let status = match e {
            StoreError::NotADatabase { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Missing { .. }
            | StoreError::Busy { .. } => ExitStatus::Usage,
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
    }
}

fn init_logging(global: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let default = if global.quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env("LIVEAUDIT_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("liveaudit={default},warn")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match global.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.without_time().try_init(),
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

/// Builds validated fetch options from the flags (nothing is sent or written).
pub fn fetch_options(global: &GlobalArgs, args: &FetchArgs) -> Result<FetchOptions, Failure> {
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
    if args.files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        return Err(Failure::usage(anyhow!(
            "standard input (-) can be given once"
        )));
    }
    for f in &args.files {
        if f.as_os_str() != "-" && !f.is_file() {
            return Err(Failure::usage(anyhow!(
                "{}: no such file; give CSV files of liveness ids, or - for standard input",
                f.display()
            )));
        }
    }
    if let Some(dir) = &args.save_images {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating --save-images directory {}", dir.display()))
            .map_err(Failure::usage)?;
    }
    let timeout = seconds("timeout", args.timeout)?;
    Ok(FetchOptions {
        db: layers.db(),
        sources: args.files.iter().map(|f| Source::from_arg(f)).collect(),
        input: InputOptions {
            id_column: args.id_column.clone(),
            time_column: args.time_column.clone(),
            zone: Some(zone),
        },
        vendor,
        codes,
        rate: NonZeroU32::new(args.rate),
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
    })
}

async fn fetch(global: &GlobalArgs, args: FetchArgs) -> Result<ExitStatus, Failure> {
    let opts = fetch_options(global, &args)?;
    let db = opts.db.clone();
    let report = crate::fetch::run(opts).await.map_err(fetch_failure)?;
    print_summary(&report, &db, global.log_format);
    Ok(fetch_status(&report))
}

/// Maps a fetch error to its exit status.
pub fn fetch_failure(e: FetchError) -> Failure {
    match e {
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
        Some(StopCause::Vendor(StopReason::Misconfigured { .. })) => ExitStatus::Usage,
        Some(StopCause::Vendor(_)) => ExitStatus::Refused,
        Some(StopCause::Interrupted) => ExitStatus::Interrupted,
        Some(StopCause::Storage(_)) => ExitStatus::Internal,
        Some(StopCause::Outage { .. }) => ExitStatus::Incomplete,
        None if report.complete() => ExitStatus::Ok,
        None => ExitStatus::Incomplete,
    }
}

fn print_summary(r: &FetchReport, db: &Path, format: LogFormat) {
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
        (Some(_), _) | (None, 1..) => "run the same command again to fetch the rest",
        (None, _) => "nothing left to fetch",
    };
    match format {
        LogFormat::Json => tracing::info!(
            run = r.run_id,
            ids = r.intake.distinct,
            duplicates = r.intake.duplicates,
            blank = r.intake.input.blank_ids,
            to_fetch = r.to_fetch,
            requests = t.requests,
            retries = t.retries,
            rate_limited = t.rate_limited,
            resolved = t.resolved,
            charged = t.charged,
            attacks = t.attacks,
            unknown_codes = t.unknown_codes,
            done = c.done,
            internal_error = c.internal_error,
            failed = c.failed,
            pending = c.pending,
            elapsed_secs = (secs * 1000.0).round() / 1000.0,
            stop = r.stop.as_ref().map(ToString::to_string),
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
                    t.requests, t.retries, t.rate_limited, secs, per_sec, r.concurrency
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
            if let Some(stop) = &r.stop {
                lines.push(format!("stopped: {stop}"));
            }
            lines.push(format!("database: {}; next: {next}", db.display()));
            let mut err = std::io::stderr().lock();
            for line in lines {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

/// Opens `path` for writing, or stdout.
fn output(path: Option<&Path>) -> Result<Box<dyn Write>, Failure> {
    match path {
        Some(p) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("creating {}", p.display()))
                .map_err(Failure::usage)?;
            Ok(Box::new(std::io::BufWriter::new(f)))
        }
        None => Ok(Box::new(std::io::BufWriter::new(std::io::stdout().lock()))),
    }
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

fn export(global: &GlobalArgs, args: &ExportArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let codes = code_table(&layers)?;
    let store = Store::open(&layers.db(), OpenMode::Existing)?;
    let mut out = output(args.output.as_deref())?;
    match crate::export::export(&store, &codes, args.format, &mut out) {
        Ok(rows) => {
            tracing::debug!(rows, "exported");
            Ok(ExitStatus::Ok)
        }
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
) -> Result<(), Failure> {
    let is_dir =
        output_path.is_some_and(|p| p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/'));
    let format = match (format, is_dir) {
        (None, true) => Format::Csv,
        _ => report_format(format, output_path)?,
    };
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
            let mut out = output(Some(&path))?;
            crate::report::render::render_csv(s, &mut out)
                .and_then(|()| out.flush())
                .map_err(write_failure)?;
        }
        return Ok(());
    }
    let mut out = output(output_path)?;
    match (format, table) {
        (Format::Csv, Some(key)) => crate::report::render::render_csv(choose(key)?, &mut out),
        _ => render(doc, format, &mut out),
    }
    .and_then(|()| out.flush())
    .map_err(write_failure)
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
    Ok(attacks::document(&report, &window))
}

fn emit_report(doc: &Document, args: &ReportArgs) -> Result<(), Failure> {
    emit(
        doc,
        args.format,
        args.output.as_deref(),
        args.table.as_deref(),
    )
}

fn report_billing(global: &GlobalArgs, args: &BillingArgs) -> Result<ExitStatus, Failure> {
    let ctx = report_store(global, args.common.tz.as_deref())?;
    emit_report(&billing_document(&ctx, args)?, &args.common)?;
    Ok(ExitStatus::Ok)
}

fn report_attacks(global: &GlobalArgs, args: &AttacksArgs) -> Result<ExitStatus, Failure> {
    let ctx = report_store(global, args.common.tz.as_deref())?;
    emit_report(&attacks_document(&ctx, args)?, &args.common)?;
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
    let (doc, clean) = reconcile_document(&mut ctx, args)?;
    emit(
        &doc,
        args.format,
        args.output.as_deref(),
        args.table.as_deref(),
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
        answer.license.as_deref().unwrap_or("(none)")
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
        answer.sequence_id.as_deref().unwrap_or("")
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
    let _lock = crate::store::FetchLock::acquire(&db)?;
    let mut store = Store::open(&db, OpenMode::Existing)?;
    let purged = crate::store::purge::purge(&mut store, before_ms, args.images.as_deref())?;
    println!(
        "purged scores and face digests of {} checks dated before {} ({}); {} image files deleted; \
         codes, sequence ids and times are kept for billing",
        purged.checks, args.before, args.tz, purged.image_files
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
    let mut out = output(None)?;
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
    out.flush().map_err(write_failure)?;
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
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    Ok(ExitStatus::Ok)
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
