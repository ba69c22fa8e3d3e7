//! The embedded stand-in vendor: both endpoints as the vendor's page documents them, with
//! deterministic outcomes and injectable misbehaviour, for tests, the demo and benchmarks.
//!
//! - [`MockOptions`]: credentials, latency, fault mix, rate limit, account stop, license faults.
//! - [`MockServer`]: a running instance on a socket; counts what it served.
//! - [`expected_code`]: the outcome the mock gives an id (a hash of the id), so tests can check
//!   every stored result without a fixture file.
//!
//! Faults are drawn per (id, attempt) from a hash, so a given run misbehaves the same way each
//! time for the same request sequence of one id. The outcomes are in `outcomes`, the fault
//! responses in `faults`, the license endpoint in `license`; this file holds the server, its
//! options, counters and the result handler.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::fetch::pace::Limiter;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Serialize;
use tokio::sync::watch;

mod faults;
mod license;
mod outcomes;

pub use faults::MixedFault;
use faults::fault_response;
pub use license::LicenseFault;
use license::license_handler;
pub use outcomes::{expected_code, stable_hash};
use outcomes::{message_for, pseudo_jpeg};

/// The path of the result endpoint, as the vendor serves it (TD's documentation).
pub const RESULT_PATH: &str = "/verification/kyc/sdk/liveness/result/v1";
/// The path of the license endpoint, as the vendor serves it.
pub const LICENSE_PATH: &str = "/verification/kyc/sdk/liveness/license/v1";

/// A kind of misbehaviour the mock can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// HTTP 500 with an HTML page, as a proxy in front of the vendor sends.
    Html500,
    /// HTTP 502 with nginx's "Bad Gateway" HTML page.
    Html502,
    /// Answers properly, but only after `--hang-ms` (a client with a shorter timeout gives up).
    Hang,
    /// HTTP 503 with an empty body.
    Empty503,
    /// HTTP 429 with `Retry-After: 1`.
    TooMany,
    /// HTTP 429 with `Retry-After` as an HTTP date one second ahead.
    TooManyDate,
    /// HTTP 200 with JSON cut off half way.
    Truncated,
    /// HTTP 200 with a body that is not JSON at all.
    NotJson,
    /// Accepts the request and never answers (the client must time out).
    Stall,
    /// Code 11350 this time only.
    Internal,
    /// A body far over any sane size cap (streamed, no Content-Length).
    Huge,
    /// The connection breaks in the middle of the body.
    Reset,
}

/// How the mock behaves.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// The partner code it accepts.
    pub partner_code: String,
    /// The partner key it accepts.
    pub partner_key: String,
    /// Fixed latency added to every answer.
    pub latency: Duration,
    /// Uniform extra latency in `0..jitter`, drawn per request.
    pub jitter: Duration,
    /// Share of requests (0..=1) that get one of `faults` instead of the real answer.
    pub fault_rate: f64,
    /// The kinds of fault injected, drawn evenly.
    pub faults: Vec<FaultKind>,
    /// Faults per id, each kind with its own share of ids, on their first attempts only
    /// (drawn from the id alone, so the same ids fail the same way on every run).
    pub fault_mix: Vec<MixedFault>,
    /// How long a [`FaultKind::Hang`] holds its answer.
    pub hang: Duration,
    /// Answer 429 above this many requests per second: at most this many accepted in any
    /// sliding second, and none more than `rate_burst` intervals (1/rate) ahead of an even pace.
    pub rate_limit: Option<u32>,
    /// Requests that may arrive back to back; `None`: a tenth of `rate_limit` (at least 1), so
    /// an evenly paced client below the limit is not refused for a few ms of network jitter.
    pub rate_burst: Option<u32>,
    /// After this many result calls, answer code 305 (daily maximum) to every call.
    pub stop_after: Option<u64>,
    /// Size of the face image in bytes (before base64); 0 leaves `image` out.
    pub image_bytes: usize,
    /// How the license endpoint misbehaves, if at all.
    pub license_fault: Option<LicenseFault>,
}

