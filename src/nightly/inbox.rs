//! The nightly job's inbox: which files it takes, where a file goes once its ids are
//! registered (`done/`) or when it cannot be read (`rejected/`, with `NAME.why` beside it).
//!
//! Policy: every regular file is taken whatever its name (spaces, Unicode, a leading `-`: names
//! are paths here, never shell words), except hidden files (`.name`), office lock files
//! (`~$name`), checksums and signatures a sender puts beside a delivery (`.md5`, `.sha256`,
//! `.sig`, `.asc`, ...: a hash would read as an id), and files still being written: changed within the settle time (a minute by
//! default) or named `*.part` / `*.tmp`. A file whose modification time is in the future (a
//! sender's clock ahead, an SFTP time-zone bug) is judged by its status change time instead,
//! which only this machine's clock sets (any write or time change moves it), and named so the
//! night can warn. Only the inbox's own files are read, not its sub-folders: a folder (other
//! than `done/` and `rejected/`), a FIFO, a socket, a device or a broken link is listed as
//! skipped, never passed over silently. A file is moved, never copied, and never over a file of
//! the same name: `done/NAME` taken becomes `done/NAME (2)`, `(3)`, ... before the extension.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The inbox's folder of files whose ids are all registered.
pub(crate) const DONE_FOLDER: &str = "done";

/// Why a file in the inbox waits for another night.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Waiting {
    /// Named `*.part` or `*.tmp`, or changed within the settle time: still being written.
    BeingWritten,
}

/// Why an entry of the inbox is never read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Skipped {
    /// A folder: its files are not read.
    Folder,
    /// A FIFO, socket or device: not a file that holds a list.
    NotAFile,
    /// Its metadata cannot be read (a broken link): the reason.
    Unreadable(String),
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skipped::Folder => f.write_str(
                "a folder: the inbox reads the files directly in it, not in sub-folders; move \
                 its files into the inbox",
            ),
            Skipped::NotAFile => {
                f.write_str("not a regular file (a FIFO, socket or device); put the list in a file")
            }
            Skipped::Unreadable(e) => write!(f, "cannot be read ({e}); a broken link?"),
        }
    }
}

/// The inbox's files to read tonight, in name order, those left for later, those never read,
/// and those (taken or waiting) whose modification time is in the future.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub take: Vec<PathBuf>,
    pub waiting: Vec<(PathBuf, Waiting)>,
    pub skipped: Vec<(PathBuf, Skipped)>,
    pub future_mtime: Vec<PathBuf>,
}

/// The inbox's own folders: files read (`done/`) and rejected (`rejected/`).
fn own_folder(name: &str) -> bool {
    name == DONE_FOLDER || name == "rejected"
}

/// How long ago `meta`'s file last changed, or `None` when it changed "after" `now`. A
/// modification time in the future is another clock's: the status change time (this
/// machine's) is used instead; the flag says so.
fn age(meta: &std::fs::Metadata, now: SystemTime) -> (Option<Duration>, bool) {
    let Ok(modified) = meta.modified() else {
        return (None, false);
    };
    if let Ok(age) = now.duration_since(modified) {
        return (Some(age), false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let changed = std::time::UNIX_EPOCH
            .checked_add(Duration::from_secs(meta.ctime().max(0) as u64))
            .and_then(|c| c.checked_add(Duration::from_nanos(meta.ctime_nsec().max(0) as u64)));
        // This machine's clock behind its own change time: nothing to judge by; settled.
        let age = changed.map_or(Some(Duration::MAX), |c| {
            Some(now.duration_since(c).unwrap_or(Duration::MAX))
        });
        (age, true)
    }
    #[cfg(not(unix))]
    {
        (Some(Duration::MAX), true)
    }
}

/// What a sender puts beside a delivery to vouch for it: a checksum or a signature. Its text
/// is a hash, which would read as one liveness id and be sent to the vendor.
const SIDECARS: &[&str] = &[".md5", ".sha1", ".sha256", ".sha512", ".sig", ".asc"];

/// Whether a file name is one the inbox never reads: hidden, an office lock file, or a
/// checksum or signature beside a delivery ([`SIDECARS`]).
pub(crate) fn ignored(name: &str) -> bool {
    let lower = name.to_lowercase();
    name.starts_with('.')
        || name.starts_with("~$")
        || SIDECARS.iter().any(|ext| lower.ends_with(ext))
}

/// Whether a file name says it is still being written.
fn partial(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.ends_with(".part") || lower.ends_with(".tmp")
}

/// Lists `inbox` (not its subfolders, which are skipped): the files to take and those that
/// wait, in name order, so a night's order never depends on the clock.
pub(crate) fn list(inbox: &Path, settle: Duration, now: SystemTime) -> std::io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(inbox)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if ignored(&name) {
            continue;
        }
        // Symlinks are followed: a link dropped into the inbox is read as its target.
        let meta = match std::fs::metadata(entry.path()) {
            Ok(m) => m,
            Err(e) => {
                listing
                    .skipped
                    .push((entry.path(), Skipped::Unreadable(e.to_string())));
                continue;
            }
        };
        if meta.is_dir() {
            if !own_folder(&name) {
                listing.skipped.push((entry.path(), Skipped::Folder));
            }
            continue;
        }
        if !meta.is_file() {
            listing.skipped.push((entry.path(), Skipped::NotAFile));
            continue;
        }
        let (age, future) = age(&meta, now);
        if future {
            listing.future_mtime.push(entry.path());
        }
        let fresh = age.is_none_or(|age| age < settle);
        if partial(&name) || (settle > Duration::ZERO && fresh) {
            listing.waiting.push((entry.path(), Waiting::BeingWritten));
        } else {
            listing.take.push(entry.path());
        }
    }
    listing.take.sort();
    listing.waiting.sort();
    listing.skipped.sort();
    listing.future_mtime.sort();
    Ok(listing)
}

