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
        } else if self.account == self.partner_code {
            format!("partner code {}", self.partner_code)
        } else {
            format!("{} (partner code {})", self.account, self.partner_code)
        };
        format!("account: {who}; only its checks are counted")
    }
}

/// The partner codes the database's checks are recorded under, in order (read from the
/// partner-code index, not the table).
pub(crate) fn partner_codes(conn: &rusqlite::Connection) -> Result<Vec<String>, ReportError> {
    let mut stmt =
        conn.prepare("SELECT DISTINCT partner_code FROM checks ORDER BY partner_code")?;
    let codes = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(codes)
}
