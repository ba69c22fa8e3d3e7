//! Settings layered from flags, environment and an optional TOML file, and the secret type the
//! partner key lives in.
//!
//! Policy: flags win over the environment, the environment over the file. The partner key is
//! never a plain flag value (it would show in `ps` and shell history): it comes from
//! `TD_PARTNER_KEY`, a `--partner-key-file`, or the file's `partner_key_file`. It is held in
//! [`Secret`], whose `Debug` prints nothing of it. Plain `http://` endpoints are refused for any
//! host but loopback, because the key travels in the query string. The request rate is
//! `--rate`, `LIVEAUDIT_RATE` or the file's `rate`: a number per second (0: no limit) or `auto`.
//!
//! Accounts: the file may name several vendor accounts, `[accounts.NAME]`, each with its own
//! `partner_code` (required, one section per partner code), key file, endpoints, `tz`,
//! `input_tz`, `rate` and `prices`. `--account NAME` chooses one; without it, a file whose only accounts are named
//! and that names exactly one uses it, and one that names several asks which (fetch, license).
//! A chosen account's settings beat the environment (which cannot say which account it means)
//! and the file's top-level keys; flags still beat everything, except that a `--partner-code`
//! other than the chosen account's is refused rather than guessed at. A chosen account's key is
//! its section's (or the flag's) only, and its endpoints its section's, else the top level's
//! (shared endpoints), never the environment's.
//!
//! The file itself (search path, keys, its checks) is read in [`file`].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use url::Url;

use crate::setting::Setting;

/// A configuration problem, each naming the setting and how to give it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{what} is not set; give it with {how}")]
    Missing { what: &'static str, how: String },
    #[error("{what}: {value:?} is not a URL ({reason})")]
    BadUrl {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "{what}: plain http:// is refused for {host} (the partner key would travel in clear \
         text); use https://, or http:// only to a loopback address"
    )]
    InsecureUrl { what: &'static str, host: String },
    #[error(
        "{what}: give the URL without a query string; liveaudit appends partner_code and \
         partner_key itself"
    )]
    UrlHasQuery { what: &'static str },
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the partner key file {0} is empty")]
    EmptyKey(PathBuf),
    #[error("the partner key file {path} {problem}; it must hold the key alone on one line")]
    BadKeyFile { path: PathBuf, problem: String },
    #[error("TD_PARTNER_KEY {problem}; set it to the partner key alone")]
    BadKeyEnv { problem: String },
    #[error("config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(
        "config file {0}: partner_key is not accepted in a config file (it would sit beside \
         settings that get shared and printed); put the key alone in a file readable only by \
         you and use partner_key_file = \"PATH\", or TD_PARTNER_KEY"
    )]
    KeyInFile(PathBuf),
    #[error("{what}: {0}", what = .1)]
    BadRate(RateError, &'static str),
    #[error("{}", no_such_account(.name, .known, None))]
    UnknownAccount { name: String, known: Vec<String> },
    #[error(
        "the config file names {} accounts ({}); choose one with {} NAME",
        .0.len(),
        .0.join(", "),
        Setting::Account
    )]
    ChooseAccount(Vec<String>),
    #[error(
        "account {name}: {key} is not set; give it in [accounts.{name}] or with {flag} \
         {value_name} (the environment is not read for a named account: it cannot say which \
         account it means)"
    )]
    AccountMissing {
        name: String,
        key: &'static str,
        flag: Setting,
        value_name: &'static str,
    },
    #[error(
        "{partner_code_flag} {flag} differs from account {name}'s partner_code {section}; give \
         one or the other",
        partner_code_flag = Setting::PartnerCode
    )]
    AccountConflict {
        name: String,
        section: String,
        flag: String,
    },
}

/// The vendor endpoint a command calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// The liveness result API (`fetch`).
    Result,
    /// The license API (`license`).
    License,
}

/// A rate that is neither a number per second nor `auto`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a rate; give requests per second (e.g. 50; 0 means no limit) or auto to find \
     the vendor's limit"
)]
pub struct RateError(String);

