//! A 503 that carries `Retry-After` is how some gateways throttle: under `--rate auto` it cuts
//! the rate as a 429 does, while a 503 without it is a fault of its request and cuts nothing; at
//! a fixed rate it only pauses every worker, and the pace after the pause is the one asked for.

use super::*;
use crate::fetch::adaptive::{AutoRate, Estimate};

fn under_auto(script: Vec<Attempt>) -> Run {
    let mut run = run_with(script, policy(3), 5);
    run.ctx.pace = Pace::new(Rate::Auto(AutoRate::default()), NonZeroU32::MIN, 4, false);
    run
}

fn estimate(run: &Run) -> Estimate {
    run.ctx
        .pace
        .adaptive()
        .expect("the run is under --rate auto")
        .estimate()
}

#[tokio::test(start_paused = true)]
async fn under_auto_a_503_with_retry_after_cuts_the_rate_as_a_429_does() {
    let one_second = Some(Duration::from_secs(1));
    for status in [503, 429] {
        let run = under_auto(vec![http_after(status, one_second, ""), code(200)]);
        let before = estimate(&run);
        assert_eq!(before.limit, None, "nothing refused yet");
        let (ending, attempts) = run.attempt().await;
        assert!(matches!(ending, Ending::Resolved(ref a, Some(_)) if a.code == 200));
        assert_eq!(attempts, 2);
        assert_eq!(
            estimate(&run).limit,
            Some(before.rate),
            "a {status} with Retry-After cut the rate where it stood"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn under_auto_a_503_without_retry_after_or_another_5xx_cuts_nothing() {
    for first in [http(503, ""), http(500, "<html>"), http(502, "<html>")] {
        let run = under_auto(vec![first, code(200)]);
        let (ending, attempts) = run.attempt().await;
        assert!(matches!(ending, Ending::Resolved(ref a, Some(_)) if a.code == 200));
        assert_eq!(attempts, 2);
        let after = estimate(&run);
        assert_eq!(
            after.limit, None,
            "a fault of one request is not throttling"
        );
        assert_eq!(
            after.rate,
            crate::fetch::adaptive::START,
            "the rate did not move"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn at_a_fixed_rate_a_503_with_retry_after_pauses_then_the_pace_is_unchanged() {
    let script = vec![
        http_after(503, Some(Duration::from_secs(3)), ""),
        code(200),
        code(200),
        code(200),
    ];
    let mut run = run_with(script, policy(3), 5);
    run.ctx.pace = Pace::new(
        Rate::Fixed(NonZeroU32::new(10).unwrap()),
        NonZeroU32::MIN,
        4,
        false,
    );
    let (ending, _) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(ref a, Some(_)) if a.code == 200));
    for id in ["L-2", "L-3"] {
        let mut attempts = 0;
        attempt_until_final(&run.ctx, id, &mut attempts).await;
        assert_eq!(attempts, 1);
    }
    let asked = run.ctx.client.asked();
    let gaps: Vec<Duration> = asked.windows(2).map(|p| p[1] - p[0]).collect();
    assert_eq!(
        gaps,
        vec![
            Duration::from_secs(3),
            Duration::from_millis(100),
            Duration::from_millis(100)
        ],
        "the pause outlasts the back-off; then one request every 1/10 s, as asked"
    );
    let tally = run.ctx.tally.snapshot();
    assert_eq!(tally.rate_limited, 0, "a 503 is not counted as a 429");
}
