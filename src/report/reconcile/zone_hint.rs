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
//!
//! A summary statement's days are compared in the zone it is read in (`--statement-tz`, else
//! `--tz`): our charged checks are counted per day there. Its mismatch is the checks its
//! daily counts differ from ours by; each real offset is tried as the one its days were drawn
//! in (our checks counted per day at that offset), and the hint is given by the same rule.

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
    /// A summary statement's: mismatches count checks, not lines.
    #[serde(skip)]
    pub summary: bool,
}

impl ZoneHint {
    /// The hint in words, as the first line of the report and on stderr.
    pub(crate) fn sentence(&self, read_in: &str) -> String {
        if self.summary {
            return format!(
                "zone hint: the daily counts differ from ours by {} checks, by {} if the \
                 statement's days are read at {} instead of in {read_in} (each moves {}): \
                 reconcile with {}",
                self.day_mismatches, self.after_shift, self.statement_offset, self.shift, self.flag
            );
        }
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
                summary: false,
            })
        }
        _ => None,
    };
    Ok((mismatches, hint))
}

/// The hint for a daily summary statement billing `billed` checks per day (`2026-10-01`), read
/// in `window`'s zone: when our charged checks counted per day at one real offset match its
/// counts much better than counted in that zone.
pub(super) fn summary_hint(
    conn: &Connection,
    codes: &CodeTable,
    window: &Window,
    billed: &BTreeMap<String, i64>,
) -> Result<Option<ZoneHint>, ReconcileError> {
    let days: Vec<(i64, i64)> = billed
        .iter()
        .filter_map(|(label, n)| {
            let day = label.parse::<jiff::civil::Date>().ok()?;
            let utc = TimeZone::UTC.to_timestamp(day.at(0, 0, 0, 0)).ok()?;
            let utc = utc.as_millisecond();
            Some((utc.div_euclid(DAY_MS), *n))
        })
        .collect();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(None);
    };
    // Our charged checks from a day before the first to a day after the last (UTC).
    let t = window.date_by.time_sql();
    let mut stmt = conn.prepare(&format!(
        "SELECT {t} FROM checks WHERE {} AND {t} >= ?1 AND {t} < ?2 AND {}",
        crate::check::charged_sql(codes, ""),
        crate::check::account_sql(window.account.is_some())
    ))?;
    let range = ((first.0 - 1) * DAY_MS, (last.0 + 2) * DAY_MS);
    let times: Vec<i64> = stmt
        .query_map(params![range.0, range.1, window.account], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // The checks the daily counts differ from ours by, ours counted per day at `minutes`.
    let mismatch = |offset_ms: &dyn Fn(i64) -> i64| -> u64 {
        let mut ours: BTreeMap<i64, i64> = BTreeMap::new();
        for &t in &times {
            *ours
                .entry((t + offset_ms(t)).div_euclid(DAY_MS))
                .or_default() += 1;
        }
        let billed_days: u64 = days
            .iter()
            .map(|(d, n)| (n - ours.get(d).copied().unwrap_or(0)).unsigned_abs())
            .sum();
        let unbilled: u64 = ours
            .iter()
            .filter(|(d, _)| (first.0..=last.0).contains(*d) && !days.iter().any(|(b, _)| b == *d))
            .map(|(_, n)| n.unsigned_abs())
            .sum();
        billed_days + unbilled
    };
    let zone = &window.zone.tz;
    let read = mismatch(&|t| {
        jiff::Timestamp::from_millisecond(t)
            .map(|ts| i64::from(zone.to_offset(ts).seconds()) * 1000)
            .unwrap_or(0)
    });
    let best = REAL_OFFSET_MINUTES
        .iter()
        .map(|&m| (mismatch(&|_| i64::from(m) * 60_000), m))
        .min_by_key(|(n, m)| (*n, m.abs()));
    let read_minutes = jiff::Timestamp::from_millisecond(first.0 * DAY_MS)
        .map(|ts| zone.to_offset(ts).seconds() / 60)
        .unwrap_or(0);
    Ok(match best {
        Some((after, minutes))
            if read >= MIN_MISMATCHES && after * 10 <= read && minutes != read_minutes =>
        {
            Some(ZoneHint {
                statement_offset: offset_text(minutes),
                shift: offset_text(read_minutes - minutes),
                day_mismatches: read,
                after_shift: after,
                flag: format!("{} {}", Setting::StatementTz, offset_name(minutes)),
                summary: true,
            })
        }
        _ => None,
    })
}
