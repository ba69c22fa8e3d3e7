//! Files liveaudit reads whole: the config file, an export cursor, a codes file, a price list.
//!
//! Policy: each is read through a size cap ([`CONFIG_MAX_BYTES`], [`CURSOR_MAX_BYTES`]), so a
//! path that names `/dev/zero`, a FIFO that never ends or a file padded to gigabytes ends at
//! once with an error naming the cap, instead of filling memory first. (The partner key file
//! has its own, smaller cap in `config::secret`.)

use std::io::Read;
use std::path::Path;

/// The largest config file, codes file or price list read (a config of 40,000 accounts is
/// about 6 MB).
pub(crate) const CONFIG_MAX_BYTES: u64 = 16 << 20;
/// The largest export cursor read (liveaudit writes well under 200 bytes).
pub(crate) const CURSOR_MAX_BYTES: u64 = 64 << 10;

/// The bytes of `path`, refused (`InvalidData`, naming the cap) past `cap` bytes.
pub(crate) fn read(path: &Path, cap: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "larger than {} KiB, more than such a file ever holds; is this the right file?",
                cap >> 10
            ),
        ));
    }
    Ok(bytes)
}

/// The text of `path` (UTF-8), read through the same cap as [`read`].
pub(crate) fn read_to_string(path: &Path, cap: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, cap)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not UTF-8 text; save it as UTF-8",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_ends_at_the_cap() {
        let err = read(Path::new("/dev/zero"), 1024).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("larger than 1 KiB"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        std::fs::write(&p, "{}").unwrap();
        assert_eq!(read_to_string(&p, 2).unwrap(), "{}");
        assert!(read(&p, 1).is_err());
    }
}
