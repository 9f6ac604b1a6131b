//! [`Signer`]: Django's `dumps`/`loads` framing.

use std::fmt;
use std::sync::Arc;

use ::hmac::{Hmac, Mac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::Sha256;
use time::OffsetDateTime;

use super::mac::salted_hmac_key;
use super::zlib::compression_cannot_pay;
use super::*;

// ---------------------------------------------------------------------------------------
// Signer

/// Django's `TimestampSigner` for one salt, with the HMAC keys derived once.
///
/// Cheap to clone (the keyed states are shared). `Debug` shows the salt and the number
/// of keys, never key material.
#[derive(Clone)]
pub struct Signer {
    inner: Arc<SignerInner>,
    max_decompressed: usize,
}

struct SignerInner {
    salt: Box<str>,
    /// Keyed HMAC states: the current key first, then the fallbacks.
    keys: Box<[Hmac<Sha256>]>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("salt", &self.inner.salt)
            .field("keys", &self.inner.keys.len())
            .field("max_decompressed", &self.max_decompressed)
            .finish()
    }
}

impl Signer {
    /// A signer for `salt` (e.g. `"django.contrib.sessions.SessionStore"`): derives
    /// `SHA256(salt + "signer" + key)` for the current key and every fallback.
    pub fn new(secrets: &Secrets, salt: &str) -> Signer {
        let key_salt = format!("{salt}signer");
        let keys = secrets
            .all()
            .map(|secret| salted_hmac_key::<Sha256>(&key_salt, secret))
            .collect();
        Signer {
            inner: Arc::new(SignerInner {
                salt: salt.into(),
                keys,
            }),
            max_decompressed: DEFAULT_MAX_DECOMPRESSED,
        }
    }

    /// Sets how many bytes a payload may decode to (after inflating, if compressed)
    /// before [`loads`](Signer::loads) refuses it with [`SigningError::TooLarge`]
    /// (default [`DEFAULT_MAX_DECOMPRESSED`]).
    #[must_use]
    pub fn with_max_decompressed(mut self, bytes: usize) -> Signer {
        self.max_decompressed = bytes;
        self
    }

    /// The salt.
    pub fn salt(&self) -> &str {
        &self.inner.salt
    }

    /// The decompression limit in bytes.
    pub fn max_decompressed(&self) -> usize {
        self.max_decompressed
    }

    fn mac(&self, index: usize, value: &str) -> Option<Hmac<Sha256>> {
        let mut mac = self.inner.keys.get(index)?.clone();
        mac.update(value.as_bytes());
        Some(mac)
    }

    /// Django's `Signer.signature(value)` with the current key: base64 of the HMAC (43
    /// characters).
    ///
    /// ```
    /// use sessionkit_django::signing::{Secrets, Signer};
    ///
    /// let signer = Signer::new(
    ///     &Secrets::new("anchor-secret-key-for-vectors"),
    ///     "django.contrib.sessions.SessionStore",
    /// );
    /// assert_eq!(signer.signature("abc"), "z6Cs72TascvXljTyGeo242oCCe1kpOCmul9pI81p1RY");
    /// ```
    pub fn signature(&self, value: &str) -> String {
        match self.mac(0, value) {
            Some(mac) => b64_encode(&mac.finalize().into_bytes()),
            // `Signer::new` always derives the current key.
            None => String::new(),
        }
    }

    /// Django's `Signer.sign(value)`: `value ":" signature`.
    pub fn sign(&self, value: &str) -> String {
        let sig = self.signature(value);
        let mut out = String::with_capacity(value.len() + 1 + sig.len());
        out.push_str(value);
        out.push(':');
        out.push_str(&sig);
        out
    }

    /// Which key signed `value` (0 = current, `n` = the n-th fallback), comparing in
    /// constant time. `None` when no key did.
    pub fn verify(&self, value: &str, signature: &str) -> Option<usize> {
        // Only the canonical 43-character encoding of a 32-byte MAC can match: Django
        // compares the base64 text itself.
        if signature.len() != 43 {
            return None;
        }
        let tag = URL_SAFE_NO_PAD.decode(signature).ok()?;
        (0..self.inner.keys.len()).find(|&i| {
            self.mac(i, value)
                .is_some_and(|mac| mac.verify_slice(&tag).is_ok())
        })
    }

