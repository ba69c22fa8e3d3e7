//! Pacing: the request rate over all workers, and the shared pause a 429 or `Retry-After` sets.
//!
//! - [`Pace`]: every request (first tries and retries alike) waits here first.
//!
//! Policy: `--rate N` is a GCRA limit (governor) with burst `--burst` (default 1: requests are
//! spread evenly, never bunched at start). A `Retry-After` or a 429 seen by any worker pauses
//! all of them until the same instant; afterwards the run returns to the full rate. A permit
//! taken while a pause began is not used: the worker waits out the pause and asks again, so no
//! request leaves during a pause.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The shared pacing of one run.
#[derive(Debug)]
pub struct Pace {
    limiter: Option<DefaultDirectRateLimiter>,
    paused_until: Mutex<Option<Instant>>,
}

impl Pace {
    /// `rate` requests per second (`None`: no limit) with bursts of at most `burst`.
    pub fn new(rate: Option<NonZeroU32>, burst: NonZeroU32) -> Pace {
        Pace {
            limiter: rate.map(|r| RateLimiter::direct(Quota::per_second(r).allow_burst(burst))),
            paused_until: Mutex::new(None),
        }
    }

    /// Pauses every worker for `wait` from now (an earlier pause is extended, never shortened).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    fn pause_deadline(&self) -> Option<Instant> {
        let paused = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        paused.filter(|until| *until > Instant::now())
    }

    /// Waits until a request may be sent. Returns `false` if `cancel` fired first.
    pub async fn ready(&self, cancel: &CancellationToken) -> bool {
        loop {
            if let Some(until) = self.pause_deadline() {
                tokio::select! {
                    _ = cancel.cancelled() => return false,
                    _ = tokio::time::sleep_until(until) => {}
                }
                continue;
            }
            if let Some(limiter) = &self.limiter {
                tokio::select! {
                    _ = cancel.cancelled() => return false,
                    _ = limiter.until_ready_with_jitter(Jitter::up_to(Duration::from_micros(200))) => {}
                }
            }
            if self.pause_deadline().is_none() {
                return !cancel.is_cancelled();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_worker_until_it_ends() {
        let pace = Pace::new(None, NonZeroU32::MIN);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        pace.pause_for(Duration::from_secs(3));
        pace.pause_for(Duration::from_secs(1)); // shorter: ignored
        assert!(pace.ready(&cancel).await);
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_ends_a_wait() {
        let pace = Pace::new(None, NonZeroU32::MIN);
        let cancel = CancellationToken::new();
        pace.pause_for(Duration::from_secs(3600));
        cancel.cancel();
        assert!(!pace.ready(&cancel).await);
    }
}
