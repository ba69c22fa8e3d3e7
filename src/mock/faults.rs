//! The injected misbehaviour: the response for each [`FaultKind`] the mock can be asked to give.
//!
//! Policy: each fault imitates what a real vendor or the proxies in front of it send (an nginx
//! error page, an empty 503, a 429 with a delay or a date, a truncated or non-JSON body, a
//! stalled, huge or reset stream, an internal-error code), so the client's handling of each is
//! tested against the real shape. Which fault a request gets is decided by the caller.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{FaultKind, json_response, stable_hash};
use crate::check::INTERNAL_ERROR;

pub(super) fn fault_response(kind: FaultKind, id: &str) -> Response {
    match kind {
        FaultKind::Html500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response(),
        FaultKind::Empty503 => (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
        FaultKind::TooMany => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        FaultKind::TooManyDate => {
            let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
            let text = jiff::fmt::rfc2822::DateTimePrinter::new()
                .timestamp_to_rfc9110_string(&when)
                .unwrap_or_else(|_| "1".into());
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
            if let Ok(v) = HeaderValue::from_str(&text) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
        FaultKind::Truncated => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"code\": 200, \"message\": \"succ",
        )
            .into_response(),
        FaultKind::NotJson => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain")],
            "upstream connect error or disconnect/reset before headers",
        )
            .into_response(),
        FaultKind::Stall => {
            let stream = futures::stream::pending::<Result<Bytes, std::io::Error>>();
            (StatusCode::OK, Body::from_stream(stream)).into_response()
        }
        FaultKind::Internal => json_response(
            StatusCode::OK,
            serde_json::json!({"code": INTERNAL_ERROR, "message": "Internal error", "sequence_id": format!("{:016x}", stable_hash(id.as_bytes()))}),
        ),
        FaultKind::Huge => {
            let chunk = Bytes::from(vec![b' '; 64 * 1024]);
            let stream = futures::stream::iter(
                std::iter::repeat_n(chunk, 1024).map(Ok::<_, std::io::Error>),
            );
            (StatusCode::OK, Body::from_stream(stream)).into_response()
        }
        FaultKind::Reset => {
            let stream = futures::stream::iter(vec![
                Ok(Bytes::from_static(b"{\"code\": 200, \"mess")),
                Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
            ]);
            (StatusCode::OK, Body::from_stream(stream)).into_response()
        }
    }
}
