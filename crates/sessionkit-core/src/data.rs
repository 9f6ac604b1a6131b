//! [`Data`]: a session's dictionary, decoded lazily.
//!
//! Loading a session splits the stored JSON object into its keys without decoding the
//! values: each value stays a slice of the stored text until something reads it. That is
//! cheaper (a request that reads one key decodes one value) and lossless: a value the Rust
//! side never touched is written back byte for byte, whatever writer produced it.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::json::{self, JsonError};
use crate::value::{Map, Value};

/// A session's data: string keys in insertion order, each holding a [`Value`] or the raw
/// JSON text it was loaded from.
///
/// Cloning is one reference-count increment: the entries are shared until one copy is
/// changed (copy on write). A loaded session's dictionary is not shared with anything
/// else, so its first change edits it in place: the retry policy needs only the loaded
/// values of the keys a request changed, which the session keeps as it changes them.
#[derive(Clone, Default)]
pub struct Data {
    entries: Arc<IndexMap<String, Slot>>,
}

#[derive(Clone)]
enum Slot {
    /// Undecoded JSON text: a range of a shared source string.
    Raw {
        src: Arc<str>,
        range: Range<u32>,
    },
    Value(Value),
}

impl Slot {
    fn raw_text(&self) -> Option<&str> {
        match self {
            Slot::Raw { src, range } => Some(&src[range.start as usize..range.end as usize]),
            Slot::Value(_) => None,
        }
    }

    fn decode(&self) -> Value {
        match self {
            Slot::Value(v) => v.clone(),
            // The text was validated when the object was split, so this cannot fail; if
            // it somehow did, `null` is safer than a panic.
            Slot::Raw { .. } => json::parse(self.raw_text().unwrap_or("null")).unwrap_or_default(),
        }
    }
}

impl Data {
    /// An empty dictionary.
    pub fn new() -> Data {
        Data::default()
    }

    /// Splits a stored JSON object (Python dialect) into keys and undecoded values.
    ///
    /// ```
    /// use sessionkit_core::Data;
    ///
    /// let data = Data::from_json(r#"{"count": 1, "odd": 1E5}"#.into()).unwrap();
    /// assert_eq!(data.len(), 2);
    /// // Untouched values keep their original text.
    /// assert_eq!(data.to_json(), r#"{"count":1,"odd":1E5}"#);
    /// ```
    pub fn from_json(src: Arc<str>) -> Result<Data, JsonError> {
        let len = src.len();
        Data::from_json_prefix(src, len)
    }

    /// [`Data::from_json`] on the first `len` bytes of `src`, which the undecoded values
    /// then share: the memory store keeps a session's JSON at the start of its one string,
    /// and reading it copies nothing. A `len` past the end, or off a character boundary,
    /// is an error like a truncated text.
    pub(crate) fn from_json_prefix(src: Arc<str>, len: usize) -> Result<Data, JsonError> {
        if src.len() > u32::MAX as usize {
            return Err(JsonError {
                offset: u32::MAX as usize,
                kind: json::JsonErrorKind::Trailing,
            });
        }
        let Some(text) = src.get(..len) else {
            return Err(JsonError {
                offset: src.len().min(len),
                kind: json::JsonErrorKind::Eof,
            });
        };
        // A repeated key keeps its first position and takes the last value (Python's
        // `dict`), which is what `IndexMap::insert` does.
        let mut entries = IndexMap::new();
        json::for_each_member(text, |key, range| {
            let range = range.start as u32..range.end as u32;
            let src = Arc::clone(&src);
            entries.insert(key, Slot::Raw { src, range });
        })?;
        Ok(Data {
            entries: Arc::new(entries),
        })
    }

    /// Builds data from a decoded map.
    pub fn from_map(map: Map) -> Data {
        Data {
            entries: Arc::new(map.into_iter().map(|(k, v)| (k, Slot::Value(v))).collect()),
        }
    }

    /// Decodes every value into a [`Map`].
    pub fn to_map(&self) -> Map {
        self.entries
            .iter()
            .map(|(k, s)| (k.clone(), s.decode()))
            .collect()
    }

