//! The HTTP client for the vendor's two endpoints.
//!
//! Policy: one request is one attempt; retrying is the fetch pipeline's business. This module
//! sends, reads at most [`ClientOptions::max_body`] bytes (a body above [`SMALL_BODY`] first
//! takes a share of [`ClientOptions::body_budget`], common to all requests, so memory stays
//! bounded at any concurrency), and hands status and body to
//! [`super::answer::verdict_of_response`]. Redirects are never followed (a
//! redirect would carry the partner key to another address). Every transport error passes
//! through `transport_fault`, the single point where reqwest's URL (which holds the key) is
//! stripped and any remaining trace of the key is redacted; vendor bodies are scrubbed where
//! they are parsed ([`super::answer`]).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use url::Url;

use super::answer::{
    Fault, LicenseAnswer, Retryable, VendorStop, Verdict, parse_license, parse_retry_after,
    snippet, verdict_of_response,
};
use crate::codes::CodeTable;
use crate::config::VendorSettings;

/// Timeouts and limits of the HTTP client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request deadline (connect, send, read the full body).
    pub timeout: Duration,
    /// Deadline for establishing a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest silence while reading an answer.
    pub read_timeout: Duration,
    /// The largest body read; a face image of a few MB is normal, tens of MB is not.
    pub max_body: usize,
    /// Most idle connections kept per host (the fetcher sets it to its concurrency).
    pub pool_max_idle: usize,
    /// Bytes of answer bodies buffered at once over all requests, beyond the
    /// [`SMALL_BODY`] each request may always hold: a body larger than that waits for a share
    /// of this budget (at least one body of `max_body` is always let through).
    pub body_budget: usize,
}

/// The part of an answer any request may buffer without waiting for the shared budget: a
/// normal answer with its face image fits.
pub const SMALL_BODY: usize = 256 * 1024;

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(20),
            max_body: 16 * 1024 * 1024,
            pool_max_idle: 64,
            body_budget: 32 * 1024 * 1024,
        }
    }
}

/// Errors of one-shot calls (the license command); they never contain a URL or the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VendorError {
    /// An answer that would stop a fetch (credentials, account, wrong endpoint).
    #[error("{0}")]
    Stopped(VendorStop),
    /// No usable answer.
    #[error("the vendor could not be reached or answered badly: {0}")]
    Fault(Fault),
    /// A well-formed answer with a code other than success.
    #[error("the vendor answered code {code}: {message}")]
    Code {
        /// The vendor's code.
        code: i64,
        /// The vendor's message, scrubbed of the key.
        message: String,
    },
    /// The HTTP client could not be built (TLS setup): the reason.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// One attempt's outcome with what the attempts log records about it.
#[derive(Debug)]
pub struct Attempt {
    /// What the fetcher does next with the id.
    pub verdict: Verdict,
    /// The HTTP status; `None` when no answer came (timeout, refused connection, reset).
    pub http_status: Option<u16>,
    /// From sending the request to the end of its body (or the failure).
    pub latency: Duration,
}

/// A client bound to one account's credentials and endpoints.
pub struct VendorClient {
    http: reqwest::Client,
    result_url: Option<Url>,
    license_url: Option<Url>,
    options: ClientOptions,
    /// Permits to buffer one large body each: `body_budget / max_body`, at least one.
    large_bodies: tokio::sync::Semaphore,
    /// Small answers still to see before requests stop taking a large-body permit before they
    /// are sent (see [`LARGE_MEMORY`]).
    large_seen: std::sync::atomic::AtomicU32,
}

/// After a large answer, this many following answers must be small before requests go back to
/// reading their bodies without a permit taken in advance. While large answers are the rule,
/// each request waits for its share of the budget before it is sent, outside its timeout, and
/// never in the middle of a body.
const LARGE_MEMORY: u32 = 64;

impl std::fmt::Debug for VendorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorClient").finish_non_exhaustive()
    }
}

