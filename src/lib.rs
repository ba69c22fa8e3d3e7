//! liveaudit: audit TrustDecision face-liveness results.
//!
//! Data flows one way: [`input`] reads id lists, [`fetch`] asks the vendor through [`td`] (the TrustDecision API client) under the rate
//! limit, [`store`] keeps every answer in SQLite, and [`report`] / [`export`] read it back. A
//! report never calls the vendor; the fetcher never formats a table. [`commands`] turns the parsed
//! command line ([`cli`], [`config`]) into these calls and an [`exit::ExitStatus`]. [`mock`] is
//! the embedded stand-in vendor used by tests, the demo and benchmarks.

pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
pub mod export;
pub mod faces;
pub mod failure;
pub mod fetch;
pub mod input;
pub mod metrics;
pub mod mock;
pub mod output;
pub mod report;
pub mod run_summary;
pub mod schedule;
pub mod statement;
pub mod store;
pub mod td;
pub mod text;
pub mod timestamp;
