//! [`DjangoCachedDbStore`]: Django's `cached_db` engine, a database store with Django's
//! cache in Redis kept in step.

use std::fmt;

use sessionkit_core::{Data, SessionKey, SessionStore, StoreError};
use sessionkit_django::cached_db::{CachedDb, DjangoCache, Entry};
use sessionkit_django::keys::CacheEngine;
use sessionkit_django::pickle::{redis_value_decode, redis_value_encode};

use super::side::{CacheSide, Fetched};
use crate::scan::Scanner;

/// Django's `cached_db` session engine (`django.contrib.sessions.backends.cached_db`): a
/// store `S` of Django's `db` layout (the `django_session` table, e.g.
/// `sessionkit_sql::django::DjangoPostgresStore`) plus Django's cache of it in Redis,
/// `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cached_db<session key>` holding the
/// pickled dict with a TTL of the expiry age (see the [module docs](super)).
///
/// `S` is any [`SessionStore`]; for Django to share the sessions it must be one that
/// stores Django's `db` layout, signed with Django's secrets.
///
/// The rules — the cache read first, saves checked against the row, every write keeping
/// Django's cache in step, what a cache failure does — are Django's `cached_db` engine's,
/// written once for every cache in [`sessionkit_django::cached_db`]; this store is their
/// Redis side. On Redis, `revoke_user` and `clear_expired` also scan the cache
/// (`SCAN` of the namespace) and delete the user's entries / the entries out of step with
/// their rows.
///
/// Listing, the per-user index and leases are `S`'s.
///
/// ```no_run
/// # async fn run<S: sessionkit_core::SessionStore>(django_db_layout_store: S) -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_core::{Config, Engine};
/// use sessionkit_redis::DjangoCachedDbStore;
///
/// // `django_db_layout_store`: e.g. sessionkit_sql::django::DjangoPostgresStore.
/// let store = DjangoCachedDbStore::connect(django_db_layout_store, "redis://127.0.0.1:6379/0")
///     .await?
///     .with_key_prefix("shop");
/// let engine = Engine::new(store, Config::default());
/// # let _ = engine;
/// # Ok(())
/// # }
/// ```
pub struct DjangoCachedDbStore<S> {
    rules: CachedDb<CacheSide, S>,
}

impl<S> Clone for DjangoCachedDbStore<S> {
    fn clone(&self) -> Self {
        DjangoCachedDbStore {
            rules: self.rules.clone(),
        }
    }
}

impl<S: SessionStore> fmt::Debug for DjangoCachedDbStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache = self.rules.cache();
        f.debug_struct("DjangoCachedDbStore")
            .field("db", &self.rules.db().describe())
            .field("cache", &cache.description())
            .field("key_prefix", &cache.key_prefix())
            .field("version", &cache.version())
            .finish()
    }
}

impl<S: SessionStore> DjangoCachedDbStore<S> {
    /// `db` with Django's cache on a standalone server, the `LOCATION` of Django's cache
    /// (`redis://[[user]:password@]host[:port][/db]`); Django's defaults for `KEY_PREFIX`
    /// (`""`) and `VERSION` (1). Errors as [`RedisStore::connect`](crate::RedisStore::connect).
    pub async fn connect(db: S, url: &str) -> Result<DjangoCachedDbStore<S>, StoreError> {
        Ok(DjangoCachedDbStore {
            rules: CachedDb::new(db, CacheSide::connect(url, CacheEngine::CachedDb).await?),
        })
    }

    /// `db` with Django's cache on a Redis Cluster, as
    /// [`RedisStore::connect_cluster`](crate::RedisStore::connect_cluster).
    pub async fn connect_cluster(
        db: S,
        seeds: &[&str],
    ) -> Result<DjangoCachedDbStore<S>, StoreError> {
        Ok(DjangoCachedDbStore {
            rules: CachedDb::new(
                db,
                CacheSide::connect_cluster(seeds, CacheEngine::CachedDb).await?,
            ),
        })
    }

    /// The cache's `KEY_PREFIX` (default `""`).
    #[must_use]
    pub fn with_key_prefix(mut self, key_prefix: impl Into<String>) -> DjangoCachedDbStore<S> {
        let cache = self.rules.cache_mut();
        let version = cache.version();
        cache.set_namespace(key_prefix.into(), version);
        self
    }

    /// The cache's `VERSION` (default 1).
    #[must_use]
    pub fn with_version(mut self, version: i64) -> DjangoCachedDbStore<S> {
        let cache = self.rules.cache_mut();
        let prefix = cache.key_prefix().to_owned();
        cache.set_namespace(prefix, version);
        self
    }

    /// The same cache (connection and namespace) in front of another database store, e.g.
    /// the same database with other secrets.
    pub fn with_db<T: SessionStore>(&self, db: T) -> DjangoCachedDbStore<T> {
        DjangoCachedDbStore {
            rules: self.rules.with_db(db),
        }
    }

    /// The database store.
    pub fn db(&self) -> &S {
        self.rules.db()
    }

    /// The Redis key of a session's cache entry, as Django names it.
    pub fn redis_key(&self, key: &SessionKey) -> String {
        self.rules.cache().redis_key(key)
    }
}

/// Redis as the cache of Django's `cached_db`: the entry's handle is its bytes, deleted
/// by a compare-and-delete script; the namespace is enumerated with `SCAN`.
impl DjangoCache for CacheSide {
    type Handle = Vec<u8>;
    type Scan<'a> = Scanner<'a>;

    async fn get(&self, key: &SessionKey) -> Result<Option<Entry<Vec<u8>>>, StoreError> {
        Ok(match CacheSide::get(self, key).await? {
            Fetched::Value(s) => Some(Entry {
                data: redis_value_decode(&s.value).ok(),
                ttl_ms: s.pttl,
                handle: s.value,
            }),
            Fetched::Absent | Fetched::Foreign => None,
        })
    }

    async fn set(&self, key: &SessionKey, data: &Data, ttl_ms: i64) -> Result<(), StoreError> {
        CacheSide::set(self, key, &redis_value_encode(data), ttl_ms).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.del(key).await
    }

    async fn delete_if(&self, key: &SessionKey, handle: &Vec<u8>) -> Result<bool, StoreError> {
        CacheSide::delete_if(self, key, handle).await
    }

    fn can_enumerate(&self) -> bool {
        true
    }

    async fn scan(&self) -> Result<Option<Scanner<'_>>, StoreError> {
        self.scanner().await.map(Some)
    }

    async fn next_keys<'a>(
        &'a self,
        scan: &mut Scanner<'a>,
    ) -> Result<Option<Vec<SessionKey>>, StoreError> {
        CacheSide::next_keys(self, scan).await
    }

    fn description(&self) -> String {
        CacheSide::description(self).to_owned()
    }
}
sessionkit_django::cached_db_store!(DjangoCachedDbStore, rules, |this| {
    let cache = this.rules.cache();
    format!(
        "{} + django cached_db cache on {} (KEY_PREFIX {:?}, VERSION {})",
        this.rules.db().describe(),
        cache.description(),
        cache.key_prefix(),
        cache.version()
    )
});
