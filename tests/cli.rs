//! End-to-end tests: the real binary against the embedded mock vendor over loopback.

use crate::util;

use liveaudit::mock::{FaultKind, MockOptions, expected_code};
use util::{Env, KEY, assert_at_most_per_second, id_csv};

// ---------------------------------------------------------------- license

#[test]
fn license_prints_the_license_and_its_expiry() {
    let env = Env::plain();
    let run = env.run(&["license", "--duration", "3600"]);
    run.expect(0);
    run.stdout_has("license:");
    run.stdout_has("expires UTC:");
    run.stdout_has("(local)");
    assert_eq!(env.mock.stats().license_requests, 1);
}

#[test]
fn license_with_a_wrong_key_exits_3_without_showing_the_key() {
    let env = Env::plain();
    let key_file = env.write("key.txt", "not-the-key\n");
    let run = env
        .cmd()
        .env_remove("TD_PARTNER_KEY")
        .args(["license", "--partner-key-file"])
        .arg(&key_file)
        .output()
        .unwrap();
    let run = util::Run::from(run);
    run.expect(3);
    run.stderr_has("refused the credentials");
    assert!(!run.stderr.contains("not-the-key"), "{}", run.stderr);
    assert_eq!(env.mock.stats().refused, 1);
}

#[test]
fn license_duration_out_of_range_sends_nothing() {
    let env = Env::plain();
    for d in ["0", "86401", "-5"] {
        let run = env.run(&["license", "--duration", d]);
        run.expect(2);
        run.stderr_has("1 to 86400");
    }
    assert_eq!(env.mock.stats().license_requests, 0);
}

#[test]
fn connection_refused_errors_never_show_the_key() {
    let env = Env::plain();
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}/verification/kyc/sdk/liveness/result/v1");
    let run = util::Run::from(
        env.cmd()
            .env("TD_LICENSE_URL", &dead)
            .args(["license"])
            .output()
            .unwrap(),
    );
    // No answer is an outage (exit 4), as the fetch's.
    run.expect(4);
    run.stderr_has("connect");

    env.write("ids.csv", id_csv(3));
    let run = env
        .fetch("ids.csv")
        .quick()
        .var("TD_RESULT_URL", &dead)
        .flag("--max-retries", "1")
        .flag("--breaker", "3")
        .run();
    run.expect(4);
    // The errors were recorded, without the key, in the attempts log and the checks.
    let conn = env.conn();
    let details: Vec<String> = conn
        .prepare("SELECT coalesce(detail, '') FROM attempts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!details.is_empty());
    assert!(
        details
            .iter()
            .all(|d| d.contains("connect") && !d.contains(KEY)),
        "{details:?}"
    );
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let env = Env::plain().ids(2);
    let remote = "http://sg-credit.apitd.net/verification/kyc/sdk/liveness/result/v1";
    let run = env.fetch("ids.csv").var("TD_RESULT_URL", remote).run();
    run.expect(2);
    run.stderr_has("plain http:// is refused");
}

#[test]
fn missing_settings_are_named_with_how_to_give_them() {
    let env = Env::plain().ids(2);
    let run = env.fetch("ids.csv").without("TD_PARTNER_KEY").run();
    run.expect(2);
    run.stderr_has("partner key is not set");
    run.stderr_has("TD_PARTNER_KEY");
}

#[test]
fn config_file_supplies_settings_and_flags_win() {
    let env = Env::plain();
    env.write("key", format!("{KEY}\n"));
    env.write(
        "liveaudit.toml",
        format!(
            "partner_code = \"{}\"\npartner_key_file = \"key\"\nresult_url = \"{}\"\ndb = \"from-config.db\"\n",
            util::CODE,
            env.mock.result_url()
        ),
    );
    env.write("ids.csv", id_csv(5));
    let run = [
        "TD_PARTNER_CODE",
        "TD_PARTNER_KEY",
        "TD_RESULT_URL",
        "LIVEAUDIT_DB",
    ]
    .iter()
    .fold(env.fetch("ids.csv").quick(), |f, var| f.without(var))
    .run();
    run.expect(0);
    assert!(env.path("from-config.db").exists());
    // An empty LIVEAUDIT_CONFIG is unset, as every LIVEAUDIT_* variable is: the file is still
    // found in the working directory (its db is read).
    let run = util::Run::from(
        env.cmd()
            .env("LIVEAUDIT_CONFIG", "")
            .env_remove("LIVEAUDIT_DB")
            .args(["report", "billing", "--format", "json"])
            .output()
            .unwrap(),
    );
    run.expect(0);
    let report = run.json();
    assert_eq!(report["totals"]["checks"], 5, "{}", run.stdout);
}

