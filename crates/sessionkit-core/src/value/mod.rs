//! The session value model.
//!
//! A session holds what a Django app may put in one: JSON-like data, but with Python's
//! extensions that strict JSON lacks. [`Value`] represents all of it without loss:
//!
//! * integers of any size ([`Value::Int`] for the `i64` range, [`Value::BigInt`] beyond it),
//! * floats including `NaN` and the infinities, written back in Python's `repr` form,
//! * tuples (only the pickle-based Django cache layout produces them; JSON writes them as
//!   lists, exactly as Python does),
//! * maps that keep insertion order,
//! * and, in sessions of Django's `cache` engine (which pickles the session dict instead
//!   of serializing it to JSON), Python's standard value types: `datetime`, `date`,
//!   `time`, `timedelta`, `Decimal`, `UUID`, `bytes`, `bytearray`, `set`, `frozenset`,
//!   `OrderedDict`, and any other object as an [`Opaque`] pickle written back unchanged.
//!
//! # Python values
//!
//! | Python | `Value` | typed reading (`session.get::<T>`) | writing |
//! | --- | --- | --- | --- |
//! | `datetime.datetime`, naive | [`Value::DateTime`] | `time::PrimitiveDateTime` | `Value::try_from(PrimitiveDateTime)` |
//! | `datetime.datetime`, `timezone.utc` or a fixed offset | [`Value::DateTime`] | `time::OffsetDateTime` | `Value::try_from(OffsetDateTime)` |
//! | `datetime.datetime`, `zoneinfo.ZoneInfo` | [`Value::DateTime`] | none without a tz database: [`DateTime::local`], [`TzInfo::zone_key`] | [`DateTime::aware`] with [`TzInfo::zone`] |
//! | `datetime.date` | [`Value::Date`] | `time::Date` | `Value::try_from(time::Date)` |
//! | `datetime.time` | [`Value::Time`] | `time::Time` (naive) | `Value::try_from(time::Time)` |
//! | `datetime.timedelta` | [`Value::TimeDelta`] | `time::Duration`, `std::time::Duration` | `Value::try_from(time::Duration)` |
//! | `decimal.Decimal` | [`Value::Decimal`] | `String` (its text), `f64` | `Value::Decimal("1.50".parse()?)` |
//! | `uuid.UUID` | [`Value::Uuid`] | `String`, `u128`, `uuid::Uuid` | `Value::Uuid(Uuid::from_u128(..))` |
//! | `bytes` / `bytearray` | [`Value::Bytes`] / [`Value::ByteArray`] | `Vec<u8>`, `serde_bytes` | the variant |
//! | `set` / `frozenset` | [`Value::Set`] / [`Value::FrozenSet`] (in the order read) | `Vec<T>`, `HashSet<T>`, `BTreeSet<T>` | the variant |
//! | `collections.OrderedDict` | [`Value::OrderedDict`] | any map or struct | the variant |
//! | anything else | [`Value::Opaque`] | none | only as read |
//!
//! The date and time types read through `time`'s serde forms (enable `time`'s `serde`
//! feature); an aware datetime is not a `PrimitiveDateTime` and a naive one is not an
//! `OffsetDateTime`, so asking for the wrong one is a type error. Asking for a `String`
//! gives Python's `isoformat()`.
//!
//! Python values exist only in pickled sessions: a session whose store writes JSON
//! refuses them at `insert` with [`SessionError::PythonValue`](crate::SessionError),
//! as Django's JSON serializer raises `TypeError`. Where they must be shown as JSON (the
//! inspector), they are written as `{"$python": "<repr>"}` (containers as
//! `{"$python": "set", "items": [...]}`).
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
//!
//! // A Python datetime, read as a `time` type.
//! let when = Value::try_from(time::macros::datetime!(2026-01-02 03:04 UTC)).unwrap();
//! assert_eq!(when.type_name(), "datetime.datetime");
//! assert_eq!(
//!     from_value::<String>(when).unwrap(),
//!     "2026-01-02T03:04:00+00:00"
//! );
//! ```

