//! The nightly job's export: a new file per night of the checks changed since the last one,
//! named by the range of change numbers it holds: `changed-FROM-TO.csv`.
//!
//! Policy: the export files are the cursor. The next export starts after the highest `TO` among
//! the complete files in the folder, so there is no cursor to move after the file is written and
//! nothing a `kill -9` can leave half done: a file is written under a temporary name, synced,
//! and given its name only when complete (never over an existing file); a leftover temporary
//! file is never read as an export. A night with no change writes no file. The first export of
//! a folder with no such file starts from the shell job's old cursor file when there is one,
//! else from the beginning.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::codes::CodeTable;
use crate::export::{ExportError, ExportFormat, ExportSpec, export_since, read_cursor};
use crate::store::Store;

/// The prefix of export files and of their temporary names.
const PREFIX: &str = "changed-";
const TEMP_PREFIX: &str = ".changed-";

/// The range `(from, to)` an export file's name says it holds, if it is one.
pub(crate) fn range_of(name: &str) -> Option<(i64, i64)> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(".csv")?;
    let (from, to) = rest.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !(all_digits(from) && all_digits(to)) {
        return None;
    }
    Some((from.parse().ok()?, to.parse().ok()?))
}

/// The change number the export files in `dir` reach: the highest `TO`, `None` when there are
/// none.
pub(crate) fn cursor(dir: &Path) -> std::io::Result<Option<i64>> {
    let mut best = None;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some((_, to)) = range_of(&name) {
            best = best.max(Some(to));
        }
    }
    Ok(best)
}

/// The file name of the changes `from..=to`: zero-padded, so names sort in range order.
pub(crate) fn file_name(from: i64, to: i64) -> String {
    format!("{PREFIX}{from:012}-{to:012}.csv")
}

/// What one export wrote.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Written {
    /// The new file; `None` when nothing changed.
    pub file: Option<PathBuf>,
    pub rows: u64,
    /// The change numbers exported after this one start above this.
    pub through: i64,
}

/// Exports the checks of `partner_code` changed since the files in `dir` reach (else since
/// `legacy_cursor`'s, else all) into a new file in `dir`.
pub(crate) fn export_new(
    store: &Store,
    codes: &CodeTable,
    dir: &Path,
    partner_code: &str,
    legacy_cursor: Option<&Path>,
) -> Result<Written, ExportError> {
    std::fs::create_dir_all(dir)?;
    let since = match cursor(dir)? {
        Some(to) => Some(to),
        None => match legacy_cursor {
            Some(path) => read_cursor(path, Some(partner_code))?,
            None => None,
        },
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let spec = ExportSpec {
        format: ExportFormat::Csv,
        raw_cells: false,
        since,
        partner_code: Some(partner_code),
    };
    let exported = {
        let mut out = std::io::BufWriter::new(tmp.as_file_mut());
        let e = export_since(store, codes, &spec, &mut out)?;
        out.flush()?;
        e
    };
    let through = exported.through.max(since.unwrap_or(0));
    if exported.rows == 0 {
        return Ok(Written {
            file: None,
            rows: 0,
            through,
        });
    }
    tmp.as_file().sync_all()?;
    let dest = dir.join(file_name(since.unwrap_or(0) + 1, exported.through));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.persist_noclobber(&dest).map_err(|e| e.error)?;
    // The new name is durable once its folder is synced.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(Written {
        file: Some(dest),
        rows: exported.rows,
        through: exported.through,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_their_range_and_nothing_else_is_an_export() {
        assert_eq!(range_of(&file_name(1, 420)), Some((1, 420)));
        assert_eq!(file_name(7, 12), "changed-000000000007-000000000012.csv");
        for other in [
            "changed-2026-11-30.csv",
            ".changed-abc.tmp",
            "changed-1-2.csv.part",
            "changed--2.csv",
            "changed-1-x.csv",
        ] {
            assert_eq!(range_of(other), None, "{other}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cursor(dir.path()).unwrap(), None);
        for (a, b) in [(1, 10), (11, 30), (31, 31)] {
            std::fs::write(dir.path().join(file_name(a, b)), "x").unwrap();
        }
        std::fs::write(dir.path().join(".changed-x.tmp"), "half").unwrap();
        assert_eq!(cursor(dir.path()).unwrap(), Some(31));
    }
}