// ---------------------------------------------------------------- fetch

const MESSY: &[u8] = b"\xEF\xBB\xBFliveness_id,created_at,channel,note\r\n\
\"  lv-a1 \",2026-10-01 10:00:00,web,\"a, quoted\r\nnote\"\r\n\
\r\n\
,2026-10-01 10:00:00,web,blank id\r\n\
0012345678901234567890,1790000000,app,caf\xe9\r\n\
lv-a2,2026-10-01T10:00:00+08:00\r\n\
lv-a1,not a time,web,duplicate\r\n\
unknown-77,2026-10-02,web,\r\n\
  lv-a3\t,1790000000000,ios,\r\n";

#[test]
fn every_id_of_a_messy_file_ends_with_the_mock_outcome_despite_faults() {
    let env = Env::new(MockOptions {
        fault_rate: 0.2,
        faults: vec![
            FaultKind::Html500,
            FaultKind::Empty503,
            FaultKind::TooMany,
            FaultKind::TooManyDate,
            FaultKind::Truncated,
            FaultKind::NotJson,
            FaultKind::Internal,
            FaultKind::Reset,
            FaultKind::Huge,
            FaultKind::Stall,
        ],
        ..MockOptions::default()
    });
    let mut content = MESSY.to_vec();
    content.extend_from_slice(id_csv(60).trim_start_matches("liveness_id\n").as_bytes());
    env.write("messy.csv", &content);
    let run = env
        .fetch("messy.csv")
        .quick()
        .flag("--timeout", "2")
        .flag("--max-retries", "10")
        .flag("--max-body-mib", "1")
        .flag("--backoff-min-ms", "10")
        // The messy file holds one unreadable time ("not a time"): dated by fetch time.
        .flag("--bad-times", "fetch-time")
        .run();
    run.expect(0);
    let checks = env.checks();
    let ids: Vec<&str> = checks.iter().map(|c| c.0.as_str()).collect();
    assert!(ids.contains(&"lv-a1") && ids.contains(&"lv-a3"), "{ids:?}");
    assert!(
        ids.contains(&"0012345678901234567890"),
        "numeric ids stay exact strings"
    );
    assert_eq!(
        checks.len(),
        5 + 60,
        "duplicates fetched once, blank skipped"
    );
    env.assert_all_match_mock();
    let stats = env.mock.stats();
    assert!(stats.faults.values().sum::<u64>() > 5, "{stats:?}");
    // Every request is in the attempts log.
    let logged: u64 = env.one("SELECT count(*) FROM attempts");
    assert_eq!(logged, stats.result_requests);
    run.stderr_has("1 duplicates").stderr_has("1 blank");
}

#[test]
fn a_rerun_asks_only_for_ids_without_a_final_answer() {
    let env = Env::plain().ids(300);
    env.fetch("ids.csv").quick().run().expect(0);
    let first = env.mock.requests_by_id();
    env.fetch("ids.csv").quick().run().expect(0);
    let second = env.mock.requests_by_id();
    let mut asked_again = 0;
    for (id, n) in &second {
        let before = first.get(id).copied().unwrap_or(0);
        if *n > before {
            asked_again += 1;
            assert_eq!(expected_code(id), 11350, "{id} was final but asked again");
        }
    }
    let internal = (0..300)
        .filter(|i| expected_code(&format!("lv-{i:08}")) == 11350)
        .count();
    assert_eq!(asked_again, internal);
    env.assert_all_match_mock();
}

#[test]
fn wrong_key_stops_the_run_within_a_few_requests_and_leaves_ids_pending() {
    let env = Env::plain().ids(500);
    let run = env
        .fetch("ids.csv")
        .quick()
        .concurrency(4)
        .var("TD_PARTNER_KEY", "wrong-key")
        .run();
    run.expect(3);
    run.stderr_has("refused the credentials");
    let stats = env.mock.stats();
    assert!(stats.result_requests <= 12, "{stats:?}");
    let checks = env.checks();
    assert_eq!(checks.len(), 500);
    assert!(checks.iter().all(|c| c.1 == "pending"));
}

