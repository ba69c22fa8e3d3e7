//! `liveaudit demo`: the whole job on `sample_data/` against the embedded mock vendor.
//!
//! It starts the mock on a loopback port with realistic latency and a few injected faults,
//! fetches the sample id list into a fresh database under the rate limit, and prints the billing
//! and attack reports and the reconcile of the sample statement (with planted discrepancies). Nothing here is canned: every number printed comes from the real
//! pipeline and the real reports. Without `sample_data/` (run from elsewhere), the copy built
//! into the binary is used.

use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::app::{Failure, attacks_document, billing_document, fetch_status};
use std::io::Write;

use crate::check::DateBy;
use crate::cli::{
    AttacksArgs, BillingArgs, DemoArgs, GlobalArgs, Period, ReconcileArgs, ReportArgs,
};
use crate::config::{Secret, VendorSettings};
use crate::exit::ExitStatus;
use crate::fetch::FetchOptions;
use crate::fetch::progress::ProgressMode;
use crate::fetch::retry::RetryPolicy;
use crate::input::{InputOptions, Source};
use crate::mock::{FaultKind, MockOptions, MockServer};
use crate::report::render::{Format, render};
use crate::vendor::client::ClientOptions;
use crate::vendor::codes::CodeTable;

/// The sample id list and statement, built in for runs outside the source tree.
const BUILT_IN_SAMPLE: &str = include_str!("../sample_data/checks.csv");
const BUILT_IN_STATEMENT: &str = include_str!("../sample_data/statement.csv");

/// The demo's rate limit (requests per second).
const DEMO_RATE: u32 = 400;

/// A progress note on stderr: a plain line for people, a log event under `--log-format json`
/// (where every stderr line is JSON).
fn say(global: &GlobalArgs, line: String) {
    match global.log_format {
        crate::cli::LogFormat::Json => tracing::info!("{line}"),
        crate::cli::LogFormat::Text => eprintln!("{line}"),
    }
}

