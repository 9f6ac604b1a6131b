//! The reader's record back to opcodes: how an object outside the allowlist keeps its
//! pickle. Each object is made exactly as the original opcodes made it (the same globals,
//! calls, `BUILD` states and additions, in the same order), memoized once made, so shared
//! references and cycles through an object's contents come back as they were. Nothing is
//! resolved or run here either.

use std::collections::HashMap;

use super::PickleErrorKind as K;
use super::opcodes::*;
use super::read::{Graph, Id, Mut, Obj};
use super::text::encode_long_decimal;
use super::write::{BATCH_SIZE, Encoder};

pub(super) struct Emitter<'a> {
    g: &'a Graph,
    max_depth: usize,
    /// Objects already written, by memo index.
    memo: HashMap<Id, u32>,
    /// Objects whose making is under way (met again: made from itself, refused).
    making: Vec<bool>,
}

impl<'a> Emitter<'a> {
    pub(super) fn new(g: &'a Graph, max_depth: usize) -> Emitter<'a> {
        Emitter {
            g,
            max_depth,
            memo: HashMap::new(),
            making: vec![false; g.nodes.len()],
        }
    }

    pub(super) fn emit(&mut self, e: &mut Encoder, id: Id, depth: usize) -> Result<(), K> {
        if let Some(&index) = self.memo.get(&id) {
            e.get(index);
            return Ok(());
        }
        if depth > self.max_depth {
            return Err(K::TooDeep);
        }
        if self.making[id] {
            return Err(K::Recursive);
        }
        e.commit_frame(false);
        let node = &self.g.nodes[id];
        let d = depth + 1;
        match &node.obj {
            Obj::None => e.op(NONE),
            Obj::Bool(b) => e.op(if *b { NEWTRUE } else { NEWFALSE }),
            Obj::Int(i) => e.int(i128::from(*i)),
            Obj::Big(b) => match b.to_i128() {
                Some(i) => e.int(i),
                None => e.long_bytes(&encode_long_decimal(b)),
            },
            Obj::Float(f) => e.float(*f),
            Obj::Str(s) => e.str(s, false),
            Obj::Bytes(b) => e.bytes(b),
            Obj::ByteArray(b) => e.bytearray(b),
            Obj::List(items) => {
                e.op(EMPTY_LIST);
                self.made(e, id);
                self.batches(e, items, APPENDS, d)?;
            }
            Obj::Dict(pairs) => {
                e.op(EMPTY_DICT);
                self.made(e, id);
                self.pairs(e, pairs, d)?;
            }
            Obj::Set(items) => {
                e.op(EMPTY_SET);
                self.made(e, id);
                self.batches(e, items, ADDITEMS, d)?;
            }
            Obj::Tuple(items) | Obj::FrozenSet(items) => {
                self.making[id] = true;
                e.op(MARK);
                for &item in items {
                    self.emit(e, item, d)?;
                }
                e.op(if matches!(node.obj, Obj::Tuple(_)) {
                    TUPLE
                } else {
                    FROZENSET
                });
                self.making[id] = false;
                self.made(e, id);
            }
            Obj::Global { module, name } => {
                e.str(module, true);
                e.str(name, true);
                e.op(STACK_GLOBAL);
                self.made(e, id);
            }
            Obj::Reduce { func, args } => {
                self.making[id] = true;
                self.emit(e, *func, d)?;
                self.emit(e, *args, d)?;
                e.op(REDUCE);
                self.making[id] = false;
                self.made(e, id);
            }
            Obj::New { cls, args, kwargs } => {
                self.making[id] = true;
                self.emit(e, *cls, d)?;
                self.emit(e, *args, d)?;
                if let Some(kwargs) = kwargs {
                    self.emit(e, *kwargs, d)?;
                    e.op(NEWOBJ_EX);
                } else {
                    e.op(NEWOBJ);
                }
                self.making[id] = false;
                self.made(e, id);
            }
        }
        for m in &node.muts {
            match m {
                Mut::Append(items) => self.batches(e, items, APPENDS, d)?,
                Mut::AddItems(items) => self.batches(e, items, ADDITEMS, d)?,
                Mut::SetItems(pairs) => self.pairs(e, pairs, d)?,
                Mut::Build(state) => {
                    self.emit(e, *state, d)?;
                    e.op(BUILD);
                }
            }
        }
        Ok(())
    }

    fn made(&mut self, e: &mut Encoder, id: Id) {
        let index = e.memoize();
        self.memo.insert(id, index);
    }

    fn batches(&mut self, e: &mut Encoder, items: &[Id], op: u8, d: usize) -> Result<(), K> {
        for batch in items.chunks(BATCH_SIZE) {
            e.op(MARK);
            for &item in batch {
                self.emit(e, item, d)?;
            }
            e.op(op);
        }
        Ok(())
    }

    fn pairs(&mut self, e: &mut Encoder, pairs: &[(Id, Id)], d: usize) -> Result<(), K> {
        for batch in pairs.chunks(BATCH_SIZE) {
            e.op(MARK);
            for &(k, v) in batch {
                self.emit(e, k, d)?;
                self.emit(e, v, d)?;
            }
            e.op(SETITEMS);
        }
        Ok(())
    }
}
