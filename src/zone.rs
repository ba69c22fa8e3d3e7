//! A time zone named by the user, and where the name came from.
//!
//! Policy: every zone name (`--tz`, `LIVEAUDIT_TZ`, a config file's `tz`, `--input-tz`,
//! `--statement-tz`) is read by [`Zone::parse`] alone: an IANA name or a fixed offset (`+05:30`,
//! `-03:00`, `+08`), surrounding blanks ignored, refused with one wording that names the place it
//! came from. A name is parsed once per run; what needs the zone is handed the parsed [`Zone`].
//! The offsets real zones use are [`REAL_OFFSET_MINUTES`] (whole and half hours, +5:45,
//! +8:45, +12:45, +13:45), the ones a statement dated in another zone is tried against.

use jiff::tz::TimeZone;

/// A parsed time zone with the name the user gave.
#[derive(Debug, Clone)]
pub(crate) struct Zone {
    /// The name as given (trimmed), as reports print it.
    pub name: String,
    pub tz: TimeZone,
}

/// A zone name that is not a time zone.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{from}: {name:?} is not a time zone; use an IANA name such as Asia/Singapore or UTC, or an \
     offset such as +05:30"
)]
pub struct BadZone {
    /// Where the name came from (`--tz`, `tz in [accounts.NAME]`, ...).
    pub from: String,
    /// The name as given.
    pub name: String,
}

impl Zone {
    /// The zone named `name`, which came from `from` (for the error).
    pub(crate) fn parse(name: &str, from: impl Into<String>) -> Result<Zone, BadZone> {
        let trimmed = name.trim();
        if let Some(Ok(offset)) =
            parse_offset(trimmed).map(|m| jiff::tz::Offset::from_seconds(m * 60))
        {
            return Ok(Zone {
                name: trimmed.to_string(),
                tz: TimeZone::fixed(offset),
            });
        }
        TimeZone::get(trimmed)
            .map(|tz| Zone {
                name: trimmed.to_string(),
                tz,
            })
            .map_err(|_| BadZone {
                from: from.into(),
                name: name.to_string(),
            })
    }

    /// Coordinated Universal Time.
    pub(crate) fn utc() -> Zone {
        Zone {
            name: "UTC".to_string(),
            tz: TimeZone::UTC,
        }
    }

    /// An instant as a report in this zone shows it, to the second with the offset:
    /// `2026-10-02T22:10:52+08:00` (the milliseconds themselves when out of range).
    pub(crate) fn local_time(&self, ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).map_or_else(
            |_| ms.to_string(),
            |t| {
                t.to_zoned_datetime(self.tz.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            },
        )
    }
}

/// The UTC offsets, in minutes, that real zones use (or used): every whole hour from -12 to
/// +14, the half hours (-9:30, -3:30, +3:30, +4:30, +5:30, +6:30, +9:30, +10:30) and the
/// quarter hours (+5:45, +8:45, +12:45, +13:45).
pub(crate) const REAL_OFFSET_MINUTES: [i32; 39] = [
    -720, -660, -600, -570, -540, -480, -420, -360, -300, -240, -210, -180, -120, -60, 0, 60, 120,
    180, 210, 240, 270, 300, 330, 345, 360, 390, 420, 480, 525, 540, 570, 600, 630, 660, 720, 765,
    780, 825, 840,
];

/// An offset of `minutes` as [`Zone::parse`] reads it: `UTC`, else `+05:30`.
pub(crate) fn offset_name(minutes: i32) -> String {
    if minutes == 0 {
        return "UTC".to_string();
    }
    format!(
        "{}{:02}:{:02}",
        sign(minutes),
        minutes.abs() / 60,
        minutes.abs() % 60
    )
}

/// An offset of `minutes` always with its sign and minutes (`+00:00`, `-03:30`).
pub(crate) fn offset_text(minutes: i32) -> String {
    format!(
        "{}{:02}:{:02}",
        sign(minutes),
        minutes.abs() / 60,
        minutes.abs() % 60
    )
}

fn sign(minutes: i32) -> char {
    if minutes < 0 { '-' } else { '+' }
}

/// `+05:30`, `-03:00`, `+0530` or `+08` as minutes east of UTC (at most 14 hours).
fn parse_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || rest.matches(':').count() > 1 {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (h <= 14 && m < 60 && h * 60 + m <= 840).then_some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_errors_name_their_place() {
        let z = Zone::parse(" Asia/Jakarta ", "--tz").unwrap();
        assert_eq!(z.name, "Asia/Jakarta");
        let e = Zone::parse("Mars/Base", "--input-tz").unwrap_err();
        assert_eq!(
            e.to_string(),
            "--input-tz: \"Mars/Base\" is not a time zone; use an IANA name such as \
             Asia/Singapore or UTC, or an offset such as +05:30"
        );
    }

    #[test]
    fn fixed_offsets_are_zones_and_real_offsets_name_themselves() {
        let at = jiff::Timestamp::from_second(0).unwrap();
        for (text, minutes) in [
            ("+05:30", 330),
            ("-03:00", -180),
            ("+0545", 345),
            ("+8", 480),
        ] {
            let z = Zone::parse(text, "--statement-tz").unwrap();
            assert_eq!(z.tz.to_offset(at).seconds(), minutes * 60, "{text}");
        }
        for bad in ["+15:00", "+05:60", "+5:3", "5:30", "+05:30:00"] {
            assert!(Zone::parse(bad, "--statement-tz").is_err(), "{bad}");
        }
        for m in REAL_OFFSET_MINUTES {
            let z = Zone::parse(&offset_name(m), "--statement-tz").unwrap();
            assert_eq!(z.tz.to_offset(at).seconds(), m * 60);
        }
        assert_eq!(
            (offset_name(0), offset_text(0)),
            ("UTC".into(), "+00:00".into())
        );
        assert_eq!(offset_name(-570), "-09:30");
    }
}
