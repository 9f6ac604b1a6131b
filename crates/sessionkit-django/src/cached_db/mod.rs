//! The rules of Django's `cached_db` session engine
//! (`django.contrib.sessions.backends.cached_db`), written once for every cache
//! (feature `cached-db`): [`CachedDb`], a database store of Django's `db` layout with
//! Django's cache of it kept in step, over a [`DjangoCache`] — the cache side, which each
//! cache crate implements (`sessionkit-redis` for `RedisCache`, `sessionkit-memcached`
//! for `PyMemcacheCache`).
//!
//! [`CachedDb`] is not itself a store: its operations are those of
//! [`SessionStore`], and each cache crate's store
//! (`DjangoCachedDbStore`, `DjangoMemcachedCachedDbStore`) forwards to them, adding its
//! constructors, its description and its capabilities.
//!
//! # Reads from the cache, the database the authority
//!
//! * **`load` reads the cache first**, as Django's `cached_db` does
//!   (`test_exists_searches_cache_first`): a live entry is the session (its expiry the
//!   entry's TTL, which every writer sets to the expiry age), without a database read. A
//!   missing, expired or unreadable entry, or a cache that cannot be reached, falls back
//!   to the database row, and a row found there is put into the cache (Django does the
//!   same) with the read-back below, so that a fill racing a logout cannot keep the
//!   logged-out session in the cache.
//! * **A save is checked against the database.** The cache holds only the dict, not the
//!   row's compare-and-set token (the stored `session_data`), so the token handed out
//!   carries the dict that was read, whichever side it came from. A save reads the row:
//!   the row holds that same dict → the save is the database's compare-and-set on the
//!   row's token (a write landing in between still conflicts); the row holds another dict
//!   (the cache was stale: a writer that died between its database and cache writes) →
//!   the entry is deleted if it still holds what was read, and the save is a conflict,
//!   which the engine replays on the row; no row → the entry is deleted and the save finds
//!   the session gone. So a save never overwrites a change it did not see and a logout is
//!   never undone, whichever side was read. A read-only request costs one cache read and
//!   no database read; a request that writes reads the row once at its save (and once more
//!   at its load after a cache miss).
//! * **Every write keeps Django's cache in step**, because Django reads the cache first
//!   and would otherwise serve stale data for up to two weeks (DJANGO.md hazard 3):
//!
//!   | operation | after the database write succeeded |
//!   | --- | --- |
//!   | `create`, `save` | set the pickled dict with TTL = `expires_at - now` (rounded down; `<= 0`: delete), then read the row back: if it is gone or holds another write (a concurrent logout or save landed in between), delete |
//!   | `save` that finds no row | delete (whatever the cache holds is stale) |
//!   | `touch` | delete (Django refills it with the new expiry on its next read) |
//!   | `delete`, `retire` | delete |
//!   | `revoke_user` | a cache that can enumerate its keys (Redis): delete every entry of the user (a scan); one that cannot (memcached): delete the entry of each session the database listed for the user before revoking |
//!   | `clear_expired` | a cache that can enumerate its keys: entries whose row is not live at `now`, or differs from it, are deleted; one that cannot: nothing (its TTLs, never longer than the rows', evict them) |
//!
//!   Reading the row back after the set costs one primary-key read per write; it is what
//!   keeps a logout that lands between another request's database write and its cache
//!   write from surviving in Django's cache. Each write runs on a task of its own, so a
//!   request that is cancelled after its database write still brings the cache in step.
//! * **Cache failures.** A failed set after a successful database write is logged at
//!   ERROR (as Django logs `Error saving to cache`) and the entry deleted, so Django reads
//!   the row; the write itself succeeded and reports success. If that delete fails too,
//!   the log says that Django may read a stale copy until the TTL runs out. A failed
//!   delete after a `delete`, `retire` or `revoke_user` is an **error** returned to the
//!   caller: a revoked session must not silently survive in Django's cache.
//!
//! Django's own writers keep the order "database, then cache" without reading back, so a
//! Django request racing a Rust logout can still leave a stale entry; that window is
//! Django's and exists between two Django processes as well. On a cache that cannot
//! enumerate, a session created for a user while that user is being revoked may also keep
//! its entry (it was not on the list); its row is revoked, and the entry ends at its TTL or
//! at the session's next write.
//!
//! Listing, the per-user index's listing and leases are the database's.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionInfo, SessionKey,
    SessionStore, StoreError, StoreErrorKind, Token,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::pickle::{redis_value_decode, redis_value_encode};