impl Default for MockOptions {
    fn default() -> Self {
        MockOptions {
            partner_code: "demo-partner".into(),
            partner_key: "demo-key".into(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            fault_rate: 0.0,
            faults: Vec::new(),
            fault_mix: Vec::new(),
            hang: Duration::from_secs(3),
            rate_limit: None,
            rate_burst: None,
            stop_after: None,
            image_bytes: 24 * 1024,
            license_fault: None,
        }
    }
}

/// What the mock has served so far.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MockStats {
    /// Every request to the result endpoint, good credentials or not.
    pub result_requests: u64,
    /// Every request to the license endpoint.
    pub license_requests: u64,
    /// Requests refused for credentials (403).
    pub refused: u64,
    /// Requests answered 429 by the mock's own rate limit.
    pub rate_limited: u64,
    /// Faults injected, by kind.
    pub faults: HashMap<String, u64>,
    /// Answers with a vendor code, by code.
    pub codes: HashMap<i64, u64>,
    /// Distinct ids asked for.
    pub distinct_ids: usize,
}

struct Shared {
    opts: MockOptions,
    limiter: Option<Limiter>,
    /// Requests accepted in the last second, oldest first (with `rate_limit`).
    accepted: Mutex<std::collections::VecDeque<std::time::Instant>>,
    result_requests: AtomicU64,
    license_requests: AtomicU64,
    refused: AtomicU64,
    rate_limited: AtomicU64,
    down: AtomicBool,
    per_id: Mutex<HashMap<String, u32>>,
    faults: Mutex<HashMap<String, u64>>,
    codes: Mutex<HashMap<i64, u64>>,
    served: watch::Sender<u64>,
    base_image: Vec<u8>,
}

/// A running mock vendor.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Shared {
    /// Whether a request is within `rate_limit` now (and counts against it).
    fn accept_within_limit(&self, limiter: &Limiter) -> bool {
        let Some(limit) = self.opts.rate_limit else {
            return true;
        };
        let now = std::time::Instant::now();
        let mut accepted = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        while accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            accepted.pop_front();
        }
        if accepted.len() >= limit as usize || !limiter.check() {
            return false;
        }
        accepted.push_back(now);
        true
    }
}

