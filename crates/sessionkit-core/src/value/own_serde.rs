//! `Serialize` and `Deserialize` for [`Value`] itself.
//!
//! Through any serde format a value takes its natural form (a datetime its ISO text, a set
//! a sequence). Between [`to_value`](super::to_value) / [`from_value`](super::from_value)
//! and a `Value` nothing is lost: a Python value travels through serde as a newtype struct
//! with a private name that this module's serializer and deserializer recognise, handing
//! the value itself over through a thread-local slot.

use std::cell::RefCell;
use std::fmt;

use super::{Map, Value};

/// The newtype-struct name that carries a [`Value`] through serde unchanged.
pub(crate) const TOKEN: &str = "$sessionkit::Value";

thread_local! {
    static SLOT: RefCell<Option<Value>> = const { RefCell::new(None) };
}

/// Leaves `v` for the other side of a [`TOKEN`] newtype.
pub(crate) fn stash(v: Value) {
    SLOT.with(|s| *s.borrow_mut() = Some(v));
}

/// Takes what [`stash`] left.
pub(crate) fn take() -> Option<Value> {
    SLOT.with(|s| s.borrow_mut().take())
}

/// A Python value's natural form, for serializers other than [`to_value`](super::to_value).
struct Natural<'a>(&'a Value);

impl serde::Serialize for Natural<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0 {
            Value::Bytes(b) | Value::ByteArray(b) => s.serialize_bytes(b),
            Value::Tuple(l) | Value::Set(l) | Value::FrozenSet(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::OrderedDict(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::DateTime(d) => s.serialize_str(&d.isoformat()),
            Value::Date(d) => s.collect_str(&d.get()),
            Value::Time(t) => s.serialize_str(&t.isoformat()),
            Value::TimeDelta(d) => s.collect_str(&time::Duration::from(*d)),
            Value::Decimal(d) => s.serialize_str(d.as_str()),
            Value::Uuid(u) => s.serialize_str(&u.hyphenated()),
            other => s.collect_str(other),
        }
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
            Value::List(l) => {
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
            // Tuples and Python values: themselves through `to_value`, their natural
            // form elsewhere.
            python => {
                stash(python.clone());
                let out = s.serialize_newtype_struct(TOKEN, &Natural(python));
                // Another serializer ignored the slot: empty it.
                take();
                out
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_newtype_struct(TOKEN, ValueVisitor)
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
        // `from_value` hands the value itself over; other formats go on as usual.
        match take() {
            Some(v) => Ok(v),
            None => d.deserialize_any(ValueVisitor),
        }
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
