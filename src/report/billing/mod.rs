//! The billing report for finance: charged vs uncharged checks per period and per code.
//!
//! Policy: every check is counted in the one class [`crate::check::classify`] gives it. A check
//! with a code the table does not know is `unknown_code`, one without a final answer (pending,
//! failed) is `unresolved`: neither is ever folded into charged or uncharged, so
//! `checks = charged + uncharged + unknown_code + unresolved` always holds; `provisional`
//! (held at 11350, asked again next run) is the named part of `uncharged`. Money is
//! `rust_decimal` (count × price, exact), never binary floating point; JSON carries amounts as
//! decimal strings so no reader rounds them through a float.
//!
//! Amounts come from `--price` (one flat price per charged check) or a price list
//! ([`crate::prices`], whose module doc states the tier and period rule): then the report adds a
//! `tiers` table (month, price period, tier or per-code rate, unit price, checks, amount), and
//! charged checks the list cannot price (undated, or before its first period) are counted as
//! `unpriced` and left out of every amount, never given a guessed price. A month's tier count
//! starts on its first day even when `--from` starts later (the checks before `--from` are
//! counted, not shown). Per-code amounts split a tier edge that falls inside one quarter hour by
//! code order (the totals, periods and tiers do not depend on it).
//!
//! This file holds the report's structs and the counting; `listed.rs` prices charged checks
//! with a price list, `accounts.rs` prices a report over several accounts account by account
//! (tiers count per account) and groups it `--by-account`, `layout.rs` and `account_layout.rs`
//! lay the report out for people.

mod account_layout;
mod accounts;
mod layout;
mod listed;

#[cfg(test)]
pub(in crate::report) use accounts::window_report;
pub(crate) use accounts::{AccountBilling, Pricing, report};

pub(crate) use layout::{CLASSES_DOC, document};
use listed::{Listed, price_list};

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::{QuarterHour, ReportError, Window, period_labels, quarter_hour_label};
use crate::check::{Class, Status, classify};
use crate::codes::CodeTable;
use crate::money::{Money, Rounding};
use crate::prices::PriceList;

/// Counts of one period (or of all).
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct Counts {
    pub checks: i64,
    pub charged: i64,
    /// Includes `provisional`.
    pub uncharged: i64,
    /// Held at 11350: a part of `uncharged`, asked again by the next fetch.
    pub provisional: i64,
    pub unknown_code: i64,
    pub unresolved: i64,
}

impl Counts {
    /// Counts `n` checks of class `class`.
    pub(crate) fn add(&mut self, class: Class, n: i64) {
        self.checks += n;
        match class {
            Class::Charged => self.charged += n,
            Class::Uncharged => self.uncharged += n,
            Class::Provisional => {
                self.uncharged += n;
                self.provisional += n;
            }
            Class::UnknownCode => self.unknown_code += n,
            Class::Unresolved => self.unresolved += n,
        }
    }
}

/// Totals with their amount.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Totals {
    #[serde(flatten)]
    pub counts: Counts,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub amount: Option<Decimal>,
}

/// One period's row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct PeriodRow {
    pub period: String,
    #[serde(flatten)]
    pub counts: Counts,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub amount: Option<Decimal>,
}

/// One code's row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct CodeRow {
    pub code: i64,
    pub message: String,
    pub category: String,
    /// `true`, `false`, or `null` when unknown.
    pub charged: Option<bool>,
    pub count: i64,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub amount: Option<Decimal>,
}

/// How checks were dated.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Basis {
    pub time: &'static str,
    pub zone: String,
    pub by: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Checks with no event time in the input, dated by when they were fetched.
    pub dated_by_fetch_time: i64,
    /// `event`, `event-or-fetch` or `fetch` (`--date-by`).
    pub dated_by: &'static str,
    /// Checks without a time under `dated_by`: the period `undated`, counted in the totals.
    pub undated: i64,
    /// Checks without a time left out because `--from`/`--to` bound the report.
    pub undated_outside_window: i64,
}

/// The whole billing report; its JSON form is the documented `--format json` output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct Billing {
    pub report: &'static str,
    pub basis: Basis,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::money::optional"
    )]
    pub price: Option<Decimal>,
    pub currency: String,
    /// The price list the amounts come from, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<ListSummary>,
    pub totals: Totals,
    pub periods: Vec<PeriodRow>,
    pub codes: Vec<CodeRow>,
    /// The account `--account` narrowed the report to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<crate::report::accounts::AccountKey>,
    /// Each account's own report (`--by-account`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<AccountBilling>>,
}

/// What a price list charged: its rule and one row per month, price period and rate.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ListSummary {
    pub source: String,
    pub rounding: Rounding,
    pub scale: u32,
    /// Charged checks the list gives no price (undated, or before its first period).
    pub unpriced: i64,
    /// The exact sum of the lines before the total is rounded.
    #[serde(serialize_with = "crate::money::exact")]
    pub unrounded: Decimal,
    /// Charged checks billed at 0 because `rounding = "line"` rounds their positive list price
    /// to 0 at the scale (said in the report, never hidden).
    pub billed_at_zero: i64,
    pub tiers: Vec<RateRow>,
}