pub async fn run(global: &GlobalArgs, args: DemoArgs) -> Result<ExitStatus, Failure> {
    let tmp = tempfile::tempdir().map_err(Failure::internal)?;
    let (sample, statement) = if args.data.join("checks.csv").is_file() {
        (
            args.data.join("checks.csv"),
            args.data.join("statement.csv"),
        )
    } else {
        let ids = tmp.path().join("checks.csv");
        let statement = tmp.path().join("statement.csv");
        std::fs::write(&ids, BUILT_IN_SAMPLE).map_err(Failure::internal)?;
        std::fs::write(&statement, BUILT_IN_STATEMENT).map_err(Failure::internal)?;
        say(
            global,
            format!(
                "{} not found; using the sample built into liveaudit",
                args.data.display()
            ),
        );
        (ids, statement)
    };
    let db = match &args.keep_db {
        Some(p) => {
            if p.exists() {
                return Err(Failure::usage(anyhow!(
                    "--keep-db {} exists; the demo starts from an empty database",
                    p.display()
                )));
            }
            p.clone()
        }
        None => tmp.path().join("demo.db"),
    };

    let mock_opts = MockOptions {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(60),
        fault_rate: 0.02,
        faults: vec![
            FaultKind::Html500,
            FaultKind::Empty503,
            FaultKind::Truncated,
            FaultKind::Internal,
            FaultKind::Reset,
        ],
        image_bytes: 16 * 1024,
        ..MockOptions::default()
    };
    let mock = MockServer::start(
        mock_opts.clone(),
        "127.0.0.1:0".parse().map_err(Failure::internal)?,
    )
    .await
    .context("starting the embedded mock vendor")
    .map_err(Failure::internal)?;
    say(
        global,
        format!(
            "demo: mock vendor on {} (20-80 ms latency, 2% injected faults); fetching {} at {DEMO_RATE}/s",
            mock.addr(),
            sample.display()
        ),
    );
    let vendor = VendorSettings {
        partner_code: mock_opts.partner_code.clone(),
        partner_key: Secret::new(mock_opts.partner_key.clone()),
        result_url: Some(crate::config::endpoint(
            "the result URL",
            &mock.result_url(),
        )?),
        license_url: Some(crate::config::endpoint(
            "the license URL",
            &mock.license_url(),
        )?),
    };
    let opts = FetchOptions {
        db: db.clone(),
        sources: vec![Source::File(sample.clone())],
        input: InputOptions::default(),
        vendor,
        codes: CodeTable::shipped(),
        rate: NonZeroU32::new(DEMO_RATE).map_or(
            crate::fetch::pace::Rate::Unlimited,
            crate::fetch::pace::Rate::Fixed,
        ),
        burst: NonZeroU32::MIN,
        concurrency: None,
        client: ClientOptions {
            timeout: Duration::from_secs(10),
            ..ClientOptions::default()
        },
        retry: RetryPolicy {
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..RetryPolicy::default()
        },
        breaker_threshold: 50,
        save_images: None,
        deadline: None,
        progress: if global.quiet {
            ProgressMode::Quiet
        } else {
            ProgressMode::Lines {
                every: Duration::from_secs(2),
            }
        },
    };
    let report = crate::fetch::run(opts)
        .await
        .map_err(crate::app::fetch_failure)?;
    let stats = mock.stats();
    say(
        global,
        format!(
            "demo: {} ids fetched with {} requests in {:.1}s ({} faults injected by the mock, {} rate-limited); {} failed, {} pending",
            report.tally.resolved,
            report.tally.requests,
            report.elapsed.as_secs_f64(),
            stats.faults.values().sum::<u64>(),
            report.tally.rate_limited,
            report.counts.failed,
            report.counts.pending,
        ),
    );

    // One billing day for every report: the sample vendor bills by Singapore's day.
    let mut ctx = crate::app::report_context(global, Some("Asia/Singapore"), Some(&db))?;
    let common = ReportArgs {
        by: Period::Week,
        from: None,
        to: None,
        tz: None,
        date_by: DateBy::Event,
        format: Some(Format::Table),
        table: None,
        output: None,
        raw_cells: false,
    };
    let billing = billing_document(
        &ctx,
        &BillingArgs {
            common: common.clone(),
            price: Some("0.035".into()),
            prices: None,
            currency: "USD".into(),
        },
    )?;
    let attacks = attacks_document(
        &ctx,
        &AttacksArgs {
            common: ReportArgs {
                by: Period::Day,
                ..common
            },
            dimension: Some("channel".into()),
            top: 5,
            spike_factor: 2.0,
            spike_min: 10,
            baseline: 7,
            fail_on_spike: false,
        },
    )?;
    let (reconciled, _clean) = crate::app::reconcile_document(
        &mut ctx,
        &ReconcileArgs {
            statement,
            tz: None,
            date_by: DateBy::Event,
            table: None,
            from: None,
            to: None,
            price: Some("0.035".into()),
            prices: None,
            currency: "USD".into(),
            tolerance: 0,
            amount_tolerance: "0".into(),
            boundary_hours: 12,
            details: None,
            statement_id_column: None,
            statement_sequence_column: None,
            statement_time_column: None,
            statement_code_column: None,
            statement_amount_column: None,
            statement_count_column: None,
            statement_period_column: None,
            format: None,
            output: None,
            raw_cells: false,
        },
    )?;
    let mut out = std::io::stdout().lock();
    for doc in [&billing, &attacks, &reconciled] {
        render(doc, Format::Table, &mut out).map_err(Failure::internal)?;
        writeln!(out).map_err(Failure::internal)?;
    }
    if let Some(p) = &args.keep_db {
        println!("\ndatabase kept at {}", p.display());
    } else {
        println!(
            "\n(run with --keep-db PATH to keep the database and try `liveaudit export` or `report` on it)"
        );
    }
    Ok(fetch_status(&report))
}
