//! The partner key: the [`Secret`] type it lives in, and the reader of the key file.
//!
//! Policy: the key is never printed by accident (`Debug` shows a placeholder, there is no
//! `Display`), and it is registered with the one scrubber ([`crate::text::register_secret`])
//! the moment it becomes a [`Secret`], here and nowhere else, so no text the program writes
//! after it is read can carry it; a key file holds the key alone on one line, at most 4096 bytes of UTF-8 without
//! a byte-order mark, and one readable by other users draws a warning.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::ConfigError;

/// A secret string. It cannot be printed by accident: `Debug` shows a placeholder and there is
/// no `Display`. Read it with [`Secret::expose`] at the one place that must send it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// The secret `value`, from now on removed from every text that leaves the program.
    pub fn new(value: impl Into<String>) -> Secret {
        let value: String = value.into();
        crate::text::register_secret(&value);
        Secret(Arc::from(value))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The largest key file read; a partner key is tens of bytes.
const MAX_KEY_FILE: u64 = 4096;

/// Reads the key file: at most [`MAX_KEY_FILE`] bytes, UTF-8 without a byte-order mark, one
/// line (a trailing line end is trimmed, as are spaces around the key).
pub(super) fn read_key_file(path: &Path) -> Result<Secret, ConfigError> {
    use std::io::Read;
    let read_error = |source| ConfigError::Read {
        what: "the partner key file",
        path: path.to_path_buf(),
        source,
    };
    let bad = |problem| ConfigError::BadKeyFile {
        path: path.to_path_buf(),
        problem,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE + 1).read_to_end(&mut bytes))
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(bad("is larger than 4096 bytes"));
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(bad(
            "starts with a byte-order mark (save it as UTF-8 without BOM)",
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad("is not UTF-8 text"))?;
    let text = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if text.contains(['\n', '\r']) {
        return Err(bad("has more than one line"));
    }
    let key = text.trim();
    if key.is_empty() {
        return Err(ConfigError::EmptyKey(path.to_path_buf()));
    }
    if key.chars().any(char::is_control) {
        return Err(bad("holds control characters"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                "the partner key file can be read by other users; chmod 600 it"
            );
        }
    }
    Ok(Secret::new(key))
}
