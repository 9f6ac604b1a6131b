//! The session value model.
//!
//! A session holds what a Django app may put in one: JSON-like data, but with Python's
//! extensions that strict JSON lacks. [`Value`] represents all of it without loss:
//!
//! * integers of any size ([`Value::Int`] for the `i64` range, [`Value::BigInt`] beyond it),
//! * floats including `NaN` and the infinities, written back in Python's `repr` form,
//! * tuples (only the pickle-based Django cache layout produces them; JSON writes them as
//!   lists, exactly as Python does),
//! * maps that keep insertion order.
//!
//! Typed access goes through serde: [`to_value`] turns any `Serialize` type into a `Value`,
//! [`from_value`] turns a `Value` into any `Deserialize` type.
//!
//! ```
//! use sessionkit_core::value::{from_value, to_value, Value};
//!
//! let v = to_value(&vec![1u8, 2, 3]).unwrap();
//! assert_eq!(v, Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
//! let back: Vec<u8> = from_value(v).unwrap();
//! assert_eq!(back, [1, 2, 3]);
//! ```

mod de;
mod ser;

use std::fmt;

use indexmap::IndexMap;

pub use de::from_value;
pub use ser::to_value;

/// An insertion-ordered map of string keys to values (Python's `dict` after `json.loads`).
pub type Map = IndexMap<String, Value>;

/// One session value: everything Django's JSON serializer (and its pickle-based cache)
/// can store.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    /// `None` / `null`.
    #[default]
    Null,
    /// `True` / `False`.
    Bool(bool),
    /// An integer in the `i64` range.
    Int(i64),
    /// An integer outside the `i64` range (Python ints are unbounded).
    BigInt(BigInt),
    /// A float, including `NaN`, `Infinity` and `-Infinity`.
    Float(f64),
    /// A string.
    String(String),
    /// A list.
    List(Vec<Value>),
    /// A tuple (from pickled data; JSON writes it as a list, as Python does).
    Tuple(Vec<Value>),
    /// A map with string keys, in insertion order.
    Map(Map),
}

impl Value {
    /// The Python type name of this value, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::String(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Map(_) => "dict",
        }
    }

    /// The string inside a [`Value::String`], if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer inside a [`Value::Int`], if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// Python-style truthiness: `None`, `False`, `0`, `0.0`, empty strings and empty
    /// containers are false.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::BigInt(_) => true,
            Value::Float(f) => *f != 0.0,
            Value::String(s) => !s.is_empty(),
            Value::List(l) | Value::Tuple(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
        }
    }
}

impl fmt::Display for Value {
    /// Writes the value as Python-compatible JSON (the form Django stores).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        crate::json::write_value(&mut out, self);
        f.write_str(&out)
    }
}

/// An integer outside the `i64` range, kept as its canonical decimal text.
///
/// Python integers are unbounded; a Django app may store `2**70` in a session and expects
/// it back unchanged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt(Box<str>);

impl BigInt {
    /// Parses canonical decimal text (an optional `-`, then digits without leading zeros).
    /// Returns `None` for anything else, or when the number fits in an `i64` (use
    /// [`Value::Int`] for those; [`int_from_decimal`] picks the right variant).
    pub fn from_decimal(text: &str) -> Option<BigInt> {
        let digits = text.strip_prefix('-').unwrap_or(text);
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !(digits.len() > 1 && digits.starts_with('0'));
        if !canonical || text.parse::<i64>().is_ok() || text == "-0" {
            return None;
        }
        Some(BigInt(text.into()))
    }

    /// The decimal text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as an `i128`, when it fits.
    pub fn to_i128(&self) -> Option<i128> {
        self.0.parse().ok()
    }

    /// The value as a `u128`, when it fits.
    pub fn to_u128(&self) -> Option<u128> {
        self.0.parse().ok()
    }

    /// Whether the number is negative.
    pub fn is_negative(&self) -> bool {
        self.0.starts_with('-')
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Builds the right integer variant for decimal text of any size: [`Value::Int`] when it
/// fits in an `i64`, else [`Value::BigInt`]. Leading zeros and `-0` are normalised the way
/// Python's `int()` does. Returns `None` when the text is not an integer.
pub fn int_from_decimal(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Int(i));
    }
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        return Some(Value::Int(0));
    }
    let canonical = if neg {
        format!("-{trimmed}")
    } else {
        trimmed.to_owned()
    };
    match canonical.parse::<i64>() {
        Ok(i) => Some(Value::Int(i)),
        Err(_) => Some(Value::BigInt(BigInt(canonical.into()))),
    }
}

impl From<i128> for Value {
    fn from(v: i128) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(BigInt(v.to_string().into())),
        }
    }
}

impl From<u128> for Value {
    fn from(v: u128) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(BigInt(v.to_string().into())),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::from(v as i128)
            }
        }
    )*};
}
from_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Float(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::String(v)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Self {
        Value::List(v.into_iter().map(Into::into).collect())
    }
}

impl From<Map> for Value {
    fn from(v: Map) -> Self {
        Value::Map(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// Why a value could not be converted to or from a Rust type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub(crate) String);

impl serde::ser::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::BigInt(b) => {
                if let Some(i) = b.to_i128() {
                    s.serialize_i128(i)
                } else if let Some(u) = b.to_u128() {
                    s.serialize_u128(u)
                } else {
                    // Beyond 128 bits serde has no integer type: keep the digits.
                    s.serialize_str(b.as_str())
                }
            }
            Value::Float(f) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::List(l) | Value::Tuple(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Map(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> serde::de::Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any session value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::List(
            v.iter().map(|b| Value::Int(i64::from(*b))).collect(),
        ))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d)
    }
    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        serde::Deserialize::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::List(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            out.insert(k, v);
        }
        Ok(Value::Map(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_ints_choose_the_right_variant() {
        assert_eq!(int_from_decimal("12"), Some(Value::Int(12)));
        assert_eq!(int_from_decimal("-0"), Some(Value::Int(0)));
        assert_eq!(int_from_decimal("007"), Some(Value::Int(7)));
        let big = int_from_decimal("1180591620717411303424").unwrap();
        assert!(matches!(&big, Value::BigInt(b) if b.as_str() == "1180591620717411303424"));
        assert_eq!(int_from_decimal("1x"), None);
        assert_eq!(int_from_decimal(""), None);
        assert_eq!(BigInt::from_decimal("12"), None);
        assert_eq!(Value::from(u64::MAX).to_string(), "18446744073709551615");
    }

    #[test]
    fn truthiness_follows_python() {
        assert!(!Value::Null.is_truthy());
        assert!(!Value::Int(0).is_truthy());
        assert!(Value::Int(3).is_truthy());
        assert!(!Value::String(String::new()).is_truthy());
        assert!(!Value::Float(0.0).is_truthy());
    }
}
