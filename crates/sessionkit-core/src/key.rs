//! Session keys: generation and validation of what clients send.

use std::fmt;

use rand::RngExt as _;
use sha2::{Digest, Sha256};

/// The characters of a generated key, as in Django (lower case on purpose: keys become
/// file names on case-insensitive file systems).
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a generated key: 32 characters of 36 symbols, about 165 bits.
pub(crate) const KEY_LEN: usize = 32;

/// The shortest cookie value Django treats as a key; shorter values are discarded (and the
/// cookie deleted).
pub(crate) const MIN_KEY_LEN: usize = 8;

/// The longest key any store can hold (Django's `session_key varchar(40)`).
pub(crate) const MAX_KEY_LEN: usize = 40;

/// A session key: 8 to 40 characters of `[a-z0-9]`. Generated keys have 32.
///
/// It is a bearer token, so its `Debug` form shows only a short fingerprint, never the key.
///
/// ```
/// use sessionkit_core::SessionKey;
///
/// let key = SessionKey::generate();
/// assert_eq!(key.as_str().len(), 32);
/// assert!(!format!("{key:?}").contains(key.as_str()));
/// assert!(SessionKey::parse("abc").is_none());
/// assert!(SessionKey::parse("ABCDEFGHIJ").is_none());
/// assert!(SessionKey::parse("abcdefgh").is_some());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionKey {
    len: u8,
    buf: [u8; MAX_KEY_LEN],
}

impl SessionKey {
    /// A new random key from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate() -> SessionKey {
        let mut rng = rand::rng();
        let mut buf = [0u8; MAX_KEY_LEN];
        let mut i = 0;
        while i < KEY_LEN {
            // Rejection sampling keeps the distribution uniform: 252 = 7 * 36.
            let b: u8 = rng.random();
            if b < 252 {
                buf[i] = ALPHABET[(b % 36) as usize];
                i += 1;
            }
        }
        SessionKey {
            len: KEY_LEN as u8,
            buf,
        }
    }

    /// Accepts a key a client sent, if some store could hold it: 8 to 40 characters of
    /// `[a-z0-9]`.
    pub fn parse(s: &str) -> Option<SessionKey> {
        let bytes = s.as_bytes();
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&bytes.len())
            || !bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return None;
        }
        let mut buf = [0u8; MAX_KEY_LEN];
        buf[..bytes.len()].copy_from_slice(bytes);
        Some(SessionKey {
            len: bytes.len() as u8,
            buf,
        })
    }

    /// The key's bytes (ASCII): what [`as_str`](SessionKey::as_str) spells, without its
    /// UTF-8 check, for callers that hash or compare the key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// A stripe for the key among `n` (0 when `n` is 0): a hash of its bytes that is the
    /// same in every process and every version, since the file store names its lock
    /// files by it; the engine's per-session save queue spreads keys with it too. (The
    /// hash is a `usize`: for an `n` that is not a power of two, 32- and 64-bit targets
    /// may disagree; both callers use powers of two.)
    ///
    /// ```
    /// use sessionkit_core::SessionKey;
    ///
    /// let key = SessionKey::parse("abcdefgh12345678").unwrap();
    /// assert_eq!(key.stripe(64), 8);
    /// assert_eq!(key.stripe(1024), 264);
    /// assert_eq!(key.stripe(0), 0);
    /// ```
    pub fn stripe(&self, n: usize) -> usize {
        let h = self.as_bytes().iter().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(*b))
        });
        h.checked_rem(n).unwrap_or(0)
    }

    /// The key as text (the cookie value).
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (generate and parse guarantee it).
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or_default()
    }

    /// The key as stored when keys are hashed at rest: 32 characters of `[a-z0-9]` derived
    /// from SHA-256 of the key. A copy of the store (a backup, a leaked dump) then holds no
    /// usable cookie value.
    ///
    /// ```
    /// use sessionkit_core::SessionKey;
    ///
    /// let key = SessionKey::generate();
    /// assert_ne!(key.hashed(), key);
    /// assert_eq!(key.hashed(), key.hashed());
    /// assert_eq!(key.hashed().as_str().len(), 32);
    /// ```
    pub fn hashed(&self) -> SessionKey {
        let mut h = Sha256::new();
        h.update(b"sessionkit-key-at-rest:");
        h.update(self.as_bytes());
        let digest = h.finalize();
        let mut buf = [0u8; MAX_KEY_LEN];
        for (i, b) in digest.iter().take(KEY_LEN).enumerate() {
            buf[i] = ALPHABET[usize::from(*b) % ALPHABET.len()];
        }
        SessionKey {
            len: KEY_LEN as u8,
            buf,
        }
    }

    /// A short, non-reversible fingerprint for logs: the first 8 hex digits of the key's
    /// SHA-256. Logs never carry the key itself.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.as_str())
    }
}

