//! A hostile vendor, a wrong URL and bad files: each must end in its documented state, never as
//! a charged result or a leaked key. Every test scans stdout, stderr, every database file and
//! every output for the key in all its spellings.

use crate::util;

mod encodings;
mod inputs;
mod paths;

use std::path::Path;
use std::process::Stdio;

use util::hostile::{Hostile, Reply, Request};
use util::{Env, Fetch, Run, id_csv};

/// A key with characters that URL-encoding changes, so the raw and encoded forms differ.
const HKEY: &str = "Hk/LEAK+check=7f3a 9c2e";

/// Fragments of every spelling of [`HKEY`] (raw, form-encoded, percent-encoded, JSON), lower
/// case: none may appear anywhere.
const FRAGMENTS: &[&str] = &[
    "hk/leak",
    "hk%2fleak",
    "hk\\/leak",
    "leak+check",
    "leak%2bcheck",
    "check=7f3a",
    "check%3d7f3a",
    "7f3a 9c2e",
    "7f3a+9c2e",
    "7f3a%209c2e",
];

fn leaks(bytes: &[u8]) -> Option<&'static str> {
    let lower = bytes.to_ascii_lowercase();
    FRAGMENTS
        .iter()
        .copied()
        .find(|f| lower.windows(f.len()).any(|w| w == f.as_bytes()))
}

/// Asserts the key is in no output of `run` and no file under the test directory (the
/// database, its WAL and SHM, exports, reports).
fn assert_no_key(env: &Env, runs: &[&Run]) {
    for run in runs {
        for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
            if let Some(f) = leaks(text.as_bytes()) {
                panic!("the key ({f}) leaked to {name}:\n{text}");
            }
        }
    }
    for file in util::files_under(env.dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        if let Some(f) = leaks(&bytes) {
            panic!("the key ({f}) leaked into {}", file.display());
        }
    }
}

/// A fetch of `ids.csv` against `vendor` with the hostile key, built flag by flag.
fn fetch_at<'a>(env: &'a Env, vendor: &Hostile) -> Fetch<'a> {
    env.fetch("ids.csv")
        .var("TD_PARTNER_KEY", HKEY)
        .var("TD_RESULT_URL", &vendor.url("/liveness/result/v1"))
        .var("TD_LICENSE_URL", &vendor.url("/liveness/license/v1"))
}

fn run(env: &Env, vendor: &Hostile, args: &[&str]) -> Run {
    let out = env
        .cmd()
        .env("TD_PARTNER_KEY", HKEY)
        .env("TD_RESULT_URL", vendor.url("/liveness/result/v1"))
        .env("TD_LICENSE_URL", vendor.url("/liveness/license/v1"))
        .args(args)
        .output()
        .unwrap();
    Run::from(out)
}

/// The request's query string, raw and decoded (what an echoing server or WAF prints).
fn echo(req: &Request) -> String {
    let decoded: String = url::form_urlencoded::parse(req.query().as_bytes())
        .map(|(k, v)| format!("{k}={v} "))
        .collect();
    format!("{} | {} | {}", req.target, req.query(), decoded)
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn statuses(env: &Env) -> Vec<(String, Option<i64>)> {
    env.checks().into_iter().map(|(_, s, c)| (s, c)).collect()
}

/// Asserts that every check is done with code 200.
fn all_done_200(env: &Env) {
    assert!(
        statuses(env)
            .iter()
            .all(|(s, c)| s == "done" && *c == Some(200))
    );
}

const FAST: &[&str] = &[
    "--rate",
    "0",
    "--max-retries",
    "1",
    "--backoff-min-ms",
    "1",
    "--backoff-max-ms",
    "5",
];

fn fetch_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["fetch"];
    args.extend_from_slice(FAST);
    args.extend_from_slice(extra);
    args.push("ids.csv");
    args
}