/// How many cache entries a sweep works on at once.
const CONCURRENCY: usize = 16;

/// A session's entry in Django's cache, as read.
#[derive(Debug, Clone)]
pub struct Entry<H> {
    /// The session dict, or `None` when the value cannot be read (not a pickled dict,
    /// other client flags, garbage).
    pub data: Option<Data>,
    /// The remaining TTL in milliseconds; `<= 0` when the entry has none (or is about to
    /// go): such an entry is not trusted for an expiry.
    pub ttl_ms: i64,
    /// What identifies this very write of the entry for [`DjangoCache::delete_if`]: the
    /// stored bytes (Redis), the CAS value (memcached).
    pub handle: H,
}

/// The cache side of Django's `cached_db`: one Django cache namespace (`KEY_PREFIX`,
/// `VERSION`, the `django.contrib.sessions.cached_db` key prefix), holding each session's
/// dict pickled as Django's cache backend stores it.
pub trait DjangoCache: Send + Sync + 'static {
    /// What [`Entry::handle`] holds.
    type Handle: Send + Sync + 'static;
    /// A scan of the namespace's keys in progress (see [`scan`](DjangoCache::scan)).
    type Scan<'a>: Send
    where
        Self: 'a;

    /// The session's entry, if there is one holding a value (`None`: no entry, or a
    /// value that is not a session's).
    fn get(
        &self,
        key: &SessionKey,
    ) -> impl Future<Output = Result<Option<Entry<Self::Handle>>, StoreError>> + Send;

    /// Writes `data` as the session's entry with a TTL of `ttl_ms` milliseconds (`> 0`),
    /// rounded down to what the cache keeps, so that the entry never outlives the row.
    fn set(
        &self,
        key: &SessionKey,
        data: &Data,
        ttl_ms: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the session's entry (none: nothing to do).
    fn delete(&self, key: &SessionKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes the session's entry if it is still the one read with `handle` (`false`:
    /// it changed or went away meanwhile).
    fn delete_if(
        &self,
        key: &SessionKey,
        handle: &Self::Handle,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether [`scan`](DjangoCache::scan) enumerates the namespace (Redis) or finds
    /// nothing (memcached).
    fn can_enumerate(&self) -> bool;

    /// Starts a scan of the namespace's session keys (`None`: the cache cannot
    /// enumerate its keys).
    fn scan(&self) -> impl Future<Output = Result<Option<Self::Scan<'_>>, StoreError>> + Send;

    /// The session keys of the scan's next page (`None`: the scan is done).
    fn next_keys<'a>(
        &'a self,
        scan: &mut Self::Scan<'a>,
    ) -> impl Future<Output = Result<Option<Vec<SessionKey>>, StoreError>> + Send;

    /// The cache's servers, without credentials, for logs and messages.
    fn description(&self) -> String;
}

/// Django's `cached_db` engine: a store `S` of Django's `db` layout (the `django_session`
/// table) and Django's cache `C` of it, with the rules of the [module docs](self). Clones
/// share both.
pub struct CachedDb<C, S> {
    db: Arc<S>,
    cache: Arc<C>,
}

impl<C, S> Clone for CachedDb<C, S> {
    fn clone(&self) -> Self {
        CachedDb {
            db: Arc::clone(&self.db),
            cache: Arc::clone(&self.cache),
        }
    }
}

impl<C: DjangoCache, S: SessionStore> fmt::Debug for CachedDb<C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedDb")
            .field("db", &self.db.describe())
            .field("cache", &self.cache.description())
            .finish()
    }
}

