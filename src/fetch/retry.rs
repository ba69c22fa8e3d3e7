//! Retrying one id: the back-off policy and the circuit breaker (the attempt loop that applies
//! them, behind its seam to the vendor, is `attempt.rs`).
//!
//! Policy:
//! - Retried with exponential back-off and full jitter (backon), at most `--max-retries` times:
//!   HTTP 408 and 5xx, timeouts, resets, bodies that are not the vendor's JSON, and code 11350.
//!   If 11350 persists, the 11350 answer is stored (uncharged) and a later run asks again;
//!   if a transport fault persists, the id is `failed` and a later run asks again.
//! - A 429 does not use up the back-off: the vendor is up and asked us to slow down. It pauses
//!   every worker (its `Retry-After`, capped, at least one pacing interval; one second if it
//!   gave none or one that is not a delay or a date) and the id is asked again after the pause.
//!   429s that pause the run count towards the [`Breaker`] like outage faults (a 429 to a
//!   request sent before the pause does not), so a vendor refusing everything stops the run
//!   with its ids pending instead of looping.
//! - Every retry waits for the shared [`Pace`](super::pace::Pace), so retries count against
//!   `--rate` like first tries.
//! - The [`Breaker`] counts outage faults in a row across all workers; past its threshold the
//!   vendor is taken to be down and the run stops, instead of burning every id's retries.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

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
    /// The delays before each retry of one id.
    pub(crate) fn delays(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::new()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.max_retries)
            .build()
    }

    /// The shared pause a rate-limited answer asks for.
    pub(crate) fn rate_limit_pause(&self, retry_after: Option<Duration>) -> Duration {
        retry_after
            .unwrap_or(Duration::from_secs(1))
            .min(self.retry_after_cap)
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
        let delays: Vec<_> = policy.delays().collect();
        assert_eq!(delays.len(), 4);
        // Jitter adds up to one more base delay; the cap bounds the base.
        for d in &delays {
            assert!(
                *d >= Duration::from_millis(100) && *d <= Duration::from_millis(600),
                "{d:?}"
            );
        }
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
