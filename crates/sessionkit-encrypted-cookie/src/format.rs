//! The cookie format, version 1: pure functions, no logging (the store logs).
//!
//! ```text
//! value     = base64url, no padding ( header || nonce || ciphertext || tag )
//! header    = version (1 byte, 0x01) || key id (4 bytes)
//! nonce     = 24 random bytes (XChaCha20-Poly1305's extended nonce)
//! plaintext = issued-at (8 bytes, big-endian signed Unix seconds) || the session as a JSON object
//! tag       = 16 bytes; the header is the associated data, so it cannot be altered either
//! ```
//!
//! The version byte lets a later format be introduced beside this one; the key id picks the
//! key. The plaintext is not compressed: compressing secrets together with data an attacker
//! can influence leaks them through the length (CRIME, BREACH).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::XNonce;
use chacha20poly1305::aead::{Aead, Payload};
use rand::RngExt as _;

use crate::key::{CookieKey, KeyId, KeyRing};

/// The format version written by this crate.
pub const VERSION: u8 = 1;

const HEADER_LEN: usize = 1 + 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const ISSUED_AT_LEN: usize = 8;

/// The shortest valid value, in bytes before base64: header, nonce, tag and the issue time.
pub const MIN_SEALED_LEN: usize = HEADER_LEN + NONCE_LEN + TAG_LEN + ISSUED_AT_LEN;

/// The longest value [`open`] looks at, in characters: nothing longer can have been
/// written (the cookie-size check refuses it), so nothing longer is decoded or decrypted.
pub const MAX_VALUE_LEN: usize = sessionkit_core::store::MAX_COOKIE_SIZE;

/// Why a value was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Longer than any value this store writes.
    #[error("longer than {MAX_VALUE_LEN} characters")]
    TooLong,
    /// Not unpadded URL-safe base64.
    #[error("not base64")]
    NotBase64,
    /// Shorter than the smallest sealed value.
    #[error("truncated")]
    Truncated,
    /// A version this crate does not read.
    #[error("unknown format version {0}")]
    UnknownVersion(u8),
    /// Sealed under a key the ring does not hold (removed, or another deployment's).
    #[error("sealed under a key not in the key ring (key id {0})")]
    UnknownKey(KeyId),
    /// The tag did not verify: altered, cut or forged.
    #[error("authentication failed")]
    Forged,
}

/// What [`open`] read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The issue time, Unix seconds.
    pub issued_at: i64,
    /// The key that had sealed it.
    pub key_id: KeyId,
    /// The session's JSON (not yet parsed).
    pub json: String,
}

/// Seals `json` issued at `issued_at` (Unix seconds) under `key`, with a fresh random nonce.
///
/// [`open`] refuses values longer than [`MAX_VALUE_LEN`] unread, so a session of more than
/// about 3 KB of JSON seals to a value that does not open: the store never writes one (its
/// `encode` refuses it with the cookie-size error).
pub fn seal(key: &CookieKey, issued_at: i64, json: &str) -> String {
    let nonce: [u8; NONCE_LEN] = rand::rng().random();
    seal_with_nonce(key, &nonce, issued_at, json)
}

/// [`seal`] with a given nonce: for test vectors only (a nonce must never repeat under a
/// key).
pub(crate) fn seal_with_nonce(
    key: &CookieKey,
    nonce: &[u8; NONCE_LEN],
    issued_at: i64,
    json: &str,
) -> String {
    let header = header(key.id());
    let mut plaintext = Vec::with_capacity(ISSUED_AT_LEN + json.len());
    plaintext.extend_from_slice(&issued_at.to_be_bytes());
    plaintext.extend_from_slice(json.as_bytes());
    let sealed = key
        .cipher
        .encrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: &plaintext,
                aad: &header,
            },
        )
        .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 seals any message under 256 GiB"));
    let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&sealed);
    URL_SAFE_NO_PAD.encode(out)
}

fn header(id: KeyId) -> [u8; HEADER_LEN] {
    let [a, b, c, d] = id.0;
    [VERSION, a, b, c, d]
}