impl ListSummary {
    /// The charged checks of `tiers` whose positive price was rounded to 0 on each check.
    pub(crate) fn zeroed(tiers: &[RateRow]) -> i64 {
        tiers
            .iter()
            .filter(|t| t.price > Decimal::ZERO && t.amount.is_zero())
            .map(|t| t.checks)
            .sum()
    }

    /// The list's money rule, in `currency`.
    pub(crate) fn money(&self, currency: &str) -> Money {
        Money::new(currency, self.scale, self.rounding)
    }
}

/// Checks of one month charged at one rate of one price period.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct RateRow {
    /// The account whose checks these are, in a report priced account by account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The calendar month in the report's zone (`2026-02`).
    pub month: String,
    /// The first day of the price period in force.
    pub price_from: String,
    /// `1: 1 to 500`, `2: 501 and over`, or `code 12250`.
    pub rate: String,
    /// The tier's number (1 is the first), or `None` for a per-code price.
    pub tier: Option<usize>,
    /// The per-code price's code.
    pub code: Option<i64>,
    #[serde(serialize_with = "crate::money::exact")]
    pub price: Decimal,
    pub checks: i64,
    #[serde(serialize_with = "crate::money::exact")]
    pub amount: Decimal,
}

/// Prices are parsed by the price-list module's one rule.
pub(crate) use crate::prices::parse_price;

/// The report from the aggregated quarter hours, its amounts from `pricing`: `lead_in` holds the
/// quarter hours of the window's first month before `--from` (a price list counts them toward
/// its tiers; they are not shown), `undated_outside_window` is [`super::undated_outside`].
pub(in crate::report) fn from_quarter_hours(
    quarter_hours: &[QuarterHour],
    lead_in: &[QuarterHour],
    codes: &CodeTable,
    window: &Window,
    pricing: &Pricing,
    undated_outside_window: i64,
) -> Billing {
    let (price, listed, currency) = match pricing {
        Pricing::Unpriced(currency) => (None, None, currency),
        Pricing::Flat(price, currency) => (Some(*price), None, currency),
        Pricing::List(list) => (
            None,
            Some(price_list(list, lead_in, quarter_hours, codes, window)),
            &list.money.currency,
        ),
    };
    let report = compute_with(
        quarter_hours,
        codes,
        window,
        price,
        listed,
        currency,
        undated_outside_window,
    );
    match pricing {
        Pricing::List(list) => report.rounded(list),
        _ => report,
    }
}

/// Checks counted by class (the billing report's classification, no amounts), for the metrics.
pub(crate) fn counts(quarter_hours: &[QuarterHour], codes: &CodeTable, window: &Window) -> Counts {
    tally(quarter_hours, codes, window).totals
}

/// The quarter hours of the window's first month before `--from` (empty when the window starts on a
/// month's first day or is open): a price list counts them toward that month's tiers.
pub(in crate::report) fn lead_in(
    conn: &rusqlite::Connection,
    window: &Window,
) -> Result<Vec<QuarterHour>, ReportError> {
    let Some(from) = window.from.filter(|f| f.day() > 1) else {
        return Ok(Vec::new());
    };
    let first = from.first_of_month().to_string();
    let before = from.yesterday().map_or(first.clone(), |d| d.to_string());
    let lead = Window::in_zone(window.zone.clone(), window.by, Some(&first), Some(&before))?
        .dated_by(window.date_by)
        .for_account(window.account.clone());
    super::load_quarter_hours(conn, &lead)
}

impl Billing {
    /// The total under the list's rounding rule.
    fn rounded(mut self, list: &PriceList) -> Billing {
        self.totals.amount = self.totals.amount.map(|a| list.money.total(a));
        self
    }
}

fn compute_with(
    quarter_hours: &[QuarterHour],
    codes: &CodeTable,
    window: &Window,
    price: Option<Decimal>,
    listed: Option<Listed>,
    currency: &str,
    undated_outside_window: i64,
) -> Billing {
    let flat = |charged: i64| price.map(|p| p * Decimal::from(charged));
    let priced = price.is_some() || listed.is_some();
    let zero = priced.then_some(Decimal::ZERO);
    let Tally {
        totals,
        by_period,
        by_code,
        fallback,
        undated,
    } = tally(quarter_hours, codes, window);
    let periods = period_labels(window, quarter_hours)
        .into_iter()
        .map(|label| {
            let counts = by_period.get(&label).copied().unwrap_or_default();
            PeriodRow {
                amount: match &listed {
                    Some(l) => Some(l.by_label.get(&label).copied().unwrap_or_default()),
                    None => flat(counts.charged),
                },
                period: label,
                counts,
            }
        })
        .collect();
    let codes_rows = by_code
        .into_iter()
        .map(|(code, count)| {
            let info = codes.get(code);
            let charged = classify(Status::Done, Some(code), codes).charged();
            CodeRow {
                code,
                message: info.map_or_else(String::new, |i| i.message.clone()),
                category: codes.category(code).to_string(),
                charged,
                count,
                amount: match (&listed, charged) {
                    (Some(l), Some(true)) => {
                        Some(l.by_code.get(&code).copied().unwrap_or_default())
                    }
                    (None, Some(true)) => flat(count),
                    _ => zero,
                },
            }
        })
        .collect();
    Billing {
        report: "billing",
        basis: basis(window, fallback, undated, undated_outside_window),
        price,
        currency: currency.to_string(),
        totals: Totals {
            counts: totals,
            amount: match &listed {
                Some(l) => Some(l.sum),
                None => flat(totals.charged),
            },
        },
        prices: listed.map(|l| l.summary),
        periods,
        codes: codes_rows,
        account: None,
        accounts: None,
    }
}

