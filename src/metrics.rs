//! `fetch --metrics-file`: Prometheus text format for node_exporter's textfile collector.
//!
//! Policy: the file is written on every ending of a fetch and replaced atomically (a temporary
//! file in the same directory, then a rename), so a scrape never sees half a file; it is made
//! world-readable (0644) because the collector usually runs as another user. Every value is a
//! gauge of the last run or of the database now, never a counter, since each run replaces the
//! file. Checks by class come from the one billing classification through
//! [`checks_by_class`], so the metrics and the billing report can never disagree.
//!
//! Every series carries the run's account (`account`, its config name or partner code, and
//! `partner_code`), and the database gauges count that account's checks only: the nightly job
//! writes one file per account into the same textfile directory, and the collector refuses two
//! files holding the same series.

use std::fmt::Write as _;

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
    /// The run's account (label, partner code); `None` when the run ended before its settings
    /// were read.
    pub account: Option<(String, String)>,
}

/// Checks of one account (or of the whole database) by class (charged, uncharged, unknown code,
/// unresolved): the billing report's classification over an open window.
pub(crate) fn checks_by_class(
    store: &Store,
    codes: &CodeTable,
    partner_code: Option<&str>,
) -> Result<Counts, ReportError> {
    // Every check, undated ones included: no window leaves none outside it.
    let window = Window::in_zone(
        crate::zone::Zone::utc(),
        crate::check::Period::Day,
        None,
        None,
    )?
    .for_account(partner_code.map(str::to_string));
    let quarter_hours = load_quarter_hours(&store.conn, &window)?;
    Ok(billing::counts(&quarter_hours, codes, &window))
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

/// The account labels of every series, with a leading comma when `more` labels follow them.
fn account_labels(m: &Metrics) -> String {
    match &m.account {
        Some((name, code)) => format!(
            "account=\"{}\",partner_code=\"{}\"",
            label(name),
            label(code)
        ),
        None => String::new(),
    }
}

/// `{labels}` with the account's first, or nothing when there are none.
fn labels(m: &Metrics, more: &str) -> String {
    let account = account_labels(m);
    match (account.is_empty(), more.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!("{{{more}}}"),
        (false, true) => format!("{{{account}}}"),
        (false, false) => format!("{{{account},{more}}}"),
    }
}

/// The metrics in Prometheus text exposition format.
pub(crate) fn render(m: &Metrics) -> String {
    let mut out = String::new();
    let plain = labels(m, "");
    gauge(
        &mut out,
        "liveaudit_last_run_timestamp_seconds",
        "When the last fetch ended (Unix time).",
    );
    let _ = writeln!(
        out,
        "liveaudit_last_run_timestamp_seconds{plain} {:.3}",
        m.ended_at
    );
    gauge(
        &mut out,
        "liveaudit_last_run_duration_seconds",
        "How long the last fetch took.",
    );
    let _ = writeln!(
        out,
        "liveaudit_last_run_duration_seconds{plain} {:.3}",
        m.duration_secs
    );
    gauge(
        &mut out,
        "liveaudit_last_run_exit_status",
        "Exit status of the last fetch (0 done, 4 incomplete or cut off, 130 interrupted).",
    );
    let _ = writeln!(
        out,
        "liveaudit_last_run_exit_status{plain} {}",
        m.exit_status
    );
    gauge(
        &mut out,
        "liveaudit_last_run_requests",
        "Requests the last fetch sent, by how each ended.",
    );
    for (outcome, fault, n) in &m.requests {
        let more = format!("outcome=\"{}\",fault=\"{}\"", label(outcome), label(fault));
        let _ = writeln!(out, "liveaudit_last_run_requests{} {n}", labels(m, &more));
    }
    if let Some(left) = m.ids_left {
        gauge(
            &mut out,
            "liveaudit_last_run_ids_left",
            "Ids of the last fetch's input that the next run asks for.",
        );
        let _ = writeln!(out, "liveaudit_last_run_ids_left{plain} {left}");
    }
    if let Some(pending) = m.ids_pending {
        gauge(
            &mut out,
            "liveaudit_ids_pending",
            "Ids of the account in the database that still need the vendor.",
        );
        let _ = writeln!(out, "liveaudit_ids_pending{plain} {pending}");
    }
    if let Some(c) = &m.checks {
        gauge(
            &mut out,
            "liveaudit_checks",
            "Checks of the account in the database by billing class.",
        );
        for (class, n) in [
            ("charged", c.charged),
            ("uncharged", c.uncharged),
            ("unknown_code", c.unknown_code),
            ("unresolved", c.unresolved),
        ] {
            let more = format!("class=\"{class}\"");
            let _ = writeln!(out, "liveaudit_checks{} {n}", labels(m, &more));
        }
    }
    out
}

pub(crate) use crate::destination::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_names_the_account_first() {
        let m = Metrics {
            exit_status: 0,
            requests: vec![("final".into(), String::new(), 3)],
            ids_pending: Some(2),
            checks: Some(Counts::default()),
            account: Some(("id-app".into(), "acme-\"id".into())),
            ..Metrics::default()
        };
        let text = render(&m);
        let labels = "account=\"id-app\",partner_code=\"acme-\\\"id\"";
        for series in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(series.contains(&format!("{{{labels}")), "{series}");
        }
        assert!(
            text.contains(&format!(
                "liveaudit_last_run_requests{{{labels},outcome=\"final\",fault=\"\"}} 3"
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!("liveaudit_checks{{{labels},class=\"charged\"}} 0")),
            "{text}"
        );
    }

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
        assert!(!text.contains("account="), "no account, no labels: {text}");
        write_atomic(&path, "x 1\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x 1\n");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
