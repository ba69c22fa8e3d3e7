//! The domain core: what a check is, once.
//!
//! - [`Status`]: where a check stands with the vendor (`pending`, `done`, `failed`). The SQL
//!   text of each status is written here only; SQL elsewhere is built from these definitions.
//! - [`Class`]: the one classification every report, the export and the fetch counters use.
//!   From status, code and the code table in force, a check is exactly one of:
//!   `charged`, `uncharged`, `provisional` (a part of uncharged: the vendor's internal error
//!   11350, not billed, asked again by the next run), `unknown_code` (a code the table does not
//!   list: its charge is not known) or `unresolved` (no final answer yet: pending or failed).
//! - [`needs_vendor`]: which checks a fetch asks (again): not done, or held at 11350.
//! - [`Period`] and [`DateBy`]: the period length of reports and the time a check is dated by.
//!   By default a check is dated by its event time from the input; a check without one is
//!   `undated`, never silently dated by when it was fetched (`--date-by` chooses otherwise).
//! - [`UNKNOWN_ACCOUNT`]: the partner code of checks whose account was never recorded.

use std::fmt;

use serde::Serialize;

use crate::codes::CodeTable;

/// The vendor's "internal error" code: retried within a run, stored if it persists, not billed,
/// and asked again by the next run.
pub(crate) const INTERNAL_ERROR: i64 = 11350;

/// The partner code of a check whose account was never recorded (fetched before liveaudit
/// recorded accounts). A run under a known account that reads the same id again adopts it.
pub(crate) const UNKNOWN_ACCOUNT: &str = "unknown";

/// Where a check stands with the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Registered from an input, not answered yet.
    Pending,
    /// The vendor gave a code (final, or 11350 kept after the last retry).
    Done,
    /// Retries ran out without a code.
    Failed,
}

impl Status {
    pub(crate) const ALL: [Status; 3] = [Status::Pending, Status::Done, Status::Failed];

