//! `liveaudit license`: asks the vendor's license API once, to check credentials and endpoint.
//!
//! Policy: only HTTP 200 carries a license. A refusal is exit status 3, a misconfigured
//! endpoint 2, a vendor or network outage (no connection, 5xx, a proxy's 407, a body that is
//! not the vendor's JSON) 4, and so is a license that had already expired when it came (a
//! warning says why; one far ahead or in milliseconds is warned about, exit 0). The vendor's
//! text is cleaned of control characters before it is printed.

use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;

use super::{layers, seconds};
use crate::cli::{GlobalArgs, LicenseArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::td::answer::VendorStop;
use crate::td::client::{ClientOptions, VendorClient, VendorError};
use crate::td::license::{self, Expiry, ExpiryProblem};

/// Runs `liveaudit license`: exit 0 with a license; 4 when the license had already expired
/// (or the vendor looked down, from [`ask`]).
pub(crate) async fn license(global: &GlobalArgs, args: LicenseArgs) -> Result<ExitStatus, Failure> {
    let (answer, vendor) = ask(global, &args).await?;
    let mut out = std::io::stdout().lock();
    let expiry = answer.expiry_timestamp.map(Expiry::of);
    let _ = writeln!(
        out,
        "license:     {}",
        crate::text::clean(answer.license.as_deref().unwrap_or("(none)"))
    );
    match expiry {
        Some(e) => write_expiry(&mut out, e),
        None => {
            let _ = writeln!(out, "expires:     (no expiry_timestamp in the answer)");
        }
    }
    let _ = writeln!(
        out,
        "sequence_id: {}",
        crate::text::clean(answer.sequence_id.as_deref().unwrap_or(""))
    );
    // Which account answered (never its key): a config file may name several.
    let _ = writeln!(
        out,
        "account:     {}, endpoint {}",
        crate::store::account::describe(vendor.account.name.as_deref(), &vendor.partner_code),
        vendor
            .license_url
            .as_ref()
            .and_then(|u| u.host_str())
            .unwrap_or("(none)")
    );
    match expiry_warning(&answer, args.duration) {
        Some(ExpiryProblem::Expired(_)) => Ok(ExitStatus::Incomplete),
        _ => Ok(ExitStatus::Ok),
    }
}

/// The `expires` lines: local time and UTC, and the value as sent when it is no time.
fn write_expiry(out: &mut impl Write, e: Expiry) {
    let Some(t) = e.time() else {
        let _ = writeln!(out, "expires:     (unreadable: {e:?})");
        return;
    };
    let local = t.to_zoned_datetime(jiff::tz::TimeZone::system());
    let _ = writeln!(
        out,
        "expires:     {}",
        local.strftime("%Y-%m-%d %H:%M:%S %Z (local)")
    );
    let _ = writeln!(out, "expires UTC: {}", t.strftime("%Y-%m-%dT%H:%M:%SZ"));
}

/// Warns (one WARN line each) about an expiry in milliseconds and an expiry that is expired,
/// far ahead or unreadable; returns the problem, if any.
pub(crate) fn expiry_warning(
    answer: &crate::td::answer::LicenseAnswer,
    asked_secs: i64,
) -> Option<ExpiryProblem> {
    let value = answer.expiry_timestamp?;
    let expiry = Expiry::of(value);
    if let Expiry::Millis(_) = expiry {
        tracing::warn!(
            expiry_timestamp = value,
            "the vendor's expiry_timestamp is in milliseconds, not the documented seconds; read              as milliseconds"
        );
    }
    let asked = u32::try_from(asked_secs).unwrap_or(u32::MAX);
    let problem = license::problem(expiry, asked, jiff::Timestamp::now())?;
    tracing::warn!("{problem}");
    Some(problem)
}

/// Asks the license API once (the credentials check of `license` and of the nightly job):
/// the answer and the settings that asked, or the refusal as exit 3 (2: a misconfigured
/// endpoint).
pub(crate) async fn ask(
    global: &GlobalArgs,
    args: &LicenseArgs,
) -> Result<
    (
        crate::td::answer::LicenseAnswer,
        crate::config::VendorSettings,
    ),
    Failure,
> {
    if !(1..=86_400).contains(&args.duration) {
        return Err(Failure::usage(anyhow!(
            "--duration {} is out of range; the vendor accepts 1 to 86400 seconds",
            args.duration
        )));
    }
    let layers = layers(global, &args.vendor)?;
    let vendor = layers.vendor(crate::config::Endpoint::License)?;
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
            VendorError::Stopped(
                VendorStop::Misconfigured { .. } | VendorStop::Untrusted { .. },
            ) => Failure::usage(e),
            VendorError::Stopped(_) => Failure {
                status: ExitStatus::Refused,
                error: e.into(),
            },
            VendorError::Fault(_) => outage(e),
            VendorError::Code { code, .. } if code == crate::check::INTERNAL_ERROR => outage(e),
            other => Failure::internal(other),
        })?;
    Ok((answer, vendor))
}

/// A vendor or network outage at the license API (no answer, a 5xx, a proxy's 407, an answer
/// that is not the vendor's JSON, 11350): exit 4, to be run again later.
fn outage(e: VendorError) -> Failure {
    Failure {
        status: ExitStatus::Incomplete,
        error: anyhow::Error::new(e)
            .context("the vendor looked down at the license API; rerun later"),
    }
}
