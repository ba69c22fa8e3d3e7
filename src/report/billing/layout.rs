//! The billing report laid out for people: summary lines, the totals, per-period, per-code and
//! per-tier tables, and the chart.
//!
//! Policy: every table shows each class apart (unknown code and unresolved are never folded
//! into charged or uncharged); amounts are shown at the money scale of the prices (at least the
//! list's `scale`), and amount columns appear only when a price or a price list was given.

use rust_decimal::Decimal;

use super::{Billing, ListSummary, PeriodRow, account_layout};
use crate::money::Money;
use crate::report::render::{Chart, Document, Section, fraction};
use crate::report::{UNDATED, Window, percent};
use crate::setting::Setting;

fn charged_text(c: Option<bool>) -> String {
    match c {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "unknown".into(),
    }
}

/// Where the README defines each class (linked from every report).
pub(crate) const CLASSES_DOC: &str = "classes: see README, \"Check classes\"";

/// Lays the report out for people.
pub(crate) fn document(b: &Billing, window: &Window) -> Document {
    let with_price = b.price.is_some() || b.prices.is_some();
    // Under a list, amounts at its scale; a flat price's at the price's decimals.
    let money = b.prices.as_ref().map_or_else(
        || Money::unrounded(&b.currency).covering(b.price.iter()),
        |l| l.money(&b.currency),
    );
    let mut sections = vec![
        totals_section(b, with_price, &money),
        periods_section(b, with_price, &money),
        codes_section(b, with_price, &money),
    ];
    if let Some(l) = &b.prices {
        sections.push(tiers_section(b, l, &money));
    }
    sections.extend(account_layout::sections(b, with_price, &money));
    Document {
        title: "liveaudit billing report".into(),
        summary: summary_lines(b, window, &money),
        sections,
        charts: vec![chart(b)],
        json: money.to_json(b),
        money: with_price.then_some(money),
        flagged: vec![
            ("tiers", Setting::Prices, " FILE"),
            ("accounts", Setting::ByAccount, ""),
            ("account_periods", Setting::ByAccount, ""),
        ],
    }
}

/// The lines under the title: the window, undated checks, the prices and the account.
fn summary_lines(b: &Billing, window: &Window, money: &Money) -> Vec<String> {
    let mut summary = vec![window.describe()];
    summary.extend(account_layout::narrowed_line(b));
    summary.push(match b.basis.dated_by {
        "event" => format!(
            "{} checks have no event time: period {UNDATED}{}",
            b.basis.undated + b.basis.undated_outside_window,
            if b.basis.undated_outside_window > 0 {
                format!(
                    "; {} of them are outside {}/{} and not counted ({} \
                     event-or-fetch dates them by fetch time)",
                    b.basis.undated_outside_window,
                    Setting::From,
                    Setting::To,
                    Setting::DateBy
                )
            } else {
                String::new()
            }
        ),
        "event-or-fetch" => format!(
            "{} checks had no event time and were dated by fetch time; {} have no time at \
             all ({UNDATED})",
            b.basis.dated_by_fetch_time, b.basis.undated
        ),
        _ => format!("{} checks were never fetched ({UNDATED})", b.basis.undated),
    });
    if let Some(p) = b.price {
        summary.push(format!(
            "price per charged check: {} {}",
            money.show(p),
            b.currency
        ));
    }
    if let Some(l) = &b.prices {
        summary.push(if l.tiers.iter().any(|t| t.account.is_some()) {
            format!(
                "prices: {} ({}); each account is priced on its own: its list, its tiers \
                 counting its charged checks per calendar month, its total rounded by its \
                 list's rule; the report's total is their sum",
                l.source, b.currency
            )
        } else {
            format!(
                "prices: {} ({}, {}); tiers count charged checks per calendar month",
                l.source,
                b.currency,
                l.money(&b.currency).describe_rounding()
            )
        });
        let rows = b.periods.iter().map(|p| p.amount);
        if rows
            .chain(b.codes.iter().map(|c| c.amount))
            .flatten()
            .any(|a| money.rounds(a))
        {
            summary.push(format!(
                "amounts are shown at the list's {} decimals: each row is rounded from its exact \
                 sum (JSON holds it exactly), so the rows may add up to a little more or less \
                 than the total, which the list rounds once",
                money.scale
            ));
        }
        if l.billed_at_zero > 0 {
            summary.push(crate::prices::billed_at_zero_note(
                l.billed_at_zero,
                l.scale,
            ));
        }
        if l.unpriced > 0 {
            summary.push(format!(
                "{} charged checks have no price in the list (undated, or before its first \
                 period) and are in no amount",
                l.unpriced
            ));
        }
    }
    summary.push(CLASSES_DOC.into());
    summary
}

