//! The accounts a report, reconcile or export spans, and the zone and prices each brings.
//!
//! Policy:
//! - `--account NAME` narrows to one account ([`resolve_account`], for every command that
//!   takes it over the database): a config file's `[accounts.NAME]` (or its partner code), else
//!   NAME taken as a partner code as recorded, so a database is readable without the file that
//!   fetched it (an empty NAME, or one that is neither, is refused, exit 2). `unknown`, the
//!   reserved code of checks recorded before accounts, and the settings' own partner code
//!   (`--partner-code`, `TD_PARTNER_CODE`, the file's top-level `partner_code`) are always
//!   accepted: an empty report of them is a valid answer (every check adopted; a first, quiet
//!   night before any check). `adopt` accepts only a config file's name
//!   (history is given to a named account alone).
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

use super::accounts::{AccountKey, partner_codes};
use super::billing::{Pricing, parse_price};
use super::{ReportError, Window};
use crate::check::{DateBy, Period};
use crate::codes::CodeTable;
use crate::config::{AccountRef, Layers};
use crate::prices::{PriceError, PriceList};
use crate::setting::Setting;
use crate::store::account::describe;
use crate::store::{OpenMode, Store};
use crate::zone::Zone;

/// The database, the code table and the settings a report reads.
pub(crate) struct ReportContext {
    pub store: Store,
    pub codes: CodeTable,
    /// The settings, for each account's zone and prices ([`Scope`]).
    pub layers: Layers,
    /// A zone the caller fixed (`--tz`), beating every account's own.
    pub tz: Option<String>,
}

impl ReportContext {
    /// The context of a report over the database at `db` (else the one the settings name),
    /// opened for reading and migrated if older; `tz` is a zone the caller fixed.
    pub(crate) fn open(
        layers: Layers,
        codes: CodeTable,
        db: Option<&Path>,
        tz: Option<&str>,
    ) -> Result<ReportContext, crate::store::StoreError> {
        let store = Store::open(db.unwrap_or(&layers.db()), OpenMode::MigrateExisting)?;
        Ok(ReportContext {
            store,
            codes,
            layers,
            tz: tz.map(str::to_string),
        })
    }

    /// The scope of a report narrowed by `--account` `account`, in the zone of `--tz` `tz`,
    /// else the zone this context fixed, else the accounts' own ([`Scope::resolve`]).
    pub(crate) fn scope(
        &self,
        account: Option<&str>,
        tz: Option<&str>,
    ) -> Result<Scope, ScopeError> {
        Scope::resolve(self, account, tz.or(self.tz.as_deref()))
    }
}

/// The price flags of a report or reconcile, as given: `--price`, `--prices`, `--currency`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PriceFlags<'a> {
    pub price: Option<&'a str>,
    pub prices: Option<&'a Path>,
    pub currency: &'a str,
}

/// A scope the flags must narrow or fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScopeError {
    /// Accounts that cannot share one report, or an `--account` naming none (exit 2).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Prices(#[from] PriceError),
    #[error(transparent)]
    Report(#[from] ReportError),
}

impl From<crate::store::StoreError> for ScopeError {
    fn from(e: crate::store::StoreError) -> Self {
        ScopeError::Report(e.into())
    }
}

/// Which accounts `--account NAME` may name.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Accept<'a> {
    /// A config file's account only (by its name).
    Named,
    /// A config file's account (by name or partner code), the settings' own partner code, a
    /// partner code some check is recorded under in this database, or `unknown`.
    NamedOrRecorded(&'a rusqlite::Connection),
}

