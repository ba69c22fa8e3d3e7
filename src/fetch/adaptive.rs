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
//! - Congestion is throttling only: a 429 (or a 503 carrying `Retry-After`, as some gateways
//!   throttle) to a request granted after the last cut cuts the rate once; 429s to requests sent
//!   before the cut are answers to the old rate and cut nothing. Other 5xx, transport errors,
//!   truncated bodies and timeouts are faults of their request, never a cut. Latency counts
//!   only when it rises with the rate and stays risen: the median of a step (one slow answer or
//!   a hang moves no median) over twice, and 50 ms over, the lowest step median seen, at a
//!   higher rate than that step's, for three steps in a row. The rate at the cut is the limit
//!   found.
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
//!   confirmed (the current rate if nothing was ever refused). The rate advised for next time is
//!   the rate settled on, never below the highest rate the run sustained for two seconds without
//!   a 429 (so a short storm of 429s does not advise a crawl).
//! - Concurrency (unless `--concurrency` is given) follows Little's law: twice the rate times the
//!   smoothed latency, plus 8, within the worker count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::setting::Setting;

/// The rate the search starts at (the fixed default's modest rate).
pub(crate) const START: f64 = 10.0;
/// The default `--max-rate`.
pub(crate) const DEFAULT_MAX_RATE: u32 = 1000;
/// The default `--min-rate`.
pub(crate) const DEFAULT_MIN_RATE: u32 = 1;
/// How often the controller looks at what the last stretch of requests saw.
pub(crate) const STEP: Duration = Duration::from_millis(500);

const GROWTH: f64 = 1.5;
const USED: f64 = 0.75;
const SAME_LIMIT: f64 = 0.15;
const BETA_SEARCHING: f64 = 0.7;
const RETURN_SEARCHING: f64 = 3.0;
const BETA_SETTLED: f64 = 0.9;
const RETURN_SETTLED: f64 = 8.0;
const LATENCY_FACTOR: u32 = 2;
const LATENCY_MARGIN: Duration = Duration::from_millis(50);
const LATENCY_SAMPLES: usize = 4;
/// Latencies kept per step for its median (the first ones; a step is half a second).
const LATENCY_KEPT: usize = 512;
/// Steps in a row whose median latency must stay risen before latency cuts the rate.
const LATENCY_RISEN_STEPS: u32 = 3;
/// The shortest stretch without a 429 whose rate counts as sustained.
const CLEAN_SPAN: Duration = Duration::from_secs(2);
/// Steps remembered for the sustained rate; the newest two wait for late 429s.
const STEPS_KEPT: usize = 16;

/// The bounds of an automatic rate, requests per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct AutoRate {
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
pub(crate) struct Estimate {
    /// The rate in force.
    pub rate: f64,
    /// The rate at the last cut: the vendor's limit as far as it is known.
    pub limit: Option<f64>,
    /// Whether the last cut confirmed the limit before it.
    pub confirmed: bool,
    /// The rate settled on (see the module doc).
    pub settled: f64,
    /// The highest rate sustained for [`CLEAN_SPAN`] without a 429 (0 if none yet).
    pub sustained: f64,
    /// Requests allowed in flight, when concurrency follows the rate.
    pub concurrency: Option<usize>,
}

impl Estimate {
    /// `auto: 64/s (limit found at ~70/s)`, as progress shows it.
    pub(crate) fn describe(&self) -> String {
        match self.limit {
            Some(limit) => format!("auto: {:.0}/s (limit found at ~{:.0}/s)", self.rate, limit),
            None => format!("auto: {:.0}/s (searching, no 429 yet)", self.rate),
        }
    }
}

impl Estimate {
    /// The rate to pass as `--rate` next time: the rate settled on, never below the rate
    /// sustained without a 429 (a short storm of 429s must not advise a crawl).
    pub(crate) fn advised(&self) -> f64 {
        self.settled.max(self.sustained).floor().max(1.0)
    }

