//! `--rate auto`: finding the vendor's unpublished rate limit and running just under it.
//!
//! - [`AutoRate`]: the bounds of the search (`--min-rate`, `--max-rate`).
//! - [`Controller`]: the rate decision, a state machine fed with grants, answers and the clock.
//! - [`Adaptive`]: the controller shared by the workers, plus the concurrency gate that follows
//!   the rate.
//! - [`Estimate`]: what the progress display, the run summary and the `runs` table show.
//!
//! Policy (CUBIC-like, as TCP and the AWS SDKs' adaptive retry mode):
//! - Search: start at [`START`] per second and multiply the rate by 1.5 every [`STEP`] in which
//!   the workers used at least 3/4 of it, nothing was refused and latency held.
//! - Congestion: a 429 to a request granted after the last cut, or a step whose mean latency is
//!   over twice (and 50 ms over) the lowest step mean seen, cuts the rate once; 429s to requests
//!   sent before the cut are answers to the old rate and cut nothing. The rate at the cut is the
//!   limit found.
//! - Return: after a cut the rate follows `limit + c (t - k)^3`: it climbs back towards the limit
//!   found in `k` seconds, flattening as it nears it, then probes beyond it ever faster, so a
//!   limit that rose is found again.
//! - Settling: a cut within 15% of the previous limit confirms it. While confirmed, a cut takes
//!   10% off and the return lasts 8 s, so the rate stays within 90-100% of the limit and touches
//!   it once a cycle; before that (or when the limit moved), a cut takes 30% off and the return
//!   lasts 3 s. A step that did not use the rate (input drained, slow answers) stops the clock
//!   of the curve: the rate never rises on no evidence.
//! - Bounds: the rate never leaves `[--min-rate, --max-rate]`. A 429 whose `Retry-After` asks for
//!   more than a second, or any 429 while the rate already sits at `--min-rate`, pauses every
//!   worker as at a fixed rate; otherwise the cut is the answer and the pause is one interval at
//!   the new rate, so one 429 does not stall the run.
//! - The rate settled on is the time-weighted mean rate since the limit was last found or first
//!   confirmed (the current rate if nothing was ever refused).
//! - Concurrency (unless `--concurrency` is given) follows Little's law: twice the rate times the
//!   smoothed latency, plus 8, within the worker count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The rate the search starts at (the fixed default's modest rate).
pub const START: f64 = 10.0;
/// The default `--max-rate`.
pub const DEFAULT_MAX_RATE: u32 = 1000;
/// The default `--min-rate`.
pub const DEFAULT_MIN_RATE: u32 = 1;
/// How often the controller looks at what the last stretch of requests saw.
pub const STEP: Duration = Duration::from_millis(500);

const GROWTH: f64 = 1.5;
const USED: f64 = 0.75;
const SAME_LIMIT: f64 = 0.15;
const BETA_SEARCHING: f64 = 0.7;
const RETURN_SEARCHING: f64 = 3.0;
const BETA_SETTLED: f64 = 0.9;
const RETURN_SETTLED: f64 = 8.0;
const LATENCY_FACTOR: u32 = 2;
const LATENCY_MARGIN: Duration = Duration::from_millis(50);
const LATENCY_SAMPLES: u64 = 4;

/// The bounds of an automatic rate, requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AutoRate {
    pub min: f64,
    pub max: f64,
}

impl Default for AutoRate {
    fn default() -> Self {
        AutoRate {
            min: f64::from(DEFAULT_MIN_RATE),
            max: f64::from(DEFAULT_MAX_RATE),
        }
    }
}

/// What the controller knows at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Estimate {
    /// The rate in force.
    pub rate: f64,
    /// The rate at the last cut: the vendor's limit as far as it is known.
    pub limit: Option<f64>,
    /// Whether the last cut confirmed the limit before it.
    pub confirmed: bool,
    /// The rate settled on (see the module doc).
    pub settled: f64,
    /// Requests allowed in flight, when concurrency follows the rate.
    pub concurrency: Option<usize>,
}

