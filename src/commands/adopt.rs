//! `liveaudit adopt`: the checks recorded before accounts were (partner code `unknown`) given
//! to one account.
//!
//! Policy: history is assigned only on an explicit order: `--account NAME` must name a section
//! of the config file (a typo is refused, never recorded as a new partner code), or
//! `--partner-code CODE` names a code the settings know (a section's, or the unnamed account's
//! from `TD_PARTNER_CODE` or the file's top level); any other code needs `--force`, and every
//! code is a word (letters, digits, `.`, `_`, `-`, at most [`MAX_CODE_CHARS`]), so a typo, an
//! escape byte or a pasted paragraph never becomes an account nobody can undo. `unknown` is
//! no account. It takes the fetch lock so it never races a run, changes every
//! such check in one transaction, asks the vendor nothing, and `--dry-run` changes nothing.

use std::io::Write;

use anyhow::anyhow;

use super::layers;
use crate::cli::{AdoptArgs, GlobalArgs, VendorArgs};
use crate::config::AccountRef;
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::report::scope::{Accept, resolve_account};
use crate::store::{OpenMode, Store, StoreError, account};

/// Runs `liveaudit adopt`.
pub(crate) fn adopt(global: &GlobalArgs, args: &AdoptArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let target = target(&layers, args)?;
    let db = layers.db();
    if !db.exists() {
        return Err(StoreError::Missing { path: db }.into());
    }
    let whose = account::describe(target.name.as_deref(), &target.partner_code);
    if args.dry_run {
        let store = Store::open(&db, OpenMode::MigrateExisting)?;
        let would = account::count_unknown(&store.conn)?;
        let _ = writeln!(
            std::io::stdout(),
            "dry run: would give {would} checks recorded before accounts were (partner code \
             unknown) to {whose}; nothing was changed"
        );
        return Ok(ExitStatus::Ok);
    }
    let _lock = crate::store::FetchLock::acquire(&db)?;
    let mut store = Store::open(&db, OpenMode::MigrateExisting)?;
    let adopted = account::adopt_all_unknown(&mut store.conn, &target.partner_code)?;
    let _ = writeln!(
        std::io::stdout(),
        "gave {adopted} checks recorded before accounts were (partner code unknown) to {whose}; \
         none was asked again"
    );
    Ok(ExitStatus::Ok)
}

/// The account that gets them: a config section by name, or a partner code given as such.
fn target(layers: &crate::config::Layers, args: &AdoptArgs) -> Result<AccountRef, Failure> {
    if let Some(name) = &args.account {
        return resolve_account(layers, name, Accept::Named).map_err(|e| {
            Failure::usage(anyhow!(
                "{e}; adopt gives history only to a named account, or to --partner-code CODE"
            ))
        });
    }
    let code = args
        .partner_code
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if code.is_empty() || code == crate::check::UNKNOWN_ACCOUNT {
        return Err(Failure::usage(anyhow!(
            "--partner-code {code:?} is no account; give the partner code the checks were \
             fetched with"
        )));
    }
    if code.chars().count() > MAX_CODE_CHARS || !crate::config::is_account_word(code) {
        return Err(Failure::usage(anyhow!(
            "--partner-code \"{}\" is not a partner code: a code is letters, digits, '.', '_' \
             and '-', at most {MAX_CODE_CHARS} characters",
            crate::input::shown(code)
        )));
    }
    let known = layers
        .accounts()
        .iter()
        .any(|(a, _)| a.partner_code == code)
        || layers.unnamed_partner_code().as_deref() == Some(code);
    if !known && !args.force {
        let mut codes: Vec<String> = layers
            .accounts()
            .into_iter()
            .map(|(a, _)| a.partner_code)
            .chain(layers.unnamed_partner_code())
            .collect();
        codes.dedup();
        return Err(Failure::usage(anyhow!(
            "--partner-code {code}: no setting names this partner code ({}); adopt gives \
             history only to a known account: check the spelling, or add --force if {code} is \
             right",
            if codes.is_empty() {
                "none is set".to_string()
            } else {
                format!("known: {}", codes.join(", "))
            }
        )));
    }
    Ok(layers.account_ref(code))
}

/// The longest partner code `adopt` records.
const MAX_CODE_CHARS: usize = 128;
