//! Which vendor account a run and its checks belong to, as the records keep it.
//!
//! Policy: an account's identity in the records is its partner code; the host of the endpoint
//! it asked is kept beside it as evidence; its key is never stored. An id belongs to the
//! account that first read it:
//! - an id new to the database is recorded under the run's account;
//! - an id recorded as `unknown` (read before accounts were recorded) is adopted by the first
//!   run that reads it again, whatever its state: a done check is not asked again;
//! - an id recorded under another partner code is set aside: the run does not register it,
//!   never asks the vendor for it under its own credentials, counts it (`other_account`) and
//!   names the first few with file:line, so the user can fetch them with their own account.
//!
//! A run asks the vendor only for checks of its own partner code
//! ([`crate::store::intake::next_to_fetch`]). A check of the run's account that still needs the
//! vendor takes the run's endpoint host (where it is asked now); a final one keeps its own.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use crate::check::UNKNOWN_ACCOUNT;
use crate::input::{IdRow, shown};
use crate::store::StoreError;

/// The account a fetch runs under (never its key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAccount {
    /// The config file's name for it; `None` for the unnamed account (flags, environment, or
    /// the file's top-level `partner_code`).
    pub name: Option<String>,
    pub partner_code: String,
    /// The host of the result endpoint it asks.
    pub endpoint_host: Option<String>,
}

impl RunAccount {
    /// How logs and summaries name it: the config's name, else the partner code.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.partner_code)
    }
}

/// An account as a person reads it: `NAME (partner code CODE)`, or `partner code CODE` for the
/// unnamed account; cleaned of control characters.
pub fn describe(name: Option<&str>, partner_code: &str) -> String {
    crate::text::clean(&match name {
        Some(name) => format!("{name} (partner code {partner_code})"),
        None => format!("partner code {partner_code}"),
    })
}

/// Records `account` as the account of `run`.
pub fn record_run(conn: &Connection, run: i64, account: &RunAccount) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE runs SET account = ?2, partner_code = ?3, endpoint_host = ?4 WHERE id = ?1",
        params![
            run,
            account.name,
            account.partner_code,
            account.endpoint_host
        ],
    )?;
    Ok(())
}

/// Ids of another account a run set aside, counted, with the first few described.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OtherAccount {
    /// Input rows naming an id another partner code read first (each mention counts).
    pub rows: u64,
    /// Of those, the rows whose check still needs the vendor under its own account: this
    /// input is not finished until that account's run asks for them.
    pub open: u64,
    /// The first few, as `file:line: "id" belongs to partner code Y (first read at file:line)`.
    pub examples: Vec<String>,
}

/// Rows of another account quoted in the warning.
const OTHER_ACCOUNT_EXAMPLES: usize = 3;

/// Whether any check belongs to a partner code other than `account`'s and `unknown`: when none
/// does (a database of one account), no input row can be another account's and registering
/// skips the look-up. Three range probes on the partner code index, each stopping at its first
/// row, so the answer costs the same for a thousand checks or a million.
pub(crate) fn other_accounts_exist(
    conn: &Connection,
    account: &RunAccount,
) -> Result<bool, rusqlite::Error> {
    let (low, high) = if account.partner_code.as_str() < UNKNOWN_ACCOUNT {
        (account.partner_code.as_str(), UNKNOWN_ACCOUNT)
    } else {
        (UNKNOWN_ACCOUNT, account.partner_code.as_str())
    };
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM checks WHERE partner_code < ?1)
             OR EXISTS (SELECT 1 FROM checks WHERE partner_code > ?1 AND partner_code < ?2)
             OR EXISTS (SELECT 1 FROM checks WHERE partner_code > ?2)",
        params![low, high],
        |r| r.get(0),
    )
}

/// Warns when `--account NAME` chose the config's section NAME while the database also holds
/// checks recorded under partner code NAME (another account): NAME means the section, and the
/// user may have meant the code.
pub(crate) fn warn_if_name_is_a_recorded_code(
    conn: &Connection,
    account: &RunAccount,
) -> Result<(), rusqlite::Error> {
    let Some(name) = account.name.as_deref() else {
        return Ok(());
    };
    if name == account.partner_code {
        return Ok(());
    }
    let recorded: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM checks WHERE partner_code = ?1)",
        [name],
        |r| r.get(0),
    )?;
    if recorded {
        warn_name_shadows_code(name, &account.partner_code);
    }
    Ok(())
}

