//! The account rules of registration: new ids are the run's account's, `unknown` ones are
//! adopted, another account's are set aside and never listed for the vendor.

use super::*;
use crate::input::InputOptions;
use crate::store::intake::tests::{acme, csv};
use crate::store::intake::{count_to_fetch, next_to_fetch, register};
use crate::store::{OpenMode, Store};

fn other() -> RunAccount {
    RunAccount {
        name: Some("ph-app".into()),
        partner_code: "acme-ph".into(),
        endpoint_host: Some("ph.example".into()),
    }
}

/// (partner_code, endpoint_host, last_run) of `id`.
fn owner(store: &Store, id: &str) -> (String, Option<String>, Option<i64>) {
    store
        .conn
        .query_row(
            "SELECT partner_code, endpoint_host, last_run FROM checks WHERE liveness_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
}

fn changes(store: &Store) -> i64 {
    store
        .conn
        .query_row("SELECT count(*) FROM check_changes", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn new_ids_and_the_run_are_recorded_under_the_runs_account() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    let a = csv(dir.path(), "a.csv", &["n-1,,".into(), "n-2,,".into()]);
    let run = store.begin_run(&[]).unwrap();
    record_run(&store.conn, run, &other()).unwrap();
    register(
        &mut store.conn,
        run,
        &other(),
        &[a],
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(
        owner(&store, "n-2"),
        ("acme-ph".into(), Some("ph.example".into()), Some(run))
    );
    let recorded: (String, String, String) = store
        .conn
        .query_row(
            "SELECT account, partner_code, endpoint_host FROM runs WHERE id = ?1",
            [run],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        recorded,
        ("ph-app".into(), "acme-ph".into(), "ph.example".into())
    );
}

#[test]
fn unknown_ids_are_adopted_and_a_done_one_is_not_asked_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    // Checks read before accounts were recorded: one done, one still pending.
    store
        .conn
        .execute_batch(
            "INSERT INTO runs (id, started_at, files) VALUES (1, 0, '[]');
             INSERT INTO checks (liveness_id, status, code, first_run, last_run)
                 VALUES ('old-done', 'done', 200, 1, 1), ('old-pending', 'pending', NULL, 1, 1);",
        )
        .unwrap();
    assert_eq!(owner(&store, "old-done").0, crate::check::UNKNOWN_ACCOUNT);
    let before = changes(&store);
    let a = csv(
        dir.path(),
        "a.csv",
        &["old-done,,".into(), "old-pending,,".into()],
    );
    let run = store.begin_run(&[]).unwrap();
    let stats = register(
        &mut store.conn,
        run,
        &acme(),
        &[a],
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!((stats.distinct, stats.other_account.rows), (2, 0));
    assert_eq!(stats.adopted, 2);
    // A final check keeps its unknown host (where it was answered was never recorded); one
    // that still needs the vendor is asked at the run's.
    for (id, host) in [
        ("old-done", None),
        ("old-pending", Some("127.0.0.1".into())),
    ] {
        assert_eq!(owner(&store, id), ("acme".into(), host, Some(run)), "{id}");
    }
    // Adoption is a change of an exported column: `export --cursor` sees both.
    assert_eq!(changes(&store) - before, 2);
    let listed = next_to_fetch(&store.conn, run, "acme", 0, 10).unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| t.liveness_id.as_str())
            .collect::<Vec<_>>(),
        ["old-pending"]
    );
}

#[test]
fn ids_of_another_account_are_set_aside_counted_and_never_listed() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    let opts = InputOptions::default();
    // acme-ph reads p-0..p-4 first (p-0 gets its result, the others stay pending).
    let ph: Vec<String> = (0..5).map(|i| format!("p-{i},,")).collect();
    let first = csv(dir.path(), "ph.csv", &ph);
    let run1 = store.begin_run(&[]).unwrap();
    register(&mut store.conn, run1, &other(), &[first], &opts).unwrap();
    store
        .conn
        .execute(
            "UPDATE checks SET status = 'done', code = 200 WHERE liveness_id = 'p-0'",
            [],
        )
        .unwrap();
    // acme then reads two of its own ids and four of acme-ph's, p-1 twice.
    let rows = [
        "a-1,,", "p-0,,", "p-1,,", "a-2,,", "p-2,,", "p-3,,", "p-1,,",
    ];
    let mixed = csv(
        dir.path(),
        "mixed.csv",
        &rows.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
    );
    let run2 = store.begin_run(&[]).unwrap();
    let stats = register(&mut store.conn, run2, &acme(), &[mixed], &opts).unwrap();
    assert_eq!((stats.distinct, stats.duplicates), (2, 0));
    assert_eq!(stats.other_account.rows, 5);
    assert_eq!(stats.other_account.examples.len(), 3);
    let first = &stats.other_account.examples[0];
    assert!(
        first.contains("mixed.csv:3: \"p-0\" belongs to partner code acme-ph (first read at ")
            && first.ends_with("ph.csv:2)"),
        "{:?}",
        stats.other_account.examples
    );
    // acme-ph's checks are untouched: its partner code, host, and run.
    for id in ["p-0", "p-1", "p-3"] {
        assert_eq!(
            owner(&store, id),
            ("acme-ph".into(), Some("ph.example".into()), Some(run1)),
            "{id}"
        );
    }
    assert_eq!(count_to_fetch(&store.conn, run2, "acme").unwrap(), 2);
    let counted: i64 = store
        .conn
        .query_row(
            "SELECT other_account FROM runs WHERE id = ?1",
            [run2],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(counted, 5);
    // Even a check of acme-ph marked with acme's run is never listed for acme's vendor calls.
    store
        .conn
        .execute(
            "UPDATE checks SET last_run = ?1 WHERE liveness_id = 'p-4'",
            [run2],
        )
        .unwrap();
    let listed = next_to_fetch(&store.conn, run2, "acme", 0, 10).unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| t.liveness_id.as_str())
            .collect::<Vec<_>>(),
        ["a-1", "a-2"]
    );
    assert_eq!(count_to_fetch(&store.conn, run2, "acme").unwrap(), 2);
}

