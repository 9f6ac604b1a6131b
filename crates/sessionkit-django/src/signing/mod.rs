//! Django's `django.core.signing`: base62 timestamps, URL-safe base64, `salted_hmac`, and
//! the `dumps`/`loads` framing every Django session format is built on (DJANGO.md §2.3).
//!
//! A signed value is `PAYLOAD ":" TS ":" SIG`:
//!
//! * `PAYLOAD` — the JSON bytes, zlib-compressed when that saves at least two bytes (then
//!   prefixed with `.`), in URL-safe base64 without padding;
//! * `TS` — the signing time in whole Unix seconds, base62;
//! * `SIG` — HMAC-SHA256 over `PAYLOAD ":" TS`, keyed with
//!   `SHA256(salt + "signer" + secret)`, base64 as above.
//!
//! A [`Signer`] is built once per salt from the [`Secrets`] (`SECRET_KEY` and
//! `SECRET_KEY_FALLBACKS`); it derives the HMAC keys up front and clones the keyed state for
//! each use, so signing or verifying costs two SHA-256 compressions per key tried, plus the
//! message.
//!
//! ```
//! use sessionkit_django::signing::{Secrets, Signer};
//! use time::OffsetDateTime;
//!
//! let signer = Signer::new(&Secrets::new("anchor-secret-key-for-vectors"), "django.core.signing");
//! let t1 = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
//! let signed = signer.dumps(r#""hello""#, false, t1);
//! assert_eq!(signed, "ImhlbGxvIg:1vb66i:sKY5MPMLYEkGb3Es5CsODJqMNeyS9NNlK8FQMCLNbyU");
//!
//! let (json, issued_at) = signer.loads(&signed, Some(60), t1).unwrap();
//! assert_eq!(json, r#""hello""#);
//! assert_eq!(issued_at, t1);
//! ```
//!
//! Layout: `encoding` (base62, base64), `mac` (`salted_hmac`, [`Secrets`]), `signer`
//! ([`Signer`]), `zlib` (the payload compression and `latin1_decode`).

mod encoding;
mod mac;
mod signer;
mod zlib;

pub use encoding::{b62_decode, b62_encode, b64_decode, b64_encode};
pub(crate) use mac::salted_hmac_state;
pub use mac::{Secrets, salted_hmac, salted_hmac_derived_key};
pub use signer::Signer;
pub use zlib::{latin1_decode, zlib_compress, zlib_decompress};

/// Django's base62 alphabet: digit value = index.
pub const B62_ALPHABET: &[u8; 62] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The salt of plain `signing.dumps` calls (`"django.core.signing"`).
pub const DEFAULT_SALT: &str = "django.core.signing";

/// How many bytes a compressed payload may inflate to by default (1 MiB).
///
/// Django has no limit (its signature is the zip-bomb guard); we keep one as well, because
/// anyone holding a fallback key could otherwise make us allocate without bound.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 1 << 20;

/// Why [`Signer::loads`] (or [`Signer::unsign`]) refused a value.
///
/// Callers that read sessions turn every one of these into "no session"; only
/// [`BadSignature`](SigningError::BadSignature) is worth a security warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// No `:` separator, or the signature matches neither the current key nor a fallback
    /// (Django's `BadSignature`).
    #[error("bad signature")]
    BadSignature,
    /// Correctly signed, but older than the allowed age (Django's `SignatureExpired`).
    #[error("signature expired")]
    Expired,
    /// Correctly signed, but the timestamp, base64 or zlib framing inside is invalid.
    #[error("malformed signed value")]
    Malformed,
    /// Correctly signed, but the payload inflates beyond the configured limit.
    #[error("payload too large")]
    TooLarge,
}

#[cfg(test)]
mod tests;