#[test]
fn account_stop_ends_the_run_with_exit_3_keeping_what_was_fetched() {
    let env = Env::new(MockOptions {
        stop_after: Some(40),
        ..MockOptions::default()
    });
    env.write("ids.csv", id_csv(400));
    let run = env
        .fetch("ids.csv")
        .quick()
        .flag("--concurrency", "4")
        .run();
    run.expect(3);
    run.stderr_has("code 305");
    let stats = env.mock.stats();
    assert!(stats.result_requests <= 40 + 12, "{stats:?}");
    let checks = env.checks();
    let done = checks.iter().filter(|c| c.1 == "done").count();
    let pending = checks.iter().filter(|c| c.1 == "pending").count();
    assert!((30..=40).contains(&done), "done {done}");
    assert_eq!(done + pending, 400);
    // Nothing stored carries the account code: it is not a result.
    assert!(checks.iter().all(|c| c.2 != Some(305)));
}

#[test]
fn a_429_storm_slows_the_run_but_loses_nothing() {
    let env = Env::new(MockOptions {
        rate_limit: Some(40),
        rate_burst: Some(2),
        ..MockOptions::default()
    });
    env.write("ids.csv", id_csv(80));
    let run = env
        .fetch("ids.csv")
        .quick()
        .flag("--concurrency", "16")
        .run();
    run.expect(0);
    assert!(env.mock.stats().rate_limited > 0, "the storm happened");
    env.assert_all_match_mock();
}

#[test]
fn rate_auto_from_the_config_file_resolves_every_id_and_records_the_rate_settled_on() {
    // A vendor limit the tool is not told; the search may or may not reach it in so short a
    // run, so what is asserted is what holds either way.
    let env = Env::new(MockOptions {
        rate_limit: Some(50),
        rate_burst: Some(5),
        ..MockOptions::default()
    });
    env.write("ids.csv", id_csv(200));
    env.write("liveaudit.toml", "rate = \"auto\"\n");
    let run = env.ok("fetch --max-rate 80 --backoff-max-ms 100 ids.csv");
    env.assert_all_match_mock();
    run.stderr_has("rate auto: ");
    run.stderr_has("next time, or keep --rate auto");
    let (rate, settled, limit): (String, f64, Option<f64>) = env
        .conn()
        .query_row(
            "SELECT rate, settled_rate, limit_found FROM runs ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(rate, "auto");
    assert!((1.0..=80.0).contains(&settled), "settled {settled}");
    assert!(limit.is_none_or(|l| (1.0..=80.0).contains(&l)), "{limit:?}");
    // The advice is the rate settled on, or more when more was sustained without a 429.
    let advised: f64 = run
        .stderr
        .split("pass --rate ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no advice in {}", run.stderr));
    assert!(
        advised >= settled.floor() && advised <= 80.0,
        "advised {advised}, settled {settled}"
    );
    // --max-rate is a hard bound: no second of the attempts log holds more.
    let times = env.sent_times();
    assert_at_most_per_second(&times, 80);
}

#[test]
fn a_rate_that_is_neither_a_number_nor_auto_is_a_usage_error() {
    let env = Env::plain().ids(5);
    let run = env.run(&["fetch", "--rate", "fast", "ids.csv"]);
    run.expect(2);
    run.stderr_has("\"fast\" is not a rate");
    let run = env.run_line("fetch --rate auto --min-rate 50 --max-rate 10 ids.csv");
    run.expect(2);
    run.stderr_has("--min-rate 50 and --max-rate 10");
    env.write("liveaudit.toml", "rate = \"quick\"\n");
    let run = env.run(&["fetch", "ids.csv"]);
    run.expect(2);
    run.stderr_has("rate in the config file");
    assert_eq!(env.mock.stats().result_requests, 0, "nothing was sent");
}

