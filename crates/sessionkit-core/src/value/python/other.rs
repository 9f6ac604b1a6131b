//! Python's `Decimal` and `UUID`, opaque objects, and `repr` of text and bytes.

use std::fmt;
use std::sync::Arc;

use super::RangeError;

/// Python's `decimal.Decimal`, kept as its exact text (so `Decimal('1.50')` keeps its
/// exponent, and `NaN`, `sNaN`, `-0` and the infinities survive).
///
/// ```
/// use sessionkit_core::value::Decimal;
///
/// let d: Decimal = "1.50".parse().unwrap();
/// assert_eq!(d.as_str(), "1.50");
/// assert!("1,5".parse::<Decimal>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decimal(Box<str>);

impl Decimal {
    /// The text, as Python's `str(Decimal)` gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nearest `f64` (`float(Decimal)`), `None` for a signalling NaN.
    pub fn to_f64(&self) -> Option<f64> {
        let t = self.0.to_ascii_lowercase();
        let (neg, body) = match t.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, t.strip_prefix('+').unwrap_or(&t)),
        };
        let v = if body.starts_with("inf") {
            f64::INFINITY
        } else if body.starts_with("nan") {
            f64::NAN
        } else if body.starts_with("snan") {
            return None;
        } else {
            body.parse::<f64>().ok()?
        };
        Some(if neg { -v } else { v })
    }
}

impl std::str::FromStr for Decimal {
    type Err = RangeError;
    /// Python's `Decimal(text)` syntax (without surrounding whitespace or underscores).
    fn from_str(text: &str) -> Result<Decimal, RangeError> {
        let bad = RangeError("not a decimal number");
        let body = text.strip_prefix(['-', '+']).unwrap_or(text);
        let lower = body.to_ascii_lowercase();
        let special = ["inf", "infinity"].contains(&lower.as_str())
            || ["nan", "snan"].iter().any(|p| {
                lower
                    .strip_prefix(p)
                    .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
            });
        if special {
            return Ok(Decimal(text.into()));
        }
        let (mantissa, exponent) = match lower.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (lower.as_str(), None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
        let exponent_ok = exponent.is_none_or(|e| {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e) && e.len() <= 18
        });
        if mantissa_ok && exponent_ok && text.len() <= 5000 {
            Ok(Decimal(text.into()))
        } else {
            Err(bad)
        }
    }
}

impl fmt::Display for Decimal {
    /// Python's `repr`: `Decimal('1.50')`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal('{}')", self.0)
    }
}

/// Python's `uuid.UUID`: 128 bits, plus the `is_safe` flag `uuid1()` may set.
///
/// ```
/// use sessionkit_core::value::Uuid;
///
/// let u: Uuid = "12345678-1234-5678-1234-567812345678".parse().unwrap();
/// assert_eq!(u.as_u128(), 0x12345678123456781234567812345678);
/// assert_eq!(u.hyphenated(), "12345678-1234-5678-1234-567812345678");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Uuid {
    value: u128,
    is_safe: Option<bool>,
}

impl Uuid {
    /// The UUID of these 128 bits (`is_safe` unknown, as for `uuid4()`).
    pub fn from_u128(value: u128) -> Uuid {
        Uuid {
            value,
            is_safe: None,
        }
    }

    /// Sets `is_safe` (`SafeUUID.safe` is `Some(true)`, `unsafe` is `Some(false)`,
    /// `unknown` is `None`).
    #[must_use]
    pub fn with_is_safe(mut self, is_safe: Option<bool>) -> Uuid {
        self.is_safe = is_safe;
        self
    }

    /// The 128 bits (Python's `UUID.int`).
    pub fn as_u128(&self) -> u128 {
        self.value
    }

    /// `is_safe` (see [`Uuid::with_is_safe`]).
    pub fn is_safe(&self) -> Option<bool> {
        self.is_safe
    }

    /// `str(uuid)`: 32 lowercase hex digits in the 8-4-4-4-12 form.
    pub fn hyphenated(&self) -> String {
        let h = format!("{:032x}", self.value);
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

impl std::str::FromStr for Uuid {
    type Err = RangeError;
    /// Python's `UUID(text)`: 32 hex digits, with or without hyphens, braces or `urn:uuid:`.
    fn from_str(text: &str) -> Result<Uuid, RangeError> {
        let t = text.strip_prefix("urn:uuid:").unwrap_or(text);
        let t = t.trim_start_matches('{').trim_end_matches('}');
        let hex: String = t.chars().filter(|&c| c != '-').collect();
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RangeError("not a UUID"));
        }
        u128::from_str_radix(&hex, 16)
            .map(Uuid::from_u128)
            .map_err(|_| RangeError("not a UUID"))
    }
}

impl fmt::Display for Uuid {
    /// Python's `repr`: `UUID('…')`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UUID('{}')", self.hyphenated())
    }
}

/// A Python object outside the types sessionkit reads: kept as a self-contained
/// protocol-5 pickle (its opcodes, as the pickle reader re-emitted them, never run) and
/// written back unchanged, so that Django gets its object back. Only the pickle reader
/// makes these; the Rust side can move one between keys of a pickled session, or drop it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Opaque {
    type_name: Box<str>,
    pickle: Arc<[u8]>,
}

impl Opaque {
    /// An object of Python type `type_name` (`module.qualname`) and its pickle: for the
    /// pickle reader (in `sessionkit-django`) and codecs like it. Django unpickles whatever
    /// this holds, so build one only from bytes read from the same store.
    pub fn new(type_name: &str, pickle: impl Into<Arc<[u8]>>) -> Opaque {
        Opaque {
            type_name: type_name.into(),
            pickle: pickle.into(),
        }
    }

    /// The Python type (`"myapp.models.Cart"`).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The object's pickle.
    pub fn pickle(&self) -> &[u8] {
        &self.pickle
    }
}

impl fmt::Debug for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Opaque({}, {} bytes)", self.type_name, self.pickle.len())
    }
}

impl fmt::Display for Opaque {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<{} object, pickled in {} bytes>",
            self.type_name,
            self.pickle.len()
        )
    }
}

/// Writes `s` as Python's `repr` of a `str` would (single quotes unless the text holds
/// one and no double quote).
pub(crate) fn write_py_str(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    f.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => write!(f, "\\{c}")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

/// Writes `b` as Python's `repr` of `bytes`: `b'..'`.
pub(crate) fn write_py_bytes(f: &mut impl fmt::Write, b: &[u8]) -> fmt::Result {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    f.write_char('b')?;
    f.write_char(char::from(quote))?;
    for &c in b {
        match c {
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            c if c == quote => write!(f, "\\{}", char::from(c))?,
            0x20..=0x7e => f.write_char(char::from(c))?,
            c => write!(f, "\\x{c:02x}")?,
        }
    }
    f.write_char(char::from(quote))
}
