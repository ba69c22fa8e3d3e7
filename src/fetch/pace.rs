//! Pacing: the request rate over all workers, and the shared pause a 429 or `Retry-After` sets.
//!
//! - [`Rate`]: what the user asked for: no limit, a fixed rate, or `auto`.
//! - [`Pace`]: every request (first tries and retries alike) is granted here before it leaves,
//!   and with `--rate auto` every answer is reported back to the [`Adaptive`] controller, which
//!   moves the rate the schedule keeps.
//! - [`Grant`]: one request's permission to leave (and its room in flight under `auto`).
//!
//! Policy: `--rate N` means at most N requests in any sliding second, spread evenly (one every
//! 1/N s); `--burst B` lets up to B leave back to back after a quiet spell, never more than N in
//! any second. A `Retry-After` or a 429 seen by any worker pauses all of them until the same
//! instant; afterwards the run returns to the full rate. Under `--rate auto` the same schedule
//! keeps the controller's current rate (at most that many grants in any sliding second, rounded
//! up), and a 429 is first of all a reason to cut the rate (see [`super::adaptive`] for when it
//! also pauses).
//!
//! Why not governor's GCRA alone: with burst 1 it forgets any lateness of a grant, and tokio's
//! timers wake up to a millisecond late, so at 400/s a run loses about 7% of its rate to timer
//! slack. Here the schedule (a GCRA "theoretical arrival time") forgives a grant up to
//! [`TIMER_SLACK`] of lateness so the rate holds, and a log of the last N grant instants is the
//! hard guarantee that no sliding second ever holds more than N. Waiters queue on a fair
//! (FIFO) async mutex, so one task sleeps for the next slot instead of all of them waking at once.

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::adaptive::{Adaptive, AutoRate, Slot};

/// The rate a run keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Rate {
    /// `--rate 0`: no limit.
    Unlimited,
    /// `--rate N`.
    Fixed(NonZeroU32),
    /// `--rate auto`, within these bounds.
    Auto(AutoRate),
}

/// Lateness of a grant that the schedule forgives (timer resolution and wake-up jitter on a busy
/// machine): a grant this late lets the next few catch up, never past the per-second cap.
pub(crate) const TIMER_SLACK: Duration = Duration::from_millis(10);

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Schedule {
    /// The rate kept, per second.
    per_sec: f64,
    /// Requests that may leave back to back.
    burst: u32,
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
    fn new(per_sec: f64, burst: NonZeroU32) -> Schedule {
        let mut s = Schedule {
            per_sec: 0.0,
            burst: burst.get(),
            rate: 1,
            interval: Duration::ZERO,
            tolerance: Duration::ZERO,
            tat: Instant::now(),
            granted: VecDeque::with_capacity((per_sec.ceil() as usize).clamp(1, 1 << 20)),
        };
        s.set_rate(per_sec);
        s
    }

    /// Keeps `per_sec` from the next grant on; the sliding-second log keeps only what counts.
    fn set_rate(&mut self, per_sec: f64) {
        let per_sec = per_sec.max(0.001);
        self.per_sec = per_sec;
        self.rate = (per_sec.ceil() as usize).max(1);
        self.interval = Duration::from_secs_f64(1.0 / per_sec);
        let burst = self.burst.clamp(1, self.rate.min(u32::MAX as usize) as u32);
        self.tolerance = self.interval * (burst - 1);
        while self.granted.len() > self.rate {
            self.granted.pop_front();
        }
    }

    fn ready_at(&self) -> Instant {
        let mut at = self.tat.checked_sub(self.tolerance).unwrap_or(self.tat);
        if self.granted.len() >= self.rate
            && let Some(oldest) = self.granted.front()
        {
            at = at.max(*oldest + WINDOW);
        }
        at
    }

    /// Records a grant at `now`. A grant at most [`TIMER_SLACK`] behind the schedule is counted
    /// at its scheduled instant (timer lateness is forgiven, so the rate holds); a grant after a
    /// quiet spell or at the end of a shared pause starts the schedule afresh at `now`, so the
    /// next request is a full interval later, never early.
    fn grant(&mut self, now: Instant, after_pause: bool) {
        let base = if !after_pause && now <= self.tat + TIMER_SLACK {
            self.tat
        } else {
            now.max(self.tat)
        };
        self.tat = base + self.interval;
        self.granted.push_back(now);
        while self.granted.len() > self.rate {
            self.granted.pop_front();
        }
    }
}

/// A limiter that never waits: a request fits the schedule now or is refused. The embedded
/// mock vendor answers 429 with it, under the same rate rule a run paces itself by.
#[derive(Debug)]
pub(crate) struct Limiter(Mutex<Schedule>);

impl Limiter {
    /// At most `per_sec` requests in any sliding second, up to `burst` back to back.
    pub(crate) fn new(per_sec: NonZeroU32, burst: NonZeroU32) -> Limiter {
        Limiter(Mutex::new(Schedule::new(f64::from(per_sec.get()), burst)))
    }