/// A free name for `name` in `dir`: `name` itself, else `stem (2).ext`, `stem (3).ext`, ...
pub(crate) fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if std::fs::symlink_metadata(&first).is_err() {
        return first;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (2u64..)
        .map(|n| dir.join(format!("{stem} ({n}){ext}")))
        .find(|p| std::fs::symlink_metadata(p).is_err())
        .unwrap_or(first)
}

/// Moves `file` into `dir` (created) under a free name; returns where it went.
pub(crate) fn move_into(file: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let to = free_name(dir, &name);
    // No rename over an existing file: a hard link fails if `to` appeared meanwhile.
    match std::fs::hard_link(file, &to) {
        Ok(()) => std::fs::remove_file(file)?,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return move_into(file, dir);
        }
        Err(_) => std::fs::rename(file, &to)?,
    }
    Ok(to)
}

/// Moves an unreadable `file` to `inbox/rejected/` and writes why beside it (`NAME.why`).
pub(crate) fn reject(file: &Path, inbox: &Path, why: &str) -> std::io::Result<PathBuf> {
    let to = move_into(file, &inbox.join("rejected"))?;
    let mut why_path = to.clone().into_os_string();
    why_path.push(".why");
    std::fs::write(PathBuf::from(why_path), format!("{why}\n"))?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_taken_but_hidden_lock_checksum_and_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "Export 2026-11 (1).csv",
            "-rf.csv",
            "Données été.csv",
            ".hidden.csv",
            "~$Export.xlsx",
            "big.csv.part",
            "x.TMP",
            "-rf.csv.md5",
            "Export.csv.SHA256",
            "Export.csv.asc",
        ] {
            std::fs::write(dir.path().join(name), "id\n1\n").unwrap();
        }
        std::fs::create_dir(dir.path().join("done")).unwrap();
        let later = SystemTime::now() + Duration::from_secs(3600);
        let l = list(dir.path(), Duration::from_secs(60), later).unwrap();
        let names: Vec<String> = l
            .take
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "-rf.csv",
                "Donn\u{e9}es \u{e9}t\u{e9}.csv",
                "Export 2026-11 (1).csv"
            ]
        );
        assert_eq!(l.waiting.len(), 2);
        // Just written: every file waits for the settle time.
        let now = list(dir.path(), Duration::from_secs(60), SystemTime::now()).unwrap();
        assert!(now.take.is_empty());
    }

    #[test]
    fn a_future_modification_time_is_judged_by_this_machines_change_time() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("skewed.csv");
        std::fs::write(&f, "id\n1\n").unwrap();
        let ahead = SystemTime::now() + Duration::from_secs(86_400);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(ahead)
            .unwrap();
        std::fs::create_dir(dir.path().join("exports-2026-12")).unwrap();
        std::fs::create_dir(dir.path().join("done")).unwrap();
        // Just changed here: it waits, named as a file from the future.
        let now = list(dir.path(), Duration::from_secs(60), SystemTime::now()).unwrap();
        assert_eq!(now.waiting.len(), 1);
        assert_eq!(now.future_mtime, std::slice::from_ref(&f));
        // Two hours later (still before its modification time): settled, taken.
        let later = SystemTime::now() + Duration::from_secs(7200);
        let l = list(dir.path(), Duration::from_secs(60), later).unwrap();
        assert_eq!(l.take, [f]);
        assert_eq!(
            l.skipped,
            [(dir.path().join("exports-2026-12"), Skipped::Folder)]
        );
    }

    #[test]
    fn a_move_never_replaces_a_file_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let done = dir.path().join("done");
        for round in 0..3 {
            let f = dir.path().join("a b.csv");
            std::fs::write(&f, format!("{round}")).unwrap();
            move_into(&f, &done).unwrap();
        }
        for (name, text) in [("a b.csv", "0"), ("a b (2).csv", "1"), ("a b (3).csv", "2")] {
            assert_eq!(std::fs::read_to_string(done.join(name)).unwrap(), text);
        }
        let f = dir.path().join("bad.csv");
        std::fs::write(&f, "x").unwrap();
        let to = reject(&f, dir.path(), "no id column").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("rejected/bad.csv.why")).unwrap(),
            "no id column\n"
        );
        assert!(to.is_file() && !f.exists());
    }
}
