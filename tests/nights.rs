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
    run.stderr_has("20 stored ids still open (--pending)");
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
    run.stderr_has("--pending");
}

/// `n` ids `PREFIX-00000` ... with event times spread over `day`'s hours.
fn dated_ids(prefix: &str, n: usize, day: &str) -> String {
    let mut s = String::from("liveness_id,created_at\n");
    for i in 0..n {
        s.push_str(&format!(
            "{prefix}-{i:05},{day}T{:02}:{:02}:00Z\n",
            i % 24,
            i % 60
        ));
    }
    s
}

/// Every line of every export file, by file name (header excluded).
fn export_rows(out: &std::path::Path) -> Vec<(String, Vec<String>)> {
    let mut files: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("changed-") && n.ends_with(".csv"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(out.join(&name)).unwrap();
            let rows = text.lines().skip(1).map(str::to_string).collect();
            (name, rows)
        })
        .collect()
}

/// The metrics file's timestamp and exit status, checking every series is labelled.
fn night_metrics(path: &std::path::Path) -> (f64, f64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut stamp = None;
    let mut status = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(line.contains("partner_code=\"test-partner\""), "{line}");
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        if line.starts_with("liveaudit_last_run_timestamp_seconds") {
            stamp = Some(value);
        }
        if line.starts_with("liveaudit_last_run_exit_status") {
            status = Some(value);
        }
    }
    for series in [
        "liveaudit_ids_pending",
        "liveaudit_checks",
        "liveaudit_last_run_ids_left",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    (stamp.unwrap(), status.unwrap())
}

