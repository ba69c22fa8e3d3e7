//! Reading the input's time column: the user's `--time-format`s (strftime, tried in order), then
//! the built-in forms of `crate::timestamp`.
//!
//! Policy: a day/month order is never guessed. `26/10/2026` is read only through a format that
//! says `%d/%m/%Y`; the suggestion offered for unreadable times names the order only when a
//! value proves it (a first number above 12 is a day), and gives both otherwise. A time that
//! reads but lies outside [`implausible`] (before 2000, or more than a day after the run started:
//! a typo'd year such as `0026` or `9026`) is no event time: it is treated as an unreadable one,
//! so it stops the run unless `--bad-times fetch-time` dates the check by its fetch time.

use jiff::fmt::strtime;
use jiff::tz::TimeZone;

use crate::setting::Setting;

/// The setting the advice on unreadable times names.
const TIME_FORMAT: Setting = Setting::TimeFormat;

use crate::timestamp::parse_instant_ms;

/// The earliest event time accepted: 2000-01-01T00:00:00Z (no liveness check is older).
pub const EARLIEST_EVENT_MS: i64 = 946_684_800_000;
/// How far past the run's start an event time may lie (clocks and zones disagree by hours).
pub const FUTURE_SLACK_MS: i64 = 86_400_000;

/// Why a readable time is no event time: `None` when it lies in the window from
/// [`EARLIEST_EVENT_MS`] to a day after `now_ms`.
pub fn implausible(ms: i64, now_ms: i64) -> Option<&'static str> {
    if ms < EARLIEST_EVENT_MS {
        Some("before 2000")
    } else if ms > now_ms.saturating_add(FUTURE_SLACK_MS) {
        Some("more than a day in the future")
    } else {
        None
    }
}

/// Parses `text` with the first of `formats` that reads it, else the built-in forms.
pub fn parse_time(text: &str, formats: &[String], zone: &TimeZone) -> Option<i64> {
    let text = text.trim();
    for format in formats {
        let Ok(parsed) = strtime::parse(format, text) else {
            continue;
        };
        if parsed.offset().is_some()
            && let Ok(ts) = parsed.to_timestamp()
        {
            return Some(ts.as_millisecond());
        }
        let civil = parsed.to_datetime().or_else(|_| {
            parsed
                .to_date()
                .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
        });
        if let Ok(dt) = civil {
            return dt
                .to_zoned_datetime(zone.clone())
                .ok()
                .map(|z| z.timestamp().as_millisecond());
        }
    }
    parse_instant_ms(text, zone)
}

/// Checks a `--time-format` before anything is read: it must format a time (known directives)
/// and name a year.
pub fn check_format(format: &str) -> Result<(), String> {
    let sample = jiff::civil::date(2026, 10, 26)
        .at(14, 5, 6, 0)
        .to_zoned_datetime(TimeZone::UTC)
        .map_err(|e| e.to_string())?;
    strtime::format(format, &sample)
        .map_err(|e| format!("{TIME_FORMAT} {format:?} is not a strftime format: {e}"))?;
    if !["%Y", "%y", "%F", "%D", "%s", "%G", "%g"]
        .iter()
        .any(|d| format.contains(d))
    {
        return Err(format!(
            "{TIME_FORMAT} {format:?} has no year (%Y, %y, %F or %s); a time without a year \
             cannot date a check"
        ));
    }
    Ok(())
}

/// What unreadable times look like: enough to suggest a `--time-format` without guessing.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShapeEvidence {
    /// The first value of the form `A?B?YYYY...`, reduced to its shape (digits kept).
    pub first: Option<String>,
    /// Some value had a first number above 12 (so the day comes first).
    pub day_first_seen: bool,
    /// Some value had a second number above 12 (so the month comes first).
    pub month_first_seen: bool,
}

impl ShapeEvidence {
    /// Takes note of one unreadable time's shape.
    pub fn observe(&mut self, text: &str) {
        let Some((a, b, _)) = numeric_date(text.trim()) else {
            return;
        };
        if self.first.is_none() {
            self.first = Some(text.trim().to_string());
        }
        self.day_first_seen |= a > 12;
        self.month_first_seen |= b > 12;
    }

