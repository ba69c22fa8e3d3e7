//! What the vendor answered, and what the fetcher must do about it: the one place where every
//! outcome of a request is classified.
//!
//! Policy:
//! - Only an HTTP 200 whose body has the result API's shape (a `code`, none of the license
//!   API's `license` / `expiry_timestamp`) is an answer. Every other status is a fault, whatever
//!   its body says: a `410 {"code":200}` is never a charged success.
//! - Answers with `success`, `attack`, `error` 12250, `request_error` and codes the table does
//!   not know are [`Verdict::Final`]: store them, never ask again.
//! - 11350, HTTP 408/429/5xx, other 1xx/2xx, timeouts, resets and bodies that are not the
//!   documented JSON are [`Verdict::Retry`]: back off (honouring `Retry-After`, which never
//!   panics and is capped) and try again within the run.
//! - HTTP 401/403, account-level codes, and answers that show the configuration is wrong
//!   (redirects, 404/405, a proxy's 407, a license-shaped answer) are [`Verdict::Stop`]: the
//!   run ends at once, the id stays pending.
//! - Any other 4xx is [`Verdict::GiveUp`]: the id is marked failed now (asking again with the
//!   same body cannot help) and a later run tries it again.
//! - Vendor text (message, sequence id, error snippets) is scrubbed of the partner key here,
//!   where it enters the program ([`crate::text::redact`]).
//!
//! The vendor sends `code` as a number or as a string and may leave out `score` and `image`;
//! both parse to the same [`ResultAnswer`]. A secondary field of another type (a score `true`)
//! is dropped and named in [`ResultAnswer::dropped`]; the answer is kept.

use std::time::Duration;

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::check::INTERNAL_ERROR;
use crate::codes::{Category, CodeTable};

mod verdict;
pub use verdict::{Fault, Retryable, VendorStop, Verdict};

/// A parsed answer of the retrieve-result endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultAnswer {
    /// The result code (sent as a number or a string).
    pub code: i64,
    /// The vendor's message, scrubbed of the partner key.
    pub message: String,
    /// The vendor's id of the check, the key its statements may bill by.
    pub sequence_id: Option<String>,
    /// The liveness score, when the vendor sent a number.
    pub score: Option<f64>,
    /// The best face captured, when the answer carried one.
    pub face: Option<FaceImage>,
    /// Secondary fields of an unexpected type, dropped (the answer itself is kept): their names.
    pub dropped: Vec<&'static str>,
}

/// The best face the vendor captured. Only its digest and length are kept unless the user asks
/// for the image itself.
#[derive(Clone, PartialEq)]
pub struct FaceImage {
    /// Lower-case hex SHA-256 of the decoded bytes (of the raw text when it was not base64).
    pub sha256: String,
    /// Length in bytes of the decoded image (of the raw text when it was not base64).
    pub len: usize,
    /// The decoded bytes; `None` when the text was not valid base64.
    pub bytes: Option<Vec<u8>>,
}

impl std::fmt::Debug for FaceImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Biometric data never reaches a log line.
        f.debug_struct("FaceImage")
            .field("sha256", &self.sha256)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Standard base64 that accepts missing padding and trailing bits, as encoders in the wild emit.
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl FaceImage {
    fn from_base64(text: &str) -> FaceImage {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        match LENIENT_BASE64.decode(compact.as_bytes()) {
            Ok(bytes) => FaceImage {
                sha256: hex::encode(Sha256::digest(&bytes)),
                len: bytes.len(),
                bytes: Some(bytes),
            },
            Err(_) => FaceImage {
                sha256: hex::encode(Sha256::digest(text.as_bytes())),
                len: text.len(),
                bytes: None,
            },
        }
    }
}

/// A parsed answer of the retrieve-license endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseAnswer {
    /// The result code; 200 means a license was issued.
    pub code: i64,
    /// The vendor's message, scrubbed of the partner key.
    pub message: String,
    /// The vendor's id of the request.
    pub sequence_id: Option<String>,
    /// The license for the SDK, when one was issued.
    pub license: Option<String>,
    /// When the license expires, as the vendor sends it (Unix seconds, e.g. 1715667188).
    pub expiry_timestamp: Option<i64>,
}