/// The totals: one row per class, and the amount.
fn totals_section(b: &Billing, with_price: bool, money: &Money) -> Section {
    let show = |d: Option<Decimal>| d.map(|d| money.show(d)).unwrap_or_default();
    let t = &b.totals.counts;
    let machine_headers = ["class", "checks", "share", "amount"];
    let mut totals = Section::new("Totals", &["", "checks", "share"])
        .keyed("totals")
        .with_machine(&machine_headers)
        .with_money(&["amount"]);
    let provisional = format!("  of which provisional ({})", crate::check::INTERNAL_ERROR);
    for (name, class, n) in [
        ("charged", "charged", t.charged),
        ("uncharged", "uncharged", t.uncharged),
        (provisional.as_str(), "provisional", t.provisional),
        (
            "unknown code (charge not known)",
            "unknown_code",
            t.unknown_code,
        ),
        (
            "unresolved (no final answer yet)",
            "unresolved",
            t.unresolved,
        ),
        ("all checks", "all", t.checks),
    ] {
        totals.row(vec![name.into(), n.to_string(), percent(n, t.checks)]);
        let amount = match class {
            "charged" | "all" => b.totals.amount,
            _ => with_price.then_some(Decimal::ZERO),
        };
        totals.machine_row(
            &machine_headers,
            vec![
                class.into(),
                n.to_string(),
                fraction((t.checks > 0).then(|| n as f64 / t.checks as f64)),
                show(amount),
            ],
        );
    }
    if with_price {
        totals.row(vec![
            "amount".into(),
            format!("{} {}", show(b.totals.amount), b.currency),
            String::new(),
        ]);
    }
    if t.provisional > 0 {
        totals.notes.push(format!(
            "Provisional checks are held at the vendor's internal error ({}): uncharged, and \
             `liveaudit fetch` asks again on its next run.",
            crate::check::INTERNAL_ERROR
        ));
    }
    if t.unknown_code > 0 {
        totals.notes.push(format!(
            "Unknown codes are not in the code table: add them with {} to decide whether they \
             are billed.",
            Setting::CodesFile
        ));
    }
    if t.unresolved > 0 {
        totals.notes.push(
            "Unresolved ids are pending or failed: run `liveaudit fetch` again on the same files."
                .into(),
        );
    }
    totals
}

/// One row per period.
fn periods_section(b: &Billing, with_price: bool, money: &Money) -> Section {
    let show = |d: Option<Decimal>| d.map(|d| money.show(d)).unwrap_or_default();
    let mut headers = vec![
        "period",
        "checks",
        "charged",
        "uncharged",
        "provisional",
        "unknown",
        "unresolved",
    ];
    if with_price {
        headers.push("amount");
    }
    // Machines read the class by its JSON name (`unknown_code`); people see `unknown`.
    let machine: Vec<&str> = headers
        .iter()
        .map(|h| if *h == "unknown" { "unknown_code" } else { h })
        .collect();
    let mut periods = Section::new("Per period", &headers)
        .keyed("periods")
        .with_machine(&machine)
        .with_money(&["amount"]);
    for p in &b.periods {
        let c = &p.counts;
        let mut row = vec![
            p.period.clone(),
            c.checks.to_string(),
            c.charged.to_string(),
            c.uncharged.to_string(),
            c.provisional.to_string(),
            c.unknown_code.to_string(),
            c.unresolved.to_string(),
        ];
        if with_price {
            row.push(show(p.amount));
        }
        periods.machine_row(&machine, row.clone());
        periods.row(row);
    }
    periods
}

/// One row per code.
fn codes_section(b: &Billing, with_price: bool, money: &Money) -> Section {
    let show = |d: Option<Decimal>| d.map(|d| money.show(d)).unwrap_or_default();
    let mut headers = vec!["code", "message", "category", "charged", "count"];
    if with_price {
        headers.push("amount");
    }
    let mut codes = Section::new("Per code", &headers)
        .keyed("codes")
        .with_money(&["amount"]);
    for c in &b.codes {
        let mut row = vec![
            c.code.to_string(),
            c.message.clone(),
            c.category.clone(),
            charged_text(c.charged),
            c.count.to_string(),
        ];
        if with_price {
            row.push(show(c.amount));
        }
        codes.row(row);
    }
    codes
}

/// One row per month, price period and rate (per account, when priced account by account).
fn tiers_section(b: &Billing, l: &ListSummary, money: &Money) -> Section {
    let per_account = l.tiers.iter().any(|t| t.account.is_some());
    let mut headers = vec!["month", "price_from", "rate", "price", "checks", "amount"];
    if per_account {
        headers.insert(0, "account");
    }
    let mut tiers = Section::new("Per tier", &headers)
        .keyed("tiers")
        // A unit price keeps its decimals (0.0355 under a 2-decimal list): not money-formatted.
        .with_money(&["amount"]);
    for r in &l.tiers {
        let mut row = vec![
            r.month.clone(),
            r.price_from.clone(),
            r.rate.clone(),
            money.show_price(r.price),
            r.checks.to_string(),
            money.show(r.amount),
        ];
        if per_account {
            row.insert(0, r.account.clone().unwrap_or_default());
        }
        tiers.row(row);
    }
    let total = b.totals.amount.unwrap_or_default();
    if l.rounding == crate::money::Rounding::Total && l.unrounded != total {
        tiers.notes.push(format!(
            "The lines add up to {} exactly; the total is rounded to {}.",
            l.unrounded.normalize(),
            money.show(total)
        ));
    }
    if per_account {
        tiers.notes.push(
            "Tiers count per account: each account's checks are priced by its own list and \
             monthly count."
                .into(),
        );
    }
    tiers
}

/// Charged vs uncharged per dated period.
fn chart(b: &Billing) -> Chart {
    let dated: Vec<&PeriodRow> = b.periods.iter().filter(|p| p.period != UNDATED).collect();
    Chart {
        title: "Charged vs uncharged per period".into(),
        share: None,
        labels: dated.iter().map(|p| p.period.clone()).collect(),
        series: vec![
            (
                "charged".into(),
                dated.iter().map(|p| p.counts.charged as f64).collect(),
                "#3b6fb6",
            ),
            (
                "uncharged".into(),
                dated.iter().map(|p| p.counts.uncharged as f64).collect(),
                "#9cc3e6",
            ),
            (
                "unknown code".into(),
                dated.iter().map(|p| p.counts.unknown_code as f64).collect(),
                "#e0a030",
            ),
            (
                "unresolved".into(),
                dated.iter().map(|p| p.counts.unresolved as f64).collect(),
                "#bbbbbb",
            ),
        ],
    }
}
