//! Writing face images for users who asked for them (`--save-images DIR`).
//!
//! Policy: faces are biometric data, so nothing is written unless asked. A file name is built
//! from the id's safe characters plus a digest of the whole id, so no id (with `/`, `..`, NUL,
//! quotes, or thousands of bytes) can name a file outside DIR or collide with another id's file.
//! Files are written to a temporary name and renamed, so a crash never leaves half an image.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The file name (within the image directory) for `liveness_id`'s face.
pub fn file_name(liveness_id: &str) -> String {
    let safe: String = liveness_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(64)
        .collect();
    let digest = hex::encode(&Sha256::digest(liveness_id.as_bytes())[..8]);
    if safe.is_empty() {
        format!("{digest}.jpg")
    } else {
        format!("{safe}.{digest}.jpg")
    }
}

/// Writes `bytes` as `liveness_id`'s face inside `dir`; returns the path written.
pub fn save(dir: &Path, liveness_id: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(file_name(liveness_id));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_ids_stay_inside_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let long = "x".repeat(5000);
        let hostile = [
            "../../etc/passwd",
            "/abs/path",
            "a\0b",
            "..",
            "\"quoted\"",
            "C:\\win",
            long.as_str(),
            "",
        ];
        let mut names = std::collections::HashSet::new();
        for id in hostile {
            let name = file_name(id);
            assert!(!name.contains('/') && !name.contains('\\') && !name.contains('\0'));
            assert!(!name.starts_with('.'), "{name}");
            assert!(name.len() < 100);
            let path = save(dir.path(), id, b"jpeg").unwrap();
            assert_eq!(path.parent(), Some(dir.path()));
            names.insert(name);
        }
        assert_eq!(names.len(), hostile.len(), "names collide");
    }
}
