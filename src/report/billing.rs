//! The billing report for finance: charged vs uncharged checks per period and per code.
//!
//! Policy: every check is counted in the one class [`crate::check::classify`] gives it. A check
//! with a code the table does not know is `unknown_code`, one without a final answer (pending,
//! failed) is `unresolved`: neither is ever folded into charged or uncharged, so
//! `checks = charged + uncharged + unknown_code + unresolved` always holds; `provisional`
//! (held at 11350, asked again next run) is the named part of `uncharged`. Money is
//! `rust_decimal` (count × price, exact), never binary floating point; JSON carries amounts as
//! decimal strings so no reader rounds them through a float.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;

use super::render::{Chart, Document, Section, fraction};
use super::{
    Bucket, MoneyScale, ReportError, UNDATED, Window, bucket_label, percent, period_labels,
};
use crate::check::{Class, Status, classify};
use crate::td::codes::CodeTable;

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
        serialize_with = "super::money::optional"
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
        serialize_with = "super::money::optional"
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
        serialize_with = "super::money::optional"
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
        serialize_with = "super::money::optional"
    )]
    pub price: Option<Decimal>,
    pub currency: String,
    pub totals: Totals,
    pub periods: Vec<PeriodRow>,
    pub codes: Vec<CodeRow>,
}

/// Parses a price: a non-negative plain decimal.
pub(crate) fn parse_price(text: &str) -> Result<Decimal, ReportError> {
    let t = text.trim();
    let d: Decimal = t
        .parse()
        .map_err(|_| ReportError::Price(text.to_string()))?;
    if d.is_sign_negative() {
        return Err(ReportError::Price(text.to_string()));
    }
    Ok(d)
}

/// Computes the report from the aggregated buckets; `undated_outside_window` is
/// [`super::undated_outside`].
pub(crate) fn compute(
    buckets: &[Bucket],
    codes: &CodeTable,
    window: &Window,
    price: Option<Decimal>,
    currency: &str,
    undated_outside_window: i64,
) -> Billing {
    let amount = |charged: i64| price.map(|p| p * Decimal::from(charged));
    let mut totals = Counts::default();
    let mut by_period: BTreeMap<String, Counts> = BTreeMap::new();
    let mut by_code: BTreeMap<i64, i64> = BTreeMap::new();
    let (mut fallback, mut undated) = (0, 0);
    for b in buckets {
        let class = classify(b.status, b.code, codes);
        totals.add(class, b.count);
        by_period
            .entry(bucket_label(window, b))
            .or_default()
            .add(class, b.count);
        if let (Some(code), Status::Done) = (b.code, b.status) {
            *by_code.entry(code).or_default() += b.count;
        }
        if b.start_ms.is_none() {
            undated += b.count;
        } else if b.fallback {
            fallback += b.count;
        }
    }
    let periods = period_labels(window, buckets)
        .into_iter()
        .map(|label| {
            let counts = by_period.get(&label).copied().unwrap_or_default();
            PeriodRow {
                period: label,
                amount: amount(counts.charged),
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
                amount: if charged == Some(true) {
                    amount(count)
                } else {
                    price.map(|_| Decimal::ZERO)
                },
            }
        })
        .collect();
    Billing {
        report: "billing",
        basis: Basis {
            time: window.date_by.describe(),
            zone: window.tz_name.clone(),
            by: format!("{:?}", window.by).to_lowercase(),
            from: window.from.map(|d| d.to_string()),
            to: window.to.map(|d| d.to_string()),
            dated_by_fetch_time: fallback,
            dated_by: window.date_by.as_str(),
            undated,
            undated_outside_window,
        },
        price,
        currency: currency.to_string(),
        totals: Totals {
            counts: totals,
            amount: amount(totals.charged),
        },
        periods,
        codes: codes_rows,
    }
}

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
    let with_price = b.price.is_some();
    let scale = MoneyScale::of(b.price, []);
    let show = |d: Option<Decimal>| d.map(|d| scale.show(d)).unwrap_or_default();
    let mut summary = vec![window.describe()];
    summary.push(match b.basis.dated_by {
        "event" => format!(
            "{} checks have no event time: period {UNDATED}{}",
            b.basis.undated + b.basis.undated_outside_window,
            if b.basis.undated_outside_window > 0 {
                format!(
                    "; {} of them are outside --from/--to and not counted (--date-by \
                     event-or-fetch dates them by fetch time)",
                    b.basis.undated_outside_window
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
            scale.show(p),
            b.currency
        ));
    }
    summary.push(CLASSES_DOC.into());

    let t = &b.totals.counts;
    let mut totals = Section::new("Totals", &["", "checks", "share"]).keyed("totals");
    let tidy_headers = ["class", "checks", "share", "amount"];
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
            _ => b.price.map(|_| Decimal::ZERO),
        };
        totals.tidy_row(
            &tidy_headers,
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
        totals.notes.push(
            "Unknown codes are not in the code table: add them with --codes-file to decide \
             whether they are billed."
                .into(),
        );
    }
    if t.unresolved > 0 {
        totals.notes.push(
            "Unresolved ids are pending or failed: run `liveaudit fetch` again on the same files."
                .into(),
        );
    }

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
    let mut periods = Section::new("Per period", &headers).keyed("periods");
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
        periods.row(row);
    }

    let mut headers = vec!["code", "message", "category", "charged", "count"];
    if with_price {
        headers.push("amount");
    }
    let mut codes = Section::new("Per code", &headers).keyed("codes");
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

    let dated: Vec<&PeriodRow> = b.periods.iter().filter(|p| p.period != UNDATED).collect();
    let chart = Chart {
        title: "Charged vs uncharged per period".into(),
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
    };
    Document {
        title: "liveaudit billing report".into(),
        summary,
        sections: vec![totals, periods, codes],
        charts: vec![chart],
        json: serde_json::to_value(b).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Period;

    fn bucket(start_ms: Option<i64>, status: &str, code: Option<i64>, count: i64) -> Bucket {
        Bucket {
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
        let buckets = vec![
            bucket(day, "done", Some(200), 1_000_000),
            bucket(day, "done", Some(12207), 3),
            bucket(day, "done", Some(11350), 5),
            bucket(day, "done", Some(12299), 2),
            bucket(None, "pending", None, 4),
            bucket(day, "failed", None, 1),
        ];
        let price = parse_price("0.035").unwrap();
        let b = compute(&buckets, &CodeTable::shipped(), &w, Some(price), "USD", 0);
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
        let json = serde_json::to_value(&b).unwrap();
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
        assert_eq!(parse_price(" 0.50 ").unwrap().to_string(), "0.50");
    }
}
