//! Keys and the key ring.
//!
//! A key is exactly 32 random bytes (XChaCha20-Poly1305's key size), given as base64 —
//! standard or URL-safe alphabet, with or without padding. Nothing is derived: a key of
//! another length is refused rather than stretched, so a password can never pass for a key.
//! Generate one with `head -c 32 /dev/urandom | base64`.
//!
//! Each key has a **key id**: the first 4 bytes of SHA-256 over a fixed label and the key.
//! It is written in every cookie so that reading picks the key at once, is stable across
//! rotations (it does not depend on the key's position in the ring), and reveals nothing
//! about the key (32 bits of a hash of 256 random bits). Errors and logs name keys by
//! position and id, never by any of their bytes.

use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use rand::RngExt as _;
use sha2::{Digest, Sha256};

/// The length of a key, in bytes.
pub const KEY_LEN: usize = 32;

/// The label hashed with a key to give its id (domain separation: the id is not a hash of
/// the bare key that could be compared with another system's).
const KEY_ID_LABEL: &[u8] = b"sessionkit encrypted-cookie key id\0";

const PADDING_INDIFFERENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD_ANY: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::STANDARD, PADDING_INDIFFERENT);
const URL_SAFE_ANY: GeneralPurpose =
    GeneralPurpose::new(&base64::alphabet::URL_SAFE, PADDING_INDIFFERENT);

/// A key was refused. The messages name the key by its position (1-based) and never
/// include any of its characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not base64.
    #[error(
        "cookie key #{index} is not valid base64 (expected {KEY_LEN} random bytes in base64, e.g. from `head -c 32 /dev/urandom | base64`)"
    )]
    Base64 {
        /// The key's position, from 1.
        index: usize,
    },
    /// Base64 of the wrong number of bytes.
    #[error(
        "cookie key #{index} is {len} bytes long; keys must be exactly {KEY_LEN} random bytes (e.g. `head -c 32 /dev/urandom | base64`)"
    )]
    Length {
        /// The key's position, from 1.
        index: usize,
        /// How many bytes it decoded to.
        len: usize,
    },
    /// No key at all.
    #[error("no cookie key given: the encrypted cookie store needs at least one key")]
    Empty,
    /// Two keys with the same id (in practice: the same key twice).
    #[error("cookie keys #{first} and #{second} are the same key (key id {id})")]
    Duplicate {
        /// The first key's position, from 1.
        first: usize,
        /// The second key's position, from 1.
        second: usize,
        /// Their key id.
        id: KeyId,
    },
}

/// A key's id: 4 bytes written in every cookie sealed under it. Shown as 8 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; 4]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// One 32-byte key, ready to seal and open cookies. Its `Debug` shows the key id only, and
/// the cipher state is wiped when it is dropped.
#[derive(Clone)]
pub struct CookieKey {
    id: KeyId,
    pub(crate) cipher: XChaCha20Poly1305,
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieKey").field("id", &self.id).finish()
    }
}

impl CookieKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> CookieKey {
        let digest = Sha256::new()
            .chain_update(KEY_ID_LABEL)
            .chain_update(bytes)
            .finalize();
        let id = KeyId([digest[0], digest[1], digest[2], digest[3]]);
        CookieKey {
            id,
            cipher: XChaCha20Poly1305::new(&(*bytes).into()),
        }
    }

    /// A key from base64 (standard or URL-safe alphabet, padding optional; surrounding
    /// whitespace ignored). `index` (from 1) is only used to name the key in the error.
    ///
    /// ```
    /// use sessionkit_encrypted_cookie::{CookieKey, KeyError};
    ///
    /// let key = CookieKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", 1).unwrap();
    /// assert_eq!(key.id().to_string().len(), 8);
    /// assert_eq!(
    ///     CookieKey::from_base64("c2hvcnQ=", 2).unwrap_err(),
    ///     KeyError::Length { index: 2, len: 5 }
    /// );
    /// ```
    pub fn from_base64(text: &str, index: usize) -> Result<CookieKey, KeyError> {
        let text = text.trim();
        let bytes = STANDARD_ANY
            .decode(text)
            .or_else(|_| URL_SAFE_ANY.decode(text))
            .map_err(|_| KeyError::Base64 { index })?;
        let array: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| KeyError::Length {
            index,
            len: bytes.len(),
        })?;
        Ok(CookieKey::from_bytes(&array))
    }

    /// A fresh random key (from the thread-local CSPRNG), for tests and tools.
    pub fn generate() -> CookieKey {
        let bytes: [u8; KEY_LEN] = rand::rng().random();
        CookieKey::from_bytes(&bytes)
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }
}

/// The keys a store accepts: new cookies are sealed under the **first**; cookies sealed
/// under any of them are read. Rotating is: put a new key first, keep the old one after it
/// until the cookies it sealed have expired (the session cookie age), then remove it. A
/// cookie under a removed key reads as no session (with a log line naming its key id).
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<CookieKey>,
}