impl<C: DjangoCache, S: SessionStore> CachedDb<C, S> {
    /// `db` with Django's cache `cache` in front.
    pub fn new(db: S, cache: C) -> CachedDb<C, S> {
        CachedDb {
            db: Arc::new(db),
            cache: Arc::new(cache),
        }
    }

    /// The same cache in front of another database store.
    pub fn with_db<T: SessionStore>(&self, db: T) -> CachedDb<C, T> {
        CachedDb {
            db: Arc::new(db),
            cache: Arc::clone(&self.cache),
        }
    }

    /// The database store.
    pub fn db(&self) -> &S {
        &self.db
    }

    /// The cache side.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// The cache side, to change (e.g. its namespace): a copy of its own once a clone or
    /// [`with_db`](CachedDb::with_db) shares it.
    pub fn cache_mut(&mut self) -> &mut C
    where
        C: Clone,
    {
        Arc::make_mut(&mut self.cache)
    }

    /// Runs `f` on a task of its own, so that a cancelled caller does not stop it between
    /// the database write and the cache write.
    async fn detached<T, F>(
        &self,
        what: &'static str,
        f: impl FnOnce(CachedDb<C, S>) -> F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        match tokio::spawn(f(self.clone())).await {
            Ok(result) => result,
            Err(e) => Err(StoreError::with_source(
                StoreErrorKind::Other,
                format!("the cached_db {what} task failed"),
                e,
            )),
        }
    }