    /// Whether a request may go now; one that may is counted.
    pub(crate) fn check(&self) -> bool {
        let now = Instant::now();
        let mut schedule = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if schedule.ready_at() <= now {
            schedule.grant(now, false);
            true
        } else {
            false
        }
    }
}

/// One request's permission to leave.
#[derive(Debug)]
pub(crate) struct Grant {
    /// When it was granted, wall clock (Unix ms): what the attempts log records.
    pub at_ms: i64,
    at: Instant,
    /// Room in flight, given back when the grant is dropped (only under `auto`).
    _slot: Option<Slot>,
}

#[derive(Debug, Clone, Copy)]
struct Paused {
    set_at: Instant,
    until: Instant,
}

/// The shared pacing of one run.
#[derive(Debug)]
pub(crate) struct Pace {
    schedule: Option<tokio::sync::Mutex<Schedule>>,
    /// The latest shared pause: when it was set and until when it holds.
    paused: Mutex<Option<Paused>>,
    /// 1 / rate at a fixed rate; zero without a limit.
    fixed_interval: Duration,
    auto: Option<Arc<Adaptive>>,
}

impl Pace {
    /// Paces at `rate` with bursts of at most `burst`. Under `auto`, `workers` is the most
    /// requests ever in flight, and `follow_concurrency` lets the controller size how many are.
    pub(crate) fn new(
        rate: Rate,
        burst: NonZeroU32,
        workers: usize,
        follow_concurrency: bool,
    ) -> Pace {
        let (per_sec, auto) = match rate {
            Rate::Unlimited => (None, None),
            Rate::Fixed(r) => (Some(f64::from(r.get())), None),
            Rate::Auto(bounds) => {
                let auto = Arc::new(Adaptive::new(bounds, workers, follow_concurrency));
                (Some(auto.rate()), Some(auto))
            }
        };
        let fixed_interval = match rate {
            Rate::Fixed(r) => Duration::from_secs_f64(1.0 / f64::from(r.get())),
            Rate::Unlimited | Rate::Auto(_) => Duration::ZERO,
        };
        Pace {
            fixed_interval,
            schedule: per_sec.map(|r| tokio::sync::Mutex::new(Schedule::new(r, burst))),
            paused: Mutex::new(None),
            auto,
        }
    }

    /// The automatic rate's controller, if the rate is `auto`.
    pub(crate) fn adaptive(&self) -> Option<Arc<Adaptive>> {
        self.auto.clone()
    }

    /// An answer came back after `latency` (under `auto`, the controller learns from it).
    pub(crate) fn answered(&self, latency: Duration) {
        if let Some(auto) = &self.auto {
            auto.answered(Instant::now(), latency);
        }
    }

    /// The vendor refused `grant` (429). At a fixed rate every worker pauses for `full_pause`
    /// (never less than one pacing interval, so a `Retry-After` of zero or in the past still
    /// spaces the next try); under `auto` the controller cuts the rate and decides the pause.
    /// A refusal of a request granted before the latest pause was set tells nothing new (the
    /// pause already answers it), so one burst of 429s pauses the workers once, not once per
    /// refusal. Returns whether this refusal counted (paused or cut the rate).
    pub(crate) fn refused(
        &self,
        grant: &Grant,
        retry_after: Option<Duration>,
        full_pause: Duration,
    ) -> bool {
        if self.lock_paused().is_some_and(|p| grant.at < p.set_at) {
            return false;
        }
        let full_pause = full_pause.max(self.interval());
        match &self.auto {
            None => self.pause_for(full_pause),
            Some(auto) => {
                if let Some(wait) = auto.refused(grant.at, retry_after, full_pause) {
                    self.pause_for(wait.max(self.interval()));
                }
            }
        }
        true
    }

    /// One interval at the rate kept now (zero without a limit).
    fn interval(&self) -> Duration {
        match &self.auto {
            Some(auto) => Duration::from_secs_f64(1.0 / auto.rate().max(0.001)),
            None => self.fixed_interval,
        }
    }

    /// Pauses every worker for `wait` from now (an earlier pause is extended, never shortened).
    pub(crate) fn pause_for(&self, wait: Duration) {
        let now = Instant::now();
        let until = now + wait;
        let mut paused = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        if paused.is_none_or(|current| current.until < until) {
            *paused = Some(Paused { set_at: now, until });
        }
    }