#[test]
fn the_license_url_as_the_result_url_stops_the_run_and_stores_nothing() {
    let env = Env::plain().ids(20);
    let vendor = Hostile::start(|_| {
        Reply::json(
            200,
            r#"{"code":200,"message":"success","sequence_id":"17119500882","license":"a41701e49","expiry_timestamp":1715667188}"#,
        )
    });
    let fetch = run(&env, &vendor, &fetch_args(&["--concurrency", "2"]));
    fetch.expect(2);
    fetch.stderr_has("this URL answers like the license API");
    assert!(vendor.requests() <= 2, "{} requests", vendor.requests());
    assert!(
        statuses(&env)
            .iter()
            .all(|(s, c)| s == "pending" && c.is_none()),
        "{:?}",
        statuses(&env)
    );
    let billing = run(&env, &vendor, &["report", "billing", "--format", "json"]);
    let totals = billing.json();
    assert_eq!(totals["totals"]["charged"], 0, "{}", billing.stdout);
    assert_eq!(totals["totals"]["unresolved"], 20, "{}", billing.stdout);
    assert_no_key(&env, &[&fetch, &billing]);
}

#[test]
fn a_status_other_than_200_is_never_a_stored_code() {
    // 410 with a success body, 400 with a code: failed ids, asked again next run.
    for (status, body) in [
        (
            410u16,
            r#"{"code":200,"message":"success","sequence_id":"9"}"#,
        ),
        (400, r#"{"code":400}"#),
        (201, r#"{"code":200}"#),
    ] {
        let env = Env::plain().ids(4);
        let vendor = Hostile::start(move |_| Reply::json(status, body));
        let fetch = run(&env, &vendor, &fetch_args(&["--concurrency", "1"]));
        assert_eq!(fetch.status, Some(4), "{status}: {}", fetch.stderr);
        for (s, code) in statuses(&env) {
            assert_eq!((s.as_str(), code), ("failed", None), "{status}");
        }
        let billing = run(&env, &vendor, &["report", "billing", "--format", "json"]);
        let v = billing.json();
        assert_eq!(v["totals"]["charged"], 0, "{status}");
        assert_no_key(&env, &[&fetch, &billing]);
    }
    // 404 with JSON: the URL is wrong; the run stops with exit 2, nothing stored.
    let env = Env::plain().ids(4);
    let vendor = Hostile::start(|_| Reply::json(404, r#"{"code":404}"#));
    let fetch = run(&env, &vendor, &fetch_args(&[]));
    fetch.expect(2);
    fetch.stderr_has("HTTP 404");
    assert!(statuses(&env).iter().all(|(s, _)| s == "pending"));
}

#[test]
fn a_vendor_that_echoes_the_request_never_leaks_the_key() {
    let env = Env::plain().ids(6);
    // Final answers whose message and sequence id echo the query string, and error pages
    // (HTML and JSON) that echo it, then an account stop whose message echoes it.
    let vendor = Hostile::start(|req| {
        let e = echo(req);
        match req.index % 4 {
            0 => Reply::json(
                200,
                format!(
                    r#"{{"code":777,"message":{},"sequence_id":{}}}"#,
                    json_string(&e),
                    json_string(req.query())
                ),
            ),
            1 => Reply::json(500, format!("<html>bad request {e}</html>")),
            2 => Reply::json(503, format!(r#"{{"error":{}}}"#, json_string(&e))),
            _ => Reply::json(
                200,
                format!(r#"{{"code":200,"message":{}}}"#, json_string(&e)),
            ),
        }
    });
    let text = run(&env, &vendor, &fetch_args(&["--concurrency", "1"]));
    assert!(matches!(text.status, Some(0 | 4)), "{}", text.stderr);
    let json = run(
        &env,
        &vendor,
        &["--log-format", "json", "fetch", "--rate", "0", "ids.csv"],
    );
    // An account stop whose message echoes the key: stop reason, attempts, stderr.
    env.write("more.csv", "liveness_id\nacct-1\n");
    let stop_vendor = Hostile::start(|req| {
        Reply::json(
            200,
            format!(r#"{{"code":303,"message":{}}}"#, json_string(&echo(req))),
        )
    });
    let stopped = run(&env, &stop_vendor, &["fetch", "--rate", "0", "more.csv"]);
    stopped.expect(3);
    stopped.stderr_has("<redacted>");
    let license = run(&env, &stop_vendor, &["license"]);
    license.expect(3);
    let export = run(&env, &vendor, &["export", "--output", "export.csv"]);
    export.expect(0);
    let billing = run(&env, &vendor, &["report", "billing", "--format", "csv"]);
    let table = run(
        &env,
        &vendor,
        &["report", "billing", "--format", "markdown", "-o", "b.md"],
    );
    // The echoes were stored (redacted), so the scan below looked at real echoes.
    let conn = env.conn();
    let redacted: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM checks WHERE message LIKE '%<redacted>%')
                  + (SELECT count(*) FROM attempts WHERE detail LIKE '%<redacted>%')
                  + (SELECT count(*) FROM runs WHERE stop_reason LIKE '%<redacted>%')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(redacted >= 3, "{redacted}");
    drop(conn);
    assert_no_key(
        &env,
        &[&text, &json, &stopped, &license, &export, &billing, &table],
    );
}

#[test]
fn a_huge_retry_after_is_capped_and_never_panics() {
    let env = Env::plain().ids(2);
    let vendor = Hostile::start(|req| {
        if req.index == 0 {
            Reply::json(503, "busy").header("Retry-After", "1e30")
        } else if req.index == 1 {
            Reply::json(429, "slow down").header("Retry-After", "1e308")
        } else {
            Reply::json(200, r#"{"code":200,"message":"success"}"#)
        }
    });
    let fetch = run(
        &env,
        &vendor,
        &fetch_args(&["--concurrency", "1", "--max-retry-after", "1"]),
    );
    fetch.expect(0);
    assert!(!fetch.stderr.contains("panicked"), "{}", fetch.stderr);
    all_done_200(&env);
}

#[test]
fn odd_secondary_fields_are_dropped_with_a_note_and_the_answer_kept() {
    let env = Env::plain().ids(2);
    let vendor = Hostile::start(|_| {
        Reply::json(
            200,
            r#"{"code":"200","message":5,"score":true,"sequence_id":"s1"}"#,
        )
    });
    let fetch = run(&env, &vendor, &fetch_args(&[]));
    fetch.expect(0);
    fetch.stderr_has("dropped field");
    all_done_200(&env);
}

#[test]
fn control_sequences_from_the_vendor_never_reach_the_terminal() {
    let env = Env::plain();
    env.write(
        "ids.csv",
        "liveness_id,channel\nlv-1,\"web\u{1b}]0;owned\u{7}\"\nlv-2,app\n",
    );
    let vendor = Hostile::start(|req| {
        if req.index == 0 {
            Reply::json(500, "\u{1b}[2J\u{1b}]0;title\u{7}\rgone")
        } else {
            Reply::json(
                200,
                r#"{"code":777,"message":"\u001b[2J\u001b]0;title\u0007\rwiped","sequence_id":"\u001b[31mred"}"#,
            )
        }
    });
    let fetch = run(&env, &vendor, &fetch_args(&["--concurrency", "1"]));
    fetch.expect(0);
    let table = run(&env, &vendor, &["report", "billing", "--format", "table"]);
    let attacks = run(
        &env,
        &vendor,
        &[
            "report",
            "attacks",
            "--format",
            "markdown",
            "--dimension",
            "channel",
        ],
    );
    for r in [&fetch, &table, &attacks] {
        for text in [&r.stdout, &r.stderr] {
            assert!(
                !text.bytes().any(|b| b == 0x1b || b == 0x07 || b == b'\r'),
                "{text:?}"
            );
        }
    }
    table.stdout_has("\\x1b[2J");
}

#[test]
fn csv_cells_that_look_like_formulas_are_neutralised_unless_raw_is_asked() {
    let env = Env::plain().ids(1);
    let vendor = Hostile::start(|_| {
        Reply::json(
            200,
            r#"{"code":777,"message":"=HYPERLINK(\"http://x\",\"y\")"}"#,
        )
    });
    run(&env, &vendor, &fetch_args(&[])).status.unwrap();
    let safe = run(&env, &vendor, &["export"]);
    safe.stdout_has("'=HYPERLINK");
    let raw = run(&env, &vendor, &["export", "--raw-cells"]);
    raw.stdout_has(",\"=HYPERLINK");
    let billing = run(&env, &vendor, &["report", "billing", "--format", "csv"]);
    assert!(
        !billing.stdout.contains(",=HYPERLINK"),
        "{}",
        billing.stdout
    );
    assert!(
        !billing.stdout.contains(",\"=HYPERLINK"),
        "{}",
        billing.stdout
    );
}

#[test]
fn partner_key_in_the_config_file_is_refused_without_printing_it() {
    let env = Env::plain().ids(1);
    env.write(
        "liveaudit.toml",
        format!("partner_code = \"x\"\npartner_key = \"{HKEY}\"\n"),
    );
    let r = env.fetch("ids.csv").without("TD_PARTNER_KEY").run();
    assert_eq!(r.status, Some(2), "{}", r.stderr);
    r.stderr_has("use partner_key_file");
    assert!(leaks(r.stderr.as_bytes()).is_none(), "{}", r.stderr);
    // A broken file holding a key: the error gives the line, never the line's text.
    env.write(
        "liveaudit.toml",
        format!("partner_code = \"x\"\npartner_key_file = \"{HKEY}\n"),
    );
    let r = Run::from(env.cmd().args(["codes"]).output().unwrap());
    assert_eq!(r.status, Some(2), "{}", r.stderr);
    r.stderr_has("line 2");
    assert!(leaks(r.stderr.as_bytes()).is_none(), "{}", r.stderr);
}

#[test]
fn a_key_file_must_be_one_line_without_bom_and_small() {
    let env = Env::plain().ids(1);
    let by_key_file = || {
        env.fetch("ids.csv")
            .without("TD_PARTNER_KEY")
            .flag("--partner-key-file", "key.txt")
    };
    for (content, says) in [
        (b"\xEF\xBB\xBFkey\n".to_vec(), "byte-order mark"),
        (b"key\nsecond\n".to_vec(), "more than one line"),
        (vec![b'k'; 10_000], "larger than 4096"),
        (b"abc\n".to_vec(), "too short for a partner key"),
    ] {
        env.write("key.txt", &content);
        let r = by_key_file().run();
        assert_eq!(r.status, Some(2), "{says}: {}", r.stderr);
        r.stderr_has(says);
        assert_eq!(env.mock.stats().result_requests, 0);
    }
    // A trailing line end (LF or CRLF) is not part of the key.
    env.write("key.txt", format!("{}\r\n", util::KEY));
    by_key_file().unlimited().run().expect(0);
}

#[cfg(unix)]
#[test]
fn the_lock_holds_through_a_symlink_and_uris_are_refused() {
    let env = Env::plain().ids(3);
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    let link = env.path("link.db");
    std::os::unix::fs::symlink(env.db(), &link).unwrap();
    let _held = liveaudit::store::FetchLock::acquire(&link).unwrap();
    let r = env.run(&["fetch", "ids.csv"]);
    r.expect(2);
    r.stderr_has("another liveaudit fetch is running");
    let uri = format!("file:{}", env.db().display());
    let r = env.run(&["fetch", "--db", &uri, "ids.csv"]);
    r.expect(2);
    r.stderr_has("SQLite URIs");
}

#[test]
fn outputs_that_are_the_database_are_refused_and_the_database_kept() {
    let env = Env::plain().ids(3);
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    let db = env.db();
    let wal = format!("{}-wal", db.display());
    let statement = env.write("st.csv", "liveness_id\nlv-00000000\n");
    for args in [
        vec!["export", "--output", db.to_str().unwrap()],
        vec!["export", "--output", &wal],
        vec!["report", "billing", "-o", db.to_str().unwrap()],
        vec![
            "reconcile",
            "--statement",
            statement.to_str().unwrap(),
            "--details",
            db.to_str().unwrap(),
        ],
    ] {
        let r = env.run(&args);
        r.expect(2);
        assert!(
            r.stderr.contains("is the database"),
            "{args:?}: {}",
            r.stderr
        );
    }
    env.assert_all_match_mock();
    // --output is replaced whole: the old file stays until the new one is complete.
    env.write("out.csv", "old");
    env.run(&["export", "--output", "out.csv"]).expect(0);
    let out = std::fs::read_to_string(env.path("out.csv")).unwrap();
    assert_eq!(out.lines().count(), 4, "{out}");
    let leftovers: Vec<_> = util::files_under(env.dir.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".liveaudit-output-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn reading_commands_leave_a_foreign_sqlite_file_untouched_and_corruption_exits_2() {
    let env = Env::plain();
    let foreign = env.path("other.sqlite");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE notes (t TEXT);").unwrap();
    }
    let before = std::fs::read(&foreign).unwrap();
    env.write("ids.csv", id_csv(50));
    for args in [
        vec!["report", "billing"],
        vec!["export"],
        vec!["fetch", "ids.csv"],
    ] {
        let mut a = vec!["--db", foreign.to_str().unwrap()];
        a.extend(args);
        let r = env.run(&a);
        r.expect(2);
        r.stderr_has("another program");
    }
    assert_eq!(std::fs::read(&foreign).unwrap(), before);
    assert!(!Path::new(&format!("{}-wal", foreign.display())).exists());
    assert_eq!(env.mock.stats().result_requests, 0);

    env.run(&["fetch", "--rate", "0", "--max-retries", "0", "ids.csv"]);
    let _ = env.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    let mut bytes = std::fs::read(env.db()).unwrap();
    let len = bytes.len();
    for b in &mut bytes[4096..len] {
        *b = 0x5a;
    }
    std::fs::write(env.db(), &bytes).unwrap();
    let r = env.run(&["export"]);
    r.expect(2);
    assert!(
        r.stderr.contains("damaged") || r.stderr.contains("not a liveaudit database"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_database_deleted_mid_run_stops_it_with_exit_1() {
    let env = Env::plain().ids(400);
    let vendor = Hostile::start(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        Reply::json(200, r#"{"code":200,"message":"success"}"#)
    });
    let child = env
        .cmd()
        .env("TD_PARTNER_KEY", HKEY)
        .env("TD_RESULT_URL", vendor.url("/r"))
        .args(["fetch", "--rate", "0", "--concurrency", "1", "ids.csv"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run is fetching (it has sent requests), then delete its database.
    while vendor.requests() < 5 {
        std::thread::yield_now();
    }
    std::fs::remove_file(env.db()).unwrap();
    let out = child.wait_with_output().unwrap();
    let r = Run::from(out);
    assert_eq!(r.status, Some(1), "{}", r.stderr);
    r.stderr_has("deleted or replaced");
    assert!(!r.stderr.contains("nothing left to fetch"), "{}", r.stderr);
    assert!(
        vendor.requests() < 400,
        "the run went on: {}",
        vendor.requests()
    );
}

#[test]
fn a_closed_stderr_and_stdout_never_panic_and_the_run_is_recorded() {
    let env = Env::plain().ids(30);
    // Both read ends closed at once: every write the program makes fails with EPIPE.
    let closed = |args: &[&str]| {
        let mut child = env
            .cmd()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        child.wait().unwrap().code()
    };
    let fetch = ["fetch", "--rate", "0", "--max-retries", "0", "ids.csv"];
    assert_eq!(closed(&fetch), Some(0));
    env.assert_all_match_mock();
    assert_eq!(env.last_outcome(), "done");
    // An error message into a closed stderr: the documented status, not a panic (101).
    assert_eq!(closed(&["fetch", "no-such-file.csv"]), Some(2));
    // A report into a closed pipe ends quietly too.
    assert_eq!(closed(&["report", "billing", "--format", "csv"]), Some(0));
}

#[test]
fn an_image_that_cannot_be_written_fails_its_id_and_comes_next_run() {
    let env = Env::plain().ids(5);
    let faces = env.path("faces");
    std::fs::create_dir(&faces).unwrap();
    // A directory where one id's image must go: writing that image fails (even as root).
    let blocked = faces.join(liveaudit::faces::file_name("lv-00000002"));
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("x"), "x").unwrap();
    let save = || {
        env.fetch("ids.csv")
            .unlimited()
            .file("--save-images", &faces)
    };
    let r = save().run();
    r.expect(4);
    r.stderr_has("could not save the face image");
    let checks = env.checks();
    let blocked_state = checks.iter().find(|c| c.0 == "lv-00000002").unwrap();
    assert_eq!(
        (blocked_state.1.as_str(), blocked_state.2),
        ("failed", None)
    );
    std::fs::remove_dir_all(&blocked).unwrap();
    save().run().expect(0);
    assert!(blocked.is_file());
    env.assert_all_match_mock();
}

#[test]
fn large_answers_pass_through_the_shared_body_budget() {
    let env = Env::plain().ids(6);
    // 600 KiB of base64 face per answer: over the 256 KiB each request may hold freely.
    let image = "QUJD".repeat(150 * 1024);
    let body = format!(r#"{{"code":200,"message":"success","image":"{image}"}}"#);
    let vendor = Hostile::start(move |_| Reply::json(200, body.clone()));
    let fetch = run(&env, &vendor, &fetch_args(&["--concurrency", "6"]));
    fetch.expect(0);
    let sizes: Vec<i64> = {
        let conn = env.conn();
        let mut stmt = conn.prepare("SELECT image_bytes FROM checks").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(sizes, vec![3 * 150 * 1024; 6]);
}

#[test]
fn an_id_waiting_out_its_back_off_gives_its_request_slot_to_another() {
    let env = Env::plain();
    env.write("ids.csv", "liveness_id\nslow-1\nfast-2\n");
    let refused = std::sync::atomic::AtomicBool::new(false);
    let vendor = Hostile::start(move |req| {
        if req.body.contains("slow-1") && !refused.swap(true, std::sync::atomic::Ordering::SeqCst) {
            Reply::json(503, "busy")
        } else {
            Reply::json(200, r#"{"code":200,"message":"success"}"#)
        }
    });
    // One request slot; slow-1 is answered 503 once and waits two seconds: fast-2 is sent in
    // that wait, not after slow-1's retry.
    let fetch = fetch_at(&env, &vendor)
        .unlimited()
        .concurrency(1)
        .flag("--max-retries", "1")
        .flag("--backoff-min-ms", "2000")
        .backoff(2000)
        .run();
    fetch.expect(0);
    let conn = env.conn();
    let ids: Vec<String> = {
        let mut stmt = conn
            .prepare("SELECT liveness_id FROM attempts ORDER BY sent_at, id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    // Whichever id went first, fast-2 never waited for slow-1's retry.
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(ids.last().map(String::as_str), Some("slow-1"), "{ids:?}");
}

/// A count flag of 0 (`--burst`, `--breaker`, `--top`, `--spike-min`, `--baseline`) is a usage
/// error naming the flag, never silently raised to 1; nothing is sent.
#[test]
fn a_zero_count_flag_is_a_usage_error_naming_it() {
    let env = Env::plain();
    env.write("ids.csv", "liveness_id\nlv-1\n");
    for (args, flag) in [
        (vec!["fetch", "--burst", "0", "ids.csv"], "--burst"),
        (vec!["fetch", "--breaker", "0", "ids.csv"], "--breaker"),
    ] {
        let r = env.run(&args);
        assert_eq!(r.status, Some(2), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(flag), "{args:?}: {}", r.stderr);
    }
    assert_eq!(env.mock.stats().result_requests, 0, "nothing is sent");
    assert_eq!(env.run(&["fetch", "ids.csv"]).status, Some(0));
    for flag in ["--top", "--spike-min", "--baseline"] {
        let r = env.run(&["report", "attacks", flag, "0"]);
        assert_eq!(r.status, Some(2), "{flag}: {}", r.stderr);
        r.stderr_has(&format!("{flag} must be at least 1"));
    }
}

/// The spellings a server echoed back in the field, for a key with non-ASCII letters and markup
/// characters: upper case, JSON `\uXXXX` with `\/`, HTML entities, percent-encoded twice.
#[test]
fn a_vendor_that_echoes_the_key_upper_cased_json_html_or_twice_encoded_never_leaks_it() {
    const KEY: &str = "Sk+y/=&%éÄ<x>\"q";
    let upper = KEY.to_uppercase();
    let json_u: String = KEY
        .chars()
        .map(|c| match c {
            '/' => "\\/".to_string(),
            '"' => "\\\"".to_string(),
            c if c.is_ascii() => c.to_string(),
            c => format!("\\u{:04x}", c as u32),
        })
        .collect();
    let html = KEY
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('é', "&#xe9;");
    let once =
        percent_encoding::utf8_percent_encode(KEY, percent_encoding::NON_ALPHANUMERIC).to_string();
    let twice = percent_encoding::utf8_percent_encode(&once, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let spellings = [upper, json_u, html, twice];
    let env = Env::plain().ids(4);
    let echoed = spellings.clone();
    let vendor = Hostile::start(move |req| {
        let s = &echoed[req.index % 4];
        Reply::json(
            200,
            format!(
                r#"{{"code":777,"message":{},"sequence_id":{}}}"#,
                json_string(&format!("echo {s} end")),
                json_string(s)
            ),
        )
    });
    let out = env
        .cmd()
        .env("TD_PARTNER_KEY", KEY)
        .env("TD_RESULT_URL", vendor.url("/liveness/result/v1"))
        .env("TD_LICENSE_URL", vendor.url("/liveness/license/v1"))
        .args(fetch_args(&["--concurrency", "1"]))
        .output()
        .unwrap();
    let run = Run::from(out);
    assert!(matches!(run.status, Some(0 | 4)), "{}", run.stderr);
    let conn = env.conn();
    let stored: Vec<String> = conn
        .prepare("SELECT coalesce(message, '') || ' ' || coalesce(sequence_id, '') FROM checks")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 4);
    for text in stored.iter().chain([&run.stdout, &run.stderr]) {
        for s in &spellings {
            assert!(!text.contains(s.as_str()), "{s} leaked: {text}");
        }
    }
    assert!(
        stored.iter().all(|t| t.contains("echo <redacted> end")),
        "{stored:?}"
    );
}

#[test]
fn a_refused_connection_is_named_in_the_log_without_the_key() {
    let env = Env::plain().ids(3);
    // A port that was just free: nothing listens there, so every connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let fetch = Run::from(
        env.cmd()
            .env("TD_PARTNER_KEY", HKEY)
            .env("TD_RESULT_URL", url("/liveness/result/v1"))
            .env("TD_LICENSE_URL", url("/liveness/license/v1"))
            .args(fetch_args(&[]))
            .output()
            .unwrap(),
    );
    assert_ne!(fetch.status, Some(0), "{}", fetch.stderr);
    let warnings: Vec<&str> = fetch
        .stderr
        .lines()
        .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && l.contains("could not connect"))
        .collect();
    assert!(!warnings.is_empty(), "no line says why:\n{}", fetch.stderr);
    assert!(
        warnings.len() <= 2,
        "explained once, not per id:\n{}",
        fetch.stderr
    );
    assert_no_key(&env, &[&fetch]);
}

#[test]
fn an_11350_received_before_a_cut_off_is_stored_not_left_pending() {
    let env = Env::plain().ids(3);
    // Every answer is 11350; the back-off outlasts the budget, so the cut-off finds each id
    // waiting to ask again with an answer already in hand.
    let vendor =
        Hostile::start(|_| Reply::json(200, r#"{"code":11350,"message":"internal error"}"#));
    let fetch = fetch_at(&env, &vendor)
        .unlimited()
        .flag("--max-retries", "5")
        .flag("--backoff-min-ms", "600000")
        .backoff(600000)
        .flag("--max-duration", "1s")
        .run();
    fetch.expect(4);
    assert_eq!(vendor.requests(), 3, "{}", fetch.stderr);
    let states = statuses(&env);
    assert_eq!(states.len(), 3);
    for (status, code) in &states {
        assert_eq!(code, &Some(11350), "{states:?}");
        assert_ne!(status, "pending", "{states:?}");
    }
}

/// A vendor answering every request 429 with `retry_after`: the run ends on its own (the
/// breaker), no id is failed for 429s, and nothing is stored as a result.
fn only_429s(retry_after: &'static str) {
    let env = Env::plain().ids(4);
    let vendor =
        Hostile::start(move |_| Reply::json(429, "slow down").header("Retry-After", retry_after));
    let fetch = run(
        &env,
        &vendor,
        &["fetch", "--rate", "50", "--breaker", "2", "ids.csv"],
    );
    assert_ne!(fetch.status, Some(0), "{retry_after}: {}", fetch.stderr);
    assert!(
        fetch.stderr.contains("HTTP 429"),
        "{retry_after}: the stop names the 429s: {}",
        fetch.stderr
    );
    // Each pause lets the ids in flight try once more; a loop would send without end.
    assert!(
        vendor.requests() <= 12,
        "{retry_after}: {}",
        vendor.requests()
    );
    let states = statuses(&env);
    assert!(
        states.iter().all(|(s, c)| s == "pending" && c.is_none()),
        "{retry_after}: {states:?}"
    );
}

#[test]
fn a_429_with_a_zero_or_past_retry_after_pauses_and_fails_no_id() {
    only_429s("0");
    only_429s("Wed, 21 Oct 2015 07:28:00 GMT");
}

#[test]
fn a_429_with_a_malformed_retry_after_is_a_plain_429_and_the_run_ends() {
    only_429s("-5");
    only_429s("abc");
}
