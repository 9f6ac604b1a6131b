//! From the reader's record to [`Value`]s: plain data is copied out (within the
//! [`Limits`]), allowlisted objects are recognised by `python`, and in session mode every
//! other object is cut out as an [`Opaque`] value holding its own pickle.

use sessionkit_core::value::{Map, Opaque, Value};

use super::emit::Emitter;
use super::read::{Graph, Id, Obj};
use super::write::Encoder;
use super::{Limits, PickleError, PickleErrorKind as K, python};

pub(super) struct Builder<'a> {
    pub(super) g: &'a Graph,
    limits: &'a Limits,
    /// Keep objects outside the allowlist as opaque values instead of refusing them.
    keep_opaque: bool,
    visiting: Vec<bool>,
    values: usize,
    text: usize,
}

type R<T> = Result<T, PickleError>;

impl<'a> Builder<'a> {
    pub(super) fn new(g: &'a Graph, limits: &'a Limits, keep_opaque: bool) -> Builder<'a> {
        Builder {
            g,
            limits,
            keep_opaque,
            visiting: vec![false; g.nodes.len()],
            values: 0,
            text: 0,
        }
    }

    /// An error about the object `id`.
    pub(super) fn fault<T>(&self, id: Id, kind: K) -> R<T> {
        Err(PickleError {
            offset: self.g.nodes.get(id).map_or(0, |n| n.at),
            kind,
        })
    }

    pub(super) fn count(&mut self, id: Id, text: usize) -> R<()> {
        self.values += 1;
        self.text = self.text.saturating_add(text);
        if self.values > self.limits.max_values || self.text > self.limits.max_text {
            return self.fault(id, K::OutputTooLarge);
        }
        Ok(())
    }

    /// The whole pickle as one value.
    pub(super) fn value(mut self, root: Id) -> R<Value> {
        self.build(root, 0)
    }

    /// The whole pickle as a session dict (string keys), values outside the allowlist
    /// kept opaque.
    pub(super) fn session(mut self, root: Id) -> R<Map> {
        let node = &self.g.nodes[root];
        let Obj::Dict(items) = &node.obj else {
            // Not a session: say why the value itself is refused, if it is.
            self.keep_opaque = false;
            self.build(root, 0)?;
            return self.fault(root, K::NotADict);
        };
        self.count(root, 0)?;
        let mut out = Map::with_capacity(items.len());
        for &(k, v) in items {
            let Obj::Str(key) = &self.g.nodes[k].obj else {
                return self.fault(k, K::NonStringKey);
            };
            self.count(k, key.len())?;
            let value = match self.build(v, 1) {
                Ok(value) => value,
                // A value the model cannot hold as a tree (a dict with other keys, a
                // cycle): the whole value is kept as it was.
                Err(e) if representable_only(e.kind) => {
                    self.visiting.iter_mut().for_each(|v| *v = false);
                    self.opaque(v)?
                }
                Err(e) => return Err(e),
            };
            out.insert(key.clone(), value);
        }
        Ok(out)
    }

    /// Copies out the object `id`.
    pub(super) fn build(&mut self, id: Id, depth: usize) -> R<Value> {
        let g = self.g;
        let node = &g.nodes[id];
        let scalar = matches!(
            node.obj,
            Obj::None | Obj::Bool(_) | Obj::Int(_) | Obj::Big(_) | Obj::Float(_) | Obj::Str(_)
        );
        if !scalar && depth + 1 > self.limits.max_depth {
            return self.fault(id, K::TooDeep);
        }
        let plain = node.muts.is_empty();
        let v = match &node.obj {
            Obj::None => Value::Null,
            Obj::Bool(b) => Value::Bool(*b),
            Obj::Int(i) => Value::Int(*i),
            Obj::Big(b) => Value::BigInt(b.clone()),
            Obj::Float(f) => Value::Float(*f),
            Obj::Str(s) => {
                self.count(id, s.len())?;
                return Ok(Value::String(s.clone()));
            }
            Obj::Bytes(b) if plain => {
                self.count(id, b.len())?;
                return Ok(Value::Bytes(b.clone()));
            }
            Obj::ByteArray(b) if plain => {
                self.count(id, b.len())?;
                return Ok(Value::ByteArray(b.clone()));
            }
            Obj::List(items) | Obj::Tuple(items) | Obj::Set(items) | Obj::FrozenSet(items)
                if plain =>
            {
                let items = self.enter(id, |b| b.build_all(items, depth))?;
                match node.obj {
                    Obj::List(_) => Value::List(items),
                    Obj::Tuple(_) => Value::Tuple(items),
                    Obj::Set(_) => Value::Set(items),
                    _ => Value::FrozenSet(items),
                }
            }
            Obj::Dict(items) if plain => Value::Map(self.enter(id, |b| b.build_map(items, depth))?),
            _ => match python::recognise(self, id, depth)? {
                Some(v) => v,
                None if self.keep_opaque => self.opaque(id)?,
                None => {
                    // Refused as the global outside the allowlist it calls, if it calls
                    // one; else as the opcode that made it.
                    let culprit = python::unknown_callee(g, id).unwrap_or(id);
                    return self.fault(culprit, K::Refused(g.nodes[culprit].op));
                }
            },
        };
        self.count(id, 0)?;
        Ok(v)
    }

    /// Runs `f` with `id` marked as being copied out (a container met again inside itself
    /// is a cycle).
    pub(super) fn enter<T>(&mut self, id: Id, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
        if self.visiting[id] {
            return self.fault(id, K::Recursive);
        }
        self.visiting[id] = true;
        let out = f(self);
        self.visiting[id] = false;
        out
    }

    pub(super) fn build_all(&mut self, items: &[Id], depth: usize) -> R<Vec<Value>> {
        let mut out = Vec::with_capacity(items.len());
        for &item in items {
            out.push(self.build(item, depth + 1)?);
        }
        Ok(out)
    }

    /// A dict with string keys (later duplicates replace the value in place, as Python's
    /// `dict` does).
    pub(super) fn build_map(&mut self, items: &[(Id, Id)], depth: usize) -> R<Map> {
        let mut out = Map::with_capacity(items.len());
        for &(k, v) in items {
            let Obj::Str(key) = &self.g.nodes[k].obj else {
                return self.fault(k, K::NonStringKey);
            };
            self.count(k, key.len())?;
            out.insert(key.clone(), self.build(v, depth + 1)?);
        }
        Ok(out)
    }

    /// The object `id` as an opaque value: its own pickle.
    fn opaque(&mut self, id: Id) -> R<Value> {
        let mut enc = Encoder::new();
        let mut emitter = Emitter::new(self.g, self.limits.max_depth);
        if let Err(kind) = emitter.emit(&mut enc, id, 0) {
            return self.fault(id, kind);
        }
        let bytes = enc.finish();
        self.count(id, bytes.len())?;
        Ok(Value::Opaque(Opaque::new(&type_name(self.g, id), bytes)))
    }
}

