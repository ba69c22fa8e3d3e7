//! Unit tests of the pacer: the schedule, shared pauses, and the window property.

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
        let ready = s.ready_at();
        let at = ready + lateness;
        s.grant(at, Arrival::Woke(ready));
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
    s.grant(start, Arrival::Open);
    let later = start + Duration::from_secs(60);
    s.grant(later, Arrival::Open);
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

/// Grants in `[from, from + w)`, given grant instants in order.
fn in_window(grants: &[Instant], from: Instant, w: Duration) -> usize {
    let start = grants.partition_point(|g| *g < from);
    let end = grants.partition_point(|g| *g < from + w);
    end - start
}

/// The windows every property checks, as multiples of the interval and in seconds.
fn windows(rate: f64) -> Vec<Duration> {
    let interval = 1.0 / rate;
    let mut w: Vec<Duration> = [1.0, 2.0, 3.5, 10.0]
        .iter()
        .map(|k| Duration::from_secs_f64(k * interval))
        .collect();
    w.extend(
        [0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0]
            .iter()
            .map(|s| Duration::from_secs_f64(*s)),
    );
    w
}

/// What one worker does with an answer, drawn per request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Ok,
    /// A 429 with this `Retry-After` (ms), or none.
    Refused(Option<u64>),
    /// A 5xx or a timeout: back off this long (ms), then retry through the pace.
    Retry(u64),
}

fn answer() -> impl proptest::strategy::Strategy<Value = Answer> {
    use proptest::prelude::*;
    prop_oneof![
        6 => Just(Answer::Ok),
        1 => proptest::option::of(0u64..2500).prop_map(Answer::Refused),
        2 => (0u64..1200).prop_map(Answer::Retry),
    ]
}

struct Simulated {
    grants: Vec<Instant>,
    /// The instants shared pauses ended (each pause as it stood when it ran out).
    pause_ends: Vec<Instant>,
}

