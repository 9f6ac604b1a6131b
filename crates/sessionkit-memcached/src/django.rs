//! Django's `cache` session engine on memcached (feature `django`):
//! [`DjangoMemcachedStore`], sharing sessions with a Django application whose `CACHES`
//! use Django's `PyMemcacheCache`.
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

use std::fmt;
use std::time::Duration;

use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey, SessionStore,
    StoreError, StoreErrorKind, Token,
};
use sessionkit_django::DEFAULT_COOKIE_AGE;
use sessionkit_django::keys::{CacheEngine, DEFAULT_VERSION};
use sessionkit_django::pickle::{pymemcache_decode, pymemcache_encode};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::conn::{Cmd, Reply};
use crate::pool::{Pool, valid_key};
use crate::{ATTEMPTS, MemcachedBuilder, check_size, not_supported, ttl, unexpected};

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
    pool: Pool,
    key_prefix: String,
    version: i64,
    /// Everything before the session key.
    head: String,
    cookie_age: i64,
    max_item_size: usize,
}

impl fmt::Debug for DjangoMemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoMemcachedStore")
            .field("servers", &self.pool.description())
            .field("key_prefix", &self.key_prefix)
            .field("version", &self.version)
            .finish()
    }
}

/// Options for [`DjangoMemcachedStore`], from [`DjangoMemcachedStore::builder`].
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

    /// Django's `SESSION_COOKIE_AGE` in seconds (default 1209600): the life of a session
    /// whose item has no TTL (only something else than Django writes such items).
    #[must_use]
    pub fn with_cookie_age(mut self, seconds: i64) -> DjangoMemcachedBuilder {
        self.cookie_age = seconds;
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

    /// Connects. Fails with [`StoreErrorKind::Config`] for a bad URL or a `KEY_PREFIX`
    /// that makes keys memcached (and Django) refuse, and with
    /// [`StoreErrorKind::Unavailable`] when no server answers.
    pub async fn connect(self) -> Result<DjangoMemcachedStore, StoreError> {
        let head = CacheEngine::Cache.redis_key(&self.key_prefix, self.version, "");
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
        let pool = self.base.pool().await?;
        Ok(DjangoMemcachedStore {
            pool,
            key_prefix: self.key_prefix,
            version: self.version,
            head,
            cookie_age: self.cookie_age,
            max_item_size: self.base.max_item_size,
        })
    }
}

/// An item as read: the value, its client flags, CAS value and remaining TTL.
struct Item {
    value: Vec<u8>,
    flags: u32,
    cas: u64,
    ttl: i64,
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
        format!("{}{}", self.head, key.as_str())
    }

    /// The server (`host:port`, as pymemcache names it) that holds a session.
    pub fn server_of(&self, key: &SessionKey) -> &str {
        self.pool.name_for(self.item_key(key).as_bytes())
    }

    async fn get(&self, item: &str) -> Result<Option<Item>, StoreError> {
        let k = item.as_bytes();
        let cmd = Cmd::get(k).flag("v").flag("f").flag("c").flag("t");
        match self.pool.call(k, &cmd).await? {
            Reply::Value(value, f) => Ok(Some(Item {
                value,
                flags: f.flags.unwrap_or(0),
                cas: f.cas.unwrap_or(0),
                ttl: f.ttl.unwrap_or(-1),
            })),
            Reply::Miss => Ok(None),
            other => Err(unexpected("mg", &other)),
        }
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
        let expires_at = data.absolute_expiry().unwrap_or_else(|| match item.ttl {
            t if t > 0 => plus_secs(now, t),
            -1 => plus_secs(now, self.cookie_age),
            _ => now,
        });
        Some((data, expires_at))
    }

    /// `ms` with Django's TTL for `expires_at` at `now`: an add, or a compare-and-set.
    async fn store(
        &self,
        item: &str,
        value: &[u8],
        flags: u32,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        cas: Option<u64>,
    ) -> Result<Reply, StoreError> {
        let k = item.as_bytes();
        let exptime = ttl::from_secs(ttl::secs_until(expires_at, now), ttl::unix_now());
        let cmd = Cmd::set(k, value)
            .flag(format!("F{flags}"))
            .flag(format!("T{exptime}"));
        let cmd = match cas {
            Some(cas) => cmd.flag(format!("C{cas}")),
            None => cmd.flag("ME"),
        };
        self.pool.call(k, &cmd).await
    }

    /// Whether a stored value's absolute expiry is at or before `now`.
    fn dead(value: &[u8], now: OffsetDateTime) -> bool {
        pymemcache_decode(value, sessionkit_django::pickle::PYMEMCACHE_FLAG_PICKLE)
            .ok()
            .and_then(|d| d.absolute_expiry())
            .is_some_and(|e| e <= now)
    }
}

