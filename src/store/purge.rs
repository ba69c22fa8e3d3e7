//! Purging biometric-derived data of old checks while keeping the billing facts.
//!
//! Policy: a purge clears the score and the face digest (SHA-256 and size) of every check dated
//! before the cut-off (event time, else fetch time) and records when, and forgets repeated-face
//! digests no longer carried twice; the code, status, sequence
//! id and times stay, so billing reports and reconciles of the period still add up. SQLite's
//! `secure_delete` overwrites the freed bytes, the file is rebuilt (`VACUUM`) and the WAL is
//! checkpointed and truncated, so the digests do not linger in the file. Face images saved with
//! `--save-images` are deleted too when their directory is given (every check dated before the
//! cut-off, purged now or earlier, so a purge repeated with the folder finishes the job); a file
//! that exists but cannot be deleted is reported, never passed over in silence. [`count`] answers
//! `purge --dry-run` with the same selection (`to_purge`) and changes nothing.

use std::path::Path;

use rusqlite::params;

use super::{Store, StoreError, now_ms};
use crate::check::DateBy;
use crate::faces;

/// What a purge removed.
#[derive(Debug, Default)]
pub struct Purged {
    /// Checks whose biometric-derived data (score, face digest and size) was cleared; the
    /// rest of the check (code, times, sequence id) is kept for billing.
    pub checks: u64,
    /// Face image files deleted from the `--save-images` folder.
    pub image_files: u64,
    /// Face image files of purged checks that exist but could not be deleted (permissions, a
    /// read-only disk): each with why. A later purge with the same folder tries them again.
    pub undeleted: Vec<(std::path::PathBuf, std::io::Error)>,
}

/// The checks a purge before `?1` clears: dated before it, not purged yet, and still carrying
/// biometric-derived data.
/// A check's age for retention is its event time, else when it was fetched.
fn to_purge() -> String {
    format!(
        "{time} < ?1 AND purged_at IS NULL
         AND (score IS NOT NULL OR image_sha256 IS NOT NULL OR image_bytes IS NOT NULL)",
        time = DateBy::EventOrFetch.time_sql()
    )
}

/// How many checks a purge before `before_ms` would clear (`purge --dry-run`); changes nothing.
pub fn count(store: &Store, before_ms: i64) -> Result<u64, StoreError> {
    let n: i64 = store.conn.query_row(
        &format!("SELECT count(*) FROM checks WHERE {}", to_purge()),
        params![before_ms],
        |r| r.get(0),
    )?;
    Ok(n.max(0) as u64)
}

/// Purges checks dated before `before_ms`; deletes their saved faces under `images` if given.
pub fn purge(
    store: &mut Store,
    before_ms: i64,
    images: Option<&Path>,
) -> Result<Purged, StoreError> {
    store.conn.pragma_update(None, "secure_delete", "ON")?;
    let stamp = now_ms();
    let tx = store.conn.transaction()?;
    let checks = tx.execute(
        &format!(
            "UPDATE checks SET score = NULL, image_sha256 = NULL, image_bytes = NULL,
                 purged_at = ?2 WHERE {}",
            to_purge()
        ),
        params![before_ms, stamp],
    )? as u64;
    tx.execute(
        "DELETE FROM repeated_faces WHERE
             (SELECT count(*) FROM checks WHERE checks.image_sha256 = repeated_faces.image_sha256) < 2",
        [],
    )?;
    let mut image_files = 0;
    let mut undeleted = Vec::new();
    if let Some(dir) = images {
        let time = DateBy::EventOrFetch.time_sql();
        let mut stmt = tx.prepare(&format!("SELECT liveness_id FROM checks WHERE {time} < ?1"))?;
        let mut rows = stmt.query(params![before_ms])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let path = dir.join(faces::file_name(&id));
            match std::fs::remove_file(&path) {
                Ok(()) => image_files += 1,
                // Not saved, or deleted by an earlier purge.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => undeleted.push((path, e)),
            }
        }
    }
    tx.commit()?;
    if checks > 0 {
        // Rebuild the file so no freed page or index cell keeps an old digest, then fold the
        // WAL in and truncate it.
        store.conn.execute_batch("VACUUM")?;
    }
    store
        .conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(Purged {
        checks,
        image_files,
        undeleted,
    })
}