/// A request rate as a user writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateValue {
    /// Requests per second over all workers; 0 means no limit.
    PerSec(u32),
    /// Find the vendor's limit while running.
    Auto,
}

impl FromStr for RateValue {
    type Err = RateError;

    fn from_str(s: &str) -> Result<RateValue, RateError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("auto") {
            return Ok(RateValue::Auto);
        }
        t.strip_suffix("/s")
            .unwrap_or(t)
            .parse()
            .map(RateValue::PerSec)
            .map_err(|_| RateError(s.to_string()))
    }
}

/// Values given on the command line (already parsed by clap); `None` where not given.
#[derive(Debug, Default, Clone)]
pub struct FlagValues {
    /// `--account NAME`: one of the file's `[accounts.NAME]`.
    pub account: Option<String>,
    pub partner_code: Option<String>,
    pub partner_key_file: Option<PathBuf>,
    pub result_url: Option<String>,
    pub license_url: Option<String>,
    pub db: Option<PathBuf>,
    pub codes_file: Option<PathBuf>,
}

/// Where each setting may come from, already merged by precedence.
#[derive(Debug, Clone)]
pub struct Layers {
    flags: FlagValues,
    file: Arc<FileConfig>,
    env: fn(&str) -> Option<String>,
}

fn real_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The credentials and endpoints needed to talk to the vendor.
#[derive(Debug, Clone)]
pub struct VendorSettings {
    /// The account these settings belong to (its config name, if named, and partner code).
    pub account: AccountRef,
    pub partner_code: String,
    pub partner_key: Secret,
    pub result_url: Option<Url>,
    pub license_url: Option<Url>,
}

impl VendorSettings {
    /// The host the account's checks are asked at (result endpoint, else license endpoint).
    pub fn endpoint_host(&self) -> Option<String> {
        self.result_url
            .as_ref()
            .or(self.license_url.as_ref())
            .and_then(|u| u.host_str().map(str::to_string))
    }
}

impl Layers {
    pub fn new(flags: FlagValues, file: FileConfig) -> Layers {
        Layers {
            flags,
            file: Arc::new(file),
            env: real_env,
        }
    }

    /// The config file's `[nightly]` section (empty without a file).
    pub fn nightly(&self) -> &NightlyConfig {
        &self.file.nightly
    }

    /// The database path: `--db`, `LIVEAUDIT_DB`, the file's `db`, else `./liveaudit.db`.
    pub fn db(&self) -> PathBuf {
        self.flags
            .db
            .clone()
            .or_else(|| (self.env)("LIVEAUDIT_DB").map(PathBuf::from))
            .or_else(|| self.file.db.clone())
            .unwrap_or_else(|| PathBuf::from("liveaudit.db"))
    }

    /// A user code table to merge over the shipped one, if any.
    pub fn codes_file(&self) -> Option<PathBuf> {
        self.flags
            .codes_file
            .clone()
            .or_else(|| (self.env)("LIVEAUDIT_CODES").map(PathBuf::from))
            .or_else(|| self.file.codes_file.clone())
    }

    /// The billing day's zone: `--tz`, `LIVEAUDIT_TZ`, the file's `tz`, else UTC.
    /// A chosen account's `tz` beats the environment and the top level.
    pub fn tz(&self, flag: Option<&str>) -> String {
        let flag = flag.map(str::to_string).filter(|v| !v.trim().is_empty());
        self.pick_for_account(&flag, |a| a.tz.clone(), "LIVEAUDIT_TZ", &self.file.tz)
            .unwrap_or_else(|| "UTC".to_string())
    }

