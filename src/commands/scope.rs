//! The accounts a report or reconcile spans, and the zone and prices each brings.
//!
//! Policy:
//! - `--account NAME` narrows to one account: a config file's `[accounts.NAME]` (or its partner
//!   code), else NAME taken as a partner code as recorded, so a database is readable without
//!   the file that fetched it (a NAME that is neither is refused, exit 2). `unknown`, the
//!   reserved code of checks recorded before accounts, is always accepted, as export accepts it:
//!   an empty report of it is a valid answer (every check adopted).
//!   Without it, the report spans every partner code the database holds.
//! - Zone: `--tz`, else each account's own (its section's `tz`, else the unnamed settings). A
//!   report spanning accounts whose zones differ is refused (exit 2, naming them) unless `--tz`
//!   is given: one report has one billing day.
//! - Prices: `--price` / `--prices` apply to every account; otherwise each account is priced by
//!   its own list (its section's `prices`, else the top-level one). A report spanning accounts
//!   whose lists use different currencies, or where some accounts have a list and others none,
//!   is refused (exit 2) unless `--account` narrows it to one account or a flag prices them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::report::ReportContext;
use crate::config::AccountRef;
use crate::failure::Failure;
use crate::prices::PriceList;
use crate::report::ReportError;
use crate::report::accounts::{AccountKey, partner_codes};
use crate::report::billing::{Pricing, parse_price};

/// The accounts of one report.
pub(crate) struct Scope {
    /// The accounts in the report, in partner-code order.
    pub accounts: Vec<AccountRef>,
    /// The one account `--account` narrowed the report to.
    pub narrowed: Option<AccountRef>,
    /// The report's zone.
    pub tz: String,
}

/// How a report names an account.
pub(crate) fn key(a: &AccountRef) -> AccountKey {
    AccountKey {
        account: a.label().to_string(),
        partner_code: a.partner_code.clone(),
    }
}

fn named(a: &AccountRef) -> String {
    match &a.name {
        Some(n) => format!("{n} ({})", a.partner_code),
        None => a.partner_code.clone(),
    }
}

impl Scope {
    /// The scope of a report with `--account` `account` and `--tz` `tz_flag`.
    pub(crate) fn resolve(
        ctx: &ReportContext,
        account: Option<&str>,
        tz_flag: Option<&str>,
    ) -> Result<Scope, Failure> {
        let layers = &ctx.layers;
        let recorded = partner_codes(&ctx.store.conn)?;
        let narrowed = account.map(|name| layers.account_ref(name));
        if let Some(AccountRef {
            name: Some(name),
            partner_code,
        }) = &narrowed
            && name != partner_code
            && recorded.contains(name)
        {
            crate::store::account::warn_name_shadows_code(name, partner_code);
        }
        let accounts = match &narrowed {
            Some(a)
                if a.name.is_none()
                    && a.partner_code != crate::check::UNKNOWN_ACCOUNT
                    && !recorded.contains(&a.partner_code) =>
            {
                return Err(unknown_account(ctx, &a.partner_code, &recorded));
            }
            Some(a) => vec![a.clone()],
            None => recorded
                .iter()
                .map(|code| layers.account_of_code(code))
                .collect(),
        };
        let tz = match tz_flag.filter(|t| !t.trim().is_empty()) {
            Some(flag) => flag.trim().to_string(),
            None => {
                let zones: BTreeMap<String, Vec<String>> =
                    accounts.iter().fold(BTreeMap::new(), |mut m, a| {
                        m.entry(layers.tz_of(a, None)).or_default().push(named(a));
                        m
                    });
                if zones.len() > 1 {
                    let list: Vec<String> = zones
                        .iter()
                        .map(|(zone, names)| format!("{} in {zone}", names.join(", ")))
                        .collect();
                    return Err(Failure::usage(anyhow!(
                        "the report spans accounts with different time zones ({}); pass --tz \
                         ZONE to choose one billing day, or --account NAME for one account{}",
                        list.join("; "),
                        adopt_hint(accounts.iter().map(|a| a.partner_code.as_str()))
                    )));
                }
                zones.into_keys().next().unwrap_or_else(|| layers.tz(None))
            }
        };
        Ok(Scope {
            accounts,
            narrowed,
            tz,
        })
    }

    /// The partner code the report's SQL is narrowed to.
    pub(crate) fn filter(&self) -> Option<String> {
        self.narrowed.as_ref().map(|a| a.partner_code.clone())
    }