/// How the report dated its checks, and how many it could not date.
fn basis(window: &Window, fallback: i64, undated: i64, undated_outside_window: i64) -> Basis {
    Basis {
        time: window.date_by.describe(),
        zone: window.zone.name.clone(),
        by: format!("{:?}", window.by).to_lowercase(),
        from: window.from.map(|d| d.to_string()),
        to: window.to.map(|d| d.to_string()),
        dated_by_fetch_time: fallback,
        dated_by: window.date_by.as_str(),
        undated,
        undated_outside_window,
    }
}

/// The quarter hours counted by class: in total, per period label and per final code, with
/// the checks dated by fetch time and the undated ones.
struct Tally {
    totals: Counts,
    by_period: BTreeMap<String, Counts>,
    by_code: BTreeMap<i64, i64>,
    fallback: i64,
    undated: i64,
}

fn tally(quarter_hours: &[QuarterHour], codes: &CodeTable, window: &Window) -> Tally {
    let mut t = Tally {
        totals: Counts::default(),
        by_period: BTreeMap::new(),
        by_code: BTreeMap::new(),
        fallback: 0,
        undated: 0,
    };
    for b in quarter_hours {
        let class = classify(b.status, b.code, codes);
        t.totals.add(class, b.count);
        t.by_period
            .entry(quarter_hour_label(window, b))
            .or_default()
            .add(class, b.count);
        if let (Some(code), Status::Done) = (b.code, b.status) {
            *t.by_code.entry(code).or_default() += b.count;
        }
        if b.start_ms.is_none() {
            t.undated += b.count;
        } else if b.fallback {
            t.fallback += b.count;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Period;

    fn quarter_hour(
        start_ms: Option<i64>,
        status: &str,
        code: Option<i64>,
        count: i64,
    ) -> QuarterHour {
        QuarterHour {
            start_ms,
            fallback: false,
            status: Status::from_db(status.as_bytes()),
            code,
            count,
        }
    }

    #[test]
    fn totals_add_up_and_money_is_exact() {
        let w = Window::new("UTC", Period::Day, None, None).unwrap();
        let day = Some(1_714_521_600_000);
        let quarter_hours = vec![
            quarter_hour(day, "done", Some(200), 1_000_000),
            quarter_hour(day, "done", Some(12207), 3),
            quarter_hour(day, "done", Some(11350), 5),
            quarter_hour(day, "done", Some(12299), 2),
            quarter_hour(None, "pending", None, 4),
            quarter_hour(day, "failed", None, 1),
        ];
        let price = parse_price("0.035").unwrap();
        let b = from_quarter_hours(
            &quarter_hours,
            &[],
            &CodeTable::shipped(),
            &w,
            &Pricing::Flat(price, "USD".into()),
            0,
        );
        let t = b.totals.counts;
        assert_eq!(
            (
                t.checks,
                t.charged,
                t.uncharged,
                t.unknown_code,
                t.unresolved
            ),
            (1_000_015, 1_000_003, 5, 2, 5)
        );
        // 1,000,003 × 0.035 = 35000.105 exactly (as f64 it is 35000.104999...).
        assert_eq!(b.totals.amount.unwrap().to_string(), "35000.105");
        let json = Money::unrounded("USD").to_json(&b);
        assert_eq!(json["totals"]["amount"], "35000.105");
        assert_eq!(json["totals"]["checks"], 1_000_015);
        assert_eq!(b.periods.len(), 2);
        assert_eq!(b.periods[1].period, "undated");
        assert_eq!(b.basis.undated, 4);
        let unknown = b.codes.iter().find(|c| c.code == 12299).unwrap();
        assert_eq!(unknown.charged, None);
        assert_eq!(json["codes"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn prices_must_be_plain_non_negative_decimals() {
        assert!(parse_price("-1").is_err());
        assert!(parse_price("abc").is_err());
        assert!(parse_price("1e3").is_err(), "not a plain decimal");
        assert!(
            parse_price("99999999999999999999999999").is_err(),
            "overflows amounts"
        );
        assert!(
            parse_price("0.0000000000001").is_err(),
            "more than 12 decimals"
        );
        assert_eq!(parse_price(" 0.50 ").unwrap().to_string(), "0.50");
    }
}
