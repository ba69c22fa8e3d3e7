//! The outcomes of one request, as [`super::verdict_of_response`] decides them: what the fetcher
//! does next ([`Verdict`]), why a request gave no usable answer ([`Fault`]) and why a whole run
//! must stop on the vendor's word ([`VendorStop`]). Every text here displays without a URL or
//! the partner key.

use std::time::Duration;

use super::ResultAnswer;
use crate::check::INTERNAL_ERROR;
use crate::setting::Setting;

/// What the fetcher does next with one id after one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Store this answer; the id is resolved.
    Final(ResultAnswer),
    /// Try again after a back-off; `retry_after` is the vendor's own request, if it made one.
    Retry(Retryable),
    /// Mark the id failed now without further attempts in this run.
    GiveUp(Fault),
    /// Stop the whole run; the id stays pending.
    Stop(VendorStop),
}

/// A fault worth another attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Retryable {
    /// What went wrong with this attempt.
    pub fault: Fault,
    /// The wait the vendor asked for (`Retry-After`), already capped; `None` if it asked none.
    pub retry_after: Option<Duration>,
    /// Set for 11350: the answer to store if the fault persists past the last attempt.
    pub answer: Option<ResultAnswer>,
}

/// Why one request did not give a usable answer. Displays without any URL or secret.
///
/// A fault costs only its id an attempt (or, past the retries, marks it failed); unlike a
/// [`VendorStop`] it never stops the run by itself (the circuit breaker counts outage faults).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    /// An HTTP status that is not an answer: 408 and 5xx (retried), other 4xx (given up).
    #[error("HTTP {status}: {snippet}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the body, printable and without the key.
        snippet: String,
    },
    /// HTTP 429: the vendor asks us to slow down (a shared pause, not a retry used up).
    #[error("HTTP 429 rate limited")]
    RateLimited,
    /// No complete answer within the client's deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// No connection (refused, DNS, TLS): the reason, without the URL.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection broke during the exchange (reset, closed early): the reason, without the
    /// URL.
    #[error("connection failed: {0}")]
    Transport(String),
    /// A status that may carry an answer, with a body that is not the vendor's JSON.
    #[error("HTTP {status}, body not the vendor's JSON ({detail}): {snippet}")]
    Unparsable {
        /// The HTTP status.
        status: u16,
        /// What was wrong with the body.
        detail: String,
        /// The start of the body, printable and without the key.
        snippet: String,
    },
    /// A body above the client's cap: not read past it, and retried.
    #[error("HTTP {status}: answer larger than the {limit}-byte cap")]
    TooLarge {
        /// The HTTP status.
        status: u16,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The vendor answered its internal error code: asked again.
    #[error("vendor code {} (internal error)", INTERNAL_ERROR)]
    Internal,
    /// The endpoint's TLS certificate is not trusted (self-signed, another host's, expired, a
    /// private CA): the reason, without the URL. Asking again cannot help.
    #[error("the endpoint's TLS certificate is not trusted: {0}")]
    Untrusted(String),
}

impl Fault {
    /// A fault of the transport or the vendor's servers (not a rate limit, not an 11350): what
    /// the circuit breaker counts.
    pub fn is_outage(&self) -> bool {
        matches!(
            self,
            Fault::Status { .. }
                | Fault::Timeout(_)
                | Fault::Connect(_)
                | Fault::Transport(_)
                | Fault::Unparsable { .. }
        )
    }

    /// A short stable name for logs and the attempts table.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Status { .. } => "http_status",
            Fault::RateLimited => "rate_limited",
            Fault::Timeout(_) => "timeout",
            Fault::Connect(_) => "connect",
            Fault::Transport(_) => "transport",
            Fault::Unparsable { .. } => "unparsable",
            Fault::TooLarge { .. } => "too_large",
            Fault::Internal => "internal_11350",
            Fault::Untrusted(_) => "untrusted_certificate",
        }
    }
}

/// An answer of the vendor that stops the whole run (credentials refused, account stopped,
/// wrong endpoint).
///
/// It is the vendor's side of a run's stop: the fetcher wraps it in its `StopCause`, which
/// also covers stops of our own (an outage, an interrupt, the time budget, a write failure).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VendorStop {
    /// HTTP 401 or 403: the partner code or key is wrong for this endpoint.
    #[error(
        "the vendor refused the credentials (HTTP {status}); check the partner code and key \
         (the account's partner_code and partner_key_file, or TD_PARTNER_CODE, TD_PARTNER_KEY \
         or {partner_key_file_flag}) and the endpoint's region",
        partner_key_file_flag = Setting::PartnerKeyFile
    )]
    CredentialsRefused {
        /// 401 or 403.
        status: u16,
    },
    /// An account-level code (service not purchased, suspended or expired, no balance, daily
    /// volume reached, country not open).
    #[error(
        "the vendor stopped the account: code {code} ({message}); ids not yet fetched stay pending"
    )]
    Account {
        /// The account-level code.
        code: i64,
        /// The vendor's message, scrubbed of the key.
        message: String,
    },
    /// The endpoint is not the result API: a redirect, 404 or 405, or no URL at all.
    #[error(
        "the endpoint answered HTTP {status}{detail}; check {result_url_flag} / TD_RESULT_URL \
         (redirects are not followed: the partner key would travel to another address)",
        result_url_flag = Setting::ResultUrl
    )]
    Misconfigured {
        /// The HTTP status (0 when no URL is configured).
        status: u16,
        /// What the answer showed, to append to the status (may be empty).
        detail: String,
    },
    /// The endpoint's TLS certificate is not trusted: no request to it can be trusted either.
    #[error(
        "the endpoint's TLS certificate is not trusted ({detail}); check the host in \
         {result_url_flag} / TD_RESULT_URL (the vendor's own hosts present a publicly trusted \
         certificate). If your network re-signs TLS with your company's own certificate \
         authority, add that CA to the system's certificate store, or point SSL_CERT_FILE at \
         a PEM file holding it; nothing was sent",
        result_url_flag = Setting::ResultUrl
    )]
    Untrusted {
        /// Why, as TLS said it, without the URL.
        detail: String,
    },
    /// The URL answers like the license API.
    #[error(
        "this URL answers like the license API (its answer has license and expiry_timestamp); \
         set {result_url_flag} / TD_RESULT_URL to the result endpoint (.../liveness/result/v1); \
         nothing was stored",
        result_url_flag = Setting::ResultUrl
    )]
    LicenseApi,
}
