//! [`DjangoCachedDbStore`]: Django's `cached_db` engine, a database store with Django's
//! cache in Redis kept in step.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use sessionkit_core::store::BoxFuture;
use sessionkit_core::{
    CreateOutcome, Data, LeaseStore, Lookup, Metadata, Record, SaveOutcome, SessionInfo,
    SessionKey, SessionListing, SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use sessionkit_django::keys::CacheEngine;
use sessionkit_django::pickle::{redis_value_decode, redis_value_encode};
use time::OffsetDateTime;

use super::side::{CacheSide, Fetched};
use super::{plus_millis, read_value, ttl_ms_floor};
use crate::listing::CONCURRENCY;

/// Django's `cached_db` session engine (`django.contrib.sessions.backends.cached_db`): a
/// store `S` of Django's `db` layout (the `django_session` table, e.g.
/// `sessionkit_sql::django::DjangoPostgresStore`) plus Django's cache of it in Redis,
/// `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cached_db<session key>` holding the
/// pickled dict with a TTL of the expiry age (see the [module docs](super)).
///
/// `S` is any [`SessionStore`]; for Django to share the sessions it must be one that
/// stores Django's `db` layout, signed with Django's secrets.
///
/// # Reads from the cache, the database the authority
///
/// * **`load` reads the cache first**, as Django's `cached_db` does
///   (`test_exists_searches_cache_first`): a live entry is the session (its expiry the
///   entry's TTL, which every writer sets to the expiry age), without a database read. A
///   missing, expired or unreadable entry, or a cache that cannot be reached, falls back
///   to the database row, and a row found there is put into the cache (Django does the
///   same) with the read-back below, so that a fill racing a logout cannot keep the
///   logged-out session in the cache.
/// * **A save is checked against the database.** The cache holds only the dict, not the
///   row's compare-and-set token (the stored `session_data`), so the token this store
///   hands out carries the dict that was read, whichever side it came from. A save reads
///   the row: the row holds that same dict → the save is the database's
///   compare-and-set on the row's token (a write landing in between still conflicts);
///   the row holds another dict (the cache was stale: a writer that died between its
///   database and cache writes) → the entry is deleted if it still holds what was read,
///   and the save is a conflict, which the engine replays on the row; no row → the entry
///   is deleted and the save finds the session gone. So a save never overwrites a change
///   it did not see and a logout is never undone, whichever side was read. A read-only
///   request costs one cache read and no database read; a request that writes reads the
///   row once at its save (and once more at its load after a cache miss).
/// * **Every write keeps Django's cache in step**, because Django reads the cache first
///   and would otherwise serve stale data for up to two weeks (DJANGO.md hazard 3):
///
///   | operation | after the database write succeeded |
///   | --- | --- |
///   | `create`, `save` | `SET` the pickled dict with TTL = `expires_at - now` (rounded down; `<= 0`: `DEL`), then read the row back: if it is gone or holds another write (a concurrent logout or save landed in between), `DEL` |
///   | `save` that finds no row | `DEL` (whatever the cache holds is stale) |
///   | `touch` | `DEL` (Django refills it with the new expiry on its next read) |
///   | `delete`, `retire` | `DEL` |
///   | `revoke_user` | `DEL` every cache entry of the user (found by scanning the cache) |
///   | `clear_expired` | a scan of the cache: entries whose row is not live at `now`, or differs from it, are deleted |
///
///   Reading the row back after the `SET` costs one primary-key read per write; it is what
///   keeps a logout that lands between another request's database write and its cache
///   write from surviving in Django's cache. Each write runs on a task of its own, so a
///   request that is cancelled after its database write still brings the cache in step.
/// * **Cache failures.** A failed `SET` after a successful database write is logged at
///   ERROR (as Django logs `Error saving to cache`) and the entry deleted, so Django reads
///   the row; the write itself succeeded and reports success. If that `DEL` fails too,
///   the log says that Django may read a stale copy until the TTL runs out. A failed `DEL`
///   after a `delete`, `retire` or `revoke_user` is an **error** returned to the caller:
///   a revoked session must not silently survive in Django's cache.
///
/// Django's own writers keep the order "database, then cache" without reading back, so a
/// Django request racing a Rust logout can still leave a stale entry; that window is
/// Django's and exists between two Django processes as well.
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
    db: Arc<S>,
    cache: Arc<CacheSide>,
}

impl<S> Clone for DjangoCachedDbStore<S> {
    fn clone(&self) -> Self {
        DjangoCachedDbStore {
            db: Arc::clone(&self.db),
            cache: Arc::clone(&self.cache),
        }
    }
}

impl<S: SessionStore> fmt::Debug for DjangoCachedDbStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoCachedDbStore")
            .field("db", &self.db.describe())
            .field("cache", &self.cache.description())
            .field("key_prefix", &self.cache.key_prefix())
            .field("version", &self.cache.version())
            .finish()
    }
}

