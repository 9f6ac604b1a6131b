//! Issue 16: Python values in `cache`-engine sessions, with live Django. Django stores a
//! session of every allowlisted type (`tests/django/demo/values.py`), the Rust side reads
//! each one and changes some through their typed readings, and Django reads every value
//! back equal and of the same type; an object of the app's own class survives untouched.

use std::collections::BTreeSet;

use sessionkit_core::SessionError;
use sessionkit_core::value::{Decimal, Map, Value};
use sessionkit_django::Secrets;

use crate::cache::{fixture, rust};
use crate::django::text;
use crate::scenarios::Pair;

/// The Python type of each value `put-python --kind values` stores.
const TYPES: &[(&str, &str)] = &[
    ("count", "int"),
    ("when_naive", "datetime.datetime"),
    ("when_utc", "datetime.datetime"),
    ("when_offset", "datetime.datetime"),
    ("when_zone", "datetime.datetime"),
    ("day", "datetime.date"),
    ("clock", "datetime.time"),
    ("clock_utc", "datetime.time"),
    ("delta", "datetime.timedelta"),
    ("price", "decimal.Decimal"),
    ("nan", "decimal.Decimal"),
    ("id", "uuid.UUID"),
    ("raw", "bytes"),
    ("buf", "bytearray"),
    ("tags", "set"),
    ("frozen", "frozenset"),
    ("pair", "tuple"),
    ("ordered", "collections.OrderedDict"),
    ("huge", "int"),
    ("nested", "dict"),
];

fn check(r: &Map) {
    assert_eq!(r.get("exists"), Some(&Value::Bool(true)), "{r:?}");
    assert_eq!(r.get("wrong"), Some(&Value::List(vec![])), "{r:?}");
    assert_eq!(r.get("extra"), Some(&Value::List(vec![])), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_every_allowlisted_type_read_changed_and_read_back_by_django() {
    let Some(f) = fixture().await else { return };
    every_allowlisted_type(&f.pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_an_object_outside_the_allowlist_stays_intact() {
    let Some(f) = fixture().await else { return };
    an_object_outside_the_allowlist(&f.pair).await;
}

/// Every allowlisted type, stored by Django, read and changed by Rust, read back by
/// Django (any cache server: the pair's).
pub(crate) async fn every_allowlisted_type(pair: &Pair) {
    let django = &pair.django;
    let key = text(&django.call(&["put-python", "--kind", "values"]), "key");
    let engine = (pair.make)(&Secrets::new(crate::django::SECRET));
    rust(&engine, Some(&key), |s| {
        for (k, ty) in TYPES {
            let v = s.get_value(k).unwrap_or_else(|| panic!("{k} missing"));
            assert_eq!(v.type_name(), *ty, "{k}: {v:?}");
        }
        let n = s
            .update_with("count", |n: Option<i64>| n.unwrap_or(0) + 1)
            .unwrap();
        assert_eq!(n, 2);
        // Typed readings, changed and written back as Python values.
        let utc: time::OffsetDateTime = s.get("when_utc").unwrap().unwrap();
        assert_eq!(utc, time::macros::datetime!(2026-01-02 03:04:05 UTC));
        s.insert_value(
            "when_utc",
            Value::try_from(utc + time::Duration::DAY).unwrap(),
        )
        .unwrap();
        let naive: time::PrimitiveDateTime = s.get("when_naive").unwrap().unwrap();
        assert_eq!(naive, time::macros::datetime!(2026-01-02 03:04:05.000006));
        let day: time::Date = s.get("day").unwrap().unwrap();
        s.insert_value("day", Value::try_from(day.next_day().unwrap()).unwrap())
            .unwrap();
        let delta: time::Duration = s.get("delta").unwrap().unwrap();
        s.insert_value(
            "delta",
            Value::try_from(delta + time::Duration::SECOND).unwrap(),
        )
        .unwrap();
        assert_eq!(s.get::<String>("price").unwrap().as_deref(), Some("1.50"));
        let price: Decimal = "2.50".parse().unwrap();
        s.insert_value("price", Value::Decimal(price)).unwrap();
        let mut tags: BTreeSet<i64> = s.get("tags").unwrap().unwrap();
        tags.insert(4);
        s.insert_value(
            "tags",
            Value::Set(tags.into_iter().map(Value::from).collect()),
        )
        .unwrap();
        assert_eq!(
            s.get::<String>("id").unwrap().as_deref(),
            Some("12345678-1234-5678-1234-567812345678")
        );
        assert_eq!(s.get::<Vec<u8>>("raw").unwrap().unwrap(), b"ab\x00\xff");
    })
    .await;
    check(&django.call(&[
        "check-python",
        "--kind",
        "values",
        "--key",
        &key,
        "--after-rust",
    ]));
}

/// An object of the app's own class survives a Rust update untouched; a new Rust session
/// takes Python values.
pub(crate) async fn an_object_outside_the_allowlist(pair: &Pair) {
    let django = &pair.django;
    let key = text(&django.call(&["put-python", "--kind", "object"]), "key");
    let engine = (pair.make)(&Secrets::new(crate::django::SECRET));
    rust(&engine, Some(&key), |s| {
        assert_eq!(s.get::<String>("keep").unwrap().as_deref(), Some("x"));
        let Some(Value::Opaque(thing)) = s.get_value("thing") else {
            panic!("{:?}", s.get_value("thing"))
        };
        assert_eq!(thing.type_name(), "demo.values.Thing");
        assert!(matches!(
            s.get::<String>("thing"),
            Err(SessionError::Type { .. })
        ));
        s.update_with("count", |n: Option<i64>| n.unwrap_or(0) + 1)
            .unwrap();
    })
    .await;
    check(&django.call(&[
        "check-python",
        "--kind",
        "object",
        "--key",
        &key,
        "--after-rust",
    ]));
    // A new Rust session on this store takes Python values too.
    let key = rust(&engine, None, |s| {
        s.insert_value(
            "day",
            Value::try_from(time::macros::date!(2026 - 01 - 02)).unwrap(),
        )
        .unwrap();
    })
    .await
    .expect("a new session");
    let r = django.call(&["read", "--key", &key]);
    assert_eq!(r.get("exists"), Some(&Value::Bool(true)), "{r:?}");
    let Some(Value::Map(data)) = r.get("data") else {
        panic!("{r:?}")
    };
    // The driver prints what JSON cannot hold as its repr.
    assert_eq!(
        data.get("day"),
        Some(&Value::from("datetime.date(2026, 1, 2)"))
    );
}