    /// Writes the dictionary as Python-compatible JSON, ASCII only. Untouched values are
    /// copied from the text they were loaded from (re-encoded only if that text was not
    /// ASCII, which Django could not read back).
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(16 + self.entries.len() * 16);
        self.write_json(&mut out);
        out
    }

    /// Appends the JSON form to `out` (see [`Data::to_json`]).
    pub fn write_json(&self, out: &mut String) {
        out.push('{');
        for (i, (k, slot)) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            json::write_str(out, k);
            out.push(':');
            match (slot, slot.raw_text()) {
                (_, Some(raw)) if raw.is_ascii() => out.push_str(raw),
                (Slot::Value(v), _) => json::write_value(out, v),
                (raw, _) => json::write_value(out, &raw.decode()),
            }
        }
        out.push('}');
    }

    /// The value under `key`, decoded.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.entries.get(key).map(Slot::decode)
    }

    /// The raw stored text of `key` when it has not been decoded or replaced.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.entries.get(key).and_then(Slot::raw_text)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    /// Sets `key` (keeping its position when it exists, as Python's `dict` does).
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        Arc::make_mut(&mut self.entries).insert(key.into(), Slot::Value(value));
    }

    /// [`Data::insert`] for a borrowed key, copied only when it is new: a request
    /// mostly sets keys the session had (a counter, a cart).
    pub(crate) fn set(&mut self, key: &str, value: Value) {
        let entries = Arc::make_mut(&mut self.entries);
        match entries.get_mut(key) {
            Some(slot) => *slot = Slot::Value(value),
            None => {
                entries.insert(key.to_owned(), Slot::Value(value));
            }
        }
    }

    /// Removes `key`, keeping the order of the others. Returns the old value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        if !self.entries.contains_key(key) {
            return None;
        }
        Arc::make_mut(&mut self.entries)
            .shift_remove(key)
            .map(|s| s.decode())
    }

    /// Removes every key.
    pub fn clear(&mut self) {
        if !self.entries.is_empty() {
            self.entries = Arc::default();
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys, in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The entries, decoded, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Value)> {
        self.entries.iter().map(|(k, s)| (k.as_str(), s.decode()))
    }

    /// What the dictionary holds under `key` now (a reference-count increment or a value
    /// clone), to tell later whether other data holds the same ([`Data::holds`]).
    pub(crate) fn held(&self, key: &str) -> Held {
        Held(self.entries.get(key).cloned())
    }

    /// Whether the dictionary holds under `key` what `held` recorded (raw text compared by
    /// decoded value; both absent counts as the same).
    pub(crate) fn holds(&self, key: &str, held: &Held) -> bool {
        same_slot(self.entries.get(key), held.0.as_ref())
    }

    /// Empties the dictionary, handing out what it held under each key (moved when this
    /// copy is the only one, else copied).
    pub(crate) fn take_all(&mut self) -> impl Iterator<Item = (String, Held)> {
        Arc::unwrap_or_clone(std::mem::take(&mut self.entries))
            .into_iter()
            .map(|(k, slot)| (k, Held(Some(slot))))
    }

    /// A dictionary of the one entry `held` recorded under `key` (empty if it was absent).
    pub(crate) fn from_held(key: &str, held: &Held) -> Data {
        let mut entries = IndexMap::new();
        if let Some(slot) = &held.0 {
            entries.insert(key.to_owned(), slot.clone());
        }
        Data {
            entries: Arc::new(entries),
        }
    }
}

/// What a dictionary held under one key at some moment ([`Data::held`]): the session keeps
/// it for each key a request changes, taken before the first change, instead of a copy of
/// the whole dictionary as loaded.
#[derive(Clone)]
pub(crate) struct Held(Option<Slot>);

/// Whether two entries (or absences) hold the same value: raw texts that are equal, else
/// equal decoded values.
fn same_slot(a: Option<&Slot>, b: Option<&Slot>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => match (a.raw_text(), b.raw_text()) {
            (Some(x), Some(y)) if x == y => true,
            _ => values_equal(&a.decode(), &b.decode()),
        },
        _ => false,
    }
}

/// Equality that treats NaN as equal to NaN (for change detection).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && values_equal(va, vb))
        }
        _ => a == b,
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for Data {
    fn eq(&self, other: &Data) -> bool {
        self.len() == other.len()
            && self
                .entries
                .keys()
                .zip(other.entries.keys())
                .all(|(a, b)| a == b)
            && self
                .entries
                .iter()
                .all(|(k, a)| same_slot(Some(a), other.entries.get(k)))
    }
}

impl FromIterator<(String, Value)> for Data {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Data {
        Data {
            entries: Arc::new(iter.into_iter().map(|(k, v)| (k, Slot::Value(v))).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_values_go_back_byte_for_byte() {
        let src = r#"{"a": 1.50, "b" : [1,2 ,3], "big": 123456789012345678901234567890}"#;
        let mut d = Data::from_json(src.into()).unwrap();
        d.insert("c", Value::Int(1));
        assert_eq!(
            d.to_json(),
            r#"{"a":1.50,"b":[1,2 ,3],"big":123456789012345678901234567890,"c":1}"#
        );
        assert_eq!(d.get("a"), Some(Value::Float(1.5)));
    }

    #[test]
    fn non_ascii_raw_text_is_re_escaped() {
        let d = Data::from_json("{\"name\":\"café\"}".into()).unwrap();
        assert_eq!(d.to_json(), r#"{"name":"caf\u00e9"}"#);
    }

    #[test]
    fn remove_keeps_order() {
        let mut d = Data::from_json(r#"{"a":1,"b":2,"c":3}"#.into()).unwrap();
        assert_eq!(d.remove("b"), Some(Value::Int(2)));
        d.insert("a", Value::Int(9));
        assert_eq!(d.to_json(), r#"{"a":9,"c":3}"#);
    }

    #[test]
    fn repeated_keys_keep_the_first_position_and_the_last_value() {
        let d = Data::from_json(r#"{"a":1,"b":2,"a":3,"c":"x\"y","a":4}"#.into()).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.to_json(), r#"{"a":4,"b":2,"c":"x\"y"}"#);
        let escaped = Data::from_json(r#"{"k\u00e9":1,"k\u00e9":2}"#.into()).unwrap();
        assert_eq!(escaped.len(), 1);
        assert_eq!(escaped.get("ké"), Some(Value::Int(2)));
    }

    #[test]
    fn a_prefix_is_read_alone_and_a_bad_length_refused() {
        let src: Arc<str> = Arc::from("{\"b\":\"é\",\"n\":1}TRAILER\0é");
        let len = "{\"b\":\"é\",\"n\":1}".len();
        let d = Data::from_json_prefix(Arc::clone(&src), len).unwrap();
        assert_eq!(d.to_json(), r#"{"b":"\u00e9","n":1}"#);
        assert_eq!(d.raw("n"), Some("1"));
        assert!(Data::from_json_prefix(Arc::clone(&src), len - 1).is_err());
        assert!(Data::from_json_prefix(Arc::clone(&src), src.len() + 1).is_err());
        // Inside "é" (bytes 6 and 7): not a character boundary.
        assert!(Data::from_json_prefix(Arc::clone(&src), 7).is_err());
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Data::from_json("[]".into()).is_err());
        assert!(Data::from_json("{".into()).is_err());
        assert!(Data::from_json("".into()).is_err());
    }
}
