//! A restricted Python pickle reader and writer: the subset that JSON-like session data
//! needs, for Django's cache engines (`RedisCache` pickles the session dict itself,
//! DJANGO.md §2.8).
//!
//! **Reading** accepts protocols 0 to 5 and builds a core [`Value`]: `None`, bools, ints
//! of any size, floats, `str`, lists, tuples and dicts with string keys, including shared
//! references through the memo. Every opcode that would import, construct or call Python
//! objects (`GLOBAL`, `STACK_GLOBAL`, `REDUCE`, `BUILD`, `INST`, `OBJ`, `NEWOBJ`,
//! `NEWOBJ_EX`, `PERSID`, `BINPERSID`, `EXT1/2/4`) is refused with an error — it is never
//! executed, there is nothing to execute it with — and so are values the value model
//! cannot hold (`bytes`, `bytearray`, out-of-band buffers, sets, non-string dict keys).
//! Hard [`Limits`] bound the input size, nesting depth, memo size, container lengths and
//! the size of the result (shared references are copied out, so a small pickle that
//! references one big list many times cannot blow up memory).
//!
//! **Writing** emits protocol 5 exactly as CPython does for the data a `json.loads`-built
//! dict holds (`FRAME`, `MEMOIZE`, batches of 1000 `SETITEMS`/`APPENDS`, `BINGET` for the
//! strings CPython shares), so the bytes usually match Python's; what matters, and what is
//! tested, is that Python reads them back equal.
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
//! // Anything that would run code is refused.
//! let evil = b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R.";
//! assert!(pickle::loads(evil).is_err());
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use indexmap::IndexMap;
use sessionkit_core::Data;
use sessionkit_core::value::{BigInt, Map, Value, int_from_decimal};

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

/// Python's pickler writes at most this many items per `SETITEMS` / `APPENDS`.
const BATCH_SIZE: usize = 1000;

/// Python's framing: a new frame starts once the current one reaches 64 KiB.
const FRAME_SIZE_TARGET: usize = 64 * 1024;

/// Frames shorter than this are written without a `FRAME` header.
const FRAME_SIZE_MIN: usize = 4;

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
    /// An opcode that imports, constructs or calls Python objects. Never executed.
    #[error("opcode {name} ({op:#04x}) would construct Python objects or run code", name = opcode_name(*.0), op = .0)]
    Refused(u8),
    /// An opcode whose value the session value model cannot hold (bytes, buffers, sets).
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
    /// A dict key that is not a string (JSON-like sessions have string keys only).
    #[error("dict key is not a string")]
    NonStringKey,
    /// A container that contains itself.
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

/// The name of a pickle opcode, for messages (`"?"` for unknown bytes).
pub fn opcode_name(op: u8) -> &'static str {
    match op {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'F' => "FLOAT",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'L' => "LONG",
        b'M' => "BININT2",
        b'N' => "NONE",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        b'R' => "REDUCE",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        b'a' => "APPEND",
        b'b' => "BUILD",
        b'c' => "GLOBAL",
        b'd' => "DICT",
        b'}' => "EMPTY_DICT",
        b'e' => "APPENDS",
        b'g' => "GET",
        b'h' => "BINGET",
        b'i' => "INST",
        b'j' => "LONG_BINGET",
        b'l' => "LIST",
        b']' => "EMPTY_LIST",
        b'o' => "OBJ",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        b's' => "SETITEM",
        b't' => "TUPLE",
        b')' => "EMPTY_TUPLE",
        b'u' => "SETITEMS",
        b'G' => "BINFLOAT",
        0x80 => "PROTO",
        0x81 => "NEWOBJ",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        0x8e => "BINBYTES8",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        0x92 => "NEWOBJ_EX",
        0x93 => "STACK_GLOBAL",
        0x94 => "MEMOIZE",
        0x95 => "FRAME",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => "?",
    }
}

// ---------------------------------------------------------------------------------------
// Reading

/// Reads a pickle (protocols 0–5) with the default [`Limits`].
pub fn loads(bytes: &[u8]) -> Result<Value, PickleError> {
    loads_with(bytes, &Limits::default())
}