/// The account `--account NAME` means (see the module's policy).
pub(crate) fn resolve_account(
    layers: &Layers,
    name: &str,
    accept: Accept<'_>,
) -> Result<AccountRef, ScopeError> {
    if name.trim().is_empty() {
        return Err(ScopeError::Refused(format!(
            "{} is empty; give an account name or a partner code",
            Setting::Account
        )));
    }
    let configured: Vec<AccountRef> = layers.accounts().into_iter().map(|(a, _)| a).collect();
    let names: Vec<String> = configured.iter().filter_map(|a| a.name.clone()).collect();
    let conn = match accept {
        Accept::Named => {
            return configured
                .into_iter()
                .find(|a| a.name.as_deref() == Some(name.trim()))
                .ok_or_else(|| {
                    ScopeError::Refused(crate::config::no_such_account(name, &names, None))
                });
        }
        Accept::NamedOrRecorded(conn) => conn,
    };
    let account = layers.account_ref(name);
    if account.name.is_some() || account.partner_code == crate::check::UNKNOWN_ACCOUNT {
        return Ok(account);
    }
    if layers.unnamed_partner_code().as_deref() == Some(account.partner_code.as_str()) {
        return Ok(account);
    }
    let recorded = partner_codes(conn)?;
    if recorded.contains(&account.partner_code) {
        return Ok(account);
    }
    Err(ScopeError::Refused(crate::config::no_such_account(
        name,
        &names,
        Some(&recorded),
    )))
}

/// The accounts of one report.
pub(crate) struct Scope {
    /// The accounts in the report, in partner-code order.
    pub accounts: Vec<AccountRef>,
    /// The one account `--account` narrowed the report to.
    pub narrowed: Option<AccountRef>,
    /// The report's zone.
    pub zone: Zone,
}

/// How a report names an account.
pub(crate) fn key(a: &AccountRef) -> AccountKey {
    AccountKey {
        account: a.label().to_string(),
        partner_code: a.partner_code.clone(),
    }
}

impl Scope {
    /// The scope of a report with `--account` `account` and `--tz` `tz_flag`.
    pub(crate) fn resolve(
        ctx: &ReportContext,
        account: Option<&str>,
        tz_flag: Option<&str>,
    ) -> Result<Scope, ScopeError> {
        let layers = &ctx.layers;
        let narrowed = account
            .map(|name| resolve_account(layers, name, Accept::NamedOrRecorded(&ctx.store.conn)))
            .transpose()?;
        if let Some(AccountRef {
            name: Some(name),
            partner_code,
        }) = &narrowed
            && name != partner_code
            && partner_codes(&ctx.store.conn)?.contains(name)
        {
            crate::store::account::warn_name_shadows_code(name, partner_code);
        }
        let accounts = match &narrowed {
            Some(a) => vec![a.clone()],
            None => partner_codes(&ctx.store.conn)?
                .iter()
                .map(|code| layers.account_of_code(code))
                .collect(),
        };
        let zone = match tz_flag.filter(|t| !t.trim().is_empty()) {
            Some(flag) => Zone::parse(flag, Setting::Tz.flag()).map_err(ReportError::from)?,
            None => {
                let zones: BTreeMap<String, Vec<String>> =
                    accounts.iter().fold(BTreeMap::new(), |mut m, a| {
                        m.entry(layers.tz_of(a, None))
                            .or_default()
                            .push(describe(a.name.as_deref(), &a.partner_code));
                        m
                    });
                if zones.len() > 1 {
                    let list: Vec<String> = zones
                        .iter()
                        .map(|(zone, names)| format!("{} in {zone}", names.join(", ")))
                        .collect();
                    return Err(ScopeError::Refused(format!(
                        "the report spans accounts with different time zones ({}); pass {} \
                         ZONE to choose one billing day, or {} NAME for one account{}",
                        list.join("; "),
                        Setting::Tz,
                        Setting::Account,
                        adopt_hint(accounts.iter().map(|a| a.partner_code.as_str()))
                    )));
                }
                match accounts.first() {
                    Some(a) => layers.zone_of(a, None),
                    None => layers.zone(None),
                }
                .map_err(ReportError::from)?
            }
        };
        Ok(Scope {
            accounts,
            narrowed,
            zone,
        })
    }

