//! Accounts on the fetch side, end to end: two `[accounts.*]` in one config file against two
//! mocks with different partner codes (on two loopback hosts), one database. Each check is
//! recorded under the account that first read it, an id of another account is never sent to
//! this account's vendor, an old database's checks are adopted without asking again, and a
//! missing or unknown `--account` is refused before anything is sent.

use std::path::PathBuf;

use crate::util;

use liveaudit::mock::{MockOptions, MockServer};
use serde_json::Value;
use util::{Env, KEY, Run};

/// Account ph-app's key: as unmistakable as account id-app's (`util::KEY`).
pub(crate) const KEY_B: &str = "sk-LEAKCHECK-b41e-second-account-key";
pub(crate) const CODE_B: &str = "acme-ph";

/// The test directory with two mocks: `env.mock` is account id-app (partner code
/// `util::CODE`, on 127.0.0.1), `ph` is account ph-app (`CODE_B`, on 127.0.0.2).
pub(crate) struct Two {
    pub(crate) env: Env,
    pub(crate) ph: MockServer,
    pub(crate) config: PathBuf,
}

impl Two {
    pub(crate) fn new() -> Two {
        let env = Env::plain();
        let ph = env
            .rt
            .block_on(MockServer::start(
                MockOptions {
                    partner_code: CODE_B.into(),
                    partner_key: KEY_B.into(),
                    image_bytes: 2048,
                    ..MockOptions::default()
                },
                "127.0.0.2:0".parse().unwrap(),
            ))
            .unwrap();
        let key_a = key_file(&env, "id.key", KEY);
        let key_b = key_file(&env, "ph.key", KEY_B);
        let config = env.write(
            "liveaudit.toml",
            format!(
                "[accounts.id-app]\npartner_code = \"{}\"\npartner_key_file = {key_a:?}\n\
                 result_url = \"{}\"\nlicense_url = \"{}\"\n\n\
                 [accounts.ph-app]\npartner_code = \"{CODE_B}\"\npartner_key_file = {key_b:?}\n\
                 result_url = \"{}\"\nlicense_url = \"{}\"\n",
                util::CODE,
                env.mock.result_url(),
                env.mock.license_url(),
                ph.result_url(),
                ph.license_url(),
            ),
        );
        Two { env, ph, config }
    }

    /// The binary with the config file and database, and no account in the environment.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let out = self
            .env
            .cmd()
            .env_remove("TD_PARTNER_CODE")
            .env_remove("TD_PARTNER_KEY")
            .env_remove("TD_RESULT_URL")
            .env_remove("TD_LICENSE_URL")
            .env("LIVEAUDIT_CONFIG", &self.config)
            .args(args)
            .output()
            .unwrap();
        let run = Run::from(out);
        assert!(
            !run.stdout.contains(KEY_B) && !run.stderr.contains(KEY_B),
            "key leaked:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run
    }

    /// A fetch of `input` as `account` writing the summary file `runs.jsonl`; its path.
    fn fetch_with_summary(&self, account: &str, input: &str) -> (Run, std::path::PathBuf) {
        let summary = self.env.path("runs.jsonl");
        let path = summary.to_string_lossy();
        (
            self.fetch(account, input, &["--summary-file", &path]),
            summary,
        )
    }

    pub(crate) fn fetch(&self, account: &str, input: &str, more: &[&str]) -> Run {
        let mut args = vec!["fetch", "--account", account, "--rate", "0"];
        args.extend(more);
        args.push(input);
        self.run(&args)
    }

