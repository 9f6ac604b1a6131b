//! The reader: runs the opcodes against a record of objects, never against Python. A
//! global is a pair of names, a `REDUCE` or `NEWOBJ` a call that is written down and not
//! made, a `BUILD` a state set aside; the builder decides afterwards what each record is.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use sessionkit_core::value::{BigInt, Value};

use super::opcodes::*;
use super::text::{decode_long, python_int, python2_string_literal, raw_unicode_escape};
use super::{HIGHEST_PROTOCOL, Limits, MAX_LONG_BYTES, PickleError, PickleErrorKind as K};

pub(super) type Id = usize;

/// An object as the opcodes built it. Containers refer to other objects by index, so a
/// memoized container filled later (Python memoizes a dict before filling it) is seen
/// filled through every reference.
pub(super) enum Obj {
    None,
    Bool(bool),
    Int(i64),
    Big(BigInt),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<Id>),
    Tuple(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    FrozenSet(Vec<Id>),
    /// `module.name`, not imported.
    Global {
        module: String,
        name: String,
    },
    /// `func(*args)`, not called (`REDUCE`, `INST`, `OBJ`).
    Reduce {
        func: Id,
        args: Id,
    },
    /// `cls.__new__(cls, *args, **kwargs)`, not called (`NEWOBJ`, `NEWOBJ_EX`).
    New {
        cls: Id,
        args: Id,
        kwargs: Option<Id>,
    },
}

/// What was done to an object after it was made, other than filling a plain container.
pub(super) enum Mut {
    Append(Vec<Id>),
    SetItems(Vec<(Id, Id)>),
    AddItems(Vec<Id>),
    Build(Id),
}

pub(super) struct Node {
    pub(super) obj: Obj,
    pub(super) muts: Vec<Mut>,
    /// The opcode that made it, and where (for error messages).
    pub(super) op: u8,
    pub(super) at: usize,
}

/// Every object the pickle made, and the one it returned.
pub(super) struct Graph {
    pub(super) nodes: Vec<Node>,
    pub(super) root: Id,
}

