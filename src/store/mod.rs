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

pub mod account;
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
    (
        "0009_accounts",
        include_str!("../../migrations/0009_accounts.sql"),
    ),
    (
        "0010_account_changes",
        include_str!("../../migrations/0010_account_changes.sql"),
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
        "{path} is an SQLite database of another program (it has no liveaudit schema); it is \
         left untouched: give the --db that `liveaudit fetch` wrote"
    )]
    Foreign { path: PathBuf },
    #[error(
        "{path} is damaged (SQLite reports corruption); restore it from a backup, or give \
         another --db and fetch again"
    )]
    Corrupt { path: PathBuf },
    #[error(
        "--db {path}: SQLite URIs (file:...) are refused; give a plain file path, so the \
         fetch lock and the output checks see the same file SQLite opens"
    )]
    Uri { path: PathBuf },
    #[error(
        "the database {path} was deleted or replaced during the run; results written after \
         that are not in it. Restore the file (or use a new --db) and run the same command again"
    )]
    Vanished { path: PathBuf },
    #[error(
        "{what} {out} is the database {db} (or its -wal/-shm file); writing there would \
         destroy it: give another file"
    )]
    OutputIsDatabase {
        what: &'static str,
        out: PathBuf,
        db: PathBuf,
    },
    #[error(
        "another liveaudit fetch is running on {path} (or a purge: it holds a lock on {lock}); \
         wait for it to finish, or stop it"
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

    /// Whether SQLite found the file damaged or not a database at all.
    pub fn is_corrupt(&self) -> bool {
        match self {
            StoreError::Corrupt { .. } | StoreError::NotADatabase { .. } => true,
            StoreError::Sqlite { source, .. } | StoreError::Query(source) => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
            ),
            _ => false,
        }
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
                    || source.kind() == std::io::ErrorKind::ReadOnlyFilesystem
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
        refuse_uri(path)?;
        if mode == OpenMode::Existing
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

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_ours(&self, mode: OpenMode) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.classify(e))?;
        if version > 0 {
            return Ok(());
        }
        let tables: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| self.classify(e))?;
        match (tables, mode) {
            (0, OpenMode::ReadWrite) => Ok(()),
            (0, OpenMode::Existing) => Err(StoreError::Missing {
                path: self.path.clone(),
            }),
            _ => Err(StoreError::Foreign {
                path: self.path.clone(),
            }),
        }
    }

    fn classify(&self, source: rusqlite::Error) -> StoreError {
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
