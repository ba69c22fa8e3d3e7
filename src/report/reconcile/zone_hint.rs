//! A statement dated in another zone, made visible: the lines dated on another day than their
//! check, and the one real zone offset that puts nearly all of them on their check's day.
//!
//! Policy: a line and its check disagree on the day when the line's time and our check's time
//! (by `--date-by`) fall on different days in the report zone (`--tz`). Each offset real zones
//! use ([`REAL_OFFSET_MINUTES`]) is tried as the one the statement's times were written in,
//! instead of the zone they were read in (`--statement-tz`, else `--tz`); the best is the one
//! leaving the fewest mismatches (then the nearest times). The hint is given once, when there
//! are at least [`MIN_MISMATCHES`] and the best offset leaves at most a tenth of them; it names
//! the offset, the shift and the flag that reads the statement so.

use super::*;
use crate::setting::Setting;
use crate::zone::{REAL_OFFSET_MINUTES, offset_name, offset_text};

const DAY_MS: i64 = 86_400_000;

/// Fewer day mismatches than this are never blamed on a zone.
const MIN_MISMATCHES: u64 = 3;

/// A statement whose times look written in another zone than they were read in.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct ZoneHint {
    /// The offset the statement's times look written at (`+00:00`).
    pub statement_offset: String,
    /// How far that moves every statement time (`+08:00`: eight hours later).
    pub shift: String,
    /// Lines dated on another day than their check, as read.
    pub day_mismatches: u64,
    /// Those left once the statement is read at `statement_offset`.
    pub after_shift: u64,
    /// The flag that reads the statement so (`--statement-tz UTC`).
    pub flag: String,
}

impl ZoneHint {
    /// The hint in words, as the first line of the report and on stderr.
    pub(crate) fn sentence(&self, read_in: &str) -> String {
        format!(
            "zone hint: {} lines fall on another day than their check, {} if the statement's \
             times are read at {} instead of in {read_in} (each moves {}): reconcile with {}",
            self.day_mismatches, self.after_shift, self.statement_offset, self.shift, self.flag
        )
    }
}

/// Tallies of one candidate offset.
#[derive(Clone, Copy, Default)]
struct Tally {
    mismatches: u64,
    /// The sum of the distances between shifted line times and our check times, in minutes.
    distance: i128,
}

/// The lines dated on another day than their check (in the report zone), and the hint when one
/// real offset puts nearly all of them right. Reads `temp.stmt` after its lines are matched.
pub(super) fn day_mismatches(
    conn: &Connection,
    opts: &ReconcileOptions,
) -> Result<(u64, Option<ZoneHint>), ReconcileError> {
    let read = opts.statement_read_zone();
    let report = &opts.zone.tz;
    let offset_ms = |tz: &TimeZone, ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| i64::from(tz.to_offset(t).seconds()) * 1000)
            .unwrap_or(0)
    };
    let mut stmt = conn.prepare(&format!(
        "SELECT s.time, {t} FROM temp.stmt s JOIN checks c ON c.id = s.cid
         WHERE s.time IS NOT NULL AND {t} IS NOT NULL",
        t = opts.date_by.time_sql()
    ))?;
    let mut rows = stmt.query([])?;
    let mut tallies = [Tally::default(); REAL_OFFSET_MINUTES.len()];
    let (mut mismatches, mut first_read_offset) = (0u64, None);
    while let Some(r) = rows.next()? {
        let (line, ours): (i64, i64) = (r.get(0)?, r.get(1)?);
        let our_zone = offset_ms(report, ours);
        let our_day = (ours + our_zone).div_euclid(DAY_MS);
        if (line + offset_ms(report, line)).div_euclid(DAY_MS) != our_day {
            mismatches += 1;
        }
        let read_offset = offset_ms(&read.tz, line);
        first_read_offset.get_or_insert(read_offset);
        // The line's civil time, as written, taken at each candidate offset instead.
        let civil = line + read_offset;
        for (tally, minutes) in tallies.iter_mut().zip(REAL_OFFSET_MINUTES) {
            let shifted = civil - i64::from(minutes) * 60_000;
            if (shifted + our_zone).div_euclid(DAY_MS) != our_day {
                tally.mismatches += 1;
            }
            tally.distance += i128::from((shifted - ours).abs() / 60_000);
        }
    }
    let best = tallies
        .iter()
        .zip(REAL_OFFSET_MINUTES)
        .min_by_key(|(t, _)| (t.mismatches, t.distance));
    let hint = match (best, first_read_offset) {
        (Some((t, minutes)), Some(read_ms))
            if mismatches >= MIN_MISMATCHES
                && t.mismatches * 10 <= mismatches
                && i64::from(minutes) * 60_000 != read_ms =>
        {
            Some(ZoneHint {
                statement_offset: offset_text(minutes),
                shift: offset_text((read_ms / 60_000) as i32 - minutes),
                day_mismatches: mismatches,
                after_shift: t.mismatches,
                flag: format!("{} {}", Setting::StatementTz, offset_name(minutes)),
            })
        }
        _ => None,
    };
    Ok((mismatches, hint))
}