#[test]
fn the_rate_never_exceeds_the_limit_in_any_second() {
    let env = Env::new(MockOptions {
        fault_rate: 0.2,
        faults: vec![FaultKind::Html500, FaultKind::Internal],
        ..MockOptions::default()
    });
    env.write("ids.csv", id_csv(70));
    env.run_line("fetch --backoff-max-ms 100 --rate 25 ids.csv")
        .expect(0);
    let times = env.sent_times();
    assert!(times.len() > 70, "retries happened: {}", times.len());
    assert_at_most_per_second(&times, 25);
}

#[test]
fn the_vendor_down_trips_the_breaker_and_the_next_run_finishes() {
    let env = Env::plain().ids(200);
    env.mock.set_down(true);
    let run = env
        .fetch("ids.csv")
        .quick()
        .flag("--concurrency", "4")
        .flag("--breaker", "20")
        .run();
    run.expect(4);
    run.stderr_has("vendor looks down");
    // The breaker's 20, plus at most the requests already in flight when it tripped (the
    // other three of `--concurrency 4`): nothing is sent after the decision to stop.
    assert!(
        env.mock.stats().result_requests <= 20 + 3,
        "{:?}",
        env.mock.stats()
    );
    env.mock.set_down(false);
    env.fetch("ids.csv").quick().run().expect(0);
    env.assert_all_match_mock();
}

#[test]
fn a_second_fetch_on_the_same_database_is_refused_at_once() {
    let env = Env::plain().ids(5);
    let _held = liveaudit::store::FetchLock::acquire(&env.db()).unwrap();
    let run = env.run(&["fetch", "ids.csv"]);
    run.expect(2);
    run.stderr_has("another liveaudit fetch is running");
    assert_eq!(env.mock.stats().result_requests, 0);
}

#[test]
fn unreadable_input_stops_before_anything_is_sent() {
    let env = Env::plain();
    env.write("good.csv", id_csv(5));
    env.write("bad.csv", "user,channel\nu1,web\n");
    let run = env.run(&["fetch", "good.csv", "bad.csv"]);
    run.expect(2);
    run.stderr_has("bad.csv:1");
    run.stderr_has("--id-column");
    run.stderr_has("nothing was sent");
    assert_eq!(env.mock.stats().result_requests, 0);
    // The good file's ids were not registered either: the input is all or nothing.
    assert_eq!(env.checks().len(), 0);

    env.write("latin.csv", b"liveness_id\nok-1\nbad-\xe9\n");
    let run = env.run(&["fetch", "latin.csv"]);
    run.expect(2);
    run.stderr_has("latin.csv:3");
}

#[test]
fn stdin_is_read_with_a_dash() {
    use std::io::Write;
    let env = Env::plain();
    let mut child = env.fetch("-").quick().spawn();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"lv-1\nlv-2\nlv-3\n")
        .unwrap();
    util::Run::from(child.wait_with_output().unwrap()).expect(0);
    assert_eq!(env.checks().len(), 3);
}

#[test]
fn killed_with_sigkill_mid_run_the_rerun_loses_nothing_and_reasks_little() {
    let env = Env::with_latency(20).ids(300);
    for round in 0..3 {
        let mut child = env.fetch("ids.csv").quick().concurrency(4).spawn();
        let target = env.mock.stats().result_requests + 40;
        env.rt.block_on(env.mock.wait_for_requests(target));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let done = env.checks().iter().filter(|c| c.1 == "done").count();
        assert!(done > 0, "round {round}: something was committed");
    }
    env.fetch("ids.csv").quick().concurrency(4).run().expect(0);
    env.assert_all_match_mock();
    // Ids asked more than once though their answer was final: only those in flight at a kill.
    let reasked = env.final_asked_again();
    assert!(reasked <= 3 * 8, "{reasked} ids asked again");
}

#[cfg(unix)]
#[test]
fn sigterm_saves_what_was_fetched_and_exits_130() {
    let env = Env::with_latency(20).ids(400);
    let child = env.fetch("ids.csv").quick().concurrency(4).spawn();
    env.rt.block_on(env.mock.wait_for_requests(40));
    let run = util::sigterm(child);
    run.expect(130);
    run.stderr_has("run the same command again");
    let checks = env.checks();
    let done = checks.iter().filter(|c| c.1 == "done").count();
    assert!((30..400).contains(&done), "{done}");
    let asked = env.mock.stats().result_requests as usize;
    // Everything the vendor answered was saved (bar 11350s, which are retried).
    assert!(
        done + 8
            >= asked.min(400)
                - checks
                    .iter()
                    .filter(|c| expected_code(&c.0) == 11350)
                    .count()
    );
    let outcome: String = env.last_outcome();
    assert_eq!(outcome, "interrupted");
}

