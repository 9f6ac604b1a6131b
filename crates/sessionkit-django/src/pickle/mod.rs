//! A restricted Python pickle reader and writer for Django's cache engines
//! (`RedisCache` pickles the session dict itself, DJANGO.md §2.8).
//!
//! **Reading** accepts protocols 0 to 5 and builds a core [`Value`]: `None`, bools, ints
//! of any size, floats, `str`, lists, tuples, dicts, and an explicit **allowlist** of
//! standard Python types — `datetime.datetime` (naive, or with `datetime.timezone` or
//! `zoneinfo.ZoneInfo`), `datetime.date`, `datetime.time`, `datetime.timedelta`,
//! `decimal.Decimal`, `uuid.UUID`, `bytes`, `bytearray`, `set`, `frozenset` and
//! `collections.OrderedDict` — recognised from the exact shapes CPython's pickler gives
//! them at every protocol (`copyreg` reconstructors, `_codecs.encode` for bytes at
//! protocol 2, Python 2 module names). Nothing is ever executed: the reader only records
//! what the opcodes say (a global is a pair of names, a `REDUCE` a call not made) and then
//! matches that record against the allowlist. [`loads`] refuses anything else;
//! [`loads_session`] (the cache stores' reader) keeps any other object as an
//! [`Opaque`] value holding its own pickle, which the writer puts back unchanged, so that
//! the rest of the session stays usable. What it still refuses: persistent ids and the
//! extension registry (`PERSID`, `BINPERSID`, `EXT1/2/4`: Django's unpickler has neither),
//! out-of-band buffers (`NEXT_BUFFER`, `READONLY_BUFFER`), an object needed to build
//! itself, and anything over the [`Limits`] (input size, nesting depth, memo size,
//! container lengths, the size of the result: shared references are copied out, so a
//! small pickle that references one big list many times cannot blow up memory).
//!
//! **Writing** emits protocol 5 exactly as CPython does for the data a session holds
//! (`FRAME`, `MEMOIZE`, batches of 1000 `SETITEMS`/`APPENDS`, `BINGET` for the strings
//! and globals CPython shares, each allowlisted type through the same `__reduce__` CPython
//! uses), so the bytes usually match Python's; what matters, and what is tested against
//! Python, is that Python reads back an equal object of the same type.
//!
//! ```
//! use sessionkit_core::Value;
//! use sessionkit_core::value::Map;
//! use sessionkit_django::pickle;
//!
//! let mut map = Map::new();
//! map.insert("count".into(), Value::Int(1));
//! let bytes = pickle::dumps(&map);
//! assert_eq!(
//!     bytes,
//!     b"\x80\x05\x95\x0e\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x05count\x94K\x01s."
//! );
//! assert_eq!(pickle::loads(&bytes).unwrap(), Value::Map(map));
//!
//! // pickle.dumps(datetime.date(2026, 1, 2), 5)
//! let date = b"\x80\x05\x95\x20\x00\x00\x00\x00\x00\x00\x00\x8c\x08datetime\x94\x8c\x04date\x94\x93\x94C\x04\x07\xea\x01\x02\x94\x85\x94R\x94.";
//! assert_eq!(pickle::loads(date).unwrap().to_string(), r#"{"$python":"datetime.date(2026, 1, 2)"}"#);
//!
//! // Anything outside the allowlist is refused, never run.
//! let evil = b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.";
//! assert!(pickle::loads(evil).is_err());
//! ```
//!
//! # Layout
//!
//! | module | what |
//! | --- | --- |
//! | `opcodes` | every opcode, named once |
//! | `read` | the reader: opcodes to a record of objects, nothing run |
//! | `build` | the record to [`Value`]s, opaque objects cut out |
//! | `python` | the allowlist: recognising and writing each Python type |
//! | `emit` | the record back to opcodes (opaque objects) |
//! | `write` | the writer |
//! | `text` | number and string arguments |

mod build;
mod emit;
mod opcodes;
mod python;
mod read;
mod text;
mod write;

use sessionkit_core::Data;
use sessionkit_core::value::{Map, Opaque, Value};

pub use opcodes::opcode_name;
pub use write::{dumps, dumps_value};

/// The protocol [`dumps`] writes (Python's `pickle.HIGHEST_PROTOCOL` since 3.8, which
/// Django's `RedisCache` uses).
pub const PROTOCOL: u8 = 5;

