//! The time budget of a fetch: `--max-duration` and `--until`, turned into one cut-off.
//!
//! Policy: a budget is validated before anything is sent. `--max-duration` counts from the
//! start of the command; `--until HH:MM` is the next such wall-clock time in the zone given
//! (today if still ahead, else tomorrow; a time skipped by a DST change moves forward). With
//! both, the earlier wins. At the cut-off the fetch stops taking ids, lets requests in flight
//! land within the usual stop grace, saves, and ends with "cut off" (exit 4); the next run picks
//! up the ids left.
//!
//! A night's `--until` also closes its window: a night may start at most [`NIGHT_WINDOW`]
//! (12 hours) before its cut-off. A night started later than that, when the next such time is
//! more than 12 hours away (the time passed less than 12 hours ago: a night missed while the
//! machine was off and made up at boot in the morning), is over before it starts
//! ([`NightBudget::Over`]): it reads no file and sends no request, rather than run through the
//! business day against the vendor's rate limit until the next night's cut-off.

use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, ToSpan, ZonedDateTime};

use crate::setting::Setting;

/// A budget flag that cannot be used, naming the flag and the accepted form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum ScheduleError {
    #[error(
        "{max_duration_flag} {0:?} is not a duration; use a positive amount such as 2h, 90m, 1h30m \
         or 45s",
        max_duration_flag = Setting::MaxDuration
    )]
    Duration(String),
    #[error("{until_flag} {0:?} is not a time of day; use HH:MM (24-hour), such as 05:30", until_flag = Setting::Until)]
    TimeOfDay(String),
    #[error("{until_flag} {0}: no such time follows now in {1}", until_flag = Setting::Until)]
    NoSuchTime(String, String),
}

/// When a run must stop taking ids.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cutoff {
    /// How long after `now` the cut-off falls.
    pub after: Duration,
    /// The cut-off as a time (for logs and the run summary).
    pub at: Timestamp,
}

/// Parses a `--max-duration` value: a positive friendly duration (`2h`, `1h30m`, `45s`) or an
/// ISO 8601 one (`PT2H`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, ScheduleError> {
    let bad = || ScheduleError::Duration(text.to_string());
    let d: SignedDuration = text.trim().parse().map_err(|_| bad())?;
    if d.is_negative() || d.is_zero() {
        return Err(bad());
    }
    Duration::try_from(d).map_err(|_| bad())
}

/// Parses a `--until` value (`HH:MM`, or `HH:MM:SS`).
pub(crate) fn parse_time_of_day(text: &str) -> Result<Time, ScheduleError> {
    let t = text.trim();
    let well_formed = matches!(t.len(), 5 | 8) && t.as_bytes()[2] == b':';
    if !well_formed {
        return Err(ScheduleError::TimeOfDay(text.to_string()));
    }
    t.parse::<Time>()
        .map_err(|_| ScheduleError::TimeOfDay(text.to_string()))
}

/// The next `time` in `zone` strictly after `now`.
pub(crate) fn next_time_of_day(
    text: &str,
    time: Time,
    zone: &TimeZone,
    now: Timestamp,
) -> Result<Timestamp, ScheduleError> {
    let none = || ScheduleError::NoSuchTime(text.to_string(), zone_name(zone));
    let here = now.to_zoned_datetime(zone.clone());
    let today = here.date().to_datetime(time);
    // Compatible disambiguation: a time inside a DST gap moves forward, a repeated one takes
    // its first occurrence.
    let candidate: ZonedDateTime = today.to_zoned_datetime(zone.clone()).map_err(|_| none())?;
    if candidate.timestamp() > now {
        return Ok(candidate.timestamp());
    }
    let tomorrow = today.checked_add(1.day()).map_err(|_| none())?;
    Ok(tomorrow
        .to_zoned_datetime(zone.clone())
        .map_err(|_| none())?
        .timestamp())
}

fn zone_name(zone: &TimeZone) -> String {
    zone.iana_name().unwrap_or("the given zone").to_string()
}

/// The cut-off from the flags, the earlier of the two when both are given; `None` without
/// either.
pub(crate) fn cutoff(
    max_duration: Option<&str>,
    until: Option<&str>,
    zone: &TimeZone,
    now: Timestamp,
) -> Result<Option<Cutoff>, ScheduleError> {
    let mut best: Option<Cutoff> = None;
    if let Some(text) = max_duration {
        let after = parse_duration(text)?;
        let at = SignedDuration::try_from(after)
            .ok()
            .and_then(|d| now.checked_add(d).ok())
            .ok_or_else(|| ScheduleError::Duration(text.to_string()))?;
        best = Some(Cutoff { after, at });
    }
    if let Some(text) = until {
        let time = parse_time_of_day(text)?;
        let at = next_time_of_day(text, time, zone, now)?;
        let after = Duration::try_from(at.duration_since(now)).unwrap_or_default();
        if best.as_ref().is_none_or(|b| after < b.after) {
            best = Some(Cutoff { after, at });
        }
    }
    Ok(best)
}

