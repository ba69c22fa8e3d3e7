//! A later input that gives a stored check another event time.
//!
//! Policy: a check keeps the event time it was stored with when a later run's input gives it
//! another: the run counts them (`runs.time_differs`, a warning with the first few, the run
//! summary). Under `fetch --fix-times` the check takes the input's time instead (its time basis
//! becomes the input's) and each change is recorded in `time_changes` (old and new time, the
//! run, when); the change of `checks.event_time` is a change `export --cursor` sees. Only the
//! event time changes: the code, the charge and the result stay as the vendor answered. A row
//! without a readable time changes nothing; an id this run already registered is a duplicate
//! (counted apart, the first mention kept).

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use crate::input::IdRow;

/// The stored checks this run's input gives another event time.
#[derive(Debug, Default, Clone)]
pub struct Retimed {
    /// How many (each check once per run).
    pub count: u64,
    /// The first few, as `file:line: "id" at TIME, stored TIME`.
    pub examples: Vec<String>,
    /// Whether they took the input's times (`--fix-times`).
    pub fixed: bool,
}

/// Examples quoted in the warning.
const EXAMPLES: usize = 3;

/// Compares `rows` with the checks stored by earlier runs; under `fix` the checks take the
/// rows' times and each change is recorded. Call before the rows are registered for `run`.
pub(super) fn compare(
    conn: &rusqlite::Connection,
    run: i64,
    rows: &[IdRow],
    fix: bool,
    retimed: &mut Retimed,
) -> Result<(), rusqlite::Error> {
    let timed: Vec<&IdRow> = rows.iter().filter(|r| r.event_time_ms.is_some()).collect();
    if timed.is_empty() {
        return Ok(());
    }
    let marks = vec!["?"; timed.len()].join(", ");
    // `+last_run`: found by the unique liveness_id index, never by walking the run's index.
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT liveness_id, id, event_time FROM checks
         WHERE +last_run IS NOT ? AND event_time IS NOT NULL AND liveness_id IN ({marks})"
    ))?;
    let params = std::iter::once(&run as &dyn rusqlite::ToSql)
        .chain(timed.iter().map(|r| &r.liveness_id as &dyn rusqlite::ToSql));
    let stored: HashMap<String, (i64, i64)> = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
        })?
        .collect::<Result<_, _>>()?;
    let mut seen = HashSet::new();
    let now = crate::store::now_ms();
    for row in timed {
        let (Some(&(id, old)), Some(new)) = (stored.get(&row.liveness_id), row.event_time_ms)
        else {
            continue;
        };
        if !seen.insert(&row.liveness_id) || old == new {
            continue;
        }
        retimed.count += 1;
        if retimed.examples.len() < EXAMPLES {
            retimed.examples.push(format!(
                "{}: \"{}\" at {}, stored {}",
                row.source,
                crate::input::shown(&row.liveness_id),
                crate::timestamp::format_utc(new),
                crate::timestamp::format_utc(old)
            ));
        }
        if fix {
            conn.prepare_cached(
                "UPDATE checks SET event_time = ?2, time_basis = NULL WHERE id = ?1",
            )?
            .execute(params![id, new])?;
            conn.prepare_cached(
                "INSERT INTO time_changes (check_id, run, old_time, new_time, changed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, run, old, new, now])?;
        }
    }
    retimed.fixed = fix;
    Ok(())
}
