//! Endpoint checks: a vendor URL parses, has no query string (where a key could be put), and is
//! https unless it points at this machine (loopback, for the mock and tests).

use std::net::IpAddr;

use url::Url;

use super::ConfigError;

/// Validates an endpoint URL: parseable, no query string, https unless loopback.
pub(crate) fn endpoint(what: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value.trim()).map_err(|e| ConfigError::BadUrl {
        what,
        value: value.to_string(),
        reason: e.to_string(),
    })?;
    if url.query().is_some() {
        return Err(ConfigError::UrlHasQuery { what });
    }
    let host = url.host_str().unwrap_or_default().to_string();
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => return Err(ConfigError::InsecureUrl { what, host }),
        other => {
            return Err(ConfigError::BadUrl {
                what,
                value: value.to_string(),
                reason: format!("scheme {other:?}; use https://"),
            });
        }
    }
    if host.is_empty() {
        return Err(ConfigError::BadUrl {
            what,
            value: value.to_string(),
            reason: "no host".into(),
        });
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
