//! liveaudit: audit TrustDecision face-liveness results.
//!
//! Data flows one way: [`input`] reads id lists, `fetch` asks the vendor through [`td`] (the
//! TrustDecision API client) under the rate limit, [`store`] keeps every answer in SQLite, and
//! `report` / `export` read it back. A report never calls the vendor; the fetcher never formats
//! a table. The domain core (`check`, with the code table [`codes`]) defines what a check is
//! once. [`commands`] turns the parsed command line ([`cli`], `config`) into these calls and an
//! [`exit::ExitStatus`]. [`mock`] is the embedded stand-in vendor used by tests, the demo and
//! benchmarks.

#![warn(unreachable_pub)]

pub(crate) mod check;
pub mod cli;
#[warn(missing_docs)]
pub mod codes;
#[warn(missing_docs)]
pub mod commands;
pub(crate) mod config;
pub(crate) mod destination;
#[warn(missing_docs)]
pub mod exit;
pub(crate) mod export;
#[warn(missing_docs)]
pub mod faces;
#[warn(missing_docs)]
pub mod failure;
pub(crate) mod fetch;
#[warn(missing_docs)]
pub mod input;
pub(crate) mod metrics;
#[warn(missing_docs)]
pub mod mock;
pub(crate) mod money;
pub(crate) mod nightly;
pub(crate) mod output;
pub(crate) mod prices;
pub(crate) mod report;
pub(crate) mod run_summary;
pub(crate) mod schedule;
#[warn(missing_docs)]
pub mod setting;
pub(crate) mod small_file;
pub(crate) mod statement;
pub mod store;
#[warn(missing_docs)]
pub mod td;
#[warn(missing_docs)]
pub mod text;
pub(crate) mod timestamp;
pub(crate) mod zone;
