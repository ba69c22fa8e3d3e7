//! The SQLite database: opening it safely, its schema migrations, the fetch lock and run records.
//!
//! - [`Store`]: an open, migrated database connection.
//! - [`FetchLock`]: the exclusive lock a `fetch` holds, so two runs never share one database.
//! - [`intake`]: registering input ids and listing what still needs the vendor.
//! - [`writer`]: the single writer thread that commits results and attempts in batches.
//! - `turns`: turns at writing between the threads of one process (registration, writer).
//! - [`purge`]: removing biometric-derived data of old checks, keeping billing facts.
//! - [`StoreError`]: what can go wrong, each variant saying what to do (in `error.rs`).
//!
//! Policy: the schema lives in plain SQL files under `migrations/`, applied in order inside a
//! transaction and recorded in `PRAGMA user_version`. A database from a newer liveaudit is refused
//! (never downgraded), a file that is not SQLite is refused with a clear message, and WAL with
//! `synchronous=NORMAL` makes every committed batch survive a killed process.

pub mod account;
pub mod intake;
#[warn(missing_docs)]
pub mod purge;
pub(crate) mod resume;
pub mod retimed;
pub(crate) mod turns;
#[warn(missing_docs)]
pub mod writer;

mod error;
pub use error::StoreError;

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
    (
        "0009_accounts",
        include_str!("../../migrations/0009_accounts.sql"),
    ),
    (
        "0010_account_report_index",
        include_str!("../../migrations/0010_account_report_index.sql"),
    ),
    (
        "0011_account_changes",
        include_str!("../../migrations/0011_account_changes.sql"),
    ),
    (
        "0012_one_report_index",
        include_str!("../../migrations/0012_one_report_index.sql"),
    ),
    (
        "0013_time_changes",
        include_str!("../../migrations/0013_time_changes.sql"),
    ),
    (
        "0014_quarter_hour_index_name",
        include_str!("../../migrations/0014_quarter_hour_index_name.sql"),
    ),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// An open, migrated database.
pub struct Store {
    /// The connection (WAL, `synchronous=NORMAL`, foreign keys on, a 10 s busy timeout).
    pub conn: Connection,
    path: PathBuf,
}

/// Whether opening may create the database. Both modes bring an older liveaudit database up
/// to the current schema (every migration not yet applied is applied, in order) before
/// anything reads or writes it; a file that is not liveaudit's is refused, never migrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the database if it is missing, else migrate it (fetch).
    CreateOrMigrate,
    /// The database must exist (a missing or empty file is an error); it is migrated so
    /// databases of older versions can be read (reports, export, purge).
    MigrateExisting,
}

