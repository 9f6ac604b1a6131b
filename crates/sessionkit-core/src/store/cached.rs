//! [`CachedStore`]: any store as a write-through cache in front of any store (Django's
//! `cached_db`).
//!
//! Reads try the cache first and fill it on a miss; every write goes to the durable store
//! first, then to the cache. The durable store stays the authority for compare-and-set:
//! the cache keeps the durable store's token beside the record, and a conflicting save
//! drops the cache entry so the engine's reload reads the truth.
//!
//! **When an in-process cache is unsafe.** A [`LocalCache`] lives in one process. With
//! several nodes, a session revoked or logged out on node A is still served from node B's
//! cache until B's entry expires — at most [`LocalCache::with_max_age`] (default 5 s).
//! Use a `LocalCache` for one node, or accept that window; use a shared cache (Redis) for
//! many nodes, where an invalidation reaches everyone.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;

use super::{
    CreateOutcome, DynLeaseStore, DynSessionListing, DynUserIndex, Lookup, Record, SaveOutcome,
    SessionInfo, SessionStore, StoreError, Token, UserIndex,
};
use crate::key::SessionKey;

/// A cache for [`CachedStore`]. Read failures are misses; the rest is reported.
pub trait SessionCache: Send + Sync + 'static {
    /// The cached record and the durable store's token, if present and live at `now`.
    fn get(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<(Record, Token)>, StoreError>> + Send;

    /// Caches a record with the durable store's token.
    fn put(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Drops the entry.
    fn invalidate(&self, key: &SessionKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A short description for logs.
    fn describe(&self) -> String;
}

/// A bounded in-process cache: at most `capacity` sessions, each kept at most `max_age`
/// (and never past its own expiry). When full, the least recently used entries go first.
pub struct LocalCache {
    shards: Box<[Mutex<HashMap<SessionKey, Entry>>]>,
    per_shard: usize,
    max_age: Duration,
    tick: AtomicU64,
}

struct Entry {
    record: Record,
    token: Token,
    valid_until: OffsetDateTime,
    used: u64,
}

const SHARDS: usize = 32;

impl fmt::Debug for LocalCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalCache")
            .field("capacity", &(self.per_shard * SHARDS))
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl LocalCache {
    /// A cache of at most `capacity` sessions (rounded up to a multiple of 32), each kept
    /// at most 5 seconds.
    pub fn new(capacity: usize) -> LocalCache {
        LocalCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            max_age: Duration::from_secs(5),
            tick: AtomicU64::new(0),
        }
    }

    /// Keeps entries at most this long: the window during which another node's revocation
    /// is not seen here.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> LocalCache {
        self.max_age = max_age;
        self
    }

    fn shard(&self, key: &SessionKey) -> &Mutex<HashMap<SessionKey, Entry>> {
        let b = key.as_bytes();
        &self.shards[(usize::from(b[0]) * 7 + usize::from(b[b.len() - 1])) % SHARDS]
    }

    /// Number of cached entries (including stale ones not yet evicted).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SessionCache for LocalCache {
    async fn get(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<Option<(Record, Token)>, StoreError> {
        let mut map = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(key) {
            Some(e) if e.valid_until > now => {
                e.used = self.tick.fetch_add(1, Ordering::Relaxed);
                Ok(Some((e.record.clone(), e.token.clone())))
            }
            Some(_) => {
                map.remove(key);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn put(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let valid_until = record.expires_at.min(now + self.max_age);
        let mut map = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.per_shard && !map.contains_key(key) {
            map.retain(|_, e| e.valid_until > now);
            while map.len() >= self.per_shard {
                let Some(oldest) = map.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k) else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        map.insert(
            *key,
            Entry {
                record: record.clone(),
                token: token.clone(),
                valid_until,
                used: self.tick.fetch_add(1, Ordering::Relaxed),
            },
        );
        Ok(())
    }

    async fn invalidate(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.shard(key)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        Ok(())
    }

    fn describe(&self) -> String {
        "local".to_owned()
    }
}

/// A write-through cache `C` in front of a durable store `S`. See the [module docs](self).
///
/// ```
/// use sessionkit_core::MemoryStore;
/// use sessionkit_core::store::{CachedStore, LocalCache};
///
/// let store = CachedStore::new(LocalCache::new(10_000), MemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug)]
pub struct CachedStore<C, S> {
    cache: C,
    store: S,
}

impl<C: SessionCache, S: SessionStore> CachedStore<C, S> {
    /// `cache` in front of `store`.
    pub fn new(cache: C, store: S) -> CachedStore<C, S> {
        CachedStore { cache, store }
    }

    /// The cache.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// The durable store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Drops a cache entry; a failure is reported, because a stale entry in a shared cache
    /// would keep serving a session that was just deleted.
    async fn drop_entry(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.cache.invalidate(key).await.inspect_err(|e| {
            tracing::error!(key = %key.fingerprint(), cache = %self.cache.describe(), error = %e.report(), "cache invalidation failed");
        })
    }

    /// Caches after a durable write. Like Django's `cached_db`, a cache failure does not
    /// fail the request (the write is durable); the entry is dropped instead so no stale
    /// copy stays, and if even that fails it is logged as an error.
    async fn refresh(&self, key: &SessionKey, record: &Record, token: &Token, now: OffsetDateTime) {
        if let Err(e) = self.cache.put(key, record, token, now).await {
            tracing::error!(cache = %self.cache.describe(), error = %e.report(), "error saving to cache");
            let _ = self.drop_entry(key).await;
        }
    }
}

impl<C: SessionCache, S: SessionStore> SessionStore for CachedStore<C, S> {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        match self.cache.get(key, now).await {
            Ok(Some((record, token))) if record.expires_at > now => {
                return Ok(Lookup::Found { record, token });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(cache = %self.cache.describe(), error = %e.report(), "cache read failed; reading the store");
            }
        }
        let found = self.store.load(key, now).await?;
        if let Lookup::Found { record, token } = &found {
            self.refresh(key, record, token, now).await;
        }
        Ok(found)
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let out = self.store.create(key, record, now).await?;
        if let CreateOutcome::Created(token) = &out {
            self.refresh(key, record, token, now).await;
        }
        Ok(out)
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let out = self.store.save(key, record, token, now).await?;
        match &out {
            SaveOutcome::Saved(t) => self.refresh(key, record, t, now).await,
            // The cached copy is stale: drop it so the engine's reload reads the store.
            SaveOutcome::Conflict | SaveOutcome::Missing => self.drop_entry(key).await?,
        }
        Ok(out)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.store.delete(key).await?;
        self.drop_entry(key).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let touched = self.store.touch(key, expires_at, now).await?;
        self.drop_entry(key).await?;
        Ok(touched)
    }

    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.store.clear_expired_with_progress(now, progress).await
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.store.retire(key, until).await?;
        self.drop_entry(key).await
    }

    fn describe(&self) -> String {
        format!(
            "cached({})+{}",
            self.cache.describe(),
            self.store.describe()
        )
    }

    fn listing(&self) -> Option<&dyn DynSessionListing> {
        self.store.listing()
    }

    fn user_index(&self) -> Option<&dyn DynUserIndex> {
        self.store.user_index().map(|_| self as &dyn DynUserIndex)
    }

    fn leases(&self) -> Option<&dyn DynLeaseStore> {
        self.store.leases()
    }
    fn python_values(&self) -> bool {
        self.store.python_values()
    }
}

impl<C: SessionCache, S: SessionStore> UserIndex for CachedStore<C, S> {
    async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        match self.store.user_index() {
            Some(index) => index.sessions_of_boxed(user_id, now).await,
            None => Ok(Vec::new()),
        }
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let Some(index) = self.store.user_index() else {
            return Ok(0);
        };
        // Every session of the user, expired ones included, so no cached copy survives.
        let listed = index
            .sessions_of_boxed(user_id, OffsetDateTime::UNIX_EPOCH)
            .await?;
        let n = index.revoke_user_boxed(user_id, keep).await?;
        for info in listed.iter().filter(|i| Some(&i.key) != keep) {
            self.drop_entry(&info.key).await?;
        }
        Ok(n)
    }
}
