//! The writer: protocol 5 as CPython writes it.

use std::collections::HashMap;

use sessionkit_core::value::{Map, Value};

use super::emit::Emitter;
use super::opcodes::*;
use super::text::{encode_long_decimal, encode_long_i128};
use super::{Limits, PROTOCOL};

/// Python's pickler writes at most this many items per `SETITEMS` / `APPENDS` /
/// `ADDITEMS`.
pub(super) const BATCH_SIZE: usize = 1000;

/// Python's framing: a new frame starts once the current one reaches 64 KiB.
const FRAME_SIZE_TARGET: usize = 64 * 1024;

/// Frames shorter than this are written without a `FRAME` header.
const FRAME_SIZE_MIN: usize = 4;

/// Pickles a session dict as Python's `pickle.dumps(d, protocol=5)` would.
pub fn dumps(map: &Map) -> Vec<u8> {
    let mut w = Encoder::new();
    w.save_map(map);
    w.finish()
}

/// Pickles any value (protocol 5); tuples stay tuples.
pub fn dumps_value(value: &Value) -> Vec<u8> {
    let mut w = Encoder::new();
    w.save(value, false);
    w.finish()
}

/// The opcode stream under construction: framing, the memo, and the encodings every
/// writer shares.
pub(super) struct Encoder {
    out: Vec<u8>,
    pub(super) frame: Vec<u8>,
    memo_len: u32,
    /// Strings CPython would share: dict keys (`json.loads` reuses one object per key
    /// text), identifiers (module and attribute names) and the cached empty and
    /// one-character latin-1 strings.
    shared: HashMap<String, u32>,
    /// Globals already written (CPython memoizes each class once), and their module
    /// names (one string object per module).
    globals: HashMap<(String, String), u32>,
    modules: HashMap<String, u32>,
}

impl Encoder {
    pub(super) fn new() -> Encoder {
        Encoder {
            out: vec![PROTO, PROTOCOL],
            frame: Vec::with_capacity(256),
            memo_len: 0,
            shared: HashMap::new(),
            globals: HashMap::new(),
            modules: HashMap::new(),
        }
    }

    pub(super) fn commit_frame(&mut self, force: bool) {
        if self.frame.len() >= FRAME_SIZE_TARGET || (force && !self.frame.is_empty()) {
            if self.frame.len() >= FRAME_SIZE_MIN {
                self.out.push(FRAME);
                self.out
                    .extend_from_slice(&(self.frame.len() as u64).to_le_bytes());
            }
            self.out.append(&mut self.frame);
        }
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.frame.push(STOP);
        self.commit_frame(true);
        self.out
    }

    pub(super) fn op(&mut self, op: u8) {
        self.frame.push(op);
    }

    pub(super) fn memoize(&mut self) -> u32 {
        self.frame.push(MEMOIZE);
        self.memo_len += 1;
        self.memo_len - 1
    }

    pub(super) fn get(&mut self, index: u32) {
        if let Ok(i) = u8::try_from(index) {
            self.frame.extend_from_slice(&[BINGET, i]);
        } else {
            self.frame.push(LONG_BINGET);
            self.frame.extend_from_slice(&index.to_le_bytes());
        }
    }

    /// `TUPLE1..3` or `MARK ... TUPLE` for the last `n` saved items (the `MARK` of a long
    /// tuple must come first: callers pass at most 3), then `MEMOIZE`.
    pub(super) fn tuple_end(&mut self, n: usize) {
        match n {
            0 => self.frame.push(EMPTY_TUPLE),
            1..=3 => {
                self.frame.push(TUPLE1 + (n as u8 - 1));
                self.memoize();
            }
            _ => unreachable!("argument tuples have at most three items"),
        }
    }

