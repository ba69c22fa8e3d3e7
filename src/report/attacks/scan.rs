//! The attack report's one pass over the checks table: rowid ranges scanned on threads and
//! merged, reading one attribute column out of each check's JSON without parsing the rest.

use super::*;

/// What one pass over the checks in the window yields.
pub(super) struct Scan {
    pub(super) quarter_hours: Vec<QuarterHour>,
    pub(super) scores: Vec<ScoreRow>,
    /// Dimension value -> code -> resolved checks (empty without `--dimension`).
    pub(super) dimension: FastMap<String, FastMap<i64, i64>>,
}

/// Reads every check in the window once, for the periods, the scores and the dimension.
///
/// Policy: one plain scan of the table, counted here. The report needs the score and the
/// input's attributes of every check, which no index holds, so walking the quarter-hour index as
/// well (as billing does) would read the data twice; and SQLite's GROUP BY sorts every row,
/// where a hash map of a few thousand quarter hours does not. A large table is split into rowid
/// ranges scanned side by side on their own read-only connections, one per core (up to four).
pub(super) fn scan(
    conn: &rusqlite::Connection,
    window: &Window,
    codes: &CodeTable,
    dimension: Option<&str>,
) -> Result<Scan, ReportError> {
    /// Below this many rows one thread is quicker than starting more.
    const SPLIT_FROM: i64 = 200_000;
    scan_split(conn, window, codes, dimension, SPLIT_FROM)
}

pub(super) fn scan_split(
    conn: &rusqlite::Connection,
    window: &Window,
    codes: &CodeTable,
    dimension: Option<&str>,
    split_from: i64,
) -> Result<Scan, ReportError> {
    // Two subqueries: SQLite answers a bare min() or max() of the rowid from the b-tree's ends,
    // but `min(id), max(id)` in one select (or wrapped in coalesce) reads the whole table.
    let (first, last): (i64, i64) = conn.query_row(
        "SELECT coalesce((SELECT min(id) FROM checks), 0), coalesce((SELECT max(id) FROM checks), 0)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4)) as i64;
    let path = conn.path().filter(|p| !p.is_empty()).map(str::to_owned);
    let mut total = match path {
        Some(path) if threads > 1 && last - first >= split_from => {
            scan_parallel(&path, window, codes, dimension, (first, last), threads)?
        }
        _ => scan_range(conn, window, codes, dimension, (first, last))?,
    };
    let score_row = |name: &str, values: &mut Vec<f64>, missing: i64| {
        values.sort_by(f64::total_cmp);
        ScoreRow {
            category: name.to_string(),
            with_score: values.len(),
            without_score: missing,
            p05: quantile(values, 0.05),
            p25: quantile(values, 0.25),
            p50: quantile(values, 0.50),
            p75: quantile(values, 0.75),
            p95: quantile(values, 0.95),
        }
    };
    Ok(Scan {
        scores: vec![
            score_row("success", &mut total.success, total.success_missing),
            score_row("attack", &mut total.attack, total.attack_missing),
        ],
        quarter_hours: total
            .quarter_hours
            .into_iter()
            .map(|((q, status, code), count)| QuarterHour {
                start_ms: q.map(|q| q * QUARTER_HOUR_MS),
                fallback: false,
                status: Status::ALL[usize::from(status)],
                code,
                count,
            })
            .collect(),
        dimension: total.by_value,
    })
}

/// Scans rowids `first..=last` in `threads` ranges, each on its own read-only connection to
/// the database at `path`, and adds their counts up.
fn scan_parallel(
    path: &str,
    window: &Window,
    codes: &CodeTable,
    dimension: Option<&str>,
    (first, last): (i64, i64),
    threads: i64,
) -> Result<Partial, ReportError> {
    let step = (last - first) / threads + 1;
    let parts: Vec<Result<Partial, ReportError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let range = (first + i * step, first + (i + 1) * step - 1);
                scope.spawn(move || {
                    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | rusqlite::OpenFlags::SQLITE_OPEN_URI;
                    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
                    conn.busy_timeout(std::time::Duration::from_secs(10))?;
                    scan_range(&conn, window, codes, dimension, range)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ReportError::Store(crate::store::StoreError::Thread(
                        "report scan".into(),
                    )))
                })
            })
            .collect()
    });
    let mut total = Partial::default();
    for part in parts {
        total.merge(part?);
    }
    Ok(total)
}