#[test]
fn a_check_still_needing_the_vendor_takes_the_new_host_and_a_done_one_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    let opts = InputOptions::default();
    let a = csv(
        dir.path(),
        "a.csv",
        &["h-done,,".into(), "h-pending,,".into()],
    );
    let run1 = store.begin_run(&[]).unwrap();
    register(
        &mut store.conn,
        run1,
        &acme(),
        std::slice::from_ref(&a),
        &opts,
    )
    .unwrap();
    store
        .conn
        .execute(
            "UPDATE checks SET status = 'done', code = 200 WHERE liveness_id = 'h-done'",
            [],
        )
        .unwrap();
    let moved = RunAccount {
        endpoint_host: Some("eu.example".into()),
        ..acme()
    };
    let run2 = store.begin_run(&[]).unwrap();
    register(&mut store.conn, run2, &moved, &[a], &opts).unwrap();
    assert_eq!(owner(&store, "h-done").1.as_deref(), Some("127.0.0.1"));
    assert_eq!(owner(&store, "h-pending").1.as_deref(), Some("eu.example"));
}

#[test]
fn other_accounts_are_found_on_either_side_of_the_runs_code_and_of_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    let with_code = |code: &str| RunAccount {
        partner_code: code.into(),
        ..acme()
    };
    store
        .conn
        .execute_batch(
            "INSERT INTO runs (id, started_at, files) VALUES (1, 0, '[]');
             INSERT INTO checks (liveness_id, first_run, last_run) VALUES ('u', 1, 1);",
        )
        .unwrap();
    // Only `unknown` checks: no other account, whichever side of it the run's code sorts.
    for code in ["acme", "zeta"] {
        assert!(!other_accounts_exist(&store.conn, &with_code(code)).unwrap());
    }
    store
        .conn
        .execute(
            "INSERT INTO checks (liveness_id, partner_code, first_run, last_run)
             VALUES ('m', 'mid', 1, 1)",
            [],
        )
        .unwrap();
    // 'mid' sorts between the run's code and 'unknown', or below both.
    for (code, other) in [
        ("mid", false),
        ("acme", true),
        ("zeta", true),
        ("nnn", true),
    ] {
        assert_eq!(
            other_accounts_exist(&store.conn, &with_code(code)).unwrap(),
            other,
            "{code}"
        );
    }
    // ... or above both.
    store
        .conn
        .execute(
            "UPDATE checks SET partner_code = 'zz' WHERE liveness_id = 'm'",
            [],
        )
        .unwrap();
    assert!(other_accounts_exist(&store.conn, &with_code("acme")).unwrap());
    assert!(!other_accounts_exist(&store.conn, &with_code("zz")).unwrap());
    let plan: String = store
        .conn
        .prepare("EXPLAIN QUERY PLAN SELECT EXISTS (SELECT 1 FROM checks WHERE partner_code < 'a')")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .join("\n");
    // Found by an index whose first column is the partner code, not by a scan.
    assert!(
        plan.contains("SEARCH checks USING") && plan.contains("(partner_code<?)"),
        "{plan}"
    );
}

#[test]
fn adoption_finds_its_rows_by_id_not_by_walking_every_unknown_check() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    let plan: String = store
        .conn
        .prepare(
            "EXPLAIN QUERY PLAN UPDATE checks SET partner_code = 'x'
             WHERE +partner_code = 'unknown' AND liveness_id IN ('a', 'b')",
        )
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("(liveness_id=?)") && !plan.contains("checks_by_account_quarter_hour"),
        "{plan}"
    );
}
