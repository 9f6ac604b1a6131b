//! Django's `cache` engine: sessions only in Redis, written by Django's `RedisCache` on one
//! side and by [`DjangoCacheStore`] on the other (`SESSIONKIT_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`).
//!
//! Each test gets a cache `KEY_PREFIX` of its own (`SK_CACHE_KEY_PREFIX`, the store's
//! `with_key_prefix`); the driver's `teardown` deletes its keys when the test ends. Keys a
//! killed run leaves behind expire by their TTL. Django's auth tables live in a temp SQLite
//! file.
//!
//! The shared `fallback_keys` scenario does not apply: the cache engine signs nothing (the
//! value is the pickled dict), so a session written under another `SECRET_KEY` is read
//! as is — checked by [`secrets_play_no_part`] instead.

use std::sync::Arc;

use sessionkit_core::{Engine, Expiry, SessionKey, Value};
use sessionkit_django::Secrets;
use sessionkit_django::pickle::redis_value_decode;
use sessionkit_redis::DjangoCacheStore;
use tempfile::TempDir;

use crate::db::{Teardown, namespace};
use crate::django::{Django, text};
use crate::scenarios::{Pair, config};

fn redis_url() -> String {
    sessionkit_testkit::service_url("SESSIONKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// What must live as long as the pair, dropped in this order: the Redis keys (driver
/// `teardown`), then the directory of the auth database.
struct Guards {
    _teardown: Teardown,
    _dir: TempDir,
}

/// Django and the store on one Redis namespace.
pub(crate) struct Fixture {
    pub(crate) pair: Pair,
    store: DjangoCacheStore,
    prefix: String,
}

pub(crate) async fn fixture() -> Option<Fixture> {
    let django = Django::new("cache")?;
    let url = redis_url();
    let prefix = namespace();
    let store = sessionkit_testkit::require_store(
        "Redis",
        DjangoCacheStore::builder(&url)
            .with_key_prefix(&prefix)
            .connect()
            .await,
    )?;
    let dir = tempfile::tempdir().expect("temp dir");
    let django = django
        .with("SK_REDIS_URL", &url)
        .with("SK_CACHE_KEY_PREFIX", &prefix)
        .with(
            "SK_SQLITE_PATH",
            dir.path()
                .join("auth.sqlite3")
                .to_str()
                .expect("UTF-8 temp path"),
        );
    let guards = Guards {
        _teardown: Teardown(django.clone()),
        _dir: dir,
    };
    django.call(&["migrate"]);
    let shared = store.clone();
    // The cache engine signs nothing: the secrets make no difference.
    let make = Arc::new(move |_: &Secrets| {
        let _ = &guards;
        Engine::new(shared.clone(), config())
    });
    Some(Fixture {
        pair: Pair {
            django,
            make,
            client_side: false,
        },
        store,
        prefix,
    })
}

async fn pair() -> Option<Pair> {
    fixture().await.map(|f| f.pair)
}

crate::scenarios!(@each
    django_writes_rust_updates,
    rust_writes_django_updates,
    expiry_both_ways,
    login_and_password_change,
    cycle_both_ways
);

/// A Rust request: `f` runs on the loaded session; returns the cookie value set, if any.
pub(crate) async fn rust(
    engine: &Engine,
    key: Option<&str>,
    f: impl FnOnce(&sessionkit_core::Session),
) -> Option<String> {
    let cookie = key.map(|k| format!("sessionid={k}"));
    let req = engine.begin(cookie.as_deref());
    let session = req.load().await.expect("load");
    f(&session);
    let out = req.finish(200).await;
    assert!(out.failure.is_none(), "{:?}", out.failure);
    out.set_cookie
        .first()
        .filter(|c| !c.contains("Max-Age=0"))
        .and_then(|c| c.split(';').next())
        .and_then(|c| c.split_once('='))
        .map(|(_, v)| v.to_owned())
}

/// Sessions written by Django under another `SECRET_KEY` are read, and Django reads ours,
/// whatever secrets each side has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_play_no_part() {
    let Some(f) = fixture().await else { return };
    let old = f
        .pair
        .django
        .clone()
        .with("SK_SECRET_KEY", "the-old-secret");
    let key = text(&old.call(&["create", "--data", r#"{"n": 7}"#]), "key");
    let engine = (f.pair.make)(&Secrets::new("an-unrelated-secret"));
    let mut n = None;
    rust(&engine, Some(&key), |s| {
        n = s.get::<i64>("n").unwrap();
        s.insert("n", 8).unwrap();
    })
    .await;
    assert_eq!(n, Some(7));
    let r = f.pair.django.call(&["read", "--key", &key]);
    assert_eq!(r.get("exists"), Some(&Value::Bool(true)));
    let Some(Value::Map(data)) = r.get("data") else {
        panic!("{r:?}")
    };
    assert_eq!(data.get("n"), Some(&Value::Int(8)));
}

/// What Rust writes is where Django looks, with Django's TTL: the expiry age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_djangos_key_and_ttl() {
    let Some(f) = fixture().await else { return };
    let engine = (f.pair.make)(&Secrets::new(crate::django::SECRET));
    let key = rust(&engine, None, |s| s.insert("count", 1).unwrap())
        .await
        .expect("a new session");
    let raw = f.pair.django.call(&["raw", "--key", &key]);
    let Some(Value::Map(cache)) = raw.get("cache") else {
        panic!("{raw:?}")
    };
    let session_key = SessionKey::parse(&key).unwrap();
    assert_eq!(
        text(cache, "redis_key"),
        format!("{}:1:django.contrib.sessions.cache{key}", f.prefix)
    );
    assert_eq!(text(cache, "redis_key"), f.store.redis_key(&session_key));
    let ttl = match cache.get("ttl") {
        Some(Value::Int(t)) => *t,
        other => panic!("{other:?}"),
    };
    assert!((1_209_590..=1_209_600).contains(&ttl), "{ttl}");
    let bytes: Vec<u8> = (0..text(cache, "value_hex").len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text(cache, "value_hex")[i..i + 2], 16).unwrap())
        .collect();
    let data = redis_value_decode(&bytes).expect("Django's pickle");
    assert_eq!(data.get("count"), Some(Value::Int(1)));

    // set_expiry(600) on the Rust side: TTL 600, as Django's own save would set it.
    rust(&engine, Some(&key), |s| s.set_expiry(Expiry::Seconds(600))).await;
    let raw = f.pair.django.call(&["raw", "--key", &key]);
    let Some(Value::Map(cache)) = raw.get("cache") else {
        panic!("{raw:?}")
    };
    let Some(Value::Int(ttl)) = cache.get("ttl") else {
        panic!("{cache:?}")
    };
    assert!((590..=600).contains(ttl), "{ttl}");
    let r = f.pair.django.call(&["read", "--key", &key]);
    let Some(Value::Int(age)) = r.get("expiry_age") else {
        panic!("{r:?}")
    };
    assert_eq!(*age, 600);
}
