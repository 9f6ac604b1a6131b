//! Django's `cache` engine: sessions only in Redis, written by Django's `RedisCache` on one
//! side and by [`DjangoCacheStore`] on the other (`SESSIONKIT_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`).
//!
//! Each test gets a cache `KEY_PREFIX` of its own (`SK_CACHE_KEY_PREFIX`, the store's
//! `with_key_prefix`); the driver's `teardown` deletes its keys when the test ends. Keys a
//! killed run leaves behind expire by their TTL. Django's auth tables live in a temp SQLite
//! file. The fixture is [`crate::caches`]'s, shared with memcached.
//!
//! The shared `fallback_keys` scenario does not apply: the cache engine signs nothing (the
//! value is the pickled dict), so a session written under another `SECRET_KEY` is read
//! as is — checked by [`secrets_play_no_part`] instead.

use sessionkit_core::{Engine, Expiry, SessionKey, Value};
use sessionkit_django::Secrets;
use sessionkit_redis::DjangoCacheStore;

use crate::caches::{Cache, Fixture, cache_fixture, django_raw};
use crate::django::text;

/// Django and the store on one Redis namespace.
pub(crate) async fn fixture() -> Option<Fixture<DjangoCacheStore>> {
    cache_fixture().await
}

crate::caches::cache_tests!(DjangoCacheStore);

/// A Rust request: `f` runs on the loaded session; returns the cookie value set, if any.
pub(crate) async fn rust(
    engine: &Engine,
    key: Option<&str>,
    f: impl FnOnce(&sessionkit_core::Session),
) -> Option<String> {
    crate::scenarios::request(engine, key, f).await.flatten()
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
    let raw = django_raw(&f.pair.django, &key, Cache::Redis);
    let session_key = SessionKey::parse(&key).unwrap();
    assert_eq!(
        raw.key,
        Some(format!("{}:1:django.contrib.sessions.cache{key}", f.prefix))
    );
    assert_eq!(raw.key, Some(f.store.redis_key(&session_key)));
    assert!((1_209_590..=1_209_600).contains(&raw.ttl), "{}", raw.ttl);
    assert_eq!(raw.value.unwrap().get("count"), Some(&Value::Int(1)));

    // set_expiry(600) on the Rust side: TTL 600, as Django's own save would set it.
    rust(&engine, Some(&key), |s| s.set_expiry(Expiry::Seconds(600))).await;
    let ttl = django_raw(&f.pair.django, &key, Cache::Redis).ttl;
    assert!((590..=600).contains(&ttl), "{ttl}");
    let r = f.pair.django.call(&["read", "--key", &key]);
    let Some(Value::Int(age)) = r.get("expiry_age") else {
        panic!("{r:?}")
    };
    assert_eq!(*age, 600);
}