impl<S: SessionStore> DjangoCachedDbStore<S> {
    /// `db` with Django's cache on a standalone server, the `LOCATION` of Django's cache
    /// (`redis://[[user]:password@]host[:port][/db]`); Django's defaults for `KEY_PREFIX`
    /// (`""`) and `VERSION` (1). Errors as [`RedisStore::connect`](crate::RedisStore::connect).
    pub async fn connect(db: S, url: &str) -> Result<DjangoCachedDbStore<S>, StoreError> {
        Ok(DjangoCachedDbStore {
            db: Arc::new(db),
            cache: Arc::new(CacheSide::connect(url, CacheEngine::CachedDb).await?),
        })
    }

    /// `db` with Django's cache on a Redis Cluster, as
    /// [`RedisStore::connect_cluster`](crate::RedisStore::connect_cluster).
    pub async fn connect_cluster(
        db: S,
        seeds: &[&str],
    ) -> Result<DjangoCachedDbStore<S>, StoreError> {
        Ok(DjangoCachedDbStore {
            db: Arc::new(db),
            cache: Arc::new(CacheSide::connect_cluster(seeds, CacheEngine::CachedDb).await?),
        })
    }

    /// The cache's `KEY_PREFIX` (default `""`).
    #[must_use]
    pub fn with_key_prefix(mut self, key_prefix: impl Into<String>) -> DjangoCachedDbStore<S> {
        let cache = Arc::make_mut(&mut self.cache);
        let version = cache.version();
        cache.set_namespace(key_prefix.into(), version);
        self
    }

    /// The cache's `VERSION` (default 1).
    #[must_use]
    pub fn with_version(mut self, version: i64) -> DjangoCachedDbStore<S> {
        let cache = Arc::make_mut(&mut self.cache);
        let prefix = cache.key_prefix().to_owned();
        cache.set_namespace(prefix, version);
        self
    }

    /// The same cache (connection and namespace) in front of another database store, e.g.
    /// the same database with other secrets.
    pub fn with_db<T: SessionStore>(&self, db: T) -> DjangoCachedDbStore<T> {
        DjangoCachedDbStore {
            db: Arc::new(db),
            cache: Arc::clone(&self.cache),
        }
    }

    /// The database store.
    pub fn db(&self) -> &S {
        &self.db
    }

    /// The Redis key of a session's cache entry, as Django names it.
    pub fn redis_key(&self, key: &SessionKey) -> String {
        self.cache.redis_key(key)
    }

