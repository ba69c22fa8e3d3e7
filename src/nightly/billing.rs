//! Which days' billing reports the nightly job writes again: every day holding a check that
//! changed since the reports were last written, in the billing day's zone.
//!
//! Policy: "changed" is the change log's (the same numbers `export --cursor` follows), so it
//! never depends on clocks; the number the reports reach is kept in a small state file beside
//! them (`.billing-seq`), moved only after every day's file is in place, so a night cut short
//! writes the same days again. Beside it is a hash of everything else a day's numbers depend
//! on (the code table in force, the prices, the zone, the date basis, this program's version):
//! when it differs, every day is computed again, whatever changed. A day's file is replaced
//! only when its content differs.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::params;

use crate::check::DateBy;
use crate::store::StoreError;

/// The days (in `zone`) of the checks of `partner_code` changed after change `since`, dated as
/// `date_by` dates them (undated checks belong to no day), and the highest change number.
pub(crate) fn changed_days(
    conn: &rusqlite::Connection,
    partner_code: &str,
    since: i64,
    zone: &jiff::tz::TimeZone,
    date_by: DateBy,
) -> Result<(BTreeSet<jiff::civil::Date>, i64), StoreError> {
    let through: i64 =
        conn.query_row("SELECT coalesce(max(seq), 0) FROM check_changes", [], |r| {
            r.get(0)
        })?;
    let mut stmt = conn.prepare(&format!(
        "SELECT DISTINCT {time} FROM checks
         WHERE id IN (SELECT check_id FROM check_changes WHERE seq > ?1 AND seq <= ?2)
           AND partner_code = ?3 AND {time} IS NOT NULL",
        time = date_by.time_sql()
    ))?;
    let times = stmt.query_map(params![since, through, partner_code], |r| {
        r.get::<_, i64>(0)
    })?;
    let mut days = BTreeSet::new();
    for t in times {
        if let Ok(ts) = jiff::Timestamp::from_millisecond(t?) {
            days.insert(ts.to_zoned_datetime(zone.clone()).date());
        }
    }
    Ok((days, through))
}

/// What the state file keeps: the change number the reports reach, and the hash of the inputs
/// they were computed with (`None` in a file an older version wrote).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct State {
    pub seq: i64,
    pub inputs: Option<String>,
}

/// The hash of a report's inputs ([`crate::commands::report::billing_inputs`]'s text) and
/// this program's version (a new version may compute or write a report differently).
pub(crate) fn fingerprint(inputs: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\n");
    h.update(inputs.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the state file: `SEQ` on its first line, `inputs HASH` on its second. No file, or a
/// first line that is no change number, is change 0 (every day is written).
pub(crate) fn read_state(path: &Path) -> State {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let seq = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .filter(|n: &i64| *n >= 0)
        .unwrap_or(0);
    let inputs = lines
        .find_map(|l| l.trim().strip_prefix("inputs "))
        .map(|h| h.trim().to_string());
    State { seq, inputs }
}

/// Replaces the state file atomically.
pub(crate) fn write_state(path: &Path, state: &State) -> std::io::Result<()> {
    let mut text = format!("{}\n", state.seq);
    if let Some(h) = &state.inputs {
        text.push_str(&format!("inputs {h}\n"));
    }
    crate::destination::write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_keeps_the_change_number_and_the_inputs_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".billing-seq");
        assert_eq!(read_state(&path), State::default());
        // A file of an older version: the number alone.
        std::fs::write(&path, "42\n").unwrap();
        assert_eq!(
            read_state(&path),
            State {
                seq: 42,
                inputs: None
            }
        );
        let state = State {
            seq: 43,
            inputs: Some(fingerprint("codes A")),
        };
        write_state(&path, &state).unwrap();
        assert_eq!(read_state(&path), state);
        assert_ne!(fingerprint("codes A"), fingerprint("codes B"));
    }
}