/// The highest protocol [`loads`] reads.
pub const HIGHEST_PROTOCOL: u8 = 5;

/// The longest integer (`LONG1`/`LONG4` byte count) [`loads`] converts; about 4900
/// decimal digits, beyond Python's own default limit for `str(int)`.
pub const MAX_LONG_BYTES: usize = 2048;

/// The highest nesting [`Limits::with_max_depth`] accepts.
pub const MAX_DEPTH_CEILING: usize = 1000;

/// Bounds on what [`loads_with`] accepts. Exceeding one is an error, never an
/// allocation.
///
/// ```
/// use sessionkit_django::pickle::{Limits, loads_with};
///
/// let limits = Limits::default().with_max_input(16);
/// assert!(loads_with(&[0x80; 17], &limits).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_input: usize,
    max_depth: usize,
    max_memo: usize,
    max_container_len: usize,
    max_values: usize,
    max_text: usize,
}

impl Default for Limits {
    /// 1 MiB of input; 200 levels of nesting (below the JSON reader's 256, so whatever
    /// is read can be stored as JSON); 100 000 memo entries and items per container;
    /// 1 000 000 values and 16 MiB of string data in the result.
    fn default() -> Limits {
        Limits {
            max_input: 1 << 20,
            max_depth: 200,
            max_memo: 100_000,
            max_container_len: 100_000,
            max_values: 1_000_000,
            max_text: 16 << 20,
        }
    }
}

impl Limits {
    /// Largest input, in bytes.
    #[must_use]
    pub fn with_max_input(mut self, bytes: usize) -> Limits {
        self.max_input = bytes;
        self
    }

    /// Deepest nesting of containers (the top-level dict is depth 1). Capped at
    /// [`MAX_DEPTH_CEILING`]: values are copied out recursively.
    #[must_use]
    pub fn with_max_depth(mut self, depth: usize) -> Limits {
        self.max_depth = depth.min(MAX_DEPTH_CEILING);
        self
    }

    /// Most memo entries.
    #[must_use]
    pub fn with_max_memo(mut self, entries: usize) -> Limits {
        self.max_memo = entries;
        self
    }

    /// Most items in one list, tuple or dict.
    #[must_use]
    pub fn with_max_container_len(mut self, items: usize) -> Limits {
        self.max_container_len = items;
        self
    }

    /// Most values in the result (every scalar and container counts one, shared
    /// references once per occurrence) and most objects created while reading.
    #[must_use]
    pub fn with_max_values(mut self, values: usize) -> Limits {
        self.max_values = values;
        self
    }

    /// Most bytes of string data (keys and values, shared references once per
    /// occurrence) in the result.
    #[must_use]
    pub fn with_max_text(mut self, bytes: usize) -> Limits {
        self.max_text = bytes;
        self
    }
}

/// Why a pickle was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("pickle refused at byte {offset}: {kind}")]
pub struct PickleError {
    /// Offset of the opcode (or argument) at fault.
    pub offset: usize,
    /// What was wrong.
    pub kind: PickleErrorKind,
}

