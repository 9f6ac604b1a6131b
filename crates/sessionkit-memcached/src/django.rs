//! Django's `cache` and `cached_db` session engines on memcached (feature `django`):
//! [`DjangoMemcachedStore`] and [`DjangoMemcachedCachedDbStore`], sharing sessions with a
//! Django application whose `CACHES` use Django's `PyMemcacheCache`. This page describes
//! the `cache` engine; [`DjangoMemcachedCachedDbStore`] has its own.
//!
//! # Layout
//!
//! Exactly what `PyMemcacheCache` writes:
//!
//! | memcached key | value | client flags | TTL |
//! | --- | --- | --- | --- |
//! | `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cache<session key>` | the session dict, pickled (protocol 5) | 1 (pymemcache's `FLAG_PICKLE`) | the expiry age; over 30 days as a Unix time |
//!
//! `KEY_PREFIX` and `VERSION` are the cache's settings (Django's defaults `""` and `1`),
//! set with [`with_key_prefix`](DjangoMemcachedBuilder::with_key_prefix) and
//! [`with_version`](DjangoMemcachedBuilder::with_version); the servers are Django's
//! `LOCATION`, named the same way so that both sides hash a key to the same server (see
//! the [crate docs](crate#a-pool-of-servers)). Django refuses keys over 250 characters or
//! with spaces or control characters (`InvalidCacheKey`); a `KEY_PREFIX` that would make
//! such keys is refused when the store connects. Values are read with
//! [`pymemcache_decode`]: every pickle
//! protocol, Python's standard value types (a `datetime`, a `Decimal`, a `set`, ...) as
//! values, any other object kept opaque and written back unchanged, never run. A value
//! under other flags (text, an integer, a compressed value) or that cannot be read is a
//! missing session plus a warning, and is left in place.
//!
//! # Expiry
//!
//! As Django's `cache` engine: a session's expiry is the TTL of its item, and after
//! `set_expiry(datetime)` or `set_expiry(timedelta)` also the absolute `_session_expiry`
//! in its data, which decides when present
//! ([`Data::absolute_expiry`](sessionkit_core::Data::absolute_expiry)). Writing, the TTL is
//! `expires_at - now` in whole seconds rounded up (Django writes `get_expiry_age()`);
//! reading, a record without an absolute expiry expires at `now` plus the remaining TTL
//! (`mg ... t`), or the cookie age for an item without TTL.
//!
//! # Operations
//!
//! The token is the stored value itself; every write is a compare-and-set on
//! memcached's CAS value of the item just read, after comparing the bytes:
//!
//! | operation | memcached |
//! | --- | --- |
//! | `load` | `mg key v f c t` |
//! | `create` | `ms ... ME` (add); a key held by a record expired at `now` (its absolute expiry) is replaced with `ms ... C<cas>` |
//! | `save` | `mg`, compare the bytes with the token, `ms ... C<cas>`; never creates |
//! | `touch` | `mg`, then the same bytes with the new TTL, `ms ... C<cas>` |
//! | `delete`, `retire` | `md key` |
//!
//! No listing, no per-user index, no `clear_expired` ([`StoreErrorKind::Unsupported`]),
//! no leases: memcached cannot enumerate keys, and its TTLs evict expired sessions.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use sessionkit_core::{
    Config, CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey, SessionStore,
    StoreError, StoreErrorKind, Token,
};
use sessionkit_django::DEFAULT_COOKIE_AGE;
use sessionkit_django::cached_db::cached_expiry;
use sessionkit_django::keys::{CacheEngine, DEFAULT_VERSION};
use sessionkit_django::pickle::{PYMEMCACHE_FLAG_PICKLE, pymemcache_decode, pymemcache_encode};
use time::OffsetDateTime;

pub use crate::cached_db::DjangoMemcachedCachedDbStore;
use crate::item::{Decision, Item, Otherwise, Write};
use crate::pool::{Pool, valid_key};
use crate::{MemcachedBuilder, check_size, not_supported, ttl};

