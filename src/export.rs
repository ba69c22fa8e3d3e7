//! `liveaudit export`: one row per liveness id known to the database, as CSV or JSON lines.
//!
//! Policy: streamed row by row (memory stays flat for millions of ids). `category` and `charged`
//! come from the code table in force, so a corrected table re-prices history; `charged` is empty
//! where it is not known (a code the table lacks, or an id with no code). Columns follow
//! CONTRACT.md section 5, with a few more after them (never before, never renamed).

use std::io::Write;

use serde::Serialize;

use crate::store::{Store, StoreError};
use crate::timestamp::format_utc;
use crate::vendor::codes::CodeTable;

/// Output format of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// Errors of an export.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("writing the export: {0}")]
    Csv(#[from] csv::Error),
}

impl From<rusqlite::Error> for ExportError {
    fn from(e: rusqlite::Error) -> Self {
        ExportError::Store(StoreError::Query(e))
    }
}

/// One exported row.
#[derive(Debug, Serialize)]
pub struct ExportRow {
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
}

impl ExportRow {
    /// The row with its free-text cells made safe to open in a spreadsheet
    /// ([`crate::text::neutralise_formula`]).
    fn neutralised(mut self) -> ExportRow {
        let fix = |s: &mut String| {
            if let std::borrow::Cow::Owned(safe) = crate::text::neutralise_formula(s) {
                *s = safe;
            }
        };
        fix(&mut self.liveness_id);
        for cell in [
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

/// Writes every check to `out`; returns the number of rows. CSV cells are neutralised against
/// spreadsheet formulas unless `raw_cells`.
pub fn export(
    store: &Store,
    codes: &CodeTable,
    format: ExportFormat,
    raw_cells: bool,
    out: &mut dyn Write,
) -> Result<u64, ExportError> {
    let count = match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            let count = for_each_row(store, codes, |row| {
                let row = if raw_cells { row } else { row.neutralised() };
                Ok(w.serialize(row)?)
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
            for_each_row(store, codes, |row| {
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
pub const COLUMNS: [&str; 17] = [
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
];

fn for_each_row(
    store: &Store,
    codes: &CodeTable,
    mut each: impl FnMut(ExportRow) -> Result<(), ExportError>,
) -> Result<u64, ExportError> {
    let mut stmt = store.conn.prepare(
        "SELECT liveness_id, status, code, message, score, sequence_id, attempts, event_time,
                fetched_at, image_sha256, image_bytes, source, last_error, attrs
         FROM checks ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    let mut count = 0;
    while let Some(r) = rows.next()? {
        let code: Option<i64> = r.get(2)?;
        each(ExportRow {
            liveness_id: r.get(0)?,
            status: r.get(1)?,
            code,
            message: r.get(3)?,
            category: code.map(|c| codes.category(c).as_str()),
            charged: code.and_then(|c| codes.charged(c)),
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
        })?;
        count += 1;
    }
    Ok(count)
}