    /// The request rate: `--rate`, `LIVEAUDIT_RATE`, the file's `rate`, else `default`.
    pub fn rate(
        &self,
        flag: Option<RateValue>,
        default: RateValue,
    ) -> Result<RateValue, ConfigError> {
        if let Some(rate) = flag {
            return Ok(rate);
        }
        if let Some(rate) = self
            .chosen()
            .ok()
            .flatten()
            .and_then(|(_, a)| a.rate.clone())
        {
            return match rate {
                FileRate::PerSec(n) => Ok(RateValue::PerSec(n)),
                FileRate::Text(text) => text
                    .parse()
                    .map_err(|e| ConfigError::BadRate(e, "rate in the account's section")),
            };
        }
        if let Some(text) = (self.env)("LIVEAUDIT_RATE") {
            return text
                .parse()
                .map_err(|e| ConfigError::BadRate(e, "LIVEAUDIT_RATE"));
        }
        match &self.file.rate {
            Some(FileRate::PerSec(n)) => Ok(RateValue::PerSec(*n)),
            Some(FileRate::Text(text)) => text
                .parse()
                .map_err(|e| ConfigError::BadRate(e, "rate in the config file")),
            None => Ok(default),
        }
    }

    /// The price list: `--prices`, else the file's `prices` (relative to the file).
    /// A chosen account's `prices` beats the top level.
    pub fn prices(&self, flag: Option<&Path>) -> Option<PathBuf> {
        flag.map(Path::to_path_buf)
            .or_else(|| {
                self.chosen()
                    .ok()
                    .flatten()
                    .and_then(|(_, a)| a.prices.clone())
            })
            .or_else(|| self.file.prices.clone())
    }

    /// The unnamed account's partner code from the settings (`--partner-code`,
    /// `TD_PARTNER_CODE`, the file's top-level `partner_code`), if any.
    pub fn unnamed_partner_code(&self) -> Option<String> {
        self.pick(
            &self.flags.partner_code,
            "TD_PARTNER_CODE",
            &self.file.partner_code,
        )
        .filter(|c| !c.is_empty())
    }

    /// The accounts the config file names, in name order.
    pub fn accounts(&self) -> Vec<(AccountRef, &AccountConfig)> {
        self.file
            .accounts
            .iter()
            .map(|(name, a)| {
                let account = AccountRef {
                    name: Some(name.clone()),
                    partner_code: a
                        .partner_code
                        .as_deref()
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                (account, a)
            })
            .collect()
    }

    /// What a report's `--account NAME` means: a named account's partner code, else `NAME`
    /// taken as a partner code itself (so a database can be read without the file that
    /// fetched it, and `unknown` finds the checks whose account was never recorded).
    pub fn account_ref(&self, name: &str) -> AccountRef {
        let name = name.trim();
        self.accounts()
            .into_iter()
            .map(|(a, _)| a)
            .find(|a| a.name.as_deref() == Some(name))
            .or_else(|| {
                self.accounts()
                    .into_iter()
                    .map(|(a, _)| a)
                    .find(|a| a.partner_code == name)
            })
            .unwrap_or_else(|| AccountRef {
                name: None,
                partner_code: name.to_string(),
            })
    }

    /// The account `--account` chose, or the file's only account when nothing else names a
    /// partner code. `Err` when `--account` names no section.
    fn chosen(&self) -> Result<Option<(&str, &AccountConfig)>, ConfigError> {
        if let Some(name) = &self.flags.account {
            return self
                .file
                .accounts
                .get_key_value(name.trim())
                .map(|(n, a)| Some((n.as_str(), a)))
                .ok_or_else(|| ConfigError::UnknownAccount {
                    name: name.clone(),
                    known: self.file.accounts.keys().cloned().collect(),
                });
        }
        let unnamed = self.flags.partner_code.is_some()
            || (self.env)("TD_PARTNER_CODE").is_some()
            || self.file.partner_code.is_some();
        if !unnamed && self.file.accounts.len() == 1 {
            return Ok(self
                .file
                .accounts
                .iter()
                .next()
                .map(|(n, a)| (n.as_str(), a)));
        }
        Ok(None)
    }

    /// An endpoint: the flag, else for a chosen account its section's value, else the file's
    /// top level (an endpoint several accounts share), never the environment (it cannot say
    /// which account it means); without a chosen account, flag, environment, top level.
    fn endpoint_for(
        &self,
        chosen: Option<(&str, &AccountConfig)>,
        flag: &Option<String>,
        section: impl Fn(&AccountConfig) -> Option<String>,
        env: &str,
        file: &Option<String>,
    ) -> Option<String> {
        let Some((_, account)) = chosen else {
            return self.pick(flag, env, file);
        };
        flag.clone()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| section(account))
            .or_else(|| file.clone())
            .map(|v| v.trim().to_string())
    }