/// Django's `cache` session engine (`django.contrib.sessions.backends.cache`) on
/// `PyMemcacheCache`. See the [module docs](self) for the layout and the rules.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_core::{Config, Engine, SessionKey};
/// use sessionkit_memcached::DjangoMemcachedStore;
///
/// // CACHES = {"default": {"BACKEND": "django.core.cache.backends.memcached.PyMemcacheCache",
/// //     "LOCATION": ["10.0.0.1:11211", "10.0.0.2:11211"], "KEY_PREFIX": "shop", "VERSION": 2}}
/// let store = DjangoMemcachedStore::builder("memcached://10.0.0.1:11211,10.0.0.2:11211")
///     .with_key_prefix("shop")
///     .with_version(2)
///     .connect()
///     .await?;
/// let key = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
/// assert_eq!(
///     store.item_key(&key),
///     "shop:2:django.contrib.sessions.cacheabcdefghijklmnopqrstuvwxyz012345"
/// );
/// let engine = Engine::new(store, Config::default());
/// # let _ = engine;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DjangoMemcachedStore {
    ns: Namespace,
    cookie_age: i64,
}

impl fmt::Debug for DjangoMemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoMemcachedStore")
            .field("servers", &self.ns.pool.description())
            .field("key_prefix", &self.ns.key_prefix)
            .field("version", &self.ns.version)
            .finish()
    }
}

/// One Django cache namespace on memcached: the servers, the cache's `KEY_PREFIX` and
/// `VERSION`, and an engine's key prefix (`cache` or `cached_db`).
#[derive(Clone)]
pub(crate) struct Namespace {
    pub(crate) pool: Pool,
    pub(crate) key_prefix: String,
    pub(crate) version: i64,
    /// Everything before the session key.
    head: String,
    max_item_size: usize,
}

impl Namespace {
    /// The memcached key of a session, as Django names it.
    pub(crate) fn item_key(&self, key: &SessionKey) -> String {
        format!("{}{}", self.head, key.as_str())
    }

    /// The server (`host:port`, as pymemcache names it) that holds a session.
    pub(crate) fn server_of(&self, key: &SessionKey) -> &str {
        self.pool.name_for(self.item_key(key).as_bytes())
    }

    /// The dict pickled as `PyMemcacheCache` stores it, refused when its item would
    /// exceed the size limit.
    pub(crate) fn value(&self, item: &str, data: &Data) -> Result<(Vec<u8>, u32), StoreError> {
        let (value, flags) = pymemcache_encode(data);
        check_size(item, &value, self.max_item_size)?;
        Ok((value, flags))
    }
}