/// The longest a night may run up to its `--until`: a night starting when the next such time
/// is further away than this started after its window closed.
pub(crate) const NIGHT_WINDOW: Duration = Duration::from_secs(12 * 3600);

/// A night's budget: its cut-off, or its window already over.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NightBudget {
    /// The night runs, up to the cut-off if there is one.
    Open(Option<Cutoff>),
    /// The `--until` time passed at `passed` (less than `24h - NIGHT_WINDOW` ago).
    Over { passed: Timestamp },
}

/// A night's budget: [`cutoff`], unless `--until`'s next time is more than [`NIGHT_WINDOW`]
/// ahead of `now` (module doc).
pub(crate) fn night_budget(
    max_duration: Option<&str>,
    until: Option<&str>,
    zone: &TimeZone,
    now: Timestamp,
) -> Result<NightBudget, ScheduleError> {
    let budget = cutoff(max_duration, until, zone, now)?;
    if let Some(text) = until {
        let next = next_time_of_day(text, parse_time_of_day(text)?, zone, now)?;
        let ahead = Duration::try_from(next.duration_since(now)).unwrap_or_default();
        if ahead > NIGHT_WINDOW {
            let passed = next
                .to_zoned_datetime(zone.clone())
                .checked_sub(1.day())
                .map_or(next, |z| z.timestamp());
            return Ok(NightBudget::Over { passed });
        }
    }
    Ok(NightBudget::Open(budget))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn durations_in_friendly_and_iso_forms() {
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("PT2H").unwrap(), Duration::from_secs(7200));
        for bad in ["", "2 parsecs", "-1h", "0s", "soon"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn until_is_the_next_such_time_in_the_zone() {
        let jakarta = TimeZone::get("Asia/Jakarta").unwrap(); // UTC+7, no DST
        let t = parse_time_of_day("05:30").unwrap();
        // 20:00 UTC = 03:00 in Jakarta: 05:30 is later the same local day.
        let at = next_time_of_day("05:30", t, &jakarta, ts("2024-05-01T20:00:00Z")).unwrap();
        assert_eq!(at, ts("2024-05-01T22:30:00Z"));
        // 23:00 UTC = 06:00 in Jakarta: 05:30 has passed, so tomorrow's.
        let at = next_time_of_day("05:30", t, &jakarta, ts("2024-05-01T23:00:00Z")).unwrap();
        assert_eq!(at, ts("2024-05-02T22:30:00Z"));
    }

    #[test]
    fn until_inside_a_dst_gap_moves_forward() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let t = parse_time_of_day("02:30").unwrap();
        // 2024-03-10 02:30 does not exist in New York; 03:30 EDT = 07:30 UTC.
        let at = next_time_of_day("02:30", t, &ny, ts("2024-03-10T05:00:00Z")).unwrap();
        assert_eq!(at, ts("2024-03-10T07:30:00Z"));
    }

    #[test]
    fn bad_times_of_day_are_refused() {
        for bad in ["5:30", "25:00", "05:61", "0530", "noon", "05:30pm"] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
        assert!(parse_time_of_day("23:59").is_ok());
    }

    #[test]
    fn a_night_started_after_its_window_is_over() {
        let utc = TimeZone::UTC;
        let budget = |now: &str| night_budget(None, Some("05:30"), &utc, ts(now)).unwrap();
        // The timer's 01:00: 4h30m to go.
        let NightBudget::Open(Some(c)) = budget("2024-05-01T01:00:00Z") else {
            panic!("01:00 is within the night's window");
        };
        assert_eq!(c.at, ts("2024-05-01T05:30:00Z"));
        // Made up at boot at 09:00: 05:30 passed 3h30m ago, the next is 20h30m away.
        assert_eq!(
            budget("2024-05-01T09:00:00Z"),
            NightBudget::Over {
                passed: ts("2024-05-01T05:30:00Z")
            }
        );
        // 12 hours before the cut-off is the window's first moment; a minute earlier is not.
        assert!(matches!(
            budget("2024-05-01T17:30:00Z"),
            NightBudget::Open(_)
        ));
        assert!(matches!(
            budget("2024-05-01T17:29:00Z"),
            NightBudget::Over { .. }
        ));
        // Without --until there is no window.
        let open = night_budget(Some("2h"), None, &utc, ts("2024-05-01T09:00:00Z")).unwrap();
        assert!(matches!(open, NightBudget::Open(Some(_))));
    }

    #[test]
    fn the_earlier_cutoff_wins() {
        let utc = TimeZone::UTC;
        let now = ts("2024-05-01T04:00:00Z");
        let c = cutoff(Some("2h"), Some("05:30"), &utc, now)
            .unwrap()
            .unwrap();
        assert_eq!(c.at, ts("2024-05-01T05:30:00Z"));
        assert_eq!(c.after, Duration::from_secs(5400));
        let c = cutoff(Some("1h"), Some("05:30"), &utc, now)
            .unwrap()
            .unwrap();
        assert_eq!(c.after, Duration::from_secs(3600));
        assert_eq!(cutoff(None, None, &utc, now).unwrap(), None);
    }
}
