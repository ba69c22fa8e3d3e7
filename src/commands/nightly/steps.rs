//! The steps of one account's night, in order; each records its status in the night's summary
//! and logs one line, and the night's status is the most serious of its steps'.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::anyhow;

use super::{
    AccountPaths, NightSummary, ReportWritten, Settings, license_args, parse_args, shown,
    vendor_args,
};
use crate::cli::{AttacksArgs, BillingArgs, FetchArgs, GlobalArgs, VendorArgs};
use crate::commands::fetch::{RunEnding, fetch_options, fetch_with_report, write_metrics};
use crate::commands::report::{billing_document, billing_inputs, report_attacks, report_context};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::fetch::{FetchOptions, FetchReport};
use crate::nightly::{billing, export, worse};
use crate::report::render::Format;

mod inbox_step;

/// One account's night.
pub(crate) struct Night<'a> {
    global: &'a GlobalArgs,
    s: &'a Settings,
    name: Option<&'a str>,
    paths: AccountPaths,
    deadline: Option<Instant>,
    signalled: &'a Arc<AtomicBool>,
    summary: NightSummary,
    status: ExitStatus,
    /// The account's partner code, once its settings are read.
    partner_code: String,
    started: jiff::Timestamp,
    clock: Instant,
}

impl<'a> Night<'a> {
    pub(crate) fn new(
        global: &'a GlobalArgs,
        s: &'a Settings,
        name: Option<&'a str>,
        deadline: Option<Instant>,
        signalled: &'a Arc<AtomicBool>,
    ) -> Night<'a> {
        Night {
            global,
            s,
            name,
            paths: s.paths(name),
            deadline,
            signalled,
            summary: NightSummary {
                command: "nightly",
                ..NightSummary::default()
            },
            status: ExitStatus::Ok,
            partner_code: String::new(),
            started: jiff::Timestamp::now(),
            clock: Instant::now(),
        }
    }

    /// The account as the log names it.
    fn label(&self) -> String {
        match self.name {
            Some(name) => name.to_string(),
            None => self.partner_code.clone(),
        }
    }

    fn step(&mut self, step: &'static str, status: ExitStatus, word: &str, detail: String) {
        let label = self.label();
        self.summary
            .step(&label, step, word, detail, status == ExitStatus::Ok);
        self.status = worse(self.status, status);
    }

    fn failed(&mut self, step: &'static str, f: &Failure) {
        let word = match f.status {
            ExitStatus::Refused => "refused",
            ExitStatus::Interrupted => "interrupted",
            _ => "error",
        };
        self.step(step, f.status, word, format!("{:#}", f.error));
    }

    /// Runs the night; always ends with the summary line and the metrics file.
    pub(crate) async fn run(mut self) -> ExitStatus {
        let mut opts = None;
        let mut report = None;
        if let Some(o) = self.prepare().await {
            if self.read_inbox(&o) && !self.stop_before("fetch") {
                report = self.fetch().await;
            }
            // An interrupt stops the night after the step it came in: nothing further runs.
            if !self.stop_before("billing") {
                self.reports(&o);
            }
            if !self.stop_before("export") {
                self.export(&o);
            }
            opts = Some(o);
        }
        self.finish(opts.as_ref(), report.as_ref());
        self.status
    }

    /// Whether the night stops before `step`: a step was interrupted, or a signal came in
    /// between steps (then `step` is recorded as not started).
    fn stop_before(&mut self, step: &'static str) -> bool {
        if self.status == ExitStatus::Interrupted {
            return true;
        }
        if !self.signalled.load(std::sync::atomic::Ordering::SeqCst) {
            return false;
        }
        let detail = "not started: the job was interrupted".to_string();
        self.step(step, ExitStatus::Interrupted, "interrupted", detail);
        true
    }

    /// Folders, the credentials check and the fetch settings; `None` stops the night.
    async fn prepare(&mut self) -> Option<FetchOptions> {
        if let Some(a) = self.settings_account() {
            self.partner_code = a.partner_code;
        }
        for dir in [self.paths.inbox.clone(), self.paths.out.clone()] {
            if let Err(e) = std::fs::create_dir_all(&dir) {
                let f = Failure::usage(anyhow!("creating {}: {e}", shown(&dir)));
                self.failed("folders", &f);
                return None;
            }
        }
        let vendor = vendor_args(self.name, &self.paths);
        let asked = license_args(vendor.clone());
        if self.deadline.is_some_and(|d| d <= Instant::now()) {
            // No budget left (the night's window is over): not even the credentials are asked.
            let detail = "not asked: no budget left".to_string();
            self.step("license", ExitStatus::Incomplete, "cut_off", detail);
        } else {
            self.license(&asked).await?;
        }
        let args = match self.fetch_args(vendor, None) {
            Ok(a) => a,
            Err(f) => {
                self.failed("settings", &f);
                return None;
            }
        };
        match fetch_options(self.global, &args) {
            Ok(o) => {
                self.partner_code = o.vendor.partner_code.clone();
                Some(o)
            }
            Err(f) => {
                self.failed("settings", &f);
                None
            }
        }
    }

    /// The credentials check; `None` stops the night (refused), a vendor down does not.
    async fn license(&mut self, asked: &crate::cli::LicenseArgs) -> Option<()> {
        match crate::commands::license::ask(self.global, asked).await {
            Ok((answer, _)) => {
                // A license expired on arrival is worth a warning, not the night: the
                // credentials were accepted, which is what this step checks.
                crate::commands::license::expiry_warning(&answer, asked.duration);
                self.step(
                    "license",
                    ExitStatus::Ok,
                    "ok",
                    "credentials accepted".into(),
                );
            }
            // The vendor looked down: the inbox is still read (nothing waits for another
            // night), the fetch still tries (its breaker stops it if the vendor is down).
            Err(f) if f.status == ExitStatus::Incomplete => {
                self.step("license", f.status, "down", format!("{:#}", f.error));
            }
            Err(f) => {
                self.failed("license", &f);
                return None;
            }
        }
        Some(())
    }

    /// `fetch --pending` with the night's settings and what is left of its budget.
    fn fetch_args(&self, vendor: VendorArgs, budget: Option<String>) -> Result<FetchArgs, Failure> {
        let mut argv: Vec<String> = [
            "fetch",
            "--pending",
            "--max-retries",
            &self.s.max_retries.to_string(),
            "--backoff-max-ms",
            &self.s.backoff_max_ms.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(b) = budget {
            argv.extend(["--max-duration".to_string(), b]);
        }
        let mut args: FetchArgs = parse_args(&argv)?;
        args.vendor = vendor;
        args.rate = self.s.rate;
        args.summary_file = Some(self.paths.summary_file.clone());
        Ok(args)
    }

    /// Fetches the inbox's new ids and every stored check still open, within the budget.
    async fn fetch(&mut self) -> Option<FetchReport> {
        let budget = match self.deadline {
            None => None,
            Some(d) => match d.saturating_duration_since(Instant::now()).as_secs() {
                0 => {
                    self.step(
                        "fetch",
                        ExitStatus::Incomplete,
                        "cut_off",
                        "no budget left".into(),
                    );
                    return None;
                }
                secs => Some(format!("{secs}s")),
            },
        };
        let vendor = vendor_args(self.name, &self.paths);
        let args = match self.fetch_args(vendor, budget) {
            Ok(a) => a,
            Err(f) => {
                self.failed("fetch", &f);
                return None;
            }
        };
        let (result, report) = fetch_with_report(self.global, args).await;
        self.summary.fetch_run_id = report.as_ref().map(|r| r.run_id);
        match (&result, &report) {
            (Ok(status), Some(r)) => {
                let word = crate::run_summary::run_ending(r);
                let c = &r.counts;
                let mut detail = format!(
                    "{} asked, {} answered, {} to ask again",
                    r.to_fetch,
                    r.tally.resolved,
                    c.unresolved()
                );
                if c.unresolved() > 0 {
                    detail.push_str(&format!(
                        " ({} held at {}, {} failed, {} pending)",
                        c.internal_error,
                        crate::check::INTERNAL_ERROR,
                        c.failed,
                        c.pending
                    ));
                }
                self.step("fetch", *status, word, detail);
            }
            (Ok(status), None) => self.step("fetch", *status, "ok", String::new()),
            (Err(f), _) => self.failed("fetch", f),
        }
        report
    }

    /// The billing reports of every day that changed, and yesterday's attack report.
    fn reports(&mut self, opts: &FetchOptions) {
        if let Err(f) = self.billing_reports(opts) {
            self.failed("billing", &f);
        }
        let day = self.yesterday();
        let path = self.paths.out.join(format!("attacks-{day}.json"));
        let argv = self.report_argv("attacks", &day, &path, &["--fail-on-spike"]);
        let outcome =
            parse_args::<AttacksArgs>(&argv).and_then(|a| report_attacks(self.global, &a));
        match outcome {
            Ok(status) => {
                self.summary.attacks_file = Some(shown(&path));
                let word = if status == ExitStatus::Spike {
                    "spike"
                } else {
                    "ok"
                };
                self.step("attacks", status, word, format!("{day}: {}", shown(&path)));
            }
            Err(f) => self.failed("attacks", &f),
        }
    }

    /// Yesterday in the account's billing zone, from the night's "now".
    fn yesterday(&self) -> String {
        let zone = self.zone();
        let today = self.s.now.to_zoned_datetime(zone).date();
        today
            .yesterday()
            .map_or_else(|_| today.to_string(), |d| d.to_string())
    }

    /// The account's billing zone (its `tz` setting, as its reports use).
    fn zone(&self) -> jiff::tz::TimeZone {
        let vendor = VendorArgs {
            account: self.name.map(str::to_string),
            ..VendorArgs::default()
        };
        super::layers(self.global, &vendor)
            .ok()
            .and_then(|l| l.zone(None).ok())
            .map_or(jiff::tz::TimeZone::UTC, |z| z.tz)
    }

    /// A report's flags: one day, the account (its config name, else its partner code), the
    /// output file.
    fn report_argv(&self, what: &str, day: &str, out: &Path, more: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = [what, "--from", day, "--to", day, "--account"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        argv.push(match self.name {
            Some(name) => name.to_string(),
            None => self.partner_code.clone(),
        });
        argv.push("--output".into());
        argv.push(out.display().to_string());
        argv.extend(more.iter().map(|s| s.to_string()));
        argv
    }

    /// Writes `billing-DAY.csv` again for every day whose checks changed since the reports
    /// were last written, or for every day when the inputs they depend on changed (code table,
    /// prices, zone, date basis), where its content differs; then moves the state file.
    fn billing_reports(&mut self, opts: &FetchOptions) -> Result<(), Failure> {
        let state_file = self.paths.out.join(".billing-seq");
        let last = billing::read_state(&state_file);
        let ctx = report_context(self.global, None, Some(&opts.db))?;
        let code = opts.vendor.partner_code.clone();
        let date_by = crate::check::DateBy::Event;
        let yesterday = self.yesterday();
        let probe: BillingArgs =
            parse_args(&self.report_argv("billing", &yesterday, &self.paths.out, &[]))?;
        // An error here (an account the database holds no check of yet) is the reports'
        // own, and comes again below if there is a day to write.
        let inputs = billing_inputs(&ctx, &probe)
            .ok()
            .map(|text| billing::fingerprint(&text));
        // Other inputs than last time (or a state file without their hash): every day.
        let inputs_changed = last.seq > 0 && inputs.is_some() && last.inputs != inputs;
        let since = if inputs_changed { 0 } else { last.seq };
        let (days, through) =
            billing::changed_days(&ctx.store.conn, &code, since, &self.zone(), date_by)?;
        let mut written = 0;
        for day in &days {
            let day = day.to_string();
            let path = self.paths.out.join(format!("billing-{day}.csv"));
            let argv = self.report_argv("billing", &day, &path, &[]);
            let args: BillingArgs = parse_args(&argv)?;
            let doc = billing_document(&ctx, &args)?;
            let doc = crate::output::output_safe(&doc, Format::Csv, false, false);
            let mut bytes = Vec::new();
            crate::report::render::render(&doc, Format::Csv, &mut bytes)
                .map_err(Failure::internal)?;
            if std::fs::read(&path).ok().as_deref() == Some(&bytes[..]) {
                continue;
            }
            let mut out = crate::output::output(Some(&path), Some(&opts.db))?;
            std::io::Write::write_all(&mut out, &bytes)
                .and_then(|()| out.finish())
                .map_err(crate::output::write_failure)?;
            written += 1;
            self.summary.billing_written.push(ReportWritten {
                day,
                file: shown(&path),
                written_at: crate::timestamp::format_utc(jiff::Timestamp::now().as_millisecond()),
            });
        }
        let state = billing::State {
            seq: through,
            inputs,
        };
        billing::write_state(&state_file, &state).map_err(Failure::internal)?;
        let unchanged = match written {
            _ if written == days.len() => "",
            0 => " (each already held these totals)",
            _ => " (the others already held these totals)",
        };
        let detail = if inputs_changed {
            format!(
                "the code table, prices, zone or date basis changed since the last reports: \
                 every day computed again, {written} of {} day files written{unchanged}",
                days.len()
            )
        } else {
            format!(
                "{} days changed, {written} day files written{unchanged}",
                days.len()
            )
        };
        self.step("billing", ExitStatus::Ok, "ok", detail);
        Ok(())
    }

    /// A new export file of what changed since the last one.
    fn export(&mut self, opts: &FetchOptions) {
        let result = crate::commands::report::report_context(self.global, None, Some(&opts.db))
            .and_then(|ctx| {
                export::export_new(
                    &ctx.store,
                    &ctx.codes,
                    &self.paths.out,
                    &opts.vendor.partner_code,
                    Some(&self.paths.legacy_cursor),
                )
                .map_err(|e| Failure::internal(anyhow!(e)))
            });
        match result {
            Ok(w) => {
                self.summary.export_rows = w.rows;
                self.summary.export_file = w.file.as_deref().map(shown);
                let detail = match &w.file {
                    Some(f) => format!("{} rows to {}", w.rows, shown(f)),
                    None => format!("nothing changed since change {}", w.through),
                };
                let word = if w.file.is_some() { "ok" } else { "quiet" };
                self.step("export", ExitStatus::Ok, word, detail);
            }
            Err(f) => self.failed("export", &f),
        }
    }

    /// The night's summary line and metrics file, whatever happened before.
    fn finish(&mut self, opts: Option<&FetchOptions>, report: Option<&FetchReport>) {
        let finished = jiff::Timestamp::now();
        let account = opts
            .map(FetchOptions::account)
            .or_else(|| self.settings_account());
        self.summary.account = account.as_ref().map(crate::run_summary::AccountSummary::of);
        self.summary.started_at = crate::timestamp::format_utc(self.started.as_millisecond());
        self.summary.finished_at = crate::timestamp::format_utc(finished.as_millisecond());
        self.summary.duration_secs = (self.clock.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        self.summary.exit_status = self.status.code();
        if let Err(e) = crate::run_summary::append(&self.paths.summary_file, &self.summary) {
            let f = Failure::internal(anyhow!("writing {}: {e}", shown(&self.paths.summary_file)));
            self.failed("summary", &f);
        }
        let db = opts.map(|o| o.db.clone()).or_else(|| self.db());
        let codes = super::layers(self.global, &VendorArgs::default())
            .ok()
            .and_then(|l| crate::commands::code_table(&l).ok());
        let ending = RunEnding {
            started: self.started,
            elapsed: self.clock.elapsed(),
            status: self.status,
            report,
            error: None,
            cutoff: None,
            db: db.as_deref(),
            account: account.as_ref(),
        };
        write_metrics(&self.paths.metrics_file, &ending, codes.as_ref(), finished);
        let label = self.label();
        crate::nightly::log_step(
            &label,
            "metrics",
            "ok",
            &shown(&self.paths.metrics_file),
            true,
        );
    }

    /// The account as the settings name it, without its key (for a night that stopped before
    /// its fetch settings were read).
    fn settings_account(&self) -> Option<crate::store::account::RunAccount> {
        let vendor = VendorArgs {
            account: self.name.map(str::to_string),
            ..VendorArgs::default()
        };
        let layers = super::layers(self.global, &vendor).ok()?;
        let code = layers.partner_code_only()?;
        Some(crate::store::account::RunAccount {
            name: self.name.map(str::to_string),
            partner_code: code,
            endpoint_host: None,
        })
    }

    fn db(&self) -> Option<PathBuf> {
        super::layers(self.global, &VendorArgs::default())
            .ok()
            .map(|l| l.db())
    }
}
