//! Reports over the database; they never call the vendor.
//!
//! - [`Window`]: the zone, period length and `--from`/`--to` range of a report.
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

use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::params;

use crate::setting::Setting;

pub(crate) use crate::check::{DateBy, Period, dated_within};
use crate::store::StoreError;
use crate::zone::{BadZone, Zone};

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

/// The time frame of a report.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub zone: Zone,
    pub by: Period,
    pub from: Option<Date>,
    pub to: Option<Date>,
    /// Which time dates a check.
    pub date_by: DateBy,
    /// The partner code the report is narrowed to (`--account`), if any.
    pub account: Option<String>,
}

impl Window {
    /// The window of zone name `tz` (a test's shorthand for [`Window::in_zone`]).
    #[cfg(test)]
    pub(crate) fn new(
        tz: &str,
        by: Period,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Window, ReportError> {
        Window::in_zone(Zone::parse(tz, Setting::Tz.flag())?, by, from, to)
    }

    /// The window of periods `by` in `zone` from `--from` to `--to` (dates, both optional).
    pub(crate) fn in_zone(
        zone: Zone,
        by: Period,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Window, ReportError> {
        let date = |flag: Setting, v: Option<&str>| -> Result<Option<Date>, ReportError> {
            v.map(|v| {
                v.trim()
                    .parse::<Date>()
                    .map_err(|_| bad_date(flag, v.trim()))
            })
            .transpose()
        };
        let (from, to) = (date(Setting::From, from)?, date(Setting::To, to)?);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ReportError::Range {
                from: f.to_string(),
                to: t.to_string(),
            });
        }
        Ok(Window {
            zone,
            by,
            from,
            to,
            date_by: DateBy::default(),
            account: None,
        })
    }

    /// The same window, dating checks by `date_by`.
    pub(crate) fn dated_by(mut self, date_by: DateBy) -> Window {
        self.date_by = date_by;
        self
    }

    /// The same window, narrowed to the checks of partner code `account` (all when `None`).
    pub(crate) fn for_account(mut self, account: Option<String>) -> Window {
        self.account = account;
        self
    }

    /// The SQL condition "dated within this window, of its account" (`?1`, `?2`, `?3` =
    /// [`Window::binds`]): the one window rule of [`crate::check::window_sql`] and the one
    /// account rule of [`crate::check::account_sql`].
    pub(crate) fn sql(&self) -> String {
        format!(
            "{} AND {}",
            crate::check::window_sql(self.date_by),
            crate::check::account_sql(self.account.is_some())
        )
    }

    /// The values of `?1`, `?2` and `?3` in [`Window::sql`]: the bounds and the partner code.
    pub(crate) fn binds(&self) -> (Option<i64>, Option<i64>, Option<String>) {
        let (from, to) = self.bounds_ms();
        (from, to, self.account.clone())
    }

    /// Whether the window has a bound (then undated checks are outside it).
    pub(crate) fn bounded(&self) -> bool {
        self.from.is_some() || self.to.is_some()
    }

    /// The range as Unix milliseconds: `[from 00:00, to+1 00:00)` in the zone.
    pub(crate) fn bounds_ms(&self) -> (Option<i64>, Option<i64>) {
        let start = |d: Date| {
            d.to_zoned_datetime(self.zone.tz.clone())
                .ok()
                .map(|z| z.timestamp().as_millisecond())
        };
        (
            self.from.and_then(start),
            self.to.and_then(|d| d.tomorrow().ok()).and_then(start),
        )
    }

    /// The local date of an instant.
    pub(crate) fn local_date(&self, ms: i64) -> Option<Date> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned_datetime(self.zone.tz.clone()).date())
    }

    /// The label of the period holding `date`: `2024-05-01`, `2024-W18` or `2024-05`.
    pub(crate) fn label(&self, date: Date) -> String {
        match self.by {
            Period::Day => date.to_string(),
            Period::Week => {
                let w = date.iso_week_date();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Period::Month => format!("{:04}-{:02}", date.year(), date.month()),
        }
    }

    /// Every period label from `first` to `last` (dates), gaps included, in order.
    pub(crate) fn labels_between(&self, first: Date, last: Date) -> Vec<String> {
        // Only from the first to the last period with data: none is invented after it.
        let mut labels: Vec<String> = Vec::new();
        let mut d = first;
        while d <= last {
            let label = self.label(d);
            if labels.last() != Some(&label) {
                labels.push(label);
            }
            match d.tomorrow() {
                Ok(next) => d = next,
                Err(_) => break,
            }
        }
        labels
    }

    /// Whether the period `label` is partial: not over yet (today, in the zone, falls in it or
    /// before it), or cut by the window (the day before `--from` or after `--to` is in the
    /// same period). A partial period's count is not comparable with a whole one's.
    pub(crate) fn partial(&self, label: &str) -> bool {
        let today = Timestamp::now()
            .to_zoned_datetime(self.zone.tz.clone())
            .date();
        self.partial_on(label, today)
    }

    /// [`Window::partial`] as of the day `today`.
    pub(crate) fn partial_on(&self, label: &str, today: Date) -> bool {
        if label == UNDATED {
            return false;
        }
        // Labels of one period length sort as their periods do.
        let not_over = label >= self.label(today).as_str();
        let cut = |day: Option<Date>, step: fn(Date) -> Result<Date, jiff::Error>| {
            day.and_then(|d| Some((self.label(d), self.label(step(d).ok()?))))
                .is_some_and(|(edge, beyond)| edge == label && beyond == label)
        };
        not_over || cut(self.from, Date::yesterday) || cut(self.to, Date::tomorrow)
    }

    /// An instant in the zone, to the second: `2026-10-02T22:10:52+08:00`.
    pub(crate) fn local_time(&self, ms: i64) -> String {
        self.zone.local_time(ms)
    }

    /// The first and last day of the period `label` within the window (`None` for `undated`
    /// or a label not of this window's period length).
    pub(crate) fn period_days(&self, label: &str) -> Option<(Date, Date)> {
        let (first, last) = match self.by {
            Period::Day => {
                let d: Date = label.parse().ok()?;
                (d, d)
            }
            Period::Week => {
                let (year, week) = label.split_once("-W")?;
                let monday = jiff::civil::ISOWeekDate::new(
                    year.parse().ok()?,
                    week.parse().ok()?,
                    jiff::civil::Weekday::Monday,
                )
                .ok()?
                .date();
                (monday, monday.checked_add(jiff::Span::new().days(6)).ok()?)
            }
            Period::Month => {
                let first: Date = format!("{label}-01").parse().ok()?;
                (first, first.last_of_month())
            }
        };
        let first = self.from.map_or(first, |f| f.max(first));
        let last = self.to.map_or(last, |t| t.min(last));
        (first <= last).then_some((first, last))
    }

    /// The same window narrowed to the days `first` to `last`.
    pub(crate) fn between(&self, first: Date, last: Date) -> Window {
        Window {
            from: Some(first),
            to: Some(last),
            ..self.clone()
        }
    }

    /// A line saying how checks were dated.
    pub(crate) fn describe(&self) -> String {
        let by = match self.by {
            Period::Day => "day",
            Period::Week => "ISO week",
            Period::Month => "month",
        };
        let range = match (self.from, self.to) {
            (None, None) => "all dates".to_string(),
            (Some(f), None) => format!("from {f}"),
            (None, Some(t)) => format!("up to {t}"),
            (Some(f), Some(t)) => format!("{f} to {t}"),
        };
        format!(
            "periods: {by} in {}; {range}; dated by {}",
            self.zone.name,
            self.date_by.describe()
        )
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