    /// After a database write of `data` that produced `token`: the cache gets the dict,
    /// then the row is read back, and the entry is dropped unless the row still holds this
    /// write. Failures are logged, never returned: the database write succeeded.
    async fn publish(
        &self,
        key: &SessionKey,
        data: &Data,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        token: &Token,
    ) {
        let ttl = ttl_ms_floor(expires_at, now);
        if ttl <= 0 {
            self.evict_logged(key).await;
            return;
        }
        if let Err(e) = self.cache.set(key, data, ttl).await {
            tracing::error!(
                key = %key.fingerprint(),
                cache = %self.cache.description(),
                error = %e.report(),
                "Error saving to cache: the session is in the database but Django's cached copy could not be written; removing it so that Django reads the database"
            );
            self.evict_logged(key).await;
            return;
        }
        let current = match self.db.load(key, now).await {
            Ok(Lookup::Found { token: t, .. }) => t == *token,
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(
                    key = %key.fingerprint(),
                    error = %e.report(),
                    "could not read the session back after writing Django's cache; removing the cache entry"
                );
                false
            }
        };
        if !current {
            tracing::debug!(key = %key.fingerprint(), "the session changed or went away while its cache entry was written; removing the entry");
            self.evict_logged(key).await;
        }
    }

    /// The session from the cache, if the cache holds a live, readable entry for `key`
    /// (`None`: read the database).
    async fn load_cached(&self, key: &SessionKey, now: OffsetDateTime) -> Option<Lookup> {
        let entry = match self.cache.get(key).await {
            Ok(Some(entry)) => entry,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(
                    key = %key.fingerprint(),
                    cache = %self.cache.description(),
                    error = %e.report(),
                    "could not read Django's cache; reading the session from the database"
                );
                return None;
            }
        };
        // Every writer gives the entry a TTL of the expiry age; one without (or one that
        // the cache is about to evict) is not trusted for an expiry.
        if entry.ttl_ms <= 0 {
            return None;
        }
        let Some(data) = entry.data else {
            tracing::warn!(
                key = %key.fingerprint(),
                cache = %self.cache.description(),
                "unreadable Django session in the cache; reading the database (the entry is left in place)"
            );
            return None;
        };
        // The row's `expire_date` is the absolute `_session_expiry` when the data has one;
        // else the entry's TTL, set to the expiry age, ends with the row's.
        let expires_at = cached_expiry(&data, entry.ttl_ms, now);
        if expires_at <= now {
            return None;
        }
        Some(Lookup::Found {
            token: content_token(&data),
            record: Record {
                meta: Metadata::from_data(&data),
                data,
                expires_at,
            },
        })
    }

    /// For the save of a session read as `seen` (the dict its token carries): the row's
    /// token if the row still holds that dict, else the save's outcome — a conflict (the
    /// cache entry deleted unless it already holds the row's dict: it was stale) or the
    /// session gone (the entry deleted: without a row, any entry is stale).
    async fn db_token_if_unchanged(
        &self,
        key: &SessionKey,
        seen: &Data,
        now: OffsetDateTime,
    ) -> Result<Result<Token, SaveOutcome>, StoreError> {
        let (outcome, evicted) = match self.db.load(key, now).await? {
            Lookup::Found { record, token } => {
                if record.data == *seen {
                    return Ok(Ok(token));
                }
                tracing::debug!(key = %key.fingerprint(), "the session changed since it was read (or Django's cache held a stale copy); replaying the save on the row");
                (
                    SaveOutcome::Conflict,
                    self.evict_unless_holding(key, &record.data).await,
                )
            }
            _ => (SaveOutcome::Missing, self.cache.delete(key).await),
        };
        if let Err(e) = evicted {
            tracing::error!(
                key = %key.fingerprint(),
                cache = %self.cache.description(),
                error = %e.report(),
                "could not remove a stale entry from Django's cache: Django may serve it until its TTL runs out"
            );
        }
        Ok(Err(outcome))
    }

    /// Deletes the cache entry unless it holds `data` (in whichever pickle form: Django's
    /// and this store's bytes differ), compared and deleted on the entry read, so that an
    /// entry written meanwhile stays.
    async fn evict_unless_holding(&self, key: &SessionKey, data: &Data) -> Result<(), StoreError> {
        if let Some(entry) = self.cache.get(key).await?
            && entry.data.as_ref() != Some(data)
        {
            self.cache.delete_if(key, &entry.handle).await?;
        }
        Ok(())
    }

    /// Deletes the cache entry; a failure is logged at ERROR.
    async fn evict_logged(&self, key: &SessionKey) {
        if let Err(e) = self.cache.delete(key).await {
            tracing::error!(
                key = %key.fingerprint(),
                cache = %self.cache.description(),
                error = %e.report(),
                "could not remove a session's entry from Django's cache: Django may serve a stale copy until the entry's TTL runs out"
            );
        }
    }

    /// Deletes the cache entry after the row was `what` (deleted, retired); a failure is
    /// the caller's error.
    async fn evict(&self, key: &SessionKey, what: &str) -> Result<(), StoreError> {
        self.cache.delete(key).await.map_err(|e| {
            StoreError::with_source(
                e.kind(),
                format!(
                    "the session was {what} in the database, but its entry in Django's cache could not be removed: Django may still serve it until the entry's TTL runs out"
                ),
                e,
            )
        })
    }

    /// Runs `check` on every key of the cache's namespace, [`CONCURRENCY`] at a time (a
    /// cache that cannot enumerate: none).
    async fn for_each_cached<F, Fut>(&self, check: F) -> Result<(), StoreError>
    where
        F: Fn(SessionKey) -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        let Some(mut scan) = self.cache.scan().await? else {
            return Ok(());
        };
        while let Some(keys) = self.cache.next_keys(&mut scan).await? {
            stream::iter(keys)
                .map(&check)
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await?;
        }
        Ok(())
    }

    /// The cache sweep of `clear_expired`: deletes (compare-and-delete) every entry whose
    /// row is not live at `now` or holds other data.
    async fn sweep_dead(&self, now: OffsetDateTime) -> Result<(), StoreError> {
        self.for_each_cached(|key| async move {
            let Some(entry) = self.cache.get(&key).await? else {
                return Ok(());
            };
            let in_step = match self.db.load(&key, now).await? {
                Lookup::Found { record, .. } => entry.data.as_ref() == Some(&record.data),
                _ => false,
            };
            if !in_step {
                self.cache.delete_if(&key, &entry.handle).await?;
            }
            Ok(())
        })
        .await
    }

    /// The cache sweep of `revoke_user`: deletes every entry of `user` but `keep` (and
    /// unreadable entries without a live row).
    async fn sweep_user(&self, user: &str, keep: Option<SessionKey>) -> Result<(), StoreError> {
        self.for_each_cached(|key| async move {
            if Some(key) == keep {
                return Ok(());
            }
            let Some(entry) = self.cache.get(&key).await? else {
                return Ok(());
            };
            let drop_it = match &entry.data {
                Some(data) => data.user_id().as_deref() == Some(user),
                None => !matches!(
                    self.db.load(&key, OffsetDateTime::now_utc()).await?,
                    Lookup::Found { .. }
                ),
            };
            if drop_it {
                self.cache.delete_if(&key, &entry.handle).await?;
            }
            Ok(())
        })
        .await
    }

    /// [`SessionStore::load`]: the cache first, then the row (which fills the cache).
    pub async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        if let Some(found) = self.load_cached(key, now).await {
            return Ok(found);
        }
        let key = *key;
        self.detached("load", move |this| async move {
            let found = this.db.load(&key, now).await?;
            Ok(match found {
                Lookup::Found { record, token } => {
                    this.publish(&key, &record.data, record.expires_at, now, &token)
                        .await;
                    Lookup::Found {
                        token: content_token(&record.data),
                        record,
                    }
                }
                other => other,
            })
        })
        .await
    }

    /// [`SessionStore::create`]: the row, then the cache.
    pub async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let (key, record) = (*key, record.clone());
        self.detached("create", move |this| async move {
            Ok(match this.db.create(&key, &record, now).await? {
                CreateOutcome::Created(token) => {
                    this.publish(&key, &record.data, record.expires_at, now, &token)
                        .await;
                    CreateOutcome::Created(content_token(&record.data))
                }
                other @ CreateOutcome::Collision => other,
            })
        })
        .await
    }

    /// [`SessionStore::save`]: checked against the row, then the row's compare-and-set,
    /// then the cache.
    pub async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let Some(seen) = token.as_bytes().and_then(|b| redis_value_decode(b).ok()) else {
            // Not a token of this store: the record was read elsewhere.
            return Ok(SaveOutcome::Conflict);
        };
        let (key, record) = (*key, record.clone());
        self.detached("save", move |this| async move {
            let token = match this.db_token_if_unchanged(&key, &seen, now).await? {
                Ok(token) => token,
                Err(outcome) => return Ok(outcome),
            };
            let outcome = this.db.save(&key, &record, &token, now).await?;
            Ok(match outcome {
                SaveOutcome::Saved(new) => {
                    this.publish(&key, &record.data, record.expires_at, now, &new)
                        .await;
                    SaveOutcome::Saved(content_token(&record.data))
                }
                // No live row: whatever the cache holds is stale.
                SaveOutcome::Missing => {
                    this.evict_logged(&key).await;
                    SaveOutcome::Missing
                }
                // Another write won; it brings the cache in step.
                SaveOutcome::Conflict => SaveOutcome::Conflict,
            })
        })
        .await
    }

    /// [`SessionStore::delete`]: the row, then the entry (a failure to delete it is an
    /// error).
    pub async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let key = *key;
        self.detached("delete", move |this| async move {
            this.db.delete(&key).await?;
            this.evict(&key, "deleted").await
        })
        .await
    }

    /// [`SessionStore::touch`]: moves the row's expiry and drops the cache entry, which
    /// Django refills from the row (with the new expiry) on its next read.
    pub async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let key = *key;
        self.detached("touch", move |this| async move {
            let touched = this.db.touch(&key, expires_at, now).await?;
            this.evict_logged(&key).await;
            Ok(touched)
        })
        .await
    }

    /// [`SessionStore::clear_expired_with_progress`]: the database's cleanup (its count,
    /// its progress), then the cache sweep where the cache can enumerate its keys.
    pub async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let removed = self.db.clear_expired_with_progress(now, progress).await?;
        self.sweep_dead(now).await?;
        Ok(removed)
    }

    /// [`SessionStore::retire`]: the row's marker, then the entry deleted.
    pub async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        let key = *key;
        self.detached("retire", move |this| async move {
            this.db.retire(&key, until).await?;
            this.evict(&key, "retired").await
        })
        .await
    }

    /// Whether the database has a per-user index (and so this engine has one).
    pub fn has_user_index(&self) -> bool {
        self.db.user_index().is_some()
    }

    /// [`UserIndex::sessions_of`](sessionkit_core::UserIndex::sessions_of): the
    /// database's.
    pub async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        match self.db.user_index() {
            Some(index) => index.sessions_of_boxed(user_id, now).await,
            None => Err(no_index()),
        }
    }

    /// [`UserIndex::revoke_user`](sessionkit_core::UserIndex::revoke_user): the
    /// database's revocation, then the user's entries deleted from the cache — found by a
    /// scan where the cache can enumerate its keys, else the sessions the database listed
    /// for the user just before revoking them.
    pub async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let (user, keep) = (user_id.to_owned(), keep.copied());
        self.detached("revoke_user", move |this| async move {
            let Some(index) = this.db.user_index() else {
                return Err(no_index());
            };
            // Every session the database holds for the user, live or not at any clock
            // (the engine's `now` is not known here): listed as of the Unix epoch.
            let listed = if this.cache.can_enumerate() {
                Vec::new()
            } else {
                index
                    .sessions_of_boxed(&user, OffsetDateTime::UNIX_EPOCH)
                    .await?
            };
            let revoked = index.revoke_user_boxed(&user, keep.as_ref()).await?;
            let cleared = if this.cache.can_enumerate() {
                this.sweep_user(&user, keep).await
            } else {
                let cache = &this.cache;
                stream::iter(listed.into_iter().map(|s| s.key))
                    .filter(|k| std::future::ready(Some(*k) != keep))
                    .map(|k| async move { cache.delete(&k).await })
                    .buffer_unordered(CONCURRENCY)
                    .try_collect::<Vec<()>>()
                    .await
                    .map(drop)
            };
            cleared.map_err(|e| {
                StoreError::with_source(
                    e.kind(),
                    "the user's sessions were revoked in the database, but Django's cache could not be cleared of them: Django may still serve them until their TTL runs out",
                    e,
                )
            })?;
            Ok(revoked)
        })
        .await
    }
}

