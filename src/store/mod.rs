//! The SQLite database: opening it safely, its schema migrations, the fetch lock and run records.
//!
//! - [`Store`]: an open, migrated database connection.
//! - [`FetchLock`]: the exclusive lock a `fetch` holds, so two runs never share one database.
//! - [`intake`]: registering input ids and listing what still needs the vendor.
//! - [`writer`]: the single writer thread that commits results and attempts in batches.
//! - [`purge`]: removing biometric-derived data of old checks, keeping billing facts.
//!
//! Policy: the schema lives in plain SQL files under `migrations/`, applied in order inside a
//! transaction and recorded in `PRAGMA user_version`. A database from a newer liveaudit is refused
//! (never downgraded), a file that is not SQLite is refused with a clear message, and WAL with
//! `synchronous=NORMAL` makes every committed batch survive a killed process.

pub mod intake;
pub mod purge;
pub mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

/// The migrations, in order. Index + 1 is the schema version each one produces.
const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../migrations/0001_init.sql")),
    (
        "0002_report_index_and_purge",
        include_str!("../../migrations/0002_report_index_and_purge.sql"),
    ),
    (
        "0003_run_index_by_rowid",
        include_str!("../../migrations/0003_run_index_by_rowid.sql"),
    ),
    (
        "0004_repeated_faces",
        include_str!("../../migrations/0004_repeated_faces.sql"),
    ),
    (
        "0005_face_index_in_time_order",
        include_str!("../../migrations/0005_face_index_in_time_order.sql"),
    ),
    (
        "0006_change_counter",
        include_str!("../../migrations/0006_change_counter.sql"),
    ),
    (
        "0007_run_rate",
        include_str!("../../migrations/0007_run_rate.sql"),
    ),
    (
        "0008_times_dated_by_fetch",
        include_str!("../../migrations/0008_times_dated_by_fetch.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Errors of the storage layer, each saying what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{path} is not a liveaudit database (not SQLite, or damaged); give another --db path")]
    NotADatabase { path: PathBuf },
    #[error(
        "{path} was written by a newer liveaudit (schema {found}, this build knows {known}); \
         upgrade liveaudit, or use another --db"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{path} does not exist; run `liveaudit fetch` first or give the right --db")]
    Missing { path: PathBuf },
    #[error(
        "another liveaudit fetch is running on {path} (lock {lock}); wait for it to finish, \
         or stop it"
    )]
    Busy { path: PathBuf, lock: PathBuf },
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("internal error in the database {0}")]
    Thread(String),
}

impl StoreError {
    /// Whether the disk (or the file system's quota) is full.
    pub fn is_disk_full(&self) -> bool {
        let e = match self {
            StoreError::Sqlite { source, .. } | StoreError::Query(source) => source,
            _ => return false,
        };
        matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DiskFull))
    }

    /// Whether the database (or its directory) cannot be written.
    pub fn is_read_only(&self) -> bool {
        match self {
            StoreError::Sqlite { source, .. } | StoreError::Query(source) => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
            ),
            StoreError::Open { source, .. } => {
                source.kind() == std::io::ErrorKind::PermissionDenied
                    || source.raw_os_error() == Some(30) // EROFS
            }
            _ => false,
        }
    }
}

/// An open, migrated database.
pub struct Store {
    pub conn: Connection,
    path: PathBuf,
}

/// Whether opening may create the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create if missing, migrate (fetch).
    ReadWrite,
    /// Must exist; still migrated so old databases can be read (reports, export).
    Existing,
}

