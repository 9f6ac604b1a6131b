//! Django's `cache` engine on memcached: sessions written by Django's `PyMemcacheCache` on
//! one side and by [`DjangoMemcachedStore`] on the other, on a pool of the two test servers
//! (`SESSIONKIT_TEST_MEMCACHED_URL` and `SESSIONKIT_TEST_MEMCACHED_URL_2`), so that both
//! sides must hash every key to the same server.
//!
//! Each test gets a cache `KEY_PREFIX` of its own; memcached cannot enumerate keys, so a
//! test's sessions expire by their TTL. Django's auth tables live in a temp SQLite file.
//! The fixture is [`crate::caches`]'s, shared with Redis.

use sessionkit_core::{Expiry, SessionKey, Value};
use sessionkit_django::Secrets;
use sessionkit_memcached::DjangoMemcachedStore;

use crate::cache::rust;
use crate::caches::{Cache, Fixture, cache_fixture, django_raw};
use crate::django::text;

/// Django and the store on one memcached namespace.
async fn fixture() -> Option<Fixture<DjangoMemcachedStore>> {
    cache_fixture().await
}

crate::caches::cache_tests!(DjangoMemcachedStore);

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

/// What Rust writes is where Django looks — the same key, on the server pymemcache's
/// `HashClient` picks — with pymemcache's pickle flag and Django's TTL; an expiry set in
/// Rust is Django's TTL and expiry age.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_djangos_key_server_flags_and_ttl() {
    let Some(f) = fixture().await else { return };
    crate::caches::rust_writes_on_the_hashed_server(&f).await;

    // set_expiry(600) on the Rust side: TTL 600, as Django's own save would set it.
    let engine = (f.pair.make)(&Secrets::new(crate::django::SECRET));
    let key = rust(&engine, None, |s| s.set_expiry(Expiry::Seconds(600)))
        .await
        .expect("a new session");
    let ttl = django_raw(&f.pair.django, &key, Cache::Memcached).ttl;
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
        let raw = django_raw(&f.pair.django, &key, Cache::Memcached);
        let session_key = SessionKey::parse(&key).unwrap();
        assert_eq!(raw.server.as_deref(), Some(f.store.server_of(&session_key)));
        let mut seen = None;
        rust(&engine, Some(&key), |s| seen = s.get::<i64>("n").unwrap()).await;
        assert_eq!(seen, Some(n));
    }
}
