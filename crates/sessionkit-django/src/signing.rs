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

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use hmac::digest::block_api::EagerHash;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

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

// ---------------------------------------------------------------------------------------
// base62

/// Django's `signing.b62_encode`: most significant digit first, `"0"` for zero, a leading
/// `-` for negatives.
///
/// ```
/// use sessionkit_django::signing::b62_encode;
///
/// assert_eq!(b62_encode(1_767_225_600), "1vb66i");
/// assert_eq!(b62_encode(-62), "-10");
/// ```
pub fn b62_encode(n: i64) -> String {
    if n == 0 {
        return "0".to_owned();
    }
    let mut digits = Vec::with_capacity(12);
    // Work on the magnitude as u64 so i64::MIN does not overflow.
    let mut m = n.unsigned_abs();
    while m > 0 {
        digits.push(B62_ALPHABET[(m % 62) as usize]);
        m /= 62;
    }
    if n < 0 {
        digits.push(b'-');
    }
    digits.iter().rev().map(|&b| char::from(b)).collect()
}

/// Django's `signing.b62_decode`, strict: `None` for an empty string, a character outside
/// the alphabet, or a value outside the `i64` range.
///
/// ```
/// use sessionkit_django::signing::b62_decode;
///
/// assert_eq!(b62_decode("1vb66i"), Some(1_767_225_600));
/// assert_eq!(b62_decode("-10"), Some(-62));
/// assert_eq!(b62_decode("1v:b"), None);
/// ```
pub fn b62_decode(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN is representable.
    let mut acc: i64 = 0;
    for b in digits.bytes() {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        acc = acc.checked_mul(62)?.checked_sub(i64::from(d))?;
    }
    if neg { Some(acc) } else { acc.checked_neg() }
}

// ---------------------------------------------------------------------------------------
// base64

/// Decoding as Python's `urlsafe_b64decode` after Django re-adds the padding: padding
/// optional, non-zero trailing bits ignored.
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Django's `signing.b64_encode`: URL-safe alphabet (`-`, `_`), no `=` padding.
///
/// ```
/// use sessionkit_django::signing::b64_encode;
///
/// assert_eq!(b64_encode(b"fo"), "Zm8");
/// assert_eq!(b64_encode(&[0xfb, 0xff, 0xfe]), "-__-");
/// ```
pub fn b64_encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Django's `signing.b64_decode`: URL-safe alphabet, padding optional. `None` when the
/// text is not base64.
///
/// ```
/// use sessionkit_django::signing::b64_decode;
///
/// assert_eq!(b64_decode("Zm8").as_deref(), Some(&b"fo"[..]));
/// assert_eq!(b64_decode("Zm8=").as_deref(), Some(&b"fo"[..]));
/// assert_eq!(b64_decode("Z"), None);
/// ```
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    B64_LENIENT.decode(text).ok()
}

// ---------------------------------------------------------------------------------------
// HMAC

/// A keyed HMAC whose key is a digest output, zero-padded to the block size (which is
/// exactly what HMAC does with a short key, so no fallible key-length path is involved).
fn hmac_from_digest<D>(derived: &[u8]) -> Hmac<D>
where
    D: EagerHash,
    Hmac<D>: KeyInit,
{
    let mut key = hmac::digest::Key::<Hmac<D>>::default();
    for (k, d) in key.iter_mut().zip(derived) {
        *k = *d;
    }
    <Hmac<D> as KeyInit>::new(&key)
}

/// `SHA256(key_salt ++ secret)` as Django's `salted_hmac` derives it (generic over the
/// hash for the legacy SHA-1 form, which is tested but not exposed).
fn salted_hmac_key<D>(key_salt: &str, secret: &str) -> Hmac<D>
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
fn salted_hmac_generic<D>(key_salt: &str, value: &[u8], secret: &str) -> Vec<u8>
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

// ---------------------------------------------------------------------------------------
// zlib and latin-1

