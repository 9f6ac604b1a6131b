//! [`DjangoMemcachedCachedDbStore`]: Django's `cached_db` engine with Django's cache on
//! memcached (`PyMemcacheCache`).

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;

use sessionkit_core::{Data, SessionKey, SessionStore, StoreError};
use sessionkit_django::cached_db::{CachedDb, DjangoCache, Entry};
use sessionkit_django::pickle::pymemcache_decode;

use crate::DjangoMemcachedStore;
use crate::django::{Namespace, write};

/// Django's `cached_db` session engine (`django.contrib.sessions.backends.cached_db`)
/// with Django's cache on `PyMemcacheCache`: a store `S` of Django's `db` layout (the
/// `django_session` table, e.g. `sessionkit_sql::django::DjangoPostgresStore`) plus
/// Django's cache of it in memcached.
///
/// | memcached key | value | client flags | TTL |
/// | --- | --- | --- | --- |
/// | `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cached_db<session key>` | the session dict, pickled (protocol 5) | 1 (pymemcache's `FLAG_PICKLE`) | the expiry age in whole seconds, rounded down, minus one; over 30 days as a Unix time |
///
/// The servers, `KEY_PREFIX` and `VERSION` are those of Django's `CACHES` (see
/// [`DjangoMemcachedStore`] for the hashing of keys to servers and the key rules); the TTL
/// is one second short of the row's expiry because memcached's clock ticks once a second,
/// so that the entry never outlives the row (the `cached_db` rules depend on it).
///
/// The rules — the cache read first, saves checked against the row, every write keeping
/// Django's cache in step, what a cache failure does — are Django's `cached_db` engine's,
/// written once for every cache in [`sessionkit_django::cached_db`]; this store is their
/// memcached side. Memcached cannot enumerate its keys, so:
///
/// * `revoke_user` deletes the entry of each session the database lists for the user
///   (its per-user index, read just before revoking); a session created for the user
///   while the revocation runs may keep its entry until its TTL or its next write;
/// * `clear_expired` is the database's; the cache's entries end at their TTLs, which
///   never outlast the rows.
///
/// Compare-and-delete of a stale entry is memcached's `md ... C<cas>` on the CAS value
/// read with it. Listing, the per-user index and leases are `S`'s.
///
/// ```no_run
/// # async fn run<S: sessionkit_core::SessionStore>(django_db_layout_store: S) -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_core::{Config, Engine};
/// use sessionkit_memcached::DjangoMemcachedStore;
///
/// // `django_db_layout_store`: e.g. sessionkit_sql::django::DjangoPostgresStore.
/// let store = DjangoMemcachedStore::builder("memcached://10.0.0.1:11211,10.0.0.2:11211")
///     .with_key_prefix("shop")
///     .connect_cached_db(django_db_layout_store)
///     .await?;
/// let engine = Engine::new(store, Config::default());
/// # let _ = engine;
/// # Ok(())
/// # }
/// ```
pub struct DjangoMemcachedCachedDbStore<S> {
    rules: CachedDb<Side, S>,
}

/// Memcached as the cache of Django's `cached_db`.
#[derive(Clone)]
pub(crate) struct Side(Namespace);

impl<S> Clone for DjangoMemcachedCachedDbStore<S> {
    fn clone(&self) -> Self {
        DjangoMemcachedCachedDbStore {
            rules: self.rules.clone(),
        }
    }
}

impl<S: SessionStore> fmt::Debug for DjangoMemcachedCachedDbStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = &self.rules.cache().0;
        f.debug_struct("DjangoMemcachedCachedDbStore")
            .field("db", &self.rules.db().describe())
            .field("servers", &ns.pool.description())
            .field("key_prefix", &ns.key_prefix)
            .field("version", &ns.version)
            .finish()
    }
}