/// The kinds of [`PickleError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PickleErrorKind {
    /// The input ended before `STOP` or inside an argument.
    #[error("unexpected end of input")]
    Eof,
    /// A byte that is not a pickle opcode.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// An opcode that imports, constructs or calls a Python object outside the allowlist
    /// (in [`loads`]; [`loads_session`] keeps such objects as [`Opaque`]
    /// values), or that needs the unpickler's hooks (persistent ids, the extension
    /// registry). Never executed.
    #[error("opcode {name} ({op:#04x}) would construct Python objects or run code", name = opcode_name(*.0), op = .0)]
    Refused(u8),
    /// An opcode whose value exists only outside the pickle (out-of-band buffers).
    #[error("opcode {name} ({op:#04x}) produces a value sessions cannot hold", name = opcode_name(*.0), op = .0)]
    Unsupported(u8),
    /// A `PROTO` above [`HIGHEST_PROTOCOL`].
    #[error("unsupported pickle protocol {0}")]
    Protocol(u8),
    /// An opcode argument that does not parse (a bad number, a bad quoted string).
    #[error("malformed opcode argument")]
    Malformed,
    /// A string that is not valid UTF-8 (or not ASCII, for the Python 2 string opcodes).
    #[error("invalid text encoding")]
    InvalidText,
    /// An opcode found too few values on the stack, or no `MARK`.
    #[error("stack underflow")]
    StackUnderflow,
    /// An opcode applied to the wrong kind of value (e.g. `APPEND` to a dict).
    #[error("opcode applied to the wrong type")]
    WrongType,
    /// A memo reference to an entry that was never stored.
    #[error("memo reference to a missing entry")]
    MissingMemo,
    /// A dict key that is not a string (the value model's maps have string keys; in
    /// [`loads_session`] such a dict inside a value makes that value opaque).
    #[error("dict key is not a string")]
    NonStringKey,
    /// A container that contains itself (in [`loads_session`], a value holding such a
    /// cycle is kept opaque; an object needed to build itself is refused).
    #[error("recursive container")]
    Recursive,
    /// The input exceeds [`Limits::with_max_input`].
    #[error("input too large")]
    InputTooLarge,
    /// Nesting exceeds [`Limits::with_max_depth`].
    #[error("nested too deeply")]
    TooDeep,
    /// The memo exceeds [`Limits::with_max_memo`].
    #[error("too many memo entries")]
    MemoTooLarge,
    /// A container exceeds [`Limits::with_max_container_len`].
    #[error("container too long")]
    ContainerTooLarge,
    /// The result exceeds [`Limits::with_max_values`] or [`Limits::with_max_text`], or
    /// an integer exceeds [`MAX_LONG_BYTES`].
    #[error("result too large")]
    OutputTooLarge,
    /// A well-formed value that is not the dict a session must be.
    #[error("not a dict")]
    NotADict,
}

// ---------------------------------------------------------------------------------------
// Reading

/// Reads a pickle (protocols 0–5) with the default [`Limits`]: plain data and the
/// allowlisted Python types; any other object is refused.
pub fn loads(bytes: &[u8]) -> Result<Value, PickleError> {
    loads_with(bytes, &Limits::default())
}

/// Reads a pickle (protocols 0–5) within `limits`, as [`loads`]. Data after `STOP` is
/// ignored, as Python's `pickle.loads` does.
pub fn loads_with(bytes: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    let graph = read::read(bytes, limits)?;
    build::Builder::new(&graph, limits, false).value(graph.root)
}

/// Reads a pickled session dict (string keys) with the default [`Limits`]. A value
/// outside the allowlist (an instance of an application's class, a dict with integer
/// keys, a list that contains itself) becomes an [`Opaque`] value holding its pickle, so
/// the other keys stay usable and the writer puts it back unchanged. Identity shared
/// between values (two keys holding the same object) is not kept: each is written on its
/// own, as Django's JSON serializer writes them.
///
/// ```
/// use sessionkit_core::Value;
/// use sessionkit_django::pickle;
///
/// // pickle.dumps({"n": 1, "obj": app.Thing()}, 5) for some class app.Thing
/// let bytes = b"\x80\x05\x95$\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x01n\x94K\x01\x8c\x03obj\x94\x8c\x03app\x94\x8c\x05Thing\x94\x93\x94)\x81\x94u.";
/// let map = pickle::loads_session(bytes).unwrap();
/// assert_eq!(map["n"], Value::Int(1));
/// let Value::Opaque(obj) = &map["obj"] else { panic!() };
/// assert_eq!(obj.type_name(), "app.Thing");
/// // Written back, Python rebuilds the same object from the same opcodes.
/// assert_eq!(pickle::loads_session(&pickle::dumps(&map)).unwrap(), map);
/// ```
pub fn loads_session(bytes: &[u8]) -> Result<Map, PickleError> {
    loads_session_with(bytes, &Limits::default())
}

/// [`loads_session`] within `limits`.
pub fn loads_session_with(bytes: &[u8], limits: &Limits) -> Result<Map, PickleError> {
    let graph = read::read(bytes, limits)?;
    build::Builder::new(&graph, limits, true).session(graph.root)
}

/// The object an [`Opaque`] value holds, read back for writing (`None` if its bytes are
/// not a pickle this module wrote).
fn opaque_graph(o: &Opaque) -> Option<read::Graph> {
    read::read(o.pickle(), &Limits::default()).ok()
}

// ---------------------------------------------------------------------------------------
// Django's RedisSerializer