#[test]
fn faces_are_not_stored_unless_asked_and_then_stay_inside_the_directory() {
    let env = Env::plain();
    env.write(
        "ids.csv",
        "liveness_id\n../../escape\n/abs\nlv-ok\n\"quote\"\"d\"\n",
    );
    env.fetch("ids.csv").quick().run().expect(0);
    let conn = env.conn();
    let hashed: i64 = conn
        .query_row(
            "SELECT count(*) FROM checks WHERE image_sha256 IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let with_image = env
        .checks()
        .iter()
        .filter(|c| matches!(c.2, Some(200) | Some(12202..=12299)))
        .count() as i64;
    assert_eq!(hashed, with_image);
    assert!(
        util::files_under(env.dir.path())
            .iter()
            .all(|p| p.extension().is_none_or(|e| e != "jpg"))
    );

    let env = Env::plain();
    env.write("ids.csv", "liveness_id\n../../escape\n/abs\nlv-ok\n");
    env.fetch("ids.csv")
        .quick()
        .flag("--save-images", "faces")
        .run()
        .expect(0);
    let faces = util::files_under(&env.path("faces"));
    assert!(!faces.is_empty());
    for f in &faces {
        assert_eq!(f.parent().unwrap(), env.path("faces"));
        assert_eq!(&std::fs::read(f).unwrap()[..2], &[0xFF, 0xD8]);
    }
}

#[test]
fn the_key_appears_in_no_output_log_or_database_file() {
    let env = Env::new(MockOptions {
        fault_rate: 0.3,
        faults: vec![FaultKind::Html500, FaultKind::Reset, FaultKind::NotJson],
        ..MockOptions::default()
    });
    env.write("ids.csv", id_csv(50));
    let quick_fetch = |extra: &[&str]| env.fetch("ids.csv").quick().words(extra).args();
    let words = |line: &str| {
        line.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let mut outputs = Vec::new();
    for args in [
        quick_fetch(&["--log-format", "json"]),
        quick_fetch(&[]),
        words("export"),
        words("export --format jsonl"),
        words("report billing --format json"),
        words("report attacks --format html"),
        words("license"),
        words("codes"),
    ] {
        let run = env.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(matches!(run.status, Some(0)), "{args:?}: {}", run.stderr);
        outputs.push(run.stdout);
        outputs.push(run.stderr);
    }
    for o in &outputs {
        assert!(!o.contains(KEY));
    }
    let needle = KEY.as_bytes();
    for f in util::files_under(env.dir.path()) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "key found in {}",
            f.display()
        );
    }
}

// ---------------------------------------------------------------- export and reports

#[test]
fn export_has_the_contract_columns_and_agrees_with_the_database() {
    let env = Env::plain();
    env.write(
        "ids.csv",
        "liveness_id,created_at,channel\nlv-1,2026-10-01T10:00:00Z,web\nlv-2,,app\n",
    );
    env.fetch("ids.csv").quick().run().expect(0);
    let run = env.run(&["export"]);
    run.expect(0);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next().unwrap(),
        "liveness_id,status,code,message,category,charged,score,sequence_id,attempts,event_time,\
         fetched_at,family,image_sha256,image_bytes,source,last_error,attributes,time_basis,\
         partner_code,endpoint_host"
    );
    let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[0][0], "lv-1");
    assert_eq!(&rows[0][1], "done");
    assert_eq!(rows[0][2].parse::<i64>().unwrap(), expected_code("lv-1"));
    assert_eq!(&rows[0][9], "2026-10-01T10:00:00Z");
    assert_eq!(&rows[1][9], "", "no event time given");
    assert_eq!(&rows[0][16], r#"{"channel":"web"}"#);
    assert_eq!((&rows[0][17], &rows[1][17]), ("input", ""));
    assert_eq!((&rows[0][18], &rows[0][19]), (util::CODE, "127.0.0.1"));

    let run = env.run(&["export", "--format", "jsonl"]);
    run.expect(0);
    let first: serde_json::Value =
        serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    for key in [
        "liveness_id",
        "status",
        "code",
        "message",
        "category",
        "charged",
        "score",
        "sequence_id",
        "attempts",
        "event_time",
        "fetched_at",
        "partner_code",
        "endpoint_host",
    ] {
        assert!(first.get(key).is_some(), "{key} missing");
    }
}