    /// A suggested `--time-format`, or advice when nothing fits.
    pub fn suggestion(&self) -> String {
        let Some(first) = &self.first else {
            return format!(
                "give their format with {TIME_FORMAT} (strftime, e.g. '%d/%m/%Y %H:%M'; \
                 several allowed, tried in order)"
            );
        };
        let Some((_, _, sep)) = numeric_date(first) else {
            return String::new();
        };
        let year = if first
            .split(sep)
            .nth(2)
            .is_some_and(|y| y.chars().take_while(char::is_ascii_digit).count() == 2)
        {
            "%y"
        } else {
            "%Y"
        };
        let time = match first
            .split_once([' ', 'T'])
            .map(|(_, t)| t.matches(':').count())
        {
            Some(1) => " %H:%M",
            Some(2) => " %H:%M:%S",
            _ => "",
        };
        let day_first = format!("%d{sep}%m{sep}{year}{time}");
        let month_first = format!("%m{sep}%d{sep}{year}{time}");
        match (self.day_first_seen, self.month_first_seen) {
            (true, false) => format!("give their format: {TIME_FORMAT} '{day_first}'"),
            (false, true) => format!("give their format: {TIME_FORMAT} '{month_first}'"),
            (true, true) => format!(
                "the values mix day-first and month-first dates; fix the column, or give both \
                 forms with {TIME_FORMAT} '{day_first}' only if one is certain"
            ),
            (false, false) => format!(
                "day and month cannot be told apart from these values: give {TIME_FORMAT} \
                 '{day_first}' (day first) or {TIME_FORMAT} '{month_first}' (month first)"
            ),
        }
    }
}

/// `A<sep>B<sep>YYYY...` with numbers A and B: the two leading numbers and the separator.
fn numeric_date(text: &str) -> Option<(u32, u32, char)> {
    let sep = text.chars().find(|c| !c.is_ascii_digit())?;
    if !matches!(sep, '/' | '.' | '-') {
        return None;
    }
    let mut parts = text.splitn(3, sep);
    let a: u32 = parts.next()?.parse().ok()?;
    let b: u32 = parts.next()?.parse().ok()?;
    let rest = parts.next()?;
    let year_digits = rest.chars().take_while(char::is_ascii_digit).count();
    (a <= 31 && b <= 31 && (year_digits == 4 || year_digits == 2)).then_some((a, b, sep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_tried_in_order_then_the_built_in_forms() {
        let f = vec!["%d/%m/%Y %H:%M".to_string(), "%d.%m.%Y".to_string()];
        let jkt = TimeZone::get("Asia/Jakarta").unwrap();
        // 2026-10-26T14:05 in Jakarta is 07:05Z.
        assert_eq!(
            parse_time("26/10/2026 14:05", &f, &jkt),
            Some(1_792_998_300_000)
        );
        assert_eq!(
            parse_time("26.10.2026", &f, &TimeZone::UTC),
            Some(1_792_972_800_000)
        );
        assert_eq!(
            parse_time("2026-10-26T07:05:00Z", &f, &jkt),
            Some(1_792_998_300_000)
        );
        // Never guessed without a format.
        assert_eq!(parse_time("26/10/2026 14:05", &[], &TimeZone::UTC), None);
        assert_eq!(parse_time("01/02/2026", &[], &TimeZone::UTC), None);
        let off = vec!["%d/%m/%Y %H:%M %z".to_string()];
        assert_eq!(
            parse_time("26/10/2026 14:05 +0700", &off, &TimeZone::UTC),
            Some(1_792_998_300_000)
        );
    }

    #[test]
    fn suggestions_name_the_order_only_when_a_value_proves_it() {
        let mut e = ShapeEvidence::default();
        e.observe("01/02/2026 14:05");
        assert!(
            e.suggestion().contains("cannot be told apart"),
            "{}",
            e.suggestion()
        );
        e.observe("26/10/2026 14:05");
        assert_eq!(
            e.suggestion(),
            "give their format: --time-format '%d/%m/%Y %H:%M'"
        );
        let mut e = ShapeEvidence::default();
        e.observe("10.31.26");
        assert!(e.suggestion().contains("'%m.%d.%y'"), "{}", e.suggestion());
        let e = ShapeEvidence::default();
        assert!(e.suggestion().contains("--time-format"));
    }

    #[test]
    fn formats_are_checked() {
        assert!(check_format("%d/%m/%Y %H:%M").is_ok());
        assert!(check_format("%d/%m %H:%M").unwrap_err().contains("no year"));
        assert!(check_format("%H:%M").is_err());
    }
}
