//! `liveaudit purge`: drops scores and face digests of checks dated before a day.
//!
//! Policy: codes, sequence ids and times stay (billing needs them); a purge takes the fetch
//! lock so it never races a run; `--dry-run` changes nothing. `--images` must name an existing
//! folder (a typo is refused before anything changes); image files that cannot be deleted are
//! named on stderr and the purge exits 4 (incomplete), never 0.

use std::io::Write;

use anyhow::anyhow;

use super::layers;
use crate::cli::{GlobalArgs, PurgeArgs, VendorArgs};
use crate::exit::ExitStatus;
use crate::failure::Failure;
use crate::report::{ReportError, Window};
use crate::store::{OpenMode, Store, StoreError};

/// Runs `liveaudit purge`.
pub(crate) fn purge(global: &GlobalArgs, args: &PurgeArgs) -> Result<ExitStatus, Failure> {
    let layers = layers(global, &VendorArgs::default())?;
    // The day boundary of --before is the billing day's, as in every report.
    let zone = layers.zone(args.tz.as_deref()).map_err(Failure::usage)?;
    let tz = zone.name.clone();
    let window = Window::in_zone(zone, crate::check::Period::Day, Some(&args.before), None)
        .map_err(|e| match e {
            ReportError::Date { value, .. } => {
                Failure::usage(anyhow!("--before {value:?} is not a date; use YYYY-MM-DD"))
            }
            ReportError::NoSuchDate { value, why, .. } => {
                Failure::usage(anyhow!("--before {value}: that day does not exist ({why})"))
            }
            other => other.into(),
        })?;
    let Some(before_ms) = window.bounds_ms().0 else {
        return Err(Failure::usage(anyhow!(
            "--before {} is out of range",
            args.before
        )));
    };
    if let Some(dir) = &args.images {
        // A mistyped folder would delete nothing and say "0 image files deleted": refuse it.
        if !dir.is_dir() {
            return Err(Failure::usage(anyhow!(
                "--images {}: no such folder; give the folder fetch --save-images wrote the \
                 faces to (nothing was purged)",
                dir.display()
            )));
        }
    }
    let db = layers.db();
    if args.dry_run {
        let store = Store::open(&db, OpenMode::MigrateExisting)?;
        let would = crate::store::purge::count(&store, before_ms)?;
        let _ = writeln!(
            std::io::stdout(),
            "dry run: would purge scores and face digests of {would} checks dated before {} ({}); \
             nothing was changed",
            args.before,
            tz
        );
        return Ok(ExitStatus::Ok);
    }
    if !db.exists() {
        return Err(StoreError::Missing { path: db }.into());
    }
    let _lock = crate::store::FetchLock::acquire(&db)?;
    let mut store = Store::open(&db, OpenMode::MigrateExisting)?;
    let purged = crate::store::purge::purge(&mut store, before_ms, args.images.as_deref())?;
    let _ = writeln!(
        std::io::stdout(),
        "purged scores and face digests of {} checks dated before {} ({}); {} image files deleted; \
         codes, sequence ids and times are kept for billing",
        purged.checks,
        args.before,
        tz,
        purged.image_files
    );
    if purged.undeleted.is_empty() {
        return Ok(ExitStatus::Ok);
    }
    let mut err = std::io::stderr().lock();
    for (path, why) in &purged.undeleted {
        let _ = writeln!(err, "error: could not delete {}: {why}", path.display());
    }
    let _ = writeln!(
        err,
        "{} face image files of purged checks are still on disk; fix the cause and run the same \
         purge again (it deletes the images of every check before --before)",
        purged.undeleted.len()
    );
    Ok(ExitStatus::Incomplete)
}
