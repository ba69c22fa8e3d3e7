//! The nightly job's rules, end to end against the mock: a spike in yesterday judged against
//! the days before it; a night started after its `--until` window.

use crate::util;

use liveaudit::mock::expected_code;
use util::{Env, Run};

/// The mock's injection-family codes (the shipped code table's `injection` rows).
const INJECTION: [i64; 4] = [12215, 12216, 12219, 12222];

/// `n` ids `PREFIX-N` whose mock answer is one `keep` accepts.
fn answered(prefix: &str, n: usize, keep: impl Fn(i64) -> bool) -> Vec<String> {
    (0..)
        .map(|i| format!("{prefix}-{i:06}"))
        .filter(|id| keep(expected_code(id)))
        .take(n)
        .collect()
}

/// An inbox file: on each day of `days` (2026-11-DD), `checks` ids of which `injection[k]` the
/// mock answers with an injection attack and the rest with a success, at midday UTC.
fn planted(days: &[u32], checks: usize, injection: &[usize]) -> String {
    let mut s = String::from("liveness_id,created_at\n");
    for (day, &inj) in days.iter().zip(injection) {
        let bad = answered(&format!("inj{day}"), inj, |c| INJECTION.contains(&c));
        let good = answered(&format!("ok{day}"), checks - inj, |c| c == 200);
        for (i, id) in bad.iter().chain(&good).enumerate() {
            s.push_str(&format!("{id},2026-11-{day:02}T12:{:02}:00Z\n", i % 60));
        }
    }
    s
}

/// Runs one night at `now` with state in `st/`, JSON logs and no settle time.
fn night(env: &Env, now: &str, more: &[&str]) -> Run {
    let mut args = vec![
        "--log-format",
        "json",
        "nightly",
        "--state",
        "st",
        "--settle-secs",
        "0",
        "--rate",
        "0",
        "--now",
        now,
    ];
    args.extend(more);
    Run::from(
        env.cmd()
            .args(&args)
            .env_remove("CREDENTIALS_DIRECTORY")
            .env_remove("STATE_DIRECTORY")
            .output()
            .unwrap(),
    )
}

fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The nightly's attack report covers yesterday alone; its spike is judged against the seven
/// days before, which lie outside that window: 15 injection attacks in 50 checks (30%) after a
/// week of 2 in 50 (4%) fires, the night exits 6, and a quiet day's night exits 0.
#[test]
fn the_nightly_flags_a_spike_in_yesterday_against_the_days_before_it_and_exits_6() {
    let env = Env::plain();
    let inbox = env.path("st").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let days: Vec<u32> = (20..=27).collect();
    let injection = [2, 2, 2, 2, 2, 2, 2, 15];
    std::fs::write(inbox.join("week.csv"), planted(&days, 50, &injection)).unwrap();

    let run = night(&env, "2026-11-28T02:00:00Z", &[]);
    run.expect(6);
    run.stderr_has("\"step\":\"attacks\",\"status\":\"spike\"");
    let report = read_json(&env.path("st").join("out").join("attacks-2026-11-27.json"));
    assert_eq!(report["alert"]["exit_status"], 6, "{report}");
    let spikes = report["alert"]["spikes"].as_array().unwrap();
    assert_eq!(spikes.len(), 1, "{report}");
    assert_eq!(spikes[0]["period"], "2026-11-27");
    assert_eq!(spikes[0]["family"], "injection");
    assert_eq!(spikes[0]["attacks"], 15);
    assert_eq!(spikes[0]["resolved"], 50);
    // The baseline is the seven days before, each 2 of 50.
    let baseline = spikes[0]["baseline_share"].as_f64().unwrap();
    assert!((baseline - 0.04).abs() < 1e-9, "{baseline}");
    // The report over the whole week lists the same spike, against the same baseline.
    let week = env.json("report attacks --from 2026-11-20 --to 2026-11-27 --format json");
    assert_eq!(week["spikes"].as_array().unwrap().len(), 1, "{week}");
    assert_eq!(
        week["spikes"][0]["baseline_share"],
        spikes[0]["baseline_share"]
    );

    // A quiet day's night: the same database, the day before the spike.
    let quiet = night(&env, "2026-11-27T02:00:00Z", &[]);
    quiet.expect(0);
    let report = read_json(&env.path("st").join("out").join("attacks-2026-11-26.json"));
    assert_eq!(report["alert"]["exit_status"], 0, "{report}");
    assert_eq!(report["alert"]["spikes"].as_array().unwrap().len(), 0);
}

/// A file of `n` ids the mock answers with a success.
fn successes(prefix: &str, n: usize) -> String {
    let mut s = String::from("liveness_id\n");
    for id in answered(prefix, n, |c| c == 200) {
        s.push_str(&id);
        s.push('\n');
    }
    s
}

/// The shipped timer makes a missed night up at boot: at 09:00 with `--until 05:30` the night's
/// window closed 3h30m ago, so it reads no file and sends no request (not even the license
/// check), says why, and exits 4; the same night at 01:00 runs and fetches every id.
#[test]
fn a_night_started_after_its_until_window_sends_nothing_and_exits_4() {
    let env = Env::plain();
    let inbox = env.path("st").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("ids.csv"), successes("late", 20)).unwrap();

    let late = night(&env, "2026-11-28T09:00:00Z", &["--until", "05:30"]);
    late.expect(4);
    late.stderr_has("--until 05:30 passed 3h 30m ago: this night's window is over");
    late.stderr_has("\"step\":\"license\",\"status\":\"cut_off\"");
    let stats = env.mock.stats();
    assert_eq!((stats.result_requests, stats.license_requests), (0, 0));
    assert!(
        inbox.join("ids.csv").exists(),
        "the file waits for the next night"
    );
    // The local steps still run: yesterday's attack report is written.
    assert!(
        env.path("st")
            .join("out")
            .join("attacks-2026-11-27.json")
            .exists()
    );

    let on_time = night(&env, "2026-11-28T01:00:00Z", &["--until", "05:30"]);
    on_time.expect(0);
    assert!(
        !on_time.stderr.contains("window is over"),
        "{}",
        on_time.stderr
    );
    assert_eq!(env.mock.stats().distinct_ids, 20);
    assert!(!inbox.join("ids.csv").exists());
}
