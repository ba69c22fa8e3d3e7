//! `fetch --metrics-file`: Prometheus text format for node_exporter's textfile collector.
//!
//! Policy: the file is written on every ending of a fetch and replaced atomically (a temporary
//! file in the same directory, then a rename), so a scrape never sees half a file; it is made
//! world-readable (0644) because the collector usually runs as another user. Every value is a
//! gauge of the last run or of the database now, never a counter, since each run replaces the
//! file. Checks by class come from the one billing classification through
//! [`checks_by_class`], so the metrics and the billing report can never disagree.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use crate::codes::CodeTable;
use crate::report::billing::{self, Counts};
use crate::report::{ReportError, Window, load_quarter_hours};
use crate::store::{Store, StoreError};

/// What the metrics file says.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Metrics {
    /// When the run ended (Unix seconds).
    pub ended_at: f64,
    pub duration_secs: f64,
    pub exit_status: u8,
    /// This run's requests: (outcome, fault kind or "", count).
    pub requests: Vec<(String, String, u64)>,
    /// Ids of this run's input the next run asks for; `None` when the run ended before intake.
    pub ids_left: Option<i64>,
    /// Ids of the whole database that still need the vendor.
    pub ids_pending: Option<i64>,
    pub checks: Option<Counts>,
}

/// Checks of the whole database by class (charged, uncharged, unknown code, unresolved): the
/// billing report's classification over an open window.
pub(crate) fn checks_by_class(store: &Store, codes: &CodeTable) -> Result<Counts, ReportError> {
    // Every check, undated ones included: no window leaves none outside it.
    let window = Window::new("UTC", crate::check::Period::Day, None, None)?;
    let quarter_hours = load_quarter_hours(&store.conn, &window)?;
    Ok(
        billing::compute(&quarter_hours, codes, &window, None, "", 0)
            .totals
            .counts,
    )
}

/// This run's requests grouped by how each ended (from the attempts log).
pub(crate) fn requests_by_outcome(
    store: &Store,
    run_id: i64,
) -> Result<Vec<(String, String, u64)>, StoreError> {
    let mut stmt = store.conn.prepare(
        "SELECT outcome, count(*) FROM attempts WHERE run_id = ?1 GROUP BY outcome ORDER BY outcome",
    )?;
    let rows = stmt.query_map([run_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (outcome, n) = row?;
        let (outcome, fault) = outcome.split_once(':').unwrap_or((&outcome, ""));
        out.push((outcome.to_string(), fault.to_string(), n.max(0) as u64));
    }
    Ok(out)
}

fn gauge(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// A label value with `\`, `"` and newlines escaped as the text format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics in Prometheus text exposition format.
pub(crate) fn render(m: &Metrics) -> String {
    let mut out = String::new();
    gauge(
        &mut out,
        "liveaudit_last_run_timestamp_seconds",
        "When the last fetch ended (Unix time).",
    );
    let _ = writeln!(
        out,
        "liveaudit_last_run_timestamp_seconds {:.3}",
        m.ended_at
    );
    gauge(
        &mut out,
        "liveaudit_last_run_duration_seconds",
        "How long the last fetch took.",
    );
    let _ = writeln!(
        out,
        "liveaudit_last_run_duration_seconds {:.3}",
        m.duration_secs
    );
    gauge(
        &mut out,
        "liveaudit_last_run_exit_status",
        "Exit status of the last fetch (0 done, 4 incomplete or cut off, 130 interrupted).",
    );
    let _ = writeln!(out, "liveaudit_last_run_exit_status {}", m.exit_status);
    gauge(
        &mut out,
        "liveaudit_last_run_requests",
        "Requests the last fetch sent, by how each ended.",
    );
    for (outcome, fault, n) in &m.requests {
        let _ = writeln!(
            out,
            "liveaudit_last_run_requests{{outcome=\"{}\",fault=\"{}\"}} {n}",
            label(outcome),
            label(fault)
        );
    }
    if let Some(left) = m.ids_left {
        gauge(
            &mut out,
            "liveaudit_last_run_ids_left",
            "Ids of the last fetch's input that the next run asks for.",
        );
        let _ = writeln!(out, "liveaudit_last_run_ids_left {left}");
    }
    if let Some(pending) = m.ids_pending {
        gauge(
            &mut out,
            "liveaudit_ids_pending",
            "Ids in the database that still need the vendor.",
        );
        let _ = writeln!(out, "liveaudit_ids_pending {pending}");
    }
    if let Some(c) = &m.checks {
        gauge(
            &mut out,
            "liveaudit_checks",
            "Checks in the database by billing class.",
        );
        for (class, n) in [
            ("charged", c.charged),
            ("uncharged", c.uncharged),
            ("unknown_code", c.unknown_code),
            ("unresolved", c.unresolved),
        ] {
            let _ = writeln!(out, "liveaudit_checks{{class=\"{class}\"}} {n}");
        }
    }
    out
}

/// Replaces `path` with `text` atomically: a temporary file beside it, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".liveaudit-metrics")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn sections_without_data_are_left_out_and_the_rest_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("liveaudit.prom");
        let m = Metrics {
            ended_at: 1.5,
            exit_status: 2,
            ..Metrics::default()
        };
        write_atomic(&path, &render(&m)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("liveaudit_last_run_exit_status 2\n"),
            "{text}"
        );
        assert!(!text.contains("liveaudit_checks{"), "{text}");
        write_atomic(&path, "x 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x 1\n");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
