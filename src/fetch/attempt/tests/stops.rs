//! What ends a run from inside the attempt loop, against scripted answers on tokio's paused
//! clock: the vendor's stops (credentials refused, an account code, a proxy's 407) and the
//! circuit breaker (outage faults, pausing 429s and 4xx give-ups in a row; an answer ends the
//! streak).

use super::*;

/// A gateway that answers every request with a 4xx (a WAF's 406, a 400 page) fails each id at
/// once; a streak of them trips the breaker like an outage, while one among answers does not.
#[tokio::test(start_paused = true)]
async fn a_streak_of_4xx_give_ups_trips_the_breaker_but_one_among_answers_does_not() {
    let run = run_with(
        vec![http(406, "blocked"), http(400, "blocked")],
        policy(5),
        2,
    );
    for n in 0..2 {
        let (ending, attempts) = run.attempt().await;
        assert!(matches!(ending, Ending::Failed(..)), "id {n}");
        assert_eq!(attempts, 1);
    }
    let Some(StopCause::Outage { count, last }) = run.stop() else {
        panic!("expected an outage stop, got {:?}", run.stop());
    };
    assert_eq!(count, 2);
    assert!(last.contains("400"), "{last}");

    let run = run_with(
        vec![http(400, "bad id"), code(200), http(400, "bad id")],
        policy(5),
        2,
    );
    for _ in 0..3 {
        run.attempt().await;
    }
    assert_eq!(run.stop(), None, "an answer between them ends the streak");
}

/// A proxy that wants its own credentials (407) will pass no request: the run stops at once
/// and says what the proxy wants.
#[tokio::test(start_paused = true)]
async fn a_proxy_asking_for_credentials_stops_the_run() {
    let run = run_with(
        vec![http(407, "<html>Proxy Authentication Required</html>")],
        policy(5),
        50,
    );
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Stopped));
    assert_eq!(attempts, 1);
    let Some(StopCause::Vendor(stop)) = run.stop() else {
        panic!("expected a vendor stop, got {:?}", run.stop());
    };
    let text = stop.to_string();
    assert!(
        text.contains("HTTP 407") && text.contains("NO_PROXY"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn refused_credentials_stop_the_run_and_leave_the_id_as_it_was() {
    let mut run = run_with(vec![http(401, "")], policy(5), 5);
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Stopped));
    assert_eq!(attempts, 1);
    assert_eq!(rows(&run.written()), vec![("stop".into(), Some(401), None)]);
    assert_eq!(
        run.stop(),
        Some(StopCause::Vendor(VendorStop::CredentialsRefused {
            status: 401
        }))
    );
    assert!(run.ctx.cancel.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn an_account_code_stops_the_run_but_an_11350_already_received_is_kept() {
    let mut run = run_with(vec![code(11350), code(305)], policy(5), 5);
    let (ending, attempts) = run.attempt().await;
    assert!(
        matches!(ending, Ending::Resolved(ref a, None) if a.code == 11350),
        "the 11350 answer is stored, not lost to the stop"
    );
    assert_eq!(attempts, 2);
    assert_eq!(
        rows(&run.written()),
        vec![
            ("retry:internal_11350".into(), Some(200), Some(11350)),
            ("stop".into(), Some(200), Some(305)),
        ]
    );
    assert!(matches!(
        run.stop(),
        Some(StopCause::Vendor(VendorStop::Account { code: 305, .. }))
    ));
}

#[tokio::test(start_paused = true)]
async fn outage_faults_in_a_row_trip_the_breaker_and_stop_the_run() {
    let script = vec![http(500, "x"), timeout(), http(500, "y")];
    let mut run = run_with(script, policy(10), 3);
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Stopped));
    assert_eq!(attempts, 3);
    assert_eq!(run.written().len(), 3);
    let Some(StopCause::Outage { count, last }) = run.stop() else {
        panic!("expected an outage stop, got {:?}", run.stop());
    };
    assert_eq!(count, 3);
    assert!(last.contains("500"), "{last}");
}

#[tokio::test(start_paused = true)]
async fn rate_limits_that_pause_the_run_count_towards_the_breaker() {
    let script = vec![http(429, ""), http(429, "")];
    let run = run_with(script, policy(10), 2);
    let (ending, attempts) = run.attempt().await;
    assert!(matches!(ending, Ending::Stopped));
    assert_eq!(attempts, 2);
    assert!(matches!(
        run.stop(),
        Some(StopCause::Outage { count: 2, .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn an_answer_resets_the_breaker_streak() {
    let script = vec![http(500, ""), code(11350), http(500, ""), code(200)];
    let run = run_with(script, policy(10), 2);
    let (ending, _) = run.attempt().await;
    assert!(matches!(ending, Ending::Resolved(ref a, _) if a.code == 200));
    assert_eq!(run.stop(), None, "11350 broke the streak of outage faults");
}