    /// A global, as `STACK_GLOBAL` with its names shared, memoized once.
    pub(super) fn global(&mut self, module: &str, name: &str) {
        self.commit_frame(false);
        if let Some(&index) = self.globals.get(&(module.to_owned(), name.to_owned())) {
            self.get(index);
            return;
        }
        match self.modules.get(module) {
            Some(&index) => self.get(index),
            None => {
                self.str(module, false);
                let index = self.memo_len - 1;
                self.modules.insert(module.to_owned(), index);
            }
        }
        self.str(name, false);
        self.frame.push(STACK_GLOBAL);
        let index = self.memoize();
        self.globals
            .insert((module.to_owned(), name.to_owned()), index);
    }

    pub(super) fn save(&mut self, v: &Value, is_key: bool) {
        // Python's framer checks at the start of every save.
        self.commit_frame(false);
        match v {
            Value::Null => self.frame.push(NONE),
            Value::Bool(true) => self.frame.push(NEWTRUE),
            Value::Bool(false) => self.frame.push(NEWFALSE),
            Value::Int(i) => self.int(i128::from(*i)),
            Value::BigInt(b) => match b.to_i128() {
                Some(i) => self.int(i),
                None => self.long_bytes(&encode_long_decimal(b)),
            },
            Value::Float(f) => self.float(*f),
            Value::String(s) => self.str(s, is_key),
            Value::List(items) => {
                self.frame.push(EMPTY_LIST);
                self.memoize();
                self.save_batches(items);
            }
            Value::Tuple(items) => self.save_tuple(items),
            Value::Map(map) => self.save_map(map),
            Value::Bytes(b) => self.bytes(b),
            Value::ByteArray(b) => self.bytearray(b),
            Value::Set(items) => self.save_set(items),
            Value::FrozenSet(items) => self.save_frozenset(items),
            Value::OrderedDict(map) => self.save_ordered_dict(map),
            Value::DateTime(d) => self.save_datetime(d),
            Value::Date(d) => self.save_date(d),
            Value::Time(t) => self.save_time(t),
            Value::TimeDelta(d) => self.save_timedelta(d),
            Value::Decimal(d) => self.save_decimal(d),
            Value::Uuid(u) => self.save_uuid(u),
            Value::Opaque(o) => {
                // The object's own opcodes, read back (they were written by `emit`) and
                // emitted into this stream, memo indices continuing.
                let emitted = super::opaque_graph(o).is_some_and(|g| {
                    Emitter::new(&g, Limits::default().max_depth)
                        .emit(self, g.root, 0)
                        .is_ok()
                });
                if !emitted {
                    tracing::error!(
                        type_name = o.type_name(),
                        "an opaque session value is not a readable pickle; written as None"
                    );
                    self.frame.push(NONE);
                }
            }
            // `Value` is non-exhaustive; every variant is handled above.
            #[allow(unreachable_patterns)]
            _ => self.frame.push(NONE),
        }
    }

    pub(super) fn float(&mut self, f: f64) {
        self.frame.push(BINFLOAT);
        self.frame.extend_from_slice(&f.to_be_bytes());
    }

    pub(super) fn int(&mut self, n: i128) {
        if let Ok(b) = u8::try_from(n) {
            self.frame.extend_from_slice(&[BININT1, b]);
        } else if let Ok(w) = u16::try_from(n) {
            self.frame.push(BININT2);
            self.frame.extend_from_slice(&w.to_le_bytes());
        } else if let Ok(i) = i32::try_from(n) {
            self.frame.push(BININT);
            self.frame.extend_from_slice(&i.to_le_bytes());
        } else {
            self.long_bytes(&encode_long_i128(n));
        }
    }

    pub(super) fn long_bytes(&mut self, bytes: &[u8]) {
        if let Ok(n) = u8::try_from(bytes.len()) {
            self.frame.extend_from_slice(&[LONG1, n]);
        } else {
            self.frame.push(LONG4);
            // Session integers never approach 2 GiB of bytes.
            let n = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
            self.frame.extend_from_slice(&n.to_le_bytes());
        }
        self.frame.extend_from_slice(bytes);
    }

