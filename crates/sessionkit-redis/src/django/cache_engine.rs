//! [`DjangoCacheStore`]: Django's `cache` engine, where Redis is the only store.

use sessionkit_core::store::Page;
use std::fmt;
use std::sync::Arc;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use sessionkit_core::{
    Config, CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionInfo, SessionKey,
    SessionListing, SessionStore, StoreError, Token, UserIndex,
};
use sessionkit_django::cached_db::cached_expiry;
use sessionkit_django::keys::CacheEngine;
use sessionkit_django::pickle::{redis_value_decode, redis_value_encode};
use time::OffsetDateTime;

use super::side::{CacheSide, Fetched, Inserted, Replaced, Stored};
use super::{DEFAULT_COOKIE_AGE, read_value};
use crate::codec::ttl_ms;
use crate::conn::Target;
use crate::listing::CONCURRENCY;

/// How often an operation re-reads a record that changed under it before giving up.
const ATTEMPTS: usize = 8;

/// Django's `cache` session engine (`django.contrib.sessions.backends.cache`) on Redis or
/// Redis Cluster: one key per session holding the pickled dict, its TTL the expiry. See
/// the [module docs](super) for the layout and the expiry rules.
///
/// | operation | Redis |
/// | --- | --- |
/// | `load` | one script: `GET` + `PTTL`; token = the stored bytes |
/// | `create` | one script: `SET NX PX`; a key taken by a record expired at `now` (its absolute `_session_expiry`) is then replaced by a compare-and-set |
/// | `save` | one script: compare-and-set on the bytes, `SET PX` (or `DEL` for a TTL `<= 0`); never creates |
/// | `touch` | `GET`, then a script: `PEXPIRE` if the value is unchanged |
/// | `delete`, `retire` | `DEL` (no rotation markers: Django would read one as a session) |
/// | `clear_expired` | `SCAN`, then per key with an absolute expiry at or before `now`, a compare-and-delete: concurrent cleaners count each record once |
///
/// Listing and the per-user index scan the namespace and decode every value; metadata is
/// only the user id, from `_auth_user_id`.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_core::{Config, Engine, SessionKey};
/// use sessionkit_redis::DjangoCacheStore;
///
/// // CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
/// //     "LOCATION": "redis://127.0.0.1:6379/0", "KEY_PREFIX": "shop", "VERSION": 2}}
/// let store = DjangoCacheStore::builder("redis://127.0.0.1:6379/0")
///     .with_key_prefix("shop")
///     .with_version(2)
///     .with_config(&Config::default())
///     .connect()
///     .await?;
/// let key = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
/// assert_eq!(
///     store.redis_key(&key),
///     "shop:2:django.contrib.sessions.cacheabcdefghijklmnopqrstuvwxyz012345"
/// );
/// let engine = Engine::new(store, Config::default());
/// # let _ = engine;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DjangoCacheStore {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    side: CacheSide,
    cookie_age: i64,
}

impl fmt::Debug for DjangoCacheStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = &self.inner.side;
        f.debug_struct("DjangoCacheStore")
            .field("url", &side.description())
            .field("key_prefix", &side.key_prefix())
            .field("version", &side.version())
            .field("cookie_age", &self.inner.cookie_age)
            .finish()
    }
}

/// Options for a [`DjangoCacheStore`], from [`DjangoCacheStore::builder`] or
/// [`DjangoCacheStore::cluster_builder`]: Django's cache `KEY_PREFIX` and `VERSION`, and
/// the session settings it needs from the engine's [`Config`];
/// [`connect`](DjangoCacheBuilder::connect) ends it.
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `connect`"]
pub struct DjangoCacheBuilder {
    target: Target,
    key_prefix: String,
    version: i64,
    cookie_age: i64,
}

impl DjangoCacheBuilder {
    /// The cache's `KEY_PREFIX` (default `""`).
    pub fn with_key_prefix(mut self, key_prefix: impl Into<String>) -> DjangoCacheBuilder {
        self.key_prefix = key_prefix.into();
        self
    }

    /// The cache's `VERSION` (default 1).
    pub fn with_version(mut self, version: i64) -> DjangoCacheBuilder {
        self.version = version;
        self
    }