    /// Runs `f` on a task of its own, so that a cancelled caller does not stop it between
    /// the database write and the cache write.
    async fn detached<T, F>(
        &self,
        what: &'static str,
        f: impl FnOnce(DjangoCachedDbStore<S>) -> F,
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
        if let Err(e) = self.cache.set(key, &redis_value_encode(data), ttl).await {
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
        let stored = match self.cache.get(key).await {
            Ok(Fetched::Value(s)) => s,
            Ok(Fetched::Absent | Fetched::Foreign) => return None,
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
        // Redis is about to evict) is not trusted for an expiry.
        if stored.pttl <= 0 {
            return None;
        }
        let data = read_value(key, &stored.value)?;
        // The row's `expire_date` is the absolute `_session_expiry` when the data has one;
        // else the entry's TTL, set to the expiry age, ends with the row's.
        let expires_at = data
            .absolute_expiry()
            .unwrap_or_else(|| plus_millis(now, stored.pttl));
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
            _ => (SaveOutcome::Missing, self.cache.del(key).await),
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
    /// and this store's bytes differ), compared and deleted on the bytes read, so that an
    /// entry written meanwhile stays.
    async fn evict_unless_holding(&self, key: &SessionKey, data: &Data) -> Result<(), StoreError> {
        if let Fetched::Value(s) = self.cache.get(key).await?
            && !redis_value_decode(&s.value).is_ok_and(|d| d == *data)
        {
            self.cache.delete_if(key, &s.value).await?;
        }
        Ok(())
    }

    /// `DEL` of the cache entry; a failure is logged at ERROR.
    async fn evict_logged(&self, key: &SessionKey) {
        if let Err(e) = self.cache.del(key).await {
            tracing::error!(
                key = %key.fingerprint(),
                cache = %self.cache.description(),
                error = %e.report(),
                "could not remove a session's entry from Django's cache: Django may serve a stale copy until the entry's TTL runs out"
            );
        }
    }

    /// `DEL` of the cache entry after the row was `what` (deleted, retired); a failure is
    /// the caller's error.
    async fn evict(&self, key: &SessionKey, what: &str) -> Result<(), StoreError> {
        self.cache.del(key).await.map_err(|e| {
            StoreError::with_source(
                e.kind(),
                format!(
                    "the session was {what} in the database, but its entry in Django's cache could not be removed: Django may still serve it until the entry's TTL runs out"
                ),
                e,
            )
        })
    }

    /// The cache sweep of `clear_expired`: deletes (compare-and-delete) every entry whose
    /// row is not live at `now` or holds other data.
    async fn sweep_dead(&self, now: OffsetDateTime) -> Result<(), StoreError> {
        let mut scanner = self.cache.scanner().await?;
        while let Some(keys) = self.cache.next_keys(&mut scanner).await? {
            stream::iter(keys)
                .map(|key| async move {
                    let Fetched::Value(s) = self.cache.get(&key).await? else {
                        return Ok(());
                    };
                    let in_step = match self.db.load(&key, now).await? {
                        Lookup::Found { record, .. } => {
                            redis_value_decode(&s.value).is_ok_and(|d| d == record.data)
                        }
                        _ => false,
                    };
                    if !in_step {
                        self.cache.delete_if(&key, &s.value).await?;
                    }
                    Ok::<(), StoreError>(())
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await?;
        }
        Ok(())
    }

    /// The cache sweep of `revoke_user`: deletes every entry of `user` but `keep` (and
    /// unreadable entries without a live row).
    async fn sweep_user(&self, user: &str, keep: Option<SessionKey>) -> Result<(), StoreError> {
        let mut scanner = self.cache.scanner().await?;
        while let Some(keys) = self.cache.next_keys(&mut scanner).await? {
            stream::iter(keys.into_iter().filter(|k| Some(*k) != keep))
                .map(|key| async move {
                    let Fetched::Value(s) = self.cache.get(&key).await? else {
                        return Ok(());
                    };
                    let drop_it = match redis_value_decode(&s.value) {
                        Ok(data) => data.user_id().as_deref() == Some(user),
                        Err(_) => !matches!(
                            self.db.load(&key, OffsetDateTime::now_utc()).await?,
                            Lookup::Found { .. }
                        ),
                    };
                    if drop_it {
                        self.cache.delete_if(&key, &s.value).await?;
                    }
                    Ok::<(), StoreError>(())
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect::<Vec<()>>()
                .await
                .map_err(|e| {
                    StoreError::with_source(
                        e.kind(),
                        "the user's sessions were revoked in the database, but Django's cache could not be cleared of them: Django may still serve them until their TTL runs out",
                        e,
                    )
                })?;
        }
        Ok(())
    }
}

impl<S: SessionStore> SessionStore for DjangoCachedDbStore<S> {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
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

    async fn create(
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

    async fn save(
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

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let key = *key;
        self.detached("delete", move |this| async move {
            this.db.delete(&key).await?;
            this.evict(&key, "deleted").await
        })
        .await
    }

    /// Moves the row's expiry and drops the cache entry, which Django refills from the row
    /// (with the new expiry) on its next read.
    async fn touch(
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

    /// The database's cleanup (its count, its progress), then the cache sweep.
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let removed = self.db.clear_expired_with_progress(now, progress).await?;
        self.sweep_dead(now).await?;
        Ok(removed)
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        let key = *key;
        self.detached("retire", move |this| async move {
            this.db.retire(&key, until).await?;
            this.evict(&key, "retired").await
        })
        .await
    }

    fn describe(&self) -> String {
        format!(
            "{} + django cached_db cache on {} (KEY_PREFIX {:?}, VERSION {})",
            self.db.describe(),
            self.cache.description(),
            self.cache.key_prefix(),
            self.cache.version()
        )
    }

    fn listing(&self) -> Option<&dyn SessionListing> {
        self.db.listing()
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        self.db.user_index().map(|_| self as &dyn UserIndex)
    }

    fn leases(&self) -> Option<&dyn LeaseStore> {
        self.db.leases()
    }
}

/// The database's index; revoking also clears Django's cache of the revoked sessions.
impl<S: SessionStore> UserIndex for DjangoCachedDbStore<S> {
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        match self.db.user_index() {
            Some(index) => index.sessions_of(user_id, now),
            None => Box::pin(async { Err(no_index()) }),
        }
    }

    fn revoke_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let (user, keep) = (user_id.to_owned(), keep.copied());
        Box::pin(self.detached("revoke_user", move |this| async move {
            let revoked = match this.db.user_index() {
                Some(index) => index.revoke_user(&user, keep.as_ref()).await?,
                None => return Err(no_index()),
            };
            this.sweep_user(&user, keep).await?;
            Ok(revoked)
        }))
    }
}

/// The token this store hands out: the dict as read, pickled as this store writes it to
/// the cache. It is the same whichever side the record was read from, so a save checks it
/// against the row (see [`DjangoCachedDbStore`]).
fn content_token(data: &Data) -> Token {
    Token::bytes(redis_value_encode(data))
}

fn no_index() -> StoreError {
    StoreError::new(
        StoreErrorKind::Config,
        "the database store has no per-user index",
    )
}