/// Reads a pickle (protocols 0–5) within `limits`. Data after `STOP` is ignored, as
/// Python's `pickle.loads` does.
pub fn loads_with(bytes: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    if bytes.len() > limits.max_input {
        return Err(PickleError {
            offset: 0,
            kind: PickleErrorKind::InputTooLarge,
        });
    }
    let mut r = Reader {
        data: bytes,
        pos: 0,
        op_start: 0,
        limits,
        arena: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = r.run()?;
    let mut b = Builder {
        arena: &r.arena,
        limits,
        visiting: vec![false; r.arena.len()],
        values: 0,
        text: 0,
    };
    b.build(root, 0).map_err(|kind| PickleError {
        offset: r.pos,
        kind,
    })
}

type Id = usize;

/// An object under construction. Containers refer to other objects by arena index, so
/// a memoized container mutated later (Python memoizes a dict before filling it) is seen
/// filled through every reference.
enum Obj {
    None,
    Bool(bool),
    Int(i64),
    Big(BigInt),
    Float(f64),
    Str(String),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(IndexMap<String, Id>),
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    op_start: usize,
    limits: &'a Limits,
    arena: Vec<Obj>,
    stack: Vec<Id>,
    /// Stack heights at each `MARK` (Python's metastack): operations never pop below
    /// the innermost mark.
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

type R<T> = Result<T, PickleError>;

impl Reader<'_> {
    fn err<T>(&self, kind: PickleErrorKind) -> R<T> {
        Err(PickleError {
            offset: self.op_start,
            kind,
        })
    }

    fn take(&mut self, n: usize) -> R<&[u8]> {
        let end = match self.pos.checked_add(n) {
            Some(end) if end <= self.data.len() => end,
            _ => return self.err(PickleErrorKind::Eof),
        };
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> R<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32_len(&mut self) -> R<usize> {
        let n = u32::from_le_bytes(self.array()?);
        self.len_arg(u64::from(n))
    }

    fn len_arg(&self, n: u64) -> R<usize> {
        match usize::try_from(n) {
            Ok(n) => Ok(n),
            Err(_) => self.err(PickleErrorKind::Eof),
        }
    }

    /// A text argument up to `\n` (not included).
    fn line(&mut self) -> R<&[u8]> {
        let rest = &self.data[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => self.err(PickleErrorKind::Eof),
        }
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn new_obj(&mut self, obj: Obj) -> R<Id> {
        if self.arena.len() >= self.limits.max_values {
            return self.err(PickleErrorKind::OutputTooLarge);
        }
        self.arena.push(obj);
        Ok(self.arena.len() - 1)
    }

    fn push(&mut self, obj: Obj) -> R<()> {
        let id = self.new_obj(obj)?;
        self.stack.push(id);
        Ok(())
    }

    fn pop(&mut self) -> R<Id> {
        if self.stack.len() <= self.floor() {
            return self.err(PickleErrorKind::StackUnderflow);
        }
        match self.stack.pop() {
            Some(id) => Ok(id),
            None => self.err(PickleErrorKind::StackUnderflow),
        }
    }

    fn top(&self) -> R<Id> {
        if self.stack.len() <= self.floor() {
            return self.err(PickleErrorKind::StackUnderflow);
        }
        match self.stack.last() {
            Some(&id) => Ok(id),
            None => self.err(PickleErrorKind::StackUnderflow),
        }
    }

    /// Pops everything above the innermost mark, and the mark.
    fn pop_mark(&mut self) -> R<Vec<Id>> {
        match self.marks.pop() {
            Some(m) if m <= self.stack.len() => Ok(self.stack.split_off(m)),
            _ => self.err(PickleErrorKind::StackUnderflow),
        }
    }

    fn check_len(&self, len: usize) -> R<()> {
        if len > self.limits.max_container_len {
            return self.err(PickleErrorKind::ContainerTooLarge);
        }
        Ok(())
    }

    fn memo_put(&mut self, index: u64) -> R<()> {
        let top = self.top()?;
        let len = self.memo.len();
        match self.memo.entry(index) {
            Entry::Occupied(mut e) => {
                e.insert(top);
            }
            Entry::Vacant(e) => {
                if len >= self.limits.max_memo {
                    return Err(PickleError {
                        offset: self.op_start,
                        kind: PickleErrorKind::MemoTooLarge,
                    });
                }
                e.insert(top);
            }
        }
        Ok(())
    }

    fn memo_get(&mut self, index: u64) -> R<()> {
        match self.memo.get(&index) {
            Some(&id) => {
                self.stack.push(id);
                Ok(())
            }
            None => self.err(PickleErrorKind::MissingMemo),
        }
    }

    fn decimal_index(&mut self) -> R<u64> {
        let line = self.line()?;
        match std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(n) => Ok(n),
            None => self.err(PickleErrorKind::Malformed),
        }
    }

    fn utf8(&self, bytes: &[u8]) -> R<Obj> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Obj::Str(s.to_owned())),
            Err(_) => self.err(PickleErrorKind::InvalidText),
        }
    }

    /// Python 2 `str` under Python 3's default `encoding="ASCII"`.
    fn ascii(&self, bytes: &[u8]) -> R<Obj> {
        if !bytes.is_ascii() {
            return self.err(PickleErrorKind::InvalidText);
        }
        self.utf8(bytes)
    }

    fn int_text(&self, text: &[u8]) -> R<Obj> {
        match std::str::from_utf8(text).ok().and_then(python_int) {
            Some(v) => Ok(value_to_int_obj(v)),
            None => self.err(PickleErrorKind::Malformed),
        }
    }

    fn long_bytes(&self, bytes: &[u8]) -> R<Obj> {
        if bytes.len() > MAX_LONG_BYTES {
            return self.err(PickleErrorKind::OutputTooLarge);
        }
        Ok(value_to_int_obj(decode_long(bytes)))
    }

    fn insert_items(&mut self, dict: Id, items: &[Id]) -> R<()> {
        if !items.len().is_multiple_of(2) {
            return self.err(PickleErrorKind::StackUnderflow);
        }
        let mut pairs = Vec::with_capacity(items.len() / 2);
        for kv in items.chunks_exact(2) {
            let key = match &self.arena[kv[0]] {
                Obj::Str(s) => s.clone(),
                _ => return self.err(PickleErrorKind::NonStringKey),
            };
            pairs.push((key, kv[1]));
        }
        let max = self.limits.max_container_len;
        let Obj::Dict(map) = &mut self.arena[dict] else {
            return self.err(PickleErrorKind::WrongType);
        };
        for (k, v) in pairs {
            map.insert(k, v);
        }
        if map.len() > max {
            return self.err(PickleErrorKind::ContainerTooLarge);
        }
        Ok(())
    }

    fn extend_list(&mut self, list: Id, items: Vec<Id>) -> R<()> {
        let max = self.limits.max_container_len;
        let Obj::List(l) = &mut self.arena[list] else {
            return self.err(PickleErrorKind::WrongType);
        };
        l.extend(items);
        if l.len() > max {
            return self.err(PickleErrorKind::ContainerTooLarge);
        }
        Ok(())
    }

    fn run(&mut self) -> R<Id> {
        use PickleErrorKind as K;
        loop {
            self.op_start = self.pos;
            let op = self.byte()?;
            match op {
                // Framing and structure.
                0x80 => {
                    let proto = self.byte()?;
                    if proto > HIGHEST_PROTOCOL {
                        return self.err(K::Protocol(proto));
                    }
                }
                0x95 => {
                    let n = u64::from_le_bytes(self.array()?);
                    let remaining = (self.data.len() - self.pos) as u64;
                    if n > remaining {
                        return self.err(K::Eof);
                    }
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    if self.stack.len() > self.floor() {
                        self.stack.pop();
                    } else {
                        self.pop_mark()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?;
                    self.stack.push(top);
                }

                // Memo.
                0x94 => {
                    let index = self.memo.len() as u64;
                    self.memo_put(index)?;
                }
                b'p' => {
                    let index = self.decimal_index()?;
                    self.memo_put(index)?;
                }
                b'q' => {
                    let index = self.byte()?;
                    self.memo_put(u64::from(index))?;
                }
                b'r' => {
                    let index = u32::from_le_bytes(self.array()?);
                    self.memo_put(u64::from(index))?;
                }
                b'g' => {
                    let index = self.decimal_index()?;
                    self.memo_get(index)?;
                }
                b'h' => {
                    let index = self.byte()?;
                    self.memo_get(u64::from(index))?;
                }
                b'j' => {
                    let index = u32::from_le_bytes(self.array()?);
                    self.memo_get(u64::from(index))?;
                }

                // Scalars.
                b'N' => self.push(Obj::None)?,
                0x88 => self.push(Obj::Bool(true))?,
                0x89 => self.push(Obj::Bool(false))?,
                b'K' => {
                    let n = self.byte()?;
                    self.push(Obj::Int(i64::from(n)))?;
                }
                b'M' => {
                    let n = u16::from_le_bytes(self.array()?);
                    self.push(Obj::Int(i64::from(n)))?;
                }
                b'J' => {
                    let n = i32::from_le_bytes(self.array()?);
                    self.push(Obj::Int(i64::from(n)))?;
                }
                b'I' => {
                    let line = self.line()?;
                    let obj = match line {
                        b"00" => Obj::Bool(false),
                        b"01" => Obj::Bool(true),
                        _ => {
                            let line = line.to_vec();
                            self.int_text(&line)?
                        }
                    };
                    self.push(obj)?;
                }
                b'L' => {
                    let line = self.line()?;
                    let line = line.strip_suffix(b"L").unwrap_or(line).to_vec();
                    let obj = self.int_text(&line)?;
                    self.push(obj)?;
                }
                0x8a => {
                    let n = usize::from(self.byte()?);
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.long_bytes(&bytes)?;
                    self.push(obj)?;
                }
                0x8b => {
                    let n = i32::from_le_bytes(self.array()?);
                    let Ok(n) = usize::try_from(n) else {
                        return self.err(K::Malformed);
                    };
                    if n > MAX_LONG_BYTES {
                        return self.err(K::OutputTooLarge);
                    }
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.long_bytes(&bytes)?;
                    self.push(obj)?;
                }
                b'G' => {
                    let f = f64::from_be_bytes(self.array()?);
                    self.push(Obj::Float(f))?;
                }
                b'F' => {
                    let line = self.line()?;
                    let f = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok());
                    match f {
                        Some(f) => self.push(Obj::Float(f))?,
                        None => return self.err(K::Malformed),
                    }
                }

                // Strings.
                0x8c => {
                    let n = usize::from(self.byte()?);
                    let obj = {
                        let bytes = self.take(n)?;
                        std::str::from_utf8(bytes).map(str::to_owned)
                    };
                    match obj {
                        Ok(s) => self.push(Obj::Str(s))?,
                        Err(_) => return self.err(K::InvalidText),
                    }
                }
                b'X' | 0x8d => {
                    let n = if op == b'X' {
                        self.u32_len()?
                    } else {
                        let n = u64::from_le_bytes(self.array()?);
                        self.len_arg(n)?
                    };
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.utf8(&bytes)?;
                    self.push(obj)?;
                }
                b'V' => {
                    let line = self.line()?.to_vec();
                    match raw_unicode_escape(&line) {
                        Some(s) => self.push(Obj::Str(s))?,
                        None => return self.err(K::InvalidText),
                    }
                }
                b'U' => {
                    let n = usize::from(self.byte()?);
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.ascii(&bytes)?;
                    self.push(obj)?;
                }
                b'T' => {
                    let n = i32::from_le_bytes(self.array()?);
                    let Ok(n) = usize::try_from(n) else {
                        return self.err(K::Malformed);
                    };
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.ascii(&bytes)?;
                    self.push(obj)?;
                }
                b'S' => {
                    let line = self.line()?.to_vec();
                    let Some(bytes) = python2_string_literal(&line) else {
                        return self.err(K::Malformed);
                    };
                    let obj = self.ascii(&bytes)?;
                    self.push(obj)?;
                }

                // Containers.
                b'}' => self.push(Obj::Dict(IndexMap::new()))?,
                b']' => self.push(Obj::List(Vec::new()))?,
                b')' => self.push(Obj::Tuple(Vec::new()))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len() / 2)?;
                    let id = self.new_obj(Obj::Dict(IndexMap::new()))?;
                    self.insert_items(id, &items)?;
                    self.stack.push(id);
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len())?;
                    self.push(Obj::List(items))?;
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len())?;
                    self.push(Obj::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = vec![0; n];
                    for slot in items.iter_mut().rev() {
                        *slot = self.pop()?;
                    }
                    self.push(Obj::Tuple(items))?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let dict = self.top()?;
                    self.insert_items(dict, &[k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let dict = self.top()?;
                    self.insert_items(dict, &items)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let list = self.top()?;
                    self.extend_list(list, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.extend_list(list, items)?;
                }

                // Never executed.
                b'c' | 0x93 | b'R' | b'b' | b'i' | b'o' | 0x81 | 0x92 | b'P' | b'Q' | 0x82
                | 0x83 | 0x84 => return self.err(K::Refused(op)),
                b'B' | b'C' | 0x8e | 0x96 | 0x97 | 0x98 | 0x8f | 0x90 | 0x91 => {
                    return self.err(K::Unsupported(op));
                }
                _ => return self.err(K::UnknownOpcode(op)),
            }
        }
    }
}

