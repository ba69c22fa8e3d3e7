//! Billing over several accounts: each account priced on its own, the total their sum, and the
//! `--by-account` groups.
//!
//! Policy: price tiers count per account (each partner code is its own contract volume), so a
//! report over several accounts under a price list prices each account with its own list and
//! its own monthly count, rounds each account's total under its list's rule, and adds them: the
//! total without `--by-account` equals the sum of the groups, and each group equals the
//! `--account` report of that account alone. Counts come from the one classification whatever
//! the grouping, so the groups' counts add up to the total's too. A flat `--price` (or no price)
//! gives the same amounts either way, so the total is then computed in one pass.

use rust_decimal::Decimal;
use serde::Serialize;

use super::{Billing, CodeRow, ListSummary, PeriodRow, Totals, from_quarter_hours, lead_in};
use crate::codes::CodeTable;
use crate::prices::PriceList;
use crate::report::accounts::AccountKey;
use crate::report::{ReportError, Window, load_quarter_hours, undated_outside, vendor_message};

/// What gives charged checks their amounts.
#[derive(Debug, Clone)]
pub(crate) enum Pricing {
    /// No price: counts only (the currency is still named in the JSON).
    Unpriced(String),
    /// `--price`: one flat price per charged check, in `--currency`.
    Flat(Decimal, String),
    /// A price list (its own currency).
    List(PriceList),
}

impl Pricing {
    fn is_list(&self) -> bool {
        matches!(self, Pricing::List(_))
    }
}

/// One account's part of a `--by-account` report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct AccountBilling {
    #[serde(flatten)]
    pub key: AccountKey,
    pub totals: Totals,
    pub periods: Vec<PeriodRow>,
    pub codes: Vec<CodeRow>,
    /// Its price list's summary and tiers, when priced by a list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<ListSummary>,
}

/// The billing report of the checks `window` holds (one account's when it is narrowed), priced
/// by one `pricing`.
pub(in crate::report) fn window_report(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    pricing: &Pricing,
) -> Result<Billing, ReportError> {
    let quarter_hours = load_quarter_hours(conn, window)?;
    crate::report::check_period_count(window, &quarter_hours)?;
    let undated = undated_outside(conn, window)?;
    // The first month's tiers count from its first day, before --from too.
    let lead = match pricing {
        Pricing::List(_) => lead_in(conn, window)?,
        _ => Vec::new(),
    };
    let mut report = from_quarter_hours(&quarter_hours, &lead, codes, window, pricing, undated);
    // Codes the table does not know still have the vendor's own message.
    for row in report.codes.iter_mut().filter(|r| r.message.is_empty()) {
        row.message = vendor_message(conn, row.code)?.unwrap_or_default();
    }
    Ok(report)
}

/// The billing report over `accounts` (each with its pricing; `fallback` prices a report with
/// no account at all), grouped per account when `by_account`: the billing report's one entry.
pub(crate) fn report(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    accounts: &[(AccountKey, Pricing)],
    fallback: &Pricing,
    by_account: bool,
) -> Result<Billing, ReportError> {
    let per_account = accounts.len() > 1 && accounts.iter().any(|(_, p)| p.is_list());
    let parts = if by_account || per_account {
        accounts
            .iter()
            .map(|(key, pricing)| {
                let narrowed = window.clone().for_account(Some(key.partner_code.clone()));
                Ok((key.clone(), window_report(conn, codes, &narrowed, pricing)?))
            })
            .collect::<Result<Vec<_>, ReportError>>()?
    } else {
        Vec::new()
    };
    let mut total = if per_account {
        let currency = match &accounts[0].1 {
            Pricing::List(l) => l.money.currency.clone(),
            Pricing::Flat(_, c) => c.clone(),
            Pricing::Unpriced(c) => c.clone(),
        };
        let counted = window_report(conn, codes, window, &Pricing::Unpriced(currency.clone()))?;
        merged(counted, &parts, currency)
    } else {
        let pricing = accounts.first().map_or(fallback, |(_, p)| p);
        window_report(conn, codes, window, pricing)?
    };
    if by_account {
        total.accounts = Some(
            parts
                .into_iter()
                .map(|(key, b)| AccountBilling {
                    key,
                    totals: b.totals,
                    periods: b.periods,
                    codes: b.codes,
                    prices: b.prices,
                })
                .collect(),
        );
    }
    Ok(total)
}

/// `total` (counted over every account, unpriced) with the amounts of its accounts' own
/// reports added up.
fn merged(mut total: Billing, parts: &[(AccountKey, Billing)], currency: String) -> Billing {
    let sum = |each: &dyn Fn(&Billing) -> Option<Decimal>| -> Decimal {
        parts.iter().filter_map(|(_, b)| each(b)).sum()
    };
    total.totals.amount = Some(sum(&|b| b.totals.amount));
    for p in &mut total.periods {
        p.amount = Some(sum(&|b| {
            b.periods
                .iter()
                .find(|q| q.period == p.period)
                .and_then(|q| q.amount)
        }));
    }
    for c in &mut total.codes {
        c.amount = Some(sum(&|b| {
            b.codes
                .iter()
                .find(|d| d.code == c.code)
                .and_then(|d| d.amount)
        }));
    }
    total.currency = currency;
    let lists: Vec<(&AccountKey, &ListSummary)> = parts
        .iter()
        .filter_map(|(k, b)| b.prices.as_ref().map(|l| (k, l)))
        .collect();
    if let Some((_, first)) = lists.first() {
        let mut sources: Vec<&str> = lists.iter().map(|(_, l)| l.source.as_str()).collect();
        sources.dedup();
        total.prices = Some(ListSummary {
            source: sources.join("; "),
            rounding: first.rounding,
            scale: lists
                .iter()
                .map(|(_, l)| l.scale)
                .max()
                .unwrap_or(first.scale),
            unpriced: lists.iter().map(|(_, l)| l.unpriced).sum(),
            unrounded: lists.iter().map(|(_, l)| l.unrounded).sum(),
            billed_at_zero: lists.iter().map(|(_, l)| l.billed_at_zero).sum(),
            tiers: lists
                .iter()
                .flat_map(|(k, l)| {
                    l.tiers.iter().cloned().map(|mut t| {
                        t.account = Some(k.account.clone());
                        t
                    })
                })
                .collect(),
        });
    }
    total
}