    /// Takes the session settings this store needs from the engine's configuration, so
    /// each is set once: `SESSION_COOKIE_AGE` ([`Config::cookie_age`], default 1209600
    /// seconds), the life of a session whose key has no TTL (only something else than
    /// Django writes such keys).
    pub fn with_config(mut self, config: &Config) -> DjangoCacheBuilder {
        self.cookie_age = config.cookie_age();
        self
    }

    /// Connects and loads the scripts. Errors as [`RedisBuilder::connect`](crate::RedisBuilder::connect).
    pub async fn connect(self) -> Result<DjangoCacheStore, StoreError> {
        let mut side = match &self.target {
            Target::Server(url) => CacheSide::connect(url, CacheEngine::Cache).await?,
            Target::Cluster(seeds) => {
                let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
                CacheSide::connect_cluster(&seeds, CacheEngine::Cache).await?
            }
        };
        side.set_namespace(self.key_prefix, self.version);
        Ok(DjangoCacheStore {
            inner: Arc::new(Inner {
                side,
                cookie_age: self.cookie_age,
            }),
        })
    }
}

impl DjangoCacheStore {
    /// Options for a store on a standalone server, the `LOCATION` of Django's cache:
    /// `redis://[[user]:password@]host[:port][/db]`. Django's defaults for `KEY_PREFIX`
    /// (`""`), `VERSION` (1) and the cookie age.
    pub fn builder(url: &str) -> DjangoCacheBuilder {
        DjangoCacheStore::builder_for(Target::Server(url.to_owned()))
    }

    /// Options for a store on a Redis Cluster, reached through any of its nodes, as
    /// [`RedisStore::cluster_builder`](crate::RedisStore::cluster_builder).
    pub fn cluster_builder(seeds: &[&str]) -> DjangoCacheBuilder {
        DjangoCacheStore::builder_for(Target::cluster(seeds))
    }

    fn builder_for(target: Target) -> DjangoCacheBuilder {
        DjangoCacheBuilder {
            target,
            key_prefix: String::new(),
            version: 1,
            cookie_age: DEFAULT_COOKIE_AGE,
        }
    }

    /// Connects to a standalone server with Django's defaults: `builder(url).connect()`.
    pub async fn connect(url: &str) -> Result<DjangoCacheStore, StoreError> {
        DjangoCacheStore::builder(url).connect().await
    }

    /// Connects to a Redis Cluster with Django's defaults:
    /// `cluster_builder(seeds).connect()`.
    pub async fn connect_cluster(seeds: &[&str]) -> Result<DjangoCacheStore, StoreError> {
        DjangoCacheStore::cluster_builder(seeds).connect().await
    }

    /// The Redis key of a session, as Django names it.
    pub fn redis_key(&self, key: &SessionKey) -> String {
        self.inner.side.redis_key(key)
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.side.is_cluster()
    }

    fn side(&self) -> &CacheSide {
        &self.inner.side
    }

    /// The data and expiry of a stored value (`None`: unreadable, logged).
    fn decode(
        &self,
        key: &SessionKey,
        s: &Stored,
        now: OffsetDateTime,
    ) -> Option<(Data, OffsetDateTime)> {
        let data = read_value(key, &s.value)?;
        let ttl_ms = match s.pttl {
            p if p > 0 => p,
            -1 => self.inner.cookie_age.saturating_mul(1000),
            // -2: evicted meanwhile.
            _ => 0,
        };
        let expires_at = cached_expiry(&data, ttl_ms, now);
        Some((data, expires_at))
    }

    /// The listing entry of a fetched key, if it is a live session at `now`.
    fn info(&self, key: SessionKey, f: &Fetched, now: OffsetDateTime) -> Option<SessionInfo> {
        let Fetched::Value(s) = f else { return None };
        let (data, expires_at) = self.decode(&key, s, now)?;
        (expires_at > now).then(|| SessionInfo {
            key,
            expires_at,
            meta: Metadata::from_data(&data),
        })
    }