fn value_to_int_obj(v: Value) -> Obj {
    match v {
        Value::BigInt(b) => Obj::Big(b),
        Value::Int(i) => Obj::Int(i),
        // `python_int` and `decode_long` only produce integers.
        _ => Obj::Int(0),
    }
}

/// Copies the object graph out into a tree of values, within the limits.
struct Builder<'a> {
    arena: &'a [Obj],
    limits: &'a Limits,
    visiting: Vec<bool>,
    values: usize,
    text: usize,
}

impl Builder<'_> {
    fn count(&mut self, text: usize) -> Result<(), PickleErrorKind> {
        self.values += 1;
        self.text = self.text.saturating_add(text);
        if self.values > self.limits.max_values || self.text > self.limits.max_text {
            return Err(PickleErrorKind::OutputTooLarge);
        }
        Ok(())
    }

    fn build(&mut self, id: Id, depth: usize) -> Result<Value, PickleErrorKind> {
        let arena = self.arena;
        let obj = arena.get(id).ok_or(PickleErrorKind::MissingMemo)?;
        let container = matches!(obj, Obj::List(_) | Obj::Tuple(_) | Obj::Dict(_));
        if container {
            if depth + 1 > self.limits.max_depth {
                return Err(PickleErrorKind::TooDeep);
            }
            if self.visiting[id] {
                return Err(PickleErrorKind::Recursive);
            }
            self.visiting[id] = true;
        }
        let v = match obj {
            Obj::None => {
                self.count(0)?;
                Value::Null
            }
            Obj::Bool(b) => {
                self.count(0)?;
                Value::Bool(*b)
            }
            Obj::Int(i) => {
                self.count(0)?;
                Value::Int(*i)
            }
            Obj::Big(b) => {
                self.count(0)?;
                Value::BigInt(b.clone())
            }
            Obj::Float(f) => {
                self.count(0)?;
                Value::Float(*f)
            }
            Obj::Str(s) => {
                self.count(s.len())?;
                Value::String(s.clone())
            }
            Obj::List(items) | Obj::Tuple(items) => {
                self.count(0)?;
                let mut out = Vec::with_capacity(items.len());
                for &item in items {
                    out.push(self.build(item, depth + 1)?);
                }
                if matches!(obj, Obj::Tuple(_)) {
                    Value::Tuple(out)
                } else {
                    Value::List(out)
                }
            }
            Obj::Dict(map) => {
                self.count(0)?;
                let mut out = Map::with_capacity(map.len());
                for (k, &v) in map {
                    self.count(k.len())?;
                    out.insert(k.clone(), self.build(v, depth + 1)?);
                }
                Value::Map(out)
            }
        };
        if container {
            self.visiting[id] = false;
        }
        Ok(v)
    }
}