/// The warning of [`warn_if_name_is_a_recorded_code`].
pub(crate) fn warn_name_shadows_code(name: &str, section_code: &str) {
    tracing::warn!(
        "{} {name} means the config file's [accounts.{name}] (partner code \
         {section_code}), but the database also holds checks of partner code {name}; rename \
         that section so the two cannot be confused",
        crate::setting::Setting::Account
    );
}

/// Whether any check is still recorded as `unknown` (read before accounts were recorded).
pub(crate) fn unknown_exist(conn: &Connection) -> Result<bool, rusqlite::Error> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM checks WHERE partner_code = ?1)",
        [UNKNOWN_ACCOUNT],
        |r| r.get(0),
    )
}

/// Adopts the checks of `rows` recorded as `unknown` for `account` (its partner code, and its
/// endpoint host for those that still need the vendor); returns how many. Their state is kept: a final one is not asked again.
/// (`+partner_code`: the rows are found by id, never by walking every `unknown` check.)
pub(crate) fn adopt_unknown(
    conn: &Connection,
    account: &RunAccount,
    rows: &[IdRow],
) -> Result<u64, rusqlite::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let marks = vec!["?"; rows.len()].join(", ");
    // Where a final check was answered was never recorded: its host stays unknown rather than
    // name the run's. One that still needs the vendor is asked at the run's host.
    let mut stmt = conn.prepare_cached(&format!(
        "UPDATE checks SET partner_code = ?,
             endpoint_host = CASE WHEN {needs_vendor} THEN ? ELSE endpoint_host END
         WHERE +partner_code = ? AND liveness_id IN ({marks})",
        needs_vendor = crate::check::NEEDS_VENDOR_SQL,
    ))?;
    let params = [
        &account.partner_code as &dyn rusqlite::ToSql,
        &account.endpoint_host,
        &UNKNOWN_ACCOUNT,
    ]
    .into_iter()
    .chain(rows.iter().map(|r| &r.liveness_id as &dyn rusqlite::ToSql));
    Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
}

/// Checks recorded as `unknown` (read before accounts were recorded).
pub fn count_unknown(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM checks WHERE partner_code = ?1",
        [UNKNOWN_ACCOUNT],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

/// Gives every check recorded as `unknown` to `partner_code`, in one transaction; returns how
/// many. Their endpoint host stays unknown (where they were asked was never recorded), their
/// state and answers are kept, and the change log sees each (the export's cursor follows).
pub fn adopt_all_unknown(conn: &mut Connection, partner_code: &str) -> Result<u64, StoreError> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "UPDATE checks SET partner_code = ?1 WHERE partner_code = ?2",
        params![partner_code, UNKNOWN_ACCOUNT],
    )? as u64;
    tx.commit()?;
    Ok(n)
}

/// Removes from `rows` those whose id is recorded under a partner code other than
/// `account`'s (or `unknown`), and counts them in `other`. One indexed query per batch.
pub(crate) fn set_aside_other_accounts(
    conn: &Connection,
    account: &RunAccount,
    rows: &mut Vec<IdRow>,
    other: &mut OtherAccount,
) -> Result<(), rusqlite::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; rows.len()].join(", ");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT liveness_id, partner_code, source, {needs_vendor} FROM checks
         WHERE liveness_id IN ({marks}) AND partner_code NOT IN (?, ?)",
        needs_vendor = crate::check::NEEDS_VENDOR_SQL,
    ))?;
    let params = rows
        .iter()
        .map(|r| &r.liveness_id as &dyn rusqlite::ToSql)
        .chain([
            &account.partner_code as &dyn rusqlite::ToSql,
            &UNKNOWN_ACCOUNT as &dyn rusqlite::ToSql,
        ]);
    type Owner = (String, Option<String>, bool);
    let owners: HashMap<String, Owner> = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })?
        .collect::<Result<_, _>>()?;
    if owners.is_empty() {
        return Ok(());
    }
    rows.retain(|row| {
        let Some((code, first, open)) = owners.get(&row.liveness_id) else {
            return true;
        };
        other.rows += 1;
        other.open += u64::from(*open);
        if other.examples.len() < OTHER_ACCOUNT_EXAMPLES {
            other.examples.push(format!(
                "{}: \"{}\" belongs to partner code {} (first read at {})",
                row.source,
                shown(&row.liveness_id),
                shown(code),
                first.as_deref().unwrap_or("an earlier run")
            ));
        }
        false
    });
    Ok(())
}

#[cfg(test)]
mod tests;
