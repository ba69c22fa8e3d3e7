//! `liveaudit export`: one row per liveness id known to the database, as CSV or JSON lines.
//!
//! Policy: streamed row by row (memory stays flat for millions of ids). `category` and `charged`
//! come from the code table in force, so a corrected table re-prices history; `charged` is empty
//! where it is not known (a code the table lacks, or an id with no code). The documented
//! columns (README, `liveaudit export`) come first; new ones are only added after them (never
//! before, never renamed), so scripts reading by position keep working.
//!
//! Accounts: `partner_code` and `endpoint_host` say which vendor account each check belongs to
//! (`unknown` for checks read before accounts were recorded). `--account` keeps one account's
//! checks; with `--cursor` it exports that account's changes. A cursor file records the account
//! it follows (the change numbers count every account's changes, so a cursor moved by one
//! account's export would skip the others' rows): using it with another `--account`, or
//! without one, is refused.
//!
//! Incremental export (`--cursor FILE`): every insert or change of an exported column appends
//! the check to the change log under the next number (triggers, migration 0006), so "changed
//! since" never depends on clocks.
//! The rows and the highest change number are read in one read transaction (one snapshot, even
//! while a fetch writes); the cursor file is replaced atomically only after the output is
//! complete, so a failed export leaves it where it was and the next one repeats the rows.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::codes::CodeTable;
use crate::setting::Setting;
use crate::store::{Store, StoreError};
use crate::timestamp::format_utc;

/// Output format of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    Csv,
    Jsonl,
}

/// Errors of an export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("writing the export: {0}")]
    Csv(#[from] csv::Error),
    #[error(
        "the cursor says change {since} but this database has only reached {through}: it \
         belongs to another database (or a restored copy); delete the cursor file to export \
         everything once"
    )]
    CursorAhead { since: i64, through: i64 },
    #[error("cursor file {path}: {message}")]
    Cursor { path: PathBuf, message: String },
}

/// The cursor file: the change number the last incremental export went up to, and the partner
/// code of the account it follows (absent: every account).
#[derive(Debug, Serialize, serde::Deserialize)]
struct CursorFile {
    change_seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    partner_code: Option<String>,
}

/// Reads the cursor of an export of `partner_code`'s checks (`None`: every account's); `None`
/// when the file does not exist yet (first use: export everything). A cursor that follows
/// another account (or all of them) is refused.
pub(crate) fn read_cursor(
    path: &Path,
    partner_code: Option<&str>,
) -> Result<Option<i64>, ExportError> {
    let text = match crate::small_file::read_to_string(path, crate::small_file::CURSOR_MAX_BYTES) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ExportError::Cursor {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    let cursor: CursorFile = serde_json::from_str(&text).map_err(|e| ExportError::Cursor {
        path: path.to_path_buf(),
        message: format!(
            "not a liveaudit cursor ({e}); delete it to export everything once, or give another path"
        ),
    })?;
    // Change numbers start at 1 and only grow; 0 is "nothing exported yet". A negative number
    // was not written by liveaudit, and exporting from it would silently mean "everything".
    if cursor.partner_code.as_deref() != partner_code {
        let follows = |code: Option<&str>| match code {
            Some(code) => format!("the checks of partner code {code}"),
            None => "every account's checks".to_string(),
        };
        return Err(ExportError::Cursor {
            path: path.to_path_buf(),
            message: format!(
                "it follows {}, and this export asks for {}: moving it would skip rows of the \
                 other; give the same {}, or another cursor file",
                follows(cursor.partner_code.as_deref()),
                follows(partner_code),
                Setting::Account
            ),
        });
    }
    if cursor.change_seq < 0 {
        return Err(ExportError::Cursor {
            path: path.to_path_buf(),
            message: format!(
                "change_seq is {}, but change numbers are never negative: the file was edited or \
                 written by something else; delete it to export everything once, or give another path",
                cursor.change_seq
            ),
        });
    }
    Ok(Some(cursor.change_seq))
}

/// Replaces the cursor file atomically (temporary file beside it, synced, renamed).
pub(crate) fn write_cursor(
    path: &Path,
    change_seq: i64,
    partner_code: Option<&str>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".liveaudit-cursor")
        .tempfile_in(dir)?;
    let cursor = CursorFile {
        change_seq,
        partner_code: partner_code.map(str::to_string),
    };
    serde_json::to_writer(&mut tmp, &cursor).map_err(std::io::Error::other)?;
    tmp.write_all(b"\n")?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

impl From<rusqlite::Error> for ExportError {
    fn from(e: rusqlite::Error) -> Self {
        ExportError::Store(StoreError::Query(e))
    }
}

/// One exported row.
#[derive(Debug, Serialize)]
pub(crate) struct ExportRow {
    pub liveness_id: String,
    pub status: String,
    pub code: Option<i64>,
    pub message: Option<String>,
    pub category: Option<&'static str>,
    pub charged: Option<bool>,
    pub score: Option<f64>,
    pub sequence_id: Option<String>,
    pub attempts: i64,
    pub event_time: Option<String>,
    pub fetched_at: Option<String>,
    pub family: Option<String>,
    pub image_sha256: Option<String>,
    pub image_bytes: Option<i64>,
    pub source: Option<String>,
    pub last_error: Option<String>,
    pub attributes: Option<String>,
    /// Where `event_time` comes from: `input`, `fetch` (the input's time was unreadable and
    /// `fetch --bad-times fetch-time` dated the check by its fetch), or empty (no time).
    pub time_basis: Option<String>,
    /// The vendor account's partner code (`unknown`: read before accounts were recorded).
    pub partner_code: String,
    /// The host of the endpoint the account asked (evidence; empty when not recorded).
    pub endpoint_host: Option<String>,
}

impl ExportRow {
    /// The row with its free-text cells as `guard` writes them.
    fn guarded(mut self, guard: crate::text::CellGuard) -> ExportRow {
        let fix = |s: &mut String| {
            if let std::borrow::Cow::Owned(safe) = guard.apply(s) {
                *s = safe;
            }
        };
        fix(&mut self.liveness_id);
        fix(&mut self.partner_code);
        for cell in [
            &mut self.endpoint_host,
            &mut self.message,
            &mut self.sequence_id,
            &mut self.family,
            &mut self.source,
            &mut self.last_error,
            &mut self.attributes,
        ]
        .into_iter()
        .flatten()
        {
            fix(cell);
        }
        self
    }
}

/// What an incremental export wrote and where the cursor goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exported {
    pub rows: u64,
    /// The highest change number in the snapshot exported: the cursor's next value.
    pub through: i64,
}

