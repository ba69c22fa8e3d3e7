//! A time zone named by the user, and where the name came from.
//!
//! Policy: every zone name (`--tz`, `LIVEAUDIT_TZ`, a config file's `tz`, `--input-tz`) is read
//! by [`Zone::parse`] alone: an IANA name, surrounding blanks ignored, refused with one wording
//! that names the place it came from. A name is parsed once per run; what needs the zone is
//! handed the parsed [`Zone`].

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
#[error("{from}: {name:?} is not a time zone; use an IANA name such as Asia/Singapore or UTC")]
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
             Asia/Singapore or UTC"
        );
    }
}
