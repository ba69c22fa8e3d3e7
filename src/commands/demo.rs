//! `liveaudit demo`: the whole job on `sample_data/` against the embedded mock vendor.
//!
//! It starts the mock on a loopback port with realistic latency and a few injected faults,
//! fetches the sample id list into a fresh database under the rate limit, and prints the billing
//! and attack reports and the reconcile of the sample statement (with planted discrepancies). Nothing here is canned: every number printed comes from the real
//! pipeline and the real reports. Without `sample_data/` (run from elsewhere), the copy built
//! into the binary is used.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};

use std::io::Write;

use super::fetch::{fetch_failure, fetch_status};
use super::reconcile::reconcile_document;
use super::report::{attacks_document, billing_document, report_context};
use crate::cli::{Cli, Command, DemoArgs, GlobalArgs, ReportCommand};
use crate::codes::CodeTable;
use crate::config::{Secret, VendorSettings};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::fetch::FetchOptions;
use crate::fetch::progress::ProgressMode;
use crate::fetch::retry::RetryPolicy;
use crate::input::{InputOptions, Source};
use crate::mock::{FaultKind, MockOptions, MockServer};
use crate::report::render::{Format, render};
use crate::td::client::ClientOptions;

/// The sample id list and statement, built in for runs outside the source tree.
const BUILT_IN_SAMPLE: &str = include_str!("../../sample_data/checks.csv");
const BUILT_IN_STATEMENT: &str = include_str!("../../sample_data/statement.csv");

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

pub(crate) async fn run(global: &GlobalArgs, args: DemoArgs) -> Result<ExitStatus, Failure> {
    let tmp = tempfile::tempdir().map_err(Failure::internal)?;
    let (sample, statement) = sample_files(global, &args, tmp.path())?;
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

    let (mock, mock_opts) = start_mock().await?;
    say(
        global,
        format!(
            "demo: mock vendor on {} (20-80 ms latency, 2% injected faults); fetching {} at {DEMO_RATE}/s",
            mock.addr(),
            sample.display()
        ),
    );
    let opts = fetch_options(global, &db, &sample, &mock, &mock_opts)?;
    let report = crate::fetch::run(opts).await.map_err(fetch_failure)?;
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

    print_reports(global, &db, &statement)?;
    if let Some(p) = &args.keep_db {
        println!("\ndatabase kept at {}", p.display());
    } else {
        println!(
            "\n(run with --keep-db PATH to keep the database and try `liveaudit export` or `report` on it)"
        );
    }
    Ok(fetch_status(&report))
}

/// The sample id list and statement: `--data`'s, or the built-in copies written to `tmp`.
fn sample_files(
    global: &GlobalArgs,
    args: &DemoArgs,
    tmp: &Path,
) -> Result<(PathBuf, PathBuf), Failure> {
    if args.data.join("checks.csv").is_file() {
        return Ok((
            args.data.join("checks.csv"),
            args.data.join("statement.csv"),
        ));
    }
    let ids = tmp.join("checks.csv");
    let statement = tmp.join("statement.csv");
    std::fs::write(&ids, BUILT_IN_SAMPLE).map_err(Failure::internal)?;
    std::fs::write(&statement, BUILT_IN_STATEMENT).map_err(Failure::internal)?;
    say(
        global,
        format!(
            "{} not found; using the sample built into liveaudit",
            args.data.display()
        ),
    );
    Ok((ids, statement))
}

/// The mock vendor on a loopback port: realistic latency and 2% of the common faults.
async fn start_mock() -> Result<(MockServer, MockOptions), Failure> {
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
    Ok((mock, mock_opts))
}

/// The demo's fetch: the sample into `db` from the mock, at [`DEMO_RATE`], with short back-offs.
fn fetch_options(
    global: &GlobalArgs,
    db: &Path,
    sample: &Path,
    mock: &MockServer,
    mock_opts: &MockOptions,
) -> Result<FetchOptions, Failure> {
    let vendor = VendorSettings {
        account: crate::config::AccountRef {
            name: None,
            partner_code: mock_opts.partner_code.clone(),
        },
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
    Ok(FetchOptions {
        db: db.to_path_buf(),
        sources: vec![Source::File(sample.to_path_buf())],
        pending: false,
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
    })
}

/// Prints the billing and attack reports and the reconcile of the sample statement, each asked
/// for by its command line.
fn print_reports(global: &GlobalArgs, db: &Path, statement: &Path) -> Result<(), Failure> {
    // One billing day for every report: the sample vendor bills by Singapore's day.
    let mut ctx = report_context(global, Some("Asia/Singapore"), Some(db))?;
    let billing = match demo_command(&[
        "report",
        "billing",
        "--by",
        "week",
        "--format",
        "table",
        "--price",
        "0.035",
        "--currency",
        "USD",
    ])? {
        Command::Report(ReportCommand::Billing(args)) => billing_document(&ctx, &args)?,
        _ => unreachable!("parsed as report billing"),
    };
    let attacks = match demo_command(&[
        "report",
        "attacks",
        "--by",
        "day",
        "--format",
        "table",
        "--dimension",
        "channel",
        "--top",
        "5",
        "--spike-factor",
        "2",
        "--spike-min",
        "10",
        "--baseline",
        "7",
    ])? {
        Command::Report(ReportCommand::Attacks(args)) => attacks_document(&ctx, &args)?,
        _ => unreachable!("parsed as report attacks"),
    };
    let statement = statement.to_string_lossy();
    let (reconciled, _clean) = match demo_command(&[
        "reconcile",
        "--statement",
        &statement,
        "--price",
        "0.035",
        "--currency",
        "USD",
        "--tolerance",
        "0",
        "--amount-tolerance",
        "0",
        "--boundary-hours",
        "12",
    ])? {
        Command::Reconcile(args) => reconcile_document(&mut ctx, &args)?,
        _ => unreachable!("parsed as reconcile"),
    };
    let mut out = std::io::stdout().lock();
    for doc in [&billing, &attacks, &reconciled] {
        // `liveaudit demo | head` closes the pipe early: a quiet end, as every report's output.
        render(doc, Format::Table, &mut out).map_err(crate::output::write_failure)?;
        writeln!(out).map_err(crate::output::write_failure)?;
    }
    Ok(())
}

/// The demo's reports are asked for as a user would ask: the words of a command line, parsed
/// by the program's own flag definitions, so the demo never builds an argument struct by hand.
fn demo_command(words: &[&str]) -> Result<Command, Failure> {
    let argv = std::iter::once("liveaudit").chain(words.iter().copied());
    <Cli as clap::Parser>::try_parse_from(argv)
        .map(|cli| cli.command)
        .map_err(|e| Failure::internal(anyhow!("the demo's own command line: {e}")))
}
