//! Pacing: the request rate over all workers, and the shared pause a 429 or `Retry-After` sets.
//!
//! - [`Rate`]: what the user asked for: no limit, a fixed rate, or `auto`.
//! - [`Pace`]: every request (first tries and retries alike) is granted here before it leaves,
//!   and with `--rate auto` every answer is reported back to the [`Adaptive`] controller, which
//!   moves the rate the schedule keeps.
//! - [`Grant`]: one request's permission to leave (and its room in flight under `auto`).
//!
//! Policy: `--rate N` means requests spread evenly (one every 1/N s), first tries and retries
//! alike: in any window of W seconds at most N x W (rounded up) + B requests leave, and at most N
//! in any sliding second. `--burst B` lets up to B leave back to back after a quiet spell. A
//! shared pause (a 429 or a `Retry-After` seen by any worker, the breaker's or a cut-off's
//! wait) holds every worker until the same instant, and spends the burst: the requests that
//! waited resume one interval apart, never together. Under `--rate auto` the same schedule
//! keeps the controller's current rate; a change of rate keeps the requests already scheduled
//! ahead as many requests ahead at the new spacing, so it frees no spent burst. A 429 under
//! `auto` is first of all a reason to cut the rate (see [`super::adaptive`] for when it also
//! pauses).
//!
//! Why not governor's GCRA alone: with burst 1 it forgets any lateness of a grant, and tokio's
//! timers wake up to a millisecond late, so at 400/s a run loses about 7% of its rate to timer
//! slack. Here the schedule (a GCRA "theoretical arrival time") counts a request that slept
//! for its slot and woke late as leaving on time, by at most one interval and [`TIMER_SLACK`]
//! (which is what keeps the window bound's rounding to one request), and a log of the last N
//! grant instants is the hard guarantee that no sliding second ever holds more than N. Waiters
//! queue on a fair (FIFO) async mutex, so one task sleeps for the next slot instead of all of
//! them waking at once.

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
        let now = s.tat;
        s.set_rate(per_sec, now);
        s
    }

    /// Keeps `per_sec` from `now` on. The requests already scheduled ahead of `now` stay that
    /// many requests ahead at the new spacing, so a change of rate never frees burst that was
    /// spent; the sliding-second log keeps only what counts.
    fn set_rate(&mut self, per_sec: f64, now: Instant) {
        let per_sec = per_sec.max(0.001);
        let ahead = self.tat.saturating_duration_since(now).as_secs_f64() * self.per_sec;
        self.tat = now + Duration::from_secs_f64(ahead / per_sec);
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

    /// Records a grant at `now`; `how` says how the request came to it (see [`Arrival`]).
    ///
    /// A request that slept for its slot and woke late is counted at most one interval (and
    /// [`TIMER_SLACK`]) earlier than it left, so timer lateness does not cost rate; a request
    /// that found its slot open is counted when it left; the first request after a shared pause
    /// spends the burst, so those that waited resume one interval apart.
    fn grant(&mut self, now: Instant, how: Arrival) {
        self.tat = match how {
            Arrival::AfterPause => now.max(self.tat) + self.tolerance + self.interval,
            Arrival::Open => now.max(self.tat) + self.interval,
            Arrival::Woke(ready) => {
                let late = now.saturating_duration_since(ready);
                let forgiven = late.min(TIMER_SLACK).min(self.interval);
                (now - forgiven).max(self.tat) + self.interval
            }
        };
        self.granted.push_back(now);
        while self.granted.len() > self.rate {
            self.granted.pop_front();
        }
    }
}

/// How a request came to its grant.
#[derive(Debug, Clone, Copy)]
enum Arrival {
    /// Its slot was open when it asked.
    Open,
    /// It slept until its slot opened at this instant (and may have woken late).
    Woke(Instant),
    /// It waited out a shared pause.
    AfterPause,
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
            schedule.grant(now, Arrival::Open);
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
        let mut slept = false;
        loop {
            if let Some(auto) = &self.auto {
                let rate = auto.rate();
                if rate != schedule.per_sec {
                    schedule.set_rate(rate, Instant::now());
                }
            }
            let mut at = schedule.ready_at();
            if let Some(until) = self.pause_deadline() {
                at = at.max(until);
            }
            let now = Instant::now();
            if now >= at {
                // A pause that ended since the last grant, waited out here or not.
                let after_pause = self.lock_paused().is_some_and(|p| {
                    p.until > p.set_at && schedule.granted.back().is_none_or(|last| p.until > *last)
                });
                let how = match (after_pause, slept) {
                    (true, _) => Arrival::AfterPause,
                    (false, true) => Arrival::Woke(at),
                    (false, false) => Arrival::Open,
                };
                schedule.grant(now, how);
                return self.grant(now, slot, cancel);
            }
            slept = true;
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
mod tests;
