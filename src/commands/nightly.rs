//! `liveaudit nightly`: the whole nightly job, one night per account, in the order of a night:
//! credentials check, inbox, fetch (the inbox's new ids and every stored check still open),
//! billing reports of the days that changed, the attack report of yesterday, a new export file,
//! then the run summary and the metrics.
//!
//! Policy: settings are flags > the config file's `[nightly]` section > defaults, checked
//! before anything is sent. A night always ends with its summary line and its metrics file,
//! whatever stopped it (quiet, cut off, refused, failed). A refused account stops its own night
//! only; an interrupt stops the job. The job's status is the most serious of the accounts'
//! ([`crate::nightly::worse`]). Keys come from systemd credentials (`partner-key`, per account
//! `partner-key-NAME`) when present, else from the settings (`partner_key_file`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use serde::Serialize;

use super::layers;
use crate::cli::{GlobalArgs, LicenseArgs, NightlyArgs, VendorArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::nightly::{log_step, worse};

mod steps;

/// The job's settings, checked.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub state: PathBuf,
    pub inbox: PathBuf,
    pub out: PathBuf,
    pub metrics_file: PathBuf,
    /// `None`: the one account of the settings.
    pub accounts: Vec<Option<String>>,
    pub max_duration: Option<String>,
    pub until: Option<String>,
    pub settle: Duration,
    pub rate: Option<crate::config::RateValue>,
    pub max_retries: usize,
    pub backoff_max_ms: u64,
    /// The night's "now" (picks yesterday).
    pub now: jiff::Timestamp,
}

/// One account's folders and files.
#[derive(Debug, Clone)]
pub(crate) struct AccountPaths {
    pub inbox: PathBuf,
    pub out: PathBuf,
    pub metrics_file: PathBuf,
    pub summary_file: PathBuf,
    /// The shell job's export cursor, read once when the out folder holds no export yet.
    pub legacy_cursor: PathBuf,
    /// The credential systemd passes, when there is one.
    pub credential: Option<PathBuf>,
}

impl Settings {
    fn paths(&self, account: Option<&str>) -> AccountPaths {
        let cred_dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        let credential = |name: &str| {
            cred_dir
                .as_ref()
                .map(|d| d.join(name))
                .filter(|p| std::fs::File::open(p).is_ok())
        };
        let summary_file = self.state.join("runs.jsonl");
        match account {
            Some(name) => {
                let stem = self
                    .metrics_file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "liveaudit".into());
                AccountPaths {
                    inbox: self.inbox.join(name),
                    out: self.out.join(name),
                    metrics_file: self
                        .metrics_file
                        .with_file_name(format!("{stem}-{name}.prom")),
                    summary_file,
                    legacy_cursor: self.state.join(format!("export-{name}.cursor")),
                    credential: credential(&format!("partner-key-{name}")),
                }
            }
            None => AccountPaths {
                inbox: self.inbox.clone(),
                out: self.out.clone(),
                metrics_file: self.metrics_file.clone(),
                summary_file,
                legacy_cursor: self.state.join("export.cursor"),
                credential: credential("partner-key"),
            },
        }
    }
}

/// Flags over the `[nightly]` section over defaults.
fn settings(global: &GlobalArgs, args: &NightlyArgs) -> Result<Settings, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let file = layers.nightly().clone();
    let state = args
        .state
        .clone()
        .or(file.state)
        .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."));
    let accounts: Vec<String> = if args.accounts.is_empty() {
        file.accounts.unwrap_or_default()
    } else {
        args.accounts.clone()
    };
    let known: Vec<String> = layers
        .accounts()
        .into_iter()
        .filter_map(|(a, _)| a.name)
        .collect();
    for name in &accounts {
        if !known.contains(name) {
            return Err(Failure::usage(anyhow!(
                "{}",
                crate::config::no_such_account(name, &known, None)
            )));
        }
    }
    let now = match &args.now {
        Some(text) => text.parse().map_err(|_| {
            Failure::usage(anyhow!(
                "--now {text:?} is not a time; give RFC 3339, e.g. 2026-12-01T02:00:00Z"
            ))
        })?,
        None => jiff::Timestamp::now(),
    };
    Ok(Settings {
        inbox: args
            .inbox
            .clone()
            .or(file.inbox)
            .unwrap_or_else(|| state.join("inbox")),
        out: args
            .out
            .clone()
            .or(file.out)
            .unwrap_or_else(|| state.join("out")),
        metrics_file: args
            .metrics_file
            .clone()
            .or(file.metrics_file)
            .unwrap_or_else(|| state.join("liveaudit.prom")),
        accounts: if accounts.is_empty() {
            vec![None]
        } else {
            accounts.into_iter().map(Some).collect()
        },
        max_duration: args.max_duration.clone().or(file.max_duration),
        until: args.until.clone().or(file.until),
        settle: Duration::from_secs(args.settle_secs),
        rate: args.rate,
        max_retries: args.max_retries,
        backoff_max_ms: args.backoff_max_ms,
        now,
        state,
    })
}

