//! Unit tests of opening, migrating and locking the database.

use super::*;

#[test]
fn migrates_a_new_database_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let store = Store::open(&path, OpenMode::CreateOrMigrate).unwrap();
    let v: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    drop(store);
    Store::open(&path, OpenMode::MigrateExisting).unwrap();
}

#[test]
fn refuses_newer_schema_and_non_sqlite_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    let store = Store::open(&path, OpenMode::CreateOrMigrate).unwrap();
    store.conn.pragma_update(None, "user_version", 99).unwrap();
    drop(store);
    let err = Store::open(&path, OpenMode::MigrateExisting).err().unwrap();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err}"
    );

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"id,name\n1,2\n".repeat(100)).unwrap();
    let err = Store::open(&junk, OpenMode::MigrateExisting).err().unwrap();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");

    let err = Store::open(&dir.path().join("none.db"), OpenMode::MigrateExisting)
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Missing { .. }), "{err}");
}

#[test]
fn second_lock_on_one_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let first = FetchLock::acquire(&path).unwrap();
    let err = FetchLock::acquire(&path).unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }), "{err}");
    drop(first);
    FetchLock::acquire(&path).unwrap();
}

#[cfg(unix)]
#[test]
fn the_lock_follows_the_file_through_links() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let first = FetchLock::acquire(&path).unwrap();
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let hard = dir.path().join("hard.db");
    std::fs::hard_link(&path, &hard).unwrap();
    let dotted = dir.path().join(".").join("a.db");
    for other in [&link, &hard, &dotted] {
        let err = FetchLock::acquire(other).unwrap_err();
        assert!(matches!(err, StoreError::Busy { .. }), "{other:?}: {err}");
    }
    assert!(first.still_in_place());
}

#[test]
fn sqlite_uris_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("file:{}?mode=rwc", dir.path().join("a.db").display());
    for p in [uri.as_str(), "FILE:x.db"] {
        assert!(matches!(
            FetchLock::acquire(Path::new(p)).unwrap_err(),
            StoreError::Uri { .. }
        ));
        assert!(matches!(
            Store::open(Path::new(p), OpenMode::CreateOrMigrate)
                .err()
                .unwrap(),
            StoreError::Uri { .. }
        ));
    }
}

#[test]
fn a_deleted_or_replaced_database_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let lock = FetchLock::acquire(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        lock.check_in_place(),
        Err(StoreError::Vanished { .. })
    ));
    std::fs::write(&path, b"").unwrap();
    assert!(
        !lock.still_in_place(),
        "a new file of the same name is not the database"
    );
}

#[test]
fn outputs_on_the_database_or_its_wal_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    Store::open(&db, OpenMode::CreateOrMigrate).unwrap();
    let here = dir.path().join(".").join("a.db-wal");
    for out in [db.clone(), dir.path().join("a.db-shm"), here] {
        assert!(
            matches!(
                refuse_output_on_database("--output", &out, &db),
                Err(StoreError::OutputIsDatabase { .. })
            ),
            "{out:?}"
        );
    }
    #[cfg(unix)]
    {
        let link = dir.path().join("report.csv");
        std::os::unix::fs::symlink(&db, &link).unwrap();
        assert!(refuse_output_on_database("--output", &link, &db).is_err());
    }
    refuse_output_on_database("--output", &dir.path().join("out.csv"), &db).unwrap();
}

#[test]
fn a_foreign_sqlite_file_is_read_by_no_command_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('x');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    for mode in [OpenMode::MigrateExisting, OpenMode::CreateOrMigrate] {
        let err = Store::open(&path, mode).err().unwrap();
        assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert!(!dir.path().join("other.sqlite-wal").exists());
}

/// A database at schema `version` (the first `version` migrations) in `dir`, holding one run
/// and one done check, `old-1`.
fn old_database(dir: &std::path::Path, version: usize) -> std::path::PathBuf {
    let path = dir.join("old.db");
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    let tx = conn.transaction().unwrap();
    for (_, sql) in &MIGRATIONS[..version] {
        tx.execute_batch(sql).unwrap();
    }
    tx.pragma_update(None, "user_version", version).unwrap();
    tx.execute_batch(
        "INSERT INTO runs (started_at, files) VALUES (1, '[]');
         INSERT INTO checks (liveness_id, event_time, status, code, first_run, last_run)
         VALUES ('old-1', 1700000000000, 'done', 200, 1, 1);",
    )
    .unwrap();
    tx.commit().unwrap();
    path
}

#[test]
fn a_version_12_database_gains_the_time_change_record_and_keeps_its_checks() {
    let dir = tempfile::tempdir().unwrap();
    let path = old_database(dir.path(), 12);
    let store = Store::open(&path, OpenMode::MigrateExisting).unwrap();
    let (version, event_time, differs): (i64, i64, i64) = store
        .conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), c.event_time, r.time_differs
             FROM checks c, runs r WHERE c.liveness_id = 'old-1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (version, event_time, differs),
        (SCHEMA_VERSION, 1_700_000_000_000, 0)
    );
    store
        .conn
        .execute(
            "INSERT INTO time_changes (check_id, run, old_time, new_time, changed_at)
             SELECT id, 1, event_time, event_time + 1, 2 FROM checks",
            [],
        )
        .unwrap();
}

/// A version-13 database's report index is renamed by migration 0014 (the old name gone, the
/// new one on the same columns), its checks kept, and the report's aggregate still walks it.
#[test]
fn a_version_13_database_gets_the_quarter_hour_index_under_its_new_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = old_database(dir.path(), 13);
    let store = Store::open(&path, OpenMode::MigrateExisting).unwrap();
    let indexes: Vec<String> = store
        .conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'checks_by_account%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(indexes, ["checks_by_account_quarter_hour"]);
    let plan: String = store
        .conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN SELECT coalesce(event_time, fetched_at) / {q}, count(*)
             FROM checks WHERE partner_code = 'unknown'
             GROUP BY partner_code, coalesce(event_time, fetched_at) / {q}, event_time IS NULL,
                      status, code",
            q = crate::report::QUARTER_HOUR_MS
        ))
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
        .join("\n");
    assert!(plan.contains("checks_by_account_quarter_hour"), "{plan}");
    let kept: i64 = store
        .conn
        .query_row("SELECT count(*) FROM checks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 1);
}