    /// Export rows as (liveness_id, partner_code, endpoint_host), in id order.
    fn export(&self, more: &[&str]) -> Vec<(String, String, String)> {
        let mut args = vec!["export"];
        args.extend(more);
        let run = self.run(&args);
        run.expect(0);
        let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(
            headers.iter().rev().take(2).collect::<Vec<_>>(),
            ["endpoint_host", "partner_code"]
        );
        reader
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].to_string(), r[18].to_string(), r[19].to_string())
            })
            .collect()
    }

    /// Asserts neither key is anywhere in the database's files or in `files`.
    fn assert_no_key_in(&self, files: &[PathBuf]) {
        let db = self.env.db().display().to_string();
        let mut all: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"]
            .iter()
            .map(|s| PathBuf::from(format!("{db}{s}")))
            .collect();
        all.extend_from_slice(files);
        for path in all.iter().filter(|p| p.exists()) {
            let bytes = std::fs::read(path).unwrap();
            for key in [KEY, KEY_B] {
                assert!(
                    !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                    "the key is in {}",
                    path.display()
                );
            }
        }
    }
}

/// A database as liveaudit wrote it before accounts were recorded (schema version 8): one run,
/// a done check `old-done` and a pending one `old-pending`.
fn version_8_database(env: &Env) {
    let conn = env.conn();
    for sql in [
        include_str!("../migrations/0001_init.sql"),
        include_str!("../migrations/0002_report_index_and_purge.sql"),
        include_str!("../migrations/0003_run_index_by_rowid.sql"),
        include_str!("../migrations/0004_repeated_faces.sql"),
        include_str!("../migrations/0005_face_index_in_time_order.sql"),
        include_str!("../migrations/0006_change_counter.sql"),
        include_str!("../migrations/0007_run_rate.sql"),
        include_str!("../migrations/0008_times_dated_by_fetch.sql"),
    ] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 8).unwrap();
    conn.execute_batch(
        "INSERT INTO runs (id, started_at, files) VALUES (1, 0, '[]');
         INSERT INTO checks (liveness_id, status, code, message, fetched_at, first_run, last_run)
             VALUES ('old-done', 'done', 200, 'success', 1790000000000, 1, 1),
                    ('old-pending', 'pending', NULL, NULL, NULL, 1, 1);",
    )
    .unwrap();
}

