//! Django's `cache` engine layout ([`DjangoCacheStore`]): the conformance suite on a
//! standalone server and on a cluster, Django's own vectors (keys, bytes, TTLs, a value
//! another implementation wrote), and what is specific to the layout: expiry from the
//! data or the TTL, unreadable values, touches.

use sessionkit_core::EXPIRY_KEY;
use sessionkit_core::store::Page;
use sessionkit_core::{
    Config, CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey, SessionStore,
    Token, Value, pytime,
};
use sessionkit_django::pickle::redis_value_encode;
use sessionkit_redis::DjangoCacheStore;
use sessionkit_testkit::Profile;
use time::OffsetDateTime;

use crate::common::{NOW, first_visit, raw_standalone, secs};
use crate::django_common::{
    cache_cluster, cache_store, cache_store_with, field, hex, int, json_data, map, raw_get,
    raw_set, raw_ttl, records, text, unhex, vector_session,
};

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::django(), cache_store());
}

mod cluster_conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::django(), cache_cluster());
}

fn record(data: Data, expires_at: OffsetDateTime) -> Record {
    Record {
        data,
        expires_at,
        meta: Metadata::default(),
    }
}

/// `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cache<key>`, spelled out here rather
/// than taken from the store.
fn django_name(prefix: &str, version: i64, key: &SessionKey) -> String {
    format!(
        "{prefix}:{version}:django.contrib.sessions.cache{}",
        key.as_str()
    )
}

async fn created(store: &DjangoCacheStore, key: &SessionKey, r: &Record, now: OffsetDateTime) {
    let out = store.create(key, r, now).await.unwrap();
    assert!(matches!(out, CreateOutcome::Created(_)), "{out:?}");
}

#[tokio::test]
async fn keys_are_djangos() {
    let Some(_running) = cache_store().await else {
        return;
    };
    for name in [
        "cache.redis_key (default KEY_PREFIX='' VERSION=1)",
        "cache.redis_key (KEY_PREFIX='myapp' VERSION=3)",
    ] {
        for r in records(name) {
            let inputs = map(&r, "inputs");
            let key = SessionKey::parse(text(inputs, "session_key")).unwrap();
            let store = DjangoCacheStore::builder(&crate::common::redis_url())
                .with_key_prefix(text(inputs, "KEY_PREFIX"))
                .with_version(int(inputs, "VERSION"))
                .connect()
                .await
                .unwrap();
            assert_eq!(store.redis_key(&key), text(&r, "output"), "{name}");
        }
    }
    // The defaults are Django's.
    let key = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
    let defaults = DjangoCacheStore::connect(&crate::common::redis_url())
        .await
        .unwrap();
    assert_eq!(
        defaults.redis_key(&key),
        ":1:django.contrib.sessions.cacheabcdefghijklmnopqrstuvwxyz012345"
    );
}

/// `cache.redis_raw_after_save` and `cache.redis_ttl_with_set_expiry`: what we write is
/// Django's key, Django's bytes and a TTL of the expiry age.
#[tokio::test]
async fn what_we_write_is_what_django_writes() {
    let Some(store) = cache_store().await else {
        return;
    };
    let prefix = store_prefix(&store);
    let mut raw = raw_standalone().await;
    for (name, age) in [
        ("cache.redis_raw_after_save", None),
        ("cache.redis_ttl_with_set_expiry", Some(600)),
    ] {
        let r = &records(name)[0];
        let output = map(r, "output");
        let (data, age) = vector_session(age);
        let key = SessionKey::generate();
        let now = OffsetDateTime::now_utc();
        created(&store, &key, &record(data, now + secs(age)), now).await;
        let name_ = django_name(&prefix, 1, &key);
        let value = raw_get(&mut raw, &name_).await.expect("written");
        assert_eq!(hex(&value), text(output, "value_hex"), "{name}");
        let ttl = raw_ttl(&mut raw, &name_).await;
        assert_eq!(ttl, int(output, "ttl_seconds"), "{name}");
    }
    // The session dicts of `RedisSerializer.dumps`: our bytes are Python's.
    for r in records("RedisSerializer.dumps(session_dict)") {
        let Value::String(python) = field(&r, "output") else {
            continue; // the 1001-key dict is only summarised
        };
        let Value::Map(session) = field(map(&r, "inputs"), "session") else {
            panic!("session")
        };
        let key = SessionKey::generate();
        let data = Data::from_map(session.clone());
        created(&store, &key, &record(data, NOW + secs(60)), NOW).await;
        let value = raw_get(&mut raw, &django_name(&prefix, 1, &key))
            .await
            .unwrap();
        assert_eq!(
            &hex(&value),
            python,
            "{}",
            text(map(&r, "inputs"), "dict_name")
        );
    }
}

