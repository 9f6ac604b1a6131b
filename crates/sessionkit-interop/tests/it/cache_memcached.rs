//! Django's `cache` engine on memcached: sessions written by Django's `PyMemcacheCache` on
//! one side and by [`DjangoMemcachedStore`] on the other, on a pool of the two test servers
//! (`SESSIONKIT_TEST_MEMCACHED_URL` and `SESSIONKIT_TEST_MEMCACHED_URL_2`), so that both
//! sides must hash every key to the same server.
//!
//! Each test gets a cache `KEY_PREFIX` of its own; memcached cannot enumerate keys, so a
//! test's sessions expire by their TTL. Django's auth tables live in a temp SQLite file.

use std::sync::Arc;

use sessionkit_core::{Engine, Expiry, SessionKey, Value};
use sessionkit_django::Secrets;
use sessionkit_django::pickle::pymemcache_decode;
use sessionkit_memcached::DjangoMemcachedStore;
use tempfile::TempDir;

use crate::cache::rust;
use crate::db::namespace;
use crate::django::{Django, text};
use crate::scenarios::{Pair, config};

/// `host:port` of each test server.
pub(crate) fn servers() -> Vec<String> {
    [
        (
            "SESSIONKIT_TEST_MEMCACHED_URL",
            "memcached://127.0.0.1:11211",
        ),
        (
            "SESSIONKIT_TEST_MEMCACHED_URL_2",
            "memcached://127.0.0.1:11212",
        ),
    ]
    .iter()
    .map(|(var, default)| {
        sessionkit_testkit::service_url(var, default)
            .trim_start_matches("memcached://")
            .trim_end_matches('/')
            .to_owned()
    })
    .collect()
}

/// Django and the store on one memcached namespace.
pub(crate) struct Fixture {
    pub(crate) pair: Pair,
    store: DjangoMemcachedStore,
    prefix: String,
}

pub(crate) async fn fixture() -> Option<Fixture> {
    let django = Django::new("cache")?;
    let servers = servers();
    let prefix = namespace();
    let store = sessionkit_testkit::require_store(
        "memcached",
        DjangoMemcachedStore::builder(&format!("memcached://{}", servers.join(",")))
            .with_key_prefix(&prefix)
            .connect()
            .await,
    )?;
    let dir = tempfile::tempdir().expect("temp dir");
    let django = django
        .with("SK_MEMCACHED_LOCATION", &servers.join(","))
        .with("SK_CACHE_KEY_PREFIX", &prefix)
        .with(
            "SK_SQLITE_PATH",
            dir.path()
                .join("auth.sqlite3")
                .to_str()
                .expect("UTF-8 temp path"),
        );
    django.call(&["migrate"]);
    let shared = store.clone();
    let dir: Arc<TempDir> = Arc::new(dir);
    // The cache engine signs nothing: the secrets make no difference.
    let make = Arc::new(move |_: &Secrets| {
        let _ = &dir;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_allowlisted_python_type_both_ways() {
    let Some(f) = fixture().await else { return };
    crate::cache_python::every_allowlisted_type(&f.pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_outside_the_allowlist_stays_intact() {
    let Some(f) = fixture().await else { return };
    crate::cache_python::an_object_outside_the_allowlist(&f.pair).await;
}

fn raw_cache(django: &Django, key: &str) -> sessionkit_core::value::Map {
    let raw = django.call(&["raw", "--key", key]);
    match raw.get("cache") {
        Some(Value::Map(cache)) => cache.clone(),
        _ => panic!("{raw:?}"),
    }
}

fn int(map: &sessionkit_core::value::Map, field: &str) -> i64 {
    match map.get(field) {
        Some(Value::Int(i)) => *i,
        other => panic!("{field}: {other:?}"),
    }
}

/// What Rust writes is where Django looks — the same key, on the server pymemcache's
/// `HashClient` picks — with pymemcache's pickle flag and Django's TTL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_djangos_key_server_flags_and_ttl() {
    let Some(f) = fixture().await else { return };
    let engine = (f.pair.make)(&Secrets::new(crate::django::SECRET));
    let mut servers_seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let key = rust(&engine, None, |s| s.insert("count", 1).unwrap())
            .await
            .expect("a new session");
        let session_key = SessionKey::parse(&key).unwrap();
        let cache = raw_cache(&f.pair.django, &key);
        assert_eq!(
            text(&cache, "key"),
            format!("{}:1:django.contrib.sessions.cache{key}", f.prefix)
        );
        assert_eq!(text(&cache, "key"), f.store.item_key(&session_key));
        assert_eq!(text(&cache, "server"), f.store.server_of(&session_key));
        servers_seen.insert(text(&cache, "server"));
        assert_eq!(int(&cache, "flags"), 1, "pymemcache's FLAG_PICKLE");
        let ttl = int(&cache, "ttl");
        assert!((1_209_590..=1_209_600).contains(&ttl), "{ttl}");
        let hex = text(&cache, "value_hex");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let data = pymemcache_decode(&bytes, 1).expect("Django's pickle");
        assert_eq!(data.get("count"), Some(Value::Int(1)));
    }
    assert_eq!(servers_seen.len(), 2, "keys spread over both servers");

    // set_expiry(600) on the Rust side: TTL 600, as Django's own save would set it.
    let key = rust(&engine, None, |s| s.set_expiry(Expiry::Seconds(600)))
        .await
        .expect("a new session");
    let ttl = int(&raw_cache(&f.pair.django, &key), "ttl");
    assert!((590..=600).contains(&ttl), "{ttl}");
    let r = f.pair.django.call(&["read", "--key", &key]);
    assert_eq!(r.get("expiry_age"), Some(&Value::Int(600)), "{r:?}");
}

/// Sessions Django writes land on the server the store reads them from, for every key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_writes_are_found_on_the_hashed_server() {
    let Some(f) = fixture().await else { return };
    let engine = (f.pair.make)(&Secrets::new(crate::django::SECRET));
    for n in 0..12 {
        let key = text(
            &f.pair
                .django
                .call(&["create", "--data", &format!(r#"{{"n": {n}}}"#)]),
            "key",
        );
        let cache = raw_cache(&f.pair.django, &key);
        let session_key = SessionKey::parse(&key).unwrap();
        assert_eq!(text(&cache, "server"), f.store.server_of(&session_key));
        let mut seen = None;
        rust(&engine, Some(&key), |s| seen = s.get::<i64>("n").unwrap()).await;
        assert_eq!(seen, Some(n));
    }
}