mod de;
mod own_serde;
mod python;
mod ser;

use std::fmt;
use std::fmt::Write as _;

use indexmap::IndexMap;

pub use de::from_value;
pub use python::{Date, DateTime, Decimal, Opaque, RangeError, Time, TimeDelta, TzInfo, Uuid};
pub use ser::to_value;

/// An insertion-ordered map of string keys to values (Python's `dict` after `json.loads`).
pub type Map = IndexMap<String, Value>;

/// One session value: everything Django's JSON serializer (and its pickle-based cache)
/// can store. See the [module docs](self) for the Python types.
#[derive(Clone, Debug, PartialEq, Default)]
#[non_exhaustive]
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
    /// Python's `bytes`.
    Bytes(Vec<u8>),
    /// Python's `bytearray`.
    ByteArray(Vec<u8>),
    /// Python's `set`, in the order the pickle listed it.
    Set(Vec<Value>),
    /// Python's `frozenset`, in the order the pickle listed it.
    FrozenSet(Vec<Value>),
    /// Python's `collections.OrderedDict` with string keys.
    OrderedDict(Map),
    /// Python's `datetime.datetime`.
    DateTime(DateTime),
    /// Python's `datetime.date`.
    Date(Date),
    /// Python's `datetime.time`.
    Time(Time),
    /// Python's `datetime.timedelta`.
    TimeDelta(TimeDelta),
    /// Python's `decimal.Decimal`.
    Decimal(Decimal),
    /// Python's `uuid.UUID`.
    Uuid(Uuid),
    /// Any other Python object, kept as its pickle.
    Opaque(Opaque),
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
            Value::Bytes(_) => "bytes",
            Value::ByteArray(_) => "bytearray",
            Value::Set(_) => "set",
            Value::FrozenSet(_) => "frozenset",
            Value::OrderedDict(_) => "collections.OrderedDict",
            Value::DateTime(_) => "datetime.datetime",
            Value::Date(_) => "datetime.date",
            Value::Time(_) => "datetime.time",
            Value::TimeDelta(_) => "datetime.timedelta",
            Value::Decimal(_) => "decimal.Decimal",
            Value::Uuid(_) => "uuid.UUID",
            Value::Opaque(_) => "object",
        }
    }

    /// The first Python-only value (one that JSON cannot hold, see the
    /// [module docs](self)) in this value or inside it, if any.
    ///
    /// ```
    /// use sessionkit_core::Value;
    ///
    /// assert!(Value::List(vec![Value::Int(1)]).python_only().is_none());
    /// let nested = Value::List(vec![Value::Bytes(b"x".to_vec())]);
    /// assert_eq!(nested.python_only().map(Value::type_name), Some("bytes"));
    /// ```
    pub fn python_only(&self) -> Option<&Value> {
        match self {
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::BigInt(_)
            | Value::Float(_)
            | Value::String(_) => None,
            Value::List(l) | Value::Tuple(l) => l.iter().find_map(Value::python_only),
            Value::Map(m) => m.values().find_map(Value::python_only),
            _ => Some(self),
        }
    }

    /// Python's `repr` of the value (`OrderedDict` as Python 3.12 writes it): what the
    /// inspector shows for Python-only values.
    ///
    /// ```
    /// use sessionkit_core::Value;
    ///
    /// let v = Value::Tuple(vec![Value::Set(vec![Value::Int(1)]), Value::Bytes(b"x".to_vec())]);
    /// assert_eq!(v.python_repr(), "({1}, b'x')");
    /// ```
    pub fn python_repr(&self) -> String {
        let mut s = String::new();
        let _ = self.write_repr(&mut s);
        s
    }

    fn write_repr(&self, s: &mut String) -> fmt::Result {
        let seq = |s: &mut String, items: &[Value], open: &str, close: &str| {
            s.push_str(open);
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                v.write_repr(s)?;
            }
            s.push_str(close);
            Ok(())
        };
        let map = |s: &mut String, m: &Map| {
            s.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    s.push_str(", ");
                }
                python::write_py_str(s, k)?;
                s.push_str(": ");
                v.write_repr(s)?;
            }
            s.push('}');
            Ok(())
        };
        match self {
            Value::Null => s.push_str("None"),
            Value::Bool(b) => s.push_str(if *b { "True" } else { "False" }),
            Value::Float(f) if f.is_nan() => s.push_str("nan"),
            Value::Float(f) if f.is_infinite() => s.push_str(if *f > 0.0 { "inf" } else { "-inf" }),
            Value::Int(_) | Value::BigInt(_) | Value::Float(_) => write!(s, "{self}")?,
            Value::String(v) => python::write_py_str(s, v)?,
            Value::List(l) => seq(s, l, "[", "]")?,
            Value::Tuple(l) if l.len() == 1 => seq(s, l, "(", ",)")?,
            Value::Tuple(l) => seq(s, l, "(", ")")?,
            Value::Map(m) => map(s, m)?,
            Value::Set(l) if l.is_empty() => s.push_str("set()"),
            Value::Set(l) => seq(s, l, "{", "}")?,
            Value::FrozenSet(l) if l.is_empty() => s.push_str("frozenset()"),
            Value::FrozenSet(l) => seq(s, l, "frozenset({", "})")?,
            Value::OrderedDict(m) if m.is_empty() => s.push_str("OrderedDict()"),
            Value::OrderedDict(m) => {
                s.push_str("OrderedDict(");
                map(s, m)?;
                s.push(')');
            }
            Value::Bytes(b) => python::write_py_bytes(s, b)?,
            Value::ByteArray(b) => {
                s.push_str("bytearray(");
                python::write_py_bytes(s, b)?;
                s.push(')');
            }
            Value::DateTime(d) => write!(s, "{d}")?,
            Value::Date(d) => write!(s, "{d}")?,
            Value::Time(t) => write!(s, "{t}")?,
            Value::TimeDelta(d) => write!(s, "{d}")?,
            Value::Decimal(d) => write!(s, "{d}")?,
            Value::Uuid(u) => write!(s, "{u}")?,
            Value::Opaque(o) => write!(s, "{o}")?,
        }
        Ok(())
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
            Value::List(l) | Value::Tuple(l) | Value::Set(l) | Value::FrozenSet(l) => !l.is_empty(),
            Value::Map(m) | Value::OrderedDict(m) => !m.is_empty(),
            Value::Bytes(b) | Value::ByteArray(b) => !b.is_empty(),
            Value::TimeDelta(d) => d.total_microseconds() != 0,
            Value::Decimal(d) => d.to_f64().is_none_or(|f| f != 0.0),
            // Python 3.5+: every date, datetime, time, UUID and plain object is true.
            _ => true,
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

macro_rules! from_python {
    ($($t:ty => $py:ty, $variant:ident);* $(;)?) => {$(
        impl TryFrom<$t> for Value {
            type Error = RangeError;
            /// The Python value (see the [module docs](self)); an error outside Python's range.
            fn try_from(v: $t) -> Result<Value, RangeError> {
                <$py>::try_from(v).map(Value::$variant)
            }
        }
    )*};
}
from_python! {
    time::OffsetDateTime => DateTime, DateTime;
    time::PrimitiveDateTime => DateTime, DateTime;
    time::Date => Date, Date;
    time::Time => Time, Time;
    time::Duration => TimeDelta, TimeDelta;
}

impl From<DateTime> for Value {
    fn from(v: DateTime) -> Self {
        Value::DateTime(v)
    }
}

impl From<Decimal> for Value {
    fn from(v: Decimal) -> Self {
        Value::Decimal(v)
    }
}

impl From<Uuid> for Value {
    fn from(v: Uuid) -> Self {
        Value::Uuid(v)
    }
}

impl From<TimeDelta> for Value {
    fn from(v: TimeDelta) -> Self {
        Value::TimeDelta(v)
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