/// Python's `int(text)` for decimal text: optional sign, surrounding whitespace,
/// underscores between digits.
fn python_int(text: &str) -> Option<Value> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let b = digits.as_bytes();
    if b.is_empty() || !b[0].is_ascii_digit() || !b[b.len() - 1].is_ascii_digit() {
        return None;
    }
    let mut clean = String::with_capacity(digits.len() + 1);
    if neg {
        clean.push('-');
    }
    let mut prev_underscore = false;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                clean.push(char::from(c));
                prev_underscore = false;
            }
            b'_' if !prev_underscore => prev_underscore = true,
            _ => return None,
        }
    }
    if clean.len() > 5000 {
        return None;
    }
    int_from_decimal(&clean)
}

/// Python 3's `raw_unicode_escape` decoding (the `UNICODE` opcode): bytes are latin-1
/// except for `\uXXXX` and `\UXXXXXXXX`.
fn raw_unicode_escape(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\\' {
            let width = match bytes.get(i + 1) {
                Some(b'u') => 4,
                Some(b'U') => 8,
                _ => 0,
            };
            if width > 0 {
                let hex = bytes.get(i + 2..i + 2 + width)?;
                let hex = std::str::from_utf8(hex).ok()?;
                let code = u32::from_str_radix(hex, 16).ok()?;
                // A lone surrogate is legal in Python, impossible in Rust strings.
                out.push(char::from_u32(code)?);
                i += 2 + width;
                continue;
            }
        }
        out.push(char::from(b));
        i += 1;
    }
    Some(out)
}