fn key_file(env: &Env, name: &str, key: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = env.write(name, format!("{key}\n"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn owners(rows: &[(String, String, String)]) -> Vec<(&str, &str, &str)> {
    rows.iter()
        .map(|(id, code, host)| (id.as_str(), code.as_str(), host.as_str()))
        .collect()
}

#[test]
fn two_accounts_share_one_database_and_an_id_is_only_asked_by_its_own() {
    let two = Two::new();
    two.env
        .write("a.csv", "liveness_id\na-1\na-2\na-3\na-4\na-5\n");
    // ph-app's list names two of id-app's ids (lines 3 and 6), one of them twice.
    two.env
        .write("b.csv", "liveness_id\nb-1\na-2\nb-2\nb-3\na-5\na-2\n");
    two.fetch("id-app", "a.csv", &[]).expect(0);
    let (run, summary) = two.fetch_with_summary("ph-app", "b.csv");
    run.expect(0);
    run.stderr_has("run 2: 3 ids (0 duplicates, 0 blank skipped, 3 of another account skipped)");
    run.stderr_has("account ph-app (partner code acme-ph), endpoint 127.0.0.2");
    run.stderr_has("b.csv:3: \"a-2\" belongs to partner code test-partner");
    // id-app's ids never reached ph-app's vendor, nor ph-app's id-app's.
    assert_eq!(two.ph.stats().result_requests, 3);
    for id in ["a-2", "a-5"] {
        assert_eq!(two.ph.requests_for(id), 0, "{id}");
        assert_eq!(two.env.mock.requests_for(id), 1, "{id}");
    }
    assert_eq!(two.env.mock.stats().result_requests, 5);

    // Each check is recorded under its account, with the host it was asked at.
    let rows = two.export(&[]);
    let mut expected: Vec<(&str, &str, &str)> = (1..=5)
        .map(|i| {
            (
                ["a-1", "a-2", "a-3", "a-4", "a-5"][i - 1],
                util::CODE,
                "127.0.0.1",
            )
        })
        .collect();
    expected.extend(["b-1", "b-2", "b-3"].map(|id| (id, CODE_B, "127.0.0.2")));
    assert_eq!(owners(&rows), expected);
    // `--account` filters by config name or by partner code.
    let ph = two.export(&["--account", "ph-app"]);
    assert_eq!(owners(&ph), expected[5..]);
    let id = two.export(&["--account", util::CODE, "--format", "csv"]);
    assert_eq!(owners(&id), expected[..5]);
    // A name that is neither an account nor a partner code of any check is a typo: refused.
    let run = two.run(&["export", "--account", "ph-ap", "-o", "ph.csv"]);
    run.expect(2);
    assert!(
        run.stderr
            .contains("--account ph-ap: no account of that name in the config file")
            && run
                .stderr
                .contains("known: id-app, ph-app, acme-ph, test-partner"),
        "{}",
        run.stderr
    );
    assert!(!two.env.path("ph.csv").exists(), "nothing written");

    // The runs table and the summary file name the account and the count, never the key.
    let conn = two.env.conn();
    let runs: Vec<(Option<String>, String, String, i64)> = conn
        .prepare("SELECT account, partner_code, endpoint_host, other_account FROM runs ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        runs,
        [
            (
                Some("id-app".into()),
                util::CODE.into(),
                "127.0.0.1".into(),
                0
            ),
            (Some("ph-app".into()), CODE_B.into(), "127.0.0.2".into(), 3),
        ]
    );
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&summary).unwrap().trim()).unwrap();
    assert_eq!(line["account"]["name"], "ph-app");
    assert_eq!(line["account"]["partner_code"], CODE_B);
    assert_eq!(line["account"]["endpoint_host"], "127.0.0.2");
    assert_eq!(line["this_run"]["other_account"], 3);
    assert_eq!(line["input_after"]["ids_left"], 0);

    // The JSON log of a rerun says the same (nothing left to ask).
    let log = two.fetch("ph-app", "b.csv", &["--log-format", "json"]);
    log.expect(0);
    let finished: Value = log
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "run finished")
        .unwrap_or_else(|| panic!("{}", log.stderr));
    let fields = &finished;
    assert_eq!(fields["partner_code"], CODE_B, "{fields}");
    assert_eq!(fields["account"], "ph-app", "{fields}");
    assert_eq!(fields["endpoint_host"], "127.0.0.2", "{fields}");
    assert_eq!(fields["run_other_account"], 3, "{fields}");
    assert_eq!(two.ph.stats().result_requests, 3);
    two.assert_no_key_in(&[summary]);
}

#[test]
fn a_version_8_database_is_adopted_by_a_named_account_without_asking_again() {
    let two = Two::new();
    version_8_database(&two.env);
    let old = two.export(&["--account", "unknown"]);
    assert_eq!(
        owners(&old),
        [("old-done", "unknown", ""), ("old-pending", "unknown", "")]
    );
    // A cursor following id-app's checks starts empty...
    let cursor = two.env.path("id.cursor");
    let cursor_flag = ["--account", "id-app", "--cursor", cursor.to_str().unwrap()];
    assert!(two.export(&cursor_flag).is_empty());

    two.env
        .write("ids.csv", "liveness_id\nold-done\nold-pending\nnew-1\n");
    let run = two.fetch("id-app", "ids.csv", &[]);
    run.expect(0);
    run.stderr_has("2 needed the vendor");
    run.stderr_has("; adopted 2 checks of account unknown (read before accounts were recorded)");
    assert_eq!(two.env.mock.requests_for("old-done"), 0);
    assert_eq!(two.env.mock.requests_for("old-pending"), 1);
    assert_eq!(two.env.mock.requests_for("new-1"), 1);
    // The done check's host stays unknown: where it was answered was never recorded.
    let expected = [
        ("old-done", util::CODE, ""),
        ("old-pending", util::CODE, "127.0.0.1"),
        ("new-1", util::CODE, "127.0.0.1"),
    ];
    assert_eq!(owners(&two.export(&[])), expected);
    assert!(two.export(&["--account", "unknown"]).is_empty());
    // ...and sees every adopted or new check once, then nothing more.
    assert_eq!(owners(&two.export(&cursor_flag)), expected);
    assert!(two.export(&cursor_flag).is_empty());
    // Adopted by id-app, the ids are ph-app's no more to ask.
    let run = two.fetch("ph-app", "ids.csv", &[]);
    run.expect(0);
    run.stderr_has("3 of another account skipped");
    assert_eq!(two.ph.stats().result_requests, 0);
    two.assert_no_key_in(&[]);
}