/// Runs `workers` workers against one fixed-rate [`Pace`] for `secs` of tokio's paused clock:
/// each asks the pace, "sends" (a latency drawn from `latencies`), and acts on the answer drawn
/// from `answers` (a 429 calls [`Pace::refused`], a retry backs off and asks the pace again);
/// beside them, `pauses` (at ms, for ms) set shared pauses as a breaker or a cut-off would.
fn simulate(
    rate: u32,
    burst: u32,
    workers: usize,
    latencies: Vec<u64>,
    answers: Vec<Answer>,
    pauses: Vec<(u64, u64)>,
    secs: u64,
) -> Simulated {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async move {
        let pace = Arc::new(Pace::new(Rate::Fixed(nz(rate)), nz(burst), workers, false));
        let cancel = CancellationToken::new();
        let grants = Arc::new(Mutex::new(Vec::new()));
        let ends = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (latencies, answers) = (Arc::new(latencies), Arc::new(answers));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let (pace, cancel, grants, ends) =
                (pace.clone(), cancel.clone(), grants.clone(), ends.clone());
            let (next, latencies, answers) = (next.clone(), latencies.clone(), answers.clone());
            tasks.spawn(async move {
                while let Some(grant) = pace.ready(&cancel).await {
                    grants.lock().unwrap().push(grant.at);
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let latency = latencies[i % latencies.len()];
                    tokio::time::sleep(Duration::from_millis(latency)).await;
                    match answers[i % answers.len()] {
                        Answer::Ok => {}
                        Answer::Refused(after) => {
                            let after = after.map(Duration::from_millis);
                            let full = after.unwrap_or(Duration::from_secs(1));
                            pace.refused(&grant, after, full);
                            if let Some(p) = pace.lock_paused() {
                                ends.lock().unwrap().push(p.until);
                            }
                        }
                        Answer::Retry(ms) => {
                            drop(grant);
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                    }
                }
            });
        }
        for (at, wait) in pauses {
            tokio::time::sleep_until(start + Duration::from_millis(at)).await;
            pace.pause_for(Duration::from_millis(wait));
            if let Some(p) = pace.lock_paused().filter(|_| wait > 0) {
                ends.lock().unwrap().push(p.until);
            }
        }
        tokio::time::sleep_until(start + Duration::from_secs(secs)).await;
        cancel.cancel();
        while tasks.join_next().await.is_some() {}
        let mut grants = grants.lock().unwrap().clone();
        grants.sort();
        let mut pause_ends = ends.lock().unwrap().clone();
        pause_ends.sort();
        pause_ends.dedup();
        Simulated { grants, pause_ends }
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// The pacer's promise at a fixed rate, whatever the workers meet: in any window of W
    /// seconds at most rate x W + burst grants, and after a shared pause no burst at all (the
    /// requests that waited resume one interval apart).
    #[test]
    fn no_window_holds_more_than_rate_times_w_plus_burst(
        rate in 1u32..=400,
        burst in 1u32..=12,
        workers in 1usize..=64,
        latencies in proptest::collection::vec(0u64..400, 1..24),
        answers in proptest::collection::vec(answer(), 1..24),
        pauses in proptest::collection::vec((0u64..5000, 0u64..2500), 0..5),
    ) {
        let sim = simulate(rate, burst, workers, latencies, answers, pauses, 6);
        let grants = &sim.grants;
        let r = f64::from(rate);
        for w in windows(r) {
            let share = (r * w.as_secs_f64() - 1e-9).ceil() as usize;
            let allowed = share + burst as usize;
            for g in grants {
                let n = in_window(grants, *g, w);
                proptest::prop_assert!(
                    n <= allowed,
                    "{n} grants in {w:?} from {:?} (allowed {allowed})",
                    *g - grants[0]
                );
            }
            for end in &sim.pause_ends {
                let n = in_window(grants, *end, w);
                proptest::prop_assert!(
                    n <= share,
                    "{n} grants in {w:?} after a pause (allowed {share})"
                );
            }
        }
    }
}

/// One step of a run driven straight at the [`Schedule`]: how the next request arrives.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A worker is waiting: granted as soon as the schedule allows, this late (µs).
    Waiting(u64),
    /// No request for this long (ms), then one.
    Idle(u64),
    /// A shared pause of this long (ms) from the last grant; the next request waits it out.
    Pause(u64),
    /// The rate (per second) changes, as `--rate auto` changes it.
    Rate(u32),
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    prop_oneof![
        12 => (0u64..3000).prop_map(Step::Waiting),
        1 => (0u64..1500).prop_map(Step::Idle),
        1 => (1u64..2000).prop_map(Step::Pause),
        1 => (1u32..=500).prop_map(Step::Rate),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

    /// With the rate changing under it (as `auto` does), the schedule still keeps every window
    /// to the highest rate in force around it: at most that rate x W (rounded up) + burst.
    #[test]
    fn rate_changes_keep_every_window_to_the_highest_rate_in_force(
        rate in 1u32..=500,
        burst in 1u32..=12,
        steps in proptest::collection::vec(step(), 1..300),
    ) {
        let start = Instant::now();
        let mut s = Schedule::new(f64::from(rate), nz(burst));
        s.tat = start;
        let mut now = start;
        let mut grants = Vec::new();
        // (from, rate): the rate in force from that instant on.
        let mut rates = vec![(start, f64::from(rate))];
        for step in steps {
            let (at, how) = match step {
                Step::Rate(r) => {
                    s.set_rate(f64::from(r), now);
                    rates.push((now, f64::from(r)));
                    continue;
                }
                Step::Waiting(late) => {
                    let ready = s.ready_at().max(now);
                    (ready + Duration::from_micros(late), Arrival::Woke(ready))
                }
                Step::Idle(ms) => ((now + Duration::from_millis(ms)).max(s.ready_at()), Arrival::Open),
                Step::Pause(ms) => (s.ready_at().max(now + Duration::from_millis(ms)), Arrival::AfterPause),
            };
            s.grant(at, how);
            grants.push(at);
            now = at;
        }
        for w in windows(1.0).into_iter().chain([Duration::from_millis(3), Duration::from_millis(20)]) {
            for g in &grants {
                // The highest rate in force from a second before the window to its end.
                let top = rates
                    .iter()
                    .enumerate()
                    .filter(|(i, (from, _))| {
                        let until = rates.get(i + 1).map_or(*g + w, |(next, _)| *next);
                        *from < *g + w && until + WINDOW >= *g
                    })
                    .map(|(_, (_, r))| *r)
                    .fold(0.0, f64::max);
                let allowed = (top * w.as_secs_f64() - 1e-9).ceil() as usize + burst as usize;
                let n = in_window(&grants, *g, w);
                proptest::prop_assert!(n <= allowed, "{n} grants in {w:?} (allowed {allowed} at {top}/s)");
            }
        }
    }
}