/// Why a body could not be read as the documented JSON.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, or JSON without a readable `code`: what the parser said.
    #[error("{0}")]
    NotJson(String),
    /// The body has the license API's fields (`license`, `expiry_timestamp`).
    #[error("the body has the license API's fields")]
    LicenseShaped,
}

#[derive(Deserialize)]
struct RawResult {
    #[serde(deserialize_with = "code_number_or_string")]
    code: i64,
    #[serde(default)]
    message: Option<Loose>,
    /// Read raw: a numeric sequence id keeps every digit (see [`exact_text`]).
    #[serde(default)]
    sequence_id: Option<Box<RawValue>>,
    #[serde(default)]
    image: Option<Loose>,
    #[serde(default)]
    score: Option<Loose>,
    /// Fields only the license API sends: their presence means the URL is the license API's.
    #[serde(default)]
    license: Option<Loose>,
    #[serde(default)]
    expiry_timestamp: Option<Loose>,
}

#[derive(Deserialize)]
struct RawLicense {
    #[serde(deserialize_with = "code_number_or_string")]
    code: i64,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    sequence_id: Option<String>,
    #[serde(default)]
    license: Option<String>,
    #[serde(default, deserialize_with = "opt_i64_or_string")]
    expiry_timestamp: Option<i64>,
}

/// The body without a leading UTF-8 byte-order mark: some servers and proxies (Windows ones
/// above all) put one before JSON, which JSON itself does not allow; the answer is the same.
fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// Parses a retrieve-result body. A body with the license API's fields is
/// [`ParseError::LicenseShaped`]; secondary fields of an unexpected type (a score `true`, a
/// numeric message) are dropped and named in [`ResultAnswer::dropped`].
pub fn parse_result(body: &[u8]) -> Result<ResultAnswer, ParseError> {
    let raw: RawResult = serde_json::from_slice(without_bom(body))
        .map_err(|e| ParseError::NotJson(format!("not the vendor's JSON: {e}")))?;
    if raw.license.is_some() || raw.expiry_timestamp.is_some() {
        return Err(ParseError::LicenseShaped);
    }
    let mut dropped = Vec::new();
    let sequence_id = raw.sequence_id.and_then(|v| {
        let text = exact_text(&v);
        if text.is_none() {
            dropped.push("sequence_id");
        }
        text
    });
    let mut keep = |name: &'static str, value: Option<Loose>, want: fn(Loose) -> Option<Loose>| {
        value.and_then(|v| {
            let kept = want(v);
            if kept.is_none() {
                dropped.push(name);
            }
            kept
        })
    };
    let text_only = |v: Loose| matches!(v, Loose::Str(_)).then_some(v);
    let number = |v: Loose| match v {
        Loose::Str(s) => s.trim().parse().ok().map(Loose::Float),
        Loose::Int(i) => Some(Loose::Float(i as f64)),
        Loose::Float(f) => Some(Loose::Float(f)),
        Loose::Other => None,
    };
    let message = keep("message", raw.message, text_only).map(Loose::into_text);
    let image = keep("image", raw.image, text_only).map(Loose::into_text);
    let score = match keep("score", raw.score, number) {
        Some(Loose::Float(f)) if f.is_finite() => Some(f),
        Some(_) => {
            dropped.push("score");
            None
        }
        None => None,
    };
    // Vendor text is stored and printed: a server that echoes the request loses the key here.
    let redact = |s: String| crate::text::redact(&s).into_owned();
    Ok(ResultAnswer {
        code: raw.code,
        message: message.map(redact).unwrap_or_default(),
        sequence_id: sequence_id.map(redact).filter(|s| !s.is_empty()),
        score,
        face: image
            .filter(|s| !s.is_empty())
            .map(|s| FaceImage::from_base64(&s)),
        dropped,
    })
}

