//! Accounts in reports: which partner codes a database holds, and how a report names them.
//!
//! Policy: an account's identity in the records is its partner code (`unknown` for checks whose
//! account was never recorded); reports label it by the config file's name for it when the file
//! names it, else by the code. A report narrowed by `--account` reads only that partner code's
//! checks ([`super::Window::for_account`], through the one condition
//! [`crate::check::account_sql`]); a report grouped by `--by-account` computes each account on
//! its own, so every group equals the `--account` report of that account.

use serde::Serialize;

use super::ReportError;

/// How a report names one account.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AccountKey {
    /// The config file's name for it, else its partner code.
    pub account: String,
    pub partner_code: String,
}

impl AccountKey {
    /// The summary line of a report narrowed to this account.
    pub(crate) fn narrowed_line(&self) -> String {
        let who = if self.partner_code == crate::check::UNKNOWN_ACCOUNT {
            format!(
                "{} (checks whose account was never recorded)",
                self.partner_code
            )
        } else {
            self.describe()
        };
        format!("account: {who}; only its checks are counted")
    }

    /// The account as a person reads it ([`crate::store::account::describe`]).
    pub(crate) fn describe(&self) -> String {
        let name = Some(self.account.as_str()).filter(|a| *a != self.partner_code);
        crate::store::account::describe(name, &self.partner_code)
    }
}

/// The partner codes the database's checks are recorded under, in order. Each is found by one
/// lookup in the partner-code index (the next code after the last), so a million checks of
/// three accounts cost three lookups, not a scan.
pub(crate) fn partner_codes(conn: &rusqlite::Connection) -> Result<Vec<String>, ReportError> {
    let mut first = conn.prepare_cached("SELECT min(partner_code) FROM checks")?;
    let mut next =
        conn.prepare_cached("SELECT min(partner_code) FROM checks WHERE partner_code > ?1")?;
    let mut codes: Vec<String> = Vec::new();
    let mut code: Option<String> = first.query_row([], |r| r.get(0))?;
    while let Some(c) = code {
        code = next.query_row([&c], |r| r.get(0))?;
        codes.push(c);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_partner_code_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(
            &dir.path().join("a.db"),
            crate::store::OpenMode::CreateOrMigrate,
        )
        .unwrap();
        assert!(partner_codes(&store.conn).unwrap().is_empty());
        for (i, code) in ["b", "a", "b", "unknown", "a"].iter().enumerate() {
            store
                .conn
                .execute(
                    "INSERT INTO checks (liveness_id, status, partner_code) VALUES (?1, 'pending', ?2)",
                    rusqlite::params![format!("id-{i}"), code],
                )
                .unwrap();
        }
        assert_eq!(partner_codes(&store.conn).unwrap(), ["a", "b", "unknown"]);
        let key = AccountKey {
            account: "id-app".into(),
            partner_code: "acme-id".into(),
        };
        assert_eq!(
            key.narrowed_line(),
            "account: id-app (partner code acme-id); only its checks are counted"
        );
    }
}