/// What to export and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExportSpec<'a> {
    pub format: ExportFormat,
    /// Keep CSV cells as they are (else neutralised against spreadsheet formulas).
    pub raw_cells: bool,
    /// Only the checks changed after this change number; `None`: all.
    pub since: Option<i64>,
    /// Only the checks of this partner code; `None`: every account's.
    pub partner_code: Option<&'a str>,
}

/// Writes the checks `spec` selects to `out`.
pub(crate) fn export_since(
    store: &Store,
    codes: &CodeTable,
    spec: &ExportSpec<'_>,
    out: &mut dyn Write,
) -> Result<Exported, ExportError> {
    let since = spec.since;
    // One read transaction: the rows and `through` come from the same snapshot.
    let tx = store.conn.unchecked_transaction()?;
    let through: i64 =
        tx.query_row("SELECT coalesce(max(seq), 0) FROM check_changes", [], |r| {
            r.get(0)
        })?;
    if let Some(since) = since
        && since > through
    {
        return Err(ExportError::CursorAhead { since, through });
    }
    let rows = export_changed(store, codes, spec, out, since.map(|s| (s, through)))?;
    tx.finish()?;
    Ok(Exported { rows, through })
}

fn export_changed(
    store: &Store,
    codes: &CodeTable,
    spec: &ExportSpec<'_>,
    out: &mut dyn Write,
    changed: Option<(i64, i64)>,
) -> Result<u64, ExportError> {
    let account = spec.partner_code;
    let count = match spec.format {
        ExportFormat::Csv => {
            let guard = crate::text::CellGuard::new(true, spec.raw_cells);
            let mut w = csv::Writer::from_writer(&mut *out);
            let count = for_each_row(store, codes, changed, account, |row| {
                Ok(w.serialize(row.guarded(guard))?)
            })?;
            if count == 0 {
                // An empty export still has its header, so scripts can rely on the columns.
                w.write_record(COLUMNS)?;
            }
            w.flush()?;
            count
        }
        ExportFormat::Jsonl => {
            let mut line = Vec::with_capacity(512);
            for_each_row(store, codes, changed, account, |row| {
                line.clear();
                serde_json::to_writer(&mut line, &row).map_err(std::io::Error::other)?;
                line.push(b'\n');
                out.write_all(&line)?;
                Ok(())
            })?
        }
    };
    out.flush()?;
    Ok(count)
}

