//! The attempt loop against scripted vendor answers, without HTTP: every branch (final answer,
//! back-off and retry, 11350 kept, give up, stop on credentials and account codes, 429 shared
//! pause, Retry-After, the breaker, cancellation, a writer gone) and what each leaves in the
//! attempts log. Time is tokio's paused clock: back-off waits advance it, nothing sleeps.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::*;
use crate::td::answer::{Retryable, verdict_of_response};

mod stops;

/// A vendor that plays a script: one [`Attempt`] per request, in order, and remembers when
/// each request was sent. A request past the end of the script fails the test.
struct Scripted {
    script: Mutex<VecDeque<Attempt>>,
    asked_at: Mutex<Vec<Instant>>,
}

impl Scripted {
    fn asked(&self) -> Vec<Instant> {
        self.asked_at.lock().unwrap().clone()
    }
}

impl AskVendor for Scripted {
    fn ask(&self, id: &str, _codes: &CodeTable) -> impl Future<Output = Attempt> + Send {
        self.asked_at.lock().unwrap().push(Instant::now());
        let next = self.script.lock().unwrap().pop_front();
        let id = id.to_string();
        async move { next.unwrap_or_else(|| panic!("{id} asked more often than scripted")) }
    }
}

/// The vendor's HTTP answer, classified as the real client classifies it.
fn http(status: u16, body: &str) -> Attempt {
    http_after(status, None, body)
}

fn http_after(status: u16, retry_after: Option<Duration>, body: &str) -> Attempt {
    Attempt {
        verdict: verdict_of_response(status, retry_after, body.as_bytes(), &CodeTable::shipped()),
        http_status: Some(status),
        latency: Duration::from_millis(7),
    }
}

fn code(code: i64) -> Attempt {
    http(
        200,
        &format!(r#"{{"code":{code},"message":"m{code}","sequence_id":"seq-{code}"}}"#),
    )
}

fn timeout() -> Attempt {
    Attempt {
        verdict: Verdict::Retry(Retryable {
            fault: Fault::Timeout(Duration::from_secs(30)),
            retry_after: None,
            answer: None,
        }),
        http_status: None,
        latency: Duration::from_secs(30),
    }
}

/// Back-off of exactly one to two seconds per retry (full jitter adds up to one base delay).
fn policy(max_retries: usize) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        min_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(1),
        retry_after_cap: Duration::from_secs(10),
    }
}

struct Run {
    ctx: Ctx<Scripted>,
    written: mpsc::Receiver<WriteOp>,
}

fn run_with(script: Vec<Attempt>, retry: RetryPolicy, breaker: u32) -> Run {
    let (writer, written) = mpsc::channel(64);
    let ctx = Ctx {
        client: Scripted {
            script: Mutex::new(script.into()),
            asked_at: Mutex::default(),
        },
        codes: CodeTable::shipped(),
        pace: Pace::new(Rate::Unlimited, NonZeroU32::MIN, 4, false),
        retry,
        breaker: Breaker::new(breaker),
        writer,
        cancel: CancellationToken::new(),
        stop: Mutex::new(None),
        slots: tokio::sync::Semaphore::new(4),
        tally: Arc::new(Tally::default()),
        save_images: None,
        failures_explained: Mutex::default(),
    };
    Run { ctx, written }
}

impl Run {
    async fn attempt(&self) -> (Ending, i64) {
        let mut attempts = 0;
        let ending = attempt_until_final(&self.ctx, "L-1", &mut attempts).await;
        (ending, attempts)
    }

    /// Every operation the loop sent to the writer, in order.
    fn written(&mut self) -> Vec<WriteOp> {
        let mut ops = Vec::new();
        while let Ok(op) = self.written.try_recv() {
            ops.push(op);
        }
        ops
    }

    fn stop(&self) -> Option<StopCause> {
        self.ctx.stop.lock().unwrap().clone()
    }
}

