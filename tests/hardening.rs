//! Failures around the program: storage, hostile ids, purging, concurrent runs.

use crate::util;

use liveaudit::mock::{MockOptions, expected_code};
use util::{Env, id_csv};

#[test]
fn a_database_from_an_older_schema_is_migrated_keeping_every_row() {
    let env = Env::plain();
    {
        let conn = env.conn();
        conn.execute_batch(include_str!("../migrations/0001_init.sql"))
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO runs (id, started_at, files) VALUES (1, 0, '[]');
             INSERT INTO checks (liveness_id, status, code, message, event_time, fetched_at, first_run, last_run)
                 VALUES ('old-1', 'done', 200, 'success', 1790000000000, 1790000000000, 1, 1),
                        ('old-2', 'done', 12207, 'paper', 1790000000000, 1790000000000, 1, 1),
                        ('old-3', 'pending', NULL, NULL, NULL, NULL, 1, 1);",
        )
        .unwrap();
    }
    let run = env.run(&["export"]);
    run.expect(0);
    assert_eq!(run.stdout.lines().count(), 4, "{}", run.stdout);
    run.stdout_has("old-2,done,12207,paper,attack,true");
    let version: i64 = env.one("PRAGMA user_version");
    assert_eq!(version, liveaudit::store::SCHEMA_VERSION);
    // The old pending id is fetched by the next run like any other.
    env.write("ids.csv", "liveness_id\nold-1\nold-3\n");
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    assert_eq!(env.mock.requests_for("old-1"), 0);
    assert_eq!(env.mock.requests_for("old-3"), 1);
}

