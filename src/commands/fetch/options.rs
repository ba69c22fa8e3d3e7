//! `liveaudit fetch`'s flags checked into [`FetchOptions`]: the vendor and its account, the
//! input's reading, pacing, the client, retries and the time budget.
//!
//! Policy: every flag is checked here, before anything is read, sent or written; a flag out of
//! its range is a usage error (exit 2) naming the flag.

use std::io::IsTerminal;
use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::cli::{BadTimesArg, FetchArgs, GlobalArgs, LogFormat};
use crate::commands::{code_table, layers, seconds, writable_later};
use crate::config::{Layers, RateValue};
use crate::failure::Failure;
use crate::fetch::FetchOptions;
use crate::fetch::adaptive::AutoRate;
use crate::fetch::pace::Rate;
use crate::fetch::progress::ProgressMode;
use crate::input::{BadTimes, InputOptions};
use crate::td::client::ClientOptions;

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
pub(crate) fn schedule_zone(
    global: &GlobalArgs,
    args: &FetchArgs,
) -> Result<jiff::tz::TimeZone, Failure> {
    let zone = layers(global, &args.vendor)?.zone(args.tz.as_deref());
    Ok(zone.map_err(Failure::usage)?.tz)
}

/// The fetch's cut-off from `--max-duration`/`--until`, counted from `now`.
pub(crate) fn fetch_cutoff(
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

/// Builds validated fetch options from the flags (nothing is sent or written).
pub(crate) fn fetch_options(
    global: &GlobalArgs,
    args: &FetchArgs,
) -> Result<FetchOptions, Failure> {
    let started = std::time::Instant::now();
    let cutoff = fetch_cutoff(global, args, jiff::Timestamp::now())?;
    writable_later("summary-file", args.summary_file.as_deref())?;
    writable_later("metrics-file", args.metrics_file.as_deref())?;
    let layers = layers(global, &args.vendor)?;
    let vendor = layers.vendor(crate::config::Endpoint::Result)?;
    if vendor.partner_code == crate::check::UNKNOWN_ACCOUNT {
        return Err(Failure::usage(anyhow!(
            "partner code {:?} is reserved for checks whose account was never recorded; give \
             the account's real partner code",
            crate::check::UNKNOWN_ACCOUNT
        )));
    }
    let codes = code_table(&layers)?;
    let burst = counts(args)?;
    let input = input_options(&layers, args)?;
    let (sources, skipped) =
        crate::input::sources_from_args(&args.files).map_err(Failure::usage)?;
    for note in skipped {
        tracing::warn!("{note}");
    }
    if let Some(dir) = &args.save_images {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating --save-images directory {}", dir.display()))
            .map_err(Failure::usage)?;
    }
    let rate = fetch_rate(&layers, args)?;
    Ok(FetchOptions {
        db: layers.db(),
        sources,
        pending: args.pending,
        input,
        vendor,
        codes,
        rate,
        burst,
        concurrency: args.concurrency,
        client: client_options(args)?,
        retry: retry_policy(args),
        breaker_threshold: args.breaker,
        save_images: args.save_images.clone(),
        progress: progress_mode(global),
        // A budget beyond what the clock can count is no budget at all.
        deadline: cutoff.and_then(|c| started.checked_add(c.after)),
    })
}

/// Checks the flags that count something (each at least 1, the body cap within 1-1024 MiB) and
/// gives the burst.
fn counts(args: &FetchArgs) -> Result<NonZeroU32, Failure> {
    let burst = NonZeroU32::new(args.burst)
        .ok_or_else(|| Failure::usage(anyhow!("--burst must be at least 1")))?;
    if args.breaker == 0 {
        return Err(Failure::usage(anyhow!("--breaker must be at least 1")));
    }
    if args.concurrency == Some(0) {
        return Err(Failure::usage(anyhow!("--concurrency must be at least 1")));
    }
    if args.max_body_mib == 0 || args.max_body_mib > 1024 {
        return Err(Failure::usage(anyhow!(
            "--max-body-mib must be between 1 and 1024"
        )));
    }
    Ok(burst)
}

/// How the input files are read: columns, the zone of times without an offset (and where it
/// came from), delimiter, time formats, unreadable times, limits.
fn input_options(layers: &Layers, args: &FetchArgs) -> Result<InputOptions, Failure> {
    let (zone_name, zone_origin) = layers.input_tz(args.input_tz.as_deref());
    let zone =
        crate::zone::Zone::parse(&zone_name, zone_origin.as_str()).map_err(Failure::usage)?;
    let delimiter = args.delimiter.as_deref().map(delimiter_flag).transpose()?;
    for format in &args.time_format {
        crate::input::times::check_format(format).map_err(|e| Failure::usage(anyhow!(e)))?;
    }
    Ok(InputOptions {
        id_column: args.id_column.clone(),
        time_column: args.time_column.clone(),
        zone_label: Some(format!("{} ({zone_origin})", zone.name)),
        zone: Some(zone.tz),
        delimiter,
        time_formats: args.time_format.clone(),
        bad_times: match args.bad_times {
            BadTimesArg::Stop => BadTimes::Stop,
            BadTimesArg::FetchTime => BadTimes::FetchTime,
        },
        fix_times: args.fix_times,
        sheet: args.sheet.clone(),
        interrupted: None,
        limits: args.limits.limits(),
    })
}

/// The HTTP client's timeouts and body cap.
fn client_options(args: &FetchArgs) -> Result<ClientOptions, Failure> {
    let timeout = seconds("timeout", args.timeout)?;
    Ok(ClientOptions {
        timeout,
        connect_timeout: timeout.min(Duration::from_secs(10)),
        max_body: args.max_body_mib * 1024 * 1024,
        ..ClientOptions::default()
    })
}

/// Retries and their back-off.
fn retry_policy(args: &FetchArgs) -> crate::fetch::retry::RetryPolicy {
    crate::fetch::retry::RetryPolicy {
        max_retries: args.max_retries,
        retry_after_cap: Duration::from_secs(args.max_retry_after.max(1)),
        // A maximum below the minimum lowers the minimum too: the user asked for short waits.
        min_delay: Duration::from_millis(args.backoff_min_ms.min(args.backoff_max_ms).max(1)),
        max_delay: Duration::from_millis(args.backoff_max_ms.max(1)),
    }
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
