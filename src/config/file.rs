//! The optional TOML config file: where it is looked for, its keys (top level and
//! `[accounts.NAME]` sections), and the checks it passes before any setting is layered.
//!
//! Policy: the file never holds the partner key itself (only `partner_key_file`), and an error
//! in it is described by line number and message only, never by quoting its lines (a key may
//! be in them). Relative paths in it are relative to the file, not to the working directory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
use crate::setting::Setting;

/// The file's `rate`: `rate = 50` or `rate = "auto"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FileRate {
    PerSec(u32),
    Text(String),
}

/// The optional TOML file. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub partner_code: Option<String>,
    pub partner_key_file: Option<PathBuf>,
    pub result_url: Option<String>,
    pub license_url: Option<String>,
    pub db: Option<PathBuf>,
    pub codes_file: Option<PathBuf>,
    /// The account's billing day zone (IANA name), for every report and reconcile.
    pub tz: Option<String>,
    /// The zone of input times written without an offset (`--input-tz`).
    pub input_tz: Option<String>,
    pub rate: Option<FileRate>,
    /// The price list billing and reconcile price charged checks with (`--prices`).
    pub prices: Option<PathBuf>,
    /// Named accounts, `[accounts.NAME]`.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountConfig>,
    /// The nightly job's settings, `[nightly]`.
    #[serde(default)]
    pub nightly: NightlyConfig,
}

/// The `[nightly]` section: where `liveaudit nightly` reads and writes, its time budget and
/// the accounts it runs. Flags beat it; paths in it are relative to the file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NightlyConfig {
    /// The state directory (metrics, run summaries) [default: $STATE_DIRECTORY, else `.`].
    pub state: Option<PathBuf>,
    /// Where id files are dropped [default: STATE/inbox].
    pub inbox: Option<PathBuf>,
    /// Where reports and exports go [default: STATE/out].
    pub out: Option<PathBuf>,
    /// The metrics file [default: STATE/liveaudit.prom; per account liveaudit-NAME.prom].
    pub metrics_file: Option<PathBuf>,
    /// Cut-off time of day (HH:MM in the billing zone).
    pub until: Option<String>,
    /// Time budget (e.g. "2h", "5s").
    pub max_duration: Option<String>,
    /// `[accounts.NAME]` names to run, one night each, in this order.
    pub accounts: Option<Vec<String>>,
}

/// One `[accounts.NAME]` section: a vendor account (partner code) with its own key, endpoints,
/// billing zone, rate and price list. Keys it leaves out come from the file's top level.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The vendor's partner code; required, and no two sections may share one.
    pub partner_code: Option<String>,
    pub partner_key_file: Option<PathBuf>,
    pub result_url: Option<String>,
    pub license_url: Option<String>,
    pub tz: Option<String>,
    /// The zone of this account's input times written without an offset (`--input-tz`).
    pub input_tz: Option<String>,
    pub rate: Option<FileRate>,
    pub prices: Option<PathBuf>,
}

/// An account as the records know it: the config's name, if any, and the partner code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRef {
    /// The config file's name for it; `None` for a partner code the file does not name.
    pub name: Option<String>,
    /// The partner code checks are recorded under.
    pub partner_code: String,
}

impl AccountRef {
    /// How reports label it: the config's name, else the partner code.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.partner_code)
    }
}

impl super::Layers {
    /// The zone of input times written without an offset, and where it came from:
    /// `--input-tz`, else the chosen account's section's `input_tz` (as its `tz` beats the top
    /// level), else the file's top-level `input_tz`, else UTC.
    pub fn input_tz(&self, flag: Option<&str>) -> (String, String) {
        let section = self
            .chosen()
            .ok()
            .flatten()
            .and_then(|(name, a)| Some((name, a.input_tz.clone()?)));
        match (flag, section, &self.file.input_tz) {
            (Some(f), _, _) => (f.to_string(), Setting::InputTz.flag().into()),
            (None, Some((name, zone)), _) => (zone, format!("input_tz in [accounts.{name}]")),
            (None, None, Some(f)) => (f.clone(), "input_tz in the config file".into()),
            (None, None, None) => ("UTC".to_string(), "the default".into()),
        }
    }
}