impl KeyRing {
    /// A ring of these keys, the first being the one that seals. Refuses an empty list and
    /// the same key given twice.
    pub fn new(keys: Vec<CookieKey>) -> Result<KeyRing, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        for (second, key) in keys.iter().enumerate() {
            if let Some(first) = keys[..second].iter().position(|k| k.id == key.id) {
                return Err(KeyError::Duplicate {
                    first: first + 1,
                    second: second + 1,
                    id: key.id,
                });
            }
        }
        Ok(KeyRing { keys })
    }

    /// A ring with one key.
    pub fn single(key: CookieKey) -> KeyRing {
        KeyRing { keys: vec![key] }
    }

    /// Parses base64 keys separated by commas and/or line breaks (the form of
    /// `SESSIONKIT_COOKIE_KEYS` and of a key file); blank entries and lines starting with
    /// `#` are skipped. The first key seals.
    ///
    /// ```
    /// use sessionkit_encrypted_cookie::{KeyError, KeyRing};
    ///
    /// let new = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    /// let old = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";
    /// let ring = KeyRing::parse(&format!("# rotated 2026-12\n{new}\n{old}\n")).unwrap();
    /// assert_eq!(ring.len(), 2);
    /// assert_eq!(KeyRing::parse(&format!("{new},{old}")).unwrap().len(), 2);
    /// assert_eq!(KeyRing::parse(" \n").unwrap_err(), KeyError::Empty);
    /// assert!(KeyRing::parse(&format!("{new},not base64!")).unwrap_err().to_string().contains("#2"));
    /// ```
    pub fn parse(text: &str) -> Result<KeyRing, KeyError> {
        let keys = text
            .lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .flat_map(|line| line.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .enumerate()
            .map(|(i, entry)| CookieKey::from_base64(entry, i + 1))
            .collect::<Result<Vec<_>, _>>()?;
        KeyRing::new(keys)
    }

    /// The key that seals new cookies.
    pub fn primary(&self) -> &CookieKey {
        &self.keys[0]
    }

    /// The key with this id, if the ring holds it.
    pub fn get(&self, id: KeyId) -> Option<&CookieKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// The keys' ids, the sealing key first.
    pub fn ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|k| k.id).collect()
    }

    /// How many keys the ring holds (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_alphabets() {
        let bytes: Vec<u8> = (0..32).map(|i| i * 7 + 250).map(|b: u32| b as u8).collect();
        let std = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert!(std.contains(['+', '/']) || url.contains(['-', '_']));
        let a = CookieKey::from_base64(&std, 1).unwrap();
        let b = CookieKey::from_base64(&url, 1).unwrap();
        assert_eq!(a.id(), b.id());
        for len in [0usize, 16, 31, 33, 64] {
            let text = base64::engine::general_purpose::STANDARD.encode(vec![1u8; len]);
            assert_eq!(
                CookieKey::from_base64(&text, 3).unwrap_err(),
                KeyError::Length { index: 3, len }
            );
        }
    }

    #[test]
    fn errors_never_show_key_material() {
        let secret = "SECRETSECRETSECRETSECRETSECRETSECRETSECRET!!";
        let err = CookieKey::from_base64(secret, 1).unwrap_err();
        assert_eq!(err, KeyError::Base64 { index: 1 });
        assert!(!err.to_string().contains("SECRET"));
        let key = CookieKey::generate();
        let shown = format!("{key:?} {:?}", KeyRing::single(key.clone()));
        assert!(shown.contains(&key.id().to_string()), "{shown}");
        assert!(!shown.contains("cipher"), "{shown}");
    }

    #[test]
    fn ring_rules() {
        let a = CookieKey::generate();
        let b = CookieKey::generate();
        assert_eq!(KeyRing::new(vec![]).unwrap_err(), KeyError::Empty);
        let dup = KeyRing::new(vec![a.clone(), b.clone(), a.clone()]).unwrap_err();
        assert_eq!(
            dup,
            KeyError::Duplicate {
                first: 1,
                second: 3,
                id: a.id()
            }
        );
        let ring = KeyRing::new(vec![b.clone(), a.clone()]).unwrap();
        assert_eq!(ring.primary().id(), b.id());
        assert_eq!(ring.ids(), vec![b.id(), a.id()]);
        assert!(ring.get(a.id()).is_some());
        assert!(KeyRing::single(a.clone()).get(b.id()).is_none());
        assert!(!ring.is_empty());
    }

    #[test]
    fn key_ids_are_stable() {
        // Pinned: the id is part of the format (a changed derivation would orphan every
        // cookie in circulation). Value from `tests/check_vector.py`.
        let key = CookieKey::from_bytes(&[0u8; 32]);
        assert_eq!(key.id().to_string(), "75a61d00");
    }
}
