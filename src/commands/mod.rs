//! From a parsed command line to library calls and an exit status: one file per command.
//!
//! Policy: every flag is validated in its command's file, before anything is sent or written,
//! turning the clap arguments into checked settings (the library's options structs); each
//! failure maps to one documented [`ExitStatus`] through [`Failure`], and its message names the
//! setting or the file and line at fault. Logs go to stderr (text or JSON), results to stdout or
//! `--output` (see `crate::output`). Colour on stderr only where a person reads it:
//! `--color auto` (the default) colours a terminal unless `NO_COLOR` is set to something;
//! `always` and `never` override both.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;

use crate::cli::{Cli, ColorChoice, Command, GlobalArgs, LogFormat, ReportCommand, VendorArgs};
use crate::codes::CodeTable;
use crate::config::{FileConfig, FlagValues, Layers};
use crate::exit::ExitStatus;
use crate::failure::Failure;

pub(crate) mod adopt;
pub(crate) mod checks;
pub(crate) mod codes;
pub(crate) mod demo;
pub(crate) mod docs;
pub(crate) mod export;
pub(crate) mod fetch;
pub(crate) mod license;
pub(crate) mod mock;
pub(crate) mod nightly;
pub(crate) mod purge;
pub(crate) mod reconcile;
pub(crate) mod report;

/// Runs one command.
pub fn run(cli: Cli) -> Result<ExitStatus, Failure> {
    let cli = cli.dash_is_stdout();
    init_logging(&cli.global);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::internal)?;
    let global = &cli.global;
    match cli.command {
        Command::Fetch(args) => runtime.block_on(fetch::fetch(global, args)),
        Command::Nightly(args) => runtime.block_on(nightly::nightly(global, args)),
        Command::Export(args) => export::export(global, &args),
        Command::Report(ReportCommand::Billing(args)) => report::report_billing(global, &args),
        Command::Report(ReportCommand::Attacks(args)) => report::report_attacks(global, &args),
        Command::Checks(args) => checks::checks(global, &args),
        Command::Reconcile(args) => reconcile::reconcile(global, &args),
        Command::License(args) => runtime.block_on(license::license(global, args)),
        Command::Purge(args) => purge::purge(global, &args),
        Command::Adopt(args) => adopt::adopt(global, &args),
        Command::Codes(args) => codes::codes(global, &args),
        Command::Mock(args) => runtime.block_on(mock::mock(args)),
        Command::Demo(args) => runtime.block_on(demo::run(global, args)),
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
    }
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

/// The config file asked for: `--config`, else `LIVEAUDIT_CONFIG` when it is set and not blank
/// (an empty variable is unset, as every other `LIVEAUDIT_*` variable is).
fn config_path(global: &GlobalArgs) -> Option<std::path::PathBuf> {
    global.config.clone().or_else(|| {
        std::env::var_os("LIVEAUDIT_CONFIG")
            .filter(|v| !v.to_string_lossy().trim().is_empty())
            .map(std::path::PathBuf::from)
    })
}

fn layers(global: &GlobalArgs, vendor: &VendorArgs) -> Result<Layers, Failure> {
    let file = FileConfig::load(config_path(global).as_deref())?;
    Ok(Layers::new(
        FlagValues {
            account: vendor.account.clone(),
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
            "--{flag} {value} is not a number of seconds: give more than 0 and at most 86400 (a day)"
        )))
    }
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
}