/// The counts of one rowid range of the scan.
#[derive(Default)]
pub(super) struct Partial {
    /// (quarter hour, status 0 pending / 1 done / 2 failed, code) -> checks.
    quarter_hours: FastMap<(Option<i64>, u8, Option<i64>), i64>,
    success: Vec<f64>,
    attack: Vec<f64>,
    success_missing: i64,
    attack_missing: i64,
    by_value: FastMap<String, FastMap<i64, i64>>,
}

impl Partial {
    fn merge(&mut self, other: Partial) {
        for (key, n) in other.quarter_hours {
            *self.quarter_hours.entry(key).or_default() += n;
        }
        self.success.extend(other.success);
        self.attack.extend(other.attack);
        self.success_missing += other.success_missing;
        self.attack_missing += other.attack_missing;
        for (value, per_code) in other.by_value {
            let mine = self.by_value.entry(value).or_default();
            for (code, n) in per_code {
                *mine.entry(code).or_default() += n;
            }
        }
    }
}

/// Counts the checks in the window whose rowid lies in `range` (both ends included).
pub(super) fn scan_range(
    conn: &rusqlite::Connection,
    window: &Window,
    codes: &CodeTable,
    dimension: Option<&str>,
    (low, high): (i64, i64),
) -> Result<Partial, ReportError> {
    use rusqlite::types::ValueRef;
    let bounds = window.bounds_ms();
    // The window is checked here rather than in SQL: the time is read once per row either way,
    // and SQLite would compute it a second (and third) time for the WHERE clause. The
    // attributes are selected only when a dimension is asked for.
    let sql = format!(
        "SELECT {}, status, code, score{}
         FROM checks NOT INDEXED WHERE id BETWEEN ?1 AND ?2 AND {}",
        window.date_by.time_sql(),
        if dimension.is_some() { ", attrs" } else { "" },
        crate::check::account_sql(window.account.is_some())
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![low, high, window.account])?;
    let mut part = Partial::default();
    while let Some(row) = rows.next()? {
        let time: Option<i64> = row.get(0)?;
        if !dated_within(bounds, time) {
            continue;
        }
        // The index of the status in `Status::ALL`.
        let status: u8 = match row.get_ref(1)? {
            ValueRef::Text(t) => Status::from_db(t) as u8,
            _ => Status::Pending as u8,
        };
        let code: Option<i64> = row.get(2)?;
        *part
            .quarter_hours
            .entry((time.map(|t| t / QUARTER_HOUR_MS), status, code))
            .or_default() += 1;
        let (Some(code), Status::Done) = (code, Status::ALL[usize::from(status)]) else {
            continue;
        };
        let (values, missing) = match codes.category(code) {
            Category::Success => (&mut part.success, &mut part.success_missing),
            Category::Attack => (&mut part.attack, &mut part.attack_missing),
            _ => (&mut Vec::new(), &mut 0),
        };
        match row.get::<_, Option<f64>>(3)? {
            Some(s) if s.is_finite() => values.push(s),
            _ => *missing += 1,
        }
        let Some(column) = dimension else {
            continue;
        };
        let found = match row.get_ref(4)? {
            ValueRef::Text(attrs) => attribute(attrs, column),
            _ => None,
        };
        let value: &str = found.as_deref().unwrap_or(NO_VALUE);
        // A value's text is allocated once, when first seen.
        let per_code = match part.by_value.get_mut(value) {
            Some(per_code) => per_code,
            None => part.by_value.entry(value.to_owned()).or_default(),
        };
        *per_code.entry(code).or_default() += 1;
    }
    Ok(part)
}
