//! Django's `cached_db` engine: Django's `django_session` table in a temp SQLite file
//! (made by Django's `migrate`), Django's cache of it in Redis under a `KEY_PREFIX` of the
//! test's own; on the Rust side [`DjangoCachedDbStore`] over [`DjangoSqliteStore`]. The
//! driver's `teardown` deletes the prefix's keys when the test ends.
//!
//! Besides the shared scenarios: DJANGO.md hazard 3 — Django reads its cache before the
//! table, so a Rust write or logout that touched only the table would go unseen. Those
//! tests are [`crate::caches`]'s, run here over Redis and in `cached_db_memcached` over
//! memcached.

use sessionkit_core::value::Map;
use sessionkit_core::{SessionKey, SessionStore, Value};
use sessionkit_redis::DjangoCachedDbStore;
use sessionkit_sql::django::DjangoSqliteStore;
use time::OffsetDateTime;

use crate::caches::{cached_db_fixture, django_read};
use crate::django::text;

type Store = DjangoCachedDbStore<DjangoSqliteStore>;

crate::caches::cached_db_tests!(Store);

/// The shared `removed_secrets_read_nothing`, as Django's `cached_db` has it: the cache is
/// not signed, so a session Django wrote under a secret since removed is still read from
/// the cache — by Django and by Rust alike; only the row carries the signature, and once
/// the entry is gone neither side reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_secrets_read_only_the_unsigned_cache() {
    let Some(f) = cached_db_fixture::<Store>().await else {
        return;
    };
    let django = &f.pair.django;
    let old = django.clone().with("SK_SECRET_KEY", "the-old-secret");
    let key = text(&old.call(&["create", "--data", r#"{"n": 9}"#]), "key");
    let n = |m: Option<Map>| m.and_then(|m| m.get("n").cloned());
    assert_eq!(n(django_read(django, &key)), Some(Value::Int(9)));
    let engine = f.pair.engine();
    assert_eq!(
        n(f.pair.rust_read(&engine, &key).await),
        Some(Value::Int(9))
    );
    // A touch drops the entry (Django refills it from the row on its next read).
    let session_key = SessionKey::parse(&key).unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(
        f.store
            .touch(&session_key, now + time::Duration::hours(1), now)
            .await
            .unwrap()
    );
    assert_eq!(f.pair.rust_read(&engine, &key).await, None);
}
