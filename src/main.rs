//! The `liveaudit` binary: parse flags, run the library, turn the outcome into an exit status.
//!
//! Policy: under `--log-format json` every line on stderr is one JSON object, usage errors and
//! fatal errors included, and the last one (`"message":"exit"`) carries the exit status.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use liveaudit::cli::{Cli, LogFormat};
use liveaudit::exit::ExitStatus;
use liveaudit::text::SafeStderr;

/// Whether the raw arguments ask for JSON logs (read before clap, for clap's own errors).
fn json_asked(args: &[std::ffi::OsString]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        a == "--log-format=json"
            || (a == "--log-format" && args.get(i + 1).is_some_and(|v| v == "json"))
    })
}

/// One JSON log line on stderr, in the shape of the tracing subscriber's lines but written
/// directly, so no log filter (`-q`, `LIVEAUDIT_LOG`) can drop the fatal error or the final exit
/// status, and clap's own errors (before any subscriber exists) are JSON too.
fn json_line(level: &str, message: &str, exit_status: u8) {
    let line = serde_json::json!({
        "timestamp": jiff::Timestamp::now().to_string(),
        "level": level,
        "message": message,
        "exit_status": exit_status,
    });
    let _ = writeln!(SafeStderr::plain(), "{line}");
}

fn main() -> ExitCode {
    // A panic message passes the same scrubber as every other line on stderr.
    std::panic::set_hook(Box::new(|info| {
        let line = format!("internal error (a bug in liveaudit): {info}\n");
        let _ = SafeStderr::plain().write_all(line.as_bytes());
    }));
    // A second Ctrl-C or SIGTERM means "now": everything committed so far is safe on disk.
    liveaudit::exit::on_second_interrupt(|| {
        std::process::exit(ExitStatus::Interrupted.code().into())
    });
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) if json_asked(&args) && e.use_stderr() => {
            let text = e.to_string();
            let message = text.trim().trim_start_matches("error: ");
            let status = e.exit_code() as u8;
            json_line("ERROR", message, status);
            json_line("INFO", "exit", status);
            return ExitCode::from(status);
        }
        Err(e) => e.exit(),
    };
    let json = cli.global.log_format == LogFormat::Json;
    let status = match liveaudit::commands::run(cli) {
        Ok(status) => status,
        // A closed pipe (`liveaudit export | head`) ends with status 0 and no message.
        Err(failure) if failure.exit_status() == ExitStatus::Ok => failure.exit_status(),
        Err(failure) => {
            if json {
                json_line("ERROR", &failure.message(), failure.exit_status().code());
            } else {
                // Through the scrubbing writer: no key, no raw control bytes, no panic on a
                // closed stderr.
                let _ = writeln!(SafeStderr::plain(), "error: {}", failure.message());
            }
            failure.exit_status()
        }
    };
    if json {
        json_line("INFO", "exit", status.code());
    }
    status.into()
}