impl Estimate {
    /// `auto: 64/s (limit found at ~70/s)`, as progress shows it.
    pub fn describe(&self) -> String {
        match self.limit {
            Some(limit) => format!("auto: {:.0}/s (limit found at ~{:.0}/s)", self.rate, limit),
            None => format!("auto: {:.0}/s (searching, no 429 yet)", self.rate),
        }
    }
}

impl Estimate {
    /// The run summary's line: the rate settled on and what to pass next time.
    pub fn summary(&self) -> String {
        let settled = self.settled.floor().max(1.0);
        match self.limit {
            Some(limit) => format!(
                "rate auto: settled at {settled:.0}/s (limit found at ~{limit:.0}/s); pass \
                 --rate {settled:.0} next time, or keep --rate auto"
            ),
            None => format!(
                "rate auto: reached {settled:.0}/s without a 429 (raise --max-rate to search \
                 higher); pass --rate {settled:.0} next time, or keep --rate auto"
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Search,
    /// The cubic return after a cut: `limit + c (t - k)^3`, `t` seconds since `since`.
    Return {
        since: Instant,
        k: f64,
        c: f64,
    },
}

/// The rate decision. Every method takes the current instant, so a test drives it with a clock
/// of its own.
#[derive(Debug)]
pub struct Controller {
    bounds: AutoRate,
    rate: f64,
    phase: Phase,
    limit: Option<f64>,
    confirmed: bool,
    last_cut: Option<Instant>,
    step_start: Instant,
    step_granted: u64,
    step_answers: u64,
    step_latency: Duration,
    base_latency: Option<Duration>,
    latency: Option<Duration>,
    latency_quiet_until: Instant,
    mean_since: Option<Instant>,
    mean_area: f64,
    last_change: Instant,
}

impl Controller {
    pub fn new(bounds: AutoRate, now: Instant) -> Controller {
        let max = bounds.max.max(bounds.min);
        Controller {
            bounds: AutoRate {
                min: bounds.min,
                max,
            },
            rate: START.clamp(bounds.min, max),
            phase: Phase::Search,
            limit: None,
            confirmed: false,
            last_cut: None,
            step_start: now,
            step_granted: 0,
            step_answers: 0,
            step_latency: Duration::ZERO,
            base_latency: None,
            latency: None,
            latency_quiet_until: now,
            mean_since: None,
            mean_area: 0.0,
            last_change: now,
        }
    }

    /// The rate in force.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The smoothed latency of answers, if any came.
    pub fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// A request left at `now`; takes a step first if one is due.
    pub fn granted(&mut self, now: Instant) {
        self.step_if_due(now);
        self.step_granted += 1;
    }

    /// An answer (any, refused ones included) came back after `latency`.
    pub fn answered(&mut self, now: Instant, latency: Duration) {
        self.step_answers += 1;
        self.step_latency += latency;
        self.latency = Some(match self.latency {
            None => latency,
            Some(l) => l.mul_f64(0.9) + latency.mul_f64(0.1),
        });
        self.step_if_due(now);
    }

    /// A 429 to a request granted at `sent`. Returns whether it cut the rate.
    pub fn refused(&mut self, sent: Instant, now: Instant) -> bool {
        if self.last_cut.is_some_and(|cut| sent < cut) {
            return false;
        }
        self.cut(now);
        true
    }

    /// Whether the rate sits at its floor (a refusal there is answered by a full pause).
    pub fn at_floor(&self) -> bool {
        self.rate <= self.bounds.min
    }

    pub fn estimate(&self, now: Instant) -> Estimate {
        let settled = match self.mean_since {
            Some(since) if now > since => {
                let area = self.mean_area + self.rate * (now - self.last_change).as_secs_f64();
                area / (now - since).as_secs_f64()
            }
            _ => self.rate,
        };
        Estimate {
            rate: self.rate,
            limit: self.limit,
            confirmed: self.confirmed,
            settled,
            concurrency: None,
        }
    }

    fn set_rate(&mut self, rate: f64, now: Instant) {
        if self.mean_since.is_some() {
            self.mean_area += self.rate * (now - self.last_change).as_secs_f64();
        }
        self.last_change = now;
        self.rate = rate.clamp(self.bounds.min, self.bounds.max);
    }

    fn reset_step(&mut self, now: Instant) {
        self.step_start = now;
        self.step_granted = 0;
        self.step_answers = 0;
        self.step_latency = Duration::ZERO;
    }

    fn step_if_due(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.step_start);
        if elapsed < STEP {
            return;
        }
        if self.step_answers >= LATENCY_SAMPLES {
            let mean = self.step_latency / self.step_answers as u32;
            let base = self.base_latency.map_or(mean, |b| b.min(mean));
            self.base_latency = Some(base);
            let threshold = (base * LATENCY_FACTOR).max(base + LATENCY_MARGIN);
            if mean > threshold && now >= self.latency_quiet_until {
                self.cut(now);
                return;
            }
        }
        let used = self.step_granted as f64 >= USED * self.rate * elapsed.as_secs_f64();
        match self.phase {
            Phase::Search => {
                if used {
                    self.set_rate(self.rate * GROWTH, now);
                }
            }
            Phase::Return { since, k, c } if !used => {
                // The curve's clock stops while the rate is not being used.
                self.phase = Phase::Return {
                    since: since + elapsed,
                    k,
                    c,
                };
            }
            Phase::Return { since, k, c } => {
                let t = now.saturating_duration_since(since).as_secs_f64();
                let limit = self.limit.unwrap_or(self.rate);
                self.set_rate(limit + c * (t - k).powi(3), now);
            }
        }
        self.reset_step(now);
    }

    fn cut(&mut self, now: Instant) {
        let at = self.rate;
        let same = self
            .limit
            .is_some_and(|limit| (at - limit).abs() <= SAME_LIMIT * limit);
        let restart_mean = !same || !self.confirmed;
        self.confirmed = same;
        self.limit = Some(at);
        let (beta, k) = if same {
            (BETA_SETTLED, RETURN_SETTLED)
        } else {
            (BETA_SEARCHING, RETURN_SEARCHING)
        };
        self.set_rate(at * beta, now);
        if restart_mean {
            // The limit was just found, moved, or first confirmed: the mean starts here.
            self.mean_since = Some(now);
            self.mean_area = 0.0;
            self.last_change = now;
        }
        let climb = (at - self.rate).max(at * (1.0 - beta));
        self.phase = Phase::Return {
            since: now,
            k,
            c: climb / k.powi(3),
        };
        self.last_cut = Some(now);
        self.latency_quiet_until = now + STEP * 2;
        self.reset_step(now);
    }
}

/// The controller shared by one run's workers, and the concurrency gate.
#[derive(Debug)]
pub struct Adaptive {
    controller: Mutex<Controller>,
    gate: Option<Gate>,
}

impl Adaptive {
    /// `workers` is the most requests that may ever be in flight; `follow_concurrency` sizes the
    /// gate from the rate and latency (off when the user gave `--concurrency`).
    pub fn new(bounds: AutoRate, workers: usize, follow_concurrency: bool) -> Adaptive {
        let controller = Controller::new(bounds, Instant::now());
        let gate = follow_concurrency.then(|| {
            let gate = Gate::new(workers);
            gate.resize(little(controller.rate(), None, workers));
            gate
        });
        Adaptive {
            controller: Mutex::new(controller),
            gate,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Controller> {
        self.controller.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for room in flight, if concurrency follows the rate.
    pub async fn slot(&self) -> Option<Slot> {
        match &self.gate {
            Some(gate) => gate.acquire().await,
            None => None,
        }
    }

    /// A request leaves now; returns the rate in force.
    pub fn granted(&self, now: Instant) -> f64 {
        let mut c = self.lock();
        c.granted(now);
        c.rate()
    }

    pub fn rate(&self) -> f64 {
        self.lock().rate()
    }

    /// An answer came back; resizes the gate to the rate and latency.
    pub fn answered(&self, now: Instant, latency: Duration) {
        let (rate, latency) = {
            let mut c = self.lock();
            c.answered(now, latency);
            (c.rate(), c.latency())
        };
        if let Some(gate) = &self.gate {
            gate.resize(little(rate, latency, gate.max));
        }
    }

    /// A 429 to a request granted at `sent`: returns the shared pause to apply, given the
    /// vendor's `Retry-After` and the pause a fixed rate would take (see the module doc).
    pub fn refused(
        &self,
        sent: Instant,
        retry_after: Option<Duration>,
        full_pause: Duration,
    ) -> Option<Duration> {
        let now = Instant::now();
        let mut c = self.lock();
        let floor = c.at_floor();
        let cut = c.refused(sent, now);
        if floor || retry_after.is_some_and(|wait| wait > Duration::from_secs(1)) {
            Some(full_pause)
        } else if cut {
            Some(Duration::from_secs_f64(1.0 / c.rate()))
        } else {
            None
        }
    }

    pub fn estimate(&self) -> Estimate {
        let estimate = self.lock().estimate(Instant::now());
        Estimate {
            concurrency: self.concurrency(),
            ..estimate
        }
    }

    /// The gate's current size (requests allowed in flight), if it follows the rate.
    pub fn concurrency(&self) -> Option<usize> {
        self.gate
            .as_ref()
            .map(|g| *g.size.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Little's law with headroom: requests in flight needed to keep `rate` at `latency` (a second
/// until one is measured), twice over, plus 8, within `max`.
fn little(rate: f64, latency: Option<Duration>, max: usize) -> usize {
    let latency = latency.unwrap_or(Duration::from_secs(1)).as_secs_f64();
    ((2.0 * rate * latency).ceil() as usize + 8).clamp(1, max.max(1))
}

/// A semaphore whose size can shrink while permits are out: the shrink is owed, and permits
/// coming back pay the debt instead of returning.
#[derive(Debug)]
struct Gate {
    sem: Arc<Semaphore>,
    size: Mutex<usize>,
    debt: Arc<AtomicUsize>,
    max: usize,
}

/// Room for one request in flight; dropping it gives the room back (or pays the gate's debt).
#[derive(Debug)]
pub struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    debt: Arc<AtomicUsize>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let paid = self
            .debt
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| d.checked_sub(1))
            .is_ok();
        if paid {
            permit.forget();
        }
    }
}

impl Gate {
    fn new(max: usize) -> Gate {
        Gate {
            sem: Arc::new(Semaphore::new(0)),
            size: Mutex::new(0),
            debt: Arc::new(AtomicUsize::new(0)),
            max,
        }
    }

    async fn acquire(&self) -> Option<Slot> {
        let permit = self.sem.clone().acquire_owned().await.ok()?;
        Some(Slot {
            permit: Some(permit),
            debt: self.debt.clone(),
        })
    }

    fn resize(&self, to: usize) {
        let mut size = self.size.lock().unwrap_or_else(|p| p.into_inner());
        if to > *size {
            let mut grow = to - *size;
            // Cancel owed shrinking first.
            while grow > 0 {
                let owed = self.debt.load(Ordering::Acquire);
                if owed == 0 {
                    break;
                }
                let pay = owed.min(grow);
                if self
                    .debt
                    .compare_exchange(owed, owed - pay, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    grow -= pay;
                }
            }
            self.sem.add_permits(grow);
        } else if to < *size {
            let shrink = *size - to;
            let forgotten = self.sem.forget_permits(shrink);
            self.debt.fetch_add(shrink - forgotten, Ordering::AcqRel);
        }
        *size = to;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vendor with a GCRA limit of `limit` per second and `burst`, answering after `latency`.
    struct Vendor {
        limit: f64,
        burst: f64,
        tat: Instant,
    }

    impl Vendor {
        fn new(limit: f64, burst: f64, now: Instant) -> Vendor {
            Vendor {
                limit,
                burst,
                tat: now,
            }
        }

        /// Whether a request arriving at `now` is accepted.
        fn accept(&mut self, now: Instant) -> bool {
            let interval = Duration::from_secs_f64(1.0 / self.limit);
            let tolerance = interval.mul_f64(self.burst - 1.0);
            let tat = self.tat.max(now);
            if tat > now + tolerance {
                return false;
            }
            self.tat = tat + interval;
            true
        }
    }

    struct Run {
        /// (instant, accepted) per request, in order of sending.
        sent: Vec<(Instant, bool)>,
        rates: Vec<(Instant, f64)>,
        start: Instant,
        controller: Controller,
    }

    /// Drives the controller for `secs` seconds against a vendor whose limit is `limit(t)`,
    /// sending at the controller's rate, answers arriving `latency` later. Time is simulated:
    /// the controller only ever sees the instants passed in.
    fn simulate(bounds: AutoRate, secs: f64, limit: impl Fn(f64) -> f64) -> Run {
        let start = Instant::now();
        let latency = Duration::from_millis(20);
        let mut c = Controller::new(bounds, start);
        let mut vendor = Vendor::new(limit(0.0), 5.0, start);
        let mut now = start;
        let end = start + Duration::from_secs_f64(secs);
        let mut pending: std::collections::VecDeque<(Instant, Instant, bool)> = Default::default();
        let mut sent = Vec::new();
        let mut rates = Vec::new();
        while now < end {
            // Answers due before the next send.
            let interval = Duration::from_secs_f64(1.0 / c.rate());
            let next = now + interval;
            while let Some(&(due, at, ok)) = pending.front() {
                if due > next {
                    break;
                }
                pending.pop_front();
                c.answered(due, latency);
                if !ok {
                    c.refused(at, due);
                }
            }
            now = next;
            vendor.limit = limit((now - start).as_secs_f64());
            c.granted(now);
            let ok = vendor.accept(now);
            sent.push((now, ok));
            pending.push_back((now + latency, now, ok));
            rates.push((now, c.rate()));
        }
        Run {
            sent,
            rates,
            start,
            controller: c,
        }
    }

    impl Run {
        /// Accepted-or-not requests per second between `from` and `to` seconds.
        fn rate_between(&self, from: f64, to: f64) -> (f64, f64) {
            let (a, b) = (
                self.start + Duration::from_secs_f64(from),
                self.start + Duration::from_secs_f64(to),
            );
            let inside: Vec<_> = self
                .sent
                .iter()
                .filter(|(t, _)| *t >= a && *t < b)
                .collect();
            let refused = inside.iter().filter(|(_, ok)| !ok).count();
            (
                inside.len() as f64 / (to - from),
                refused as f64 / inside.len().max(1) as f64,
            )
        }
    }

    #[test]
    fn converges_within_15_percent_of_a_fixed_limit() {
        for limit in [70.0, 260.0] {
            let run = simulate(AutoRate::default(), 90.0, |_| limit);
            let (rate, refused) = run.rate_between(15.0, 90.0);
            assert!(
                rate >= 0.85 * limit && rate <= 1.0 * limit + 1.0,
                "limit {limit}: steady rate {rate:.1}"
            );
            assert!(refused <= 0.02, "limit {limit}: {refused:.3} refused");
            let est = run.controller.estimate(run.start + Duration::from_secs(90));
            let found = est.limit.unwrap();
            assert!(
                (found - limit).abs() <= 0.15 * limit,
                "limit {limit}: found {found:.1}"
            );
            assert!(est.confirmed, "limit {limit}: {est:?}");
            assert!(
                est.settled >= 0.85 * limit && est.settled <= 1.05 * limit,
                "limit {limit}: settled {:.1}",
                est.settled
            );
        }
    }

    #[test]
    fn follows_a_limit_that_halves_mid_run() {
        let run = simulate(AutoRate::default(), 120.0, |t| {
            if t < 40.0 { 200.0 } else { 100.0 }
        });
        let (before, _) = run.rate_between(20.0, 40.0);
        let (after, refused) = run.rate_between(60.0, 120.0);
        assert!(before >= 170.0, "before the drop: {before:.1}");
        assert!(
            (85.0..=101.0).contains(&after),
            "after the drop: {after:.1}"
        );
        assert!(refused <= 0.02, "{refused:.3} refused after the drop");
        let found = run.controller.estimate(run.start).limit.unwrap();
        assert!((found - 100.0).abs() <= 15.0, "found {found:.1}");
    }

    #[test]
    fn never_exceeds_max_rate_and_rises_to_it_without_refusals() {
        let bounds = AutoRate {
            min: 1.0,
            max: 150.0,
        };
        let run = simulate(bounds, 30.0, |_| 10_000.0);
        assert!(run.rates.iter().all(|(_, r)| *r <= 150.0));
        let (rate, _) = run.rate_between(10.0, 30.0);
        assert!((140.0..=150.5).contains(&rate), "{rate:.1}");
        // No sliding second holds more than the maximum.
        for (i, (t, _)) in run.sent.iter().enumerate() {
            let n = run.sent[i..]
                .iter()
                .take_while(|(u, _)| *u < *t + Duration::from_secs(1))
                .count();
            assert!(n <= 151, "{n} requests in the second after {i}");
        }
        let est = run.controller.estimate(run.start + Duration::from_secs(30));
        assert_eq!(est.limit, None);
        assert!(est.describe().contains("searching"), "{}", est.describe());
    }

    #[test]
    fn a_429_to_a_request_sent_before_the_cut_cuts_nothing() {
        let start = Instant::now();
        let mut c = Controller::new(AutoRate::default(), start);
        let sent = start + Duration::from_millis(10);
        assert!(c.refused(sent, start + Duration::from_millis(20)));
        let after_first = c.rate();
        assert!((after_first - START * BETA_SEARCHING).abs() < 1e-9);
        assert!(!c.refused(sent, start + Duration::from_millis(21)));
        assert_eq!(c.rate(), after_first);
        assert!(c.refused(
            start + Duration::from_millis(30),
            start + Duration::from_millis(40)
        ));
        assert!(c.rate() < after_first);
    }

    #[test]
    fn climbing_latency_cuts_like_a_429() {
        let start = Instant::now();
        let mut c = Controller::new(AutoRate::default(), start);
        let mut now = start;
        // Clean steps at 10 ms: the rate grows.
        for step in 1..=4u32 {
            for _ in 0..(c.rate() as u32) {
                c.granted(now);
                c.answered(now, Duration::from_millis(10));
            }
            now = start + STEP * step;
            c.granted(now);
        }
        let grown = c.rate();
        assert!(grown > START * 2.0, "{grown}");
        // A step of 200 ms answers: latency climbed with the rate.
        for _ in 0..(grown as u32) {
            c.granted(now);
            c.answered(now, Duration::from_millis(200));
        }
        now += STEP;
        c.answered(now, Duration::from_millis(200));
        assert!(c.rate() < grown, "{} !< {grown}", c.rate());
        assert_eq!(c.estimate(now).limit, Some(grown));
    }

    #[test]
    fn the_rate_stays_within_min_and_max() {
        let bounds = AutoRate {
            min: 20.0,
            max: 30.0,
        };
        let start = Instant::now();
        let mut c = Controller::new(bounds, start);
        assert_eq!(c.rate(), 20.0); // START is below the minimum
        for i in 0..50u64 {
            c.refused(
                start + Duration::from_millis(i * 2),
                start + Duration::from_millis(i * 2 + 1),
            );
            assert!(c.rate() >= 20.0);
        }
        assert!(c.at_floor());
    }

    #[test]
    fn describe_shows_the_rate_and_the_limit_found() {
        let e = Estimate {
            rate: 64.4,
            limit: Some(70.2),
            confirmed: true,
            settled: 66.0,
            concurrency: None,
        };
        assert_eq!(e.describe(), "auto: 64/s (limit found at ~70/s)");
    }

    /// Workers through the real [`Pace`](super::super::pace::Pace) on tokio's paused clock:
    /// returns every grant's instant and whether the vendor accepted it.
    async fn through_pace(
        bounds: AutoRate,
        limit: fn(f64) -> f64,
        secs: u64,
    ) -> (Instant, Vec<(Instant, bool)>) {
        use super::super::pace::{Pace, Rate};
        use std::num::NonZeroU32;
        let pace = Arc::new(Pace::new(Rate::Auto(bounds), NonZeroU32::MIN, 256, true));
        let start = Instant::now();
        let vendor = Arc::new(Mutex::new(Vendor::new(limit(0.0), 5.0, start)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..256 {
            let (pace, vendor, log, cancel) =
                (pace.clone(), vendor.clone(), log.clone(), cancel.clone());
            workers.spawn(async move {
                while let Some(grant) = pace.ready(&cancel).await {
                    let now = Instant::now();
                    let ok = {
                        let mut vendor = vendor.lock().unwrap();
                        vendor.limit = limit((now - start).as_secs_f64());
                        vendor.accept(now)
                    };
                    log.lock().unwrap().push((now, ok));
                    let latency = Duration::from_millis(20);
                    tokio::time::sleep(latency).await;
                    pace.answered(latency);
                    if !ok {
                        pace.refused(&grant, Some(Duration::from_secs(1)), Duration::from_secs(1));
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_secs(secs)).await;
        cancel.cancel();
        while workers.join_next().await.is_some() {}
        let log = log.lock().unwrap().clone();
        (start, log)
    }

    fn per_sec(start: Instant, log: &[(Instant, bool)], from: u64, to: u64) -> (f64, f64) {
        let inside: Vec<_> = log
            .iter()
            .filter(|(t, _)| {
                *t >= start + Duration::from_secs(from) && *t < start + Duration::from_secs(to)
            })
            .collect();
        let refused = inside.iter().filter(|(_, ok)| !ok).count() as f64;
        (
            inside.len() as f64 / (to - from) as f64,
            refused / inside.len().max(1) as f64,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn through_the_pace_a_hidden_limit_is_found_and_kept() {
        let (start, log) = through_pace(AutoRate::default(), |_| 70.0, 60).await;
        let (rate, refused) = per_sec(start, &log, 15, 60);
        assert!((0.85 * 70.0..=71.0).contains(&rate), "steady {rate:.1}/s");
        assert!(refused <= 0.02, "{refused:.3} refused");
        let (_, all_refused) = per_sec(start, &log, 0, 60);
        assert!(all_refused <= 0.02, "{all_refused:.3} refused in all");
    }

    #[tokio::test(start_paused = true)]
    async fn through_the_pace_a_limit_that_halves_is_followed() {
        let (start, log) = through_pace(
            AutoRate::default(),
            |t| if t < 30.0 { 240.0 } else { 120.0 },
            80,
        )
        .await;
        let (before, _) = per_sec(start, &log, 15, 30);
        assert!(before >= 0.85 * 240.0, "before the drop: {before:.1}/s");
        let (after, refused) = per_sec(start, &log, 45, 80);
        assert!(
            (0.85 * 120.0..=121.0).contains(&after),
            "after: {after:.1}/s"
        );
        assert!(refused <= 0.02, "{refused:.3} refused after the drop");
    }

    #[tokio::test(start_paused = true)]
    async fn through_the_pace_no_sliding_second_exceeds_max_rate() {
        let bounds = AutoRate {
            min: 1.0,
            max: 120.0,
        };
        let (start, log) = through_pace(bounds, |_| 1e6, 20).await;
        for (i, (t, _)) in log.iter().enumerate() {
            let n = log[i..]
                .iter()
                .take_while(|(u, _)| *u < *t + Duration::from_secs(1))
                .count();
            assert!(n <= 120, "{n} requests in the second after request {i}");
        }
        let (rate, _) = per_sec(start, &log, 10, 20);
        assert!(rate >= 110.0, "{rate:.1}/s");
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_shrinks_while_slots_are_out_and_grows_back() {
        let gate = Gate::new(100);
        gate.resize(3);
        let a = gate.acquire().await.unwrap();
        let b = gate.acquire().await.unwrap();
        let c = gate.acquire().await.unwrap();
        gate.resize(1);
        drop(a);
        drop(b); // both paid the debt of 2
        assert_eq!(gate.sem.available_permits(), 0);
        drop(c);
        assert_eq!(gate.sem.available_permits(), 1);
        gate.resize(4);
        assert_eq!(gate.sem.available_permits(), 4);
    }

    #[test]
    fn little_law_sizes_the_gate() {
        assert_eq!(little(100.0, Some(Duration::from_millis(250)), 1024), 58);
        assert_eq!(little(10.0, None, 1024), 28);
        assert_eq!(little(1000.0, Some(Duration::from_secs(30)), 1000), 1000);
    }
}