impl Store {
    /// Opens (or, with [`OpenMode::CreateOrMigrate`], creates) the database at `path` and
    /// migrates it. A SQLite URI, a file that is not liveaudit's and a database of a newer
    /// liveaudit are refused before anything is written to them.
    pub fn open(path: &Path, mode: OpenMode) -> Result<Store, StoreError> {
        refuse_uri(path)?;
        if mode != OpenMode::MigrateExisting || path.exists() {
            refuse_non_file(path)?;
        }
        if mode == OpenMode::MigrateExisting
            && std::fs::metadata(path).map_or(true, |m| m.is_file() && m.len() == 0)
        {
            // A file of zero bytes is what a fetch that failed before its first write leaves.
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
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sql_err)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(sql_err)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        // No command writes to a file that is not liveaudit's: no WAL switch, no tables, before
        // the schema version says it is ours (or, for a fetch, the file is a new database).
        store.check_ours(mode)?;
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file, as it was given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_ours(&self, mode: OpenMode) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.error_of(e))?;
        if version > 0 {
            return Ok(());
        }
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.error_of(e))?;
        match (tables, mode) {
            (0, OpenMode::CreateOrMigrate) => Ok(()),
            (0, OpenMode::MigrateExisting) => Err(StoreError::Missing {
                path: self.path.clone(),
            }),
            _ => Err(StoreError::Foreign {
                path: self.path.clone(),
            }),
        }
    }

    fn error_of(&self, source: rusqlite::Error) -> StoreError {
        match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase {
                path: self.path.clone(),
            },
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
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
            .map_err(|e| self.error_of(e))?;
        self.conn
            .execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(|e| self.error_of(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.error_of(e))?;
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
        self.status_counts_where("?1 IS NULL OR last_run = ?1", run)
    }

    /// [`Store::status_counts`] of one account's checks (`None`: every check).
    pub fn status_counts_of(&self, partner_code: Option<&str>) -> Result<StatusCounts, StoreError> {
        self.status_counts_where("?1 IS NULL OR partner_code = ?1", partner_code)
    }

    fn status_counts_where(
        &self,
        condition: &str,
        value: impl rusqlite::ToSql,
    ) -> Result<StatusCounts, StoreError> {
        // One pass with sums, not GROUP BY: no sorter, so memory stays flat for a million ids.
        Ok(self.conn.query_row(
            &format!(
                "SELECT {} FROM checks WHERE {condition}",
                crate::check::status_counts_sql()
            ),
            params![value],
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
    /// Done with a final code (11350 excluded).
    pub done: i64,
    /// Done, but the vendor kept answering 11350: asked again by the next run.
    pub internal_error: i64,
    /// Retries ran out or the vendor refused the request: asked again by the next run.
    pub failed: i64,
    /// Registered, not answered yet.
    pub pending: i64,
}

impl StatusCounts {
    /// Checks the next fetch asks the vendor about: failed, pending or held at 11350.
    pub fn unresolved(&self) -> i64 {
        self.failed + self.pending + self.internal_error
    }
}

/// What a finished run records about itself.
#[derive(Debug, Default, Clone)]
pub struct RunRecord {
    /// How the run ended, one word (`done`, `incomplete`, `interrupted`, `stopped`, ...).
    pub outcome: String,
    /// Why it stopped early, as the user was told.
    pub stop_reason: Option<String>,
    /// Data rows read from the input (header rows and blank lines excluded).
    pub rows_read: i64,
    /// Ids read (rows with a non-blank id).
    pub ids_read: i64,
    /// Rows whose id cell was blank.
    pub blank_ids: i64,
    /// Ids listed more than once (each registered once).
    pub duplicate_ids: i64,
    /// Ids that needed the vendor when the run started.
    pub to_fetch: i64,
    /// Ids that got a final answer in this run.
    pub resolved: i64,
    /// Ids that failed in this run.
    pub failed: i64,
    /// The rate setting: `auto`, `0` (no limit) or requests per second.
    pub rate: Option<String>,
    /// Under `auto`: the limit found (per second), if the vendor ever refused.
    pub limit_found: Option<f64>,
    /// Under `auto`: the rate settled on (per second).
    pub settled_rate: Option<f64>,
}

/// The exclusive lock of a fetch on one database, held until dropped.
///
/// The lock is taken on the database file itself (an advisory `flock`, independent of SQLite's
/// own locks), so every name of the file (a symlink, a hard link, `./x` and `x`) meets the same
/// lock. The handle also remembers which file it is, so a database deleted or replaced during
/// the run is noticed ([`FetchLock::still_in_place`]). The handle stays open until the lock is
/// dropped, after every SQLite connection of the run has closed.
#[derive(Debug)]
pub struct FetchLock {
    _file: File,
    watch: DbWatch,
}

/// Which file a database path named when its lock was taken; cheap to clone into a task.
#[derive(Debug, Clone)]
pub struct DbWatch {
    held: std::fs::Metadata,
    path: PathBuf,
}

impl DbWatch {
    /// Whether the path still names the same file.
    pub fn still_in_place(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|now| same_file(&self.held, &now))
    }

    /// [`StoreError::Vanished`] unless [`DbWatch::still_in_place`].
    pub fn check_in_place(&self) -> Result<(), StoreError> {
        if self.still_in_place() {
            Ok(())
        } else {
            Err(StoreError::Vanished {
                path: self.path.clone(),
            })
        }
    }
}

impl FetchLock {
    /// Takes the lock on `db` (created empty if missing) at once, or says another run holds it.
    pub fn acquire(db: &Path) -> Result<FetchLock, StoreError> {
        refuse_uri(db)?;
        refuse_non_file(db)?;
        let path = db.to_path_buf();
        // Where locks are mandatory (Windows), a lock on the database would shut SQLite out:
        // there the lock is a file beside the database's canonical path.
        #[cfg(not(unix))]
        let path = {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|source| StoreError::Open {
                    path: path.clone(),
                    source,
                })?;
            let mut name = std::fs::canonicalize(&path)
                .unwrap_or(path)
                .into_os_string();
            name.push(".lock");
            PathBuf::from(name)
        };
        let file = File::options()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => {
                let held = file.metadata().map_err(|source| StoreError::Open {
                    path: path.clone(),
                    source,
                })?;
                Ok(FetchLock {
                    _file: file,
                    watch: DbWatch { held, path },
                })
            }
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy {
                path: db.to_path_buf(),
                lock: path,
            }),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Open { path, source }),
        }
    }

    /// The lock file beside the database.
    pub fn path(&self) -> &Path {
        &self.watch.path
    }

    /// A handle that tells whether the database is still the file this lock holds.
    pub fn watch(&self) -> DbWatch {
        self.watch.clone()
    }

    /// Whether the database path still names the file this lock holds.
    pub fn still_in_place(&self) -> bool {
        self.watch.still_in_place()
    }

    /// [`StoreError::Vanished`] unless [`FetchLock::still_in_place`].
    pub fn check_in_place(&self) -> Result<(), StoreError> {
        self.watch.check_in_place()
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.len() == b.len() || b.is_file()
}

