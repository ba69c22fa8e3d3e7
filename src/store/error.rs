//! The storage layer's errors. Each names the database file and says what to do; the
//! predicates tell the caller which exit status and which advice apply (a full disk, a damaged
//! file, a read-only one).

use std::path::PathBuf;

use crate::setting::Setting;

/// Errors of the storage layer, each saying what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file is not SQLite, or SQLite cannot read its header.
    #[error("{path} is not a liveaudit database (not SQLite, or damaged); give another {db_flag} path", db_flag = Setting::Db)]
    NotADatabase {
        /// The database file, as given with `--db`.
        path: PathBuf,
    },
    /// A newer liveaudit wrote the database: it is never downgraded.
    #[error(
        "{path} was written by a newer liveaudit (schema {found}, this build knows {known}); \
         upgrade liveaudit, or use another {db_flag}",
        db_flag = Setting::Db
    )]
    NewerSchema {
        /// The database file, as given with `--db`.
        path: PathBuf,
        /// The schema version the file holds.
        found: i64,
        /// The newest schema version this build knows.
        known: i64,
    },
    /// A command that reads the database found none (or an empty file a failed fetch left).
    #[error("{path} does not exist; run `liveaudit fetch` first or give the right {db_flag}", db_flag = Setting::Db)]
    Missing {
        /// The database file, as given with `--db`.
        path: PathBuf,
    },
    /// An SQLite database without liveaudit's schema: never written to.
    #[error(
        "{path} is an SQLite database of another program (it has no liveaudit schema); it is \
         left untouched: give the {db_flag} that `liveaudit fetch` wrote",
        db_flag = Setting::Db
    )]
    Foreign {
        /// The database file, as given with `--db`.
        path: PathBuf,
    },
    /// SQLite reports corruption.
    #[error(
        "{path} is damaged (SQLite reports corruption); restore it from a backup, or give \
         another {db_flag} and fetch again",
        db_flag = Setting::Db
    )]
    Corrupt {
        /// The database file, as given with `--db`.
        path: PathBuf,
    },
    /// `--db` given as a SQLite URI: refused, so the lock and SQLite see the same file.
    #[error(
        "{db_flag} {path}: SQLite URIs (file:...) are refused; give a plain file path, so the \
         fetch lock and the output checks see the same file SQLite opens",
        db_flag = Setting::Db
    )]
    Uri {
        /// The database file, as given with `--db`.
        path: PathBuf,
    },
    /// The database file was deleted or replaced while a fetch wrote to it.
    #[error(
        "the database {path} was deleted or replaced during the run; results written after \
         that are not in it. Restore the file (or use a new {db_flag}) and run the same command again",
        db_flag = Setting::Db
    )]
    Vanished {
        /// The database file, as given with `--db`.
        path: PathBuf,
    },
    /// An output path is the database or one of its `-wal`/`-shm`/`-journal` files.
    #[error(
        "{what} {out} is the database {db} (or its -wal/-shm file); writing there would \
         destroy it: give another file"
    )]
    OutputIsDatabase {
        /// Which output (the flag).
        what: &'static str,
        /// The output path.
        out: PathBuf,
        /// The database it would overwrite.
        db: PathBuf,
    },
    /// Another fetch (or a purge) holds the database's lock.
    #[error(
        "another liveaudit fetch is running on {path} (or a purge: it holds a lock on {lock}); \
         wait for it to finish, or stop it"
    )]
    Busy {
        /// The database file, as given with `--db`.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The path cannot hold a database: a folder, a device, or in a folder that does not exist.
    #[error("{path} {why} give another {db_flag} path", db_flag = Setting::Db)]
    NotAFilePath {
        /// The database file, as given with `--db`.
        path: PathBuf,
        /// What the path is instead, ending in `;` or `, or` (the advice follows).
        why: String,
    },
    /// The file or its lock cannot be opened.
    #[error("cannot open {path}: {source}")]
    Open {
        /// The database file, as given with `--db`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed on this database (the path is named).
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file, as given with `--db`.
        path: PathBuf,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite failed inside a query.
    #[error("database: {0}")]
    Query(#[from] rusqlite::Error),
    /// A reader or writer thread of the fetch failed: the reason.
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
