//! Reports over the database; they never call the vendor.
//!
//! - [`Window`] (`window.rs`): the zone, period length and `--from`/`--to` range of a report.
//! - [`load_quarter_hours`]: the aggregate query billing and reconcile start from (the attack
//!   report scans the table once itself, since it needs scores and attributes no index holds).
//! - [`billing`]: charged vs uncharged for finance. [`attacks`]: attack analysis for fraud teams.
//! - [`render`]: laying a computed report out as table, CSV, JSON, Markdown, HTML or
//!   an Excel workbook (`render::xlsx`).
//! - [`accounts`]: which partner codes the checks are recorded under; a [`Window`] narrowed by
//!   [`Window::for_account`] reads one account's checks, in every query of every report.
//!
//! Policy: a check belongs to a period by the time [`DateBy`] names (by default its event time
//! from the input; a check without one is in the period `undated`, never silently dated by its
//! fetch time); every report says which basis it used and how many checks were undated. Time zones
//! move day boundaries, so SQLite first aggregates per UTC quarter hour (every real zone's
//! offset is a multiple of 15 minutes) and the quarter hours are then assigned to local periods: a
//! million checks become a few thousand rows before any time zone arithmetic.

pub(crate) mod accounts;
pub(crate) mod attacks;
pub(crate) mod attrs;
pub(crate) mod billing;
pub(crate) mod checks;
#[cfg(test)]
mod properties;
pub(crate) mod reconcile;
pub(crate) mod render;
pub(crate) mod scope;
mod window;
pub(crate) use window::Window;

use jiff::civil::Date;
use rusqlite::params;

use crate::setting::Setting;

pub(crate) use crate::check::{DateBy, Period, dated_within};
use crate::store::StoreError;
use crate::zone::BadZone;

/// Width of a quarter hour of the aggregate, in milliseconds (the aggregate query is written
/// from it; the index `checks_by_account_quarter_hour` of migration 0014 spells it out,
/// and the two must agree to the letter).
pub(crate) const QUARTER_HOUR_MS: i64 = 900_000;

/// A `--from`/`--to` that is not a date: a day that does not exist (`2026-02-30`) says so,
/// anything else is asked for as YYYY-MM-DD.
fn bad_date(flag: Setting, v: &str) -> ReportError {
    let parts: Vec<&str> = v.split('-').collect();
    if let [y, m, d] = parts.as_slice()
        && (y.len(), m.len(), d.len()) == (4, 2, 2)
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i16>(), m.parse::<i8>(), d.parse::<i8>())
    {
        let why = match Date::new(y, m, 1) {
            Err(_) => format!("there is no month {m}"),
            Ok(first) => format!(
                "{} has {} days",
                first.strftime("%B %Y"),
                first.days_in_month()
            ),
        };
        let _ = d;
        return ReportError::NoSuchDate {
            flag,
            value: v.to_string(),
            why,
        };
    }
    ReportError::Date {
        flag,
        value: v.to_string(),
    }
}

/// Errors of a report's options.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    #[error(transparent)]
    Zone(#[from] BadZone),
    #[error("{flag} {value:?} is not a date; use YYYY-MM-DD")]
    Date { flag: Setting, value: String },
    #[error("{flag} {value}: that day does not exist ({why})")]
    NoSuchDate {
        flag: Setting,
        value: String,
        why: String,
    },
    #[error("{from_flag} {from} is after {to_flag} {to}", from_flag = Setting::From, to_flag = Setting::To)]
    Range { from: String, to: String },
    /// More periods (gaps included) than a report lays out: a mistyped year in the data.
    #[error(
        "the checks run from {first} to {last}: {periods} {by} periods, gaps included (at most \
         {MAX_PERIODS}); a year in the data may be mistyped; narrow the report with {from_flag} and \
         {to_flag}, or give a longer {by_flag}",
        from_flag = Setting::From,
        to_flag = Setting::To,
        by_flag = Setting::By
    )]
    TooManyPeriods {
        periods: i64,
        by: &'static str,
        first: Date,
        last: Date,
    },
    /// A `--price` that is not a price (the message is `prices::BadPrice`'s).
    #[error("{0}")]
    Price(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::prices::BadPrice> for ReportError {
    fn from(e: crate::prices::BadPrice) -> Self {
        ReportError::Price(e.to_string())
    }
}

impl From<rusqlite::Error> for ReportError {
    fn from(e: rusqlite::Error) -> Self {
        ReportError::Store(StoreError::Query(e))
    }
}

/// Checks aggregated by quarter hour, time basis, status and code. The index behind the query
/// is `checks_by_account_quarter_hour` (migration 0014): the partner code, then this grouping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuarterHour {
    /// Start of the quarter hour (Unix ms); `None` for undated checks.
    pub start_ms: Option<i64>,
    /// Dated by fetch time because the input gave no event time.
    pub fallback: bool,
    pub status: Status,
    pub code: Option<i64>,
    pub count: i64,
}