#[test]
fn several_accounts_without_account_or_an_unknown_one_are_refused_before_anything_is_sent() {
    let two = Two::new();
    two.env.write("ids.csv", "liveness_id\nx-1\n");
    for args in [vec!["fetch", "--rate", "0", "ids.csv"], vec!["license"]] {
        let run = two.run(&args);
        run.expect(2);
        assert!(
            run.stderr.contains("names 2 accounts (id-app, ph-app)")
                && run.stderr.contains("--account NAME"),
            "{}",
            run.stderr
        );
    }
    for args in [
        vec!["fetch", "--account", "jp-app", "ids.csv"],
        vec!["license", "--account", "jp-app"],
    ] {
        let run = two.run(&args);
        run.expect(2);
        assert!(
            run.stderr.contains("--account jp-app: no such account")
                && run.stderr.contains("id-app, ph-app"),
            "{}",
            run.stderr
        );
    }
    for mock in [&two.env.mock, &two.ph] {
        let stats = mock.stats();
        assert_eq!((stats.result_requests, stats.license_requests), (0, 0));
    }
    let runs: i64 = two
        .env
        .one("SELECT count(*) FROM sqlite_master WHERE name = 'runs'");
    assert_eq!(runs, 0, "nothing was written");
}

#[test]
fn license_asks_the_chosen_accounts_endpoint_with_its_credentials() {
    let two = Two::new();
    let run = two.run(&["license", "--account", "ph-app"]);
    run.expect(0);
    run.stdout_has("account:     ph-app (partner code acme-ph), endpoint 127.0.0.2");
    assert_eq!(two.ph.stats().license_requests, 1);
    assert_eq!(two.ph.stats().refused, 0);
    assert_eq!(two.env.mock.stats().license_requests, 0);
    let run = two.run(&["license", "--account", "id-app"]);
    run.expect(0);
    run.stdout_has("account:     id-app");
    assert_eq!(two.env.mock.stats().license_requests, 1);
}