    fn lock_paused(&self) -> Option<Paused> {
        *self.paused.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pause_deadline(&self) -> Option<Instant> {
        self.lock_paused()
            .map(|p| p.until)
            .filter(|until| *until > Instant::now())
    }

    /// Waits until a request may be sent. Returns `None` if `cancel` fired first.
    pub(crate) async fn ready(&self, cancel: &CancellationToken) -> Option<Grant> {
        let slot = match &self.auto {
            Some(auto) => tokio::select! {
                _ = cancel.cancelled() => return None,
                slot = auto.slot() => slot,
            },
            None => None,
        };
        let Some(schedule) = &self.schedule else {
            loop {
                match self.pause_deadline() {
                    Some(until) => sleep_or_cancel(until, cancel).await?,
                    None => return self.grant(Instant::now(), slot, cancel),
                }
            }
        };
        let mut schedule = tokio::select! {
            _ = cancel.cancelled() => return None,
            guard = schedule.lock() => guard,
        };
        let mut waited_out_pause = false;
        loop {
            if let Some(auto) = &self.auto {
                let rate = auto.rate();
                if rate != schedule.per_sec {
                    schedule.set_rate(rate);
                }
            }
            let mut at = schedule.ready_at();
            if let Some(until) = self.pause_deadline() {
                at = at.max(until);
                waited_out_pause = true;
            }
            let now = Instant::now();
            if now >= at {
                schedule.grant(now, waited_out_pause);
                return self.grant(now, slot, cancel);
            }
            sleep_or_cancel(at, cancel).await?;
        }
    }

    fn grant(&self, now: Instant, slot: Option<Slot>, cancel: &CancellationToken) -> Option<Grant> {
        if cancel.is_cancelled() {
            return None;
        }
        if let Some(auto) = &self.auto {
            auto.granted(now);
        }
        Some(Grant {
            at_ms: crate::store::now_ms(),
            at: now,
            _slot: slot,
        })
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
        let pace = Pace::new(Rate::Unlimited, NonZeroU32::MIN, 1, false);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        pace.pause_for(Duration::from_secs(3));
        pace.pause_for(Duration::from_secs(1)); // shorter: ignored
        assert!(pace.ready(&cancel).await.is_some());
        assert!(start.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_ends_a_wait() {
        let pace = Pace::new(Rate::Fixed(nz(10)), NonZeroU32::MIN, 1, false);
        let cancel = CancellationToken::new();
        pace.pause_for(Duration::from_secs(3600));
        cancel.cancel();
        assert!(pace.ready(&cancel).await.is_none());
    }

    #[test]
    fn grants_are_even_and_no_sliding_second_holds_more_than_the_rate() {
        // Drive the schedule directly with late wake-ups, as real timers deliver them.
        let start = Instant::now();
        let mut s = Schedule::new(50.0, NonZeroU32::MIN);
        s.tat = start;
        let mut grants = Vec::new();
        for i in 0..500u32 {
            let lateness = Duration::from_micros(u64::from((i * 7919) % 1900));
            let at = s.ready_at() + lateness;
            s.grant(at, false);
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
        let mut s = Schedule::new(10.0, NonZeroU32::MIN);
        s.tat = start;
        s.grant(start, false);
        let later = start + Duration::from_secs(60);
        s.grant(later, false);
        assert_eq!(s.ready_at(), later + Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_pause_requests_keep_a_full_interval_apart() {
        let pace = Pace::new(Rate::Fixed(nz(50)), NonZeroU32::MIN, 8, false);
        let cancel = CancellationToken::new();
        for _ in 0..5 {
            assert!(pace.ready(&cancel).await.is_some());
        }
        pace.pause_for(Duration::from_secs(1));
        let paused_at = Instant::now();
        let mut at = Vec::new();
        for _ in 0..10 {
            at.push(pace.ready(&cancel).await.unwrap().at);
        }
        assert!(at[0] >= paused_at + Duration::from_secs(1));
        for w in at.windows(2) {
            assert!(
                w[1] - w[0] >= Duration::from_millis(20),
                "{:?}",
                w[1] - w[0]
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_of_requests_sent_before_a_pause_do_not_extend_it() {
        let pace = Pace::new(Rate::Fixed(nz(50)), NonZeroU32::MIN, 8, false);
        let cancel = CancellationToken::new();
        let early = pace.ready(&cancel).await.unwrap();
        let late = pace.ready(&cancel).await.unwrap();
        tokio::time::advance(Duration::from_millis(5)).await;
        pace.refused(&early, None, Duration::from_secs(1));
        let until = pace.pause_deadline().unwrap();
        tokio::time::advance(Duration::from_millis(500)).await;
        // Sent before the pause was set: the same overload, already answered.
        pace.refused(&late, None, Duration::from_secs(1));
        assert_eq!(pace.pause_deadline(), Some(until));
        // Sent after the pause: a new refusal pauses again.
        tokio::time::advance(Duration::from_millis(600)).await;
        let after = pace.ready(&cancel).await.unwrap();
        pace.refused(&after, None, Duration::from_secs(1));
        assert!(pace.pause_deadline().unwrap() > until);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_asking_for_no_wait_still_pauses_one_interval() {
        let pace = Pace::new(Rate::Fixed(nz(10)), NonZeroU32::MIN, 4, false);
        let cancel = CancellationToken::new();
        let grant = pace.ready(&cancel).await.unwrap();
        assert!(pace.refused(&grant, Some(Duration::ZERO), Duration::ZERO));
        assert_eq!(
            pace.pause_deadline(),
            Some(Instant::now() + Duration::from_millis(100))
        );
    }
}
