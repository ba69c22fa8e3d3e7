//! The end-to-end tests, as one test binary (the crate is linked once): each module runs the
//! real `liveaudit` binary against the embedded mock vendor over loopback.

mod util;

mod accounts;
mod accounts_fetch;
mod architecture;
mod cli;
mod dispute;
mod finance;
mod fraud;
mod fuzz_answers;
mod hardening;
mod hostile;
mod inputs;
mod night_faults;
mod night_rules;
mod nightly;
mod nights;
mod prices;
mod reconcile;
mod reports;
mod streamed;
mod summary;
mod tls;
mod workbook;
mod zones;