/// Reads `bytes` within `limits`.
pub(super) fn read(bytes: &[u8], limits: &Limits) -> Result<Graph, PickleError> {
    if bytes.len() > limits.max_input {
        return Err(PickleError {
            offset: 0,
            kind: K::InputTooLarge,
        });
    }
    let mut r = Reader {
        data: bytes,
        pos: 0,
        op_start: 0,
        op: 0,
        limits,
        nodes: Vec::new(),
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    let root = r.run()?;
    Ok(Graph {
        nodes: r.nodes,
        root,
    })
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    op_start: usize,
    op: u8,
    limits: &'a Limits,
    nodes: Vec<Node>,
    stack: Vec<Id>,
    /// Stack heights at each `MARK` (Python's metastack): operations never pop below
    /// the innermost mark.
    marks: Vec<usize>,
    memo: HashMap<u64, Id>,
}

type R<T> = Result<T, PickleError>;

impl Reader<'_> {
    fn err<T>(&self, kind: K) -> R<T> {
        Err(PickleError {
            offset: self.op_start,
            kind,
        })
    }

    fn take(&mut self, n: usize) -> R<&[u8]> {
        let end = match self.pos.checked_add(n) {
            Some(end) if end <= self.data.len() => end,
            _ => return self.err(K::Eof),
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

    fn len_arg(&self, n: u64) -> R<usize> {
        match usize::try_from(n) {
            Ok(n) => Ok(n),
            Err(_) => self.err(K::Eof),
        }
    }

    /// The length argument of an opcode: 1, 4 (unsigned, or signed for the Python 2
    /// opcodes) or 8 bytes.
    fn len_of(&mut self, op: u8) -> R<usize> {
        let n = match op {
            SHORT_BINUNICODE | SHORT_BINBYTES | SHORT_BINSTRING | LONG1 => u64::from(self.byte()?),
            BINUNICODE | BINBYTES => u64::from(u32::from_le_bytes(self.array()?)),
            BINSTRING | LONG4 => match u64::try_from(i32::from_le_bytes(self.array()?)) {
                Ok(n) => n,
                Err(_) => return self.err(K::Malformed),
            },
            _ => u64::from_le_bytes(self.array()?),
        };
        self.len_arg(n)
    }

    /// A text argument up to `\n` (not included).
    fn line(&mut self) -> R<&[u8]> {
        let rest = &self.data[self.pos..];
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => self.err(K::Eof),
        }
    }

    fn utf8_line(&mut self) -> R<String> {
        let line = self.line()?;
        match std::str::from_utf8(line) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => self.err(K::InvalidText),
        }
    }

    fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn new_obj(&mut self, obj: Obj) -> R<Id> {
        if self.nodes.len() >= self.limits.max_values {
            return self.err(K::OutputTooLarge);
        }
        self.nodes.push(Node {
            obj,
            muts: Vec::new(),
            op: self.op,
            at: self.op_start,
        });
        Ok(self.nodes.len() - 1)
    }

    fn push(&mut self, obj: Obj) -> R<()> {
        let id = self.new_obj(obj)?;
        self.stack.push(id);
        Ok(())
    }

    fn pop(&mut self) -> R<Id> {
        if self.stack.len() <= self.floor() {
            return self.err(K::StackUnderflow);
        }
        match self.stack.pop() {
            Some(id) => Ok(id),
            None => self.err(K::StackUnderflow),
        }
    }

    fn top(&self) -> R<Id> {
        if self.stack.len() <= self.floor() {
            return self.err(K::StackUnderflow);
        }
        match self.stack.last() {
            Some(&id) => Ok(id),
            None => self.err(K::StackUnderflow),
        }
    }

    /// Pops everything above the innermost mark, and the mark.
    fn pop_mark(&mut self) -> R<Vec<Id>> {
        match self.marks.pop() {
            Some(m) if m <= self.stack.len() => Ok(self.stack.split_off(m)),
            _ => self.err(K::StackUnderflow),
        }
    }

    fn check_len(&self, len: usize) -> R<()> {
        if len > self.limits.max_container_len {
            return self.err(K::ContainerTooLarge);
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
                        kind: K::MemoTooLarge,
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
            None => self.err(K::MissingMemo),
        }
    }

    fn decimal_index(&mut self) -> R<u64> {
        let line = self.line()?;
        match std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(n) => Ok(n),
            None => self.err(K::Malformed),
        }
    }

    fn utf8(&self, bytes: &[u8]) -> R<Obj> {
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Obj::Str(s.to_owned())),
            Err(_) => self.err(K::InvalidText),
        }
    }

    /// Python 2 `str` under Python 3's default `encoding="ASCII"`.
    fn ascii(&self, bytes: &[u8]) -> R<Obj> {
        if !bytes.is_ascii() {
            return self.err(K::InvalidText);
        }
        self.utf8(bytes)
    }

    fn int_obj(&self, v: Option<Value>) -> R<Obj> {
        match v {
            Some(Value::Int(i)) => Ok(Obj::Int(i)),
            Some(Value::BigInt(b)) => Ok(Obj::Big(b)),
            _ => self.err(K::Malformed),
        }
    }

    fn int_text(&self, text: &[u8]) -> R<Obj> {
        self.int_obj(std::str::from_utf8(text).ok().and_then(python_int))
    }

    /// Records a change to an object made by a call (Python calls its methods); a plain
    /// object of the wrong kind is an error, as in Python.
    fn record(&mut self, target: Id, m: Mut) -> R<()> {
        let node = &mut self.nodes[target];
        if matches!(node.obj, Obj::Reduce { .. } | Obj::New { .. }) {
            node.muts.push(m);
            Ok(())
        } else {
            self.err(K::WrongType)
        }
    }

    /// Adds items to a list or set, or records the operation on an object.
    fn extend(&mut self, target: Id, items: Vec<Id>) -> R<()> {
        let max = self.limits.max_container_len;
        let op = self.op;
        let len = match (&mut self.nodes[target].obj, op) {
            (Obj::List(l), APPEND | APPENDS) | (Obj::Set(l), ADDITEMS) => {
                l.extend(items);
                l.len()
            }
            (_, ADDITEMS) => return self.record(target, Mut::AddItems(items)),
            _ => return self.record(target, Mut::Append(items)),
        };
        if len > max {
            return self.err(K::ContainerTooLarge);
        }
        Ok(())
    }

    fn set_items(&mut self, target: Id, items: &[Id]) -> R<()> {
        if !items.len().is_multiple_of(2) {
            return self.err(K::StackUnderflow);
        }
        let pairs: Vec<(Id, Id)> = items.chunks_exact(2).map(|kv| (kv[0], kv[1])).collect();
        let max = self.limits.max_container_len;
        if let Obj::Dict(d) = &mut self.nodes[target].obj {
            d.extend(pairs);
            if d.len() > max {
                return self.err(K::ContainerTooLarge);
            }
            Ok(())
        } else {
            self.record(target, Mut::SetItems(pairs))
        }
    }

    fn run(&mut self) -> R<Id> {
        loop {
            self.op_start = self.pos;
            let op = self.byte()?;
            self.op = op;
            match op {
                // Framing and structure.
                PROTO => {
                    let proto = self.byte()?;
                    if proto > HIGHEST_PROTOCOL {
                        return self.err(K::Protocol(proto));
                    }
                }
                FRAME => {
                    let n = u64::from_le_bytes(self.array()?);
                    let remaining = (self.data.len() - self.pos) as u64;
                    if n > remaining {
                        return self.err(K::Eof);
                    }
                }
                STOP => return self.pop(),
                MARK => self.marks.push(self.stack.len()),
                POP => {
                    if self.stack.len() > self.floor() {
                        self.stack.pop();
                    } else {
                        self.pop_mark()?;
                    }
                }
                POP_MARK => {
                    self.pop_mark()?;
                }
                DUP => {
                    let top = self.top()?;
                    self.stack.push(top);
                }

                // Memo.
                MEMOIZE => {
                    let index = self.memo.len() as u64;
                    self.memo_put(index)?;
                }
                PUT => {
                    let index = self.decimal_index()?;
                    self.memo_put(index)?;
                }
                BINPUT => {
                    let index = self.byte()?;
                    self.memo_put(u64::from(index))?;
                }
                LONG_BINPUT => {
                    let index = u32::from_le_bytes(self.array()?);
                    self.memo_put(u64::from(index))?;
                }
                GET => {
                    let index = self.decimal_index()?;
                    self.memo_get(index)?;
                }
                BINGET => {
                    let index = self.byte()?;
                    self.memo_get(u64::from(index))?;
                }
                LONG_BINGET => {
                    let index = u32::from_le_bytes(self.array()?);
                    self.memo_get(u64::from(index))?;
                }

                // Scalars.
                NONE => self.push(Obj::None)?,
                NEWTRUE => self.push(Obj::Bool(true))?,
                NEWFALSE => self.push(Obj::Bool(false))?,
                BININT1 => {
                    let n = self.byte()?;
                    self.push(Obj::Int(i64::from(n)))?;
                }
                BININT2 => {
                    let n = u16::from_le_bytes(self.array()?);
                    self.push(Obj::Int(i64::from(n)))?;
                }
                BININT => {
                    let n = i32::from_le_bytes(self.array()?);
                    self.push(Obj::Int(i64::from(n)))?;
                }
                INT => {
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
                LONG => {
                    let line = self.line()?;
                    let line = line.strip_suffix(b"L").unwrap_or(line).to_vec();
                    let obj = self.int_text(&line)?;
                    self.push(obj)?;
                }
                LONG1 | LONG4 => {
                    let n = self.len_of(op)?;
                    if n > MAX_LONG_BYTES {
                        return self.err(K::OutputTooLarge);
                    }
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.int_obj(Some(decode_long(&bytes)))?;
                    self.push(obj)?;
                }
                BINFLOAT => {
                    let f = f64::from_be_bytes(self.array()?);
                    self.push(Obj::Float(f))?;
                }
                FLOAT => {
                    let line = self.line()?;
                    let f = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok());
                    match f {
                        Some(f) => self.push(Obj::Float(f))?,
                        None => return self.err(K::Malformed),
                    }
                }

                // Strings and bytes.
                SHORT_BINUNICODE | BINUNICODE | BINUNICODE8 => {
                    let n = self.len_of(op)?;
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.utf8(&bytes)?;
                    self.push(obj)?;
                }
                UNICODE => {
                    let line = self.line()?.to_vec();
                    match raw_unicode_escape(&line) {
                        Some(s) => self.push(Obj::Str(s))?,
                        None => return self.err(K::InvalidText),
                    }
                }
                SHORT_BINSTRING | BINSTRING => {
                    let n = self.len_of(op)?;
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.ascii(&bytes)?;
                    self.push(obj)?;
                }
                STRING => {
                    let line = self.line()?.to_vec();
                    let Some(bytes) = python2_string_literal(&line) else {
                        return self.err(K::Malformed);
                    };
                    let obj = self.ascii(&bytes)?;
                    self.push(obj)?;
                }
                SHORT_BINBYTES | BINBYTES | BINBYTES8 | BYTEARRAY8 => {
                    let n = self.len_of(op)?;
                    let bytes = self.take(n)?.to_vec();
                    self.push(if op == BYTEARRAY8 {
                        Obj::ByteArray(bytes)
                    } else {
                        Obj::Bytes(bytes)
                    })?;
                }

                // Containers.
                EMPTY_DICT => self.push(Obj::Dict(Vec::new()))?,
                EMPTY_LIST => self.push(Obj::List(Vec::new()))?,
                EMPTY_TUPLE => self.push(Obj::Tuple(Vec::new()))?,
                EMPTY_SET => self.push(Obj::Set(Vec::new()))?,
                DICT => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len() / 2)?;
                    let id = self.new_obj(Obj::Dict(Vec::new()))?;
                    self.set_items(id, &items)?;
                    self.stack.push(id);
                }
                LIST => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len())?;
                    self.push(Obj::List(items))?;
                }
                TUPLE => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len())?;
                    self.push(Obj::Tuple(items))?;
                }
                FROZENSET => {
                    let items = self.pop_mark()?;
                    self.check_len(items.len())?;
                    self.push(Obj::FrozenSet(items))?;
                }
                TUPLE1..=TUPLE3 => {
                    let n = usize::from(op - TUPLE1) + 1;
                    let mut items = vec![0; n];
                    for slot in items.iter_mut().rev() {
                        *slot = self.pop()?;
                    }
                    self.push(Obj::Tuple(items))?;
                }
                SETITEM => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let dict = self.top()?;
                    self.set_items(dict, &[k, v])?;
                }
                SETITEMS => {
                    let items = self.pop_mark()?;
                    let dict = self.top()?;
                    self.set_items(dict, &items)?;
                }
                APPEND => {
                    let v = self.pop()?;
                    let list = self.top()?;
                    self.extend(list, vec![v])?;
                }
                APPENDS | ADDITEMS => {
                    let items = self.pop_mark()?;
                    let target = self.top()?;
                    self.extend(target, items)?;
                }

                // Objects: written down, never made.
                GLOBAL => {
                    let module = self.utf8_line()?;
                    let name = self.utf8_line()?;
                    self.push(Obj::Global { module, name })?;
                }
                STACK_GLOBAL => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Obj::Str(m), Obj::Str(n)) =
                        (&self.nodes[module].obj, &self.nodes[name].obj)
                    else {
                        return self.err(K::WrongType);
                    };
                    let (module, name) = (m.clone(), n.clone());
                    self.push(Obj::Global { module, name })?;
                }
                REDUCE => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    self.push(Obj::Reduce { func, args })?;
                }
                INST => {
                    let module = self.utf8_line()?;
                    let name = self.utf8_line()?;
                    let items = self.pop_mark()?;
                    let func = self.new_obj(Obj::Global { module, name })?;
                    let args = self.new_obj(Obj::Tuple(items))?;
                    self.push(Obj::Reduce { func, args })?;
                }
                OBJ => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return self.err(K::StackUnderflow);
                    }
                    let func = items.remove(0);
                    let args = self.new_obj(Obj::Tuple(items))?;
                    self.push(Obj::Reduce { func, args })?;
                }
                NEWOBJ => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.push(Obj::New {
                        cls,
                        args,
                        kwargs: None,
                    })?;
                }
                NEWOBJ_EX => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.push(Obj::New {
                        cls,
                        args,
                        kwargs: Some(kwargs),
                    })?;
                }
                BUILD => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    self.record(target, Mut::Build(state))?;
                }

                // What Django's unpickler cannot do either.
                PERSID | BINPERSID | EXT1 | EXT2 | EXT4 => return self.err(K::Refused(op)),
                NEXT_BUFFER | READONLY_BUFFER => return self.err(K::Unsupported(op)),
                _ => return self.err(K::UnknownOpcode(op)),
            }
        }
    }
}