impl<S: SessionStore> DjangoMemcachedCachedDbStore<S> {
    pub(crate) fn new(db: S, ns: Namespace) -> DjangoMemcachedCachedDbStore<S> {
        DjangoMemcachedCachedDbStore {
            rules: CachedDb::new(db, Side(ns)),
        }
    }

    /// `db` with Django's cache on the servers of `url` (`memcached://host:port,...`,
    /// Django's `LOCATION`) and Django's defaults (`KEY_PREFIX` `""`, `VERSION` 1); for
    /// other settings, [`DjangoMemcachedStore::builder`] and
    /// [`connect_cached_db`](crate::DjangoMemcachedBuilder::connect_cached_db).
    pub async fn connect(db: S, url: &str) -> Result<DjangoMemcachedCachedDbStore<S>, StoreError> {
        DjangoMemcachedStore::builder(url)
            .connect_cached_db(db)
            .await
    }

    /// The same cache (servers and namespace) in front of another database store, e.g.
    /// the same database with other secrets.
    pub fn with_db<T: SessionStore>(&self, db: T) -> DjangoMemcachedCachedDbStore<T> {
        DjangoMemcachedCachedDbStore {
            rules: self.rules.with_db(db),
        }
    }

    /// The database store.
    pub fn db(&self) -> &S {
        self.rules.db()
    }

    /// The memcached key of a session's cache entry, as Django names it.
    pub fn item_key(&self, key: &SessionKey) -> String {
        self.rules.cache().0.item_key(key)
    }

    /// The server (`host:port`, as pymemcache names it) that holds a session's entry.
    pub fn server_of(&self, key: &SessionKey) -> &str {
        self.rules.cache().0.server_of(key)
    }
}

impl DjangoCache for Side {
    /// The CAS value read with the entry.
    type Handle = u64;
    /// Memcached cannot enumerate its keys.
    type Scan<'a> = Infallible;

    async fn get(&self, key: &SessionKey) -> Result<Option<Entry<u64>>, StoreError> {
        let Some(item) = self.0.pool.get_item(&self.0.item_key(key)).await? else {
            return Ok(None);
        };
        Ok(Some(Entry {
            data: pymemcache_decode(&item.value, item.flags).ok(),
            ttl_ms: if item.ttl > 0 {
                item.ttl.saturating_mul(1000)
            } else {
                -1
            },
            handle: item.cas,
        }))
    }

    async fn set(&self, key: &SessionKey, data: &Data, ttl_ms: i64) -> Result<(), StoreError> {
        // Whole seconds rounded down, less one for memcached's clock tick: never past
        // the row's expiry.
        let secs = ttl_ms / 1000 - 1;
        if secs <= 0 {
            return self.delete(key).await;
        }
        let item = self.0.item_key(key);
        let (value, flags) = self.0.value(&item, data)?;
        self.0
            .pool
            .set_item(&item, &write(Cow::Owned(value), flags, secs))
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.0.pool.delete_item(&self.0.item_key(key)).await
    }

    async fn delete_if(&self, key: &SessionKey, cas: &u64) -> Result<bool, StoreError> {
        self.0
            .pool
            .delete_item_if(&self.0.item_key(key), *cas)
            .await
    }

    fn can_enumerate(&self) -> bool {
        false
    }

    async fn scan(&self) -> Result<Option<Infallible>, StoreError> {
        Ok(None)
    }

    async fn next_keys(
        &self,
        scan: &mut Infallible,
    ) -> Result<Option<Vec<SessionKey>>, StoreError> {
        match *scan {}
    }

    fn description(&self) -> String {
        self.0.pool.description().to_owned()
    }
}

sessionkit_django::cached_db_store!(DjangoMemcachedCachedDbStore, rules, |this| {
    let ns = &this.rules.cache().0;
    format!(
        "{} + django cached_db cache on {} (KEY_PREFIX {:?}, VERSION {})",
        this.rules.db().describe(),
        ns.pool.description(),
        ns.key_prefix,
        ns.version
    )
});
