//! `Serialize` → [`Value`].
//!
//! One `serde::Serializer` (`Serializer`) serves both values and map keys: the two accept
//! the same scalars and differ only in what they build, which an `Output` (`ToValue`,
//! `ToKey`, zero-sized, resolved at compile time) decides. Likewise one `SeqBuilder`
//! serves serde's four sequence traits and one `MapBuilder` its map, struct and struct
//! variant traits: a variant is only the builder's result wrapped as `{variant: ...}`.

use serde::ser::{self, Serialize};

use super::{Map, Value, ValueError};

/// Converts any `Serialize` type into a [`Value`].
///
/// Follows Python's `json.dumps` where the two differ from serde's usual JSON: map keys that
/// are integers, booleans, floats or `None` become strings (`1` → `"1"`, `true` → `"true"`,
/// `None` → `"null"`), as Django's JSON serializer does. Enums use serde's externally tagged
/// form. Bytes become a list of integers.
///
/// ```
/// use std::collections::BTreeMap;
/// use sessionkit_core::value::{to_value, Value};
///
/// let mut m = BTreeMap::new();
/// m.insert(1, "one");
/// let v = to_value(&m).unwrap();
/// assert_eq!(v.to_string(), r#"{"1":"one"}"#);
/// assert_eq!(to_value(&u128::MAX).unwrap().to_string(), u128::MAX.to_string());
/// ```
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(Serializer(ToValue))
}

/// The one `serde::Serializer` behind [`to_value`] and map keys, over an [`Output`].
///
/// Values and map keys accept the same scalars and differ only in what they build from
/// them, so the serde surface (thirty-odd methods) is written once and the difference
/// sits in the two `Output` impls. `O` is a zero-sized marker: every call is resolved at
/// compile time, with no dynamic dispatch and no allocation beyond the `Value` built.
struct Serializer<O>(O);

/// What a [`Serializer`] builds: a [`Value`], or a map key.
///
/// Scalars arrive as the `Value` [`to_value`] would build for them; `ToValue` keeps it,
/// `ToKey` turns it into key text or refuses it.
trait Output: Sized {
    /// The result.
    type Ok;
    /// Builds sequences, tuples, tuple structs and tuple variants.
    type Seq: ser::SerializeSeq<Ok = Self::Ok, Error = ValueError>
        + ser::SerializeTuple<Ok = Self::Ok, Error = ValueError>
        + ser::SerializeTupleStruct<Ok = Self::Ok, Error = ValueError>
        + ser::SerializeTupleVariant<Ok = Self::Ok, Error = ValueError>;
    /// Builds maps, structs and struct variants.
    type Map: ser::SerializeMap<Ok = Self::Ok, Error = ValueError>
        + ser::SerializeStruct<Ok = Self::Ok, Error = ValueError>
        + ser::SerializeStructVariant<Ok = Self::Ok, Error = ValueError>;
    /// Whether a `Value` handed over through [`own_serde`](super::own_serde) is taken as
    /// it is (else its natural serde form is serialized).
    const TAKES_VALUE: bool;

