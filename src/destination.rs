//! Where a file the program writes goes, and how: a FIFO or a character device (or a symlink
//! to one) is written in place and never replaced by a regular file; opening a FIFO never blocks
//! (no reader within [`FIFO_WAIT`] is an error naming it); a regular file is staged beside its
//! destination and renamed over it, so a reader never sees half a file. Used by `-o` (output),
//! the run files (`--summary-file`, `--metrics-file`) and the state files of intake and nightly.
//! It imports nothing else of the crate, so the store can use it without reaching up.

use std::io::Write;
use std::path::{Path, PathBuf};

/// How long a write waits for a FIFO's reader (to open it, or to drain a full pipe).
pub(crate) const FIFO_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How a run file takes its new text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunFileWrite {
    /// Appended as one write (`--summary-file`: JSON lines).
    Append,
    /// Replaced whole: staged beside it and renamed over it (`--metrics-file`).
    Replace,
}

/// Writes a fetch's run file under the rules of this module: a FIFO or a device is written in
/// place (a FIFO without a reader within [`FIFO_WAIT`] is an error naming it), a regular file is
/// appended to or replaced atomically, a symlink is followed.
pub(crate) fn write_run_file(path: &Path, text: &[u8], how: RunFileWrite) -> std::io::Result<()> {
    let dest = resolved(path);
    if is_special(&dest) {
        let mut f = open_special(&dest)?;
        return write_all_until(&mut f, text, std::time::Instant::now() + FIFO_WAIT, &dest);
    }
    match how {
        RunFileWrite::Append => {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&dest)?;
            file.write_all(text)?;
            file.sync_all()
        }
        RunFileWrite::Replace => {
            let mut tmp = tempfile::Builder::new()
                .prefix(".liveaudit-run-file")
                .suffix(".tmp")
                .tempfile_in(parent_dir(&dest))?;
            tmp.write_all(text)?;
            tmp.as_file().sync_all()?;
            if let Some(p) = new_file_permissions() {
                tmp.as_file().set_permissions(p)?;
            }
            tmp.persist(&dest).map_err(|e| e.error)?;
            Ok(())
        }
    }
}

/// The path a write lands on: a symlink's final target (so the link itself is never replaced by
/// a regular file), else the path as given.
pub(crate) fn resolved(path: &Path) -> PathBuf {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    match is_link {
        true => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
        false => path.to_path_buf(),
    }
}

pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// An existing path that is not a regular file or a directory: a FIFO, a device, a socket.
pub(crate) fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// Opens a FIFO or device for writing without blocking: a FIFO with no reader (`ENXIO`) is
/// tried again until [`FIFO_WAIT`] has passed, then named in the error.
#[cfg(unix)]
pub(crate) fn open_special(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let until = std::time::Instant::now() + FIFO_WAIT;
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
                if std::time::Instant::now() >= until {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "{} is a FIFO nobody read within {} s; start its reader first, or \
                             give a regular file",
                            path.display(),
                            FIFO_WAIT.as_secs()
                        ),
                    ));
                }
                // Polling an open that has no readiness event to wait on.
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn open_special(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open(path)
}

/// Clears `O_NONBLOCK` on a file [`open_special`] opened.
#[cfg(unix)]
pub(crate) fn set_blocking(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function's caller owns; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn set_blocking(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

/// Writes all of `text` to a non-blocking file, waiting for a full pipe to drain until `until`.
fn write_all_until(
    f: &mut std::fs::File,
    mut text: &[u8],
    until: std::time::Instant,
    path: &Path,
) -> std::io::Result<()> {
    while !text.is_empty() {
        match f.write(text) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => text = &text[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if std::time::Instant::now() >= until {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("{}: its reader stopped reading", path.display()),
                    ));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(unix)]
pub(crate) fn new_file_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    Some(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
pub(crate) fn new_file_permissions() -> Option<std::fs::Permissions> {
    None
}

/// Replaces `path` with `text` atomically: a temporary file beside it, synced, then renamed (a
/// FIFO or device is written in place, as [`write_run_file`] does).
pub(crate) fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    write_run_file(path, text.as_bytes(), RunFileWrite::Replace)
}