impl MockServer {
    /// Binds `listen` (port 0 for an ephemeral port) and serves in the background of the
    /// current tokio runtime.
    pub async fn start(opts: MockOptions, listen: SocketAddr) -> std::io::Result<MockServer> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let limiter = opts.rate_limit.and_then(|r| {
            let rate = std::num::NonZeroU32::new(r)?;
            let burst = opts.rate_burst.unwrap_or(r.div_ceil(10));
            let burst = std::num::NonZeroU32::new(burst.max(1))?;
            Some(Limiter::new(rate, burst))
        });
        let base_image = pseudo_jpeg(0x5eed, opts.image_bytes);
        let shared = Arc::new(Shared {
            opts,
            limiter,
            accepted: Mutex::new(std::collections::VecDeque::new()),
            result_requests: AtomicU64::new(0),
            license_requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            down: AtomicBool::new(false),
            per_id: Mutex::new(HashMap::new()),
            faults: Mutex::new(HashMap::new()),
            codes: Mutex::new(HashMap::new()),
            served: watch::channel(0).0,
            base_image,
        });
        let app = Router::new()
            .route(RESULT_PATH, post(result_handler))
            .route(LICENSE_PATH, post(license_handler))
            .route("/__mock/stats", get(stats_handler))
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(MockServer {
            addr,
            shared,
            shutdown: Some(tx),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The result endpoint's URL (without credentials).
    pub fn result_url(&self) -> String {
        format!("http://{}{RESULT_PATH}", self.addr)
    }

    /// The license endpoint's URL (without credentials).
    pub fn license_url(&self) -> String {
        format!("http://{}{LICENSE_PATH}", self.addr)
    }

    /// What it has seen and done so far.
    pub fn stats(&self) -> MockStats {
        self.shared.stats()
    }

    /// How many times the result endpoint was asked for `id`.
    pub fn requests_for(&self, id: &str) -> u32 {
        lock(&self.shared.per_id).get(id).copied().unwrap_or(0)
    }

    /// Every id asked for, with its request count.
    pub fn requests_by_id(&self) -> HashMap<String, u32> {
        lock(&self.shared.per_id).clone()
    }

    /// While down, every request is answered 503 with an empty body.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Resolves once the result endpoint has received at least `n` requests.
    pub async fn wait_for_requests(&self, n: u64) {
        let mut rx = self.shared.served.subscribe();
        let _ = rx.wait_for(|&served| served >= n).await;
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicked handler cannot leave these maps inconsistent (single inserts), so poison is moot.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn stats(&self) -> MockStats {
        MockStats {
            result_requests: self.result_requests.load(Ordering::SeqCst),
            license_requests: self.license_requests.load(Ordering::SeqCst),
            refused: self.refused.load(Ordering::SeqCst),
            rate_limited: self.rate_limited.load(Ordering::SeqCst),
            faults: lock(&self.faults).clone(),
            codes: lock(&self.codes).clone(),
            distinct_ids: lock(&self.per_id).len(),
        }
    }

    fn credentials_ok(&self, q: &HashMap<String, String>) -> bool {
        q.get("partner_code") == Some(&self.opts.partner_code)
            && q.get("partner_key") == Some(&self.opts.partner_key)
    }

    async fn delay(&self, salt: u64) {
        let jitter = self.opts.jitter.as_micros() as u64;
        let extra = if jitter > 0 {
            Duration::from_micros(salt % jitter)
        } else {
            Duration::ZERO
        };
        let total = self.opts.latency + extra;
        if !total.is_zero() {
            tokio::time::sleep(total).await;
        }
    }

    fn count_code(&self, code: i64) {
        *lock(&self.codes).entry(code).or_default() += 1;
    }
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response {
    (status, axum::Json(value)).into_response()
}

fn liveness_id_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match v.get("liveness_id")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn result_handler(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let n = s.result_requests.fetch_add(1, Ordering::SeqCst) + 1;
    let id = liveness_id_of(&body);
    let attempt = {
        let mut per_id = lock(&s.per_id);
        let key = id.clone().unwrap_or_default();
        let c = per_id.entry(key).or_default();
        *c += 1;
        *c
    };
    let response = if s.credentials_ok(&q) {
        answer_result(&s, n, id, attempt).await
    } else {
        s.refused.fetch_add(1, Ordering::SeqCst);
        refused()
    };
    s.served.send_modify(|v| *v += 1);
    response
}

async fn answer_result(s: &Shared, n: u64, id: Option<String>, attempt: u32) -> Response {
    if s.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "").into_response();
    }
    if let Some(limiter) = &s.limiter
        && !s.accept_within_limit(limiter)
    {
        s.rate_limited.fetch_add(1, Ordering::SeqCst);
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "rate limited").into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    let Some(id) = id else {
        s.count_code(11301);
        return json_response(
            StatusCode::OK,
            serde_json::json!({"code": 11301, "message": "liveness_id empty", "sequence_id": format!("{:020}", n)}),
        );
    };
    let h = stable_hash(id.as_bytes());
    let salt = stable_hash(format!("{id}#{attempt}").as_bytes());
    s.delay(salt >> 8).await;
    let drawn = faults::mixed_fault(&s.opts.fault_mix, h, attempt).or_else(|| {
        let hit = ((salt % 1_000_000) as f64) < s.opts.fault_rate * 1e6;
        (hit && !s.opts.faults.is_empty())
            .then(|| s.opts.faults[((salt >> 20) as usize) % s.opts.faults.len()])
    });
    if let Some(kind) = drawn {
        *lock(&s.faults).entry(format!("{kind:?}")).or_default() += 1;
        if kind == FaultKind::Hang {
            tokio::time::sleep(s.opts.hang).await;
        } else {
            return fault_response(kind, &id);
        }
    }
    let code = match s.opts.stop_after {
        Some(limit) if n > limit => 305,
        _ => expected_code(&id),
    };
    s.count_code(code);
    let sequence_id = format!(
        "{:020}",
        stable_hash(format!("seq:{id}").as_bytes()) % 10u64.pow(19)
    );
    let mut answer = serde_json::Map::new();
    // The vendor's own example sends the code as a string; do so for a share of answers.
    answer.insert(
        "code".into(),
        if h & 0b11 == 0 {
            serde_json::Value::String(code.to_string())
        } else {
            serde_json::Value::from(code)
        },
    );
    answer.insert("message".into(), message_for(code).into());
    answer.insert("sequence_id".into(), sequence_id.into());
    let resolved = code == 200 || (12202..=12299).contains(&code);
    if resolved {
        if s.opts.image_bytes > 0 {
            answer.insert("image".into(), face_for(s, &id, h, code).into());
        }
        if let Some(score) = score_for(h, code) {
            answer.insert("score".into(), score);
        }
    }
    json_response(StatusCode::OK, serde_json::Value::Object(answer))
}

/// The score of a resolved answer (id hash `h`): high for a success, low for an attack. The
/// lite SDK sends no score; a share of answers leave it out (`None`) or send null.
fn score_for(h: u64, code: i64) -> Option<serde_json::Value> {
    match (h >> 12) % 10 {
        0 => None,
        1 => Some(serde_json::Value::Null),
        _ => {
            let unit = ((h >> 24) % 10_000) as f64 / 10_000.0;
            let score = if code == 200 {
                0.8 + 0.2 * unit
            } else {
                0.45 * unit
            };
            Some(((score * 1e5).round() / 1e5).into())
        }
    }
}

/// The photo name of a planted reused face: ids `face-NAME-REST` all show the photo NAME
/// (whatever their codes, which stay [`expected_code`]'s), so a test can plant one face on ids
/// of the codes it chooses.
pub fn planted_face(id: &str) -> Option<&str> {
    let (name, _) = id.strip_prefix("face-")?.split_once('-')?;
    (!name.is_empty()).then_some(name)
}

/// The face for an id: unique per id, except that a few attack ids share one of three
/// "replayed" photos, so reports have repeated faces to find, and that every id
/// `face-NAME-...` shows the one photo of NAME (see [`planted_face`]).
fn face_for(s: &Shared, id: &str, h: u64, code: i64) -> String {
    let mut bytes = if let Some(name) = planted_face(id) {
        pseudo_jpeg(
            0xFACE_0000 ^ stable_hash(name.as_bytes()),
            s.opts.image_bytes,
        )
    } else if code != 200 && (h >> 40).is_multiple_of(20) {
        pseudo_jpeg(0xFACE + (h >> 50) % 3, s.opts.image_bytes)
    } else {
        let mut b = s.base_image.clone();
        // Vary the APP0 payload so every id's photo hashes differently.
        let tag = stable_hash(id.as_bytes()).to_le_bytes();
        let end = b.len().min(11 + tag.len());
        if end > 11 {
            b[11..end].copy_from_slice(&tag[..end - 11]);
        }
        b
    };
    bytes.truncate(s.opts.image_bytes.max(2));
    base64::engine::general_purpose::STANDARD.encode(&bytes)
}

fn refused() -> Response {
    json_response(
        StatusCode::FORBIDDEN,
        serde_json::json!({"code": 403, "message": "partner authentication failed"}),
    )
}

async fn stats_handler(State(s): State<Arc<Shared>>) -> Response {
    axum::Json(s.stats()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_cover_every_kind_with_a_realistic_mix() {
        let mut by_code: HashMap<i64, u32> = HashMap::new();
        for i in 0..20_000 {
            *by_code
                .entry(expected_code(&format!("lv-{i:08}")))
                .or_default() += 1;
        }
        for code in (12202..=12222).chain([200, 12250, 11350, 11340, 12299]) {
            assert!(
                by_code.get(&code).copied().unwrap_or(0) > 0,
                "{code} never drawn"
            );
        }
        let success = f64::from(by_code[&200]) / 20_000.0;
        assert!((0.68..0.77).contains(&success), "{success}");
        assert_eq!(expected_code("unknown-1"), 11340);
    }

    #[test]
    fn images_look_like_jpegs() {
        let j = pseudo_jpeg(7, 1000);
        assert_eq!(j.len(), 1000);
        assert_eq!(&j[..3], &[0xFF, 0xD8, 0xFF]);
        assert_eq!(&j[998..], &[0xFF, 0xD9]);
    }
}
