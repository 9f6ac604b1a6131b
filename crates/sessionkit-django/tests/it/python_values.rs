//! Issue 16: Python's standard value types in pickled sessions. The vectors
//! (`tests/data/python_values.json`) are Python's own pickles of every allowlisted type at
//! protocols 2 to 5, with Python's `repr` of each, made by `make_python_values.py`
//! beside them; no Python runs here.

use std::sync::OnceLock;

use sessionkit_core::value::{Map, Value, from_value};
use sessionkit_core::{Data, json};
use sessionkit_django::pickle::{self, PickleErrorKind};

use crate::vectors::unhex;

struct Vector {
    name: String,
    protocol: i64,
    pickle: Vec<u8>,
    repr: String,
}

fn fixture() -> &'static Map {
    static F: OnceLock<Map> = OnceLock::new();
    F.get_or_init(|| {
        let text = include_str!("../data/python_values.json");
        match json::parse(text).unwrap() {
            Value::Map(m) => m,
            _ => panic!("fixture is not an object"),
        }
    })
}

fn field<'a>(m: &'a Value, k: &str) -> &'a Value {
    let Value::Map(m) = m else { panic!() };
    &m[k]
}

fn vectors() -> Vec<Vector> {
    let Value::List(list) = &fixture()["values"] else {
        panic!()
    };
    list.iter()
        .map(|v| Vector {
            name: field(v, "name").as_str().unwrap().to_owned(),
            protocol: field(v, "protocol").as_i64().unwrap(),
            pickle: unhex(field(v, "pickle").as_str().unwrap()),
            repr: field(v, "repr").as_str().unwrap().to_owned(),
        })
        .collect()
}

fn value_of(name: &str) -> Value {
    let v = vectors().into_iter().find(|v| v.name == name).unwrap();
    pickle::loads(&v.pickle).unwrap()
}

#[test]
fn issue_16_every_type_at_every_protocol_reads_as_python_sees_it() {
    let all = vectors();
    assert_eq!(all.len(), 4 * 46, "46 values at protocols 2 to 5");
    for v in &all {
        let value = pickle::loads(&v.pickle)
            .unwrap_or_else(|e| panic!("{} (protocol {}): {e}", v.name, v.protocol));
        // Python 3 drops `fold` below protocol 4: its own repr shows fold=1, the
        // pickle does not carry it.
        let want = if v.protocol < 4 {
            v.repr.replace(", fold=1", "")
        } else {
            v.repr.clone()
        };
        assert_eq!(
            value.python_repr(),
            want,
            "{} (protocol {})",
            v.name,
            v.protocol
        );
    }
}

#[test]
fn issue_16_written_back_as_python_writes_it() {
    let mut identical = 0;
    let mut total = 0;
    for v in vectors().iter().filter(|v| v.protocol == 5) {
        let value = pickle::loads(&v.pickle).unwrap();
        let ours = pickle::dumps_value(&value);
        // Whatever the bytes, they read back to the same value...
        assert_eq!(pickle::loads(&ours).unwrap(), value, "{}", v.name);
        // ...and are Python's own bytes for all but shared-object details.
        total += 1;
        if ours == v.pickle {
            identical += 1;
        } else {
            eprintln!("{}: not byte-identical", v.name);
        }
    }
    assert!(
        identical * 10 >= total * 9,
        "{identical} of {total} byte-identical"
    );
}

#[test]
fn issue_16_natural_typed_readings() {
    use time::macros::{date, datetime, time};
    let utc: time::OffsetDateTime = from_value(value_of("datetime_utc")).unwrap();
    assert_eq!(utc, datetime!(2026-01-02 03:04:05 UTC));
    let off: time::OffsetDateTime = from_value(value_of("datetime_offset")).unwrap();
    assert_eq!(off, datetime!(2026-01-02 03:04 +05:30));
    let naive: time::PrimitiveDateTime = from_value(value_of("datetime_naive")).unwrap();
    assert_eq!(naive, datetime!(2026-01-02 03:04:05.000006));
    // Naive and aware do not mix; a zone has no offset without the tz database.
    assert!(from_value::<time::OffsetDateTime>(value_of("datetime_naive")).is_err());
    assert!(from_value::<time::PrimitiveDateTime>(value_of("datetime_utc")).is_err());
    let zone = value_of("datetime_zone");
    assert!(from_value::<time::OffsetDateTime>(zone.clone()).is_err());
    let Value::DateTime(z) = &zone else { panic!() };
    assert_eq!(z.tz().and_then(|t| t.zone_key()), Some("America/New_York"));
    assert_eq!(z.local(), datetime!(2026-07-01 12:00));
    assert_eq!(
        from_value::<String>(zone).unwrap(),
        "2026-07-01T12:00:00[America/New_York]"
    );
    assert_eq!(
        from_value::<time::Date>(value_of("date")).unwrap(),
        date!(2026 - 01 - 02)
    );
    assert_eq!(
        from_value::<time::Time>(value_of("time")).unwrap(),
        time!(3:04:05.000006)
    );
    assert!(from_value::<time::Time>(value_of("time_utc")).is_err());
    assert_eq!(
        from_value::<time::Duration>(value_of("timedelta_negative")).unwrap(),
        time::Duration::microseconds(-1)
    );
    assert_eq!(
        from_value::<std::time::Duration>(value_of("timedelta")).unwrap(),
        std::time::Duration::new(86_402, 3000)
    );
    assert!(from_value::<std::time::Duration>(value_of("timedelta_negative")).is_err());
    assert_eq!(from_value::<String>(value_of("decimal")).unwrap(), "1.50");
    assert_eq!(from_value::<f64>(value_of("decimal")).unwrap(), 1.5);
    assert_eq!(
        from_value::<String>(value_of("uuid")).unwrap(),
        "12345678-1234-5678-1234-567812345678"
    );
    assert_eq!(from_value::<u128>(value_of("uuid_max")).unwrap(), u128::MAX);
    assert_eq!(
        from_value::<Vec<u8>>(value_of("bytes")).unwrap(),
        b"ab\x00\xff'"
    );
    let set: std::collections::BTreeSet<i64> = from_value(value_of("set")).unwrap();
    assert_eq!(set, [1, 2, 3].into());
    let od: std::collections::BTreeMap<String, Value> =
        from_value(value_of("ordered_dict")).unwrap();
    assert_eq!(od["b"], Value::Int(1));
    // A Value reads as itself.
    let v = value_of("nested");
    assert_eq!(from_value::<Value>(v.clone()).unwrap(), v);
    assert_eq!(sessionkit_core::value::to_value(&v).unwrap(), v);
}