/// `cache.load_foreign_pickle` and every pickle Python wrote: a value Django (or another
/// implementation, protocol 2) wrote is read.
#[tokio::test]
async fn what_django_writes_is_read() {
    let Some(store) = cache_store().await else {
        return;
    };
    let prefix = store_prefix(&store);
    let mut raw = raw_standalone().await;
    let r = &records("cache.load_foreign_pickle")[0];
    let key = SessionKey::generate();
    let stored = unhex(text(map(r, "inputs"), "stored_hex"));
    raw_set(
        &mut raw,
        &django_name(&prefix, 1, &key),
        &stored,
        Some(600_000),
    )
    .await;
    let Lookup::Found { record: got, token } = store.load(&key, NOW).await.unwrap() else {
        panic!("Django's session is read");
    };
    assert_eq!(
        Value::Map(got.data.to_map()),
        *field(r, "output"),
        "count 7, from other-impl"
    );
    assert_eq!(token.as_bytes(), Some(stored.as_slice()));
    // No `_session_expiry`: the TTL is the expiry.
    assert!((got.expires_at - (NOW + secs(600))).abs() < time::Duration::seconds(2));
    // And we can save over it: compare-and-set on Django's bytes.
    let mut data = got.data.clone();
    data.insert("count", Value::Int(8));
    let out = store
        .save(&key, &record(data, NOW + secs(600)), &token, NOW)
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");

    for r in records("RedisSerializer.dumps(session_dict)") {
        let Value::String(python) = field(&r, "output") else {
            continue;
        };
        let key = SessionKey::generate();
        raw_set(
            &mut raw,
            &django_name(&prefix, 1, &key),
            &unhex(python),
            Some(60_000),
        )
        .await;
        let Lookup::Found { record, .. } = store.load(&key, NOW).await.unwrap() else {
            panic!("{python}");
        };
        assert_eq!(
            Value::Map(record.data.to_map()),
            *field(map(&r, "inputs"), "session")
        );
    }
}

/// The `KEY_PREFIX` the factory chose (the part of the Redis key before `:1:`).
fn store_prefix(store: &DjangoCacheStore) -> String {
    let key = SessionKey::parse("abcdefgh").unwrap();
    let name = store.redis_key(&key);
    name.strip_suffix(":1:django.contrib.sessions.cacheabcdefgh")
        .expect("version 1")
        .to_owned()
}

