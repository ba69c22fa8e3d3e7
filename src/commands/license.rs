//! `liveaudit license`: asks the vendor's license API once, to check credentials and endpoint.
//!
//! Policy: a refusal is exit status 3, a misconfigured endpoint 2; the vendor's text is
//! cleaned of control characters before it is printed.

use std::io::Write;
use std::time::Duration;

use anyhow::anyhow;

use super::{layers, seconds};
use crate::cli::{GlobalArgs, LicenseArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::td::answer::VendorStop;
use crate::td::client::{ClientOptions, VendorClient, VendorError};

/// Runs `liveaudit license`.
pub(crate) async fn license(global: &GlobalArgs, args: LicenseArgs) -> Result<ExitStatus, Failure> {
    let (answer, vendor) = ask(global, &args).await?;
    let mut out = std::io::stdout().lock();
    let expiry = answer
        .expiry_timestamp
        .and_then(|t| jiff::Timestamp::from_second(t).ok());
    let _ = writeln!(
        out,
        "license:     {}",
        crate::text::clean(answer.license.as_deref().unwrap_or("(none)"))
    );
    if let Some(t) = expiry {
        let local = t.to_zoned_datetime(jiff::tz::TimeZone::system());
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
    Ok(ExitStatus::Ok)
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
            other => Failure::internal(other),
        })?;
    Ok((answer, vendor))
}