/// The token [`CachedDb`] hands out: the dict as read, pickled. It is the same whichever
/// side the record was read from, so a save checks it against the row.
fn content_token(data: &Data) -> Token {
    Token::bytes(redis_value_encode(data))
}

fn no_index() -> StoreError {
    StoreError::new(
        StoreErrorKind::Config,
        "the database store has no per-user index",
    )
}

/// The expiry Django's cache engines (`cache`, `cached_db`) read for a cached session
/// dict: its absolute `_session_expiry` when it has one, else `now` plus the entry's
/// remaining TTL, `ttl_ms` milliseconds (`<= 0`: `now` or earlier, expired), saturating.
/// The cache engines of every cache crate read expiries through it.
pub fn cached_expiry(data: &Data, ttl_ms: i64, now: OffsetDateTime) -> OffsetDateTime {
    data.absolute_expiry()
        .unwrap_or_else(|| plus_millis(now, ttl_ms))
}

/// `t + ms` milliseconds, saturating at the representable range.
fn plus_millis(t: OffsetDateTime, ms: i64) -> OffsetDateTime {
    t.checked_add(time::Duration::milliseconds(ms))
        .unwrap_or(if ms < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        })
}

/// `expires_at - now` in whole milliseconds, rounded down (`<= 0`: already expired).
fn ttl_ms_floor(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let ms = (expires_at - now).whole_milliseconds();
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

mod forward;

#[cfg(test)]
mod tests;