/// The attempt rows among written operations: (outcome, http status, code).
fn rows(ops: &[WriteOp]) -> Vec<(String, Option<u16>, Option<i64>)> {
    ops.iter()
        .map(|op| match op {
            WriteOp::Attempt(a) => (a.outcome.clone(), a.http_status, a.code),
            other => panic!("expected an attempt row, got {other:?}"),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_final_answer_ends_the_round_at_once_and_rides_with_the_result() {
    let mut run = run_with(vec![code(200)], policy(3), 5);
    let (ending, attempts) = run.attempt().await;
    let Ending::Resolved(answer, Some(row)) = ending else {
        panic!("expected a resolved ending with its attempt row");
    };
    assert_eq!((answer.code, attempts), (200, 1));
    assert_eq!(row.outcome, "final");
    assert_eq!(row.http_status, Some(200));
    assert_eq!(row.sequence_id.as_deref(), Some("seq-200"));
    assert_eq!(row.latency_ms, 7);
    assert!(
        run.written().is_empty(),
        "the row is written with the result"
    );
    let tally = run.ctx.tally.snapshot();
    assert_eq!((tally.requests, tally.retries), (1, 0));
    assert_eq!(run.stop(), None);
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_after_a_back_off_and_each_retry_is_logged() {
    let mut run = run_with(vec![http(503, "busy"), timeout(), code(200)], policy(3), 5);
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(ref a, Some(_)) if a.code == 200));
    assert_eq!(attempts, 3);
    assert_eq!(
        rows(&run.written()),
        vec![
            ("retry:http_status".into(), Some(503), None),
            ("retry:timeout".into(), None, None),
        ]
    );
    let asked = run.ctx.client.asked();
    for pair in asked.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_secs(1) && gap <= Duration::from_secs(2),
            "back-off of {gap:?}, outside the policy's one to two seconds"
        );
    }
    assert_eq!(run.ctx.tally.snapshot().retries, 2);
}

#[tokio::test(start_paused = true)]
async fn a_fault_that_outlasts_the_retries_fails_the_id() {
    let mut run = run_with(
        vec![http(502, "a"), http(502, "b"), http(502, "c")],
        policy(2),
        10,
    );
    let (ending, attempts) = run.attempt().await;
    let Ending::Failed(fault, last) = ending else {
        panic!("expected a failed ending");
    };
    assert_eq!(fault.kind(), "http_status");
    assert!(fault.to_string().contains("502"), "{fault}");
    assert!(last.is_none(), "every attempt row was already written");
    assert_eq!(attempts, 3, "one try and two retries");
    assert_eq!(run.written().len(), 3);
    assert_eq!(run.ctx.client.asked().len(), 3);
    assert_eq!(run.stop(), None);
}

#[tokio::test(start_paused = true)]
async fn a_persistent_11350_is_kept_as_the_answer_and_a_later_success_replaces_it() {
    let mut run = run_with(vec![code(11350), code(11350)], policy(1), 5);
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(ref a, None) if a.code == 11350));
    assert_eq!(attempts, 2);
    assert_eq!(
        rows(&run.written()),
        vec![
            ("retry:internal_11350".into(), Some(200), Some(11350)),
            ("retry:internal_11350".into(), Some(200), Some(11350)),
        ]
    );
    assert_eq!(run.ctx.tally.snapshot().internal_errors, 2);

    let run = run_with(vec![code(11350), code(12202)], policy(3), 5);
    let (ending, _) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(ref a, Some(_)) if a.code == 12202));
}

#[tokio::test(start_paused = true)]
async fn another_4xx_gives_up_at_once_without_a_retry() {
    let mut run = run_with(vec![http(400, "bad id")], policy(5), 5);
    let (ending, attempts) = run.attempt().await;
    let Ending::Failed(fault, Some(row)) = ending else {
        panic!("expected a failed ending carrying its row");
    };
    assert_eq!(attempts, 1);
    assert_eq!(fault.kind(), "http_status");
    assert_eq!(row.outcome, "give_up:http_status");
    assert!(run.written().is_empty());
    assert_eq!(run.ctx.tally.snapshot().retries, 0);
}

