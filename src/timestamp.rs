//! Parsing the time forms real exports and statements use into UTC instants.
//!
//! Accepted: RFC 3339 / ISO 8601 with an offset or `Z` (`T` or a space between date and time),
//! civil date-times without an offset (`2024-05-01 10:00:00`, `2024/05/01 10:00`, fractions
//! allowed) and plain dates, both read in the zone the caller gives (UTC unless the user says),
//! and Unix epochs in seconds, milliseconds or microseconds (told apart by magnitude).

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// Parses `text` to Unix milliseconds. `zone` reads forms that carry no offset.
pub(crate) fn parse_instant_ms(text: &str, zone: &TimeZone) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some(ms) = parse_epoch(text) {
        return Some(ms);
    }
    let normalised = normalise(text);
    if let Ok(ts) = normalised.parse::<Timestamp>() {
        return Some(ts.as_millisecond());
    }
    if let Ok(dt) = normalised.parse::<DateTime>() {
        return dt
            .to_zoned_datetime(zone.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    if let Ok(d) = normalised.parse::<Date>() {
        return d
            .to_zoned_datetime(zone.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond());
    }
    None
}

fn parse_epoch(text: &str) -> Option<i64> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.is_some_and(|f| !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    // 1e11 s is year 5138; 1e14 ms is year 5138: magnitudes never overlap for real data.
    let ms = match int.len() {
        0..=11 => value * 1000.0,
        12..=14 => value,
        15..=17 => value / 1000.0,
        _ => return None,
    };
    Some(ms.round() as i64)
}

fn normalise(text: &str) -> String {
    let mut s = text.replace('/', "-");
    // "2024-05-01 10:00:00" -> "2024-05-01T10:00:00" (only the date/time separator).
    if s.len() > 10 && s.as_bytes()[10] == b' ' {
        s.replace_range(10..11, "T");
    }
    // " +08:00" / " UTC" suffixes that exports write with a space.
    if let Some(stripped) = s.strip_suffix(" UTC").or_else(|| s.strip_suffix(" GMT")) {
        s = format!("{stripped}Z");
    }
    if let Some(pos) = s.rfind(" +").or_else(|| s.rfind(" -")) {
        s.remove(pos);
    }
    s
}

/// Formats Unix milliseconds as RFC 3339 UTC (`2024-05-01T10:00:00Z`, milliseconds when set).
pub(crate) fn format_utc(ms: i64) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) if ms % 1000 == 0 => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> Option<i64> {
        parse_instant_ms(text, &TimeZone::UTC)
    }

    #[test]
    fn forms_real_exports_use() {
        let t = 1_714_557_600_000; // 2024-05-01T10:00:00Z
        assert_eq!(utc("2024-05-01T10:00:00Z"), Some(t));
        assert_eq!(utc("2024-05-01T18:00:00+08:00"), Some(t));
        assert_eq!(utc("2024-05-01 18:00:00+08:00"), Some(t));
        assert_eq!(utc("2024-05-01 18:00:00 +08:00"), Some(t));
        assert_eq!(utc("2024-05-01 10:00:00"), Some(t));
        assert_eq!(utc("2024-05-01 10:00:00 UTC"), Some(t));
        assert_eq!(utc("2024/05/01 10:00:00"), Some(t));
        assert_eq!(utc("2024-05-01T10:00:00.250Z"), Some(t + 250));
        assert_eq!(utc("1714557600"), Some(t));
        assert_eq!(utc("1714557600000"), Some(t));
        assert_eq!(utc("1714557600.5"), Some(t + 500));
        assert_eq!(utc("1714557600000000"), Some(t));
        assert_eq!(utc("2024-05-01"), Some(t - 10 * 3_600_000));
        assert_eq!(utc(" "), None);
        assert_eq!(utc("yesterday"), None);
        assert_eq!(utc("2024-13-01"), None);
    }

    #[test]
    fn civil_times_read_in_the_given_zone() {
        let jakarta = TimeZone::get("Asia/Jakarta").unwrap();
        assert_eq!(
            parse_instant_ms("2024-05-01 17:00:00", &jakarta),
            Some(1_714_557_600_000)
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            parse_instant_ms("2024-05-01T10:00:00Z", &jakarta),
            Some(1_714_557_600_000)
        );
    }

    #[test]
    fn formats_utc() {
        assert_eq!(format_utc(1_714_557_600_000), "2024-05-01T10:00:00Z");
        assert_eq!(format_utc(1_714_557_600_250), "2024-05-01T10:00:00.250Z");
    }
}