/// `t + secs`, saturating.
fn plus_secs(t: OffsetDateTime, secs: i64) -> OffsetDateTime {
    t.checked_add(time::Duration::seconds(secs))
        .unwrap_or(PrimitiveDateTime::MAX.assume_utc())
}

impl SessionStore for DjangoMemcachedStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let Some(item) = self.get(&self.item_key(key)).await? else {
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
        let item_key = self.item_key(key);
        let (value, flags) = pymemcache_encode(&record.data);
        check_size(&item_key, &value, self.max_item_size)?;
        for _ in 0..ATTEMPTS {
            match self
                .store(&item_key, &value, flags, record.expires_at, now, None)
                .await?
            {
                Reply::Done(_) => return Ok(CreateOutcome::Created(Token::bytes(value))),
                Reply::NotStored => {}
                other => return Err(unexpected("ms", &other)),
            }
            let Some(old) = self.get(&item_key).await? else {
                continue; // evicted meanwhile: add again
            };
            // A record expired at `now` does not own the key; a live or unreadable one does.
            match self.decode(key, &old, now) {
                Some((_, expires_at)) if expires_at <= now => {}
                _ => return Ok(CreateOutcome::Collision),
            }
            match self
                .store(
                    &item_key,
                    &value,
                    flags,
                    record.expires_at,
                    now,
                    Some(old.cas),
                )
                .await?
            {
                Reply::Done(_) => return Ok(CreateOutcome::Created(Token::bytes(value))),
                Reply::Exists => return Ok(CreateOutcome::Collision),
                Reply::NotFound => {}
                other => return Err(unexpected("ms", &other)),
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
        if Self::dead(expected, now) {
            return Ok(SaveOutcome::Missing);
        }
        let item_key = self.item_key(key);
        let (value, flags) = pymemcache_encode(&record.data);
        check_size(&item_key, &value, self.max_item_size)?;
        for _ in 0..ATTEMPTS {
            let Some(current) = self.get(&item_key).await? else {
                return Ok(SaveOutcome::Missing);
            };
            if current.value != expected {
                // Replaced by a record that has expired meanwhile: gone; else a conflict.
                return Ok(if Self::dead(&current.value, now) {
                    SaveOutcome::Missing
                } else {
                    SaveOutcome::Conflict
                });
            }
            match self
                .store(
                    &item_key,
                    &value,
                    flags,
                    record.expires_at,
                    now,
                    Some(current.cas),
                )
                .await?
            {
                Reply::Done(_) => return Ok(SaveOutcome::Saved(Token::bytes(value))),
                // Rewritten meanwhile (a touch keeps the bytes): look again.
                Reply::Exists => {}
                Reply::NotFound => return Ok(SaveOutcome::Missing),
                other => return Err(unexpected("ms", &other)),
            }
        }
        Ok(SaveOutcome::Conflict)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let item = self.item_key(key);
        let k = item.as_bytes();
        match self.pool.call(k, &Cmd::delete(k)).await? {
            Reply::Done(_) | Reply::NotFound => Ok(()),
            other => Err(unexpected("md", &other)),
        }
    }

    /// A new TTL for a live record: the same bytes written back, so the data, an absolute
    /// `_session_expiry` and the token stay as they are.
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item_key = self.item_key(key);
        for _ in 0..ATTEMPTS {
            let Some(item) = self.get(&item_key).await? else {
                return Ok(false);
            };
            match self.decode(key, &item, now) {
                Some((_, e)) if e > now => {}
                _ => return Ok(false),
            }
            match self
                .store(
                    &item_key,
                    &item.value,
                    item.flags,
                    expires_at,
                    now,
                    Some(item.cas),
                )
                .await?
            {
                Reply::Done(_) => return Ok(true),
                Reply::Exists => {}
                Reply::NotFound => return Ok(false),
                other => return Err(unexpected("ms", &other)),
            }
        }
        // Still live and busy being rewritten, each write with a TTL of its own.
        Ok(true)
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
            self.pool.description(),
            self.key_prefix,
            self.version
        )
    }
}
