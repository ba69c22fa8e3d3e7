//! Unit tests of registering input: duplicates, conflicts, runs and batches.

use super::*;
use crate::store::{OpenMode, Store};

pub(crate) fn acme() -> RunAccount {
    RunAccount {
        name: None,
        partner_code: "acme".into(),
        endpoint_host: Some("127.0.0.1".into()),
    }
}

pub(crate) fn csv(dir: &std::path::Path, name: &str, rows: &[String]) -> Source {
    let path = dir.join(name);
    let mut text = String::from("liveness_id,created_at,channel\n");
    for row in rows {
        text.push_str(row);
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    Source::File(path)
}

#[test]
fn first_mentions_are_looked_up_by_liveness_id_not_by_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    let plan: Vec<String> = store
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", first_mentions_sql(3)))
        .unwrap()
        .query_map(
            rusqlite::params_from_iter([rusqlite::types::Null; 4]),
            |r| r.get::<_, String>(3),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join("\n");
    assert!(
        plan.contains("(liveness_id=?)") && !plan.contains("checks_by_run"),
        "{plan}"
    );
}

#[test]
fn duplicates_with_another_time_or_columns_are_counted_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    // 100 ids in a.csv; b.csv repeats id-3 a year later, id-80 on another channel, id-5
    // exactly, id-6 without time or columns, and id-9 twice within its own rows.
    let rows: Vec<String> = (0..100)
        .map(|i| format!("id-{i},2025-10-05T00:00:00Z,web"))
        .collect();
    let a = csv(dir.path(), "a.csv", &rows);
    let b = csv(
        dir.path(),
        "b.csv",
        &[
            "id-3,2026-10-05T00:00:00Z,web".into(),
            "id-80,2025-10-05T00:00:00Z,ios".into(),
            "id-5,2025-10-05T00:00:00Z,web".into(),
            "id-6,,".into(),
            "new-9,2025-10-05T00:00:00Z,web".into(),
            "new-9,2025-10-06T00:00:00Z,web".into(),
        ],
    );
    let run = store.begin_run(&[]).unwrap();
    let stats = register(
        &mut store.conn,
        run,
        &acme(),
        &[a, b],
        &InputOptions::default(),
    )
    .unwrap();
    assert_eq!(stats.duplicates, 5);
    assert_eq!(stats.conflicts, 3, "{:?}", stats.conflict_examples);
    let examples = stats.conflict_examples.join("\n");
    assert!(
        examples.contains("b.csv:2: \"id-3\" first listed at ")
            && examples.contains(
                "a.csv:5, again with event time 2026-10-05T00:00:00Z (kept: 2025-10-05T00:00:00Z)"
            ),
        "{examples}"
    );
    assert!(
        examples.contains("b.csv:3: \"id-80\"")
            && examples
                .contains("other columns {\"channel\":\"ios\"} (kept: {\"channel\":\"web\"})"),
        "{examples}"
    );
    assert!(examples.contains("b.csv:7: \"new-9\""), "{examples}");
    // The first mention is the one kept.
    let time: i64 = store
        .conn
        .query_row(
            "SELECT event_time FROM checks WHERE liveness_id = 'id-3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(time, 1_759_622_400_000);
}

#[test]
fn ids_are_registered_once_across_batches_and_runs_keeping_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("t.db"), OpenMode::CreateOrMigrate).unwrap();
    let opts = InputOptions::default();
    // 200 rows over several statements: ids 0..150, where every 4th row repeats an earlier
    // id (some within one statement's rows, some across statements); id 7 has no time.
    let mut rows = Vec::new();
    for i in 0..150 {
        let time = if i == 7 { "" } else { "2026-10-01T10:00:00Z" };
        rows.push(format!("id-{i},{time},web"));
        if i % 3 == 0 {
            rows.push(format!("id-{},2026-10-02T10:00:00Z,ios", i / 2));
        }
    }
    let first = csv(dir.path(), "a.csv", &rows);
    let run1 = store.begin_run(&[]).unwrap();
    let stats = register(&mut store.conn, run1, &acme(), &[first], &opts).unwrap();
    assert_eq!(stats.input.ids, 200);
    assert_eq!((stats.distinct, stats.duplicates), (150, 50));
    // The first mention of an id is the one kept (id-30 is on line 42: 30 rows and 10 repeats
    // before it).
    let (source, attrs): (String, String) = store
        .conn
        .query_row(
            "SELECT source, attrs FROM checks WHERE liveness_id = 'id-30'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(source.ends_with("a.csv:42"), "{source}");
    assert!(attrs.contains("web"), "{attrs}");

    // id-1 got its result; a second run lists 100 known ids (id-7 now with a time) and 20
    // new ones, one of them twice.
    store
        .conn
        .execute(
            "UPDATE checks SET status = 'done', code = 12205 WHERE liveness_id = 'id-1'",
            [],
        )
        .unwrap();
    let mut again: Vec<String> = (0..100)
        .map(|i| format!("id-{i},2026-10-03T10:00:00Z,android"))
        .collect();
    again.extend((500..520).map(|i| format!("id-{i},2026-10-03T10:00:00Z,android")));
    again.push("id-505,,android".into());
    let second = csv(dir.path(), "b.csv", &again);
    let run2 = store.begin_run(&[]).unwrap();
    let stats = register(&mut store.conn, run2, &acme(), &[second], &opts).unwrap();
    assert_eq!((stats.distinct, stats.duplicates), (120, 1));
    let count = |sql: &str| -> i64 { store.conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM checks"), 170);
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM checks WHERE last_run = {run2}"
        )),
        120
    );
    assert_eq!(
        count(&format!(
            "SELECT count(*) FROM checks WHERE first_run = {run1}"
        )),
        150
    );
    // Results and first times are kept; a missing time is filled in.
    assert_eq!(
        count("SELECT code FROM checks WHERE liveness_id = 'id-1' AND status = 'done'"),
        12205
    );
    let day = |id: &str| -> String {
        store
            .conn
            .query_row(
                "SELECT strftime('%d', event_time / 1000, 'unixepoch') FROM checks
                 WHERE liveness_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(day("id-2"), "01");
    assert_eq!(day("id-7"), "03");
    assert_eq!(count_to_fetch(&store.conn, run2, "acme").unwrap(), 119);
    // The connection's cache and temp store are as they were before registering.
    assert_eq!(count("PRAGMA cache_size"), -2000);
    assert_eq!(count("PRAGMA temp_store"), 0);
}