/// `zlib.compress(data)`: a zlib container as CPython's default level 6 writes it. `None`
/// only if the encoder fails, which writing to memory does not.
///
/// The zlib-rs backend ports zlib-ng, whose levels 1–6 use faster strategies than zlib's;
/// its level 9 runs zlib's lazy-matching `deflate_slow`, which on session-sized inputs
/// produces the very deflate stream CPython's level 6 does (every compressed Django vector
/// matches byte for byte) and never a larger one than zlib-rs level 6. The header is set
/// to level 6's `78 9c` (its level field is informational; both pass the header check).
/// Byte identity is a bonus: Django reads any valid zlib stream.
pub fn zlib_compress(data: &[u8]) -> Option<Vec<u8>> {
    // zlib's state is a few hundred kilobytes: allocating and zeroing it for every cookie
    // would cost more than the compression. Each thread keeps one and resets it.
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<Compress>> = const { std::cell::RefCell::new(None) };
    }
    let mut out = COMPRESSOR.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        let comp = slot.get_or_insert_with(|| Compress::new(Compression::new(9), true));
        comp.reset();
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(comp.total_in()).ok()?;
            let status = comp
                .compress_vec(&data[consumed..], &mut out, FlushCompress::Finish)
                .ok()?;
            match status {
                Status::StreamEnd => return Some(out),
                Status::Ok | Status::BufError => out.reserve(out.capacity().max(64)),
            }
        }
    })?;
    if let [0x78, flg, ..] = out.as_mut_slice() {
        *flg = 0x9c;
    }
    Some(out)
}

/// Whether no zlib stream of `data` can be two bytes shorter than `data`, so that
/// [`Signer::dumps`] would discard the compressed form anyway — proven without
/// compressing, for short inputs.
///
/// Compressing costs microseconds even for a dozen bytes (the compressor's match tables
/// are cleared on every use), which a visit counter's cookie pays on every response while
/// compression can never win on it. The proof: with no 3-byte sequence occurring twice,
/// deflate cannot emit a back-reference (its shortest is 3 bytes), so every byte is a
/// literal. A stored block then takes `n + 5` bytes, a fixed-code block at least `n + 2`,
/// and a dynamic-code block at least its 29 header bits plus the Shannon bound of the
/// literals plus one bit for the end of the block. The zlib header and checksum add six.
/// If even the smallest of these is not under `n - 1`, Python's `dumps` would keep the
/// plain form, and so does this one — the output is the same bytes either way.
fn compression_cannot_pay(data: &[u8]) -> bool {
    /// Longer inputs are simply compressed: the bound rarely holds for them.
    const MAX: usize = 64;
    let n = data.len();
    if n > MAX {
        return false;
    }
    let mut seen = [0u64; 64]; // a 4096-bit filter of the 3-byte sequences
    for w in data.windows(3) {
        let h = (u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2]))
            .wrapping_mul(0x9E37_79B1)
            >> 20;
        let (word, bit) = ((h >> 6) as usize, 1u64 << (h & 63));
        if seen[word] & bit != 0 {
            return false; // maybe a repeat (or a filter collision): compress to find out
        }
        seen[word] |= bit;
    }
    let mut counts = [0u8; 256];
    for &b in data {
        counts[usize::from(b)] += 1;
    }
    // Shannon: any prefix code spends at least n*log2(n) - sum(f*log2(f)) bits on the
    // literals. One bit is taken off for floating-point rounding.
    #[allow(clippy::cast_precision_loss)]
    let entropy_bits = {
        let nf = n as f64;
        let sum: f64 = counts
            .iter()
            .filter(|&&f| f > 1)
            .map(|&f| f64::from(f) * f64::from(f).log2())
            .sum();
        (nf.mul_add(nf.max(1.0).log2(), -sum) - 1.0).max(0.0)
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let dynamic = (29 + entropy_bits.ceil() as usize + 1).div_ceil(8);
    let smallest = 6 + dynamic.min(n + 2);
    smallest + 1 >= n
}