#[test]
fn billing_json_totals_add_up_to_what_was_fetched() {
    let env = Env::plain().ids(400);
    env.fetch("ids.csv").quick().run().expect(0);
    let run = env.run(&["report", "billing", "--format", "json", "--price", "0.035"]);
    run.expect(0);
    let v = run.json();
    let t = &v["totals"];
    let codes = liveaudit::codes::CodeTable::shipped();
    let (mut charged, mut uncharged, mut unknown) = (0, 0, 0);
    for i in 0..400 {
        match codes.charged(expected_code(&format!("lv-{i:08}"))) {
            Some(true) => charged += 1,
            Some(false) => uncharged += 1,
            None => unknown += 1,
        }
    }
    assert_eq!(t["checks"], 400);
    assert_eq!(t["charged"], charged);
    assert_eq!(t["uncharged"], uncharged);
    assert_eq!(t["unknown_code"], unknown);
    assert_eq!(t["unresolved"], 0);
    let amount: rust_decimal::Decimal = t["amount"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        amount,
        rust_decimal::Decimal::new(35, 3) * rust_decimal::Decimal::from(charged)
    );
}

/// Guards `-o -` as standard output, as `-` is standard input for fetch: export, both
/// reports, checks and reconcile print what they print without `-o`, and no file named `-`
/// is left behind (one was, with an empty stdout).
#[test]
fn dash_as_the_output_is_standard_output() {
    let env = Env::plain().ids(30);
    env.fetch("ids.csv").quick().run().expect(0);
    env.write("statement.csv", "liveness_id,amount\nlv-00000001,0.035\n");
    let commands: [&[&str]; 5] = [
        &["export", "--format", "csv"],
        &["report", "billing", "--format", "csv"],
        &["report", "attacks", "--format", "json"],
        &["checks", "--format", "csv"],
        &[
            "reconcile",
            "--statement",
            "statement.csv",
            "--format",
            "json",
        ],
    ];
    for command in commands {
        let plain = env.run(command);
        let dashed = env.run(&[command, &["-o", "-"]].concat());
        assert_eq!(
            dashed.status, plain.status,
            "{command:?}: {}",
            dashed.stderr
        );
        assert!(
            !dashed.stdout.is_empty(),
            "{command:?} printed nothing: {}",
            dashed.stderr
        );
        let strip = |s: &str| {
            s.lines()
                .filter(|l| !l.contains("generated") && !l.contains("_at"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&dashed.stdout), strip(&plain.stdout), "{command:?}");
        assert!(!env.path("-").exists(), "{command:?} wrote a file named -");
    }
}

#[test]
fn codes_prints_the_table_in_every_format() {
    let env = Env::plain();
    let run = env.run(&["codes", "--format", "csv"]);
    run.expect(0);
    assert!(
        run.stdout
            .starts_with("code,message,charged,category,family,source\n")
    );
    assert!(
        run.stdout
            .contains("12219,Suspected deepfake image attack,yes,attack,injection,")
    );
    let run = env.run(&["codes", "--format", "json"]);
    run.expect(0);
    let v = run.json();
    assert_eq!(v.as_array().unwrap().len(), 32);

    env.write(
        "extra.csv",
        "code,message,charged,category,family\n12230,Virtual camera,yes,attack,injection\n",
    );
    let run = env.run(&["--codes-file", "extra.csv", "codes", "--format", "csv"]);
    run.expect(0);
    assert!(
        run.stdout
            .contains("12230,Virtual camera,yes,attack,injection,extra.csv")
    );
}

#[test]
fn reports_on_a_missing_or_foreign_database_explain_themselves() {
    let env = Env::plain();
    let run = env.run(&["report", "billing"]);
    run.expect(2);
    run.stderr_has("does not exist");
    env.write("audit.db", "liveness_id\nnot a database\n".repeat(200));
    let run = env.run(&["export"]);
    run.expect(2);
    run.stderr_has("not a liveaudit database");
}
