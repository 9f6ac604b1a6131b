//! Django's `cached_db` engine with its cache on memcached: Django's `django_session`
//! table in a temp SQLite file (made by Django's `migrate`), Django's cache of it on
//! `PyMemcacheCache` over the two test servers, under a `KEY_PREFIX` of the test's own; on
//! the Rust side [`DjangoMemcachedCachedDbStore`] over [`DjangoSqliteStore`]. Memcached
//! cannot enumerate keys: a test's entries end by their TTL.
//!
//! Besides the shared scenarios: [`crate::caches`]'s `cached_db` tests — DJANGO.md hazard 3
//! (Django reads its cache before the table) and "log out everywhere", which on memcached
//! deletes the entry of each session the table lists for the user — and where the entries
//! land.

use sessionkit_memcached::DjangoMemcachedCachedDbStore;
use sessionkit_sql::django::DjangoSqliteStore;

use crate::caches::cached_db_fixture;

type Store = DjangoMemcachedCachedDbStore<DjangoSqliteStore>;

crate::caches::cached_db_tests!(Store);

/// What Rust writes is where Django looks: Django's key for `cached_db`, on the server
/// pymemcache's `HashClient` picks, with pymemcache's pickle flag and a TTL of the expiry
/// age (less memcached's clock tick); and Django reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_djangos_key_server_flags_and_ttl() {
    let Some(f) = cached_db_fixture::<Store>().await else {
        return;
    };
    crate::caches::rust_writes_on_the_hashed_server(&f).await;
}