    /// The partner code the report's SQL is narrowed to.
    pub(crate) fn filter(&self) -> Option<String> {
        self.narrowed.as_ref().map(|a| a.partner_code.clone())
    }

    /// The report window of periods `by` from `from` to `to` (the `--from`/`--to` dates),
    /// dating checks by `date_by`, in this scope's zone and over its account's checks.
    pub(crate) fn window(
        &self,
        by: Period,
        (from, to): (Option<&str>, Option<&str>),
        date_by: DateBy,
    ) -> Result<Window, ReportError> {
        Ok(Window::in_zone(self.zone.clone(), by, from, to)?
            .dated_by(date_by)
            .for_account(self.filter()))
    }

    /// How the report names the one account `--account` narrowed it to.
    pub(crate) fn narrowed_key(&self) -> Option<AccountKey> {
        self.narrowed.as_ref().map(key)
    }

    /// The one pricing of a scope of one account (or of none): its own, else the settings'.
    pub(crate) fn pricing(
        &self,
        ctx: &ReportContext,
        flags: PriceFlags<'_>,
    ) -> Result<Pricing, ScopeError> {
        let (accounts, fallback) = self.pricings(ctx, flags)?;
        Ok(accounts.into_iter().next().map_or(fallback, |(_, p)| p))
    }

    /// Each account's pricing, and the pricing of a report with no account at all.
    pub(crate) fn pricings(
        &self,
        ctx: &ReportContext,
        flags: PriceFlags<'_>,
    ) -> Result<(Vec<(AccountKey, Pricing)>, Pricing), ScopeError> {
        let PriceFlags {
            price,
            prices,
            currency,
        } = flags;
        let flat = price
            .map(parse_price)
            .transpose()
            .map_err(ReportError::from)?;
        let mut loaded: BTreeMap<PathBuf, PriceList> = BTreeMap::new();
        let mut pricing_of = |path: Option<PathBuf>| -> Result<Pricing, ScopeError> {
            Ok(match (flat, path) {
                (Some(p), _) => Pricing::Flat(p, currency.to_string()),
                (None, Some(path)) => {
                    if !loaded.contains_key(&path) {
                        let list = PriceList::load(&path)?;
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
            .collect::<Result<Vec<_>, ScopeError>>()?;
        check_currencies(&each)?;
        // Only a report with no account at all is priced by the settings in force.
        let fallback = match each.first() {
            Some((_, p)) => p.clone(),
            None => pricing_of(layers.prices(prices))?,
        };
        Ok((each, fallback))
    }
}

/// When the conflicting accounts include `unknown` (checks read before accounts were
/// recorded), how to give those checks to their account.
fn adopt_hint<'a>(mut codes: impl Iterator<Item = &'a str>) -> String {
    if codes.any(|c| c == crate::check::UNKNOWN_ACCOUNT) {
        format!(
            "; the checks of `unknown` were read before accounts were recorded: `liveaudit adopt \
             {} NAME` gives them to theirs",
            Setting::Account
        )
    } else {
        String::new()
    }
}

/// A report over several accounts adds their amounts: one currency, and every account priced.
fn check_currencies(each: &[(AccountKey, Pricing)]) -> Result<(), ScopeError> {
    let listed: Vec<(&AccountKey, &PriceList)> = each
        .iter()
        .filter_map(|(k, p)| match p {
            Pricing::List(l) => Some((k, l)),
            _ => None,
        })
        .collect();
    let label = |k: &AccountKey| k.describe();
    if let Some((_, first)) = listed.first() {
        if listed
            .iter()
            .any(|(_, l)| l.money.currency != first.money.currency)
        {
            let list: Vec<String> = listed
                .iter()
                .map(|(k, l)| {
                    format!(
                        "{} in {} ({})",
                        label(k),
                        l.money.currency,
                        l.source.display()
                    )
                })
                .collect();
            return Err(ScopeError::Refused(format!(
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
            return Err(ScopeError::Refused(format!(
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
