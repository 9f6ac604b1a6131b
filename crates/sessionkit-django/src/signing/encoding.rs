//! Django's base62 timestamps and URL-safe base64.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::*;

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
pub(super) const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
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
