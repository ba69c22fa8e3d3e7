//! Pacing: the request rate over all workers, and the shared pause a 429 or `Retry-After` sets.
//!
//! - [`Pace`]: every request (first tries and retries alike) is granted here before it leaves.
//!
//! Policy: `--rate N` means at most N requests in any sliding second, spread evenly (one every
//! 1/N s); `--burst B` lets up to B leave back to back after a quiet spell, never more than N in
//! any second. A `Retry-After` or a 429 seen by any worker pauses all of them until the same
//! instant; afterwards the run returns to the full rate.
//!
//! Why not governor's GCRA alone: with burst 1 it forgets any lateness of a grant, and tokio's
//! timers wake up to a millisecond late, so at 400/s a run loses about 7% of its rate to timer
//! slack. Here the schedule (a GCRA "theoretical arrival time") forgives a grant up to
//! [`TIMER_SLACK`] of lateness so the rate holds, and a log of the last N grant instants is the
//! hard guarantee that no sliding second ever holds more than N. Waiters queue on a fair
//! (FIFO) async mutex, so one task sleeps for the next slot instead of all of them waking at once.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Lateness of a grant that the schedule forgives (timer resolution and wake-up jitter on a busy
/// machine): a grant this late lets the next few catch up, never past the per-second cap.
pub const TIMER_SLACK: Duration = Duration::from_millis(10);

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Schedule {
    /// Requests allowed in any sliding second.
    rate: usize,
    /// 1 / rate.
    interval: Duration,
    /// How far ahead of the schedule a grant may be ((burst - 1) intervals).
    tolerance: Duration,
    /// The GCRA theoretical arrival time of the next request.
    tat: Instant,
    /// The last `rate` grant instants, oldest first.
    granted: VecDeque<Instant>,
}

impl Schedule {
    fn ready_at(&self) -> Instant {
        let mut at = self.tat.checked_sub(self.tolerance).unwrap_or(self.tat);
        if self.granted.len() >= self.rate
            && let Some(oldest) = self.granted.front()
        {
            at = at.max(*oldest + WINDOW);
        }
        at
    }

    fn grant(&mut self, now: Instant) {
        let base = self.tat.max(now.checked_sub(TIMER_SLACK).unwrap_or(now));
        self.tat = base + self.interval;
        self.granted.push_back(now);
        while self.granted.len() > self.rate {
            self.granted.pop_front();
        }
    }
}

/// The shared pacing of one run.
#[derive(Debug)]
pub struct Pace {
    schedule: Option<tokio::sync::Mutex<Schedule>>,
    paused_until: Mutex<Option<Instant>>,
}

impl Pace {
    /// `rate` requests per second (`None`: no limit) with bursts of at most `burst`.
    pub fn new(rate: Option<NonZeroU32>, burst: NonZeroU32) -> Pace {
        Pace {
            schedule: rate.map(|r| {
                let interval = Duration::from_secs(1) / r.get();
                let burst = burst.get().min(r.get());
                tokio::sync::Mutex::new(Schedule {
                    rate: r.get() as usize,
                    interval,
                    tolerance: interval * (burst - 1),
                    tat: Instant::now(),
                    granted: VecDeque::with_capacity(r.get().min(1 << 20) as usize),
                })
            }),
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

    /// Waits until a request may be sent and returns the wall-clock grant time (Unix ms), which
    /// is what the attempts log records. Returns `None` if `cancel` fired first.
    pub async fn ready(&self, cancel: &CancellationToken) -> Option<i64> {
        let Some(schedule) = &self.schedule else {
            loop {
                match self.pause_deadline() {
                    Some(until) => sleep_or_cancel(until, cancel).await?,
                    None => {
                        return (!cancel.is_cancelled()).then(crate::store::now_ms);
                    }
                }
            }
        };
        let mut schedule = tokio::select! {
            _ = cancel.cancelled() => return None,
            guard = schedule.lock() => guard,
        };
        loop {
            let mut at = schedule.ready_at();
            if let Some(until) = self.pause_deadline() {
                at = at.max(until);
            }
            let now = Instant::now();
            if now >= at {
                schedule.grant(now);
                return (!cancel.is_cancelled()).then(crate::store::now_ms);
            }
            sleep_or_cancel(at, cancel).await?;
        }
    }
}

async fn sleep_or_cancel(until: Instant, cancel: &CancellationToken) -> Option<()> {
    tokio::select! {
        _ = cancel.cancelled() => None,
        _ = tokio::time::sleep_until(until) => Some(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_worker_until_it_ends() {
        let pace = Pace::new(None, NonZeroU32::MIN);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        pace.pause_for(Duration::from_secs(3));
        pace.pause_for(Duration::from_secs(1)); // shorter: ignored
        assert!(pace.ready(&cancel).await.is_some());
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_ends_a_wait() {
        let pace = Pace::new(Some(nz(10)), NonZeroU32::MIN);
        let cancel = CancellationToken::new();
        pace.pause_for(Duration::from_secs(3600));
        cancel.cancel();
        assert!(pace.ready(&cancel).await.is_none());
    }

    #[test]
    fn grants_are_even_and_no_sliding_second_holds_more_than_the_rate() {
        // Drive the schedule directly with late wake-ups, as real timers deliver them.
        let start = Instant::now();
        let mut s = Schedule {
            rate: 50,
            interval: Duration::from_millis(20),
            tolerance: Duration::ZERO,
            tat: start,
            granted: VecDeque::new(),
        };
        let mut grants = Vec::new();
        for i in 0..500u32 {
            let lateness = Duration::from_micros(u64::from((i * 7919) % 1900));
            let at = s.ready_at() + lateness;
            s.grant(at);
            grants.push(at);
        }
        for (i, g) in grants.iter().enumerate() {
            let in_window = grants[i..].iter().take_while(|h| **h < *g + WINDOW).count();
            assert!(
                in_window <= 50,
                "{in_window} grants in the second after grant {i}"
            );
        }
        // Timer lateness is forgiven: 500 grants at 50/s take 10 s, not 10 s plus the slack.
        let span = grants[499] - grants[0];
        assert!(span < Duration::from_millis(9_990 + 20), "{span:?}");
        // Even: a grant is early only by the lateness its predecessor made up for.
        for w in grants.windows(2) {
            assert!(
                w[1] - w[0] >= Duration::from_millis(18),
                "{:?}",
                w[1] - w[0]
            );
        }
    }

    #[test]
    fn no_burst_after_a_quiet_spell_with_burst_one() {
        let start = Instant::now();
        let mut s = Schedule {
            rate: 10,
            interval: Duration::from_millis(100),
            tolerance: Duration::ZERO,
            tat: start,
            granted: VecDeque::new(),
        };
        s.grant(start);
        let later = start + Duration::from_secs(60);
        s.grant(later);
        assert!(s.ready_at() >= later + Duration::from_millis(100) - TIMER_SLACK);
    }
}
