//! `fetch --summary-file`: one JSON object per run, appended as a line, for whatever watches
//! the nightly job.
//!
//! Policy: written on every ending of a fetch (done, incomplete, cut off, stopped, interrupted,
//! refused input), with the exit status the process ends with. This run's work (`this_run`) is
//! kept apart from the state of the input's ids after the run (`input_after`), so a rerun that
//! had nothing to do still says how much of the input is final. One line is written with one
//! `write` on a file opened for appending, so concurrent readers never see half an object; a
//! FIFO or device is written in place (`destination::write_run_file`).

use std::path::Path;

use serde::Serialize;

use crate::fetch::FetchReport;

/// What one run did and how it ended.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct RunSummary {
    /// The run's id in the database's `runs` table; `None` when it ended before one was made.
    pub run_id: Option<i64>,
    pub command: &'static str,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub duration_secs: f64,
    pub exit_status: u8,
    /// done, incomplete, cut_off, interrupted, stopped, vendor_down, storage_error or error.
    pub outcome: String,
    /// Why the run stopped early, or the error that ended it.
    pub stop_reason: Option<String>,
    /// The time budget's cut-off, when one was given.
    pub cutoff_at: Option<String>,
    /// The account the run fetched under (never its key); `None` when it ended before one
    /// was chosen.
    pub account: Option<AccountSummary>,
    pub this_run: Option<ThisRun>,
    pub input_after: Option<InputAfter>,
    pub database: Option<String>,
}

/// The account of a run, as the summary names it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct AccountSummary {
    /// The config file's name for it; `None` for the unnamed account.
    pub name: Option<String>,
    pub partner_code: String,
    pub endpoint_host: Option<String>,
}

impl AccountSummary {
    pub(crate) fn of(a: &crate::store::account::RunAccount) -> AccountSummary {
        AccountSummary {
            name: a.name.clone(),
            partner_code: a.partner_code.clone(),
            endpoint_host: a.endpoint_host.clone(),
        }
    }
}

/// Counts of this run's work.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct ThisRun {
    pub ids: u64,
    pub duplicates: u64,
    pub blank_ids: u64,
    /// Input rows naming ids another account read first (not asked under this one).
    pub other_account: u64,
    /// Checks recorded as `unknown` (before accounts were recorded) this run adopted.
    pub adopted: u64,
    /// Stored checks this input gave another event time (see `event_times_fixed`).
    pub event_times_differ: u64,
    /// Whether those took the input's time (`--fix-times`) or kept the stored one.
    pub event_times_fixed: bool,
    pub to_fetch: i64,
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub resolved: u64,
    pub charged: u64,
    pub attacks: u64,
    pub unknown_codes: u64,
    pub failed: u64,
}

/// States of the input's ids after the run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct InputAfter {
    pub done: i64,
    /// Done with the vendor's 11350 (internal error): asked again by the next run.
    pub internal_error: i64,
    pub failed: i64,
    pub pending: i64,
    /// Ids the next run will ask the vendor for.
    pub ids_left: i64,
}

/// The outcome word of a finished fetch (the same words the `runs` table keeps).
pub(crate) fn run_ending(report: &FetchReport) -> &'static str {
    crate::fetch::run_ending(report.stop.as_ref(), &report.counts)
}

impl ThisRun {
    pub(crate) fn of(r: &FetchReport) -> ThisRun {
        let t = &r.tally;
        ThisRun {
            ids: r.intake.distinct,
            duplicates: r.intake.duplicates,
            blank_ids: r.intake.input.blank_ids,
            other_account: r.intake.other_account.rows,
            adopted: r.intake.adopted,
            event_times_differ: r.intake.retimed.count,
            event_times_fixed: r.intake.retimed.fixed,
            to_fetch: r.to_fetch,
            requests: t.requests,
            retries: t.retries,
            rate_limited: t.rate_limited,
            resolved: t.resolved,
            charged: t.charged,
            attacks: t.attacks,
            unknown_codes: t.unknown_codes,
            failed: t.failed,
        }
    }
}

impl InputAfter {
    pub(crate) fn of(r: &FetchReport) -> InputAfter {
        let c = &r.counts;
        InputAfter {
            done: c.done,
            internal_error: c.internal_error,
            failed: c.failed,
            pending: c.pending,
            ids_left: c.unresolved(),
        }
    }
}

/// Appends `summary` to `path` as one line of JSON.
pub(crate) fn append(path: &Path, summary: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(summary).map_err(std::io::Error::other)?;
    line.push(b'\n');
    crate::destination::write_run_file(path, &line, crate::destination::RunFileWrite::Append)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_append_adds_one_parsable_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.jsonl");
        let mut s = RunSummary {
            run_id: Some(1),
            command: "fetch",
            started_at: "2024-05-01T01:00:00Z".into(),
            finished_at: "2024-05-01T01:00:03Z".into(),
            duration_secs: 3.0,
            exit_status: 4,
            outcome: "cut_off".into(),
            stop_reason: None,
            cutoff_at: None,
            account: None,
            this_run: None,
            input_after: None,
            database: None,
        };
        append(&path, &s).unwrap();
        s.run_id = Some(2);
        s.exit_status = 0;
        append(&path, &s).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["exit_status"], 4);
        assert_eq!(lines[1]["run_id"], 2);
    }
}
