//! `salted_hmac` and the secrets it is keyed with.

use std::fmt;
use std::sync::Arc;

use ::hmac::digest::block_api::EagerHash;
use ::hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------------------
// HMAC

/// A keyed HMAC whose key is a digest output, zero-padded to the block size (which is
/// exactly what HMAC does with a short key, so no fallible key-length path is involved).
pub(super) fn hmac_from_digest<D>(derived: &[u8]) -> Hmac<D>
where
    D: EagerHash,
    Hmac<D>: KeyInit,
{
    let mut key = ::hmac::digest::Key::<Hmac<D>>::default();
    for (k, d) in key.iter_mut().zip(derived) {
        *k = *d;
    }
    <Hmac<D> as KeyInit>::new(&key)
}

/// `SHA256(key_salt ++ secret)` as Django's `salted_hmac` derives it (generic over the
/// hash for the legacy SHA-1 form, which is tested but not exposed).
pub(super) fn salted_hmac_key<D>(key_salt: &str, secret: &str) -> Hmac<D>
where
    D: EagerHash,
    Hmac<D>: KeyInit,
{
    let derived = D::new()
        .chain_update(key_salt.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize();
    hmac_from_digest::<D>(&derived)
}

/// The keyed HMAC-SHA256 state of `salted_hmac(key_salt, _, secret)`, to clone per use.
pub(crate) fn salted_hmac_state(key_salt: &str, secret: &str) -> Hmac<Sha256> {
    salted_hmac_key::<Sha256>(key_salt, secret)
}

#[cfg(test)]
pub(super) fn salted_hmac_generic<D>(key_salt: &str, value: &[u8], secret: &str) -> Vec<u8>
where
    D: EagerHash,
    Hmac<D>: KeyInit + Mac,
{
    let mut mac = salted_hmac_key::<D>(key_salt, secret);
    mac.update(value);
    mac.finalize().into_bytes().to_vec()
}

/// Django's `crypto.salted_hmac(key_salt, value, secret, algorithm="sha256")`:
/// `HMAC-SHA256(key = SHA256(key_salt ++ secret), value)`.
///
/// ```
/// use sessionkit_django::signing::salted_hmac;
///
/// let mac = salted_hmac(
///     "django.contrib.sessions.SessionStoresigner",
///     b"abc",
///     "anchor-secret-key-for-vectors",
/// );
/// assert_eq!(mac[..4], [0xcf, 0xa0, 0xac, 0xef]);
/// ```
pub fn salted_hmac(key_salt: &str, value: &[u8], secret: &str) -> [u8; 32] {
    let mut mac = salted_hmac_key::<Sha256>(key_salt, secret);
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// The HMAC key `salted_hmac` derives: `SHA256(key_salt ++ secret)`. Exposed for
/// diagnostics and tests; it is key material, treat it as such.
pub fn salted_hmac_derived_key(key_salt: &str, secret: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(key_salt.as_bytes())
        .chain_update(secret.as_bytes())
        .finalize()
        .into()
}

// ---------------------------------------------------------------------------------------
// Secrets

/// Django's `SECRET_KEY` plus `SECRET_KEY_FALLBACKS`: values are signed with the current
/// key only and verified against the current key, then each fallback in order.
///
/// `Debug` never shows key material.
///
/// ```
/// use sessionkit_django::signing::Secrets;
///
/// let secrets = Secrets::new("new-key").with_fallback("old-key");
/// assert_eq!(secrets.current(), "new-key");
/// assert_eq!(secrets.fallbacks().collect::<Vec<_>>(), ["old-key"]);
/// assert_eq!(format!("{secrets:?}"), "Secrets { current: <redacted>, fallbacks: 1 }");
/// ```
#[derive(Clone)]
pub struct Secrets {
    current: Arc<str>,
    fallbacks: Arc<[Arc<str>]>,
}

impl Secrets {
    /// Secrets with `current` as `SECRET_KEY` and no fallbacks.
    pub fn new(current: impl Into<String>) -> Secrets {
        Secrets {
            current: Arc::from(current.into()),
            fallbacks: Arc::from(Vec::new()),
        }
    }

    /// Adds one `SECRET_KEY_FALLBACKS` entry (tried after the current key and the
    /// fallbacks added before it).
    #[must_use]
    pub fn with_fallback(self, key: impl Into<String>) -> Secrets {
        self.with_fallbacks([key])
    }

    /// Adds several `SECRET_KEY_FALLBACKS` entries, in order.
    #[must_use]
    pub fn with_fallbacks<I, K>(self, keys: I) -> Secrets
    where
        I: IntoIterator<Item = K>,
        K: Into<String>,
    {
        let mut all: Vec<Arc<str>> = self.fallbacks.iter().cloned().collect();
        all.extend(keys.into_iter().map(|k| Arc::from(k.into())));
        Secrets {
            current: self.current,
            fallbacks: Arc::from(all),
        }
    }

    /// `SECRET_KEY`.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// `SECRET_KEY_FALLBACKS`, in order.
    pub fn fallbacks(&self) -> impl Iterator<Item = &str> {
        self.fallbacks.iter().map(|k| &**k)
    }

    /// The current key, then the fallbacks: the order in which values are verified.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(&*self.current).chain(self.fallbacks())
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("current", &format_args!("<redacted>"))
            .field("fallbacks", &self.fallbacks.len())
            .finish()
    }
}
