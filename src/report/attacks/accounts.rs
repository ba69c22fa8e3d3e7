//! The attack report per account (`--by-account`) and the line naming a narrowed account.
//!
//! Policy: each account's group is the `--account` report of that account alone (one scan of
//! its checks under the same window and code table), so the groups' resolved checks and attacks
//! add up to the report's, period by period. The tables are tidy: one row per account and one
//! per account and period, each with the account's label and partner code.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{AttackOptions, Attacks, PeriodRow, compute, document, share};
use crate::codes::CodeTable;
use crate::report::accounts::AccountKey;
use crate::report::render::{Document, Section, fraction};
use crate::report::{ReportError, Window, percent};

/// One account's part of a `--by-account` attack report.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct AccountAttacks {
    #[serde(flatten)]
    pub key: AccountKey,
    pub resolved: i64,
    pub attacks: i64,
    pub attack_share: Option<f64>,
    /// Attacks per family.
    pub families: BTreeMap<String, i64>,
    pub periods: Vec<PeriodRow>,
}

/// The attack report of `window`, with each of `accounts` on its own when `by_account`.
pub(crate) fn compute_over(
    conn: &rusqlite::Connection,
    codes: &CodeTable,
    window: &Window,
    accounts: &[AccountKey],
    opts: &AttackOptions,
    by_account: bool,
) -> Result<Attacks, ReportError> {
    let mut total = compute(conn, codes, window, opts)?;
    if by_account {
        let groups = accounts
            .iter()
            .map(|key| {
                let narrowed = window.clone().for_account(Some(key.partner_code.clone()));
                let a = compute(conn, codes, &narrowed, opts)?;
                Ok(AccountAttacks {
                    key: key.clone(),
                    resolved: a.resolved,
                    attacks: a.attacks,
                    attack_share: share(a.attacks, a.resolved),
                    families: a
                        .families
                        .iter()
                        .map(|f| (f.family.clone(), f.attacks))
                        .collect(),
                    periods: a.periods,
                })
            })
            .collect::<Result<Vec<_>, ReportError>>()?;
        total.accounts = Some(groups);
    }
    Ok(total)
}

/// [`document`] with the narrowed account named and the per-account tables.
pub(crate) fn document_by_account(a: &Attacks, window: &Window) -> Document {
    let mut doc = document(a, window);
    if let Some(k) = &a.account {
        doc.summary.insert(1, k.narrowed_line());
    }
    if let Some(groups) = &a.accounts {
        let families: Vec<&str> = a.families.iter().map(|f| f.family.as_str()).collect();
        doc.sections.push(table(groups, &families, false));
        doc.sections.push(table(groups, &families, true));
    }
    doc
}

/// One row per account (or per account and period).
fn table(groups: &[AccountAttacks], families: &[&str], per_period: bool) -> Section {
    let mut machine = vec!["account", "partner_code"];
    if per_period {
        machine.push("period");
    }
    // Attacks over resolved checks: named as in the families and codes tables.
    machine.extend(["resolved", "attacks", "share_of_checks"]);
    machine.extend(families.iter().copied());
    let people: Vec<&str> = machine
        .iter()
        .map(|h| match *h {
            "partner_code" => "partner code",
            "share_of_checks" => "of checks",
            h => h,
        })
        .collect();
    let (title, key) = if per_period {
        ("Per account and period", "account_periods")
    } else {
        ("Per account", "accounts")
    };
    let mut section = Section::new(title, &people)
        .keyed(key)
        .with_machine(&machine);
    let mut add = |g: &AccountAttacks,
                   period: Option<&str>,
                   resolved: i64,
                   attacks: i64,
                   by: &BTreeMap<String, i64>| {
        let mut lead = vec![g.key.account.clone(), g.key.partner_code.clone()];
        lead.extend(period.map(str::to_string));
        lead.extend([resolved.to_string(), attacks.to_string()]);
        let counts = families
            .iter()
            .map(|f| by.get(*f).copied().unwrap_or(0).to_string());
        let mut people = lead.clone();
        people.push(percent(attacks, resolved));
        people.extend(counts.clone());
        let mut tidy = lead;
        tidy.push(fraction(share(attacks, resolved)));
        tidy.extend(counts);
        section.row(people);
        section.machine_row(&machine, tidy);
    };
    for g in groups {
        if per_period {
            for p in &g.periods {
                add(g, Some(&p.period), p.resolved, p.attacks, &p.by_family);
            }
        } else {
            add(g, None, g.resolved, g.attacks, &g.families);
        }
    }
    section
}
