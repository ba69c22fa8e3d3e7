//! A report's time frame ([`Window`]): its zone, period length, `--from`/`--to` days, the time
//! that dates a check and the account it is narrowed to. Policy: `--from`/`--to` are parsed and
//! checked once, here; every report and reconcile takes its SQL bounds, period labels, partial
//! periods and local times from the window, so their days agree.

use jiff::Timestamp;
use jiff::civil::Date;

use super::{MAX_PERIODS, ReportError, UNDATED, bad_date};
use crate::check::{DateBy, Period};
use crate::setting::Setting;
use crate::zone::Zone;

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

    /// The first day of the period holding `date` (its Monday for a week, the 1st for a month).
    pub(crate) fn period_start(&self, date: Date) -> Date {
        match self.by {
            Period::Day => date,
            Period::Week => date
                .checked_sub(jiff::Span::new().days(date.weekday().to_monday_zero_offset()))
                .unwrap_or(date),
            Period::Month => date.first_of_month(),
        }
    }

    /// The `n` whole periods before the one holding `--from`, as a window of their days (of
    /// this window's zone, dating and account); `None` when nothing is before the window (no
    /// `--from`). Reaching past the earliest date jiff knows leaves the start open.
    pub(crate) fn periods_before(&self, n: usize) -> Option<Window> {
        let first = self.period_start(self.from?);
        let n = i64::try_from(n).unwrap_or(i64::MAX).min(MAX_PERIODS);
        let back = match self.by {
            Period::Day => jiff::Span::new().try_days(n),
            Period::Week => jiff::Span::new().try_weeks(n),
            Period::Month => jiff::Span::new().try_months(n),
        };
        let from = back.ok().and_then(|span| first.checked_sub(span).ok());
        Some(Window {
            from,
            to: Some(first.yesterday().ok()?),
            ..self.clone()
        })
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