/// Django's `RedisSerializer.loads`: a value that parses as a Python `int` was stored
/// as decimal text; anything else is a pickle.
///
/// ```
/// use sessionkit_core::Value;
/// use sessionkit_django::pickle::redis_loads;
///
/// assert_eq!(redis_loads(b"5").unwrap(), Value::Int(5));
/// ```
pub fn redis_loads(bytes: &[u8]) -> Result<Value, PickleError> {
    if let Some(v) = std::str::from_utf8(bytes).ok().and_then(text::python_int) {
        return Ok(v);
    }
    loads(bytes)
}

/// Django's `RedisSerializer.dumps`: an integer (exactly `int`, not `bool`) is stored as
/// decimal text, anything else pickled with protocol 5.
///
/// ```
/// use sessionkit_core::Value;
/// use sessionkit_django::pickle::redis_dumps;
///
/// assert_eq!(redis_dumps(&Value::Int(5)), b"5");
/// assert_eq!(redis_dumps(&Value::Bool(true)), b"\x80\x05\x88.");
/// ```
pub fn redis_dumps(value: &Value) -> Vec<u8> {
    match value {
        Value::Int(i) => i.to_string().into_bytes(),
        Value::BigInt(b) => b.as_str().as_bytes().to_vec(),
        other => dumps_value(other),
    }
}

/// Reads a session stored by Django's cache engines in Redis (the pickled dict, see
/// [`loads_session`]). Anything but a dict with string keys is an error.
pub fn redis_value_decode(bytes: &[u8]) -> Result<Data, PickleError> {
    if std::str::from_utf8(bytes)
        .ok()
        .and_then(text::python_int)
        .is_some()
    {
        // `RedisSerializer` stored an integer, not a session.
        return Err(PickleError {
            offset: 0,
            kind: PickleErrorKind::NotADict,
        });
    }
    loads_session(bytes).map(Data::from_map)
}

/// Writes a session for Django's cache engines in Redis (the dict, pickled with
/// protocol 5, as `RedisCache` stores it).
pub fn redis_value_encode(data: &Data) -> Vec<u8> {
    let map: Map = data.iter().map(|(k, v)| (k.to_owned(), v)).collect();
    dumps(&map)
}

// ---------------------------------------------------------------------------------------
// pymemcache's serde (Django's PyMemcacheCache)

/// pymemcache's `FLAG_PICKLE`: the client flag of a pickled value. Django's
/// `PyMemcacheCache` uses `pymemcache.serde.pickle_serde`, which stores `bytes` with flags
/// 0, `str` with `FLAG_TEXT` (16), `int` with `FLAG_INTEGER` (2) and everything else —
/// a session dict — pickled with `pickle.HIGHEST_PROTOCOL` and `FLAG_PICKLE`.
pub const PYMEMCACHE_FLAG_PICKLE: u32 = 1;

/// pymemcache's `FLAG_COMPRESSED`: set by its `CompressedSerde` (not Django's default).
pub const PYMEMCACHE_FLAG_COMPRESSED: u32 = 1 << 3;

/// Writes a session as `PyMemcacheCache` stores it: the dict pickled with protocol 5 (the
/// highest of every Python Django supports), and the client flags.
///
/// ```
/// use sessionkit_core::{Data, Value};
/// use sessionkit_django::pickle;
///
/// let mut data = Data::new();
/// data.insert("count", Value::Int(1));
/// let (value, flags) = pickle::pymemcache_encode(&data);
/// assert_eq!(flags, pickle::PYMEMCACHE_FLAG_PICKLE);
/// assert_eq!(pickle::pymemcache_decode(&value, flags).unwrap(), data);
/// // Text (flag 16) is a str to pymemcache, not a session.
/// assert!(pickle::pymemcache_decode(b"hello", 16).is_err());
/// ```
pub fn pymemcache_encode(data: &Data) -> (Vec<u8>, u32) {
    (redis_value_encode(data), PYMEMCACHE_FLAG_PICKLE)
}

/// Reads a session `PyMemcacheCache` stored: a pickled dict under `FLAG_PICKLE`. Values
/// under other flags (bytes, text, integers, compressed values) are not sessions:
/// [`PickleErrorKind::NotADict`].
pub fn pymemcache_decode(value: &[u8], flags: u32) -> Result<Data, PickleError> {
    if flags & PYMEMCACHE_FLAG_PICKLE == 0 || flags & PYMEMCACHE_FLAG_COMPRESSED != 0 {
        return Err(PickleError {
            offset: 0,
            kind: PickleErrorKind::NotADict,
        });
    }
    loads_session(value).map(Data::from_map)
}

#[cfg(test)]
mod tests;