    /// The run summary's line: the rate settled on and what to pass next time.
    pub(crate) fn summary(&self) -> String {
        let settled = self.settled.floor().max(1.0);
        let advised = self.advised();
        match self.limit {
            Some(limit) => format!(
                "rate auto: settled at {settled:.0}/s (limit found at ~{limit:.0}/s); pass \
                 {rate} {advised:.0} next time, or keep {rate} auto",
                rate = Setting::Rate
            ),
            None => format!(
                "rate auto: reached {settled:.0}/s without a 429 (raise {max_rate} to search \
                 higher); pass {rate} {advised:.0} next time, or keep {rate} auto",
                rate = Setting::Rate,
                max_rate = Setting::MaxRate
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
pub(crate) struct Controller {
    bounds: AutoRate,
    rate: f64,
    phase: Phase,
    limit: Option<f64>,
    confirmed: bool,
    last_cut: Option<Instant>,
    step_start: Instant,
    step_granted: u64,
    step_latencies: Vec<Duration>,
    step_refused: bool,
    /// The lowest step median latency seen, and the rate of that step.
    base_latency: Option<(Duration, f64)>,
    /// Steps in a row whose median latency rose over the base at a higher rate.
    risen: u32,
    /// The last steps: what they sent and whether any request of theirs was refused.
    steps: std::collections::VecDeque<StepRecord>,
    /// The highest rate sustained for [`CLEAN_SPAN`] without a 429.
    sustained: f64,
    latency: Option<Duration>,
    latency_quiet_until: Instant,
    mean_since: Option<Instant>,
    mean_area: f64,
    last_change: Instant,
}

impl Controller {
    pub(crate) fn new(bounds: AutoRate, now: Instant) -> Controller {
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
            step_latencies: Vec::new(),
            step_refused: false,
            base_latency: None,
            risen: 0,
            steps: std::collections::VecDeque::new(),
            sustained: 0.0,
            latency: None,
            latency_quiet_until: now,
            mean_since: None,
            mean_area: 0.0,
            last_change: now,
        }
    }

    /// The rate in force.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// The smoothed latency of answers, if any came.
    pub(crate) fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// A request left at `now`; takes a step first if one is due.
    pub(crate) fn granted(&mut self, now: Instant) {
        self.step_if_due(now);
        self.step_granted += 1;
    }

    /// An answer (any, refused ones included) came back after `latency`.
    pub(crate) fn answered(&mut self, now: Instant, latency: Duration) {
        if self.step_latencies.len() < LATENCY_KEPT {
            self.step_latencies.push(latency);
        }
        self.latency = Some(match self.latency {
            None => latency,
            Some(l) => l.mul_f64(0.9) + latency.mul_f64(0.1),
        });
        self.step_if_due(now);
    }

    /// A 429 to a request granted at `sent`. Returns whether it cut the rate.
    pub(crate) fn refused(&mut self, sent: Instant, now: Instant) -> bool {
        if sent >= self.step_start {
            self.step_refused = true;
        } else if let Some(step) = self.steps.iter_mut().rev().find(|s| s.start <= sent) {
            step.refused = true;
        }
        if self.last_cut.is_some_and(|cut| sent < cut) {
            return false;
        }
        self.cut(now);
        true
    }

    /// Whether the rate sits at its floor (a refusal there is answered by a full pause).
    pub(crate) fn at_floor(&self) -> bool {
        self.rate <= self.bounds.min
    }

    pub(crate) fn estimate(&self, now: Instant) -> Estimate {
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
            sustained: self
                .sustained
                .max(clean_rate(&self.steps, 0).unwrap_or(0.0)),
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

    /// Closes the step under way (its record feeds the sustained rate) and starts the next.
    fn reset_step(&mut self, now: Instant) {
        if now > self.step_start {
            self.steps.push_back(StepRecord {
                start: self.step_start,
                end: now,
                granted: self.step_granted,
                refused: self.step_refused,
            });
            if self.steps.len() > STEPS_KEPT {
                self.steps.pop_front();
            }
            if let Some(rate) = clean_rate(&self.steps, 2) {
                self.sustained = self.sustained.max(rate);
            }
        }
        self.step_start = now;
        self.step_granted = 0;
        self.step_latencies.clear();
        self.step_refused = false;
    }

    /// Whether latency says the vendor is congested: the step's median latency (one slow
    /// answer moves no median) is over twice (and 50 ms over) the lowest step median seen, at a
    /// higher rate than that step's, for [`LATENCY_RISEN_STEPS`] steps in a row.
    fn latency_risen(&mut self) -> bool {
        if self.step_latencies.len() < LATENCY_SAMPLES {
            return false;
        }
        let middle = self.step_latencies.len() / 2;
        let median = *self.step_latencies.select_nth_unstable(middle).1;
        let (base, base_rate) = match self.base_latency {
            Some((base, rate)) if base <= median => (base, rate),
            _ => {
                self.base_latency = Some((median, self.rate));
                (median, self.rate)
            }
        };
        let threshold = (base * LATENCY_FACTOR).max(base + LATENCY_MARGIN);
        if median > threshold && self.rate > base_rate {
            self.risen += 1;
        } else {
            self.risen = 0;
        }
        self.risen >= LATENCY_RISEN_STEPS
    }

    fn step_if_due(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.step_start);
        if elapsed < STEP {
            return;
        }
        if self.latency_risen() && now >= self.latency_quiet_until {
            self.risen = 0;
            self.cut(now);
            return;
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
pub(crate) struct Adaptive {
    controller: Mutex<Controller>,
    gate: Option<Gate>,
}

impl Adaptive {
    /// `workers` is the most requests that may ever be in flight; `follow_concurrency` sizes the
    /// gate from the rate and latency (off when the user gave `--concurrency`).
    pub(crate) fn new(bounds: AutoRate, workers: usize, follow_concurrency: bool) -> Adaptive {
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
    pub(crate) async fn slot(&self) -> Option<Slot> {
        match &self.gate {
            Some(gate) => gate.acquire().await,
            None => None,
        }
    }

    /// A request leaves now; returns the rate in force.
    pub(crate) fn granted(&self, now: Instant) -> f64 {
        let mut c = self.lock();
        c.granted(now);
        c.rate()
    }

    pub(crate) fn rate(&self) -> f64 {
        self.lock().rate()
    }

    /// An answer came back; resizes the gate to the rate and latency.
    pub(crate) fn answered(&self, now: Instant, latency: Duration) {
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
    pub(crate) fn refused(
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

    pub(crate) fn estimate(&self) -> Estimate {
        let estimate = self.lock().estimate(Instant::now());
        Estimate {
            concurrency: self.concurrency(),
            ..estimate
        }
    }

    /// The gate's current size (requests allowed in flight), if it follows the rate.
    pub(crate) fn concurrency(&self) -> Option<usize> {
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
pub(crate) struct Slot {
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

mod sustained;
use sustained::{StepRecord, clean_rate};

#[cfg(test)]
mod tests;