#[tokio::test(start_paused = true)]
async fn a_429_pauses_for_its_retry_after_without_using_up_a_retry() {
    // No retries at all: a 429 is not a fault that uses them up.
    let script = vec![http_after(429, Some(Duration::from_secs(5)), ""), code(200)];
    let mut run = run_with(script, policy(0), 5);
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(ref a, Some(_)) if a.code == 200));
    assert_eq!(attempts, 2);
    assert_eq!(
        rows(&run.written()),
        vec![("retry:rate_limited".into(), Some(429), None)]
    );
    let asked = run.ctx.client.asked();
    assert_eq!(
        asked[1] - asked[0],
        Duration::from_secs(5),
        "the next request waits exactly the shared pause"
    );
    let tally = run.ctx.tally.snapshot();
    assert_eq!((tally.rate_limited, tally.retries), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_429_retry_after_is_capped_and_missing_means_one_second() {
    let script = vec![
        http_after(429, Some(Duration::from_secs(3600)), ""),
        http(429, ""),
        code(200),
    ];
    let run = run_with(script, policy(0), 5);
    let (ending, _) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(..)));
    let asked = run.ctx.client.asked();
    assert_eq!(asked[1] - asked[0], Duration::from_secs(10), "the cap");
    assert_eq!(asked[2] - asked[1], Duration::from_secs(1), "the default");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_on_a_server_error_holds_the_next_try_until_it_passes() {
    let script = vec![http_after(503, Some(Duration::from_secs(8)), ""), code(200)];
    let run = run_with(script, policy(3), 5);
    let (ending, _) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(..)));
    let asked = run.ctx.client.asked();
    assert_eq!(
        asked[1] - asked[0],
        Duration::from_secs(8),
        "the shared pause outlasts the one-to-two-second back-off"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_run_sends_nothing_and_a_stop_during_back_off_keeps_the_11350() {
    let run = run_with(vec![code(200)], policy(3), 5);
    run.ctx.cancel.cancel();
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Stopped));
    assert_eq!((attempts, run.ctx.client.asked().len()), (0, 0));

    let run = run_with(vec![code(11350), code(200)], policy(3), 5);
    let cancel = run.ctx.cancel.clone();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        cancel.cancel();
    });
    let (ending, attempts) = run.attempt().await;
    stopper.await.unwrap();
    assert!(matches!(ending, Ending::Resolved(ref a, None) if a.code == 11350));
    assert_eq!(attempts, 1, "no request after the stop");
}

#[tokio::test(start_paused = true)]
async fn a_writer_gone_stops_the_run_at_the_next_retry() {
    let mut run = run_with(vec![http(503, "")], policy(3), 5);
    run.written.close();
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Stopped));
    assert_eq!(attempts, 1);
    assert!(matches!(run.stop(), Some(StopCause::Storage(_))));
}

#[tokio::test(start_paused = true)]
async fn fetch_one_writes_the_result_with_the_round_s_attempt_count() {
    let mut run = run_with(vec![http(503, ""), code(12202)], policy(3), 5);
    let id = ToFetch {
        check: 42,
        liveness_id: "L-42".into(),
    };
    fetch_one(&run.ctx, id).await;
    let ops = run.written();
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert!(matches!(&ops[0], WriteOp::Attempt(a) if a.liveness_id == "L-42"));
    let WriteOp::Resolved {
        check,
        answer,
        attempts,
        last_attempt: Some(last),
    } = &ops[1]
    else {
        panic!(
            "expected the result with its final attempt, got {:?}",
            ops[1]
        );
    };
    assert_eq!((*check, answer.code, *attempts), (42, 12202, 2));
    assert_eq!(last.outcome, "final");
    let tally = run.ctx.tally.snapshot();
    assert_eq!((tally.resolved, tally.charged, tally.attacks), (1, 1, 1));
}

