//! Loads the Django vectors (with the core's Python-dialect JSON reader, which keeps key
//! order and big integers) and offers small helpers.

use std::sync::{Arc, Mutex, OnceLock};

use sessionkit_core::json;
use sessionkit_core::value::{Map, Value};
use time::OffsetDateTime;

const TEXT: &str = include_str!("../data/django-vectors.json");

/// The secret key of every record that names none.
pub(crate) const SECRET_KEY: &str = "anchor-secret-key-for-vectors";
/// The fallback key some records were signed with.
pub(crate) const OLD_KEY: &str = "anchor-old-secret-key";
/// 2026-01-01T00:00:00Z.
pub(crate) const T1: i64 = 1_767_225_600;

/// One vector.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) index: usize,
    pub(crate) func: String,
    pub(crate) inputs: Map,
    pub(crate) output: Value,
    pub(crate) all: Map,
}

struct Vectors {
    meta: Map,
    records: Vec<Record>,
}

fn load() -> &'static Vectors {
    static V: OnceLock<Vectors> = OnceLock::new();
    V.get_or_init(|| {
        let Value::Map(mut top) = json::parse(TEXT).expect("vectors parse") else {
            panic!("vectors: not an object");
        };
        let Some(Value::Map(meta)) = top.shift_remove("meta") else {
            panic!("vectors: no meta");
        };
        let Some(Value::List(list)) = top.shift_remove("records") else {
            panic!("vectors: no records");
        };
        let records = list
            .into_iter()
            .enumerate()
            .map(|(index, r)| {
                let Value::Map(all) = r else {
                    panic!("record {index}: not an object")
                };
                let func = str_of(field(&all, "backend_or_function")).to_owned();
                let inputs = match all.get("inputs") {
                    Some(Value::Map(m)) => m.clone(),
                    _ => Map::new(),
                };
                let output = all.get("output").cloned().unwrap_or(Value::Null);
                Record {
                    index,
                    func,
                    inputs,
                    output,
                    all,
                }
            })
            .collect();
        Vectors { meta, records }
    })
}

pub(crate) fn meta() -> &'static Map {
    &load().meta
}

pub(crate) fn all() -> &'static [Record] {
    &load().records
}

/// The records of one function; panics when there are none (a renamed group must not
/// silently skip its test).
pub(crate) fn records(func: &str) -> Vec<&'static Record> {
    let found: Vec<_> = all().iter().filter(|r| r.func == func).collect();
    assert!(!found.is_empty(), "no vectors for {func}");
    found
}

pub(crate) fn field<'a>(m: &'a Map, key: &str) -> &'a Value {
    m.get(key)
        .unwrap_or_else(|| panic!("missing field {key:?} in {m:?}"))
}

pub(crate) fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

pub(crate) fn int_of(v: &Value) -> i64 {
    v.as_i64()
        .unwrap_or_else(|| panic!("not an integer: {v:?}"))
}

pub(crate) fn map_of(v: &Value) -> &Map {
    match v {
        Value::Map(m) => m,
        other => panic!("not an object: {other:?}"),
    }
}

impl Record {
    pub(crate) fn input(&self, key: &str) -> &Value {
        field(&self.inputs, key)
    }

    pub(crate) fn input_str(&self, key: &str) -> &str {
        str_of(self.input(key))
    }

    pub(crate) fn output_str(&self) -> &str {
        str_of(&self.output)
    }

    pub(crate) fn breakdown(&self) -> Option<&Map> {
        self.all.get("breakdown").map(map_of)
    }

    /// The secret key the record used (`SECRET_KEY` or `key` input, else the default).
    pub(crate) fn secret_key(&self) -> &str {
        ["SECRET_KEY", "key"]
            .iter()
            .find_map(|k| self.inputs.get(*k))
            .map_or(SECRET_KEY, str_of)
    }

    pub(crate) fn fallbacks(&self) -> Vec<String> {
        match self.inputs.get("SECRET_KEY_FALLBACKS") {
            Some(Value::List(l)) => l.iter().map(|v| str_of(v).to_owned()).collect(),
            _ => Vec::new(),
        }
    }
}

pub(crate) fn at(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).expect("timestamp in range")
}

/// Parses `2026-01-01T00:00:00+00:00` (the records' `now`).
pub(crate) fn iso(text: &str) -> OffsetDateTime {
    sessionkit_core::pytime::fromisoformat(text)
        .unwrap_or_else(|| panic!("bad ISO time {text}"))
        .assume_utc()
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality that treats NaN as equal to NaN.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------------------
// Capturing log events (the "Session data corrupted" warning).

use tracing::field::{Field, Visit};
use tracing::span;
use tracing::{Event, Level, Metadata, Subscriber};

/// Captured `(level, message)` pairs.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<(Level, String)>>>);

impl Capture {
    /// Runs `f` with this capture as the thread's subscriber.
    pub(crate) fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::subscriber::with_default(self.clone(), f)
    }

    pub(crate) fn take(&self) -> Vec<(Level, String)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), m.0));
    }
    fn enter(&self, _: &span::Id) {}
    fn exit(&self, _: &span::Id) {}
}

#[test]
fn the_vectors_load() {
    assert_eq!(int_of(field(meta(), "record_count")), 131);
    assert_eq!(all().len(), 131);
    assert_eq!(str_of(field(meta(), "SECRET_KEY")), SECRET_KEY);
    assert_eq!(
        str_of(field(meta(), "fallback_key_used_in_some_records")),
        OLD_KEY
    );
    let times = map_of(field(meta(), "fixed_times"));
    assert_eq!(int_of(field(times, "T1")), T1);
    assert_eq!(iso(str_of(field(times, "T1_iso"))), at(T1));
}