    /// The text stored in `checks.status`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Done => "done",
            Status::Failed => "failed",
        }
    }

    /// The status stored as `text`; anything else reads as pending (not answered).
    pub(crate) fn from_db(text: &[u8]) -> Status {
        match text {
            b"done" => Status::Done,
            b"failed" => Status::Failed,
            _ => Status::Pending,
        }
    }

    /// The status as an SQL string literal (`'done'`).
    pub(crate) fn sql(self) -> String {
        format!("'{}'", self.as_str())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a check is, for billing and every other count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Class {
    /// Done with a code the table bills.
    Charged,
    /// Done with a code the table does not bill (other than 11350).
    Uncharged,
    /// Done, but held at 11350: not billed, asked again by the next fetch. A part of uncharged.
    Provisional,
    /// Done with a code the table does not list: whether it is billed is not known.
    UnknownCode,
    /// No final answer yet (pending, or failed without a code).
    Unresolved,
}

impl Class {
    /// The name reports print and JSON carries.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Class::Charged => "charged",
            Class::Uncharged => "uncharged",
            Class::Provisional => "provisional",
            Class::UnknownCode => "unknown_code",
            Class::Unresolved => "unresolved",
        }
    }

    /// Whether the vendor bills it: `None` when not known (unknown code, no answer).
    pub(crate) fn charged(self) -> Option<bool> {
        match self {
            Class::Charged => Some(true),
            Class::Uncharged | Class::Provisional => Some(false),
            Class::UnknownCode | Class::Unresolved => None,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one classification: a check from its status, code and the code table in force.
pub(crate) fn classify(status: Status, code: Option<i64>, codes: &CodeTable) -> Class {
    match (status, code) {
        (Status::Done, Some(code)) if is_provisional(code, codes) => Class::Provisional,
        (Status::Done, Some(code)) => match codes.charged(code) {
            Some(true) => Class::Charged,
            Some(false) => Class::Uncharged,
            None => Class::UnknownCode,
        },
        _ => Class::Unresolved,
    }
}

/// 11350 is provisional unless a `--codes-file` declares it billed.
fn is_provisional(code: i64, codes: &CodeTable) -> bool {
    code == INTERNAL_ERROR && codes.charged(code) != Some(true)
}

/// The attack family a check is counted in, when it is a known attack: done, with a code the
/// table lists as an attack (family `other` when the table names none). Unknown codes are in
/// no family. The one rule of every family count here and of `liveaudit checks --family`.
pub(crate) fn attack_family(
    status: Status,
    code: Option<i64>,
    codes: &CodeTable,
) -> Option<String> {
    let code = code.filter(|_| status == Status::Done)?;
    (classify(status, Some(code), codes) != Class::UnknownCode
        && codes.category(code) == crate::codes::Category::Attack)
        .then(|| codes.family(code).unwrap_or("other").to_string())
}

/// The codes [`classify`] calls charged, as an SQL list (`NULL` when there are none).
fn charged_codes(codes: &CodeTable) -> String {
    let list: Vec<String> = codes
        .iter()
        .filter(|c| classify(Status::Done, Some(c.code), codes) == Class::Charged)
        .map(|c| c.code.to_string())
        .collect();
    if list.is_empty() {
        "NULL".into()
    } else {
        list.join(",")
    }
}

/// [`classify`]`== Charged` as an SQL condition (columns qualified by `table.`, maybe empty).
pub(crate) fn charged_sql(codes: &CodeTable, table: &str) -> String {
    format!(
        "({table}status = {} AND {table}code IS NOT NULL AND {table}code IN ({}))",
        Status::Done.sql(),
        charged_codes(codes)
    )
}

/// Whether a fetch asks the vendor (again) for a check: it is not done, or held at 11350. The
/// store asks it in SQL ([`NEEDS_VENDOR_SQL`]); this statement of it is what a test holds the
/// SQL to.
#[cfg(test)]
pub(crate) fn needs_vendor(status: Status, code: Option<i64>) -> bool {
    status != Status::Done || code == Some(INTERNAL_ERROR)
}

/// [`needs_vendor`] as an SQL condition over `status` and `code`.
pub(crate) const NEEDS_VENDOR_SQL: &str = "(status <> 'done' OR code IS 11350)";

/// The SQL of per-status counts `(done and final, held at 11350, failed, pending)` for
/// `store::status_counts`: sums, not GROUP BY, so memory stays flat.
pub(crate) fn status_counts_sql() -> String {
    format!(
        "coalesce(sum(status = 'done' AND code IS NOT {INTERNAL_ERROR}), 0),
         coalesce(sum(status = 'done' AND code IS {INTERNAL_ERROR}), 0),
         coalesce(sum(status = 'failed'), 0),
         coalesce(sum(status = 'pending'), 0)"
    )
}

/// Period length of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Period {
    Day,
    Week,
    Month,
}

/// Which time dates a check in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum DateBy {
    /// The event time from the input; checks without one are `undated`.
    #[default]
    Event,
    /// The event time, else the fetch time (checks without an event time are dated by when
    /// they were fetched).
    EventOrFetch,
    /// The fetch time for every check.
    Fetch,
}

impl DateBy {
    /// The SQL expression of a check's report time (NULL: undated).
    pub(crate) fn time_sql(self) -> &'static str {
        match self {
            DateBy::Event => "event_time",
            DateBy::EventOrFetch => "coalesce(event_time, fetched_at)",
            DateBy::Fetch => "fetched_at",
        }
    }

    /// A check's report time from its event and fetch times.
    pub(crate) fn time(self, event: Option<i64>, fetched: Option<i64>) -> Option<i64> {
        match self {
            DateBy::Event => event,
            DateBy::EventOrFetch => event.or(fetched),
            DateBy::Fetch => fetched,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DateBy::Event => "event",
            DateBy::EventOrFetch => "event-or-fetch",
            DateBy::Fetch => "fetch",
        }
    }

    /// How checks are dated, in words.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            DateBy::Event => "event time from the input (checks without one are undated)",
            DateBy::EventOrFetch => "event time from the input, else fetch time",
            DateBy::Fetch => "fetch time",
        }
    }
}

/// The SQL condition "dated within the window" for `date_by`: `?1`/`?2` are the window's bounds
/// in Unix ms (NULL: open). An undated check is within an open window only.
pub(crate) fn window_sql(date_by: DateBy) -> String {
    let t = date_by.time_sql();
    format!(
        "((?1 IS NULL AND ?2 IS NULL) OR ({t} IS NOT NULL
           AND (?1 IS NULL OR {t} >= ?1) AND (?2 IS NULL OR {t} < ?2)))"
    )
}