    /// Django's `Signer.unsign(signed)`: splits the signature off at the last `:` and
    /// verifies it against the current key, then each fallback. Returns the signed value.
    ///
    /// ```
    /// use sessionkit_django::signing::{Secrets, Signer, SigningError};
    ///
    /// let signer = Signer::new(&Secrets::new("k"), "salt");
    /// let signed = signer.sign("hello");
    /// assert_eq!(signer.unsign(&signed), Ok("hello"));
    /// assert_eq!(signer.unsign("hello:nope"), Err(SigningError::BadSignature));
    /// ```
    pub fn unsign<'a>(&self, signed: &'a str) -> Result<&'a str, SigningError> {
        let (value, sig) = signed.rsplit_once(':').ok_or(SigningError::BadSignature)?;
        match self.verify(value, sig) {
            Some(_) => Ok(value),
            None => Err(SigningError::BadSignature),
        }
    }

    /// Django's `signing.dumps` for an already serialized JSON text, signed with the
    /// current key at `now` (whole seconds).
    ///
    /// With `compress`, the text is zlib-compressed (see [`zlib_compress`]) and the
    /// compressed form used only if it is at least two bytes shorter, as Django does.
    ///
    /// The text should be ASCII, as the core JSON writer produces: Django decodes the
    /// bytes as latin-1, so any other character would come back as mojibake.
    pub fn dumps(&self, json_text: &str, compress: bool, now: OffsetDateTime) -> String {
        let data = json_text.as_bytes();
        let compressed = if compress && !compression_cannot_pay(data) {
            zlib_compress(data)
        } else {
            None
        };
        let mut value = String::with_capacity(data.len() * 4 / 3 + 64);
        match compressed {
            // Python: `if len(compressed) < (len(data) - 1)`.
            Some(c) if c.len() + 1 < data.len() => {
                value.push('.');
                URL_SAFE_NO_PAD.encode_string(&c, &mut value);
            }
            _ => URL_SAFE_NO_PAD.encode_string(data, &mut value),
        }
        value.push(':');
        value.push_str(&b62_encode(now.unix_timestamp()));
        let sig = self.signature(&value);
        value.push(':');
        value.push_str(&sig);
        value
    }

    /// Django's `signing.loads` up to (not including) `json.loads`: verifies the signature
    /// (current key, then fallbacks, in constant time), checks the age when `max_age` is
    /// given (expired iff `now - timestamp > max_age`; a timestamp in the future is
    /// fine), then base64-decodes, inflates (with the size limit) and decodes the bytes as
    /// latin-1. Returns the JSON text and the signing time.
    pub fn loads(
        &self,
        signed: &str,
        max_age: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<(String, OffsetDateTime), SigningError> {
        let value = self.unsign(signed)?;
        let (payload, ts) = value.rsplit_once(':').ok_or(SigningError::Malformed)?;
        let ts = b62_decode(ts).ok_or(SigningError::Malformed)?;
        let issued_at =
            OffsetDateTime::from_unix_timestamp(ts).map_err(|_| SigningError::Malformed)?;
        if let Some(max_age) = max_age {
            // Python compares float seconds: `time.time() - timestamp > max_age`.
            if now - issued_at > time::Duration::seconds(max_age) {
                return Err(SigningError::Expired);
            }
        }
        let (compressed, b64) = match payload.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, payload),
        };
        let mut bytes = b64_decode(b64).ok_or(SigningError::Malformed)?;
        if compressed {
            bytes = zlib_decompress(&bytes, self.max_decompressed)?;
        } else if bytes.len() > self.max_decompressed {
            return Err(SigningError::TooLarge);
        }
        Ok((latin1_decode(&bytes), issued_at))
    }
}