    /// A scalar, as the `Value` `to_value` builds for it.
    fn scalar(v: Value) -> Result<Self::Ok, ValueError>;
    /// `{variant: value}`.
    fn newtype_variant<T: Serialize + ?Sized>(
        variant: &'static str,
        value: &T,
    ) -> Result<Self::Ok, ValueError>;
    /// A sequence of about `len` items, tagged with `variant` for a tuple variant.
    fn seq(variant: Option<&'static str>, len: usize) -> Result<Self::Seq, ValueError>;
    /// A map of about `len` entries, tagged with `variant` for a struct variant.
    fn map(variant: Option<&'static str>, len: usize) -> Result<Self::Map, ValueError>;
}

/// [`Output`] of [`to_value`].
struct ToValue;

impl Output for ToValue {
    type Ok = Value;
    type Seq = SeqBuilder;
    type Map = MapBuilder;
    const TAKES_VALUE: bool = true;

    fn scalar(v: Value) -> Result<Value, ValueError> {
        Ok(v)
    }
    fn newtype_variant<T: Serialize + ?Sized>(
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(tagged(Some(variant), to_value(value)?))
    }
    fn seq(variant: Option<&'static str>, len: usize) -> Result<SeqBuilder, ValueError> {
        Ok(SeqBuilder::new(variant, len))
    }
    fn map(variant: Option<&'static str>, len: usize) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::new(variant, len))
    }
}

/// [`Output`] of map keys: strings as they are; scalars converted the way Python's
/// `json.dumps` does; anything else refused.
struct ToKey;

fn key_error() -> ValueError {
    ValueError("map keys must be strings, numbers, booleans or None".to_owned())
}

impl Output for ToKey {
    type Ok = String;
    type Seq = ser::Impossible<String, ValueError>;
    type Map = ser::Impossible<String, ValueError>;
    const TAKES_VALUE: bool = false;

    fn scalar(v: Value) -> Result<String, ValueError> {
        match v {
            Value::String(s) => Ok(s),
            Value::Int(i) => Ok(i.to_string()),
            Value::BigInt(b) => Ok(b.0.into()),
            Value::Bool(b) => Ok(if b { "true" } else { "false" }.to_owned()),
            Value::Null => Ok("null".to_owned()),
            Value::Float(f) => {
                let mut s = String::new();
                crate::json::write_float(&mut s, f);
                Ok(s)
            }
            _ => Err(key_error()),
        }
    }
    fn newtype_variant<T: Serialize + ?Sized>(
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ValueError> {
        Err(key_error())
    }
    fn seq(_variant: Option<&'static str>, _len: usize) -> Result<Self::Seq, ValueError> {
        Err(key_error())
    }
    fn map(_variant: Option<&'static str>, _len: usize) -> Result<Self::Map, ValueError> {
        Err(key_error())
    }
}

/// `serialize_<int>` methods, each converting its argument with the given function.
macro_rules! integers {
    ($($name:ident($t:ty) => $to:expr,)*) => {
        $(fn $name(self, v: $t) -> Result<O::Ok, ValueError> {
            let to: fn($t) -> Value = $to;
            O::scalar(to(v))
        })*
    };
}

impl<O: Output> ser::Serializer for Serializer<O> {
    type Ok = O::Ok;
    type Error = ValueError;
    type SerializeSeq = O::Seq;
    type SerializeTuple = O::Seq;
    type SerializeTupleStruct = O::Seq;
    type SerializeTupleVariant = O::Seq;
    type SerializeMap = O::Map;
    type SerializeStruct = O::Map;
    type SerializeStructVariant = O::Map;

    fn serialize_bool(self, v: bool) -> Result<O::Ok, ValueError> {
        O::scalar(Value::Bool(v))
    }
    // Integers that fit in i64 are `Int`; wider ones go through `Value::from` (a big int).
    integers! {
        serialize_i8(i8) => |v| Value::Int(v.into()),
        serialize_i16(i16) => |v| Value::Int(v.into()),
        serialize_i32(i32) => |v| Value::Int(v.into()),
        serialize_i64(i64) => Value::Int,
        serialize_i128(i128) => Value::from,
        serialize_u8(u8) => |v| Value::Int(v.into()),
        serialize_u16(u16) => |v| Value::Int(v.into()),
        serialize_u32(u32) => |v| Value::Int(v.into()),
        serialize_u64(u64) => Value::from,
        serialize_u128(u128) => Value::from,
    }
    fn serialize_f32(self, v: f32) -> Result<O::Ok, ValueError> {
        // Go through the shortest decimal form so `0.1f32` stays `0.1`, not
        // `0.10000000149011612`.
        self.serialize_f64(v.to_string().parse().unwrap_or(f64::from(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<O::Ok, ValueError> {
        O::scalar(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<O::Ok, ValueError> {
        O::scalar(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<O::Ok, ValueError> {
        O::scalar(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<O::Ok, ValueError> {
        O::scalar(Value::List(
            v.iter().map(|b| Value::Int((*b).into())).collect(),
        ))
    }
    fn serialize_none(self) -> Result<O::Ok, ValueError> {
        O::scalar(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<O::Ok, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<O::Ok, ValueError> {
        O::scalar(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<O::Ok, ValueError> {
        O::scalar(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<O::Ok, ValueError> {
        O::scalar(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<O::Ok, ValueError> {
        if O::TAKES_VALUE
            && name == super::own_serde::TOKEN
            && let Some(v) = super::own_serde::take()
        {
            return O::scalar(v);
        }
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<O::Ok, ValueError> {
        O::newtype_variant(variant, value)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<O::Seq, ValueError> {
        O::seq(None, len.unwrap_or(0))
    }
    fn serialize_tuple(self, len: usize) -> Result<O::Seq, ValueError> {
        O::seq(None, len)
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<O::Seq, ValueError> {
        O::seq(None, len)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<O::Seq, ValueError> {
        O::seq(Some(variant), len)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<O::Map, ValueError> {
        O::map(None, len.unwrap_or(0))
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<O::Map, ValueError> {
        O::map(None, len)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<O::Map, ValueError> {
        O::map(Some(variant), len)
    }
}

/// Wraps `built` as `{variant: built}` (serde's externally tagged form) when `variant` is set.
fn tagged(variant: Option<&'static str>, built: Value) -> Value {
    match variant {
        None => built,
        Some(variant) => {
            let mut m = Map::with_capacity(1);
            m.insert(variant.to_owned(), built);
            Value::Map(m)
        }
    }
}

/// Builds a list: sequences, tuples, tuple structs, and (tagged) tuple variants.
pub(crate) struct SeqBuilder {
    variant: Option<&'static str>,
    items: Vec<Value>,
}

impl SeqBuilder {
    fn new(variant: Option<&'static str>, len: usize) -> SeqBuilder {
        SeqBuilder {
            variant,
            items: Vec::with_capacity(len.min(4096)),
        }
    }
}

/// serde's four sequence traits differ only in a method name: one body serves them all.
macro_rules! seq_impls {
    ($($tr:ident::$method:ident),*) => {$(
        impl ser::$tr for SeqBuilder {
            type Ok = Value;
            type Error = ValueError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
                self.items.push(to_value(value)?);
                Ok(())
            }
            fn end(self) -> Result<Value, ValueError> {
                Ok(tagged(self.variant, Value::List(self.items)))
            }
        }
    )*};
}
seq_impls!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Builds a map: maps, structs, and (tagged) struct variants.
pub(crate) struct MapBuilder {
    variant: Option<&'static str>,
    map: Map,
    key: Option<String>,
}

impl MapBuilder {
    fn new(variant: Option<&'static str>, len: usize) -> MapBuilder {
        MapBuilder {
            variant,
            map: Map::with_capacity(len.min(4096)),
            key: None,
        }
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.key = Some(key.serialize(Serializer(ToKey))?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| ValueError("map value without a key".to_owned()))?;
        self.map.insert(key, to_value(value)?);
        Ok(())
    }
    fn end(self) -> Result<Value, ValueError> {
        Ok(tagged(self.variant, Value::Map(self.map)))
    }
}

/// Structs and struct variants differ only in the trait: one body serves both.
macro_rules! struct_impls {
    ($($tr:ident),*) => {$(
        impl ser::$tr for MapBuilder {
            type Ok = Value;
            type Error = ValueError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), ValueError> {
                self.map.insert(key.to_owned(), to_value(value)?);
                Ok(())
            }
            fn end(self) -> Result<Value, ValueError> {
                Ok(tagged(self.variant, Value::Map(self.map)))
            }
        }
    )*};
}
struct_impls!(SerializeStruct, SerializeStructVariant);