/// Expiry: an absolute `_session_expiry` in the data wins; otherwise the TTL; a key
/// without TTL lives a cookie age. A record expired by its data is missing while its key
/// lives, and `clear_expired` removes it.
#[tokio::test]
async fn expiry_comes_from_the_data_or_the_ttl() {
    let config = Config::builder().cookie_age(100).build().unwrap();
    let Some(store) = cache_store_with(|b| b.with_config(&config)).await else {
        return;
    };
    let prefix = store_prefix(&store);
    let mut raw = raw_standalone().await;

    // As Django writes it after set_expiry(600): an int in the data, the TTL in Redis.
    let key = SessionKey::generate();
    let mut data = json_data(r#"{"n": 1}"#);
    data.insert(EXPIRY_KEY, Value::Int(600));
    raw_set(
        &mut raw,
        &django_name(&prefix, 1, &key),
        &redis_value_encode(&data),
        Some(600_000),
    )
    .await;
    let Lookup::Found { record, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("live");
    };
    let left = record.expires_at - NOW;
    assert!(left <= secs(600) && left > secs(595), "{left}");

    // An absolute date in the data, in the past at `now`, on a key that still lives.
    let dead = SessionKey::generate();
    let mut data = json_data(r#"{"n": 2}"#);
    data.insert(EXPIRY_KEY, Value::String(pytime::isoformat(NOW + secs(10))));
    raw_set(
        &mut raw,
        &django_name(&prefix, 1, &dead),
        &redis_value_encode(&data),
        Some(600_000),
    )
    .await;
    let Lookup::Found { record, .. } = store.load(&dead, NOW).await.unwrap() else {
        panic!("live until its date");
    };
    assert_eq!(record.expires_at, NOW + secs(10));
    assert!(matches!(
        store.load(&dead, NOW + secs(10)).await.unwrap(),
        Lookup::Missing
    ));
    // No TTL at all: a cookie age from `now`.
    let forever = SessionKey::generate();
    raw_set(
        &mut raw,
        &django_name(&prefix, 1, &forever),
        &redis_value_encode(&json_data("{}")),
        None,
    )
    .await;
    let Lookup::Found { record, .. } = store.load(&forever, NOW).await.unwrap() else {
        panic!("live");
    };
    assert_eq!(record.expires_at, NOW + secs(100));

    // Cleanup at NOW + 20 s removes exactly the record expired by its data.
    let mut steps = Vec::new();
    let removed = store
        .clear_expired_with_progress(NOW + secs(20), &mut |n| steps.push(n))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(steps.last(), Some(&1));
    assert_eq!(raw_ttl(&mut raw, &django_name(&prefix, 1, &dead)).await, -2);
    assert!(matches!(
        store.load(&key, NOW + secs(20)).await.unwrap(),
        Lookup::Found { .. }
    ));
    assert!(matches!(
        store.load(&forever, NOW + secs(20)).await.unwrap(),
        Lookup::Found { .. }
    ));
}

/// Writes set the TTL from the engine's `now`; a record that would already be expired is
/// not stored (Django deletes on a TTL of 0).
#[tokio::test]
async fn writes_set_the_ttl_from_the_given_now() {
    let Some(store) = cache_store().await else {
        return;
    };
    let prefix = store_prefix(&store);
    let mut raw = raw_standalone().await;
    let key = SessionKey::generate();
    let name = django_name(&prefix, 1, &key);
    created(
        &store,
        &key,
        &record(json_data(r#"{"n": 1}"#), NOW + secs(300)),
        NOW,
    )
    .await;
    let ttl = raw_ttl(&mut raw, &name).await;
    assert!((299..=300).contains(&ttl), "{ttl}");
    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!()
    };
    // A save at NOW + 100 s of a record expiring at NOW + 1000 s: TTL 900 s.
    let out = store
        .save(
            &key,
            &record(json_data(r#"{"n": 2}"#), NOW + secs(1000)),
            &token,
            NOW + secs(100),
        )
        .await
        .unwrap();
    let SaveOutcome::Saved(token) = out else {
        panic!("{out:?}")
    };
    let ttl = raw_ttl(&mut raw, &name).await;
    assert!((899..=900).contains(&ttl), "{ttl}");
    // A touch moves the TTL, never the value.
    assert!(
        store
            .touch(&key, NOW + secs(2000), NOW + secs(200))
            .await
            .unwrap()
    );
    let ttl = raw_ttl(&mut raw, &name).await;
    assert!((1799..=1800).contains(&ttl), "{ttl}");
    assert_eq!(raw_get(&mut raw, &name).await.as_deref(), token.as_bytes());
    // A save of a record already expired deletes it.
    let out = store
        .save(&key, &record(json_data("{}"), NOW), &token, NOW + secs(1))
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    assert_eq!(raw_ttl(&mut raw, &name).await, -2);
    // So does a create.
    let out = store
        .create(&key, &record(json_data("{}"), NOW), NOW)
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::Created(_)), "{out:?}");
    assert_eq!(raw_ttl(&mut raw, &name).await, -2);
}

/// What is not a readable Django session is missing, never overwritten, never matched;
/// only `delete` removes it.
#[tokio::test]
async fn unreadable_values_are_missing_and_left_alone() {
    let Some(store) = cache_store().await else {
        return;
    };
    let prefix = store_prefix(&store);
    let mut raw = raw_standalone().await;
    // A pickle that would run os.system, garbage, a list instead of a dict, a datetime.
    let evil =
        b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x8c\x06system\x93\x8c\x02id\x85R."
            .to_vec();
    let values = [
        evil,
        b"not a pickle".to_vec(),
        b"\x80\x05]\x94.".to_vec(),
        b"42".to_vec(),
    ];
    for value in values {
        let key = SessionKey::generate();
        let name = django_name(&prefix, 1, &key);
        raw_set(&mut raw, &name, &value, Some(60_000)).await;
        assert!(matches!(
            store.load(&key, NOW).await.unwrap(),
            Lookup::Missing
        ));
        let r = record(json_data(r#"{"mine": true}"#), NOW + secs(60));
        assert_eq!(
            store.create(&key, &r, NOW).await.unwrap(),
            CreateOutcome::Collision
        );
        let out = store
            .save(&key, &r, &Token::bytes(b"whatever".to_vec()), NOW)
            .await
            .unwrap();
        assert_eq!(out, SaveOutcome::Conflict);
        assert!(!store.touch(&key, NOW + secs(600), NOW).await.unwrap());
        assert_eq!(store.clear_expired(NOW + secs(10_000)).await.unwrap(), 0);
        assert_eq!(raw_get(&mut raw, &name).await, Some(value));
        store.delete(&key).await.unwrap();
        assert_eq!(raw_ttl(&mut raw, &name).await, -2);
    }
    // A key of another type.
    let key = SessionKey::generate();
    let name = django_name(&prefix, 1, &key);
    redis::cmd("HSET")
        .arg(&name)
        .arg("f")
        .arg("v")
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
    let r = record(json_data("{}"), NOW + secs(60));
    assert_eq!(
        store.create(&key, &r, NOW).await.unwrap(),
        CreateOutcome::Collision
    );
    assert!(
        store
            .listing()
            .unwrap()
            .list_boxed(Page::first(NOW, 10))
            .await
            .unwrap()
            .is_empty()
    );
    store.delete(&key).await.unwrap();
    assert_eq!(raw_ttl(&mut raw, &name).await, -2);
}

/// The cache engine's pattern also matches the `cached_db` engine's keys (`cache` is a
/// prefix of `cached_db`): those are not listed, cleaned or revoked.
#[tokio::test]
async fn cached_db_keys_are_not_the_cache_engines() {
    let Some(store) = cache_store().await else {
        return;
    };
    let prefix = store_prefix(&store);
    let mut raw = raw_standalone().await;
    let key = SessionKey::generate();
    let mut data = json_data(r#"{"_auth_user_id": "7"}"#);
    data.insert(EXPIRY_KEY, Value::String(pytime::isoformat(NOW)));
    let other = format!(
        "{prefix}:1:django.contrib.sessions.cached_db{}",
        key.as_str()
    );
    raw_set(&mut raw, &other, &redis_value_encode(&data), Some(60_000)).await;
    assert!(
        store
            .listing()
            .unwrap()
            .list_boxed(Page::first(NOW - secs(10), 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.clear_expired(NOW + secs(10)).await.unwrap(), 0);
    assert_eq!(
        store
            .user_index()
            .unwrap()
            .revoke_user_boxed("7", None)
            .await
            .unwrap(),
        0
    );
    assert!(raw_get(&mut raw, &other).await.is_some());
}

/// The store behind the engine on the real clock: the session Django would read, then a
/// logout that leaves nothing.
#[tokio::test]
async fn serves_the_engine() {
    let Some(store) = cache_store().await else {
        return;
    };
    let prefix = store_prefix(&store);
    let (engine, cookie) = first_visit(store.clone()).await;
    let key = SessionKey::parse(cookie.split_once('=').unwrap().1).unwrap();
    let mut raw = raw_standalone().await;
    let name = django_name(&prefix, 1, &key);
    let value = raw_get(&mut raw, &name).await.expect("stored");
    let data = sessionkit_django::pickle::redis_value_decode(&value).unwrap();
    assert_eq!(data.get("count"), Some(Value::Int(1)));
    let ttl = raw_ttl(&mut raw, &name).await;
    assert!((59..=60).contains(&ttl), "{ttl}");
    let req = engine.begin(Some(&cookie));
    let session = req.load().await.unwrap();
    assert_eq!(session.get::<i32>("count").unwrap(), Some(1));
    session.flush();
    req.finish(200).await;
    assert_eq!(raw_ttl(&mut raw, &name).await, -2, "logout left the key");
}

/// Descriptions and errors never carry credentials.
#[tokio::test]
async fn no_credentials_in_descriptions() {
    let Some(store) = cache_store().await else {
        return;
    };
    let d = store.describe();
    assert!(
        d.starts_with("redis://") && d.contains("django cache"),
        "{d}"
    );
    let url = crate::common::redis_url();
    if let Some(rest) = url.strip_prefix("redis://") {
        let with_password = format!("redis://someone:hunter2secret@{rest}");
        match DjangoCacheStore::connect(&with_password).await {
            Ok(s) => assert!(!s.describe().contains("hunter2secret")),
            Err(e) => assert!(!e.report().contains("hunter2secret"), "{}", e.report()),
        }
    }
}