#[test]
fn the_unnamed_account_records_its_partner_code_and_unknown_is_reserved() {
    let env = Env::plain();
    env.write("ids.csv", "liveness_id\nu-1\nu-2\n");
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    let conn = env.conn();
    let run: (Option<String>, String, String) = conn
        .query_row(
            "SELECT account, partner_code, endpoint_host FROM runs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(run, (None, util::CODE.into(), "127.0.0.1".into()));
    let codes: Vec<String> = conn
        .prepare("SELECT DISTINCT partner_code FROM checks")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(codes, [util::CODE]);
    // `unknown` marks checks whose account was never recorded: no account may fetch as it.
    let run = env.run(&["fetch", "--partner-code", "unknown", "ids.csv"]);
    run.expect(2);
    run.stderr_has("\"unknown\" is reserved");
    assert_eq!(env.mock.stats().result_requests, 2);
}

#[test]
fn ids_left_pending_by_one_account_are_resumed_by_it_and_never_by_another() {
    let two = Two::new();
    two.env.write("a.csv", "liveness_id\np-1\np-2\np-3\n");
    // id-app's vendor is down: its ids stay pending (or failed) for its next run.
    two.env.mock.set_down(true);
    two.fetch(
        "id-app",
        "a.csv",
        &["--max-retries", "0", "--breaker", "1", "--concurrency", "1"],
    )
    .expect(4);
    two.env.mock.set_down(false);
    let asked_a = two.env.mock.stats().result_requests;
    // ph-app reading the same list asks its vendor for none of them, and does not call the
    // input done: its ids still wait for id-app (exit 4, a nightly job keeps the file).
    let run = two.fetch("ph-app", "a.csv", &[]);
    run.expect(4);
    assert!(
        run.stderr.contains("3 of another account skipped") && run.stderr.contains("0 needed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "3 ids of this input belong to another account and still need the vendor there"
        ) && run
            .stderr
            .contains("wait for a fetch with its own --account"),
        "{}",
        run.stderr
    );
    assert_eq!(two.ph.stats().result_requests, 0);
    assert_eq!(two.env.mock.stats().result_requests, asked_a);
    // Once id-app has them, the same list is finished for ph-app too.
    two.fetch("id-app", "a.csv", &[]).expect(0);
    two.fetch("ph-app", "a.csv", &[]).expect(0);
    // id-app's run resumed them at its own vendor.
    for id in ["p-1", "p-2", "p-3"] {
        assert!(two.env.mock.requests_for(id) >= 1, "{id}");
        assert_eq!(two.ph.requests_for(id), 0, "{id}");
    }
    assert!(two.export(&["--account", "ph-app"]).is_empty());
}

#[test]
fn a_run_refused_for_its_input_still_names_its_account_in_the_summary_file() {
    let two = Two::new();
    two.env
        .write("bad.csv", "liveness_id,created_at\nx-1,not a time\n");
    let (run, summary) = two.fetch_with_summary("ph-app", "bad.csv");
    run.expect(2);
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&summary).unwrap().trim()).unwrap();
    assert_eq!(line["exit_status"], 2);
    assert_eq!(line["account"]["name"], "ph-app");
    assert_eq!(line["account"]["partner_code"], CODE_B);
    assert_eq!(two.ph.stats().result_requests, 0);
    two.assert_no_key_in(&[summary]);
}