/// The argument of the protocol 0 `STRING` opcode: a quoted Python 2 string literal.
fn python2_string_literal(line: &[u8]) -> Option<Vec<u8>> {
    let quote = *line.first()?;
    if line.len() < 2 || !(quote == b'\'' || quote == b'"') || line[line.len() - 1] != quote {
        return None;
    }
    let body = &line[1..line.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let e = *body.get(i + 1)?;
        i += 2;
        match e {
            b'\\' | b'\'' | b'"' => out.push(e),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'v' => out.push(0x0b),
            b'x' => {
                let hex = std::str::from_utf8(body.get(i..i + 2)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut n = 1;
                while n < 3 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                            n += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(v & 0xff).ok()?);
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------
// Big integers: little-endian two's complement bytes <-> decimal text

/// `LONG1`/`LONG4` bytes (little-endian two's complement) to an integer value.
fn decode_long(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Int(0);
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    if bytes.len() <= 16 {
        let mut buf = if negative { [0xffu8; 16] } else { [0u8; 16] };
        buf[..bytes.len()].copy_from_slice(bytes);
        return Value::from(i128::from_le_bytes(buf));
    }
    // Magnitude in base 2^32 limbs, little-endian.
    let mut mag: Vec<u8> = bytes.to_vec();
    if negative {
        // Two's complement negation: invert, add one.
        let mut carry = true;
        for b in &mut mag {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    let mut limbs: Vec<u32> = mag
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect();
    let mut chunks = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut text = String::with_capacity(chunks.len() * 9 + 1);
    if negative {
        text.push('-');
    }
    for (i, chunk) in chunks.iter().rev().enumerate() {
        if i == 0 {
            text.push_str(&chunk.to_string());
        } else {
            text.push_str(&format!("{chunk:09}"));
        }
    }
    int_from_decimal(&text).unwrap_or(Value::Int(0))
}

/// Python's `pickle.encode_long`: the shortest little-endian two's complement form.
fn encode_long_i128(n: i128) -> Vec<u8> {
    if n == 0 {
        return Vec::new();
    }
    let mut bytes = n.to_le_bytes().to_vec();
    trim_twos_complement(&mut bytes);
    bytes
}

fn trim_twos_complement(bytes: &mut Vec<u8>) {
    while bytes.len() > 1 {
        let last = bytes[bytes.len() - 1];
        let prev = bytes[bytes.len() - 2];
        let redundant = (last == 0x00 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0);
        if !redundant {
            break;
        }
        bytes.pop();
    }
}

/// `encode_long` for a big integer's decimal text.
fn encode_long_decimal(b: &BigInt) -> Vec<u8> {
    let text = b.as_str();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    // Magnitude in base 2^32 limbs, little-endian: limbs = limbs * 10 + digit.
    let mut limbs: Vec<u32> = vec![0];
    for chunk in digits.as_bytes().chunks(9) {
        let mut mul: u64 = 1;
        let mut add: u64 = 0;
        for &d in chunk {
            mul *= 10;
            add = add * 10 + u64::from(d.wrapping_sub(b'0') % 10);
        }
        let mut carry = add;
        for limb in &mut limbs {
            let cur = u64::from(*limb) * mul + carry;
            *limb = cur as u32;
            carry = cur >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    // Room for the sign bit.
    bytes.push(0);
    if negative {
        let mut carry = true;
        for b in &mut bytes {
            let (v, c) = (!*b).overflowing_add(u8::from(carry));
            *b = v;
            carry = c;
        }
    }
    trim_twos_complement(&mut bytes);
    bytes
}

// ---------------------------------------------------------------------------------------
// Writing

/// Pickles a session dict as Python's `pickle.dumps(d, protocol=5)` would.
pub fn dumps(map: &Map) -> Vec<u8> {
    let mut w = Writer::new();
    w.save_map(map);
    w.finish()
}

/// Pickles any value (protocol 5); tuples stay tuples.
pub fn dumps_value(value: &Value) -> Vec<u8> {
    let mut w = Writer::new();
    w.save(value, false);
    w.finish()
}

struct Writer {
    out: Vec<u8>,
    frame: Vec<u8>,
    memo_len: u32,
    /// Strings CPython would share: dict keys (`json.loads` reuses one object per key
    /// text) and the cached empty and one-character latin-1 strings.
    shared: HashMap<String, u32>,
}

impl Writer {
    fn new() -> Writer {
        Writer {
            out: vec![0x80, PROTOCOL],
            frame: Vec::with_capacity(256),
            memo_len: 0,
            shared: HashMap::new(),
        }
    }

    fn commit_frame(&mut self, force: bool) {
        if self.frame.len() >= FRAME_SIZE_TARGET || (force && !self.frame.is_empty()) {
            if self.frame.len() >= FRAME_SIZE_MIN {
                self.out.push(0x95);
                self.out
                    .extend_from_slice(&(self.frame.len() as u64).to_le_bytes());
            }
            self.out.append(&mut self.frame);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.frame.push(b'.');
        self.commit_frame(true);
        self.out
    }

    fn memoize(&mut self) -> u32 {
        self.frame.push(0x94);
        self.memo_len += 1;
        self.memo_len - 1
    }

    fn get(&mut self, index: u32) {
        if let Ok(i) = u8::try_from(index) {
            self.frame.extend_from_slice(&[b'h', i]);
        } else {
            self.frame.push(b'j');
            self.frame.extend_from_slice(&index.to_le_bytes());
        }
    }

    fn save(&mut self, v: &Value, is_key: bool) {
        // Python's framer checks at the start of every save.
        self.commit_frame(false);
        match v {
            Value::Null => self.frame.push(b'N'),
            Value::Bool(true) => self.frame.push(0x88),
            Value::Bool(false) => self.frame.push(0x89),
            Value::Int(i) => self.save_int(i128::from(*i)),
            Value::BigInt(b) => match b.to_i128() {
                Some(i) => self.save_int(i),
                None => self.save_long_bytes(&encode_long_decimal(b)),
            },
            Value::Float(f) => {
                self.frame.push(b'G');
                self.frame.extend_from_slice(&f.to_be_bytes());
            }
            Value::String(s) => self.save_str(s, is_key),
            Value::List(items) => {
                self.frame.push(b']');
                self.memoize();
                self.save_batches(items);
            }
            Value::Tuple(items) => self.save_tuple(items),
            Value::Map(map) => self.save_map(map),
        }
    }

    fn save_int(&mut self, n: i128) {
        if let Ok(b) = u8::try_from(n) {
            self.frame.extend_from_slice(&[b'K', b]);
        } else if let Ok(w) = u16::try_from(n) {
            self.frame.push(b'M');
            self.frame.extend_from_slice(&w.to_le_bytes());
        } else if let Ok(i) = i32::try_from(n) {
            self.frame.push(b'J');
            self.frame.extend_from_slice(&i.to_le_bytes());
        } else {
            self.save_long_bytes(&encode_long_i128(n));
        }
    }

    fn save_long_bytes(&mut self, bytes: &[u8]) {
        if let Ok(n) = u8::try_from(bytes.len()) {
            self.frame.extend_from_slice(&[0x8a, n]);
        } else {
            self.frame.push(0x8b);
            // Session integers never approach 2 GiB of bytes.
            let n = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
            self.frame.extend_from_slice(&n.to_le_bytes());
        }
        self.frame.extend_from_slice(bytes);
    }

    fn save_str(&mut self, s: &str, is_key: bool) {
        let mut chars = s.chars();
        let singleton = match (chars.next(), chars.next()) {
            (None, _) => true,
            (Some(c), None) => u32::from(c) <= 0xff,
            _ => false,
        };
        let shared = singleton || is_key;
        if shared && let Some(&index) = self.shared.get(s) {
            self.get(index);
            return;
        }
        let bytes = s.as_bytes();
        if let Ok(n) = u8::try_from(bytes.len()) {
            self.frame.extend_from_slice(&[0x8c, n]);
            self.frame.extend_from_slice(bytes);
        } else if let Ok(n) = u32::try_from(bytes.len()) {
            let mut header = vec![b'X'];
            header.extend_from_slice(&n.to_le_bytes());
            if bytes.len() >= FRAME_SIZE_TARGET {
                // Python writes large payloads outside any frame.
                self.commit_frame(true);
                self.out.extend_from_slice(&header);
                self.out.extend_from_slice(bytes);
            } else {
                self.frame.extend_from_slice(&header);
                self.frame.extend_from_slice(bytes);
            }
        } else {
            self.commit_frame(true);
            self.out.push(0x8d);
            self.out
                .extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            self.out.extend_from_slice(bytes);
        }
        let index = self.memoize();
        if shared {
            self.shared.insert(s.to_owned(), index);
        }
    }

    fn save_tuple(&mut self, items: &[Value]) {
        match items.len() {
            0 => self.frame.push(b')'),
            n @ 1..=3 => {
                for item in items {
                    self.save(item, false);
                }
                self.frame.push(0x84 + n as u8);
                self.memoize();
            }
            _ => {
                self.frame.push(b'(');
                for item in items {
                    self.save(item, false);
                }
                self.frame.push(b't');
                self.memoize();
            }
        }
    }

    /// CPython's `batch_list_exact`.
    fn save_batches(&mut self, items: &[Value]) {
        if let [only] = items {
            self.save(only, false);
            self.frame.push(b'a');
            return;
        }
        for batch in items.chunks(BATCH_SIZE) {
            self.frame.push(b'(');
            for item in batch {
                self.save(item, false);
            }
            self.frame.push(b'e');
        }
    }

    /// CPython's `save_dict` + `batch_dict_exact` (which, unlike the list version,
    /// writes an empty `MARK SETITEMS` after a dict of exactly n×1000 items).
    fn save_map(&mut self, map: &Map) {
        self.commit_frame(false);
        self.frame.push(b'}');
        self.memoize();
        match map.len() {
            0 => {}
            1 => {
                for (k, v) in map {
                    self.save_str(k, true);
                    self.save(v, false);
                }
                self.frame.push(b's');
            }
            _ => {
                let mut iter = map.iter();
                loop {
                    self.frame.push(b'(');
                    let mut n = 0;
                    for (k, v) in iter.by_ref().take(BATCH_SIZE) {
                        self.commit_frame(false);
                        self.save_str(k, true);
                        self.save(v, false);
                        n += 1;
                    }
                    self.frame.push(b'u');
                    if n < BATCH_SIZE {
                        break;
                    }
                }
            }
        }
    }
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
    if let Some(v) = std::str::from_utf8(bytes).ok().and_then(python_int) {
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

/// Reads a session stored by Django's cache engines in Redis (the pickled dict).
/// Anything but a dict with string keys is an error.
pub fn redis_value_decode(bytes: &[u8]) -> Result<Data, PickleError> {
    match redis_loads(bytes)? {
        Value::Map(map) => Ok(Data::from_map(map)),
        _ => Err(PickleError {
            offset: 0,
            kind: PickleErrorKind::NotADict,
        }),
    }
}

/// Writes a session for Django's cache engines in Redis (the dict, pickled with
/// protocol 5, as `RedisCache` stores it).
pub fn redis_value_encode(data: &Data) -> Vec<u8> {
    let map: Map = data.iter().map(|(k, v)| (k.to_owned(), v)).collect();
    dumps(&map)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn kind(bytes: &[u8]) -> PickleErrorKind {
        loads(bytes).unwrap_err().kind
    }

    fn map(entries: &[(&str, Value)]) -> Map {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn refuses_code_and_objects() {
        use PickleErrorKind as K;
        // pickle.dumps(os.system, 0) style GLOBAL, and a REDUCE call.
        assert_eq!(kind(b"cos\nsystem\n(S'id'\ntR."), K::Refused(b'c'));
        assert_eq!(kind(b"\x80\x04\x93."), K::Refused(0x93));
        for op in [
            b'R', b'b', b'i', b'o', 0x81, 0x92, b'P', b'Q', 0x82, 0x83, 0x84,
        ] {
            assert_eq!(kind(&[0x80, 0x04, op, b'.']), K::Refused(op), "{op:#x}");
        }
        // Datetimes, Decimals, sets, bytes: refused or unsupported, never built.
        let python = [
            // {'when': datetime.datetime(2026, 1, 1)}
            (
                "80059534000000000000007d948c047768656e948c086461746574696d65948c086461746574696d65949394430a07ea01010000000000009485945294732e",
                K::Refused(0x93),
            ),
            // {'d': decimal.Decimal('1.5')}
            (
                "80059528000000000000007d948c0164948c07646563696d616c948c07446563696d616c9493948c03312e359485945294732e",
                K::Refused(0x93),
            ),
            // {'s': {1, 2}}
            (
                "80059510000000000000007d948c0173948f94284b014b0290732e",
                K::Unsupported(0x8f),
            ),
            // {'b': b'ab'}
            (
                "8005950d000000000000007d948c0162944302616294732e",
                K::Unsupported(b'C'),
            ),
        ];
        for (hex, want) in python {
            assert_eq!(kind(&unhex(hex)), want, "{hex}");
        }
        assert_eq!(kind(b"\x80\x04Z."), K::UnknownOpcode(b'Z'));
        assert_eq!(kind(b"\x80\x06}."), K::Protocol(6));
        let msg = loads(b"\x80\x04\x93.").unwrap_err().to_string();
        assert!(msg.contains("STACK_GLOBAL"), "{msg}");
    }

    #[test]
    fn protocol_0_and_1_forms() {
        // pickle.dumps({'a': [1, True, None, 1.5, 'é', 2**70]}, 0)
        let p0 =
            b"(dp0\nVa\np1\n(lp2\nI1\naI01\naNaF1.5\naV\xe9\np3\naL1180591620717411303424L\nas.";
        let want = map(&[(
            "a",
            Value::List(vec![
                Value::Int(1),
                Value::Bool(true),
                Value::Null,
                Value::Float(1.5),
                Value::String("é".into()),
                int_from_decimal("1180591620717411303424").unwrap(),
            ]),
        )]);
        assert_eq!(loads(p0).unwrap(), Value::Map(want));
        // The same through protocol 1 (BINPUT, BINUNICODE, LONG text, BINFLOAT).
        let p1 = b"}q\x00X\x01\x00\x00\x00aq\x01]q\x02(K\x01I01\nNG?\xf8\x00\x00\x00\x00\x00\x00X\x02\x00\x00\x00\xc3\xa9q\x03L1180591620717411303424L\nes.";
        assert_eq!(loads(p1).unwrap(), loads(p0).unwrap());
        // Python 2 strings, protocol 0 escapes, memo by PUT/GET.
        let p = b"(dp0\nS'k\\x41\\n'\np1\ng1\ns.";
        assert_eq!(
            loads(p).unwrap(),
            Value::Map(map(&[("kA\n", Value::String("kA\n".into()))]))
        );
        // Protocol 1: BINPUT/BINGET, BINSTRING, tuples via MARK...TUPLE.
        let p1 = b"}q\x00(U\x01kq\x01(K\x01K\x02tq\x02U\x01jh\x02u.";
        let t = Value::Tuple(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(
            loads(p1).unwrap(),
            Value::Map(map(&[("k", t.clone()), ("j", t)]))
        );
        // UNICODE with raw-unicode-escapes.
        assert_eq!(
            loads(b"V\\u20ac\\U0001f44d\\x\n.").unwrap(),
            Value::String("€👍\\x".into())
        );
    }

    #[test]
    fn memo_shares_mutable_containers() {
        // d = {}; x = [d, d]; d['k'] = 1 -> both entries see the filled dict.
        let p = b"\x80\x04]\x94(}\x94h\x01e\x8c\x01k\x94K\x01s.";
        // The SETITEM above goes to the list, not the dict: refused as a wrong type.
        assert_eq!(kind(p), PickleErrorKind::WrongType);
        // Built the way Python does it: the dict is memoized before it is filled.
        let p = b"\x80\x04]\x94(}\x94\x8c\x01k\x94K\x01sh\x01e.";
        let d = Value::Map(map(&[("k", Value::Int(1))]));
        assert_eq!(loads(p).unwrap(), Value::List(vec![d.clone(), d]));
    }

    #[test]
    fn recursion_and_blowups_are_refused() {
        use PickleErrorKind as K;
        // l = []; l.append(l)
        assert_eq!(kind(b"\x80\x04]\x94h\x00a."), K::Recursive);
        // Deep nesting.
        let mut deep = b"\x80\x04".to_vec();
        deep.extend(std::iter::repeat_n(b']', 300));
        deep.extend(std::iter::repeat_n(b'a', 299));
        deep.push(b'.');
        assert_eq!(kind(&deep), K::TooDeep);
        // Billion laughs: each level is a list holding the previous one 10 times.
        let mut bomb = b"\x80\x04]\x94".to_vec();
        for level in 0..8u8 {
            bomb.extend_from_slice(b"](");
            for _ in 0..10 {
                bomb.extend_from_slice(&[b'h', level]);
            }
            bomb.extend_from_slice(b"e\x94");
        }
        bomb.push(b'.');
        let limits = Limits::default().with_max_values(100_000);
        assert_eq!(
            loads_with(&bomb, &limits).unwrap_err().kind,
            K::OutputTooLarge
        );
        // The same with a long string: the text budget trips.
        let mut text = b"\x80\x04X\x00\x00\x01\x00".to_vec();
        text.extend(std::iter::repeat_n(b'a', 65536));
        text.extend_from_slice(b"\x94](");
        for _ in 0..300 {
            text.extend_from_slice(b"h\x00");
        }
        text.extend_from_slice(b"e.");
        assert_eq!(kind(&text), K::OutputTooLarge);
        // Memo and container limits.
        let mut memo = b"\x80\x04N".to_vec();
        for i in 0..20u8 {
            memo.extend_from_slice(&[b'q', i]);
        }
        memo.push(b'.');
        let small = Limits::default().with_max_memo(10);
        assert_eq!(loads_with(&memo, &small).unwrap_err().kind, K::MemoTooLarge);
        let list = b"\x80\x04](NNNNNe.";
        let small = Limits::default().with_max_container_len(4);
        assert_eq!(
            loads_with(list, &small).unwrap_err().kind,
            K::ContainerTooLarge
        );
        assert_eq!(
            loads_with(list, &Limits::default().with_max_input(5))
                .unwrap_err()
                .kind,
            K::InputTooLarge
        );
    }

    #[test]
    fn structural_errors() {
        use PickleErrorKind as K;
        assert_eq!(kind(b""), K::Eof);
        assert_eq!(kind(b"\x80\x04}"), K::Eof);
        assert_eq!(kind(b"."), K::StackUnderflow);
        assert_eq!(kind(b"(."), K::StackUnderflow);
        assert_eq!(kind(b"K\x01(s."), K::StackUnderflow);
        assert_eq!(kind(b"h\x05."), K::MissingMemo);
        assert_eq!(kind(b"}K\x01K\x02s."), K::NonStringKey);
        assert_eq!(kind(b"]\x8c\x01kK\x02s."), K::WrongType);
        assert_eq!(kind(b"\x8c\x02\xc3\x28."), K::InvalidText);
        assert_eq!(kind(b"U\x01\xe9."), K::InvalidText);
        assert_eq!(kind(b"Ix\n."), K::Malformed);
        assert_eq!(kind(b"\x8b\xff\xff\xff\xff."), K::Malformed);
        assert_eq!(kind(b"\x95\xff\x00\x00\x00\x00\x00\x00\x00N."), K::Eof);
        // Trailing data after STOP is ignored, as in Python.
        assert_eq!(loads(b"N.garbage").unwrap(), Value::Null);
    }

    #[test]
    fn integers_of_every_width() {
        let cases: &[(i128, &str)] = &[
            (0, "4b00"),
            (255, "4bff"),
            (256, "4d0001"),
            (65535, "4dffff"),
            (65536, "4a00000100"),
            (-1, "4affffffff"),
            (i128::from(i32::MIN), "4a00000080"),
            (i128::from(i32::MAX) + 1, "8a050000008000"),
            (i128::from(i32::MIN) - 1, "8a05ffffff7fff"),
            (-128 * (1 << 32), "8a050000000080"),
            (12345678901234567890, "8a09d20a1feb8ca954ab00"),
            (i128::from(i64::MIN), "8a080000000000000080"),
        ];
        for &(n, hex) in cases {
            let mut w = Writer::new();
            w.save(&Value::from(n), false);
            assert_eq!(
                w.frame
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
                hex,
                "{n}"
            );
            let back = loads(&dumps_value(&Value::from(n))).unwrap();
            assert_eq!(back, Value::from(n));
        }
        // Beyond i128 in both directions.
        for text in [
            "340282366920938463463374607431768211456",
            "-340282366920938463463374607431768211457",
            "-170141183460469231731687303715884105729",
            "99999999999999999999999999999999999999999999999999999999999",
        ] {
            let v = int_from_decimal(text).unwrap();
            assert_eq!(loads(&dumps_value(&v)).unwrap(), v, "{text}");
        }
        // 2**128 as Python writes it.
        let big = int_from_decimal("340282366920938463463374607431768211456").unwrap();
        let mut w = Writer::new();
        w.save(&big, false);
        assert_eq!(w.frame, unhex("8a110000000000000000000000000000000001"));
        // LONG4 for integers over 255 bytes.
        let huge = int_from_decimal(&"9".repeat(700)).unwrap();
        let bytes = dumps_value(&huge);
        assert!(bytes.contains(&0x8b));
        assert_eq!(loads(&bytes).unwrap(), huge);
    }

    #[test]
    fn python_int_parsing() {
        assert_eq!(python_int(" 5\n"), Some(Value::Int(5)));
        assert_eq!(python_int("-1_000"), Some(Value::Int(-1000)));
        assert_eq!(python_int("+7"), Some(Value::Int(7)));
        for bad in ["", "-", "1__0", "_1", "1_", "1.0", "0x10", "\u{0}"] {
            assert_eq!(python_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn large_strings_and_frames() {
        // A string of 70 000 bytes goes outside any frame; a dict with many keys spans
        // several frames. Both must read back.
        let big = "x".repeat(70_000);
        let m = map(&[("a", Value::String(big.clone())), ("b", Value::Int(1))]);
        let bytes = dumps(&m);
        assert_eq!(loads(&bytes).unwrap(), Value::Map(m));
        let many: Map = (0..20_000)
            .map(|i| (format!("key-{i}"), Value::String(format!("value-{i}"))))
            .collect();
        let bytes = dumps(&many);
        let frames = bytes.iter().filter(|&&b| b == 0x95).count();
        assert!(frames >= 2, "{frames}");
        assert_eq!(loads(&bytes).unwrap(), Value::Map(many));
    }

    #[test]
    fn tuples_and_batches() {
        let m = map(&[
            ("t0", Value::Tuple(vec![])),
            ("t2", Value::Tuple(vec![Value::Int(1), Value::Int(2)])),
            ("t4", Value::Tuple((1..=4).map(Value::Int).collect())),
            ("l1", Value::List(vec![Value::Int(1)])),
            ("l1000", Value::List((0..1000).map(Value::Int).collect())),
            ("l2001", Value::List((0..2001).map(Value::Int).collect())),
        ]);
        assert_eq!(loads(&dumps(&m)).unwrap(), Value::Map(m));
        let thousand: Map = (0..1000)
            .map(|i| (format!("k{i}"), Value::Int(i)))
            .collect();
        let bytes = dumps(&thousand);
        // CPython ends a dict of exactly 1000 items with an empty MARK SETITEMS.
        assert!(bytes.ends_with(b"u(u."));
        assert_eq!(loads(&bytes).unwrap(), Value::Map(thousand));
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<i128>().prop_map(Value::from),
            "-?[1-9][0-9]{39,80}".prop_map(|s| int_from_decimal(&s).unwrap()),
            any::<f64>()
                .prop_filter("NaN != NaN", |f| !f.is_nan())
                .prop_map(Value::Float),
            any::<String>().prop_map(Value::String),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Tuple),
                prop::collection::vec(("[a-c]{0,3}|.{0,8}", inner), 0..8)
                    .prop_map(|kv| Value::Map(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn dumps_then_loads(entries in prop::collection::vec(("[a-c]{0,3}|.{0,8}", arb_value()), 0..12)) {
            let m: Map = entries.into_iter().collect();
            prop_assert_eq!(loads(&dumps(&m)).unwrap(), Value::Map(m));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = loads(&bytes);
            let _ = redis_loads(&bytes);
            let mut framed = vec![0x80, 0x05];
            framed.extend_from_slice(&bytes);
            let _ = loads(&framed);
        }

        #[test]
        fn opcode_soup_never_panics(ops in prop::collection::vec(
            prop::sample::select(b"().012NKMJ\x88\x89}]ase)su\x85\x86\x87h\x94qgGd lt".to_vec()), 0..64),
            args in prop::collection::vec(any::<u8>(), 0..64))
        {
            // Mostly valid opcodes interleaved with arbitrary arguments.
            let mut bytes = vec![0x80, 0x04];
            for (i, op) in ops.iter().enumerate() {
                bytes.push(*op);
                if let Some(a) = args.get(i) {
                    bytes.push(*a);
                }
            }
            bytes.push(b'.');
            let _ = loads(&bytes);
        }
    }
}
