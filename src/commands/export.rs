//! `liveaudit export`: every check as CSV or JSON lines, or only those changed since a cursor.
//!
//! Policy: the output is complete (flushed, synced, in place) before the cursor moves.

use std::path::Path;

use anyhow::{Context, anyhow};

use super::{code_table, layers, writable_later};
use crate::cli::{ExportArgs, ExportFormatArg, GlobalArgs, VendorArgs};
use crate::exit::ExitStatus;
use crate::export::ExportFormat;
use crate::failure::Failure;
use crate::output::{output, write_failure};
use crate::report::scope::{Accept, resolve_account};
use crate::store::{OpenMode, Store};

/// The export's format: `--format`, else the `--output` file's extension (`.csv`/`.txt`: CSV,
/// `.jsonl`/`.ndjson`/`.json`: JSON lines), else CSV. A file is never written in a format its
/// name does not say: an extension that names another format (`.xlsx`, `.html`, ...), one that
/// disagrees with `--format`, or an unknown one without `--format` is refused.
fn export_format(
    format: Option<ExportFormatArg>,
    output: Option<&Path>,
) -> Result<ExportFormat, Failure> {
    let ext = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let refuse = |ext: &str| {
        Failure::usage(anyhow!(
            "--output {}: export writes CSV or JSON lines, not .{}; name the file .csv or .jsonl \
             (a workbook of the reports: `liveaudit report billing -o FILE.xlsx`)",
            crate::text::clean(&output.map(|p| p.display().to_string()).unwrap_or_default()),
            crate::text::clean(ext)
        ))
    };
    let by_name = match ext.as_deref() {
        None => None,
        Some("csv" | "txt") => Some(ExportFormat::Csv),
        Some("jsonl" | "ndjson" | "json") => Some(ExportFormat::Jsonl),
        Some(other @ ("xlsx" | "xls" | "xlsm" | "ods" | "html" | "htm" | "md" | "pdf")) => {
            return Err(refuse(other));
        }
        // With --format, an extension liveaudit does not know is the user's choice.
        Some(other) if format.is_none() => return Err(refuse(other)),
        Some(_) => None,
    };
    match (format, by_name) {
        (Some(f), Some(n)) if ExportFormat::from(f) != n => Err(Failure::usage(anyhow!(
            "--format {} disagrees with the --output file's extension; make them agree",
            clap::ValueEnum::to_possible_value(&f)
                .map_or_else(String::new, |v| v.get_name().to_string())
        ))),
        (Some(f), _) => Ok(f.into()),
        (None, n) => Ok(n.unwrap_or(ExportFormat::Csv)),
    }
}

/// Runs `liveaudit export`.
pub(crate) fn export(global: &GlobalArgs, args: &ExportArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    let codes = code_table(&layers)?;
    let db = layers.db();
    // The worst mistake is named first: an output that is the database itself.
    if let Some(p) = &args.output {
        crate::store::refuse_output_on_database("--output", p, &db)?;
    }
    let format = export_format(args.format, args.output.as_deref())?;
    let store = Store::open(&db, OpenMode::MigrateExisting)?;
    let account = args
        .account
        .as_deref()
        .map(|name| resolve_account(&layers, name, Accept::NamedOrRecorded(&store.conn)))
        .transpose()?;
    let partner_code = account.as_ref().map(|a| a.partner_code.as_str());
    let since = match &args.cursor {
        Some(path) => {
            writable_later("cursor", Some(path))?;
            crate::store::refuse_output_on_database("--cursor", path, &db)?;
            Some(crate::export::read_cursor(path, partner_code).map_err(Failure::usage)?)
        }
        None => None,
    };
    let mut out = output(args.output.as_deref(), Some(&db))?;
    let spec = crate::export::ExportSpec {
        format,
        raw_cells: args.raw_cells,
        since: since.flatten(),
        partner_code,
    };
    let exported = crate::export::export_since(&store, &codes, &spec, &mut out)
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
                crate::export::write_cursor(path, e.through, partner_code)
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