/// Any JSON value of a secondary field: a number or a string is kept, anything else is noted
/// as [`Loose::Other`] and skipped without buffering it. `null` is an absent field.
enum Loose {
    Int(i64),
    Float(f64),
    Str(String),
    Other,
}

impl Loose {
    fn into_text(self) -> String {
        match self {
            Loose::Str(s) => s,
            Loose::Int(i) => i.to_string(),
            Loose::Float(f) => f.to_string(),
            Loose::Other => String::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Loose;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Loose, E> {
                Ok(Loose::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Loose, E> {
                Ok(i64::try_from(v).map_or(Loose::Float(v as f64), Loose::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Loose, E> {
                Ok(Loose::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Loose, E> {
                Ok(Loose::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Loose, E> {
                Ok(Loose::Str(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Loose, E> {
                Ok(Loose::Other)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Loose, A::Error> {
                while a.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Loose, A::Error> {
                while a
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Parses a retrieve-license body.
pub fn parse_license(body: &[u8]) -> Result<LicenseAnswer, ParseError> {
    let raw: RawLicense = serde_json::from_slice(without_bom(body))
        .map_err(|e| ParseError::NotJson(format!("not the vendor's JSON: {e}")))?;
    let redact = |s: String| crate::text::redact(&s).into_owned();
    Ok(LicenseAnswer {
        code: raw.code,
        message: raw.message.map(redact).unwrap_or_default(),
        sequence_id: raw.sequence_id.map(redact).filter(|s| !s.is_empty()),
        license: raw.license.map(redact),
        expiry_timestamp: raw.expiry_timestamp,
    })
}

/// A JSON number or string. Hand-written rather than `#[serde(untagged)]`: untagged buffers
/// every value and builds an error for each variant it rules out, which showed up at ~3% of
/// the CPU of a fast fetch.
enum NumOrStr {
    Int(i64),
    Float(f64),
    Str(String),
}

impl<'de> Deserialize<'de> for NumOrStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = NumOrStr;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<NumOrStr, E> {
                Ok(NumOrStr::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<NumOrStr, E> {
                Ok(i64::try_from(v).map_or(NumOrStr::Float(v as f64), NumOrStr::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<NumOrStr, E> {
                Ok(NumOrStr::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<NumOrStr, E> {
                Ok(NumOrStr::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<NumOrStr, E> {
                Ok(NumOrStr::Str(v))
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn code_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match NumOrStr::deserialize(d)? {
        NumOrStr::Int(i) => Ok(i),
        NumOrStr::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(f as i64),
        NumOrStr::Str(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("code {s:?} is not a number"))),
        NumOrStr::Float(f) => Err(serde::de::Error::custom(format!("code {f} is not whole"))),
    }
}

fn opt_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Box<RawValue>>::deserialize(d)?.and_then(|raw| exact_text(&raw)))
}

/// An identifier as the vendor sent it: a string's text, or a number's literal exactly as
/// written. A sequence id is an identifier, not a quantity: the vendor's own example
/// `1679299854228726325924` is above any integer type, and read through a float it would be
/// stored as `1679299854228726300000` (another id, and a statement line that no longer matches).
/// Anything else (true, an object) is `None`.
fn exact_text(raw: &RawValue) -> Option<String> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Some(text.to_owned())
    } else {
        None
    }
}

fn opt_i64_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<NumOrStr>::deserialize(d)? {
        None => None,
        Some(NumOrStr::Int(i)) => Some(i),
        Some(NumOrStr::Float(f)) => Some(f as i64),
        Some(NumOrStr::Str(s)) => s.trim().parse().ok(),
    })
}

/// Classifies one HTTP exchange that produced a status and a body. Only an HTTP 200 with the
/// result API's shape can be an answer; every other status is a fault, whatever its body says.
pub fn verdict_of_response(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    codes: &CodeTable,
) -> Verdict {
    if let Some(verdict) = verdict_of_status(status, retry_after, body) {
        return verdict;
    }
    match parse_result(body) {
        Ok(answer) => verdict_of_answer(answer, codes),
        Err(ParseError::LicenseShaped) => Verdict::Stop(VendorStop::LicenseApi),
        Err(ParseError::NotJson(detail)) => Verdict::Retry(Retryable {
            fault: Fault::Unparsable {
                status,
                detail,
                snippet: snippet(body),
            },
            retry_after: None,
            answer: None,
        }),
    }
}

/// The verdict of a status other than 200, whatever the body says (`None` for a 200).
fn verdict_of_status(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Option<Verdict> {
    match status {
        200 => None,
        401 | 403 => Some(Verdict::Stop(VendorStop::CredentialsRefused { status })),
        429 => Some(Verdict::Retry(Retryable {
            fault: Fault::RateLimited,
            retry_after,
            answer: None,
        })),
        408 | 500..=599 => Some(Verdict::Retry(Retryable {
            fault: Fault::Status {
                status,
                snippet: snippet(body),
            },
            retry_after,
            answer: None,
        })),
        300..=399 => Some(Verdict::Stop(VendorStop::Misconfigured {
            status,
            detail: " (a redirect)".into(),
        })),
        404 | 405 => Some(Verdict::Stop(VendorStop::Misconfigured {
            status,
            detail: String::new(),
        })),
        // A proxy on the way wants its own credentials: no request will pass until it has them.
        407 => Some(Verdict::Stop(VendorStop::Misconfigured {
            status,
            detail: " from a proxy between liveaudit and the vendor, which asks for its own \
                         credentials: give them in the proxy variable \
                         (https_proxy=http://USER:PASSWORD@HOST:PORT) or exempt the vendor's \
                         host with NO_PROXY"
                .into(),
        })),
        400..=499 => Some(Verdict::GiveUp(Fault::Status {
            status,
            snippet: snippet(body),
        })),
        _ => {
            // 1xx, 2xx other than 200, and nonsense statuses: not an answer; try again.
            Some(Verdict::Retry(Retryable {
                fault: Fault::Unparsable {
                    status,
                    detail: "only HTTP 200 carries a result".into(),
                    snippet: snippet(body),
                },
                retry_after,
                answer: None,
            }))
        }
    }
}

/// Classifies a well-formed answer by its code.
pub fn verdict_of_answer(answer: ResultAnswer, codes: &CodeTable) -> Verdict {
    if answer.code == INTERNAL_ERROR {
        return Verdict::Retry(Retryable {
            fault: Fault::Internal,
            retry_after: None,
            answer: Some(answer),
        });
    }
    match codes.category(answer.code) {
        Category::Account => Verdict::Stop(VendorStop::Account {
            code: answer.code,
            message: answer.message,
        }),
        _ => Verdict::Final(answer),
    }
}

/// The first characters of a body, printable and without the partner key, for an error
/// message. The key is redacted before the cut, so a key straddling the cut cannot leave a
/// prefix behind.
pub fn snippet(body: &[u8]) -> String {
    const MAX: usize = 120;
    /// Enough to hold the cut plus the longest spelling of a key (4 KiB, tripled by encoding).
    const LOOK: usize = 16 * 1024;
    if body.is_empty() {
        return "(empty body)".into();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(LOOK)]);
    let text = crate::text::redact(&text);
    let mut s: String = text
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > MAX && text.chars().nth(MAX).is_some() || body.len() > LOOK {
        s.push('…');
    }
    s
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date relative to `now` (Unix
/// seconds). Values beyond a day are a day: the caller caps them further; no value panics.
pub fn parse_retry_after(value: &str, now_unix: i64) -> Option<Duration> {
    const DAY: u64 = 86_400;
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(DAY)));
    }
    if let Ok(secs) = value.parse::<f64>() {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        return Duration::try_from_secs_f64(secs.min(DAY as f64)).ok();
    }
    let when = jiff::fmt::rfc2822::parse(value).ok()?;
    let delta = when.timestamp().as_second().saturating_sub(now_unix);
    Some(Duration::from_secs((delta.max(0) as u64).min(DAY)))
}

#[cfg(test)]
mod tests;