#[test]
fn issue_16_objects_outside_the_allowlist_are_kept_opaque() {
    let Value::List(list) = &fixture()["opaque"] else {
        panic!()
    };
    assert_eq!(list.len(), 4);
    for o in list {
        let name = field(o, "name").as_str().unwrap();
        let bytes = unhex(field(o, "pickle").as_str().unwrap());
        // `loads` refuses them...
        assert!(pickle::loads(&bytes).is_err(), "{name}");
        // ...the session reader keeps them, and the rest of the session.
        let map = pickle::loads_session(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let opaque: Vec<&str> = map
            .iter()
            .filter_map(|(k, v)| matches!(v, Value::Opaque(_)).then_some(k.as_str()))
            .collect();
        match name {
            "object" => {
                assert_eq!(opaque, ["obj"]);
                assert_eq!(map["n"], Value::Int(1));
                let Value::Opaque(o) = &map["obj"] else {
                    panic!()
                };
                assert_eq!(o.type_name(), "app.Thing");
            }
            "object_shared" => {
                // Each object inside a list is cut out on its own.
                assert_eq!(opaque, ["z"]);
                let Value::List(l) = &map["a"] else { panic!() };
                assert!(l.iter().all(|v| matches!(v, Value::Opaque(_))));
            }
            "int_keys" => {
                assert_eq!(opaque, ["m"]);
                assert_eq!(map["n"], Value::Int(2));
            }
            "cycle" => assert_eq!(opaque, ["l"]),
            _ => panic!("{name}"),
        }
        // Written back and read again: the same values, the same opaque bytes.
        let again = pickle::loads_session(&pickle::dumps(&map)).unwrap();
        assert_eq!(again, map, "{name}");
        // Through the cache store's codec, with another key changed.
        let mut data = pickle::redis_value_decode(&bytes).unwrap();
        data.insert("count", Value::Int(7));
        let stored = pickle::redis_value_encode(&data);
        let back = pickle::redis_value_decode(&stored).unwrap();
        assert_eq!(back.get("count"), Some(Value::Int(7)));
        for k in &opaque {
            assert_eq!(back.get(k), map.get(*k).cloned(), "{name}: {k}");
        }
    }
}

#[test]
fn issue_16_constructs_that_cannot_be_kept_refuse_the_session() {
    use PickleErrorKind as K;
    // A persistent id: Django's unpickler has no `persistent_load` either.
    let p = b"\x80\x05}\x94\x8c\x01k\x94Pid\ns.";
    assert_eq!(pickle::loads_session(p).unwrap_err().kind, K::Refused(b'P'));
    // A tuple made from itself (through a call): no order of opcodes builds it.
    let p = b"\x80\x05}\x94\x8c\x01k\x94\x8c\x03app\x8c\x01f\x93(h\x03\x85R\x94s.";
    assert!(pickle::loads_session(p).is_err());
    // Not a dict, or a dict with other keys.
    assert_eq!(
        pickle::loads_session(b"\x80\x05N.").unwrap_err().kind,
        K::NotADict
    );
    assert_eq!(
        pickle::loads_session(b"\x80\x05}K\x01K\x02s.")
            .unwrap_err()
            .kind,
        K::NonStringKey
    );
    // An integer is what `RedisSerializer` stores for ints, never a session.
    assert_eq!(
        pickle::redis_value_decode(b"42").unwrap_err().kind,
        K::NotADict
    );
    let _ = Data::new();
}