/// A write of `value` under `flags` for `secs` seconds, as Django's
/// `get_backend_timeout` sends it (over 30 days: a Unix time).
pub(crate) fn write(value: Cow<'_, [u8]>, flags: u32, secs: i64) -> Write<'_> {
    Write {
        value,
        flags: Some(flags),
        exptime: ttl::from_secs(secs, ttl::unix_now()),
    }
}

/// Options for [`DjangoMemcachedStore`], from [`DjangoMemcachedStore::builder`], and for
/// [`DjangoMemcachedCachedDbStore`] (finished by
/// [`connect_cached_db`](DjangoMemcachedBuilder::connect_cached_db)).
#[derive(Debug, Clone)]
pub struct DjangoMemcachedBuilder {
    base: MemcachedBuilder,
    key_prefix: String,
    version: i64,
    cookie_age: i64,
}

impl DjangoMemcachedBuilder {
    /// The cache's `KEY_PREFIX` (default `""`).
    #[must_use]
    pub fn with_key_prefix(mut self, key_prefix: impl Into<String>) -> DjangoMemcachedBuilder {
        self.key_prefix = key_prefix.into();
        self
    }

    /// The cache's `VERSION` (default 1).
    #[must_use]
    pub fn with_version(mut self, version: i64) -> DjangoMemcachedBuilder {
        self.version = version;
        self
    }

    /// Takes the session settings this store needs from the engine's configuration, so
    /// each is set once: `SESSION_COOKIE_AGE` ([`Config::cookie_age`], default 1209600
    /// seconds), the life of a session whose item has no TTL (only something else than
    /// Django writes such items; the `cache` engine only).
    #[must_use]
    pub fn with_config(mut self, config: &Config) -> DjangoMemcachedBuilder {
        self.cookie_age = config.cookie_age();
        self
    }

    /// As [`MemcachedBuilder::with_timeout`].
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> DjangoMemcachedBuilder {
        self.base = self.base.with_timeout(timeout);
        self
    }

    /// As [`MemcachedBuilder::with_connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> DjangoMemcachedBuilder {
        self.base = self.base.with_connect_timeout(timeout);
        self
    }

    /// As [`MemcachedBuilder::with_pool_size`].
    #[must_use]
    pub fn with_pool_size(mut self, connections: usize) -> DjangoMemcachedBuilder {
        self.base = self.base.with_pool_size(connections);
        self
    }

    /// As [`MemcachedBuilder::with_max_item_size`].
    #[must_use]
    pub fn with_max_item_size(mut self, bytes: usize) -> DjangoMemcachedBuilder {
        self.base = self.base.with_max_item_size(bytes);
        self
    }

    /// Connects Django's `cache` engine. Fails with [`StoreErrorKind::Config`] for a bad
    /// URL or a `KEY_PREFIX` that makes keys memcached (and Django) refuse, and with
    /// [`StoreErrorKind::Unavailable`] when no server answers.
    pub async fn connect(self) -> Result<DjangoMemcachedStore, StoreError> {
        Ok(DjangoMemcachedStore {
            ns: self.namespace(CacheEngine::Cache).await?,
            cookie_age: self.cookie_age,
        })
    }

    /// Connects Django's `cached_db` engine: Django's cache on these servers in front of
    /// `db`, a store of Django's `db` layout. Errors as [`connect`](Self::connect).
    pub async fn connect_cached_db<S: SessionStore>(
        self,
        db: S,
    ) -> Result<DjangoMemcachedCachedDbStore<S>, StoreError> {
        let ns = self.namespace(CacheEngine::CachedDb).await?;
        Ok(DjangoMemcachedCachedDbStore::new(db, ns))
    }

    async fn namespace(&self, engine: CacheEngine) -> Result<Namespace, StoreError> {
        let head = engine.redis_key(&self.key_prefix, self.version, "");
        let longest = format!("{head}{}", "k".repeat(40));
        if !valid_key(longest.as_bytes()) {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "KEY_PREFIX {:?} makes session keys memcached refuses (Django's InvalidCacheKey): keys are at most 250 bytes without spaces or control characters",
                    self.key_prefix
                ),
            ));
        }
        Ok(Namespace {
            pool: self.base.pool().await?,
            key_prefix: self.key_prefix.clone(),
            version: self.version,
            head,
            max_item_size: self.base.max_item_size,
        })
    }
}

impl DjangoMemcachedStore {
    /// Options for Django's cache on the servers of `url` (`memcached://host:port,...`,
    /// Django's `LOCATION`).
    pub fn builder(url: &str) -> DjangoMemcachedBuilder {
        DjangoMemcachedBuilder {
            base: MemcachedBuilder::new(url),
            key_prefix: String::new(),
            version: DEFAULT_VERSION,
            cookie_age: DEFAULT_COOKIE_AGE,
        }
    }

    /// Connects with Django's defaults (`KEY_PREFIX` `""`, `VERSION` 1).
    pub async fn connect(url: &str) -> Result<DjangoMemcachedStore, StoreError> {
        DjangoMemcachedStore::builder(url).connect().await
    }

    /// The memcached key of a session, as Django names it.
    pub fn item_key(&self, key: &SessionKey) -> String {
        self.ns.item_key(key)
    }

    /// The server (`host:port`, as pymemcache names it) that holds a session.
    pub fn server_of(&self, key: &SessionKey) -> &str {
        self.ns.server_of(key)
    }

    /// The data and expiry of an item (`None`: not a session, logged).
    fn decode(
        &self,
        key: &SessionKey,
        item: &Item,
        now: OffsetDateTime,
    ) -> Option<(Data, OffsetDateTime)> {
        let data = match pymemcache_decode(&item.value, item.flags) {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(
                    key = %key.fingerprint(),
                    flags = item.flags,
                    error = %e,
                    "unreadable Django session in memcached; treating as no session (left in place)"
                );
                return None;
            }
        };
        let ttl_ms = match item.ttl {
            t if t > 0 => t.saturating_mul(1000),
            -1 => self.cookie_age.saturating_mul(1000),
            _ => 0,
        };
        let expires_at = cached_expiry(&data, ttl_ms, now);
        Some((data, expires_at))
    }

    /// Whether a stored value's absolute expiry is at or before `now`.
    fn dead(value: &[u8], now: OffsetDateTime) -> bool {
        pymemcache_decode(value, PYMEMCACHE_FLAG_PICKLE)
            .ok()
            .and_then(|d| d.absolute_expiry())
            .is_some_and(|e| e <= now)
    }
}