/// Refuses a database path that cannot hold one, before SQLite or the lock try (they would
/// say "disk I/O error" of `/dev/null/0001_init`, or fail with exit 1): a folder, anything but
/// a regular file (a device, a pipe), or a file in a folder that does not exist.
fn refuse_non_file(path: &Path) -> Result<(), StoreError> {
    let refuse = |why: String| StoreError::NotAFilePath {
        path: path.to_path_buf(),
        why,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(refuse("is a folder, not a database file;".into())),
        Ok(m) if !m.is_file() => Err(refuse(
            "is not a regular file (a device or a pipe cannot hold a database);".into(),
        )),
        Ok(_) => Ok(()),
        Err(_) => {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if parent.is_dir() {
                Ok(())
            } else {
                Err(refuse(format!(
                    "is in a folder that does not exist ({}): create the folder first, or",
                    parent.display()
                )))
            }
        }
    }
}

fn refuse_uri(path: &Path) -> Result<(), StoreError> {
    if path
        .to_str()
        .is_some_and(|p| p.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("file:")))
    {
        return Err(StoreError::Uri {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Refuses an output path (`what` names its flag) that is the database or one of its
/// `-wal`/`-shm`/`-journal` files, by name after resolving links and by file identity.
pub fn refuse_output_on_database(
    what: &'static str,
    out: &Path,
    db: &Path,
) -> Result<(), StoreError> {
    let refuse = || StoreError::OutputIsDatabase {
        what,
        out: out.to_path_buf(),
        db: db.to_path_buf(),
    };
    let db_full = resolved(db);
    let out_full = resolved(out);
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db_full.as_os_str().to_os_string();
        name.push(suffix);
        let candidate = PathBuf::from(name);
        if out_full == candidate {
            return Err(refuse());
        }
        if let (Ok(a), Ok(b)) = (std::fs::metadata(out), std::fs::metadata(&candidate))
            && same_file(&a, &b)
        {
            return Err(refuse());
        }
    }
    Ok(())
}

/// `path` made absolute with links resolved: the whole path when it exists, else its
/// directory plus its file name.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match (std::fs::canonicalize(&parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_path_buf(),
    }
}

/// Now, as Unix milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests;
