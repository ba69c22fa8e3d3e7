//! The rate a `--rate auto` run sustained without a 429: the floor of the rate it advises for
//! next time (see the module doc of [`super`]).

use std::time::Duration;

use tokio::time::Instant;

use super::CLEAN_SPAN;

/// One finished step: what it sent and whether any of its requests was refused.
#[derive(Debug, Clone, Copy)]
pub(super) struct StepRecord {
    pub start: Instant,
    pub end: Instant,
    pub granted: u64,
    pub refused: bool,
}

/// The rate of the newest stretch of at least [`CLEAN_SPAN`] without a refused request,
/// leaving out the `newest` steps (their 429s may still be on the way).
pub(super) fn clean_rate(
    steps: &std::collections::VecDeque<StepRecord>,
    newest: usize,
) -> Option<f64> {
    let (mut granted, mut span) = (0u64, Duration::ZERO);
    for step in steps.iter().rev().skip(newest) {
        if step.refused {
            return None;
        }
        granted += step.granted;
        span += step.end - step.start;
        if span >= CLEAN_SPAN {
            return Some(granted as f64 / span.as_secs_f64());
        }
    }
    None
}