/// `zlib.decompress(data)`, refusing to produce more than `limit` bytes: output is grown
/// step by step and never allocated beyond `limit + 1` bytes, so a zip bomb costs at most
/// that much memory. Data after the end of the zlib stream is ignored, as Python does; a
/// truncated or corrupt stream is [`SigningError::Malformed`].
pub fn zlib_decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, SigningError> {
    let hard = limit.saturating_add(1);
    let mut z = Decompress::new(true);
    // `clamp` would panic for a limit under 64: take the maximum first, then the bound.
    let mut out: Vec<u8> = Vec::with_capacity(data.len().saturating_mul(4).max(64).min(hard));
    loop {
        if out.len() >= out.capacity() {
            if out.len() >= hard {
                return Err(SigningError::TooLarge);
            }
            let grow = out.capacity().max(64).min(hard - out.len());
            out.reserve_exact(grow);
        }
        let consumed = usize::try_from(z.total_in()).map_err(|_| SigningError::Malformed)?;
        let rest = data.get(consumed..).ok_or(SigningError::Malformed)?;
        let (in_before, out_before) = (z.total_in(), out.len());
        let status = z
            .decompress_vec(rest, &mut out, FlushDecompress::None)
            .map_err(|_| SigningError::Malformed)?;
        if out.len() > limit {
            return Err(SigningError::TooLarge);
        }
        if status == Status::StreamEnd {
            return Ok(out);
        }
        let progressed = z.total_in() != in_before || out.len() != out_before;
        if !progressed && out.len() < out.capacity() {
            // Room to write, nothing left to read: the stream is truncated.
            return Err(SigningError::Malformed);
        }
    }
}