    /// A flag, else the chosen account's value, else the environment, else the top level.
    fn pick_for_account(
        &self,
        flag: &Option<String>,
        section: impl Fn(&AccountConfig) -> Option<String>,
        env: &str,
        file: &Option<String>,
    ) -> Option<String> {
        let from_section = self.chosen().ok().flatten().and_then(|(_, a)| section(a));
        let flag = flag.clone().filter(|v| !v.trim().is_empty());
        match (flag, from_section) {
            (Some(v), _) | (None, Some(v)) => Some(v.trim().to_string()),
            (None, None) => self.pick(&None, env, file),
        }
    }

    fn pick(&self, flag: &Option<String>, env: &str, file: &Option<String>) -> Option<String> {
        flag.clone()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| (self.env)(env))
            .or_else(|| file.clone())
            .map(|v| v.trim().to_string())
    }

    /// The partner code: the chosen account's (a different `--partner-code` is refused), else
    /// flag, environment, top level.
    fn partner_code(&self, chosen: Option<(&str, &AccountConfig)>) -> Result<String, ConfigError> {
        let code = match chosen {
            Some((name, section)) => {
                let code = section.partner_code.as_deref().unwrap_or_default().trim();
                match self.flags.partner_code.as_deref().map(str::trim) {
                    Some(flag) if !flag.is_empty() && flag != code => {
                        return Err(ConfigError::AccountConflict {
                            name: name.to_string(),
                            section: code.to_string(),
                            flag: flag.to_string(),
                        });
                    }
                    _ => Some(code.to_string()),
                }
            }
            None => self.pick(
                &self.flags.partner_code,
                "TD_PARTNER_CODE",
                &self.file.partner_code,
            ),
        };
        code.ok_or(ConfigError::Missing {
            what: "the partner code",
            how: format!(
                "{}, TD_PARTNER_CODE, or partner_code in liveaudit.toml",
                Setting::PartnerCode
            ),
        })
    }

    /// The partner code alone (never the key), for naming the account of a night that stopped
    /// before its settings were complete; `None` when none is set.
    pub(crate) fn partner_code_only(&self) -> Option<String> {
        self.partner_code(self.chosen().ok()?).ok()
    }

    /// Resolves the vendor settings. `calls` is the endpoint the command will call, so a missing
    /// one is named before anything is sent.
    pub fn vendor(&self, calls: Endpoint) -> Result<VendorSettings, ConfigError> {
        let chosen = self.chosen()?;
        if chosen.is_none()
            && self.file.accounts.len() > 1
            && self.flags.partner_code.is_none()
            && (self.env)("TD_PARTNER_CODE").is_none()
            && self.file.partner_code.is_none()
        {
            return Err(ConfigError::ChooseAccount(
                self.file.accounts.keys().cloned().collect(),
            ));
        }
        let partner_code = self.partner_code(chosen)?;
        let partner_key = self.partner_key(chosen)?;
        let (result_url, license_url) = self.endpoints(chosen, calls)?;
        Ok(VendorSettings {
            account: AccountRef {
                // A partner code given without --account still carries the name the file
                // gives it, so records and reports name it the same way.
                name: chosen
                    .map(|(n, _)| n.to_string())
                    .or_else(|| self.account_ref(&partner_code).name),
                partner_code: partner_code.clone(),
            },
            partner_code,
            partner_key,
            result_url,
            license_url,
        })
    }

    /// The result and license URLs in force, checked; the one `calls` needs must be given
    /// (an account's section missing it is named).
    fn endpoints(
        &self,
        chosen: Option<(&str, &AccountConfig)>,
        calls: Endpoint,
    ) -> Result<(Option<Url>, Option<Url>), ConfigError> {
        let need_result = calls == Endpoint::Result;
        let need_license = calls == Endpoint::License;
        let result_url = self
            .endpoint_for(
                chosen,
                &self.flags.result_url,
                |a| a.result_url.clone(),
                "TD_RESULT_URL",
                &self.file.result_url,
            )
            .map(|u| endpoint("the result URL", &u))
            .transpose()?;
        let license_url = self
            .endpoint_for(
                chosen,
                &self.flags.license_url,
                |a| a.license_url.clone(),
                "TD_LICENSE_URL",
                &self.file.license_url,
            )
            .map(|u| endpoint("the license URL", &u))
            .transpose()?;
        if let Some((name, _)) = chosen {
            let missing = if need_result && result_url.is_none() {
                Some(("result_url", Setting::ResultUrl))
            } else if need_license && license_url.is_none() {
                Some(("license_url", Setting::LicenseUrl))
            } else {
                None
            };
            if let Some((key, flag)) = missing {
                return Err(ConfigError::AccountMissing {
                    name: name.to_string(),
                    key,
                    flag,
                    value_name: "URL",
                });
            }
        }
        if need_result && result_url.is_none() {
            return Err(ConfigError::Missing {
                what: "the result endpoint",
                how: format!(
                    "{}, TD_RESULT_URL, or result_url in liveaudit.toml (e.g. \
                     https://sg-credit.apitd.net/verification/kyc/sdk/liveness/result/v1)",
                    Setting::ResultUrl
                ),
            });
        }
        if need_license && license_url.is_none() {
            return Err(ConfigError::Missing {
                what: "the license endpoint",
                how: format!(
                    "{}, TD_LICENSE_URL, or license_url in liveaudit.toml (e.g. \
                     https://sg-credit.apitd.net/verification/kyc/sdk/liveness/license/v1)",
                    Setting::LicenseUrl
                ),
            });
        }
        Ok((result_url, license_url))
    }

    /// `--partner-key-file`, else the chosen account's key file, else `TD_PARTNER_KEY`, else
    /// the top-level key file.
    fn partner_key(&self, chosen: Option<(&str, &AccountConfig)>) -> Result<Secret, ConfigError> {
        if let Some(path) = &self.flags.partner_key_file {
            return read_key_file(path);
        }
        if let Some((name, section)) = chosen {
            // A named account's key is its own: never the environment's or the top level's,
            // which belong to no account in particular.
            return match &section.partner_key_file {
                Some(path) => read_key_file(path),
                None => Err(ConfigError::AccountMissing {
                    name: name.to_string(),
                    key: "partner_key_file",
                    flag: Setting::PartnerKeyFile,
                    value_name: "PATH",
                }),
            };
        }
        if let Some(key) = (self.env)("TD_PARTNER_KEY") {
            return Secret::partner_key(key.trim())
                .map_err(|problem| ConfigError::BadKeyEnv { problem });
        }
        if let Some(path) = &self.file.partner_key_file {
            return read_key_file(path);
        }
        Err(ConfigError::Missing {
            what: "the partner key",
            how: format!(
                "TD_PARTNER_KEY, {} PATH, or partner_key_file in liveaudit.toml",
                Setting::PartnerKeyFile
            ),
        })
    }
}

mod endpoint;
pub(crate) use endpoint::endpoint;
mod file;
pub(crate) use file::{
    AccountConfig, AccountRef, FileConfig, FileRate, NightlyConfig, is_account_word,
};
mod secret;
pub(crate) use secret::Secret;
use secret::read_key_file;
mod per_account;
pub(crate) use per_account::no_such_account;
#[cfg(test)]
mod tests;