/// Opens a value sealed by [`seal`] under any key of `ring`. Never panics, whatever the
/// input (fuzzed: `fuzz/fuzz_targets/encrypted_cookie.rs`).
pub fn open(ring: &KeyRing, value: &str) -> Result<Opened, OpenError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(OpenError::TooLong);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| OpenError::NotBase64)?;
    if bytes.len() < MIN_SEALED_LEN {
        return Err(OpenError::Truncated);
    }
    let (header, rest) = bytes.split_at(HEADER_LEN);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    if header[0] != VERSION {
        return Err(OpenError::UnknownVersion(header[0]));
    }
    let key_id = KeyId([header[1], header[2], header[3], header[4]]);
    let key = ring.get(key_id).ok_or(OpenError::UnknownKey(key_id))?;
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Truncated)?;
    let plaintext = key
        .cipher
        .decrypt(
            &XNonce::from(nonce),
            Payload {
                msg: sealed,
                aad: header,
            },
        )
        .map_err(|_| OpenError::Forged)?;
    let (time, json) = plaintext.split_at(ISSUED_AT_LEN);
    let time: [u8; ISSUED_AT_LEN] = time.try_into().map_err(|_| OpenError::Truncated)?;
    // Authentic bytes are what `seal` wrote, so UTF-8; checked all the same.
    let json = String::from_utf8(json.to_vec()).map_err(|_| OpenError::Forged)?;
    Ok(Opened {
        issued_at: i64::from_be_bytes(time),
        key_id,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> CookieKey {
        CookieKey::from_bytes(&[byte; 32])
    }

    #[test]
    fn pinned_vector() {
        // The format is a contract with every cookie in circulation: this value, sealed
        // with a fixed key and nonce, must keep opening (and sealing to the same bytes).
        // Checked against an independent implementation (HChaCha20 plus the IETF
        // ChaCha20-Poly1305 of Python's `cryptography`): `tests/check_vector.py`.
        let k = key(7);
        let value = seal_with_nonce(&k, &[9; 24], 1_767_225_600, r#"{"count":1}"#);
        assert_eq!(value, PINNED);
        let opened = open(&KeyRing::single(k.clone()), PINNED).unwrap();
        assert_eq!(opened.issued_at, 1_767_225_600);
        assert_eq!(opened.json, r#"{"count":1}"#);
        assert_eq!(opened.key_id, k.id());
    }

    const PINNED: &str =
        "AUmgnr0JCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQm-cuKKFf_AYo8wa1MdHXPJEMLKGp7y3ebH44oJK0_EUirXPg";

    #[test]
    fn every_failure_has_its_reason() {
        let a = key(1);
        let b = key(2);
        let ring = KeyRing::single(a.clone());
        let good = seal(&a, 5, r#"{"k":"value"}"#);
        assert_eq!(open(&ring, &good).unwrap().issued_at, 5);
        assert_eq!(
            open(&ring, &"A".repeat(MAX_VALUE_LEN + 1)),
            Err(OpenError::TooLong)
        );
        assert_eq!(open(&ring, "not base64!"), Err(OpenError::NotBase64));
        assert_eq!(open(&ring, &format!("{good}=")), Err(OpenError::NotBase64));
        assert_eq!(open(&ring, ""), Err(OpenError::Truncated));
        assert_eq!(open(&ring, &good[..good.len() - 4]), Err(OpenError::Forged));
        let short = URL_SAFE_NO_PAD.encode([1u8; MIN_SEALED_LEN - 1]);
        assert_eq!(open(&ring, &short), Err(OpenError::Truncated));
        assert_eq!(
            open(&ring, &seal(&b, 5, "{}")),
            Err(OpenError::UnknownKey(b.id()))
        );
        // A different version byte.
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).unwrap();
        bytes[0] = 2;
        assert_eq!(
            open(&ring, &URL_SAFE_NO_PAD.encode(&bytes)),
            Err(OpenError::UnknownVersion(2))
        );
        // Every single-bit flip past the header is caught by the tag; in the key id, the
        // key is not found (or, improbably, another key fails the tag).
        let bytes = URL_SAFE_NO_PAD.decode(&good).unwrap();
        for i in 1..bytes.len() {
            for bit in 0..8 {
                let mut flipped = bytes.clone();
                flipped[i] ^= 1 << bit;
                let err = open(&ring, &URL_SAFE_NO_PAD.encode(&flipped)).unwrap_err();
                if i < HEADER_LEN {
                    assert!(matches!(err, OpenError::UnknownKey(_)), "{i}/{bit}: {err}");
                } else {
                    assert_eq!(err, OpenError::Forged, "{i}/{bit}");
                }
            }
        }
        // A key id rewritten to another key of the ring fails the tag (the header is
        // authenticated, and the other key cannot open it anyway).
        let both = KeyRing::new(vec![a.clone(), b.clone()]).unwrap();
        let mut swapped = bytes.clone();
        swapped[1..HEADER_LEN].copy_from_slice(&b.id().0);
        assert_eq!(
            open(&both, &URL_SAFE_NO_PAD.encode(&swapped)),
            Err(OpenError::Forged)
        );
    }

    #[test]
    fn nonces_differ() {
        let a = key(1);
        assert_ne!(seal(&a, 0, "{}"), seal(&a, 0, "{}"));
    }

    #[test]
    fn overhead() {
        let a = key(1);
        let value = seal(&a, 0, "");
        assert_eq!(value.len(), (MIN_SEALED_LEN * 4).div_ceil(3));
    }
}