impl VendorClient {
    /// A client for `settings`' account and endpoints. The partner key was registered with the
    /// scrubber when it became a `Secret`, so no text this client hands out can carry it.
    pub fn new(settings: &VendorSettings, options: ClientOptions) -> Result<Self, VendorError> {
        let mut builder = reqwest::Client::builder();
        // A plain-http endpoint (allowed only on loopback) never goes through a proxy from
        // `http_proxy`/`ALL_PROXY`: a proxy of plain HTTP is sent the whole URL, key included,
        // and off this machine. An https endpoint may: through a proxy it is a CONNECT tunnel,
        // and the proxy sees the host and port only.
        let endpoints = || {
            [&settings.result_url, &settings.license_url]
                .into_iter()
                .flatten()
        };
        let plain = endpoints().any(|url| url.scheme() == "http");
        if plain {
            builder = builder.no_proxy();
        }
        // Certificates are trusted if a public CA signed them (the vendor's hosts), or a CA in
        // the system's store or in `SSL_CERT_FILE`/`SSL_CERT_DIR` (a company's own CA, as a
        // TLS-inspecting proxy re-signs with). Only a client that may speak TLS reads that store.
        let tls = endpoints().any(|url| url.scheme() == "https");
        builder = builder.tls_built_in_native_certs(tls);
        let http = builder
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none())
            // Every request on the wire is one of ours, in the attempts log: reqwest's own
            // re-sends (of HTTP/2 refused streams, by default) are off, and so is the copy of
            // every request it keeps for them. Retries are the fetcher's, paced and counted.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout.min(options.timeout))
            // A body that stops arriving is caught without waiting for the whole deadline.
            .read_timeout(options.read_timeout.min(options.timeout))
            .pool_max_idle_per_host(options.pool_max_idle)
            .tcp_nodelay(true)
            .user_agent(concat!("liveaudit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| VendorError::Client(e.without_url().to_string()))?;
        // Every text this client hands out is scrubbed of the key: it was registered with the
        // scrubber when it became a `Secret`.
        let with_credentials = |url: &Url| {
            let mut url = url.clone();
            url.query_pairs_mut()
                .append_pair("partner_code", &settings.partner_code)
                .append_pair("partner_key", settings.partner_key.expose());
            url
        };
        Ok(VendorClient {
            http,
            result_url: settings.result_url.as_ref().map(with_credentials),
            license_url: settings.license_url.as_ref().map(with_credentials),
            large_bodies: tokio::sync::Semaphore::new(
                (options.body_budget / options.max_body.max(1)).max(1),
            ),
            large_seen: std::sync::atomic::AtomicU32::new(0),
            options,
        })
    }

    /// Asks for one liveness id's result. Never fails: every outcome is a [`Verdict`].
    pub async fn fetch_result(&self, liveness_id: &str, codes: &CodeTable) -> Attempt {
        let started = Instant::now();
        let Some(url) = &self.result_url else {
            return Attempt {
                verdict: Verdict::Stop(VendorStop::Misconfigured {
                    status: 0,
                    detail: " (no result URL configured)".into(),
                }),
                http_status: None,
                latency: started.elapsed(),
            };
        };
        let body = serde_json::json!({ "liveness_id": liveness_id });
        let (http_status, verdict) = match self.exchange(url, &body).await {
            Ok((status, retry_after, body)) => (
                Some(status),
                verdict_of_response(status, retry_after, &body.bytes, codes),
            ),
            Err((status, Fault::Untrusted(detail))) => {
                (status, Verdict::Stop(VendorStop::Untrusted { detail }))
            }
            Err((status, fault)) => (
                status,
                Verdict::Retry(Retryable {
                    fault,
                    retry_after: None,
                    answer: None,
                }),
            ),
        };
        Attempt {
            verdict,
            http_status,
            latency: started.elapsed(),
        }
    }

    /// Retrieves a license valid for `duration_secs`.
    pub async fn license(&self, duration_secs: u32) -> Result<LicenseAnswer, VendorError> {
        let Some(url) = &self.license_url else {
            return Err(VendorError::Stopped(VendorStop::Misconfigured {
                status: 0,
                detail: " (no license URL configured)".into(),
            }));
        };
        let body = serde_json::json!({ "session_duration": duration_secs });
        let (status, retry_after, body) =
            self.exchange(url, &body)
                .await
                .map_err(|(_, fault)| match fault {
                    Fault::Untrusted(detail) => {
                        VendorError::Stopped(VendorStop::Untrusted { detail })
                    }
                    fault => VendorError::Fault(fault),
                })?;
        match status {
            401 | 403 => {
                return Err(VendorError::Stopped(VendorStop::CredentialsRefused {
                    status,
                }));
            }
            300..=399 | 404 | 405 => {
                return Err(VendorError::Stopped(VendorStop::Misconfigured {
                    status,
                    detail: String::new(),
                }));
            }
            429 => return Err(VendorError::Fault(Fault::RateLimited)),
            // Only HTTP 200 carries an answer, as on the result path: a 500 or a 410 with a
            // license-shaped body is a fault (an error page, a proxy), never a license.
            200 => {}
            _ => {
                return Err(VendorError::Fault(Fault::Status {
                    status,
                    snippet: snippet(&body.bytes),
                }));
            }
        }
        let _ = retry_after;
        let bytes = body.bytes;
        let answer = parse_license(&bytes).map_err(|e| {
            VendorError::Fault(Fault::Unparsable {
                status,
                detail: e.to_string(),
                snippet: snippet(&bytes),
            })
        })?;
        let codes = CodeTable::shipped();
        match codes.category(answer.code) {
            _ if answer.code == 200 => Ok(answer),
            crate::codes::Category::Account => Err(VendorError::Stopped(VendorStop::Account {
                code: answer.code,
                message: answer.message,
            })),
            _ => Err(VendorError::Code {
                code: answer.code,
                message: answer.message,
            }),
        }
    }

    /// Sends one POST and reads the capped body. Errors carry the status when one was received.
    async fn exchange(
        &self,
        url: &Url,
        body: &serde_json::Value,
    ) -> Result<(u16, Option<Duration>, Body<'_>), (Option<u16>, Fault)> {
        use std::sync::atomic::Ordering;
        let mut large = None;
        if self.large_seen.load(Ordering::Relaxed) > 0 {
            large = self.large_body_permit().await;
        }
        let mut response = self
            .http
            .post(url.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| (None, self.transport_fault(e)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, jiff::Timestamp::now().as_second()));
        let limit = self.options.max_body;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err((Some(status), Fault::TooLarge { status, limit }));
        }
        // An answer compressed without being asked (liveaudit sends no Accept-Encoding; a
        // proxy or CDN sometimes compresses anyway) is decompressed, under the same size cap.
        let gzipped = response
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let declared = response.content_length().map(|n| n as usize);
        if declared.is_some_and(|n| n > SMALL_BODY) && large.is_none() {
            large = self.large_body_permit().await;
        }
        let mut bytes = self
            .read_body(&mut response, status, declared, &mut large)
            .await?;
        if gzipped && bytes.starts_with(&[0x1f, 0x8b]) {
            bytes = gunzip(&bytes, limit, status).map_err(|fault| (Some(status), fault))?;
        }
        self.note_body_size(bytes.len());
        Ok((
            status,
            retry_after,
            Body {
                bytes,
                _large: large,
            },
        ))
    }