/// The SQL condition "of the report's account": the checks recorded under partner code `?3`
/// (`unknown` for those whose account was never recorded) when `narrowed`, else every check
/// (`?3` is then NULL). An account's identity in the records is its partner code. The narrowed
/// form is a plain equality so SQLite walks the account's range of an index led by the
/// partner code (migration 0010).
pub(crate) fn account_sql(narrowed: bool) -> &'static str {
    if narrowed {
        "partner_code = ?3"
    } else {
        "?3 IS NULL"
    }
}

/// [`window_sql`] for a time already read: the same rule, for scans that filter in Rust.
pub(crate) fn dated_within((from, to): (Option<i64>, Option<i64>), time: Option<i64>) -> bool {
    match time {
        Some(t) => from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e),
        None => from.is_none() && to.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn the_shipped_table_does_not_bill_an_internal_error() {
        assert_eq!(CodeTable::shipped().charged(INTERNAL_ERROR), Some(false));
    }

    #[test]
    fn every_status_and_code_is_in_exactly_one_class() {
        let codes = CodeTable::shipped();
        let cases = [
            (Status::Done, Some(200), Class::Charged),
            (Status::Done, Some(12250), Class::Charged),
            (Status::Done, Some(11340), Class::Uncharged),
            (Status::Done, Some(INTERNAL_ERROR), Class::Provisional),
            (Status::Done, Some(12299), Class::UnknownCode),
            (Status::Done, None, Class::Unresolved),
            (Status::Failed, Some(INTERNAL_ERROR), Class::Unresolved),
            (Status::Failed, None, Class::Unresolved),
            (Status::Pending, None, Class::Unresolved),
        ];
        for (status, code, class) in cases {
            assert_eq!(classify(status, code, &codes), class, "{status} {code:?}");
        }
        assert_eq!(Class::Provisional.charged(), Some(false));
    }

    #[test]
    fn sql_classification_agrees_with_rust() {
        // The shipped table, and one whose user file bills 11350 (then it is not provisional).
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("codes.csv");
        std::fs::write(
            &file,
            format!("code,message,charged,category,family\n{INTERNAL_ERROR},x,yes,error,\n"),
        )
        .unwrap();
        let billed = CodeTable::with_overrides(&file).unwrap();
        assert_eq!(
            classify(Status::Done, Some(INTERNAL_ERROR), &billed),
            Class::Charged
        );
        for codes in [CodeTable::shipped(), billed] {
            sql_agrees(&codes);
        }
    }

    fn sql_agrees(codes: &CodeTable) {
        let conn = Connection::open_in_memory().unwrap();
        let mut all_codes: Vec<Option<i64>> = codes.iter().map(|c| Some(c.code)).collect();
        all_codes.extend([None, Some(12299), Some(-1)]);
        for status in Status::ALL {
            for code in &all_codes {
                let (charged, needs): (bool, bool) = conn
                    .query_row(
                        &format!(
                            "SELECT {}, {NEEDS_VENDOR_SQL} FROM (SELECT ?1 AS status, ?2 AS code)",
                            charged_sql(codes, "")
                        ),
                        rusqlite::params![status.as_str(), code],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .unwrap();
                let rust = classify(status, *code, codes);
                assert_eq!(charged, rust == Class::Charged, "{status} {code:?}");
                assert_eq!(needs, needs_vendor(status, *code), "{status} {code:?}");
            }
        }
    }

    #[test]
    fn undated_checks_are_only_in_open_windows() {
        assert!(dated_within((None, None), None));
        assert!(!dated_within((Some(0), None), None));
        assert!(dated_within((Some(0), Some(10)), Some(0)));
        assert!(!dated_within((Some(0), Some(10)), Some(10)));
        assert_eq!(DateBy::Event.time(None, Some(5)), None);
        assert_eq!(DateBy::EventOrFetch.time(None, Some(5)), Some(5));
        assert_eq!(DateBy::Fetch.time(Some(1), Some(5)), Some(5));
    }
}