    /// `clear_expired` for one key: deletes it if its absolute expiry is at or before
    /// `now` and it is still the value checked. `true` when this call deleted it.
    async fn clear_one(&self, key: SessionKey, now: OffsetDateTime) -> Result<bool, StoreError> {
        for _ in 0..ATTEMPTS {
            let Fetched::Value(s) = self.side().get(&key).await? else {
                return Ok(false);
            };
            let expired = read_value(&key, &s.value)
                .and_then(|d| d.absolute_expiry())
                .is_some_and(|e| e <= now);
            if !expired {
                return Ok(false);
            }
            if self.side().delete_if(&key, &s.value).await? {
                return Ok(true);
            }
            // Rewritten meanwhile: look again.
        }
        Ok(false)
    }

    /// `revoke_user` for one key: deletes it if it (still) belongs to `user_id`.
    async fn revoke_one(&self, key: SessionKey, user_id: &str) -> Result<bool, StoreError> {
        for _ in 0..ATTEMPTS {
            let Fetched::Value(s) = self.side().get(&key).await? else {
                return Ok(false);
            };
            let owned = read_value(&key, &s.value)
                .and_then(|d| d.user_id())
                .is_some_and(|u| u == user_id);
            if !owned {
                return Ok(false);
            }
            if self.side().delete_if(&key, &s.value).await? {
                return Ok(true);
            }
        }
        Err(StoreError::new(
            sessionkit_core::StoreErrorKind::Other,
            format!(
                "session {} kept changing while its user's sessions were revoked",
                key.fingerprint()
            ),
        ))
    }
}

impl SessionStore for DjangoCacheStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let s = match self.side().get(key).await? {
            Fetched::Value(s) => s,
            Fetched::Absent => return Ok(Lookup::Missing),
            Fetched::Foreign => {
                tracing::warn!(key = %key.fingerprint(), "the Django session key holds something else than a string; treating as no session");
                return Ok(Lookup::Missing);
            }
        };
        Ok(match self.decode(key, &s, now) {
            Some((data, expires_at)) if expires_at > now => Lookup::Found {
                record: Record {
                    meta: Metadata::from_data(&data),
                    data,
                    expires_at,
                },
                token: Token::bytes(s.value),
            },
            _ => Lookup::Missing,
        })
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let value = redis_value_encode(&record.data);
        let ttl = ttl_ms(record.expires_at, now);
        for _ in 0..ATTEMPTS {
            let old = match self.side().create(key, &value, ttl).await? {
                Inserted::Yes => return Ok(CreateOutcome::Created(Token::bytes(value))),
                Inserted::Foreign => return Ok(CreateOutcome::Collision),
                Inserted::Taken(old) => old,
            };
            // A record expired at `now` does not own the key; a live or unreadable one
            // does.
            match self.decode(key, &old, now) {
                Some((_, expires_at)) if expires_at <= now => {}
                _ => return Ok(CreateOutcome::Collision),
            }
            match self
                .side()
                .replace(key, &old.value, &value, ttl, false)
                .await?
            {
                Replaced::Yes => return Ok(CreateOutcome::Created(Token::bytes(value))),
                Replaced::Changed(_) => return Ok(CreateOutcome::Collision),
                // Evicted meanwhile: insert again.
                Replaced::Gone => {}
            }
        }
        Ok(CreateOutcome::Collision)
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let Some(expected) = token.as_bytes() else {
            // A token this store never handed out cannot match.
            return Ok(SaveOutcome::Conflict);
        };
        // The script compares bytes only; whether the record as loaded has expired by
        // `now` (its absolute expiry) is decided here, on the token, which is the record.
        let expected_dead = redis_value_decode(expected)
            .ok()
            .and_then(|d| d.absolute_expiry())
            .is_some_and(|e| e <= now);
        let value = redis_value_encode(&record.data);
        let ttl = ttl_ms(record.expires_at, now);
        Ok(
            match self
                .side()
                .replace(key, expected, &value, ttl, expected_dead)
                .await?
            {
                Replaced::Yes => SaveOutcome::Saved(Token::bytes(value)),
                Replaced::Gone => SaveOutcome::Missing,
                Replaced::Changed(current) => {
                    // Replaced by a record that has expired meanwhile: gone, as for every
                    // store; else a conflict.
                    let dead = redis_value_decode(&current)
                        .ok()
                        .and_then(|d| d.absolute_expiry())
                        .is_some_and(|e| e <= now);
                    if dead {
                        SaveOutcome::Missing
                    } else {
                        SaveOutcome::Conflict
                    }
                }
            },
        )
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.side().del(key).await
    }

    /// A new TTL for a live record. The data, and with it an absolute `_session_expiry`
    /// and the token, stay as they are.
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let ttl = ttl_ms(expires_at, now);
        for _ in 0..ATTEMPTS {
            let Fetched::Value(s) = self.side().get(key).await? else {
                return Ok(false);
            };
            match self.decode(key, &s, now) {
                Some((_, e)) if e > now => {}
                _ => return Ok(false),
            }
            if self.side().expire_if(key, &s.value, ttl).await? {
                return Ok(true);
            }
            // Rewritten meanwhile (with a TTL of its own): check the new value.
        }
        // Still live and busy being rewritten, each write with a fresh TTL.
        Ok(true)
    }

    /// Reports the running total after each `SCAN` page (up to about 1000 keys, checked
    /// concurrently).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let side = self.side();
        let mut scanner = side.scanner().await?;
        let mut total = 0u64;
        while let Some(keys) = side.next_keys(&mut scanner).await? {
            let deleted: Vec<bool> = stream::iter(keys)
                .map(|key| self.clear_one(key, now))
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
            total += deleted.into_iter().map(u64::from).sum::<u64>();
            progress(total);
        }
        Ok(total)
    }

    /// The session dict is pickled: Python values (a `datetime`, a `Decimal`, ...) and
    /// objects outside the allowlist are kept (see
    /// [`loads_session`](sessionkit_django::pickle::loads_session)).
    fn python_values(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        let side = self.side();
        format!(
            "{} (django cache engine, KEY_PREFIX {:?}, VERSION {})",
            side.description(),
            side.key_prefix(),
            side.version()
        )
    }

    sessionkit_core::offers!(listing, user_index);
}

