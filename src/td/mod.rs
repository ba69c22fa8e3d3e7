//! The TrustDecision API client: what the vendor answers and how we talk to it.
//!
//! - [`answer`]: parsing answers and classifying every outcome (final, retry, give up, stop).
//! - [`client`]: the HTTP client (rustls, capped bodies, separate timeouts, no key in errors).
//! - [`license`]: what the license API's expiry means (seconds or milliseconds, expired).
//!
//! The code table it reads answers with is the domain's, [`crate::codes`] (the dependency runs
//! from `td` to the table, never back).

pub mod answer;
pub mod client;
pub mod license;
