//! Retrying one id: the back-off policy and the circuit breaker (the attempt loop that applies
//! them, behind its seam to the vendor, is `attempt.rs`).
//!
//! Policy:
//! - Retried at most `--max-retries` times in all: HTTP 408 and 5xx, timeouts, resets, bodies
//!   that are not the vendor's JSON, and code 11350. If 11350 persists, the 11350 answer is
//!   stored (uncharged) and a later run asks again; if a transport fault persists, the id is
//!   `failed` and a later run asks again.
//! - The wait before a retry depends on what came back ([`Delays`]). A fault (408, 5xx, a
//!   timeout, a reset, a body that is not the vendor's JSON) may be the vendor or the path to it
//!   failing: exponential back-off with full jitter (backon), from `--backoff-min-ms`, doubling,
//!   capped at `--backoff-max-ms`, so a failing vendor gets time to recover. An 11350 is an
//!   answer: the vendor is up and answered at once, about that one record, and the answer is
//!   kept and asked again on the next run, so the long wait for a persistent 11350 is the one
//!   between runs. Within the run it is asked again after the shortest back-off
//!   (`--backoff-min-ms` plus jitter), not a growing one: a growing one buys the record nothing
//!   and holds the end of the run (at the defaults, a run's last ids held at 11350 kept it
//!   going 8-15 s after everything else was done; now about 2 s).
//! - Neither wait protects the vendor's rate: every retry waits for the shared
//!   [`Pace`](super::pace::Pace), so retries count against `--rate` like first tries.
//! - A 429 does not use up the back-off: the vendor is up and asked us to slow down. It pauses
//!   every worker (its `Retry-After`, capped, at least one pacing interval; one second if it
//!   gave none or one that is not a delay or a date) and the id is asked again after the pause.
//!   429s that pause the run count towards the [`Breaker`] like outage faults (a 429 to a
//!   request sent before the pause does not), so a vendor refusing everything stops the run
//!   with its ids pending instead of looping.
//! - The [`Breaker`] counts outage faults in a row across all workers; past its threshold the
//!   vendor is taken to be down and the run stops, instead of burning every id's retries.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{
    BackoffBuilder, ConstantBackoff, ConstantBuilder, ExponentialBackoff, ExponentialBuilder,
};

/// The back-off settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; longer requests are capped to it.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The waits before each retry of one id.
    pub(crate) fn delays(&self) -> Delays {
        Delays {
            faults: ExponentialBuilder::new()
                .with_min_delay(self.min_delay)
                .with_max_delay(self.max_delay)
                .with_factor(2.0)
                .with_jitter()
                .with_max_times(self.max_retries)
                .build(),
            answers: ConstantBuilder::new()
                .with_delay(self.min_delay)
                .with_jitter()
                .with_max_times(self.max_retries)
                .build(),
            left: self.max_retries,
        }
    }

    /// The shared pause a rate-limited answer asks for.
    pub(crate) fn rate_limit_pause(&self, retry_after: Option<Duration>) -> Duration {
        retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(self.retry_after_cap)
    }
}

/// The waits of one id's retries: at most `--max-retries` in all; after a fault the back-off
/// grows, after an 11350 answer it stays at the shortest (see the module doc).
#[derive(Debug)]
pub(crate) struct Delays {
    faults: ExponentialBackoff,
    answers: ConstantBackoff,
    left: usize,
}

impl Delays {
    /// The wait before the next retry, after a fault or (`answered`) an 11350; `None` when the
    /// id's retries have run out.
    pub(crate) fn next(&mut self, answered: bool) -> Option<Duration> {
        self.left = self.left.checked_sub(1)?;
        if answered {
            self.answers.next()
        } else {
            self.faults.next()
        }
    }
}

/// Trips after `threshold` outage faults in a row, across all workers.
#[derive(Debug)]
pub(crate) struct Breaker {
    in_a_row: AtomicU32,
    threshold: u32,
}

impl Breaker {
    pub(crate) fn new(threshold: u32) -> Breaker {
        Breaker {
            in_a_row: AtomicU32::new(0),
            threshold: threshold.max(1),
        }
    }

    /// The vendor answered properly: the streak ends.
    pub(crate) fn record_ok(&self) {
        self.in_a_row.store(0, Ordering::Relaxed);
    }

    /// An outage fault; returns `true` when this one trips the breaker.
    pub(crate) fn record_outage(&self) -> bool {
        self.in_a_row.fetch_add(1, Ordering::Relaxed) + 1 == self.threshold
    }

    pub(crate) fn threshold(&self) -> u32 {
        self.threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_are_capped_and_run_out() {
        let policy = RetryPolicy {
            max_retries: 4,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        let mut delays = policy.delays();
        let delays: Vec<_> = std::iter::from_fn(|| delays.next(false)).collect();
        assert_eq!(delays.len(), 4);
        // Jitter adds up to one more base delay; the cap bounds the base.
        for d in &delays {
            assert!(
                *d >= Duration::from_millis(100) && *d <= Duration::from_millis(600),
                "{d:?}"
            );
        }
        // The third and fourth base delays are the cap (300 ms), not the first (100 ms).
        assert!(delays[2] >= Duration::from_millis(300), "{delays:?}");
        assert!(delays[3] >= Duration::from_millis(300), "{delays:?}");
    }

    #[test]
    fn after_an_11350_the_wait_stays_the_shortest_and_shares_the_count() {
        let policy = RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(30),
            ..RetryPolicy::default()
        };
        let mut delays = policy.delays();
        // Four 11350s in a row: each wait is the shortest back-off plus jitter, never growing.
        for _ in 0..4 {
            let d = delays.next(true).unwrap();
            assert!(
                d >= Duration::from_millis(100) && d <= Duration::from_millis(200),
                "{d:?}"
            );
        }
        // A fault after them starts its own back-off at the shortest, then it grows.
        let first = delays.next(false).unwrap();
        assert!(first <= Duration::from_millis(200), "{first:?}");
        let second = delays.next(false).unwrap();
        assert!(second >= Duration::from_millis(200), "{second:?}");
        // Six retries in all, whatever their causes.
        assert_eq!(delays.next(true), None);
        assert_eq!(delays.next(false), None);
    }

    #[test]
    fn retry_after_is_capped_and_defaults_to_a_second() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.rate_limit_pause(None), Duration::from_secs(1));
        assert_eq!(
            policy.rate_limit_pause(Some(Duration::from_secs(86_400))),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn breaker_trips_once_on_a_streak_and_resets_on_success() {
        let b = Breaker::new(3);
        assert!(!b.record_outage());
        assert!(!b.record_outage());
        b.record_ok();
        assert!(!b.record_outage());
        assert!(!b.record_outage());
        assert!(b.record_outage());
        assert!(!b.record_outage()); // already tripped: reported once
    }
}
