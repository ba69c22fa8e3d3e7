//! The injected misbehaviour: the response for each [`FaultKind`] the mock can be asked to give.
//!
//! Policy: each fault imitates what a real vendor or the proxies in front of it send (an nginx
//! error page, an empty 503, a 429 with a delay or a date, a truncated or non-JSON body, a
//! stalled, huge or reset stream, an internal-error code), so the client's handling of each is
//! tested against the real shape. Which fault a request gets is decided by the caller, or by
//! [`mixed_fault`] for a `--fault-mix`: a share of ids per kind, failing their first attempts
//! only, so a benchmark's mix is the same on every run.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{FaultKind, json_response, stable_hash};
use crate::check::INTERNAL_ERROR;

/// One kind of a fault mix: `share` of ids (0..1) get it on their first `attempts` attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixedFault {
    /// The fault.
    pub kind: FaultKind,
    /// The share of ids (0..1) that get it.
    pub share: f64,
    /// How many of their first attempts get it.
    pub attempts: u32,
}

impl std::str::FromStr for MixedFault {
    type Err = String;

    /// `KIND=SHARE` or `KIND=SHAREx N` (e.g. `html502=0.03`, `empty503=0.01x2`).
    fn from_str(text: &str) -> Result<MixedFault, String> {
        use clap::ValueEnum as _;
        let usage = || format!("{text:?}: give KIND=SHARE or KIND=SHARExN, e.g. empty503=0.01x2");
        let (kind, rest) = text.split_once('=').ok_or_else(usage)?;
        let kind = FaultKind::from_str(kind.trim(), true).map_err(|e| format!("{text:?}: {e}"))?;
        let (share, attempts) = match rest.split_once('x') {
            Some((share, n)) => (share, n.trim().parse::<u32>().map_err(|_| usage())?),
            None => (rest, 1),
        };
        let share: f64 = share.trim().parse().map_err(|_| usage())?;
        if !(0.0..=1.0).contains(&share) || attempts == 0 {
            return Err(format!(
                "{text:?}: the share is between 0 and 1, the attempts at least 1"
            ));
        }
        Ok(MixedFault {
            kind,
            share,
            attempts,
        })
    }
}

/// The fault of a mix for an id (by its hash) at its `attempt`-th request, if any: the kinds
/// take consecutive bands of the id space, each as wide as its share.
pub(super) fn mixed_fault(mix: &[MixedFault], id_hash: u64, attempt: u32) -> Option<FaultKind> {
    let at = ((id_hash >> 24) % 1_000_000) as f64 / 1e6;
    let mut from = 0.0;
    for fault in mix {
        if at >= from && at < from + fault.share {
            return (attempt <= fault.attempts).then_some(fault.kind);
        }
        from += fault.share;
    }
    None
}

pub(super) fn fault_response(kind: FaultKind, id: &str) -> Response {
    match kind {
        FaultKind::Html500 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>500 Internal Server Error</title></head><body><center><h1>500 Internal Server Error</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response(),
        FaultKind::Html502 => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
        )
            .into_response(),
        // The caller holds the answer back; it is the real one.
        FaultKind::Hang => (StatusCode::OK, "").into_response(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_is_read_from_kind_share_and_attempts() {
        let f: MixedFault = "empty503=0.01x2".parse().unwrap();
        assert_eq!(
            f,
            MixedFault {
                kind: FaultKind::Empty503,
                share: 0.01,
                attempts: 2
            }
        );
        let f: MixedFault = "html502=0.03".parse().unwrap();
        assert_eq!((f.kind, f.attempts), (FaultKind::Html502, 1));
        for bad in [
            "html502",
            "html502=2",
            "nope=0.1",
            "hang=0.1x0",
            "hang=0.1xz",
        ] {
            assert!(bad.parse::<MixedFault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_takes_its_share_of_ids_on_first_attempts_only() {
        let mix: Vec<MixedFault> = [
            "html500=0.05",
            "html502=0.03",
            "empty503=0.01x2",
            "hang=0.006",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        let mut first = std::collections::HashMap::new();
        let (mut second, mut third) = (0, 0);
        let n = 100_000;
        for i in 0..n {
            let h = stable_hash(format!("b-{i:09}").as_bytes());
            if let Some(kind) = mixed_fault(&mix, h, 1) {
                *first.entry(kind).or_insert(0u32) += 1;
            }
            match mixed_fault(&mix, h, 2) {
                Some(FaultKind::Empty503) => second += 1,
                Some(other) => panic!("{other:?} on a second attempt"),
                None => {}
            }
            third += usize::from(mixed_fault(&mix, h, 3).is_some());
        }
        for f in &mix {
            let share = f64::from(first[&f.kind]) / f64::from(n);
            assert!(
                (share - f.share).abs() < f.share * 0.15,
                "{:?}: {share}",
                f.kind
            );
        }
        assert_eq!(second, first[&FaultKind::Empty503]);
        assert_eq!(third, 0);
    }
}
