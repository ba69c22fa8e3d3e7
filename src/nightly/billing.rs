//! Which days' billing reports the nightly job writes again: every day holding a check that
//! changed since the reports were last written, in the billing day's zone.
//!
//! Policy: "changed" is the change log's (the same numbers `export --cursor` follows), so it
//! never depends on clocks; the number the reports reach is kept in a small state file beside
//! them (`.billing-seq`), moved only after every day's file is in place, so a night cut short
//! writes the same days again. A day's file is replaced only when its content differs.

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

/// The state file's change number; 0 when there is none (every day is written).
pub(crate) fn read_seq(path: &Path) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .filter(|n: &i64| *n >= 0)
        .unwrap_or(0)
}

/// Replaces the state file atomically.
pub(crate) fn write_seq(path: &Path, seq: i64) -> std::io::Result<()> {
    crate::destination::write_atomic(path, &format!("{seq}\n"))
}
