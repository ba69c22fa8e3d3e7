//! A statement's columns: the names each kind of column goes by (compared lower-case without
//! punctuation), the flags that name them when the guess is wrong, and the finder that matches
//! a header against both (a flag's column must exist; a guess may find nothing).

use super::StatementError;

/// Column names to look for (compared lower-case without punctuation).
pub(super) const ID_NAMES: &[&str] = &["livenessid", "livenessdetectionid", "id"];
pub(super) const SEQ_NAMES: &[&str] = &[
    "sequenceid",
    "seqid",
    "sequence",
    "requestid",
    "transactionid",
];
pub(super) const TIME_NAMES: &[&str] = &[
    "billedat",
    "createdat",
    "eventtime",
    "timestamp",
    "datetime",
    "time",
    "date",
    "createtime",
    "transactiontime",
    "day",
];
pub(super) const CODE_NAMES: &[&str] = &["code", "resultcode", "statuscode"];
pub(super) const PARTNER_NAMES: &[&str] = &["partnercode", "partnerid", "partner"];
pub(super) const CURRENCY_NAMES: &[&str] = &["currency", "ccy", "currencycode"];
pub(super) const AMOUNT_NAMES: &[&str] = &[
    "amount", "fee", "charge", "cost", "price", "total", "subtotal",
];
pub(super) const COUNT_NAMES: &[&str] = &[
    "count", "checks", "quantity", "qty", "volume", "calls", "billed", "units",
];
pub(super) const PERIOD_NAMES: &[&str] = &[
    "period",
    "month",
    "date",
    "day",
    "billingdate",
    "billingmonth",
];

/// Flags naming statement columns.
#[derive(Debug, Clone, Default)]
pub(crate) struct StatementColumns {
    pub id: Option<String>,
    pub sequence: Option<String>,
    pub time: Option<String>,
    pub code: Option<String>,
    pub amount: Option<String>,
    pub count: Option<String>,
    pub period: Option<String>,
    /// The partner code column of a statement that covers several accounts.
    pub partner: Option<String>,
    /// Read only the lines of this partner code (lines without one are read too); the others
    /// are left out, not reported as malformed.
    pub only_partner: Option<String>,
    /// The currency column.
    pub currency: Option<String>,
    /// The currency our prices are in: a line in another one stops the read (exit 2).
    pub expect_currency: Option<String>,
}

/// A header as an error shows it: each name escaped and cut short, at most 12 names, so a file
/// that is not a statement never puts raw bytes on the terminal.
pub(super) fn shown_headers(headers: &[String]) -> String {
    const MAX: usize = 12;
    let mut shown: Vec<String> = headers
        .iter()
        .take(MAX)
        .map(|h| crate::input::shown(h))
        .collect();
    if headers.len() > MAX {
        shown.push(format!("… {} more", headers.len() - MAX));
    }
    shown.join(", ")
}

pub(super) fn norm(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Finds columns in one header.
pub(super) struct Finder<'a> {
    pub(super) headers: &'a [String],
    pub(super) normalised: Vec<String>,
    pub(super) file: &'a str,
}

impl Finder<'_> {
    pub(super) fn find(
        &self,
        flag: &Option<String>,
        names: &[&str],
    ) -> Result<Option<usize>, StatementError> {
        if let Some(name) = flag {
            let wanted = norm(name);
            return self
                .normalised
                .iter()
                .position(|h| *h == wanted)
                .map(Some)
                .ok_or_else(|| StatementError::Column {
                    file: self.file.to_string(),
                    name: name.clone(),
                    headers: shown_headers(self.headers),
                });
        }
        Ok(names
            .iter()
            .find_map(|n| self.normalised.iter().position(|h| h == n)))
    }
}
