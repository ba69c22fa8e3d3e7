//! Unit tests of the `--rate auto` controller.

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
    // Steps of 200 ms answers: latency climbed with the rate. It cuts only once it has stayed
    // risen for three steps in a row.
    let mut before = grown;
    for step in 1..=LATENCY_RISEN_STEPS {
        if step == LATENCY_RISEN_STEPS {
            before = c.rate();
        }
        for _ in 0..(c.rate() as u32) {
            c.granted(now);
            c.answered(now, Duration::from_millis(200));
        }
        now += STEP;
        c.answered(now, Duration::from_millis(200));
        if step < LATENCY_RISEN_STEPS {
            assert_eq!(c.estimate(now).limit, None, "cut after {step} risen steps");
        }
    }
    assert!(c.rate() < before, "{} !< {before}", c.rate());
    assert_eq!(c.estimate(now).limit, Some(before));
}

#[test]
fn faults_hangs_and_one_slow_answer_never_cut() {
    // Every step has a hang cut off at 2 s and one answer in twenty slow (a 5xx after a stall):
    // the medians hold, so the search goes on to --max-rate without a cut.
    let start = Instant::now();
    let bounds = AutoRate {
        min: 1.0,
        max: 400.0,
    };
    let mut c = Controller::new(bounds, start);
    let mut now = start;
    for step in 1..=40u32 {
        let n = c.rate() as u32;
        for i in 0..n {
            c.granted(now);
            let latency = match i % 20 {
                0 if i == 0 => Duration::from_secs(2),
                0 => Duration::from_millis(900),
                _ => Duration::from_millis(8),
            };
            c.answered(now, latency);
        }
        now = start + STEP * step;
        c.granted(now);
    }
    assert_eq!(c.estimate(now).limit, None);
    assert_eq!(c.rate(), 400.0);
}

#[test]
fn a_short_storm_of_429s_never_advises_less_than_was_sustained_without_them() {
    let start = Instant::now();
    let mut c = Controller::new(AutoRate::default(), start);
    let mut now = start;
    // Ten seconds clean, the rate growing then held at ~100/s by a bounded search.
    c.bounds.max = 100.0;
    for step in 1..=20u32 {
        for _ in 0..(c.rate() as u32 / 2) {
            c.granted(now);
            c.answered(now, Duration::from_millis(10));
        }
        now = start + STEP * step;
        c.granted(now);
    }
    assert_eq!(c.rate(), 100.0);
    // A storm: every request refused for two seconds, each granted after the last cut.
    for i in 0..200u64 {
        let at = now + Duration::from_millis(i * 10);
        c.granted(at);
        c.refused(at, at + Duration::from_millis(1));
    }
    now += Duration::from_secs(2);
    let est = c.estimate(now);
    assert!(est.rate < 10.0, "the storm cut the rate to {}", est.rate);
    assert!(est.sustained >= 95.0, "sustained {}", est.sustained);
    assert!(est.advised() >= 95.0, "advised {}", est.advised());
    assert!(
        est.summary()
            .contains(&format!("pass --rate {:.0} next time", est.advised()))
    );
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
        sustained: 0.0,
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