    /// Reads the body chunk by chunk, refusing it past `max_body` and taking a share of the
    /// body budget once it grows past [`SMALL_BODY`].
    async fn read_body<'a>(
        &'a self,
        response: &mut reqwest::Response,
        status: u16,
        declared: Option<usize>,
        large: &mut Option<tokio::sync::SemaphorePermit<'a>>,
    ) -> Result<Vec<u8>, (Option<u16>, Fault)> {
        let limit = self.options.max_body;
        let mut bytes = Vec::with_capacity(declared.unwrap_or(4096).min(SMALL_BODY));
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let needed = bytes.len() + chunk.len();
                    if needed > limit {
                        return Err((Some(status), Fault::TooLarge { status, limit }));
                    }
                    if needed > SMALL_BODY && large.is_none() {
                        *large = self.large_body_permit().await;
                    }
                    if needed > bytes.capacity() {
                        // Grow to the declared length at once, else by doubling up to the cap.
                        let want = declared
                            .filter(|&n| n >= needed)
                            .unwrap_or_else(|| needed.max(bytes.capacity() * 2))
                            .min(limit);
                        bytes.reserve_exact(want - bytes.len());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(bytes),
                Err(e) => return Err((Some(status), self.cut_short(e, status, &bytes))),
            }
        }
    }

    /// A body cut short: keep what came for the message, retry like a reset.
    fn cut_short(&self, e: reqwest::Error, status: u16, bytes: &[u8]) -> Fault {
        let fault = self.transport_fault(e);
        match fault {
            Fault::Timeout(_) => fault,
            _ if StatusCode::from_u16(status).is_ok_and(|s| s.is_success()) => Fault::Unparsable {
                status,
                detail: "body cut short".into(),
                snippet: snippet(bytes),
            },
            other => other,
        }
    }

    /// Remembers a large body for a while (the next answers take a budget share up front);
    /// each small one counts that memory down.
    fn note_body_size(&self, len: usize) {
        use std::sync::atomic::Ordering;
        if len > SMALL_BODY {
            self.large_seen.store(LARGE_MEMORY, Ordering::Relaxed);
        } else {
            let _ = self
                .large_seen
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    /// Waits for a share of the body budget.
    async fn large_body_permit(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so this always holds a permit.
        self.large_bodies.acquire().await.ok()
    }

    /// The one conversion point from reqwest errors: the URL (which holds the partner key) is
    /// removed, and the text is scrubbed of the key in case a lower layer quoted it.
    fn transport_fault(&self, err: reqwest::Error) -> Fault {
        let timeout = err.is_timeout();
        let connect = err.is_connect();
        let err = err.without_url();
        let text = crate::text::redact(&error_chain(&err)).into_owned();
        if untrusted_certificate(&err) {
            Fault::Untrusted(text)
        } else if timeout {
            Fault::Timeout(self.options.timeout)
        } else if connect {
            Fault::Connect(text)
        } else {
            Fault::Transport(text)
        }
    }
}

/// A buffered answer body and, when it is large, its share of the body budget (released when
/// the body is dropped, after it is classified).
struct Body<'a> {
    bytes: Vec<u8>,
    _large: Option<tokio::sync::SemaphorePermit<'a>>,
}

/// Decompresses a gzip body, refusing it once it grows past `limit` bytes (a small body may
/// decompress to gigabytes).
fn gunzip(bytes: &[u8], limit: usize, status: u16) -> Result<Vec<u8>, Fault> {
    use std::io::Read;
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(limit));
    let read = flate2::read::MultiGzDecoder::new(bytes)
        .take(limit as u64 + 1)
        .read_to_end(&mut out);
    match read {
        Ok(n) if n > limit => Err(Fault::TooLarge { status, limit }),
        Ok(_) => Ok(out),
        Err(e) => Err(Fault::Unparsable {
            status,
            detail: format!("a gzip body that does not decompress: {e}"),
            snippet: snippet(bytes),
        }),
    }
}

/// Whether TLS refused the certificate the endpoint presented. rustls's error sits in reqwest's
/// chain inside I/O errors (nested: an I/O error's `source` skips the error it wraps, so each is
/// opened with `get_ref`).
fn untrusted_certificate(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut pending = vec![err];
    while let Some(e) = pending.pop() {
        if matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        ) {
            return true;
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            pending.push(inner);
        }
        pending.extend(e.source());
    }
    false
}

/// An error and its sources on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