/// The night's deadline from `max_duration` / `until` (in the billing zone), from the night's
/// "now"; a night started after its `--until` window closed ([`crate::schedule::night_budget`])
/// has its deadline now: it reads no file and sends no request, and says why.
fn deadline(global: &GlobalArgs, s: &Settings) -> Result<Option<Instant>, Failure> {
    use crate::schedule::{NIGHT_WINDOW, NightBudget, night_budget};
    if s.max_duration.is_none() && s.until.is_none() {
        return Ok(None);
    }
    let zone = layers(global, &VendorArgs::default())?
        .zone(None)
        .map_err(Failure::usage)?
        .tz;
    let budget = night_budget(s.max_duration.as_deref(), s.until.as_deref(), &zone, s.now)
        .map_err(Failure::usage)?;
    match budget {
        NightBudget::Open(cutoff) => Ok(cutoff.and_then(|c| Instant::now().checked_add(c.after))),
        NightBudget::Over { passed } => {
            let ago = jiff::SignedDuration::from_secs(s.now.duration_since(passed).as_secs());
            tracing::warn!(
                until = s.until.as_deref().unwrap_or_default(),
                passed = %passed.to_zoned_datetime(zone.clone()).strftime("%Y-%m-%dT%H:%M:%S%:z"),
                "{} {} passed {ago:#} ago: this night's window is over (a night starts at most \
                 {}h before its cut-off), so it reads no file and sends no request; it exits 4 \
                 and the next night runs as usual (to fetch now, run without {})",
                crate::setting::Setting::Until,
                s.until.as_deref().unwrap_or_default(),
                NIGHT_WINDOW.as_secs() / 3600,
                crate::setting::Setting::Until,
            );
            Ok(Some(Instant::now()))
        }
    }
}

/// Runs `liveaudit nightly`.
pub(crate) async fn nightly(global: &GlobalArgs, args: NightlyArgs) -> Result<ExitStatus, Failure> {
    let s = settings(global, &args)?;
    let deadline = deadline(global, &s)?;
    for dir in [&s.state, &s.inbox, &s.out] {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::usage(anyhow!(
                "creating {}: {e}",
                crate::text::clean(&dir.display().to_string())
            ))
        })?;
    }
    let signalled = Arc::new(AtomicBool::new(false));
    let signals = crate::fetch::watch_intake_signals(signalled.clone());
    let mut status = ExitStatus::Ok;
    for account in &s.accounts {
        // A signal after the last step of an account's night: no other account starts.
        if signalled.load(std::sync::atomic::Ordering::SeqCst) {
            status = worse(status, ExitStatus::Interrupted);
            break;
        }
        let night = steps::Night::new(global, &s, account.as_deref(), deadline, &signalled);
        let this = night.run().await;
        status = worse(status, this);
        if this == ExitStatus::Interrupted {
            break;
        }
    }
    signals.abort();
    tracing::info!(exit_status = status.code(), "nightly job finished");
    Ok(status)
}

/// One step of a night, as the summary keeps it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StepRecord {
    pub step: &'static str,
    pub status: String,
    pub detail: String,
}

/// A day's billing report the night wrote.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReportWritten {
    pub day: String,
    pub file: String,
    pub written_at: String,
}

/// The nightly summary line of one account's night (`runs.jsonl`, beside fetch's own line).
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct NightSummary {
    pub command: &'static str,
    pub account: Option<crate::run_summary::AccountSummary>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_secs: f64,
    pub exit_status: u8,
    pub steps: Vec<StepRecord>,
    pub files_registered: Vec<String>,
    /// Ids the inbox registered tonight, those of a file cut off part way included.
    pub ids_registered: u64,
    /// Input rows naming ids another account read first: not registered, never asked under
    /// this account (as `fetch` counts them).
    pub other_account: u64,
    pub files_rejected: Vec<String>,
    pub files_waiting: Vec<String>,
    /// Folders, FIFOs and other entries of the inbox that are never read.
    pub files_skipped: Vec<String>,
    pub fetch_run_id: Option<i64>,
    pub billing_written: Vec<ReportWritten>,
    pub attacks_file: Option<String>,
    pub export_file: Option<String>,
    pub export_rows: u64,
}

impl NightSummary {
    fn step(&mut self, account: &str, step: &'static str, status: &str, detail: String, ok: bool) {
        log_step(account, step, status, &detail, ok);
        self.steps.push(StepRecord {
            step,
            status: status.to_string(),
            detail,
        });
    }
}

/// The vendor flags of an account's night: its name and, under systemd, its credential.
fn vendor_args(account: Option<&str>, paths: &AccountPaths) -> VendorArgs {
    VendorArgs {
        account: account.map(str::to_string),
        partner_key_file: paths.credential.clone(),
        ..VendorArgs::default()
    }
}

/// The license check's flags.
fn license_args(vendor: VendorArgs) -> LicenseArgs {
    LicenseArgs {
        vendor,
        duration: 60,
        timeout: 30.0,
    }
}

/// Parses `argv` (its first word the command's name) into a command's arguments, with every
/// default clap gives them.
fn parse_args<T: clap::Args + clap::FromArgMatches>(argv: &[String]) -> Result<T, Failure> {
    let cmd = T::augment_args(clap::Command::new("liveaudit").no_binary_name(false));
    let matches = cmd
        .try_get_matches_from(argv)
        .map_err(|e| Failure::internal(anyhow!("nightly: {e}")))?;
    T::from_arg_matches(&matches).map_err(|e| Failure::internal(anyhow!("nightly: {e}")))
}

/// A path for a message or a summary.
fn shown(p: &Path) -> String {
    crate::text::clean(&p.display().to_string())
}
