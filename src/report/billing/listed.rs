//! Amounts from a price list: the charged quarter hours of a billing report priced tier by tier.
//!
//! Policy (the rule itself is [`crate::prices`]'s): only checks classified charged are priced,
//! in time order (then code order within a quarter hour); the month's charged checks before
//! `--from` (the lead-in) count toward its tiers but are not shown; a charged check the list
//! cannot price (undated, or before its first period) is counted as `unpriced` and is in no
//! amount.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::{ListSummary, RateRow};
use crate::check::{Class, classify};
use crate::codes::CodeTable;
use crate::prices::{PriceList, PriceRate, Pricer};
use crate::report::{QuarterHour, Window, quarter_hour_label};

/// Amounts a price list gives the charged quarter hours of a report.
pub(super) struct Listed {
    pub(super) by_label: BTreeMap<String, Decimal>,
    pub(super) by_code: BTreeMap<i64, Decimal>,
    pub(super) sum: Decimal,
    pub(super) summary: ListSummary,
}

/// Prices the charged checks of `quarter_hours` with `list`, after feeding `lead_in` (the month's
/// charged checks before the window) to the tier count only.
pub(super) fn price_list(
    list: &PriceList,
    lead_in: &[QuarterHour],
    quarter_hours: &[QuarterHour],
    codes: &CodeTable,
    window: &Window,
) -> Listed {
    fn in_order<'b>(bs: &'b [QuarterHour], codes: &CodeTable) -> Vec<&'b QuarterHour> {
        let mut v: Vec<&QuarterHour> = bs
            .iter()
            .filter(|b| classify(b.status, b.code, codes) == Class::Charged)
            .collect();
        v.sort_by_key(|b| (b.start_ms, b.code));
        v
    }
    let mut pricer = Pricer::new(list, window.zone.tz.clone());
    for b in in_order(lead_in, codes) {
        if let Some(ms) = b.start_ms {
            pricer.charge(ms, b.code, b.count);
        }
    }
    let mut by_label: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut by_code: BTreeMap<i64, Decimal> = BTreeMap::new();
    let mut rates: BTreeMap<(String, usize, PriceRate), (Decimal, i64, Decimal)> = BTreeMap::new();
    let (mut sum, mut unpriced) = (Decimal::ZERO, 0);
    for b in in_order(quarter_hours, codes) {
        let pieces = b.start_ms.and_then(|ms| {
            let month = pricer
                .local_date(ms)
                .map(|d| format!("{:04}-{:02}", d.year(), d.month()));
            pricer.charge(ms, b.code, b.count).zip(month)
        });
        let Some((pieces, month)) = pieces else {
            unpriced += b.count;
            continue;
        };
        let label = quarter_hour_label(window, b);
        for piece in pieces {
            let amount = piece.amount();
            sum += amount;
            *by_label.entry(label.clone()).or_default() += amount;
            if let Some(code) = b.code {
                *by_code.entry(code).or_default() += amount;
            }
            let row = rates
                .entry((month.clone(), piece.period, piece.rate))
                .or_insert((piece.price, 0, Decimal::ZERO));
            row.1 += piece.count;
            row.2 += amount;
        }
    }
    let tiers = rate_rows(list, rates);
    Listed {
        by_label,
        by_code,
        sum,
        summary: ListSummary {
            source: list.source.display().to_string(),
            rounding: list.money.rounding,
            scale: list.money.scale,
            unpriced,
            unrounded: sum,
            billed_at_zero: ListSummary::zeroed(&tiers),
            tiers,
        },
    }
}

/// One row per month, price period and rate: its unit price, checks and amount.
fn rate_rows(
    list: &PriceList,
    rates: BTreeMap<(String, usize, PriceRate), (Decimal, i64, Decimal)>,
) -> Vec<RateRow> {
    rates
        .into_iter()
        .map(|((month, period, rate), (price, checks, amount))| RateRow {
            account: None,
            month,
            price_from: list.periods[period].from.to_string(),
            rate: list.rate_label(period, rate),
            tier: match rate {
                PriceRate::Tier(t) => Some(t + 1),
                PriceRate::Code(_) => None,
            },
            code: match rate {
                PriceRate::Code(c) => Some(c),
                PriceRate::Tier(_) => None,
            },
            price,
            checks,
            amount,
        })
        .collect()
}