impl FileConfig {
    /// Loads `explicit` if given (it must exist), else the first of [`FileConfig::search_path`]
    /// that exists, else nothing.
    pub fn load(explicit: Option<&Path>) -> Result<FileConfig, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => match Self::search_path().into_iter().find(|p| p.is_file()) {
                Some(found) => found,
                None => return Ok(FileConfig::default()),
            },
        };
        let text = crate::small_file::read_to_string(&path, crate::small_file::CONFIG_MAX_BYTES)
            .map_err(|source| ConfigError::Read {
                what: "config file",
                path: path.clone(),
                source,
            })?;
        let mut cfg: FileConfig = parse_file(&text).map_err(|e| match e {
            FileProblem::KeyInFile => ConfigError::KeyInFile(path.clone()),
            FileProblem::Toml(message) => ConfigError::File {
                path: path.clone(),
                message,
            },
        })?;
        // Relative paths in the file are relative to the file, not to wherever cron runs us.
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for p in [
            &mut cfg.partner_key_file,
            &mut cfg.db,
            &mut cfg.codes_file,
            &mut cfg.prices,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        let nightly = &mut cfg.nightly;
        for p in [
            &mut nightly.state,
            &mut nightly.inbox,
            &mut nightly.out,
            &mut nightly.metrics_file,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        for account in cfg.accounts.values_mut() {
            for p in [&mut account.partner_key_file, &mut account.prices]
                .into_iter()
                .flatten()
            {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        check_accounts(&cfg.accounts)
            .and_then(|()| check_values(&cfg))
            .map_err(|message| ConfigError::File {
                path: path.clone(),
                message,
            })?;
        Ok(cfg)
    }
}

/// Every `tz` and `input_tz` is a time zone and every `rate` a rate, at the top level and in
/// each section, so a mistake is named with its place when the file is read, not when a
/// command first uses it.
fn check_values(cfg: &FileConfig) -> Result<(), String> {
    let sections = cfg.accounts.iter().map(|(name, a)| {
        let place = format!("in [accounts.{name}]");
        (place, &a.tz, &a.input_tz, &a.rate)
    });
    let top = (
        "in the config file".to_string(),
        &cfg.tz,
        &cfg.input_tz,
        &cfg.rate,
    );
    for (place, tz, input_tz, rate) in std::iter::once(top).chain(sections) {
        for (key, zone) in [("tz", tz), ("input_tz", input_tz)] {
            if let Some(zone) = zone {
                crate::zone::Zone::parse(zone, format!("{key} {place}"))
                    .map_err(|e| e.to_string())?;
            }
        }
        if let Some(FileRate::Text(text)) = rate
            && let Err(e) = text.parse::<super::RateValue>()
        {
            return Err(format!("rate {place}: {e}"));
        }
    }
    Ok(())
}

/// Whether `text` is a word as account names (and codes given to `adopt`) must be: letters,
/// digits, `.`, `_` and `-`, at least one, and not `.` or `..` alone (a name is also a folder
/// name: the nightly job's inbox and reports of the account).
pub(crate) fn is_account_word(text: &str) -> bool {
    !matches!(text, "" | "." | "..")
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Account names are words ([`is_account_word`]); each section has a partner code, no two
/// share one, and none is `unknown` (the mark of checks whose account was never recorded).
fn check_accounts(accounts: &BTreeMap<String, AccountConfig>) -> Result<(), String> {
    // One pass to index the codes, one to check each section against the index: linear in the
    // number of sections (a file of 40,000 accounts loads in well under a second).
    let mut by_code: HashMap<&str, &str> = HashMap::with_capacity(accounts.len());
    for (name, account) in accounts {
        if let Some(code) = account.partner_code.as_deref() {
            by_code.entry(code.trim()).or_insert(name);
        }
    }
    let mut seen: HashMap<&str, &str> = HashMap::with_capacity(accounts.len());
    for (name, account) in accounts {
        if !is_account_word(name) {
            return Err(format!(
                "[accounts.{name:?}]: an account name is letters, digits, '.', '_' and '-', \
                 and not . or .. alone (it names the account's folders)"
            ));
        }
        let code = account.partner_code.as_deref().map(str::trim).unwrap_or("");
        if code.is_empty() {
            return Err(format!(
                "[accounts.{name}]: partner_code is missing; every account names its partner code"
            ));
        }
        if code == crate::check::UNKNOWN_ACCOUNT {
            return Err(format!(
                "[accounts.{name}]: partner_code {code:?} is reserved for checks whose account \
                 was never recorded"
            ));
        }
        if name == crate::check::UNKNOWN_ACCOUNT {
            return Err(format!(
                "[accounts.{name}]: the name {name:?} is reserved for checks whose account was \
                 never recorded; choose another"
            ));
        }
        if let Some(other) = by_code
            .get(name.as_str())
            .filter(|other| **other != name.as_str())
        {
            return Err(format!(
                "[accounts.{name}]: the name is [accounts.{other}]'s partner code; {} \
                 {name} could mean either, so choose another name",
                Setting::Account
            ));
        }
        if let Some(other) = seen.insert(code, name) {
            return Err(format!(
                "[accounts.{other}] and [accounts.{name}] share partner_code {code:?}; one \
                 section per account"
            ));
        }
    }
    Ok(())
}

impl FileConfig {
    /// Where a config file is looked for without `--config`, in order: `./liveaudit.toml`,
    /// `$XDG_CONFIG_HOME/liveaudit/config.toml` (`~/.config/...` when unset), and
    /// `/etc/liveaudit/config.toml` (a system-wide job, e.g. under systemd, whose working
    /// directory is `/`).
    pub fn search_path() -> Vec<PathBuf> {
        let mut paths = vec![PathBuf::from("liveaudit.toml")];
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        if let Some(dir) = xdg {
            paths.push(dir.join("liveaudit").join("config.toml"));
        }
        paths.push(PathBuf::from("/etc/liveaudit/config.toml"));
        paths
    }
}

enum FileProblem {
    KeyInFile,
    Toml(String),
}

/// Parses the config file's text. A parse error is described by its message and line number
/// only: the file may hold a key, so its source lines are never quoted.
fn parse_file(text: &str) -> Result<FileConfig, FileProblem> {
    let table: toml::Table =
        toml::from_str(text).map_err(|e| FileProblem::Toml(toml_error(text, &e)))?;
    let in_account = |t: &toml::Table| {
        t.get("accounts")
            .and_then(toml::Value::as_table)
            .is_some_and(|a| {
                a.values()
                    .filter_map(toml::Value::as_table)
                    .any(|s| s.contains_key("partner_key"))
            })
    };
    if table.contains_key("partner_key") || in_account(&table) {
        return Err(FileProblem::KeyInFile);
    }
    FileConfig::deserialize(toml::Value::Table(table))
        .map_err(|e| FileProblem::Toml(e.message().to_string()))
}

/// A TOML error as "line N: message", without the quoted source line toml's `Display` shows.
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", e.message())
        }
        None => e.message().to_string(),
    }
}
