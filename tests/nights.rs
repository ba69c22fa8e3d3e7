//! Night after night: `fetch --pending` asks again what is still open without its file, and
//! `liveaudit nightly` runs the whole job in one database, night after night.

use crate::util;

use liveaudit::mock::{FaultKind, MockOptions};
use util::{Env, Run, id_csv};

/// A mock that answers 11350 to every request (a transient internal error).
fn internal_errors() -> MockOptions {
    MockOptions {
        fault_rate: 1.0,
        faults: vec![FaultKind::Internal],
        ..MockOptions::default()
    }
}

#[test]
fn fetch_pending_asks_again_every_open_check_without_its_file() {
    let env = Env::plain();
    let flaky = env.another_mock(internal_errors());
    env.write("ids.csv", id_csv(20));
    // Held at 11350 by a vendor in trouble: the run ends, the file could be gone.
    Run::from(
        env.at(&flaky)
            .args(["fetch", "--rate", "0", "--max-retries", "0", "ids.csv"])
            .output()
            .unwrap(),
    )
    .expect(0);
    std::fs::remove_file(env.path("ids.csv")).unwrap();
    let held: i64 = env
        .conn()
        .query_row("SELECT count(*) FROM checks WHERE code = 11350", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(held, 20);
    let run = env.run(&["fetch", "--rate", "0", "--pending"]);
    run.expect(0);
    assert!(
        run.stderr.contains("20 stored ids still open (--pending)"),
        "{}",
        run.stderr
    );
    env.assert_all_match_mock();
    // Nothing open is asked a third time.
    let again = env.run(&["fetch", "--rate", "0", "--pending"]);
    again.expect(0);
    let asked = liveaudit::mock::expected_code;
    let still_held = (0..20)
        .filter(|i| asked(&format!("lv-{i:08}")) == 11350)
        .count();
    assert!(
        again.stderr.contains(&format!(
            "and {still_held} stored ids still open (--pending), {still_held} needed the vendor"
        )) || (still_held == 0 && again.stderr.contains(", 0 needed the vendor")),
        "{}",
        again.stderr
    );
}

#[test]
fn fetch_needs_files_or_pending() {
    let env = Env::plain();
    let run = env.run(&["fetch"]);
    run.expect(2);
    assert!(run.stderr.contains("--pending"), "{}", run.stderr);
}