    /// Each account's pricing, and the pricing of a report with no account at all. `price`,
    /// `prices` and `currency` are the flags.
    pub(crate) fn pricings(
        &self,
        ctx: &ReportContext,
        price: Option<&str>,
        prices: Option<&Path>,
        currency: &str,
    ) -> Result<(Vec<(AccountKey, Pricing)>, Pricing), Failure> {
        let flat = price
            .map(parse_price)
            .transpose()
            .map_err(ReportError::from)?;
        let mut loaded: BTreeMap<PathBuf, PriceList> = BTreeMap::new();
        let mut pricing_of = |path: Option<PathBuf>| -> Result<Pricing, Failure> {
            Ok(match (flat, path) {
                (Some(p), _) => Pricing::Flat(p, currency.to_string()),
                (None, Some(path)) => {
                    if !loaded.contains_key(&path) {
                        let list = PriceList::load(&path).map_err(Failure::usage)?;
                        loaded.insert(path.clone(), list);
                    }
                    Pricing::List(loaded[&path].clone())
                }
                (None, None) => Pricing::Unpriced(currency.to_string()),
            })
        };
        let layers = &ctx.layers;
        let each = self
            .accounts
            .iter()
            .map(|a| Ok((key(a), pricing_of(layers.prices_of(a, prices))?)))
            .collect::<Result<Vec<_>, Failure>>()?;
        check_currencies(&each)?;
        // Only a report with no account at all is priced by the settings in force.
        let fallback = match each.first() {
            Some((_, p)) => p.clone(),
            None => pricing_of(layers.prices(prices))?,
        };
        Ok((each, fallback))
    }
}

/// `--account NAME` naming neither a config account nor a recorded partner code: a typo, most
/// likely, so it is refused rather than answered with an empty report.
fn unknown_account(ctx: &ReportContext, name: &str, recorded: &[String]) -> Failure {
    let configured: Vec<String> = ctx
        .layers
        .accounts()
        .iter()
        .filter_map(|(a, _)| a.name.clone())
        .collect();
    let configured = if configured.is_empty() {
        "the config file names no account".to_string()
    } else {
        format!("the config file names {}", configured.join(", "))
    };
    let recorded = if recorded.is_empty() {
        "the database holds no checks".to_string()
    } else {
        format!("checks are recorded under {}", recorded.join(", "))
    };
    Failure::usage(anyhow!(
        "--account {name:?} is neither a config account nor a partner code of any check \
         ({configured}; {recorded}); pass one of those"
    ))
}

/// When the conflicting accounts include `unknown` (checks read before accounts were
/// recorded), how to give those checks to their account.
fn adopt_hint<'a>(mut codes: impl Iterator<Item = &'a str>) -> &'static str {
    if codes.any(|c| c == crate::check::UNKNOWN_ACCOUNT) {
        "; the checks of `unknown` were read before accounts were recorded: `liveaudit adopt \
         --account NAME` gives them to theirs"
    } else {
        ""
    }
}

/// A report over several accounts adds their amounts: one currency, and every account priced.
fn check_currencies(each: &[(AccountKey, Pricing)]) -> Result<(), Failure> {
    let listed: Vec<(&AccountKey, &PriceList)> = each
        .iter()
        .filter_map(|(k, p)| match p {
            Pricing::List(l) => Some((k, l)),
            _ => None,
        })
        .collect();
    let label = |k: &AccountKey| {
        if k.account == k.partner_code {
            k.account.clone()
        } else {
            format!("{} ({})", k.account, k.partner_code)
        }
    };
    if let Some((_, first)) = listed.first() {
        if listed.iter().any(|(_, l)| l.currency != first.currency) {
            let list: Vec<String> = listed
                .iter()
                .map(|(k, l)| format!("{} in {} ({})", label(k), l.currency, l.source.display()))
                .collect();
            return Err(Failure::usage(anyhow!(
                "the report spans accounts priced in different currencies ({}); narrow it to \
                 one account with --account NAME, or price every account with one --prices \
                 FILE{}",
                list.join("; "),
                adopt_hint(each.iter().map(|(k, _)| k.partner_code.as_str()))
            )));
        }
        let unpriced: Vec<String> = each
            .iter()
            .filter(|(_, p)| !matches!(p, Pricing::List(_)))
            .map(|(k, _)| label(k))
            .collect();
        if !unpriced.is_empty() {
            return Err(Failure::usage(anyhow!(
                "the report spans accounts with a price list and accounts without one ({}); \
                 give those a `prices` in their [accounts.NAME] section, price every account \
                 with --prices FILE or --price AMOUNT, or narrow the report with --account \
                 NAME{}",
                unpriced.join(", "),
                adopt_hint(each.iter().map(|(k, _)| k.partner_code.as_str()))
            )));
        }
    }
    Ok(())
}