impl Store {
    pub fn open(path: &Path, mode: OpenMode) -> Result<Store, StoreError> {
        if mode == OpenMode::Existing && !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        let sql_err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(sql_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sql_err)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn classify(&self, source: rusqlite::Error) -> StoreError {
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: self.path.clone(),
            },
            _ => StoreError::Sqlite {
                path: self.path.clone(),
                source,
            },
        }
    }

    fn configure(&mut self) -> Result<(), StoreError> {
        // The first statement touching the file is where "not a database" shows.
        self.conn
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(|e| self.classify(e))?;
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| self.classify(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.classify(e))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = index as i64 + 1;
            let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
                path: self.path.clone(),
                source: e,
            })?;
            tx.execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", version))
                .and_then(|()| tx.commit())
                .map_err(|e| StoreError::Sqlite {
                    path: self.path.join(name),
                    source: e,
                })?;
            tracing::debug!(migration = name, version, "applied schema migration");
        }
        Ok(())
    }

    /// Records the start of a run and returns its id. Runs left `running` by a killed process
    /// are marked `killed` first (the caller holds the fetch lock, so none is alive).
    pub fn begin_run(&self, files: &[String]) -> Result<i64, StoreError> {
        self.conn.execute(
            "UPDATE runs SET outcome = 'killed' WHERE outcome = 'running'",
            [],
        )?;
        self.conn.execute(
            "INSERT INTO runs (started_at, files) VALUES (?1, ?2)",
            params![now_ms(), serde_json::to_string(files).unwrap_or_default()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Records how a run ended.
    pub fn finish_run(&self, run: i64, summary: &RunRecord) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE runs SET finished_at = ?2, outcome = ?3, stop_reason = ?4, rows_read = ?5,
                 ids_read = ?6, blank_ids = ?7, duplicate_ids = ?8, to_fetch = ?9,
                 resolved = ?10, failed = ?11, rate = ?12, limit_found = ?13, settled_rate = ?14,
                 requests = (SELECT count(*) FROM attempts WHERE run_id = ?1)
             WHERE id = ?1",
            params![
                run,
                now_ms(),
                summary.outcome,
                summary.stop_reason,
                summary.rows_read,
                summary.ids_read,
                summary.blank_ids,
                summary.duplicate_ids,
                summary.to_fetch,
                summary.resolved,
                summary.failed,
                summary.rate,
                summary.limit_found,
                summary.settled_rate,
            ],
        )?;
        Ok(())
    }

    /// Counts of checks by status for the ids of `run` (or all, when `None`).
    pub fn status_counts(&self, run: Option<i64>) -> Result<StatusCounts, StoreError> {
        // One pass with sums, not GROUP BY: no sorter, so memory stays flat for a million ids.
        Ok(self.conn.query_row(
            &format!(
                "SELECT {} FROM checks WHERE ?1 IS NULL OR last_run = ?1",
                crate::check::status_counts_sql()
            ),
            params![run],
            |r| {
                Ok(StatusCounts {
                    done: r.get(0)?,
                    internal_error: r.get(1)?,
                    failed: r.get(2)?,
                    pending: r.get(3)?,
                })
            },
        )?)
    }

    /// The last run recorded, if any.
    pub fn last_run_outcome(&self) -> Result<Option<(i64, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, outcome FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

/// How many checks are in each state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StatusCounts {
    pub done: i64,
    /// Done, but the vendor kept answering 11350: asked again by the next run.
    pub internal_error: i64,
    pub failed: i64,
    pub pending: i64,
}

impl StatusCounts {
    pub fn unresolved(&self) -> i64 {
        self.failed + self.pending + self.internal_error
    }
}

/// What a finished run records about itself.
#[derive(Debug, Default, Clone)]
pub struct RunRecord {
    pub outcome: String,
    pub stop_reason: Option<String>,
    pub rows_read: i64,
    pub ids_read: i64,
    pub blank_ids: i64,
    pub duplicate_ids: i64,
    pub to_fetch: i64,
    pub resolved: i64,
    pub failed: i64,
    /// The rate setting: `auto`, `0` (no limit) or requests per second.
    pub rate: Option<String>,
    /// Under `auto`: the limit found (per second), if the vendor ever refused.
    pub limit_found: Option<f64>,
    /// Under `auto`: the rate settled on (per second).
    pub settled_rate: Option<f64>,
}

/// The exclusive lock of a fetch on one database, held until dropped.
#[derive(Debug)]
pub struct FetchLock {
    _file: File,
    path: PathBuf,
}

impl FetchLock {
    /// Takes the lock beside `db` at once, or says another run holds it.
    pub fn acquire(db: &Path) -> Result<FetchLock, StoreError> {
        let mut name = db.as_os_str().to_os_string();
        name.push(".lock");
        let path = PathBuf::from(name);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(FetchLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy {
                path: db.to_path_buf(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Open { path, source }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Now, as Unix milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_a_new_database_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let store = Store::open(&path, OpenMode::ReadWrite).unwrap();
        let v: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        drop(store);
        Store::open(&path, OpenMode::Existing).unwrap();
    }

    #[test]
    fn refuses_newer_schema_and_non_sqlite_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        let store = Store::open(&path, OpenMode::ReadWrite).unwrap();
        store.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(store);
        let err = Store::open(&path, OpenMode::Existing).err().unwrap();
        assert!(
            matches!(err, StoreError::NewerSchema { found: 99, .. }),
            "{err}"
        );

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, b"id,name\n1,2\n".repeat(100)).unwrap();
        let err = Store::open(&junk, OpenMode::Existing).err().unwrap();
        assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");

        let err = Store::open(&dir.path().join("none.db"), OpenMode::Existing)
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
}
