//! Django's `RedisCache` values: the pickled session dict.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use sessionkit_core::value::{Map, Value};
use sessionkit_core::{Config, Data, Expiry, ManualClock, Session};
use sessionkit_django::keys::CacheEngine;
use sessionkit_django::pickle::{
    self, PickleErrorKind, redis_dumps, redis_loads, redis_value_decode, redis_value_encode,
};

use crate::vectors::{T1, at, field, hex, int_of, map_of, records, str_of, unhex};

pub(crate) const FUNCTIONS: &[&str] = &[
    "RedisSerializer.dumps(session_dict)",
    "RedisSerializer.dumps(int)",
    "RedisSerializer.loads",
    "cache.redis_raw_after_save",
    "cached_db.redis_raw_after_save",
    "cache.redis_ttl_with_set_expiry",
    "cached_db.redis_ttl_with_set_expiry",
    "cache.load_foreign_pickle",
    "cached_db.load_foreign_pickle",
];

/// The session of a `RedisSerializer.dumps` record (the 1001-key dict is described,
/// not spelled out).
fn session_of(r: &crate::vectors::Record) -> Map {
    match r.input("session") {
        Value::Map(m) => m.clone(),
        Value::String(s) if s == "{'k0': 0, ..., 'k1000': 1000}" => (0..=1000)
            .map(|i| (format!("k{i}"), Value::Int(i)))
            .collect(),
        other => panic!("unexpected session {other:?}"),
    }
}

#[test]
fn dumps_matches_python_and_loads_reads_python() {
    let rs = records("RedisSerializer.dumps(session_dict)");
    assert_eq!(rs.len(), 10);
    let mut names = Vec::new();
    for r in rs {
        let name = r.input_str("dict_name");
        names.push(name);
        assert_eq!(int_of(r.input("pickle_protocol")), 5);
        let session = session_of(r);
        if let Value::Map(summary) = &r.output {
            // The 1001-key pickle is summarised: length, SHA-256, first bytes.
            let ours = pickle::dumps(&session);
            assert_eq!(ours.len() as i64, int_of(field(summary, "len")), "{name}");
            assert_eq!(
                hex(&Sha256::digest(&ours)),
                str_of(field(summary, "sha256")),
                "{name}: byte-identical"
            );
            assert_eq!(
                hex(&ours[..64]),
                str_of(field(summary, "first_64_bytes_hex"))
            );
            // Two SETITEMS: a batch of 1000 and a batch of one.
            assert_eq!(int_of(field(summary, "setitems_opcodes")), 2);
            assert_eq!(pickle::loads(&ours).unwrap(), Value::Map(session));
            continue;
        }
        let python = unhex(r.output_str());
        // Python's bytes read back to the session (memo references included)...
        assert_eq!(
            pickle::loads(&python).unwrap(),
            Value::Map(session.clone()),
            "{name}"
        );
        // ...and ours are Python's bytes.
        assert_eq!(hex(&pickle::dumps(&session)), r.output_str(), "{name}");
        let data = redis_value_decode(&python).unwrap();
        assert_eq!(redis_value_encode(&data), python, "{name}");
    }
    for must in [
        "memo_references",
        "1001_keys",
        "unicode",
        "scalars",
        "nested",
    ] {
        assert!(names.contains(&must), "{must}");
    }
}

#[test]
fn memo_references_are_resolved() {
    let r = records("RedisSerializer.dumps(session_dict)")
        .into_iter()
        .find(|r| r.input_str("dict_name") == "memo_references")
        .unwrap();
    let bytes = unhex(r.output_str());
    // BINGET (0x68) appears: Python shared the key "a" and the 1-character "x".
    assert_eq!(bytes.iter().filter(|&&b| b == b'h').count(), 2);
    let v = pickle::loads(&bytes).unwrap();
    let m = map_of(&v);
    assert_eq!(
        m["a"],
        Value::Map([("a".to_owned(), Value::Int(1))].into_iter().collect())
    );
    assert_eq!(
        m["l"],
        Value::List(vec![Value::from("x"), Value::from("x")])
    );
}

#[test]
fn plain_ints_are_decimal_text() {
    for r in records("RedisSerializer.dumps(int)") {
        let n = int_of(r.input("value"));
        assert_eq!(redis_dumps(&Value::Int(n)), r.output_str().as_bytes());
        assert_eq!(
            redis_loads(r.output_str().as_bytes()).unwrap(),
            Value::Int(n)
        );
        // Not a session.
        assert_eq!(
            redis_value_decode(r.output_str().as_bytes())
                .unwrap_err()
                .kind,
            PickleErrorKind::NotADict
        );
    }
}

#[test]
fn protocol_2_pickles_from_other_clients() {
    for r in records("RedisSerializer.loads") {
        let data = redis_value_decode(&unhex(r.input_str("bytes_hex"))).unwrap();
        assert_eq!(data.to_map(), *map_of(&r.output));
    }
    for engine in ["cache", "cached_db"] {
        for r in records(&format!("{engine}.load_foreign_pickle")) {
            let data = redis_value_decode(&unhex(r.input_str("stored_hex"))).unwrap();
            assert_eq!(data.to_map(), *map_of(&r.output), "{engine}");
            assert!(r.input_str("session_key").len() >= 8);
        }
    }
}

fn engine_of(name: &str) -> CacheEngine {
    match name {
        "cache" => CacheEngine::Cache,
        "cached_db" => CacheEngine::CachedDb,
        other => panic!("unexpected engine {other}"),
    }
}

#[test]
fn raw_redis_contents_after_save() {
    for engine in ["cache", "cached_db"] {
        for r in records(&format!("{engine}.redis_raw_after_save")) {
            let out = map_of(&r.output);
            let key = r.input_str("session_key");
            assert_eq!(
                engine_of(engine).redis_key("", 1, key),
                str_of(field(out, "redis_key"))
            );
            let data = Data::from_map(map_of(r.input("session")).clone());
            assert_eq!(
                hex(&redis_value_encode(&data)),
                str_of(field(out, "value_hex")),
                "{engine}"
            );
            // TTL = get_expiry_age() = SESSION_COOKIE_AGE without a custom expiry.
            let age = int_of(r.input("SESSION_COOKIE_AGE"));
            let s = Session::detached_with(
                Config::builder().cookie_age(age).build().unwrap(),
                Arc::new(ManualClock::new(at(T1))),
            );
            assert_eq!(s.expiry_age(), int_of(field(out, "ttl_seconds")));
        }
    }
}

#[test]
fn ttl_follows_set_expiry() {
    for engine in ["cache", "cached_db"] {
        for r in records(&format!("{engine}.redis_ttl_with_set_expiry")) {
            let out = map_of(&r.output);
            let seconds = int_of(r.input("set_expiry"));
            // Rebuild the saved session through the core API and pickle it.
            let s = Session::detached_with(Config::default(), Arc::new(ManualClock::new(at(T1))));
            s.insert_value("count", Value::Int(4)).unwrap();
            s.insert_value("favorite_color", Value::from("blue"))
                .unwrap();
            s.set_expiry(Expiry::Seconds(seconds));
            assert_eq!(
                s.expiry_age(),
                int_of(field(out, "ttl_seconds")),
                "{engine}"
            );
            let data: Data = s.items().into_iter().collect();
            assert_eq!(
                hex(&redis_value_encode(&data)),
                str_of(field(out, "value_hex")),
                "{engine}"
            );
        }
    }
}