/// Loads the quarter hours within the window (undated checks only when the window is open).
pub(crate) fn load_quarter_hours(
    conn: &rusqlite::Connection,
    window: &Window,
) -> Result<Vec<QuarterHour>, ReportError> {
    let (from, to, account) = window.binds();
    // Dated by event time (else fetch time), the grouping (the partner code first) matches the
    // index `checks_by_account_quarter_hour` (migration 0014) to the letter, so SQLite walks
    // the index in order instead of sorting every row; the same quarter hour of several
    // accounts comes as several rows, which every caller adds up. A check without an event
    // time is then undated unless fetch time may date it.
    let group = match window.date_by {
        DateBy::Fetch => format!("fetched_at / {QUARTER_HOUR_MS}"),
        DateBy::Event | DateBy::EventOrFetch => {
            format!("coalesce(event_time, fetched_at) / {QUARTER_HOUR_MS}")
        }
    };
    // An open window over every account keeps every check: the condition then names no
    // column, so the index still covers the query.
    let where_ = if window.bounded() {
        window.sql()
    } else {
        format!(
            "?1 IS NULL AND ?2 IS NULL AND {}",
            crate::check::account_sql(window.account.is_some())
        )
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT {group} AS q, event_time IS NULL AS fb, status, code, count(*)
         FROM checks
         WHERE {where_}
         GROUP BY partner_code, {group}, event_time IS NULL, status, code"
    ))?;
    let rows = stmt.query_map(params![from, to, account], |r| {
        let fallback: bool = r.get(1)?;
        let q: Option<i64> = r.get(0)?;
        let dated = !(fallback && window.date_by == DateBy::Event);
        Ok(QuarterHour {
            start_ms: q.filter(|_| dated).map(|q| q * QUARTER_HOUR_MS),
            fallback: fallback && dated && window.date_by == DateBy::EventOrFetch,
            status: match r.get_ref(2)? {
                rusqlite::types::ValueRef::Text(t) => Status::from_db(t),
                _ => Status::Pending,
            },
            code: r.get(3)?,
            count: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Checks left out of a bounded window because they have no time under its [`DateBy`]
/// (none for an open window, which shows them as `undated`).
pub(crate) fn undated_outside(
    conn: &rusqlite::Connection,
    window: &Window,
) -> Result<i64, ReportError> {
    if !window.bounded() {
        return Ok(0);
    }
    Ok(conn.query_row(
        &format!(
            "SELECT count(*) FROM checks WHERE {} IS NULL AND {}",
            window.date_by.time_sql(),
            crate::check::account_sql(window.account.is_some())
        ),
        params![None::<i64>, None::<i64>, window.account],
        |r| r.get(0),
    )?)
}

/// The message the vendor sent with `code`, for codes the table does not know.
pub(crate) fn vendor_message(
    conn: &rusqlite::Connection,
    code: i64,
) -> Result<Option<String>, ReportError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .query_row(
            "SELECT message FROM checks WHERE code = ?1 AND message <> '' LIMIT 1",
            params![code],
            |r| r.get(0),
        )
        .optional()?)
}

/// The most periods a report lays out, gaps included: past it the table would be mostly empty
/// rows (a check dated `0026-01-05` beside one of `2026-01-05` spans 730,000 days).
pub(crate) const MAX_PERIODS: i64 = 10_000;

/// Refuses quarter hours whose periods, from the first to the last, pass [`MAX_PERIODS`]:
/// checked before any period is laid out, so memory stays bounded whatever the dates.
pub(crate) fn check_period_count(
    window: &Window,
    quarter_hours: &[QuarterHour],
) -> Result<(), ReportError> {
    let dates = || {
        quarter_hours
            .iter()
            .filter_map(|b| b.start_ms.and_then(|ms| window.local_date(ms)))
    };
    let (Some(first), Some(last)) = (dates().min(), dates().max()) else {
        return Ok(());
    };
    let days = first
        .until(last)
        .map_or(i64::MAX, |s| i64::from(s.get_days()));
    let (periods, by) = match window.by {
        Period::Day => (days.saturating_add(1), "day"),
        Period::Week => (days / 7 + 2, "week"),
        Period::Month => (
            i64::from(last.year() - first.year()) * 12
                + i64::from(last.month() - first.month())
                + 1,
            "month",
        ),
    };
    if periods > MAX_PERIODS {
        return Err(ReportError::TooManyPeriods {
            periods,
            by,
            first,
            last,
        });
    }
    Ok(())
}

/// Per-period order: labels of dated quarter hours, gaps filled, then "undated" if any.
pub(crate) fn period_labels(window: &Window, quarter_hours: &[QuarterHour]) -> Vec<String> {
    let dates: Vec<Date> = quarter_hours
        .iter()
        .filter_map(|b| b.start_ms.and_then(|ms| window.local_date(ms)))
        .collect();
    let mut labels = match (dates.iter().min(), dates.iter().max()) {
        (Some(first), Some(last)) => window.labels_between(*first, *last),
        _ => Vec::new(),
    };
    if quarter_hours.iter().any(|b| b.start_ms.is_none()) {
        labels.push(UNDATED.to_string());
    }
    labels
}

/// The period label of checks without a time under the report's [`DateBy`].
pub(crate) const UNDATED: &str = "undated";

use crate::check::Status;

/// The label of a quarter hour's period.
pub(crate) fn quarter_hour_label(window: &Window, quarter_hour: &QuarterHour) -> String {
    quarter_hour
        .start_ms
        .and_then(|ms| window.local_date(ms))
        .map_or_else(|| UNDATED.to_string(), |d| window.label(d))
}

/// `part / whole` as a percentage with one decimal, or `-` when `whole` is 0.
pub(crate) fn percent(part: i64, whole: i64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_bounds_follow_the_zone() {
        let w = Window::new(
            "Asia/Jakarta",
            Period::Day,
            Some("2024-05-01"),
            Some("2024-05-02"),
        )
        .unwrap();
        // 2024-05-01T00:00 in Jakarta (+07) is 2024-04-30T17:00Z.
        assert_eq!(
            w.bounds_ms(),
            (Some(1_714_496_400_000), Some(1_714_669_200_000))
        );
        // 2024-04-30T18:00Z is already May 1st in Jakarta.
        let d = w.local_date(1_714_500_000_000).unwrap();
        assert_eq!(w.label(d), "2024-05-01");
        let week = Window::new("UTC", Period::Week, None, None).unwrap();
        assert_eq!(week.label("2024-12-30".parse().unwrap()), "2025-W01");
        let month = Window::new("UTC", Period::Month, None, None).unwrap();
        assert_eq!(
            month.labels_between("2024-01-31".parse().unwrap(), "2024-03-01".parse().unwrap()),
            ["2024-01", "2024-02", "2024-03"]
        );
    }

    #[test]
    fn a_period_not_over_or_cut_by_the_window_is_partial() {
        let today: Date = "2024-05-15".parse().unwrap();
        let week = Window::new("UTC", Period::Week, None, Some("2024-05-08")).unwrap();
        // 2024-05-15 is in W20; --to 2024-05-08 (a Wednesday) cuts W19.
        assert!(week.partial_on("2024-W20", today));
        assert!(week.partial_on("2024-W19", today));
        assert!(!week.partial_on("2024-W18", today));
        assert!(!week.partial_on(UNDATED, today));
        let month = Window::new("UTC", Period::Month, Some("2024-03-01"), None).unwrap();
        assert!(
            !month.partial_on("2024-03", today),
            "--from on the first cuts nothing"
        );
        assert!(month.partial_on("2024-05", today));
        let day = Window::new("UTC", Period::Day, Some("2024-05-02"), None).unwrap();
        assert!(!day.partial_on("2024-05-02", today), "a day is never cut");
    }

    #[test]
    fn the_periods_before_the_window_are_whole_periods() {
        let date = |s: &str| Some(s.parse::<Date>().unwrap());
        let before = |by, from: Option<&str>, n| {
            Window::new("UTC", by, from, Some("2024-05-20"))
                .unwrap()
                .periods_before(n)
                .map(|w| (w.from, w.to))
        };
        assert_eq!(
            before(Period::Day, Some("2024-05-02"), 7),
            Some((date("2024-04-25"), date("2024-05-01")))
        );
        // 2024-05-15 is a Wednesday of W20: the two weeks before its Monday.
        assert_eq!(
            before(Period::Week, Some("2024-05-15"), 2),
            Some((date("2024-04-29"), date("2024-05-12")))
        );
        assert_eq!(
            before(Period::Month, Some("2024-03-10"), 2),
            Some((date("2024-01-01"), date("2024-02-29")))
        );
        assert_eq!(
            before(Period::Day, None, 7),
            None,
            "nothing is before all dates"
        );
    }

    #[test]
    fn bad_options_are_named() {
        assert!(matches!(
            Window::new("Mars/Olympus", Period::Day, None, None),
            Err(ReportError::Zone(_))
        ));
        assert!(matches!(
            Window::new("UTC", Period::Day, Some("May 1"), None),
            Err(ReportError::Date {
                flag: Setting::From,
                ..
            })
        ));
        assert!(matches!(
            Window::new("UTC", Period::Day, Some("2024-05-02"), Some("2024-05-01")),
            Err(ReportError::Range { .. })
        ));
    }
}
