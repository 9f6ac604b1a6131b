//! [`Value`] → `Deserialize`.

use serde::de::{
    self, DeserializeOwned, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use super::{Map, Value, ValueError};

/// Converts a [`Value`] into any `Deserialize` type.
///
/// Integers convert to any Rust integer type they fit in; big integers to `i128`/`u128`.
/// A string is a unit enum variant; a one-entry map is a variant with data (serde's
/// externally tagged form).
///
/// ```
/// use sessionkit_core::value::{from_value, Value};
///
/// let n: u32 = from_value(Value::Int(7)).unwrap();
/// assert_eq!(n, 7);
/// assert!(from_value::<u8>(Value::Int(300)).is_err());
/// assert!(from_value::<String>(Value::Int(1)).is_err());
/// ```
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

impl Value {
    fn invalid_type<E: de::Error>(&self, exp: &dyn de::Expected) -> E {
        let unexpected = match self {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Int(i) => de::Unexpected::Signed(*i),
            Value::BigInt(_) => de::Unexpected::Other("a big integer"),
            Value::Float(f) => de::Unexpected::Float(*f),
            Value::String(s) => de::Unexpected::Str(s),
            Value::List(_) => de::Unexpected::Seq,
            Value::Tuple(_) => de::Unexpected::Other("a tuple"),
            Value::Map(_) | Value::OrderedDict(_) => de::Unexpected::Map,
            Value::Bytes(b) | Value::ByteArray(b) => de::Unexpected::Bytes(b),
            other => de::Unexpected::Other(other.type_name()),
        };
        E::invalid_type(unexpected, exp)
    }
}

impl<'de> Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::BigInt(b) => {
                if let Some(u) = b.to_u128().and_then(|u| u64::try_from(u).ok()) {
                    visitor.visit_u64(u)
                } else if let Some(i) = b.to_i128() {
                    visitor.visit_i128(i)
                } else if let Some(u) = b.to_u128() {
                    visitor.visit_u128(u)
                } else {
                    Err(ValueError(format!(
                        "integer {b} is too large for any Rust integer type"
                    )))
                }
            }
            Value::Float(f) => visitor.visit_f64(f),
            Value::String(s) => visitor.visit_string(s),
            Value::List(l) | Value::Tuple(l) | Value::Set(l) | Value::FrozenSet(l) => {
                visit_list(l, visitor)
            }
            Value::Map(m) | Value::OrderedDict(m) => visitor.visit_map(MapDeser {
                iter: m.into_iter(),
                value: None,
            }),
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_byte_buf(b),
            Value::Decimal(d) => visitor.visit_str(d.as_str()),
            Value::Uuid(u) => visitor.visit_string(u.hyphenated()),
            Value::Opaque(o) => Err(ValueError(format!(
                "a pickled Python {} object has no Rust reading",
                o.type_name()
            ))),
            time_like => visit_list(time_tuple(&time_like)?, visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::DateTime(d) => visitor.visit_string(d.isoformat()),
            Value::Time(t) => visitor.visit_string(t.isoformat()),
            Value::Date(d) => {
                let d = d.get();
                visitor.visit_string(format!(
                    "{:04}-{:02}-{:02}",
                    d.year(),
                    u8::from(d.month()),
                    d.day()
                ))
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Decimal(d) => match d.to_f64() {
                Some(f) => visitor.visit_f64(f),
                None => Err(ValueError(format!("{d} has no float value"))),
            },
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Uuid(u) => visitor.visit_u128(u.as_u128()),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_u128(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bytes(b) | Value::ByteArray(b) => {
                visit_list(b.into_iter().map(Value::from).collect(), visitor)
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        if name == super::own_serde::TOKEN {
            // `Value`'s own `Deserialize`: hand the value over as it is.
            super::own_serde::stash(self);
            return visitor.visit_newtype_struct(Value::Null);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(EnumDeser {
                variant,
                value: None,
            }),
            Value::Map(m) if m.len() == 1 => {
                let (variant, value) = m.into_iter().next().expect("one entry");
                visitor.visit_enum(EnumDeser {
                    variant,
                    value: Some(value),
                })
            }
            other => Err(other.invalid_type(&"a string or a map with one entry")),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::String(s) => visitor.visit_string(s),
            Value::Uuid(u) => visitor.visit_bytes(&u.as_u128().to_be_bytes()),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_bytes(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 char
        unit_struct tuple tuple_struct map struct identifier ignored_any
    }
}

fn visit_list<'de, V: Visitor<'de>>(l: Vec<Value>, visitor: V) -> Result<V::Value, ValueError> {
    let len = l.len();
    let mut seq = SeqDeser(l.into_iter());
    let out = visitor.visit_seq(&mut seq)?;
    if seq.0.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements"))
    }
}

/// The tuple forms of `time`'s serde impls: `Date` (year, ordinal), `Time` (hour, minute,
/// second, nanosecond), `PrimitiveDateTime` (the six), `OffsetDateTime` (the six and
/// the offset's hours, minutes and seconds), `Duration` (seconds, nanoseconds).
fn time_tuple(v: &Value) -> Result<Vec<Value>, ValueError> {
    let date = |d: time::Date| [Value::from(d.year()), Value::from(d.ordinal())];
    let time = |t: time::Time| {
        [
            Value::from(t.hour()),
            Value::from(t.minute()),
            Value::from(t.second()),
            Value::from(t.nanosecond()),
        ]
    };
    Ok(match v {
        Value::Date(d) => date(d.get()).to_vec(),
        Value::Time(t) if t.tz().is_none() => time(t.time()).to_vec(),
        Value::Time(t) => {
            return Err(ValueError(format!(
                "{t} is aware: read it as a Value (time::Time has no time zone)"
            )));
        }
        Value::DateTime(d) => {
            let mut out = date(d.local().date()).to_vec();
            out.extend(time(d.local().time()));
            if let Some(tz) = d.tz() {
                let Some(off) = tz.utc_offset() else {
                    return Err(ValueError(format!(
                        "{d} has no fixed offset (a zone needs the tz database): read it as a Value"
                    )));
                };
                out.extend([
                    Value::from(off.whole_hours()),
                    Value::from(off.minutes_past_hour()),
                    Value::from(off.seconds_past_minute()),
                ]);
            }
            out
        }
        Value::TimeDelta(d) => {
            let d = time::Duration::from(*d);
            vec![
                Value::from(d.whole_seconds()),
                Value::from(d.subsec_nanoseconds()),
            ]
        }
        other => return Err(other.invalid_type(&"a date or time")),
    })
}

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

struct SeqDeser(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for SeqDeser {
    type Error = ValueError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        match self.0.next() {
            Some(v) => seed.deserialize(v).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapDeser {
    iter: <Map as IntoIterator>::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for MapDeser {
    type Error = ValueError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(KeyDeser(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| ValueError("map value requested before its key".to_owned()))?;
        seed.deserialize(v)
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Map keys are strings; a Rust map keyed by integers parses them back (the inverse of
/// what `to_value` and Python's `json.dumps` do to integer keys).
struct KeyDeser(String);

macro_rules! parse_key {
    ($($method:ident => $visit:ident : $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
            match self.0.parse::<$t>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => visitor.visit_string(self.0),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for KeyDeser {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_string(self.0)
    }

    parse_key! {
        deserialize_i8 => visit_i8: i8, deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32, deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8, deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32, deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32, deserialize_f64 => visit_f64: f64,
        deserialize_bool => visit_bool: bool
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        // A key names a unit variant, as a string value does.
        Value::String(self.0).deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf option unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

struct EnumDeser {
    variant: String,
    value: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeser {
    type Error = ValueError;
    type Variant = VariantDeser;
    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeser), ValueError> {
        let variant = seed.deserialize(Value::String(self.variant))?;
        Ok((variant, VariantDeser(self.value)))
    }
}

struct VariantDeser(Option<Value>);

impl<'de> VariantAccess<'de> for VariantDeser {
    type Error = ValueError;
    fn unit_variant(self) -> Result<(), ValueError> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(other.invalid_type(&"a unit variant")),
        }
    }
    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.0 {
            Some(v) => seed.deserialize(v),
            None => Err(ValueError("expected a newtype variant".to_owned())),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Some(v @ (Value::List(_) | Value::Tuple(_))) => v.deserialize_any(visitor),
            Some(other) => Err(other.invalid_type(&"a tuple variant")),
            None => Err(ValueError("expected a tuple variant".to_owned())),
        }
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.0 {
            Some(v @ Value::Map(_)) => v.deserialize_any(visitor),
            Some(other) => Err(other.invalid_type(&"a struct variant")),
            None => Err(ValueError("expected a struct variant".to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::super::to_value;
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u32, h: u32 },
        Pair(i8, i8),
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Cart {
        items: Vec<String>,
        total: Option<u64>,
        shape: Vec<Shape>,
        by_id: BTreeMap<u32, bool>,
    }

    #[test]
    fn structs_and_enums_round_trip() {
        let cart = Cart {
            items: vec!["a".into(), "b".into()],
            total: None,
            shape: vec![
                Shape::Dot,
                Shape::Circle(1.5),
                Shape::Rect { w: 1, h: 2 },
                Shape::Pair(-1, 1),
            ],
            by_id: [(1, true), (20, false)].into_iter().collect(),
        };
        let v = to_value(&cart).unwrap();
        assert_eq!(
            v.to_string(),
            r#"{"items":["a","b"],"total":null,"shape":["Dot",{"Circle":1.5},{"Rect":{"w":1,"h":2}},{"Pair":[-1,1]}],"by_id":{"1":true,"20":false}}"#
        );
        let back: Cart = from_value(v).unwrap();
        assert_eq!(back, cart);
    }

    #[test]
    fn big_integers_reach_wide_rust_types() {
        let v = to_value(&u64::MAX).unwrap();
        assert_eq!(from_value::<u64>(v.clone()).unwrap(), u64::MAX);
        assert!(from_value::<i64>(v).is_err());
        let v = to_value(&i128::MIN).unwrap();
        assert_eq!(from_value::<i128>(v).unwrap(), i128::MIN);
    }

    #[test]
    fn type_mismatch_is_an_error_naming_both_types() {
        let err = from_value::<u64>(Value::String("x".into())).unwrap_err();
        assert!(err.to_string().contains("string"), "{err}");
    }
}
