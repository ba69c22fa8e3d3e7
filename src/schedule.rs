//! The time budget of a fetch: `--max-duration` and `--until`, turned into one cut-off.
//!
//! Policy: a budget is validated before anything is sent. `--max-duration` counts from the
//! start of the command; `--until HH:MM` is the next such wall-clock time in the zone given
//! (today if still ahead, else tomorrow; a time skipped by a DST change moves forward). With
//! both, the earlier wins. At the cut-off the fetch stops taking ids, lets requests in flight
//! land within the usual stop grace, saves, and ends with "cut off" (exit 4); the next run picks
//! up the ids left.

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