/// Keys order as their text does (byte-wise), as every store's listing pages them.
impl Ord for SessionKey {
    fn cmp(&self, other: &SessionKey) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for SessionKey {
    fn partial_cmp(&self, other: &SessionKey) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({})", self.fingerprint())
    }
}

/// The first 8 hex digits of a key's SHA-256: enough to correlate log lines, useless to an
/// attacker.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 4]);

impl Fingerprint {
    /// Fingerprints any secret-bearing text (a key, a cookie value).
    pub fn of(text: &str) -> Fingerprint {
        let digest = Sha256::digest(text.as_bytes());
        Fingerprint([digest[0], digest[1], digest[2], digest[3]])
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What the session cookie of a request says, before any store is asked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKey {
    /// No session cookie.
    Absent,
    /// A cookie shorter than 8 characters (or empty): Django discards it and deletes the
    /// cookie even when the session is never touched.
    TooShort,
    /// 8 characters or more, but no store could hold it (wrong alphabet, too long): an
    /// unknown key, decided without asking the store.
    Impossible,
    /// A well-formed key that may exist.
    Key(SessionKey),
}

impl ClientKey {
    /// Classifies a cookie value.
    pub fn classify(value: Option<&str>) -> ClientKey {
        match value {
            None => ClientKey::Absent,
            Some(v) if v.chars().count() < MIN_KEY_LEN => ClientKey::TooShort,
            Some(v) => SessionKey::parse(v).map_or(ClientKey::Impossible, ClientKey::Key),
        }
    }

    /// Whether the request carried the cookie at all.
    pub fn present(&self) -> bool {
        !matches!(self, ClientKey::Absent)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The stripe is part of the file store's layout on disk (its lock files' names), so
    /// it must never change: these values were computed once, outside this code.
    #[test]
    fn stripe_is_stable() {
        let key = SessionKey::parse("abcdefgh12345678").unwrap();
        assert_eq!(key.stripe(64), 8);
        assert_eq!(key.stripe(1024), 264);
        assert_eq!(key.stripe(1), 0);
        assert_eq!(key.stripe(0), 0);
        assert_eq!(key.as_bytes(), key.as_str().as_bytes());
    }

    #[test]
    fn generated_keys_have_django_shape_and_do_not_repeat() {
        let mut seen = HashSet::new();
        let mut counts = [0usize; 36];
        for _ in 0..2000 {
            let k = SessionKey::generate();
            let s = k.as_str();
            assert_eq!(s.len(), 32);
            assert!(s.bytes().all(|b| ALPHABET.contains(&b)));
            for b in s.bytes() {
                counts[ALPHABET.iter().position(|a| *a == b).unwrap()] += 1;
            }
            assert!(seen.insert(s.to_owned()));
        }
        // 64,000 symbols over 36 bins: each near 1,778; a biased generator would miss.
        assert!(
            counts.iter().all(|c| (1400..2200).contains(c)),
            "{counts:?}"
        );
    }

    #[test]
    fn classify_follows_django_and_the_store_limits() {
        assert_eq!(ClientKey::classify(None), ClientKey::Absent);
        assert_eq!(ClientKey::classify(Some("")), ClientKey::TooShort);
        assert_eq!(ClientKey::classify(Some("1234567")), ClientKey::TooShort);
        assert!(matches!(
            ClientKey::classify(Some("12345678")),
            ClientKey::Key(_)
        ));
        assert_eq!(ClientKey::classify(Some("1234567A")), ClientKey::Impossible);
        assert_eq!(
            ClientKey::classify(Some(&"a".repeat(41))),
            ClientKey::Impossible
        );
        assert!(matches!(
            ClientKey::classify(Some(&"a".repeat(40))),
            ClientKey::Key(_)
        ));
        assert_eq!(
            ClientKey::classify(Some("../../etc/passwd")),
            ClientKey::Impossible
        );
    }

    #[test]
    fn keys_order_as_text() {
        let a = SessionKey::parse("bbbbbbbb").unwrap();
        let b = SessionKey::parse("abcdefghijklmnop").unwrap();
        assert!(b < a, "byte order, not length first");
    }

    #[test]
    fn debug_and_fingerprint_hide_the_key() {
        let k = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains("abcdefgh"), "{dbg}");
        assert_eq!(k.fingerprint().to_string().len(), 8);
    }
}