/// Scans every key of the namespace, sorts them, then reads and decodes values in key
/// order until `limit` live sessions are found: the whole keyspace is scanned per page.
impl SessionListing for DjangoCacheStore {
    async fn list(&self, page: Page<'_>) -> Result<Vec<SessionInfo>, StoreError> {
        let Page { now, after, limit } = page;
        let mut keys = self.side().all_keys().await?;
        keys.retain(|k| after.is_none_or(|a| k > a));
        let mut out = Vec::with_capacity(limit.min(keys.len()));
        for chunk in keys.chunks(limit.clamp(16, 1000)) {
            if out.len() >= limit {
                break;
            }
            let fetched = self.side().get_many(chunk).await?;
            for (key, f) in chunk.iter().zip(&fetched) {
                if out.len() < limit
                    && let Some(info) = self.info(*key, f, now)
                {
                    out.push(info);
                }
            }
        }
        Ok(out)
    }
}

/// The per-user index is a scan: every value is decoded and its `_auth_user_id` compared.
/// It finds the sessions Django wrote as well as ours. Revoking deletes each of the user's
/// sessions only if it still holds the value that was decoded (compare-and-delete); one
/// that changed meanwhile is decoded and checked again.
impl UserIndex for DjangoCacheStore {
    async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let keys = self.side().all_keys().await?;
        let mut out = Vec::new();
        for chunk in keys.chunks(1000) {
            let fetched = self.side().get_many(chunk).await?;
            for (key, f) in chunk.iter().zip(&fetched) {
                if let Some(info) = self.info(*key, f, now)
                    && info.meta.user_id.as_deref() == Some(user_id)
                {
                    out.push(info);
                }
            }
        }
        Ok(out)
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let side = self.side();
        let mut scanner = side.scanner().await?;
        let mut revoked = 0u64;
        while let Some(keys) = side.next_keys(&mut scanner).await? {
            let deleted: Vec<bool> = stream::iter(keys.into_iter().filter(|k| Some(k) != keep))
                .map(|key| self.revoke_one(key, user_id))
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
            revoked += deleted.into_iter().map(u64::from).sum::<u64>();
        }
        Ok(revoked)
    }
}
