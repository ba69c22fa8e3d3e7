//! What the mock answers when nothing goes wrong: the code and message for an id, and the bytes
//! of its face image.
//!
//! Policy: every outcome is a pure function of the id through [`stable_hash`] (FNV-1a, the same
//! on every platform and release), so tests can check every stored result with
//! [`expected_code`] and no fixture file; about 72% of ids succeed, the rest spread over every
//! attack code, 12250, 11350, 11340 and 12299 (an attack code the shipped table does not list).
//! Faces (sent with 200 and attack codes) are unique per id, except a few attack ids sharing one
//! of three replayed photos and ids `face-NAME-...`, which all show the photo NAME
//! (`mock::planted_face`).

use crate::check::INTERNAL_ERROR;

/// FNV-1a: a stable hash, the same on every platform and release.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Finalise (splitmix) so nearby ids spread over the whole range.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The code the mock answers for `id` when no fault is injected and the account is open.
pub fn expected_code(id: &str) -> i64 {
    if id.trim().is_empty() {
        return 11301;
    }
    if id.starts_with("unknown-") {
        return 11340;
    }
    let h = stable_hash(id.as_bytes());
    match h % 1000 {
        0..=724 => 200,
        725..=904 => 12202 + ((h / 1000) % 21) as i64,
        905..=934 => 12250,
        935..=949 => INTERNAL_ERROR,
        950..=974 => 11340,
        _ => 12299,
    }
}

pub(super) fn message_for(code: i64) -> &'static str {
    match code {
        200 => "success",
        12202 => "Identified as a blink attack",
        12203 => "Identified as a mouth movement attack",
        12204 => "Identified as a partial face attack",
        12205 => "Identified as a video replay attack",
        12206 => "Identified as a black and white image",
        12207 => "Identified as a paper-based attack",
        12208 => "Identified as a frame (including paper or phone frame)",
        12209 => "Identified as a moire pattern attack",
        12210 => "Identified as a face superiority attack",
        12211 => "Identified as a paper-based attack (optical flow)",
        12212 => "Identified as a mask attack",
        12213 => "Identified as an ID card attack",
        12214 => "Identified as a 3D mask attack",
        12215 => "Identified as a synthetic image attack",
        12216 => "Identified as a black-market software attack",
        12217 => "Identified as a T-type mask attack",
        12218 => "Identified as a blurry image",
        12219 => "Suspected deepfake image attack",
        12220 => "Suspected high-resolution screen attack",
        12221 => "Light verification failed",
        12222 => "Injection attack",
        12250 => "Verification error",
        INTERNAL_ERROR => "Internal error",
        11340 => "liveness_id error",
        11301 => "liveness_id empty",
        305 => "Daily maximum volume reached",
        _ => "New attack type",
    }
}

/// Bytes that look like a JPEG (SOI, APP0, filler, EOI) of about `len` bytes.
pub(super) fn pseudo_jpeg(seed: u64, len: usize) -> Vec<u8> {
    if len == 0 {
        return Vec::new();
    }
    let mut out = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    let mut x = seed | 1;
    while out.len() + 2 < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len.saturating_sub(2).max(11));
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}
