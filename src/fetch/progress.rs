//! What a user watching a run sees: running counts, a progress bar on a terminal, a plain line
//! every few seconds elsewhere (text or JSON, through `tracing`).
//!
//! - [`Tally`]: the run's counters, updated by workers without locks.
//! - [`Reporter`]: draws the bar or writes the periodic line until the run ends. The bar fits
//!   the terminal: its message is cut to the width left, so a narrow terminal gets no wrapped
//!   lines that each redraw would leave behind.
//!
//! Under `--rate auto` both show the controller's estimate: `rate auto: 64/s (limit found at
//! ~70/s)`.
//!
//! Nothing here ever prints a URL, a key or an image: only counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use super::adaptive::Adaptive;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProgressMode {
    /// An indicatif bar on stderr.
    Bar,
    /// A log line every `every`.
    Lines { every: Duration },
    /// Nothing until the summary.
    Quiet,
}

/// The counters of one run.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub resolved: AtomicU64,
    pub charged: AtomicU64,
    pub attacks: AtomicU64,
    pub unknown_codes: AtomicU64,
    pub internal_errors: AtomicU64,
    pub failed: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub(crate) struct TallySnapshot {
    pub requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub resolved: u64,
    pub charged: u64,
    pub attacks: u64,
    pub unknown_codes: u64,
    pub internal_errors: u64,
    pub failed: u64,
}

impl Tally {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> TallySnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TallySnapshot {
            requests: get(&self.requests),
            retries: get(&self.retries),
            rate_limited: get(&self.rate_limited),
            resolved: get(&self.resolved),
            charged: get(&self.charged),
            attacks: get(&self.attacks),
            unknown_codes: get(&self.unknown_codes),
            internal_errors: get(&self.internal_errors),
            failed: get(&self.failed),
        }
    }
}

/// Shows progress until dropped or [`Reporter::finish`]ed.
pub(crate) struct Reporter {
    bar: Option<ProgressBar>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Reporter {
    pub(crate) fn start(
        mode: ProgressMode,
        total: Arc<AtomicU64>,
        tally: Arc<Tally>,
        auto: Option<Arc<Adaptive>>,
    ) -> Reporter {
        match mode {
            ProgressMode::Quiet => Reporter {
                bar: None,
                task: None,
            },
            ProgressMode::Bar => {
                let bar = ProgressBar::with_draw_target(
                    Some(total.load(Ordering::Relaxed)),
                    ProgressDrawTarget::stderr(),
                );
                bar.set_style(
                    ProgressStyle::with_template(
                        "{bar:20} {pos}/{len} {per_sec:0} eta {eta} | {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                let shown = bar.clone();
                let task = tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_millis(200));
                    loop {
                        tick.tick().await;
                        let s = tally.snapshot();
                        // The ids registered so far: a streamed input grows it as it registers.
                        shown.set_length(total.load(Ordering::Relaxed));
                        shown.set_position(s.resolved + s.failed);
                        let rate = auto
                            .as_ref()
                            .map(|a| format!("rate {} | ", a.estimate().describe()))
                            .unwrap_or_default();
                        shown.set_message(format!(
                            "{rate}charged {} attacks {} failed {} retries {} 429s {}",
                            s.charged, s.attacks, s.failed, s.retries, s.rate_limited
                        ));
                    }
                });
                Reporter {
                    bar: Some(bar),
                    task: Some(task),
                }
            }
            ProgressMode::Lines { every } => {
                let task = tokio::spawn(async move {
                    let started = Instant::now();
                    let mut tick = tokio::time::interval(every);
                    tick.tick().await;
                    loop {
                        tick.tick().await;
                        let s = tally.snapshot();
                        let done = s.resolved + s.failed;
                        let secs = started.elapsed().as_secs_f64().max(0.001);
                        let estimate = auto.as_ref().map(|a| a.estimate());
                        tracing::info!(
                            done,
                            total = total.load(Ordering::Relaxed),
                            requests = s.requests,
                            rate_per_sec = (s.requests as f64 / secs * 10.0).round() / 10.0,
                            charged = s.charged,
                            attacks = s.attacks,
                            failed = s.failed,
                            retries = s.retries,
                            rate_limited = s.rate_limited,
                            rate = estimate.map(|e| e.describe()),
                            "progress"
                        );
                    }
                });
                Reporter {
                    bar: None,
                    task: Some(task),
                }
            }
        }
    }

    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop();
    }
}
