//! `liveaudit mock`: the embedded stand-in vendor on a port, with the shell lines to use it.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, anyhow};

use crate::cli::MockArgs;
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::mock::{MockOptions, MockServer};

/// Mock options from the `mock` command's flags.
pub(crate) fn mock_options(args: &MockArgs) -> Result<MockOptions, Failure> {
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
    if args.fault_mix.iter().map(|f| f.share).sum::<f64>() > 1.0 {
        return Err(Failure::usage(anyhow!(
            "--fault-mix: the shares add up to more than 1"
        )));
    }
    Ok(MockOptions {
        partner_code: args.partner_code.clone(),
        partner_key: args.partner_key.clone(),
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        fault_rate: args.fault_rate,
        faults: args.faults.clone(),
        fault_mix: args.fault_mix.clone(),
        hang: Duration::from_millis(args.hang_ms),
        rate_limit: args.rate_limit,
        rate_burst: args.rate_burst,
        stop_after: args.stop_after,
        image_bytes: args.image_bytes,
        license_fault: args.license_fault,
    })
}

/// Runs `liveaudit mock` until Ctrl-C.
pub(crate) async fn mock(args: MockArgs) -> Result<ExitStatus, Failure> {
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
pub(crate) fn shell_quote(value: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("demo-key"), "demo-key");
        assert_eq!(shell_quote("http://127.0.0.1:1/x"), "http://127.0.0.1:1/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
