//! The mock's license endpoint: a license for the duration asked (1 to 86,400 seconds, 600 by
//! default), 403 on wrong credentials, and the license faults a test or a user picks
//! ([`LicenseFault`]), so the license step's handling of a vendor outage and of odd expiries is
//! tested against the real client.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{Shared, json_response, refused, stable_hash};

/// How the mock's license endpoint misbehaves (the result endpoint is not affected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseFault {
    /// HTTP 503 with an empty body: the vendor is down.
    Empty503,
    /// HTTP 500 with a well-formed license body (an error page that is no license).
    License500,
    /// HTTP 410 with a well-formed license body.
    License410,
    /// A license whose `expiry_timestamp` is in milliseconds.
    Millis,
    /// A license that expired an hour before it was issued.
    Expired,
}

pub(super) async fn license_handler(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    s.license_requests.fetch_add(1, Ordering::SeqCst);
    if !s.credentials_ok(&q) {
        s.refused.fetch_add(1, Ordering::SeqCst);
        return refused();
    }
    let duration = if body.is_empty() {
        Some(600)
    } else {
        serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .map(|v| {
                v.get("session_duration")
                    .and_then(|d| d.as_i64())
                    .unwrap_or(600)
            })
    };
    let Some(d) = duration.filter(|d| (1..=86_400).contains(d)) else {
        return json_response(
            StatusCode::OK,
            serde_json::json!({"code": 11340, "message": "session_duration error", "sequence_id": "0"}),
        );
    };
    let now = jiff::Timestamp::now().as_second();
    let license = |expiry: i64| {
        serde_json::json!({
            "code": 200,
            "message": "success",
            "sequence_id": format!("{:020}", now),
            "license": format!("{:016x}", stable_hash(format!("{now}").as_bytes())),
            "expiry_timestamp": expiry,
        })
    };
    match s.opts.license_fault {
        None => json_response(StatusCode::OK, license(now + d)),
        Some(LicenseFault::Empty503) => (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
        Some(LicenseFault::License500) => {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, license(now + d))
        }
        Some(LicenseFault::License410) => json_response(StatusCode::GONE, license(now + d)),
        Some(LicenseFault::Millis) => json_response(StatusCode::OK, license((now + d) * 1000)),
        Some(LicenseFault::Expired) => json_response(StatusCode::OK, license(now - 3600)),
    }
}