    /// A length-prefixed payload: the short, 4-byte or 8-byte form of an opcode family;
    /// large payloads go outside any frame, as Python writes them.
    fn payload(&mut self, short: Option<u8>, long4: Option<u8>, long8: u8, bytes: &[u8]) {
        if let (Some(op), Ok(n)) = (short, u8::try_from(bytes.len())) {
            self.frame.extend_from_slice(&[op, n]);
            self.frame.extend_from_slice(bytes);
            return;
        }
        let mut header = Vec::with_capacity(9);
        match (long4, u32::try_from(bytes.len())) {
            (Some(op), Ok(n)) => {
                header.push(op);
                header.extend_from_slice(&n.to_le_bytes());
            }
            _ => {
                header.push(long8);
                header.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            }
        }
        if bytes.len() >= FRAME_SIZE_TARGET {
            self.commit_frame(true);
            self.out.extend_from_slice(&header);
            self.out.extend_from_slice(bytes);
        } else {
            self.frame.extend_from_slice(&header);
            self.frame.extend_from_slice(bytes);
        }
    }

    pub(super) fn bytes(&mut self, b: &[u8]) {
        self.payload(Some(SHORT_BINBYTES), Some(BINBYTES), BINBYTES8, b);
        self.memoize();
    }

    pub(super) fn bytearray(&mut self, b: &[u8]) {
        self.payload(None, None, BYTEARRAY8, b);
        self.memoize();
    }

    /// A string; `shared` ones (dict keys, identifiers) are written once and referenced
    /// after, as CPython's memo does for one object.
    pub(super) fn str(&mut self, s: &str, shared: bool) {
        let mut chars = s.chars();
        let singleton = match (chars.next(), chars.next()) {
            (None, _) => true,
            (Some(c), None) => u32::from(c) <= 0xff,
            _ => false,
        };
        let shared = singleton || shared;
        if shared && let Some(&index) = self.shared.get(s) {
            self.get(index);
            return;
        }
        self.payload(
            Some(SHORT_BINUNICODE),
            Some(BINUNICODE),
            BINUNICODE8,
            s.as_bytes(),
        );
        let index = self.memoize();
        if shared {
            self.shared.insert(s.to_owned(), index);
        }
    }

    fn save_tuple(&mut self, items: &[Value]) {
        match items.len() {
            0 => self.frame.push(EMPTY_TUPLE),
            n @ 1..=3 => {
                for item in items {
                    self.save(item, false);
                }
                self.tuple_end(n);
            }
            _ => {
                self.frame.push(MARK);
                for item in items {
                    self.save(item, false);
                }
                self.frame.push(TUPLE);
                self.memoize();
            }
        }
    }

    /// CPython's `batch_list_exact`.
    fn save_batches(&mut self, items: &[Value]) {
        if let [only] = items {
            self.save(only, false);
            self.frame.push(APPEND);
            return;
        }
        for batch in items.chunks(BATCH_SIZE) {
            self.frame.push(MARK);
            for item in batch {
                self.save(item, false);
            }
            self.frame.push(APPENDS);
        }
    }

    /// CPython's `save_dict`.
    fn save_map(&mut self, map: &Map) {
        self.commit_frame(false);
        self.frame.push(EMPTY_DICT);
        self.memoize();
        self.save_items(map);
    }

    /// CPython's `batch_dict_exact` (which, unlike the list version, writes an empty
    /// `MARK SETITEMS` after a dict of exactly n×1000 items).
    pub(super) fn save_items(&mut self, map: &Map) {
        match map.len() {
            0 => {}
            1 => {
                for (k, v) in map {
                    self.str(k, true);
                    self.save(v, false);
                }
                self.frame.push(SETITEM);
            }
            _ => {
                let mut iter = map.iter();
                loop {
                    self.frame.push(MARK);
                    let mut n = 0;
                    for (k, v) in iter.by_ref().take(BATCH_SIZE) {
                        self.commit_frame(false);
                        self.str(k, true);
                        self.save(v, false);
                        n += 1;
                    }
                    self.frame.push(SETITEMS);
                    if n < BATCH_SIZE {
                        break;
                    }
                }
            }
        }
    }
}