/// Errors that mean "not a tree of values" rather than "too much" or "broken".
fn representable_only(kind: K) -> bool {
    matches!(kind, K::NonStringKey | K::Recursive)
}

/// The Python type of an object, as far as the record tells: `module.name` of its class
/// or factory.
fn type_name(g: &Graph, id: Id) -> String {
    let mut id = id;
    // Follow calls to what was called, at most a few levels.
    for _ in 0..8 {
        match &g.nodes[id].obj {
            Obj::Global { module, name } => return format!("{module}.{name}"),
            Obj::Reduce { func, .. } => id = *func,
            Obj::New { cls, .. } => id = *cls,
            Obj::None => return "NoneType".to_owned(),
            Obj::Bool(_) => return "bool".to_owned(),
            Obj::Int(_) | Obj::Big(_) => return "int".to_owned(),
            Obj::Float(_) => return "float".to_owned(),
            Obj::Str(_) => return "str".to_owned(),
            Obj::Bytes(_) => return "bytes".to_owned(),
            Obj::ByteArray(_) => return "bytearray".to_owned(),
            Obj::List(_) => return "list".to_owned(),
            Obj::Tuple(_) => return "tuple".to_owned(),
            Obj::Dict(_) => return "dict".to_owned(),
            Obj::Set(_) => return "set".to_owned(),
            Obj::FrozenSet(_) => return "frozenset".to_owned(),
        }
    }
    "object".to_owned()
}
