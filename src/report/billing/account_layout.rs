//! The `--by-account` tables of the billing report, and the line naming a narrowed account.
//!
//! Policy: one row per account (its totals) and one per account and period, each with the
//! account's label and partner code, so the CSV tables (`--table accounts`,
//! `--table account_periods`) are tidy and a workbook gets them as sheets. Every class is shown
//! apart, as in the other tables.

use rust_decimal::Decimal;

use super::{Billing, Counts};
use crate::money::Money;
use crate::report::accounts::AccountKey;
use crate::report::render::Section;

/// The summary line of a report narrowed to one account.
pub(super) fn narrowed_line(b: &Billing) -> Option<String> {
    b.account.as_ref().map(AccountKey::narrowed_line)
}

const COUNTS: [&str; 6] = [
    "checks",
    "charged",
    "uncharged",
    "provisional",
    "unknown_code",
    "unresolved",
];

fn count_cells(c: &Counts) -> Vec<String> {
    [
        c.checks,
        c.charged,
        c.uncharged,
        c.provisional,
        c.unknown_code,
        c.unresolved,
    ]
    .iter()
    .map(i64::to_string)
    .collect()
}

fn table(title: &str, key: &str, period: bool, with_price: bool) -> (Section, Vec<&'static str>) {
    let mut machine: Vec<&'static str> = vec!["account", "partner_code"];
    if period {
        machine.push("period");
    }
    machine.extend(COUNTS);
    if with_price {
        machine.push("amount");
    }
    let people: Vec<&str> = machine
        .iter()
        .map(|h| match *h {
            "partner_code" => "partner code",
            "unknown_code" => "unknown",
            h => h,
        })
        .collect();
    let section = Section::new(title, &people)
        .keyed(key)
        .with_machine(&machine)
        .with_money(&["amount"]);
    (section, machine)
}

fn add(
    section: &mut Section,
    machine: &[&str],
    key: &AccountKey,
    period: Option<&str>,
    counts: &Counts,
    amount: Option<String>,
) {
    let mut row = vec![key.account.clone(), key.partner_code.clone()];
    row.extend(period.map(str::to_string));
    row.extend(count_cells(counts));
    row.extend(amount);
    section.row(row.clone());
    section.machine_row(machine, row);
}

/// The per-account tables of a `--by-account` report (none without it).
pub(super) fn sections(b: &Billing, with_price: bool, money: &Money) -> Vec<Section> {
    let Some(accounts) = &b.accounts else {
        return Vec::new();
    };
    let show =
        |d: Option<Decimal>| with_price.then(|| d.map(|d| money.show(d)).unwrap_or_default());
    let (mut totals, machine) = table("Per account", "accounts", false, with_price);
    let (mut periods, period_machine) = table(
        "Per account and period",
        "account_periods",
        true,
        with_price,
    );
    for a in accounts {
        add(
            &mut totals,
            &machine,
            &a.key,
            None,
            &a.totals.counts,
            show(a.totals.amount),
        );
        for p in &a.periods {
            add(
                &mut periods,
                &period_machine,
                &a.key,
                Some(&p.period),
                &p.counts,
                show(p.amount),
            );
        }
    }
    if with_price && accounts.len() > 1 {
        totals.notes.push(
            "Each account is priced on its own (price tiers count per account); the report's \
             total is the sum of these amounts."
                .into(),
        );
    }
    vec![totals, periods]
}