impl SessionStore for DjangoMemcachedStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let Some(item) = self.ns.pool.get_item(&self.item_key(key)).await? else {
            return Ok(Lookup::Missing);
        };
        Ok(match self.decode(key, &item, now) {
            Some((data, expires_at)) if expires_at > now => Lookup::Found {
                record: Record {
                    meta: Metadata::from_data(&data),
                    data,
                    expires_at,
                },
                token: Token::bytes(item.value),
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
        let item = self.item_key(key);
        let (value, flags) = self.ns.value(&item, &record.data)?;
        let secs = ttl::secs_until(record.expires_at, now);
        let created = || CreateOutcome::Created(Token::bytes(value.clone()));
        self.ns
            .pool
            .create_item(
                &item,
                &write(Cow::Borrowed(&value), flags, secs),
                created,
                // A record expired at `now` does not own the key; a live or unreadable one
                // does.
                |old| {
                    Ok(match self.decode(key, &old, now) {
                        Some((_, expires_at)) if expires_at <= now => {
                            Decision::Write(write(Cow::Borrowed(&value), flags, secs), created())
                        }
                        _ => Decision::Answer(CreateOutcome::Collision),
                    })
                },
                || CreateOutcome::Collision,
            )
            .await
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
        if Self::dead(expected, now) {
            return Ok(SaveOutcome::Missing);
        }
        let item = self.item_key(key);
        let (value, flags) = self.ns.value(&item, &record.data)?;
        let secs = ttl::secs_until(record.expires_at, now);
        self.ns
            .pool
            .update_item(
                &item,
                |current| {
                    let Some(current) = current else {
                        return Ok(Decision::Answer(SaveOutcome::Missing));
                    };
                    if current.value != expected {
                        // Replaced by a record that has expired meanwhile: gone; else a
                        // conflict.
                        return Ok(Decision::Answer(if Self::dead(&current.value, now) {
                            SaveOutcome::Missing
                        } else {
                            SaveOutcome::Conflict
                        }));
                    }
                    Ok(Decision::Write(
                        write(Cow::Borrowed(&value), flags, secs),
                        SaveOutcome::Saved(Token::bytes(value.clone())),
                    ))
                },
                // Rewritten meanwhile (a touch keeps the bytes): look again.
                Otherwise {
                    gone: SaveOutcome::Missing,
                    busy: SaveOutcome::Conflict,
                },
            )
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.ns.pool.delete_item(&self.item_key(key)).await
    }

    /// A new TTL for a live record: the same bytes written back, so the data, an absolute
    /// `_session_expiry` and the token stay as they are.
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let secs = ttl::secs_until(expires_at, now);
        self.ns
            .pool
            .update_item(
                &self.item_key(key),
                |current| {
                    let Some(item) = current else {
                        return Ok(Decision::Answer(false));
                    };
                    match self.decode(key, &item, now) {
                        Some((_, e)) if e > now => {}
                        _ => return Ok(Decision::Answer(false)),
                    }
                    Ok(Decision::Write(
                        write(Cow::Owned(item.value), item.flags, secs),
                        true,
                    ))
                },
                // Still live and busy being rewritten, each write with a TTL of its own.
                Otherwise {
                    gone: false,
                    busy: true,
                },
            )
            .await
    }

    /// Not supported: memcached cannot enumerate its keys; its TTLs evict expired
    /// sessions.
    async fn clear_expired_with_progress(
        &self,
        _now: OffsetDateTime,
        _progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        Err(not_supported("clearing expired sessions"))
    }

    /// The session dict is pickled: Python values are kept.
    fn python_values(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        format!(
            "{} (django cache engine, KEY_PREFIX {:?}, VERSION {})",
            self.ns.pool.description(),
            self.ns.key_prefix,
            self.ns.version
        )
    }
}