#[test]
fn a_database_from_a_newer_liveaudit_is_refused_and_left_alone() {
    let env = Env::plain().ids(3);
    env.run(&["fetch", "--rate", "0", "ids.csv"]).expect(0);
    env.conn().pragma_update(None, "user_version", 99).unwrap();
    for args in [
        vec!["fetch", "ids.csv"],
        vec!["export"],
        vec!["report", "billing"],
    ] {
        let run = env.run(&args);
        run.expect(2);
        assert!(
            run.stderr.contains("newer liveaudit (schema 99"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(env.mock.stats().result_requests, 3, "nothing more was sent");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_before_sending() {
    let env = Env::plain().ids(3);
    env.write("audit.db", "liveness_id\n".repeat(500));
    let run = env.run(&["fetch", "ids.csv"]);
    run.expect(2);
    run.stderr_has("not a liveaudit database");
    assert_eq!(env.mock.stats().result_requests, 0);
    assert_eq!(
        std::fs::read(env.path("audit.db")).unwrap(),
        "liveness_id\n".repeat(500).as_bytes()
    );
}

#[test]
fn two_runs_started_at_once_on_one_database_one_refuses() {
    let env = Env::new(MockOptions {
        latency: std::time::Duration::from_millis(5),
        ..MockOptions::default()
    });
    env.write("ids.csv", id_csv(200));
    let args = ["fetch", "--rate", "0", "--backoff-max-ms", "50", "ids.csv"];
    let (a, b) = (env.spawn(&args), env.spawn(&args));
    let mut runs = [a, b].map(|c| util::Run::from(c.wait_with_output().unwrap()));
    runs.sort_by_key(|r| r.status);
    runs[0].expect(0);
    runs[1].expect(2);
    assert!(
        runs[1]
            .stderr
            .contains("another liveaudit fetch is running"),
        "{}",
        runs[1].stderr
    );
    env.assert_all_match_mock();
}

#[test]
fn hostile_ids_go_through_json_sql_and_file_names_intact() {
    let env = Env::plain();
    let long = "x".repeat(liveaudit::input::MAX_ID_BYTES);
    let ids = [
        "../../etc/passwd",
        "/abs/path",
        "a\"quoted\"id",
        "o'brien'--DROP_TABLE_checks",
        "ünïcødé-身份",
        long.as_str(),
    ];
    // Ids no vendor issues (a delimiter, whitespace or a control byte inside) never reach it.
    for refused in [
        "semi;colon'; DROP TABLE checks; --",
        "tab\tinside",
        "nul\u{0}byte",
    ] {
        env.write("refused.csv", format!("liveness_id\n\"{refused}\"\n"));
        env.run(&["fetch", "--rate", "0", "refused.csv"]).expect(2);
        assert_eq!(env.mock.requests_for(refused), 0, "{refused:?}");
    }
    let mut csv = String::from("liveness_id\n");
    for id in ids {
        csv.push('"');
        csv.push_str(&id.replace('"', "\"\""));
        csv.push_str("\"\n");
    }
    env.write("ids.csv", csv);
    env.run(&["fetch", "--rate", "0", "--save-images", "faces", "ids.csv"])
        .expect(0);
    let stored: Vec<String> = env.checks().into_iter().map(|c| c.0).collect();
    let mut want: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(stored, want);
    for id in ids {
        assert_eq!(
            env.mock.requests_for(id),
            1,
            "{id:?} reached the vendor verbatim"
        );
    }
    env.assert_all_match_mock();
    for f in util::files_under(env.dir.path()) {
        assert!(f.starts_with(env.dir.path()));
    }
    assert!(!env.path("../../etc/passwd").exists() || std::path::Path::new("/etc/passwd").exists());
    let run = env.run(&["export", "--format", "jsonl"]);
    run.expect(0);
    let exported: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["liveness_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut exported_sorted = exported.clone();
    exported_sorted.sort();
    assert_eq!(exported_sorted, want);
}

/// Guards the two ways a purge could leave face images behind while saying it did not: a
/// mistyped `--images` folder is refused before anything changes (exit 2), and an image file
/// that cannot be deleted is named on stderr with exit 4; the same purge run again, once the
/// cause is gone, deletes it.
#[test]
fn purge_refuses_a_missing_images_folder_and_names_images_it_cannot_delete() {
    let env = Env::plain();
    env.write("ids.csv", "liveness_id,created_at\nlv-00000001,2026-09-15T10:00:00Z\nlv-00000002,2026-09-15T11:00:00Z\n");
    env.run_line("fetch --rate 0 --save-images faces ids.csv")
        .expect(0);
    let scored = |env: &Env| -> i64 { env.one("SELECT count(score) FROM checks") };
    assert_eq!(scored(&env), 2);

    let typo = env.run(&["purge", "--before", "2026-10-01", "--images", "facse"]);
    typo.expect(2);
    typo.stderr_has("--images facse: no such folder");
    assert_eq!(scored(&env), 2, "a refused purge changes nothing");

    // One saved face turned into a non-empty folder of the same name: no one, root included,
    // can delete it as a file.
    let faces = util::files_under(&env.path("faces"));
    assert_eq!(faces.len(), 2);
    let stuck = faces[0].clone();
    std::fs::remove_file(&stuck).unwrap();
    std::fs::create_dir(&stuck).unwrap();
    std::fs::write(stuck.join("keep"), "x").unwrap();
    let run = env.run(&["purge", "--before", "2026-10-01", "--images", "faces"]);
    run.expect(4);
    run.stdout_has("purged scores and face digests of 2 checks");
    run.stdout_has("1 image files deleted");
    let name = stuck.file_name().unwrap().to_string_lossy().into_owned();
    run.stderr_has(&format!("could not delete faces/{name}: "));
    run.stderr_has("run the same purge again");
    assert_eq!(scored(&env), 0, "the database part of the purge is done");

    std::fs::remove_dir_all(&stuck).unwrap();
    std::fs::write(&stuck, "face").unwrap();
    let again = env.run(&["purge", "--before", "2026-10-01", "--images", "faces"]);
    again.expect(0);
    again.stdout_has("1 image files deleted");
    assert!(util::files_under(&env.path("faces")).is_empty());
}

#[test]
fn purge_removes_biometric_data_but_keeps_billing_facts() {
    let env = Env::plain();
    let mut csv = String::from("liveness_id,created_at\n");
    for i in 0..60 {
        let day = if i < 30 { "2026-09-15" } else { "2026-10-15" };
        csv.push_str(&format!("lv-{i:08},{day}T10:00:00Z\n"));
    }
    env.write("ids.csv", csv);
    env.run_line("fetch --rate 0 --backoff-max-ms 50 --save-images faces ids.csv")
        .expect(0);
    let before = env.run(&["report", "billing", "--format", "json"]);
    before.expect(0);
    let old_hashes: Vec<String> = env
        .conn()
        .prepare("SELECT image_sha256 FROM checks WHERE event_time < 1790000000000 AND image_sha256 IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!old_hashes.is_empty());
    let faces_before = util::files_under(&env.path("faces")).len();

    let run = env.run(&["purge", "--before", "2026-10-01", "--images", "faces"]);
    run.expect(0);
    run.stdout_has("purged");
    let conn = env.conn();
    let (left, purged): (i64, i64) = conn
        .query_row(
            "SELECT count(score) + count(image_sha256), count(purged_at) FROM checks WHERE event_time < 1790000000000",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(left, 0);
    assert!(purged > 0);
    let kept: i64 = conn
        .query_row(
            "SELECT count(image_sha256) FROM checks WHERE event_time >= 1790000000000",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(kept > 0, "checks after the cut-off keep theirs");
    drop(conn);
    let after = env.run(&["report", "billing", "--format", "json"]);
    assert_eq!(before.stdout, after.stdout, "billing unchanged by a purge");
    assert!(util::files_under(&env.path("faces")).len() < faces_before);
    // The digests are gone from the database files themselves.
    for f in util::files_under(env.dir.path())
        .iter()
        .filter(|f| f.to_string_lossy().contains("audit.db"))
    {
        let bytes = std::fs::read(f).unwrap();
        for h in &old_hashes {
            assert!(
                !bytes.windows(h.len()).any(|w| w == h.as_bytes()),
                "{h} still in {}",
                f.display()
            );
        }
    }
}

/// A full disk mid-run: the run stops cleanly and what was committed stays readable. It needs
/// root to mount a tiny tmpfs: `.ci/run` runs it as root (`cargo test -- --include-ignored`).
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root"]
fn a_full_disk_stops_the_run_and_keeps_what_was_committed() {
    let env = Env::plain();
    let small = util::Tmpfs::mount(env.path("small"), "2m");
    env.write("ids.csv", id_csv(6000));
    let db = small.0.join("full.db");
    let run = util::Run::from(
        env.cmd()
            .env("LIVEAUDIT_DB", &db)
            .args(["fetch", "--rate", "0", "--backoff-max-ms", "50", "ids.csv"])
            .output()
            .unwrap(),
    );
    assert!(
        matches!(run.status, Some(1) | Some(4)),
        "{:?}\n{}",
        run.status,
        run.stderr
    );
    run.stderr_has("full");
    // What was committed is intact and readable.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let done: i64 = conn
        .query_row(
            "SELECT count(*) FROM checks WHERE status = 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let mut stmt = conn
        .prepare("SELECT liveness_id, code FROM checks WHERE status = 'done'")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap();
    for row in rows {
        let (id, code) = row.unwrap();
        assert_eq!(code, expected_code(&id));
    }
    assert!(
        done > 0 && done < 6000,
        "the disk filled mid-run: {done} committed"
    );
    eprintln!("committed before the disk filled: {done}");
}

/// A database on a read-only file system: a clear usage error, nothing sent. Needs root to
/// remount a tmpfs read-only: `.ci/run` runs it as root (`cargo test -- --include-ignored`).
#[cfg(target_os = "linux")]
#[test]
#[ignore = "needs root"]
fn a_read_only_database_is_a_clear_error_and_nothing_is_sent() {
    let env = Env::plain();
    let ro = util::Tmpfs::mount(env.path("ro"), "4m");
    env.write("ids.csv", id_csv(20));
    let db = ro.0.join("audit.db");
    env.cmd()
        .env("LIVEAUDIT_DB", &db)
        .args(["fetch", "--rate", "0", "--backoff-max-ms", "50", "ids.csv"])
        .output()
        .unwrap();
    let sent = env.mock.stats().result_requests;
    ro.mount_with(&["-o", "remount,ro"]);
    env.write("more.csv", "liveness_id\nnew-1\nnew-2\n");
    let run = util::Run::from(
        env.cmd()
            .env("LIVEAUDIT_DB", &db)
            .args(["fetch", "--rate", "0", "more.csv"])
            .output()
            .unwrap(),
    );
    run.expect(2);
    run.stderr_has("cannot be written");
    assert_eq!(env.mock.stats().result_requests, sent, "nothing was sent");
}

/// Guards the key against a proxy variable: the mock is a plain-http loopback endpoint, so a
/// proxy from `http_proxy`/`ALL_PROXY` would be sent the whole URL, key included; the run must
/// reach the mock directly and the "proxy" must never see a connection.
#[test]
fn a_plain_http_endpoint_never_goes_through_a_proxy_from_the_environment() {
    let env = Env::plain();
    env.write("ids.csv", util::id_csv(5));
    let proxy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let address = format!("http://{}", proxy.local_addr().unwrap());
    for command in [&["fetch", "--rate", "0", "ids.csv"][..], &["license"][..]] {
        let out = env
            .cmd()
            .args(command)
            .env("http_proxy", &address)
            .env("HTTP_PROXY", &address)
            .env("ALL_PROXY", &address)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
            .unwrap();
        util::Run::from(out).expect(0);
    }
    env.assert_all_match_mock();
    // A connection the proxy was sent would wait in its backlog.
    match proxy.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the proxy was connected to: {other:?}"),
    }
}

/// Guards the usage error for a `--db` that cannot hold a database: a folder, a device, a file
/// in a folder that does not exist. Each is exit 2 naming the path and what to do (it was exit
/// 1, "internal", or SQLite's "disk I/O error" of `/dev/null/0001_init`), for a fetch and for a
/// report alike, and nothing is created.
#[test]
fn a_db_path_that_cannot_hold_a_database_is_a_usage_error() {
    let env = Env::plain();
    env.write("ids.csv", util::id_csv(2));
    std::fs::create_dir(env.path("folder")).unwrap();
    let cases = [
        (
            "folder",
            "is a folder, not a database file; give another --db path",
        ),
        ("/dev/null", "is not a regular file"),
        ("missing/audit.db", "is in a folder that does not exist"),
    ];
    for (db, says) in cases {
        for command in [
            &["fetch", "--rate", "0", "ids.csv"][..],
            &["report", "billing"][..],
        ] {
            let out = env
                .cmd()
                .args(command)
                .env("LIVEAUDIT_DB", db)
                .output()
                .unwrap();
            let run = util::Run::from(out);
            if db.starts_with("missing") && command[0] == "report" {
                run.expect(2)
                    .stderr_has("does not exist; run `liveaudit fetch` first");
            } else {
                run.expect(2).stderr_has(says);
            }
        }
    }
    assert!(!env.path("missing").exists());
}

/// Guards the usage error for a run file in a folder that does not exist: `--summary-file`
/// and `--metrics-file` are checked before anything is sent (exit 2, naming the folder), and
/// the error is said once, not followed by a failed attempt to write the same file.
#[test]
fn a_run_file_in_a_missing_folder_is_one_usage_error_before_anything_is_sent() {
    let env = Env::plain();
    env.write("ids.csv", id_csv(3));
    for flag in ["--summary-file", "--metrics-file"] {
        let run = env.run(&["fetch", "--rate", "0", flag, "missing/run.out", "ids.csv"]);
        run.expect(2)
            .stderr_has("the directory missing does not exist; create it or give another path");
        assert_eq!(
            run.stderr.matches("missing/run.out").count(),
            1,
            "said once: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("ERROR"), "{}", run.stderr);
    }
    assert!(env.mock.requests_by_id().is_empty(), "nothing was sent");
    assert!(!env.path("missing").exists());
}