/// Decodes bytes as latin-1 (every byte is the code point of the same value), as
/// Django's JSON serializer does. ASCII comes through unchanged; raw UTF-8 becomes
/// mojibake (`café` → `cafÃ©`), exactly as in Django.
pub fn latin1_decode(bytes: &[u8]) -> String {
    if bytes.is_ascii() {
        // ASCII is valid UTF-8; the fallback never runs.
        return String::from_utf8(bytes.to_vec()).unwrap_or_default();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const KEY: &str = "anchor-secret-key-for-vectors";
    const URL_SAFE_ALPHABET: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn base62_round_trips_extremes() {
        for n in [0, 1, -1, 61, 62, i64::MAX, i64::MIN, i64::MIN + 1] {
            assert_eq!(b62_decode(&b62_encode(n)), Some(n), "{n}");
        }
        assert_eq!(b62_encode(i64::MIN), "-AzL8n0Y58m8");
        assert_eq!(b62_decode(""), None);
        assert_eq!(b62_decode("-"), None);
        assert_eq!(b62_decode("AzL8n0Y58m8"), None, "i64::MAX + 1 overflows");
        assert_eq!(b62_decode("zzzzzzzzzzzzzzzzzzzz"), None);
        assert_eq!(b62_decode("+1"), None);
    }

    #[test]
    fn base64_decode_is_tolerant_of_padding_only() {
        assert_eq!(b64_decode("AAECAw").unwrap(), [0, 1, 2, 3]);
        assert_eq!(b64_decode("AAECAw==").unwrap(), [0, 1, 2, 3]);
        assert_eq!(b64_decode("-__-").unwrap(), [0xfb, 0xff, 0xfe]);
        assert!(
            b64_decode("+//+").is_none(),
            "standard alphabet is not URL-safe"
        );
        assert!(b64_decode("AAECA").is_none());
        assert!(b64_decode("AA:C").is_none());
        // Python ignores non-zero trailing bits.
        assert_eq!(b64_decode("Zh").unwrap(), b"f");
    }

    #[test]
    fn salted_hmac_sha1_vector() {
        // `crypto.salted_hmac` record with algorithm="sha1" (Django < 3.1 legacy values):
        // the same construction with SHA-1 gives Django's bytes.
        let mac = salted_hmac_generic::<sha1::Sha1>(
            "django.contrib.sessions.SessionStoresigner",
            b"abc",
            KEY,
        );
        assert_eq!(hex(&mac), "e7ba8de74da0ffa8db3a231f0be7ab431f9c94c1");
        let derived = sha1::Sha1::new()
            .chain_update("django.contrib.sessions.SessionStoresigner")
            .chain_update(KEY)
            .finalize();
        assert_eq!(hex(&derived), "f49adb72a9239e4bdd125c210d8cd2c95e96229f");
        // And the generic path agrees with the public SHA-256 one.
        assert_eq!(
            salted_hmac_generic::<Sha256>("s", b"v", KEY),
            salted_hmac("s", b"v", KEY)
        );
    }

    #[test]
    fn debug_never_shows_keys() {
        let secrets = Secrets::new("super-secret").with_fallbacks(["older-secret"]);
        let signer = Signer::new(&secrets, "salt");
        for text in [format!("{secrets:?}"), format!("{signer:?}")] {
            assert!(!text.contains("secret"), "{text}");
        }
        assert_eq!(
            format!("{signer:?}"),
            "Signer { salt: \"salt\", keys: 2, max_decompressed: 1048576 }"
        );
    }

    #[test]
    fn verify_reports_which_key_matched() {
        let old = Signer::new(&Secrets::new("old"), "s");
        let both = Signer::new(&Secrets::new("new").with_fallbacks(["older", "old"]), "s");
        let sig = old.signature("v");
        assert_eq!(both.verify("v", &sig), Some(2));
        assert_eq!(both.verify("v", &both.signature("v")), Some(0));
        assert_eq!(both.verify("w", &sig), None);
        // Padding or non-canonical encodings never match (Django compares the text).
        assert_eq!(both.verify("v", &format!("{sig}=")), None);
        // Flip an unused trailing bit: a lenient decoder would read the same MAC.
        let last = sig.as_bytes()[42];
        let idx = URL_SAFE_ALPHABET.iter().position(|&c| c == last).unwrap();
        let tweaked = format!("{}{}", &sig[..42], char::from(URL_SAFE_ALPHABET[idx ^ 1]));
        assert_ne!(tweaked, sig);
        assert_eq!(
            B64_LENIENT.decode(&tweaked).unwrap(),
            B64_LENIENT.decode(&sig).unwrap()
        );
        assert_eq!(both.verify("v", &tweaked), None);
    }

    #[test]
    fn compression_only_when_it_saves_two_bytes() {
        let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT);
        assert!(!signer.dumps("{}", true, t(0)).starts_with('.'));
        let long = format!("[{}]", vec!["1"; 200].join(","));
        let signed = signer.dumps(&long, true, t(0));
        assert!(signed.starts_with(".eJ"), "{signed}");
        assert_eq!(signer.loads(&signed, None, t(0)).unwrap().0, long);
        // The timestamp is whole seconds, truncated.
        let signed = signer.dumps("1", false, t(10) + time::Duration::milliseconds(999));
        assert_eq!(signer.loads(&signed, None, t(0)).unwrap().1, t(10));
    }

    #[test]
    fn counter_sized_payloads_skip_the_compressor() {
        for text in [r#"{"count":1}"#, r#"{"count":123456789}"#, "{}", ""] {
            assert!(compression_cannot_pay(text.as_bytes()), "{text}");
        }
        for text in ["aaaaaaaaaaaaaaaaaaaa", r#"{"a":"xyz","b":"xyz","c":"xyz"}"#] {
            assert!(!compression_cannot_pay(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn max_age_uses_sub_second_precision_like_python() {
        let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT);
        let signed = signer.dumps("1", false, t(1000));
        assert!(signer.loads(&signed, Some(60), t(1060)).is_ok());
        let later = t(1060) + time::Duration::milliseconds(1);
        assert_eq!(
            signer.loads(&signed, Some(60), later),
            Err(SigningError::Expired)
        );
        assert!(signer.loads(&signed, Some(0), t(1000)).is_ok());
        assert!(signer.loads(&signed, Some(-1), t(1000)).is_err());
    }

    #[test]
    fn zip_bombs_are_refused_without_allocating() {
        let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT).with_max_decompressed(1000);
        // 2 MB of zeros compresses to about 2 KB.
        let bomb = zlib_compress(&vec![b'0'; 2_000_000]).unwrap();
        let value = format!(".{}:0", b64_encode(&bomb));
        let signed = signer.sign(&value);
        assert_eq!(
            signer.loads(&signed, None, t(0)),
            Err(SigningError::TooLarge)
        );
        // Exactly at the limit is fine; one over is not.
        let ok = zlib_compress(&[b'1'; 1000]).unwrap();
        assert_eq!(zlib_decompress(&ok, 1000).unwrap().len(), 1000);
        assert_eq!(zlib_decompress(&ok, 999), Err(SigningError::TooLarge));
        // Uncompressed payloads are capped too.
        let plain = signer.sign(&format!("{}:0", b64_encode(&[b'1'; 1001])));
        assert_eq!(
            signer.loads(&plain, None, t(0)),
            Err(SigningError::TooLarge)
        );
    }

    #[test]
    fn zlib_framing_errors() {
        let good = zlib_compress(b"hello hello hello").unwrap();
        assert_eq!(zlib_decompress(&good, 100).unwrap(), b"hello hello hello");
        // Trailing data after the stream is ignored, as in Python.
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"xyz");
        assert_eq!(
            zlib_decompress(&trailing, 100).unwrap(),
            b"hello hello hello"
        );
        // Truncated and corrupt streams are refused.
        assert_eq!(
            zlib_decompress(&good[..good.len() - 3], 100),
            Err(SigningError::Malformed)
        );
        assert_eq!(zlib_decompress(b"", 100), Err(SigningError::Malformed));
        assert_eq!(zlib_decompress(b"hello", 100), Err(SigningError::Malformed));
        let mut corrupt = good;
        corrupt[5] ^= 0xff;
        assert!(zlib_decompress(&corrupt, 100).is_err());
    }

    #[test]
    fn latin1_matches_python() {
        assert_eq!(latin1_decode(b"abc"), "abc");
        assert_eq!(latin1_decode(&[0x63, 0xc3, 0xa9]), "c\u{c3}\u{a9}");
        assert_eq!(latin1_decode(&[0xff, 0x00]), "\u{ff}\u{0}");
    }

    #[test]
    fn loads_structure_errors() {
        let signer = Signer::new(&Secrets::new(KEY), DEFAULT_SALT);
        assert_eq!(
            signer.loads("no-separator", None, t(0)),
            Err(SigningError::BadSignature)
        );
        // Correctly signed but no timestamp.
        let signed = signer.sign("e30");
        assert_eq!(
            signer.loads(&signed, None, t(0)),
            Err(SigningError::Malformed)
        );
        // Correctly signed, bad timestamp / base64.
        for v in ["e30:!!", "e30:", "e:0", ".e30:0", "e30:zzzzzzzzzzzzzz"] {
            let signed = signer.sign(v);
            assert_eq!(
                signer.loads(&signed, None, t(0)),
                Err(SigningError::Malformed),
                "{v}"
            );
        }
    }

    proptest! {
        #[test]
        fn base62_round_trips(n in any::<i64>()) {
            prop_assert_eq!(b62_decode(&b62_encode(n)), Some(n));
        }

        #[test]
        fn base64_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(b64_decode(&b64_encode(&bytes)), Some(bytes));
        }

        #[test]
        fn dumps_then_loads(text in "[ -~]{0,300}", compress in any::<bool>(), ts in -1_000_000_000i64..4_000_000_000) {
            let signer = Signer::new(&Secrets::new("k").with_fallback("old"), "salt");
            let signed = signer.dumps(&text, compress, t(ts));
            let (back, at) = signer.loads(&signed, None, t(0)).unwrap();
            prop_assert_eq!(back, text);
            prop_assert_eq!(at, t(ts));
        }

        #[test]
        fn skipped_compression_never_pays(
            text in prop_oneof!["[ -~]{0,64}", "[a-d]{0,64}", "[0-9a-f]{0,64}", r#"\{"count":[0-9]{1,12}\}"#],
        ) {
            // Whenever compression is skipped, Python's rule would have kept the plain form.
            let data = text.as_bytes();
            if compression_cannot_pay(data) {
                let c = zlib_compress(data).unwrap();
                prop_assert!(c.len() + 1 >= data.len(), "{} -> {} bytes", text, c.len());
            }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,200}") {
            let signer = Signer::new(&Secrets::new("k"), "salt");
            let _ = signer.loads(&s, Some(10), t(0));
            let _ = b62_decode(&s);
            let _ = b64_decode(&s);
        }

        #[test]
        fn signed_garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..300), ts in any::<i64>()) {
            // Valid signatures over arbitrary payloads reach base64, zlib and latin-1.
            let signer = Signer::new(&Secrets::new("k"), "salt").with_max_decompressed(4096);
            for value in [
                format!(".{}:{}", b64_encode(&bytes), b62_encode(ts)),
                format!("{}:{}", b64_encode(&bytes), b62_encode(ts)),
                format!(".{}:0", b64_encode(&[&[0x78, 0x9c][..], &bytes].concat())),
            ] {
                let _ = signer.loads(&signer.sign(&value), Some(5), t(0));
            }
            let _ = zlib_decompress(&bytes, 4096);
        }
    }
}
