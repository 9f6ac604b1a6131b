//! The allowlist: each standard Python type the reader turns into a [`Value`], recognised
//! from the exact record CPython's pickler leaves at protocols 0 to 5, and written back
//! through the same `__reduce__` CPython uses, so Python rebuilds an equal object of the
//! same type.
//!
//! | Python | pickled as (protocol 5; older forms also read) |
//! | --- | --- |
//! | `datetime.datetime` | `datetime.datetime(state[, tzinfo])`, `state` 10 bytes (`fold` in the month's high bit) |
//! | `datetime.date` | `datetime.date(state)`, 4 bytes |
//! | `datetime.time` | `datetime.time(state[, tzinfo])`, 6 bytes (`fold` in the hour's high bit) |
//! | `datetime.timedelta` | `datetime.timedelta(days, seconds, microseconds)` |
//! | `datetime.timezone` | `datetime.timezone(timedelta[, name])` (`timezone.utc`: offset 0, no name) |
//! | `zoneinfo.ZoneInfo` | `getattr(zoneinfo.ZoneInfo, "_unpickle")(key, 1)` |
//! | `decimal.Decimal` | `decimal.Decimal(text)` |
//! | `uuid.UUID` | `NEWOBJ` of `uuid.UUID` (or `copyreg._reconstructor`), then `BUILD` with `{"int": n[, "is_safe": 0/-1]}` |
//! | `bytes` | `BINBYTES` (protocol 2: `_codecs.encode(text, "latin1")`, or `bytes()`) |
//! | `bytearray` | `BYTEARRAY8` (before 5: `builtins.bytearray(bytes)`) |
//! | `set`, `frozenset` | `EMPTY_SET` + `ADDITEMS`, `FROZENSET` (before 4: `builtins.set([items])`) |
//! | `collections.OrderedDict` | `collections.OrderedDict()` then `SETITEMS` |
//!
//! Python 2 module names (`__builtin__`, `copy_reg`) are read as Python 3's, as Python's
//! unpickler maps them.

use sessionkit_core::value::{Date, DateTime, Decimal, Map, Time, TimeDelta, TzInfo, Uuid, Value};
use time::{Month, PrimitiveDateTime};

use super::PickleError;
use super::build::Builder;
use super::opcodes::*;
use super::read::{Graph, Id, Mut, Obj};
use super::write::Encoder;

type R<T> = Result<T, PickleError>;

/// The allowlisted value the object `id` is, `None` if it is not one.
pub(super) fn recognise(b: &mut Builder<'_>, id: Id, depth: usize) -> R<Option<Value>> {
    let g = b.g;
    let node = &g.nodes[id];
    match &node.obj {
        Obj::Reduce { func, args } => {
            let (Some((module, name)), Some(args)) = (global(g, *func), tuple(g, *args)) else {
                return Ok(None);
            };
            if (module, name) == ("collections", "OrderedDict") {
                return ordered_dict(b, id, args, depth);
            }
            if (module, name) == ("copyreg", "_reconstructor") {
                return Ok(uuid(g, id, args));
            }
            if !node.muts.is_empty() {
                return Ok(None);
            }
            reduce(b, id, (module, name), args, depth)
        }
        Obj::New {
            cls,
            args,
            kwargs: None,
        } if global(g, *cls) == Some(("uuid", "UUID")) && tuple(g, *args) == Some(&[]) => {
            Ok(uuid_state(g, &node.muts).map(Value::Uuid))
        }
        _ => Ok(None),
    }
}

