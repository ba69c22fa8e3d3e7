//! The partner key: the [`Secret`] type it lives in, and the reader of the key file.
//!
//! Policy: the key is never printed by accident (`Debug` shows a placeholder, there is no
//! `Display`), and it is registered with the one scrubber ([`crate::text::register_secret`])
//! the moment it becomes a [`Secret`], here and nowhere else, so no text the program writes
//! after it is read can carry it; a key file holds the key alone on one line, at most 4096 bytes of UTF-8 without
//! a byte-order mark, and one readable by other users draws a warning.
//! - Wherever it comes from (key file or `TD_PARTNER_KEY`), a partner key is at least
//!   [`MIN_KEY_CHARS`] characters without control characters: TrustDecision assigns long keys,
//!   and a shorter value is a mistake (a truncated paste, the wrong variable) that would also
//!   make the scrubber blank those few letters out of every text the program writes.

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

    /// `value` as the partner key, or what is wrong with it (empty, too short to be a key, or
    /// holding control characters), worded to follow the key's source.
    pub(crate) fn partner_key(value: &str) -> Result<Secret, String> {
        let chars = value.chars().count();
        if chars == 0 {
            return Err("is empty".into());
        }
        if value.chars().any(char::is_control) {
            return Err("holds control characters".into());
        }
        if chars < MIN_KEY_CHARS {
            return Err(format!(
                "holds {chars} character(s), too short for a partner key (at least \
                 {MIN_KEY_CHARS}): is it the whole key?"
            ));
        }
        Ok(Secret::new(value))
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

/// The shortest value taken for a partner key.
pub(crate) const MIN_KEY_CHARS: usize = 8;

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
    let bad = |problem: &str| ConfigError::BadKeyFile {
        path: path.to_path_buf(),
        problem: problem.to_string(),
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
    Secret::partner_key(key).map_err(|problem| bad(&problem))
}
