//! The TrustDecision API client: what the vendor answers and how we talk to it.
//!
//! - [`codes`]: the code table (category, family, charged) with user overrides.
//! - [`answer`]: parsing answers and classifying every outcome (final, retry, give up, stop).
//! - [`client`]: the HTTP client (rustls, capped bodies, separate timeouts, no key in errors).

pub mod answer;
pub mod client;
pub mod codes;