/// The export's columns, in order.
pub(crate) const COLUMNS: [&str; 20] = [
    "liveness_id",
    "status",
    "code",
    "message",
    "category",
    "charged",
    "score",
    "sequence_id",
    "attempts",
    "event_time",
    "fetched_at",
    "family",
    "image_sha256",
    "image_bytes",
    "source",
    "last_error",
    "attributes",
    "time_basis",
    "partner_code",
    "endpoint_host",
];

fn for_each_row(
    store: &Store,
    codes: &CodeTable,
    changed: Option<(i64, i64)>,
    account: Option<&str>,
    mut each: impl FnMut(ExportRow) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    const SELECT: &str = "SELECT liveness_id, status, code, message, score, sequence_id,
        attempts, event_time, fetched_at, image_sha256, image_bytes, source, last_error, attrs,
        CASE WHEN time_basis IS NOT NULL THEN time_basis WHEN event_time IS NOT NULL THEN 'input' END,
        partner_code, endpoint_host
        FROM checks";
    // Without `--account` the account parameter is NULL and keeps every account's rows.
    let mut stmt;
    let mut rows = match changed {
        None => {
            stmt = store.conn.prepare(&format!(
                "{SELECT} WHERE ?1 IS NULL OR partner_code = ?1 ORDER BY id"
            ))?;
            stmt.query(rusqlite::params![account])?
        }
        Some((after, through)) => {
            stmt = store.conn.prepare(&format!(
                "{SELECT} WHERE id IN
                     (SELECT check_id FROM check_changes WHERE seq > ?1 AND seq <= ?2)
                     AND (?3 IS NULL OR partner_code = ?3)
                 ORDER BY id"
            ))?;
            stmt.query(rusqlite::params![after, through, account])?
        }
    };
    let mut count = 0;
    while let Some(r) = rows.next()? {
        let code: Option<i64> = r.get(2)?;
        let status: String = r.get(1)?;
        let class = crate::check::classify(
            crate::check::Status::from_db(status.as_bytes()),
            code,
            codes,
        );
        each(ExportRow {
            liveness_id: r.get(0)?,
            status,
            code,
            message: r.get(3)?,
            category: code.map(|c| codes.category(c).as_str()),
            charged: class.charged(),
            score: r.get(4)?,
            sequence_id: r.get(5)?,
            attempts: r.get(6)?,
            event_time: r.get::<_, Option<i64>>(7)?.map(format_utc),
            fetched_at: r.get::<_, Option<i64>>(8)?.map(format_utc),
            family: code.and_then(|c| codes.family(c).map(str::to_string)),
            image_sha256: r.get(9)?,
            image_bytes: r.get(10)?,
            source: r.get(11)?,
            last_error: r.get(12)?,
            attributes: r.get(13)?,
            time_basis: r.get(14)?,
            partner_code: r.get(15)?,
            endpoint_host: r.get(16)?,
        })?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_read_and_a_negative_or_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.cursor");
        assert!(read_cursor(&path, None).unwrap().is_none());
        std::fs::write(&path, "{\"change_seq\":7}").unwrap();
        assert_eq!(read_cursor(&path, None).unwrap(), Some(7));
        std::fs::write(&path, "{\"change_seq\":-5}").unwrap();
        let e = read_cursor(&path, None).unwrap_err().to_string();
        assert!(e.contains("-5") && e.contains("never negative"), "{e}");
        assert!(e.contains("delete it"), "{e}");
        std::fs::write(&path, "{\"change_seq\":\"x\"}").unwrap();
        assert!(read_cursor(&path, None).is_err());
    }

    #[test]
    fn a_cursor_follows_one_account_or_all_and_is_refused_for_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.cursor");
        write_cursor(&path, 9, Some("acme-id")).unwrap();
        assert_eq!(read_cursor(&path, Some("acme-id")).unwrap(), Some(9));
        for other in [None, Some("acme-ph")] {
            let e = read_cursor(&path, other).unwrap_err().to_string();
            assert!(
                e.contains("partner code acme-id") && e.contains("--account"),
                "{e}"
            );
        }
        write_cursor(&path, 10, None).unwrap();
        assert_eq!(read_cursor(&path, None).unwrap(), Some(10));
        let e = read_cursor(&path, Some("acme-id")).unwrap_err().to_string();
        assert!(e.contains("every account's checks"), "{e}");
    }
}