#[test]
fn seven_nights_in_one_database_lose_nothing_and_leave_nothing_open() {
    let env = Env::plain();
    let flaky = env.another_mock(internal_errors());
    let st = env.path("st");
    let inbox = st.join("inbox");
    let out = st.join("out");
    std::fs::create_dir_all(&inbox).unwrap();
    let metrics = st.join("liveaudit.prom");
    let mut last_stamp = 0.0;
    let mut after_night = |run: &Run, status: i32| {
        run.expect(status);
        let (stamp, code) = night_metrics(&metrics);
        assert!(stamp > last_stamp, "the metrics file was not rewritten");
        last_stamp = stamp;
        assert_eq!(code, f64::from(status));
        for line in run.stderr.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if v["message"] == "nightly step" {
                assert!(v["step"].is_string() && v["status"].is_string(), "{line}");
            }
        }
    };

    // 1. A cut-off night: 300 ids at 20/s within 2 s.
    std::fs::write(inbox.join("a.csv"), dated_ids("a", 300, "2026-11-24")).unwrap();
    let n1 = util::night(
        env.cmd(),
        "2026-12-01T02:00:00Z",
        &["--rate", "20", "--max-duration", "2s"],
    );
    after_night(&n1, 4);
    n1.stderr_has("\"status\":\"cut_off\"");

    // 2. An empty night: what the cut-off left is asked again (--pending). (Had the cut-off
    // come while a.csv was read, this night goes on reading it from where it stopped.)
    let n2 = util::night(env.cmd(), "2026-12-02T02:00:00Z", &[]);
    after_night(&n2, 0);
    assert!(
        n2.stderr.contains("\"status\":\"quiet\"")
            || n2.stderr.contains("going on from the last reading"),
        "{}",
        n2.stderr
    );
    assert!(inbox.join("done/a.csv").is_file());

    // 3. A bad file holds nothing back; a name with spaces and brackets is read.
    std::fs::write(inbox.join("bad.csv"), b"\x00\x01binary\x00\x02").unwrap();
    let export_name = "Export 2026-11 (1).csv";
    std::fs::write(inbox.join(export_name), dated_ids("e", 50, "2026-11-25")).unwrap();
    let n3 = util::night(env.cmd(), "2026-12-03T02:00:00Z", &[]);
    after_night(&n3, 2);
    assert!(inbox.join("rejected/bad.csv").is_file());
    let why = std::fs::read_to_string(inbox.join("rejected/bad.csv.why")).unwrap();
    assert!(why.contains("bad.csv"), "{why}");
    assert!(inbox.join("done").join(export_name).is_file());

    // 4. The vendor holds 40 new checks at 11350.
    std::fs::write(inbox.join("h.csv"), dated_ids("h", 40, "2026-11-26")).unwrap();
    after_night(&util::night(env.at(&flaky), "2026-12-04T02:00:00Z", &[]), 0);
    let held = |env: &Env| -> i64 {
        env.conn()
            .query_row("SELECT count(*) FROM checks WHERE code = 11350", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    assert!(held(&env) >= 40);

    // 5. Killed (-9) in the middle of a night, the vendor still in trouble.
    std::fs::write(inbox.join("k.csv"), dated_ids("k", 400, "2026-11-27")).unwrap();
    let mut args: Vec<&str> = util::NIGHT.to_vec();
    args.extend(["--rate", "50", "--now", "2026-12-05T02:00:00Z"]);
    let mut child = env
        .at(&flaky)
        .args(&args)
        .env_remove("CREDENTIALS_DIRECTORY")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    for line in std::io::BufRead::lines(stderr) {
        if line.unwrap().contains("\"step\":\"inbox\"") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // A killed export's temporary file is never taken for an export.
    std::fs::write(out.join(".changed-killed.tmp"), "liveness_id\nk-00001\n").unwrap();

    // 6. The vendor is back: the held checks resolve two nights after they came.
    after_night(&util::night(env.cmd(), "2026-12-06T02:00:00Z", &[]), 0);
    assert_eq!(held(&env), expected_held(&env));

    // 7. A new file, and a second run the same day.
    std::fs::write(inbox.join("s.csv"), dated_ids("s", 20, "2026-11-29")).unwrap();
    after_night(&util::night(env.cmd(), "2026-12-07T02:00:00Z", &[]), 0);
    let before = export_rows(&out);
    after_night(&util::night(env.cmd(), "2026-12-07T03:00:00Z", &[]), 0);
    let after = export_rows(&out);
    // The first run's files are untouched; a new one holds only what the second run asked
    // again (the checks the vendor keeps at 11350).
    assert_eq!(after[..before.len()], before[..]);
    for (name, rows) in &after[before.len()..] {
        for row in rows {
            assert!(row.split(',').nth(2) == Some("11350"), "{name}: {row}");
        }
    }

    // Nothing open that the mock would answer now.
    env.assert_all_match_mock();
    assert_exports_hold_every_version_once(&env, &out);
    assert_billing_files_are_fresh_reports(&env, &out);
    let summaries = std::fs::read_to_string(st.join("runs.jsonl")).unwrap();
    let nightly_lines = summaries
        .lines()
        .filter(|l| l.contains("\"command\":\"nightly\""))
        .count();
    assert_eq!(
        nightly_lines, 7,
        "one line per night that ended (the killed one did not)"
    );
}

/// How many checks the mock answers 11350 for good.
fn expected_held(env: &Env) -> i64 {
    env.checks()
        .iter()
        .filter(|(id, _, _)| liveaudit::mock::expected_code(id) == 11350)
        .count() as i64
}

/// Every check's current version is in the union of export files, no row is in two files, and
/// the files' change ranges follow each other without overlap.
fn assert_exports_hold_every_version_once(env: &Env, out: &std::path::Path) {
    let files = export_rows(out);
    assert!(
        files.len() >= 5,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let mut seen = std::collections::HashMap::new();
    let mut last_to = 0;
    for (name, rows) in &files {
        let range = name.trim_start_matches("changed-").trim_end_matches(".csv");
        let (from, to) = range.split_once('-').unwrap();
        let (from, to): (i64, i64) = (from.parse().unwrap(), to.parse().unwrap());
        assert!(from > last_to && to >= from, "{name} after {last_to}");
        last_to = to;
        for row in rows {
            if let Some(other) = seen.insert(row.clone(), name.clone()) {
                panic!("the same row in {other} and {name}: {row}");
            }
        }
    }
    // The newest version of each check (its last row) agrees with the database.
    let mut newest = std::collections::HashMap::new();
    for (_, rows) in &files {
        for row in rows {
            let mut cells = row.split(',');
            let id = cells.next().unwrap().to_string();
            let status = cells.next().unwrap().to_string();
            let code = cells.next().unwrap().to_string();
            newest.insert(id, (status, code));
        }
    }
    for (id, status, code) in env.checks() {
        let code = code.map(|c| c.to_string()).unwrap_or_default();
        assert_eq!(newest.get(&id), Some(&(status, code)), "{id}");
    }
}

/// Each day's billing file is what `report billing` prints for that day now.
fn assert_billing_files_are_fresh_reports(env: &Env, out: &std::path::Path) {
    let mut days = 0;
    for entry in std::fs::read_dir(out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(day) = name
            .strip_prefix("billing-")
            .and_then(|n| n.strip_suffix(".csv"))
        else {
            continue;
        };
        days += 1;
        let fresh = env.path(&format!("fresh-{day}.csv"));
        let fresh_arg = fresh.to_string_lossy().into_owned();
        env.run(&[
            "report",
            "billing",
            "--from",
            day,
            "--to",
            day,
            "--account",
            util::CODE,
            "-o",
            &fresh_arg,
        ])
        .expect(0);
        assert_eq!(
            std::fs::read_to_string(out.join(&name)).unwrap(),
            std::fs::read_to_string(&fresh).unwrap(),
            "{name}"
        );
    }
    assert_eq!(days, 5, "one file per day with checks");
}

/// A new install's first night, before any check exists (an empty inbox, an empty database),
/// is a quiet night: exit 0 and an (empty) attack report for yesterday, not a usage error
/// about an account the database does not hold yet.
#[test]
fn the_first_night_before_any_check_is_quiet_and_exits_0() {
    let env = Env::plain();
    std::fs::create_dir_all(env.path("st").join("inbox")).unwrap();
    let run = util::night(env.cmd(), "2026-12-01T02:00:00Z", &[]);
    run.expect(0);
    run.stderr_has("\"status\":\"quiet\"");
    assert!(
        !run.stderr.contains("\"status\":\"error\""),
        "{}",
        run.stderr
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.path("st").join("out").join("attacks-2026-11-30.json"))
            .unwrap(),
    )
    .unwrap();
    assert!(report.is_object(), "{report}");
    assert_eq!(env.mock.stats().result_requests, 0);
}