/// Every global the allowlist calls.
const KNOWN: &[(&str, &str)] = &[
    ("datetime", "datetime"),
    ("datetime", "date"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("uuid", "UUID"),
    ("_codecs", "encode"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "getattr"),
    ("builtins", "object"),
    ("collections", "OrderedDict"),
    ("copyreg", "_reconstructor"),
    ("zoneinfo", "ZoneInfo"),
    ("zoneinfo", "ZoneInfo._unpickle"),
];

/// The global outside the allowlist that the call `id` calls, if it calls one (for the
/// error message: `os.system` is the problem, not the `REDUCE`).
pub(super) fn unknown_callee(g: &Graph, id: Id) -> Option<Id> {
    let callee = match &g.nodes[id].obj {
        Obj::Reduce { func, .. } => *func,
        Obj::New { cls, .. } => *cls,
        _ => return None,
    };
    match global(g, callee) {
        Some(name) if !KNOWN.contains(&name) => Some(callee),
        _ => None,
    }
}

fn reduce(
    b: &mut Builder<'_>,
    id: Id,
    func: (&str, &str),
    args: &[Id],
    depth: usize,
) -> R<Option<Value>> {
    let g = b.g;
    Ok(match (func, args) {
        (("datetime", "datetime"), [state, tz @ ..]) if tz.len() <= 1 => {
            let (Some(s), Some(tz)) = (bytes_of(g, *state), tz_arg(g, tz)) else {
                return Ok(None);
            };
            datetime(&s, tz.0).map(Value::DateTime)
        }
        (("datetime", "date"), [state]) => bytes_of(g, *state).and_then(|s| date(&s)),
        (("datetime", "time"), [state, tz @ ..]) if tz.len() <= 1 => {
            let (Some(s), Some(tz)) = (bytes_of(g, *state), tz_arg(g, tz)) else {
                return Ok(None);
            };
            time_of_day(&s, tz.0).map(Value::Time)
        }
        (("datetime", "timedelta"), _) => timedelta_args(g, args).map(Value::TimeDelta),
        (("decimal", "Decimal"), [text]) => {
            str_of(g, *text).and_then(|t| t.parse::<Decimal>().ok().map(Value::Decimal))
        }
        (("_codecs", "encode"), _) | (("builtins", "bytes"), []) => {
            bytes_of(g, id).map(Value::Bytes)
        }
        (("builtins", "bytearray"), []) => Some(Value::ByteArray(Vec::new())),
        (("builtins", "bytearray"), [data]) => bytes_of(g, *data).map(Value::ByteArray),
        (("builtins", "bytearray"), [text, enc]) => latin1(g, *text, *enc).map(Value::ByteArray),
        (("builtins", kind @ ("set" | "frozenset")), items) => {
            let items: &[Id] = match items {
                [] => &[],
                [list] => match &g.nodes[*list].obj {
                    Obj::List(items) if g.nodes[*list].muts.is_empty() => items,
                    _ => return Ok(None),
                },
                _ => return Ok(None),
            };
            let items = b.enter(id, |b| b.build_all(items, depth))?;
            Some(if kind == "set" {
                Value::Set(items)
            } else {
                Value::FrozenSet(items)
            })
        }
        _ => None,
    })
}

/// `OrderedDict()` filled by `SETITEMS`.
fn ordered_dict(b: &mut Builder<'_>, id: Id, args: &[Id], depth: usize) -> R<Option<Value>> {
    let node = &b.g.nodes[id];
    if !args.is_empty() {
        return Ok(None);
    }
    let mut pairs = Vec::new();
    for m in &node.muts {
        match m {
            Mut::SetItems(items) => pairs.extend_from_slice(items),
            _ => return Ok(None),
        }
    }
    let map: Map = b.enter(id, |b| b.build_map(&pairs, depth))?;
    Ok(Some(Value::OrderedDict(map)))
}

/// `copyreg._reconstructor(uuid.UUID, object, None)` then `BUILD` (protocols 0 and 1).
fn uuid(g: &Graph, id: Id, args: &[Id]) -> Option<Value> {
    let [cls, base, state] = args else {
        return None;
    };
    let shape = global(g, *cls) == Some(("uuid", "UUID"))
        && global(g, *base) == Some(("builtins", "object"))
        && matches!(g.nodes[*state].obj, Obj::None);
    shape
        .then(|| uuid_state(g, &g.nodes[id].muts))
        .flatten()
        .map(Value::Uuid)
}

/// `UUID.__setstate__`'s state: `{"int": n}`, maybe with `"is_safe": 0 | -1`.
fn uuid_state(g: &Graph, muts: &[Mut]) -> Option<Uuid> {
    let [Mut::Build(state)] = muts else {
        return None;
    };
    let Obj::Dict(items) = &g.nodes[*state].obj else {
        return None;
    };
    let mut value = None;
    let mut is_safe = None;
    for &(k, v) in items {
        match (str_of(g, k)?, &g.nodes[v].obj) {
            ("int", Obj::Int(i)) => value = Some(u128::try_from(*i).ok()?),
            ("int", Obj::Big(b)) => value = Some(b.to_u128()?),
            ("is_safe", Obj::Int(0)) => is_safe = Some(true),
            ("is_safe", Obj::Int(-1)) => is_safe = Some(false),
            ("is_safe", Obj::None) => is_safe = None,
            _ => return None,
        }
    }
    Some(Uuid::from_u128(value?).with_is_safe(is_safe))
}

/// A global's `(module, name)`, Python 2 module names mapped to Python 3's.
fn global(g: &Graph, id: Id) -> Option<(&str, &str)> {
    let node = &g.nodes[id];
    let Obj::Global { module, name } = &node.obj else {
        return None;
    };
    if !node.muts.is_empty() {
        return None;
    }
    let module = match module.as_str() {
        "__builtin__" => "builtins",
        "copy_reg" => "copyreg",
        m => m,
    };
    Some((module, name))
}

fn tuple(g: &Graph, id: Id) -> Option<&[Id]> {
    match &g.nodes[id].obj {
        Obj::Tuple(items) if g.nodes[id].muts.is_empty() => Some(items),
        _ => None,
    }
}

fn str_of(g: &Graph, id: Id) -> Option<&str> {
    match &g.nodes[id].obj {
        Obj::Str(s) => Some(s),
        _ => None,
    }
}

fn int_of(g: &Graph, id: Id) -> Option<i64> {
    match g.nodes[id].obj {
        Obj::Int(i) => Some(i),
        Obj::Bool(b) => Some(i64::from(b)),
        _ => None,
    }
}

/// The bytes of a `bytes` object, also as protocol 2 writes it (`_codecs.encode(text,
/// "latin1")`, `bytes()`) and as a `str` state read from Python 2 (latin-1).
fn bytes_of(g: &Graph, id: Id) -> Option<Vec<u8>> {
    let node = &g.nodes[id];
    if !node.muts.is_empty() {
        return None;
    }
    match &node.obj {
        Obj::Bytes(b) => Some(b.clone()),
        Obj::Str(s) => s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect(),
        Obj::Reduce { func, args } => match (global(g, *func)?, tuple(g, *args)?) {
            (("_codecs", "encode"), [text, enc]) => latin1(g, *text, *enc),
            (("builtins", "bytes"), []) => Some(Vec::new()),
            _ => None,
        },
        _ => None,
    }
}

/// `text.encode("latin1")`.
fn latin1(g: &Graph, text: Id, enc: Id) -> Option<Vec<u8>> {
    let enc = str_of(g, enc)?.to_ascii_lowercase().replace(['-', '_'], "");
    if enc != "latin1" && enc != "iso88591" {
        return None;
    }
    str_of(g, text)?
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

fn timedelta_args(g: &Graph, args: &[Id]) -> Option<TimeDelta> {
    let mut parts = [0i64; 3];
    if args.len() > 3 {
        return None;
    }
    for (slot, &a) in parts.iter_mut().zip(args) {
        *slot = int_of(g, a)?;
    }
    TimeDelta::new(parts[0], parts[1], parts[2])
}

/// An optional `tzinfo` argument that was understood (`None` inside when absent).
struct TzArg(Option<TzInfo>);

/// The optional `tzinfo` argument; `None` when it is not an allowlisted `tzinfo`.
fn tz_arg(g: &Graph, args: &[Id]) -> Option<TzArg> {
    let Some(&id) = args.first() else {
        return Some(TzArg(None));
    };
    let node = &g.nodes[id];
    let tz = match &node.obj {
        Obj::None => return Some(TzArg(None)),
        Obj::Reduce { func, args } if node.muts.is_empty() => {
            let args = tuple(g, *args)?;
            match (global(g, *func), args) {
                (Some(("datetime", "timezone")), [offset, name @ ..]) if name.len() <= 1 => {
                    let offset = timedelta_node(g, *offset)?;
                    match name.first() {
                        None => TzInfo::fixed(offset),
                        Some(&n) => TzInfo::fixed_named(offset, str_of(g, n)?),
                    }
                }
                (_, [key, from_cache]) if zone_unpickle(g, *func) => {
                    (int_of(g, *from_cache)? == 1).then_some(())?;
                    TzInfo::zone(str_of(g, *key)?)
                }
                _ => None,
            }
        }
        _ => None,
    };
    tz.map(|tz| TzArg(Some(tz)))
}

fn timedelta_node(g: &Graph, id: Id) -> Option<TimeDelta> {
    let node = &g.nodes[id];
    let Obj::Reduce { func, args } = &node.obj else {
        return None;
    };
    if !node.muts.is_empty() || global(g, *func)? != ("datetime", "timedelta") {
        return None;
    }
    timedelta_args(g, tuple(g, *args)?)
}

/// `ZoneInfo._unpickle`: `getattr(zoneinfo.ZoneInfo, "_unpickle")` or the global itself.
fn zone_unpickle(g: &Graph, id: Id) -> bool {
    if global(g, id) == Some(("zoneinfo", "ZoneInfo._unpickle")) {
        return true;
    }
    let Obj::Reduce { func, args } = &g.nodes[id].obj else {
        return false;
    };
    global(g, *func) == Some(("builtins", "getattr"))
        && matches!(tuple(g, *args), Some(&[cls, attr])
            if global(g, cls) == Some(("zoneinfo", "ZoneInfo")) && str_of(g, attr) == Some("_unpickle"))
}

fn date_parts(year_hi: u8, year_lo: u8, month: u8, day: u8) -> Option<time::Date> {
    let year = i32::from(year_hi) * 256 + i32::from(year_lo);
    time::Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

fn micros(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

fn datetime(s: &[u8], tz: Option<TzInfo>) -> Option<DateTime> {
    let [yh, yl, m, d, h, mi, sec, ..] = *s else {
        return None;
    };
    if s.len() != 10 {
        return None;
    }
    let date = date_parts(yh, yl, m & 0x7f, d)?;
    let time = time::Time::from_hms_micro(h, mi, sec, micros(&s[7..])).ok()?;
    let local = PrimitiveDateTime::new(date, time);
    let dt = match tz {
        None => DateTime::naive(local)?,
        Some(tz) => DateTime::aware(local, tz)?,
    };
    Some(dt.with_fold(m & 0x80 != 0))
}

fn date(s: &[u8]) -> Option<Value> {
    let [yh, yl, m, d] = *s else {
        return None;
    };
    Date::try_from(date_parts(yh, yl, m, d)?)
        .ok()
        .map(Value::Date)
}

fn time_of_day(s: &[u8], tz: Option<TzInfo>) -> Option<Time> {
    let [h, m, sec, ..] = *s else {
        return None;
    };
    if s.len() != 6 {
        return None;
    }
    let t = time::Time::from_hms_micro(h & 0x7f, m, sec, micros(&s[3..])).ok()?;
    Some(Time::new(t, tz)?.with_fold(h & 0x80 != 0))
}

fn micro_bytes(us: u32) -> [u8; 3] {
    [(us >> 16) as u8, (us >> 8) as u8, us as u8]
}

// ---------------------------------------------------------------------------------------
// Writing, as CPython's pickler does at protocol 5.

impl Encoder {
    /// `func(*args)` where `args` were saved by `save_args` (CPython's `save_reduce`).
    fn reduce(&mut self, module: &str, name: &str, save_args: impl FnOnce(&mut Encoder) -> usize) {
        self.global(module, name);
        let n = save_args(self);
        self.tuple_end(n);
        self.op(REDUCE);
        self.memoize();
    }

    pub(super) fn save_datetime(&mut self, d: &DateTime) {
        let t = d.local();
        let year = t.year() as u16;
        let month = u8::from(t.month()) | if d.fold() { 0x80 } else { 0 };
        let [u1, u2, u3] = micro_bytes(t.microsecond());
        let state = [
            (year >> 8) as u8,
            year as u8,
            month,
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            u1,
            u2,
            u3,
        ];
        self.reduce("datetime", "datetime", |e| {
            e.bytes(&state);
            e.save_tz(d.tz())
        });
    }

    pub(super) fn save_date(&mut self, d: &Date) {
        let d = d.get();
        let year = d.year() as u16;
        let state = [(year >> 8) as u8, year as u8, u8::from(d.month()), d.day()];
        self.reduce("datetime", "date", |e| {
            e.bytes(&state);
            1
        });
    }

    pub(super) fn save_time(&mut self, t: &Time) {
        let tm = t.time();
        let hour = tm.hour() | if t.fold() { 0x80 } else { 0 };
        let [u1, u2, u3] = micro_bytes(tm.microsecond());
        let state = [hour, tm.minute(), tm.second(), u1, u2, u3];
        self.reduce("datetime", "time", |e| {
            e.bytes(&state);
            e.save_tz(t.tz())
        });
    }

    /// Saves the `tzinfo` argument if any; returns how many arguments were saved.
    fn save_tz(&mut self, tz: Option<&TzInfo>) -> usize {
        let Some(tz) = tz else {
            return 1;
        };
        if let Some(key) = tz.zone_key() {
            self.reduce_with(
                |e| {
                    e.global("builtins", "getattr");
                    e.global("zoneinfo", "ZoneInfo");
                    e.str("_unpickle", true);
                    e.tuple_end(2);
                    e.op(REDUCE);
                    e.memoize();
                },
                |e| {
                    e.str(key, false);
                    e.int(1);
                    2
                },
            );
        } else if let Some(offset) = tz.offset() {
            self.reduce("datetime", "timezone", |e| {
                e.save_timedelta(&offset);
                match tz.name() {
                    Some(name) => {
                        e.str(name, false);
                        2
                    }
                    None => 1,
                }
            });
        }
        2
    }

    fn reduce_with(
        &mut self,
        func: impl FnOnce(&mut Encoder),
        args: impl FnOnce(&mut Encoder) -> usize,
    ) {
        func(self);
        let n = args(self);
        self.tuple_end(n);
        self.op(REDUCE);
        self.memoize();
    }

    pub(super) fn save_timedelta(&mut self, d: &TimeDelta) {
        self.reduce("datetime", "timedelta", |e| {
            e.int(i128::from(d.days()));
            e.int(i128::from(d.seconds()));
            e.int(i128::from(d.microseconds()));
            3
        });
    }

    pub(super) fn save_decimal(&mut self, d: &Decimal) {
        self.reduce("decimal", "Decimal", |e| {
            e.str(d.as_str(), false);
            1
        });
    }

    /// `copyreg.__newobj__(UUID)` then `BUILD` with `UUID.__getstate__()`.
    pub(super) fn save_uuid(&mut self, u: &Uuid) {
        self.global("uuid", "UUID");
        self.op(EMPTY_TUPLE);
        self.op(NEWOBJ);
        self.memoize();
        self.op(EMPTY_DICT);
        self.memoize();
        let value = Value::from(u.as_u128());
        match u.is_safe() {
            None => {
                self.str("int", true);
                self.save(&value, false);
                self.op(SETITEM);
            }
            Some(safe) => {
                self.op(MARK);
                self.str("int", true);
                self.save(&value, false);
                self.str("is_safe", true);
                self.int(if safe { 0 } else { -1 });
                self.op(SETITEMS);
            }
        }
        self.op(BUILD);
    }

    pub(super) fn save_set(&mut self, items: &[Value]) {
        self.op(EMPTY_SET);
        self.memoize();
        for batch in items.chunks(super::write::BATCH_SIZE) {
            self.op(MARK);
            for item in batch {
                self.save(item, false);
            }
            self.op(ADDITEMS);
        }
    }

    pub(super) fn save_frozenset(&mut self, items: &[Value]) {
        self.op(MARK);
        for item in items {
            self.save(item, false);
        }
        self.op(FROZENSET);
        self.memoize();
    }

    pub(super) fn save_ordered_dict(&mut self, map: &Map) {
        self.global("collections", "OrderedDict");
        self.op(EMPTY_TUPLE);
        self.op(REDUCE);
        self.memoize();
        self.save_items(map);
    }
}
