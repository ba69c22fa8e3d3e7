//! Price lists: what a contract charges per charged check, by date, monthly volume tier and code.
//!
//! A price list is a TOML file (`--prices FILE`, or `prices = "..."` in the config file):
//!
//! ```toml
//! currency = "USD"
//! rounding = "total"          # or "line"
//! scale = 2
//! [[period]]
//! from = "2026-01-01"
//! tiers = [ { up_to = 500, price = "0.035" }, { price = "0.030" } ]
//! codes = { 12250 = "0.010" }
//! ```
//!
//! Policy (the one pricing rule every report uses):
//! - Only checks `crate::check::classify` calls charged are priced; the list never decides
//!   what is billed.
//! - A period is in force from its `from` date (00:00 in the report's zone) until the next
//!   period's `from`. A check dated before the first period has no price: it is counted as
//!   unpriced, never given a guessed one, and does not count toward a tier. So is a check
//!   without a date (it has no month).
//! - Tiers count charged checks per calendar month in the report's zone, in time order (the
//!   time the report dates checks by; checks in the same instant in liveness-id order). The count
//!   starts at 1 on the month's first day and runs through the whole month, across a price
//!   change: a month spanning two periods keeps one running count, and each check is priced by
//!   the tiers of the period in force on its own day, at the tier its place in the month falls in.
//!   Tier `up_to = N` holds the month's checks number `previous up_to + 1` to `N`; the last tier
//!   has no `up_to` and holds the rest.
//! - Tiers count per account: each partner code is its own contract volume, so a report over
//!   several accounts prices each account's checks with its own count (and its own list, when
//!   the config file gives it one) and adds the amounts (`crate::report::billing`).
//! - A charged check whose code has a price under `codes` (of the period in force) is priced at
//!   that price and is outside the tiers: it neither takes a tier price nor counts toward one.
//! - Amounts are exact decimals. `rounding = "line"` rounds each check's price half-to-even at
//!   `scale` decimals before anything is added (the amount is then the sum of its lines);
//!   `rounding = "total"` adds exact prices and rounds only the report's total, half-to-even at
//!   `scale` (per-period and per-tier amounts stay exact). The rule itself is
//!   [`crate::money::Money`]'s; the list only reads it from the file.
//! - Prices are quoted decimal strings (`"0.035"`): a TOML float is refused because it is binary.
//!
//! This file holds the list's types and the period lookup; `parse.rs` reads and checks
//! the TOML file (and parses `--price`), `pricer.rs` keeps the running monthly count.

mod parse;
mod pricer;
#[cfg(test)]
mod tests;

pub(crate) use parse::{BadPrice, parse_price};
pub(crate) use pricer::Pricer;

use std::collections::BTreeMap;
use std::path::PathBuf;

use jiff::civil::Date;
use rust_decimal::Decimal;

use crate::money::Money;

/// A price list that cannot be used: the file and the key, and how to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum PriceError {
    /// The file cannot be read.
    #[error("cannot read the price list {path}: {source}")]
    Read {
        /// The price list file.
        path: PathBuf,
        /// Why it cannot be read.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("price list {path}: {message}")]
    Syntax {
        /// The price list file.
        path: PathBuf,
        /// The TOML parser's message, with the line and column.
        message: String,
    },
    /// A key is missing or holds a value the rules refuse.
    #[error("price list {path}: `{key}`: {message}")]
    Key {
        /// The price list file.
        path: PathBuf,
        /// The key's path, e.g. `period[0].tiers[1].up_to`.
        key: String,
        /// What is wrong and what to write instead.
        message: String,
    },
}

/// One volume tier of a period.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tier {
    /// The last place in the month this tier holds; `None` for the last tier.
    pub(crate) up_to: Option<u64>,
    /// The price per check in this tier.
    pub(crate) price: Decimal,
}

/// Prices in force from `from` until the next period.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PricePeriod {
    /// The first day the period's prices apply (in the report's zone).
    pub(crate) from: Date,
    /// The volume tiers, in `up_to` order; the last holds the rest of the month.
    pub(crate) tiers: Vec<Tier>,
    /// Per-code prices, outside the tiers.
    pub(crate) codes: BTreeMap<i64, Decimal>,
}

/// A whole price list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PriceList {
    /// The file the list was read from.
    pub(crate) source: PathBuf,
    /// Its currency, scale (0 to 10) and rounding rule.
    pub(crate) money: Money,
    /// In `from` order, no two on the same date.
    pub(crate) periods: Vec<PricePeriod>,
}

/// Which price of a period a piece was charged at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PriceRate {
    /// The tier at this index.
    Tier(usize),
    /// The per-code price of this code.
    Code(i64),
}

/// Checks charged at one price: the period (index), the rate and the unit price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Piece {
    /// The period's index in [`PriceList::periods`].
    pub(crate) period: usize,
    /// Which of the period's prices.
    pub(crate) rate: PriceRate,
    /// The unit price as the list gives it.
    pub(crate) price: Decimal,
    /// The unit price each check is charged at (rounded under `rounding = "line"`).
    pub(crate) unit: Decimal,
    /// Checks charged at it.
    pub(crate) count: i64,
}

impl Piece {
    /// The piece's amount: its unit price times its checks (exact; any rounding is in `unit`).
    pub(crate) fn amount(&self) -> Decimal {
        self.unit * Decimal::from(self.count)
    }

    /// A positive price rounded to 0 on each check (`rounding = "line"` at too small a scale):
    /// its checks are billed at 0.
    pub(crate) fn billed_at_zero(&self) -> bool {
        self.price > Decimal::ZERO && self.unit.is_zero()
    }
}

/// The note of every report whose price list bills `checks` charged checks at 0 by rounding
/// each check's price at `scale` decimals (billing and reconcile say it alike).
pub(crate) fn billed_at_zero_note(checks: i64, scale: u32) -> String {
    format!(
        "{checks} charged checks are billed at 0: rounding = \"line\" rounds their list price to 0 \
         at {scale} decimals on each check; rounding = \"total\" or a larger scale bills them"
    )
}

impl PriceList {
    /// The index of the period in force on `date`, if any.
    pub(crate) fn period_on(&self, date: Date) -> Option<usize> {
        self.periods.iter().rposition(|p| p.from <= date)
    }

    /// A label of a rate of period `period` (`1: up to 500`, `2: 501 and over`, `code 12250`).
    pub(crate) fn rate_label(&self, period: usize, rate: PriceRate) -> String {
        match rate {
            PriceRate::Code(c) => format!("code {c}"),
            PriceRate::Tier(t) => {
                let tiers = &self.periods[period].tiers;
                let floor = t.checked_sub(1).and_then(|p| tiers[p].up_to).unwrap_or(0) + 1;
                match tiers[t].up_to {
                    Some(n) => format!("{}: {floor} to {n}", t + 1),
                    None => format!("{}: {floor} and over", t + 1),
                }
            }
        }
    }
}