#[test]
fn nightly_runs_each_listed_account_with_its_own_inbox_reports_exports_and_credential() {
    let two = Two::new();
    let state = two.env.path("state");
    for (account, ids) in [
        ("id-app", ["a-1", "a-2", "a-3"].as_slice()),
        ("ph-app", &["b-1", "b-2"]),
    ] {
        std::fs::create_dir_all(state.join("inbox").join(account)).unwrap();
        let rows: String = ids
            .iter()
            .map(|id| format!("{id},2026-11-20T10:00:00Z\n"))
            .collect();
        std::fs::write(
            state.join("inbox").join(account).join("ids.csv"),
            format!("liveness_id,created_at\n{rows}"),
        )
        .unwrap();
    }
    // ph-app's key comes as the systemd credential partner-key-ph-app: the key file its
    // section names is stale.
    let creds = two.env.path("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::write(creds.join("partner-key-ph-app"), format!("{KEY_B}\n")).unwrap();
    std::fs::write(two.env.path("ph.key"), "sk-stale-key\n").unwrap();
    let out = two
        .env
        .cmd()
        .env_remove("TD_PARTNER_CODE")
        .env_remove("TD_PARTNER_KEY")
        .env_remove("TD_RESULT_URL")
        .env_remove("TD_LICENSE_URL")
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("LIVEAUDIT_CONFIG", &two.config)
        .args(["--log-format", "json", "nightly", "--state"])
        .arg(&state)
        .args([
            "--accounts",
            "id-app,ph-app",
            "--settle-secs",
            "0",
            "--rate",
            "0",
        ])
        .output()
        .unwrap();
    let run = Run::from(out);
    run.expect(0);
    // Each account's ids went to its own vendor only, once.
    assert_eq!(two.env.mock.stats().result_requests, 3);
    assert_eq!(two.ph.stats().result_requests, 2);
    assert_eq!(
        (
            two.env.mock.stats().license_requests,
            two.ph.stats().license_requests
        ),
        (1, 1)
    );
    for (account, code, n) in [("id-app", util::CODE, 3), ("ph-app", CODE_B, 2)] {
        assert!(
            state
                .join(format!("inbox/{account}/done/ids.csv"))
                .is_file()
        );
        let out = state.join("out").join(account);
        let names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        for prefix in ["billing-", "attacks-", "changed-"] {
            assert!(names.iter().any(|f| f.starts_with(prefix)), "{names:?}");
        }
        // The export holds this account's checks and no other's.
        let changed = names.iter().find(|f| f.starts_with("changed-")).unwrap();
        let text = std::fs::read_to_string(out.join(changed)).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let column = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "partner_code")
            .unwrap();
        let codes: Vec<String> = reader
            .records()
            .map(|r| r.unwrap()[column].to_string())
            .collect();
        assert_eq!(codes, vec![code.to_string(); n], "{account}");
        let prom =
            std::fs::read_to_string(state.join(format!("liveaudit-{account}.prom"))).unwrap();
        let labels = format!("account=\"{account}\",partner_code=\"{code}\"");
        for series in prom.lines().filter(|l| !l.starts_with('#')) {
            assert!(series.contains(&labels), "{series}");
        }
        let charged = format!("liveaudit_checks{{{labels},class=\"charged\"}}");
        let total: u64 = prom
            .lines()
            .filter(|l| l.starts_with(&format!("liveaudit_checks{{{labels}")))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, n as u64, "the account's checks only: {prom}");
        assert!(prom.contains(&charged), "{prom}");
    }
    let summaries: Vec<Value> = std::fs::read_to_string(state.join("runs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let named: Vec<(&str, &str)> = summaries
        .iter()
        .map(|s| {
            let name = s["account"]["name"].as_str().unwrap_or_default();
            (s["command"].as_str().unwrap_or_default(), name)
        })
        .collect();
    assert_eq!(
        named,
        [
            ("fetch", "id-app"),
            ("nightly", "id-app"),
            ("fetch", "ph-app"),
            ("nightly", "ph-app")
        ]
    );
    two.assert_no_key_in(&[state.join("runs.jsonl")]);
}

#[test]
fn adopt_gives_the_old_checks_to_a_named_account_only_when_told() {
    let two = Two::new();
    version_8_database(&two.env);
    // A typo is refused, never recorded as a new partner code; `unknown` is no account.
    let run = two.run(&["adopt", "--account", "id-ap"]);
    run.expect(2);
    run.stderr_has("it names id-app, ph-app");
    two.run(&["adopt", "--partner-code", "unknown"]).expect(2);
    two.run(&["adopt"]).expect(2);
    let run = two.run(&["adopt", "--account", "id-app", "--dry-run"]);
    run.expect(0);
    run.stdout_has("would give 2 checks");
    assert_eq!(
        two.export(&["--account", "unknown"]).len(),
        2,
        "a dry run changes nothing"
    );
    let cursor = two.env.path("id.cursor");
    let cursor_flag = ["--account", "id-app", "--cursor", cursor.to_str().unwrap()];
    assert!(two.export(&cursor_flag).is_empty());
    let run = two.run(&["adopt", "--account", "id-app"]);
    run.expect(0);
    run.stdout_has("gave 2 checks recorded before accounts were (partner code unknown) to id-app");
    assert_eq!(
        owners(&two.export(&[])),
        [
            ("old-done", util::CODE, ""),
            ("old-pending", util::CODE, "")
        ]
    );
    // The cursor sees the change; billing counts them under the account; nothing was asked.
    assert_eq!(two.export(&cursor_flag).len(), 2);
    // It follows id-app: without --account it would skip ph-app's rows, so it is refused.
    let run = two.run(&["export", "--cursor", cursor.to_str().unwrap()]);
    run.expect(2);
    run.stderr_has("partner code test-partner");
    let billing = two
        .run(&[
            "report",
            "billing",
            "--account",
            "id-app",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(billing["totals"]["checks"], 2);
    assert_eq!(two.env.mock.stats().result_requests, 0);
    let run = two.run(&["adopt", "--account", "ph-app"]);
    run.expect(0);
    run.stdout_has("gave 0 checks");
}