#[tokio::test(start_paused = true)]
async fn fetch_one_marks_a_stopped_round_as_tried_and_a_failed_one_as_failed() {
    let mut run = run_with(vec![http(403, "")], policy(3), 5);
    fetch_one(
        &run.ctx,
        ToFetch {
            check: 7,
            liveness_id: "L-7".into(),
        },
    )
    .await;
    let ops = run.written();
    assert!(
        matches!(
            ops.as_slice(),
            [
                WriteOp::Attempt(_),
                WriteOp::Tried {
                    check: 7,
                    attempts: 1
                }
            ]
        ),
        "{ops:?}"
    );

    let mut run = run_with(vec![http(404, ""), http(400, "")], policy(3), 5);
    run.ctx.stop(StopCause::Interrupted);
    fetch_one(
        &run.ctx,
        ToFetch {
            check: 8,
            liveness_id: "L-8".into(),
        },
    )
    .await;
    assert!(run.written().is_empty(), "an id never asked is left alone");

    let mut run = run_with(vec![http(400, "no such id")], policy(3), 5);
    fetch_one(
        &run.ctx,
        ToFetch {
            check: 9,
            liveness_id: "L-9".into(),
        },
    )
    .await;
    let ops = run.written();
    let [
        WriteOp::Failed {
            check: 9,
            error,
            attempts: 1,
            last_attempt: Some(_),
        },
    ] = ops.as_slice()
    else {
        panic!("expected one failed write, got {ops:?}");
    };
    assert!(error.contains("400"), "{error}");
    assert_eq!(run.ctx.tally.snapshot().failed, 1);
}

#[tokio::test(start_paused = true)]
async fn retries_of_server_errors_and_timeouts_take_a_paced_slot_like_first_tries() {
    // Eight ids at 10/s, each failing its first try (5xx or a timeout) and retried after a
    // back-off of a millisecond: the retries queue at the pace with the first tries, so the
    // vendor sees one request every 100 ms, 16 in all, never two in one interval.
    let fast = RetryPolicy {
        max_retries: 3,
        min_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
        retry_after_cap: Duration::from_secs(10),
    };
    let mut script = Vec::new();
    for i in 0..8 {
        script.push(if i % 2 == 0 {
            http(502, "<html>")
        } else {
            timeout()
        });
    }
    script.extend((0..8).map(|_| code(200)));
    let mut run = run_with(script, fast, 50);
    run.ctx.pace = Pace::new(
        Rate::Fixed(NonZeroU32::new(10).unwrap()),
        NonZeroU32::MIN,
        4,
        false,
    );
    let ids: Vec<String> = (0..8).map(|i| format!("L-{i}")).collect();
    let rounds = ids.iter().map(|id| async {
        let mut attempts = 0;
        attempt_until_final(&run.ctx, id, &mut attempts).await;
        attempts
    });
    let attempts = futures::future::join_all(rounds).await;
    assert_eq!(attempts.iter().sum::<i64>(), 16);
    let asked = run.ctx.client.asked();
    assert_eq!(asked.len(), 16);
    for pair in asked.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(100),
            "{:?} between two requests",
            pair[1] - pair[0]
        );
    }
    assert_eq!(run.ctx.tally.snapshot().retries, 8);
    let _ = run.written();
}

#[tokio::test(start_paused = true)]
async fn an_11350_is_asked_again_after_the_shortest_back_off_a_fault_after_a_growing_one() {
    let growing = RetryPolicy {
        max_retries: 5,
        min_delay: Duration::from_secs(1),
        max_delay: Duration::from_secs(30),
        retry_after_cap: Duration::from_secs(10),
    };
    let gaps = |run: &Run| -> Vec<Duration> {
        let asked = run.ctx.client.asked();
        asked.windows(2).map(|p| p[1] - p[0]).collect()
    };
    let mut script: Vec<Attempt> = (0..4).map(|_| code(11350)).collect();
    script.push(code(200));
    let run = run_with(script, growing.clone(), 5);
    assert!(matches!(run.attempt().await, (Ending::Resolved(ref a, _), 5) if a.code == 200));
    for gap in gaps(&run) {
        // The shortest back-off plus at most one more of jitter, every time.
        assert!(
            gap >= Duration::from_secs(1) && gap <= Duration::from_secs(2),
            "{gap:?}"
        );
    }

    let run = run_with(
        vec![http(500, ""), http(500, ""), http(500, ""), code(200)],
        growing,
        50,
    );
    assert!(matches!(run.attempt().await, (Ending::Resolved(..), 4)));
    let gaps = gaps(&run);
    for (gap, base) in gaps.iter().zip([1, 2, 4]) {
        let base = Duration::from_secs(base);
        assert!(
            *gap >= base && *gap <= base * 2,
            "{gaps:?}: doubling from one second"
        );
    }
}

mod throttle;
