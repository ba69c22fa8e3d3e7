//! The nightly job's rules, end to end against the mock: a spike in yesterday judged against
//! the days before it; a night started after its `--until` window; ids another account read
//! first warned about and counted as `fetch` does; a file cut off part way counted in the
//! inbox step's line.

use crate::util;

use crate::accounts_fetch::Two;
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

/// The `"command":"nightly"` line of `runs.jsonl` in `state`.
fn night_line(state: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(state.join("runs.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .rfind(|v| v["command"] == "nightly")
        .unwrap()
}

/// The `nightly step` line of `step` in a JSON log (the last one).
fn step_line(stderr: &str, step: &str) -> serde_json::Value {
    stderr
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "nightly step" && v["step"] == step)
        .unwrap_or_else(|| panic!("no {step} step line in:\n{stderr}"))
}

/// Account ph-app's inbox file names 30 ids, 20 of them read first by account id-app: the
/// night registers and asks the 10 of its own, and warns about and counts the 20 as `fetch`
/// does (the step's line, the summary's `other_account`), instead of dropping them silently.
#[test]
fn the_nightly_warns_about_and_counts_ids_another_account_read_first() {
    let two = Two::new();
    let ids = answered("shared", 30, |c| c == 200);
    let list = |ids: &[String]| format!("liveness_id\n{}\n", ids.join("\n"));
    two.env.write("first.csv", list(&ids[..20]));
    two.fetch("id-app", "first.csv", &[]).expect(0);
    let inbox = two.env.path("st").join("inbox").join("ph-app");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("ids.csv"), list(&ids)).unwrap();

    let run = two.run(&[
        "--log-format",
        "json",
        "nightly",
        "--state",
        "st",
        "--accounts",
        "ph-app",
        "--settle-secs",
        "0",
        "--rate",
        "0",
    ]);
    run.expect(0);
    let warned = run
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["level"] == "WARN"
                && v["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("ids another account read first"))
        })
        .unwrap_or_else(|| panic!("no warning in:\n{}", run.stderr));
    assert_eq!(warned["count"], 20, "{warned}");
    let inbox_step = step_line(&run.stderr, "inbox");
    assert_eq!(
        inbox_step["detail"],
        "1 files registered (10 ids), 0 left for the next night; 20 rows name ids another \
         account read first (not asked under this one)"
    );
    let line = night_line(&two.env.path("st"));
    assert_eq!(
        (&line["ids_registered"], &line["other_account"]),
        (&10.into(), &20.into())
    );
    // None of the 20 went to ph-app's vendor.
    assert_eq!(two.ph.stats().result_requests, 10);
    for id in &ids[..20] {
        assert_eq!(two.ph.requests_for(id), 0, "{id}");
    }
}

/// A budget that runs out while a large file is read: what was registered of it is kept and
/// counted in the inbox step's line and the summary (it said "0 ids" while thousands were
/// registered, billed as unresolved and exported), and the fetch step says why it did not start.
#[test]
fn a_file_cut_off_part_way_is_counted_in_the_inbox_line_and_the_fetch_says_why_it_did_not_start() {
    let env = Env::plain();
    let inbox = env.path("st").join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Far more than a debug build reads in the one second the night may take.
    let mut big = String::from("liveness_id\n");
    for i in 0..300_000 {
        big.push_str(&format!("big-{i:08}\n"));
    }
    std::fs::write(inbox.join("big.csv"), big).unwrap();

    let run = night(&env, "2026-11-28T02:00:00Z", &["--max-duration", "1s"]);
    run.expect(4);
    let registered: i64 = env.one("SELECT count(*) FROM checks");
    assert!(registered > 0 && registered < 300_000, "{registered}");
    let inbox_step = step_line(&run.stderr, "inbox");
    assert_eq!(inbox_step["status"], "cut_off");
    assert_eq!(
        inbox_step["detail"],
        format!(
            "0 files registered (0 ids), 1 left for the next night ({registered} of their ids \
             registered before the cut-off)"
        )
    );
    let fetch_step = step_line(&run.stderr, "fetch");
    assert_eq!(fetch_step["status"], "not_started");
    assert_eq!(
        fetch_step["detail"],
        "not started: no budget left after the inbox"
    );
    let line = night_line(&env.path("st"));
    assert_eq!(line["ids_registered"], registered);
    assert!(
        inbox.join("big.csv").exists(),
        "the file waits for the next night"
    );
    assert_eq!(env.mock.stats().result_requests, 0);
}
