//! The settings a report gives the checks of one account, whichever account the command chose.
//!
//! Policy: a report may span several accounts, so it asks for each partner code in it: the
//! file's section naming that partner code gives its `tz` and `prices`; a partner code no
//! section names (and `unknown`, the checks whose account was never recorded) takes the
//! unnamed settings (`LIVEAUDIT_TZ`, the file's top-level `tz`, else UTC; the top-level
//! `prices`). Flags (`--tz`, `--prices`) beat every account's own value.

use std::path::{Path, PathBuf};

use super::{AccountConfig, AccountRef, Layers};
use crate::setting::Setting;
use crate::zone::{BadZone, Zone};

/// Where the `tz` setting came from, for [`Zone::parse`]'s error: `--tz` when given, else the
/// environment (a config file's `tz` was checked when the file was read).
fn tz_origin(flag: Option<&str>) -> &'static str {
    match flag {
        Some(f) if !f.trim().is_empty() => Setting::Tz.flag(),
        _ => "tz (LIVEAUDIT_TZ or the config file)",
    }
}

impl Layers {
    /// The account the records know by `partner_code`, labelled by the file's name for it when
    /// the file names it.
    pub fn account_of_code(&self, partner_code: &str) -> AccountRef {
        self.accounts()
            .into_iter()
            .map(|(a, _)| a)
            .find(|a| a.partner_code == partner_code)
            .unwrap_or_else(|| AccountRef {
                name: None,
                partner_code: partner_code.to_string(),
            })
    }

    /// The section of a named account.
    fn section(&self, account: &AccountRef) -> Option<&AccountConfig> {
        account
            .name
            .as_deref()
            .and_then(|n| self.file.accounts.get(n))
    }

    /// The billing day's zone of `account`'s checks: `--tz`, its section's `tz`, else
    /// `LIVEAUDIT_TZ`, the file's top-level `tz`, else UTC.
    pub fn tz_of(&self, account: &AccountRef, flag: Option<&str>) -> String {
        let flag = flag.map(str::to_string).filter(|v| !v.trim().is_empty());
        let section = self.section(account).and_then(|a| a.tz.clone());
        flag.or(section)
            .map(|v| v.trim().to_string())
            .or_else(|| self.pick(&None, "LIVEAUDIT_TZ", &self.file.tz))
            .unwrap_or_else(|| "UTC".to_string())
    }

    /// The billing day's zone ([`Layers::tz`]), parsed.
    pub(crate) fn zone(&self, flag: Option<&str>) -> Result<Zone, BadZone> {
        Zone::parse(&self.tz(flag), tz_origin(flag))
    }

    /// The zone of `account`'s checks ([`Layers::tz_of`]), parsed.
    pub(crate) fn zone_of(
        &self,
        account: &AccountRef,
        flag: Option<&str>,
    ) -> Result<Zone, BadZone> {
        Zone::parse(&self.tz_of(account, flag), tz_origin(flag))
    }

    /// The price list of `account`'s checks: `--prices`, its section's `prices`, else the
    /// file's top-level `prices`.
    pub fn prices_of(&self, account: &AccountRef, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_path_buf)
            .or_else(|| self.section(account).and_then(|a| a.prices.clone()))
            .or_else(|| self.file.prices.clone())
    }
}

/// `--account NAME` naming no account: the names the config file has (`configured`) and, where
/// a recorded partner code also names one, the partner codes the database holds (`recorded`).
pub(crate) fn no_such_account(
    name: &str,
    configured: &[String],
    recorded: Option<&[String]>,
) -> String {
    match recorded {
        None if configured.is_empty() => format!(
            "{account} {name}: the config file names no accounts; add [accounts.{name}] with its \
             partner_code, or leave {account} out",
            account = Setting::Account
        ),
        None => format!(
            "{account_flag} {name}: no such account in the config file; it names {}",
            configured.join(", "),
            account_flag = Setting::Account
        ),
        Some(recorded) => {
            let known: Vec<&String> = configured.iter().chain(recorded).collect();
            format!(
                "{} {}: no account of that name in the config file and no check under \
                 that partner code; known: {}",
                Setting::Account,
                crate::text::clean(name),
                if known.is_empty() {
                    "none (the database holds no checks)".to_string()
                } else {
                    let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                    crate::text::clean(&known.join(", "))
                }
            )
        }
    }
}
