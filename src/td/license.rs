//! What the license API's `expiry_timestamp` means, and when a license is worth a warning.
//!
//! Policy: the vendor documents the field as Unix seconds (e.g. 1715667188). A value of
//! 10^11 or more cannot be seconds of any license (the year 5138) but is milliseconds of a
//! recent date, so it is read as milliseconds, and said so. A value that is no time either way
//! (negative, past the year 9999) is shown as the vendor sent it. An expiry already past, or
//! far beyond the duration asked for, is warned about, never dropped silently.

/// Values at or above this are milliseconds: 10^11 s is the year 5138, 10^11 ms is 1973.
const MILLIS_FROM: i64 = 100_000_000_000;

/// An expiry further than this beyond the end of the duration asked for is "far ahead".
const FAR_AHEAD_SECS: i64 = 86_400;

/// When a license expires, as read from the vendor's `expiry_timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Unix seconds, as documented.
    Seconds(jiff::Timestamp),
    /// A value only milliseconds make sense of, read as such.
    Millis(jiff::Timestamp),
    /// No time in either unit: the value as sent.
    Unreadable(i64),
}

impl Expiry {
    /// Reads the vendor's value.
    pub fn of(value: i64) -> Expiry {
        let read = if value >= MILLIS_FROM {
            jiff::Timestamp::from_millisecond(value).map(Expiry::Millis)
        } else {
            jiff::Timestamp::from_second(value).map(Expiry::Seconds)
        };
        match read {
            Ok(e) if value >= 0 => e,
            _ => Expiry::Unreadable(value),
        }
    }

    /// The time, when there is one.
    pub fn time(self) -> Option<jiff::Timestamp> {
        match self {
            Expiry::Seconds(t) | Expiry::Millis(t) => Some(t),
            Expiry::Unreadable(_) => None,
        }
    }
}

/// What is wrong with a license's expiry, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryProblem {
    /// The license had expired before it was received.
    Expired(jiff::Timestamp),
    /// Later than the duration asked for plus a day: the value may be in another unit.
    FarAhead(jiff::Timestamp),
    /// Not a time in seconds nor in milliseconds.
    Unreadable(i64),
}

impl std::fmt::Display for ExpiryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpiryProblem::Expired(t) => write!(
                f,
                "the license expired at {} (UTC), before it was received: the vendor issued an \
                 expired license, or this machine's clock is wrong; check the clock, then run \
                 `liveaudit license` again",
                t.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
            ExpiryProblem::FarAhead(t) => write!(
                f,
                "the license expires at {} (UTC), far beyond the duration asked for: the \
                 vendor's expiry_timestamp may be in another unit",
                t.strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
            ExpiryProblem::Unreadable(v) => write!(
                f,
                "the vendor's expiry_timestamp {v} is no time in seconds or milliseconds"
            ),
        }
    }
}

/// The problem with `expiry` for a license of `asked_secs` received at `now`, if any.
pub fn problem(expiry: Expiry, asked_secs: u32, now: jiff::Timestamp) -> Option<ExpiryProblem> {
    let t = match expiry {
        Expiry::Unreadable(v) => return Some(ExpiryProblem::Unreadable(v)),
        Expiry::Seconds(t) | Expiry::Millis(t) => t,
    };
    let (at, now_s) = (t.as_second(), now.as_second());
    if at <= now_s {
        return Some(ExpiryProblem::Expired(t));
    }
    if at - now_s > i64::from(asked_secs) + FAR_AHEAD_SECS {
        return Some(ExpiryProblem::FarAhead(t));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_as_documented_milliseconds_when_only_they_make_sense() {
        assert_eq!(
            Expiry::of(1_715_667_188),
            Expiry::Seconds(jiff::Timestamp::from_second(1_715_667_188).unwrap())
        );
        assert_eq!(
            Expiry::of(1_715_667_188_000),
            Expiry::Millis(jiff::Timestamp::from_second(1_715_667_188).unwrap())
        );
        assert_eq!(Expiry::of(-5), Expiry::Unreadable(-5));
        assert_eq!(Expiry::of(i64::MAX), Expiry::Unreadable(i64::MAX));
    }

    #[test]
    fn expired_and_far_ahead_licenses_are_problems() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let at = |s: i64| Expiry::Seconds(jiff::Timestamp::from_second(s).unwrap());
        assert_eq!(problem(at(1_800_000_600), 600, now), None);
        assert!(matches!(
            problem(at(1_799_999_000), 600, now),
            Some(ExpiryProblem::Expired(_))
        ));
        assert!(matches!(
            problem(Expiry::of(99_999_999_999_999), 600, now),
            Some(ExpiryProblem::FarAhead(_))
        ));
        assert_eq!(problem(at(1_800_000_000 + 600 + 86_400), 600, now), None);
    }
}
