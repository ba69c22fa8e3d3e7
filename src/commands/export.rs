//! `liveaudit export`: every check as CSV or JSON lines, or only those changed since a cursor.
//!
//! Policy: the output is complete (flushed, synced, in place) before the cursor moves.

use anyhow::{Context, anyhow};

use super::{code_table, layers, writable_later};
use crate::cli::{ExportArgs, GlobalArgs, VendorArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::output::{output, write_failure};
use crate::store::{OpenMode, Store};

/// Runs `liveaudit export`.
pub(crate) fn export(global: &GlobalArgs, args: &ExportArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let codes = code_table(&layers)?;
    let db = layers.db();
    let store = Store::open(&db, OpenMode::Existing)?;
    let since = match &args.cursor {
        Some(path) => {
            writable_later("cursor", Some(path))?;
            crate::store::refuse_output_on_database("--cursor", path, &db)?;
            Some(crate::export::read_cursor(path).map_err(Failure::usage)?)
        }
        None => None,
    };
    let mut out = output(args.output.as_deref(), Some(&db))?;
    let exported = crate::export::export_since(
        &store,
        &codes,
        args.format,
        args.raw_cells,
        &mut out,
        since.flatten(),
    )
    // The output is complete (flushed, synced and in place when it is a file) before the
    // cursor moves.
    .and_then(|e| {
        out.finish()
            .map(|()| e)
            .map_err(crate::export::ExportError::Write)
    });
    match exported {
        Ok(e) => {
            tracing::debug!(rows = e.rows, through = e.through, "exported");
            if let Some(path) = &args.cursor {
                crate::export::write_cursor(path, e.through)
                    .with_context(|| format!("writing the cursor {}", path.display()))
                    .map_err(Failure::internal)?;
                tracing::info!(
                    rows = e.rows,
                    cursor = e.through,
                    "exported the checks changed since the cursor; cursor advanced"
                );
            }
            Ok(ExitStatus::Ok)
        }
        Err(e @ crate::export::ExportError::CursorAhead { .. }) => Err(Failure::usage(e)),
        Err(crate::export::ExportError::Write(e)) => Err(write_failure(e)),
        Err(crate::export::ExportError::Csv(e)) if e.is_io_error() => match e.into_kind() {
            csv::ErrorKind::Io(io) => Err(write_failure(io)),
            _ => Err(Failure::internal(anyhow!("csv"))),
        },
        Err(crate::export::ExportError::Store(s)) => Err(s.into()),
        Err(other) => Err(Failure::internal(other)),
    }
}
