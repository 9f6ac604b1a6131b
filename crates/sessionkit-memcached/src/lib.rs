//! Memcached session store for sessionkit: [`MemcachedStore`], on one server or a pool of
//! servers.
//!
//! With the feature `django`, `DjangoMemcachedStore` is Django's `cache` session engine on
//! Django's `PyMemcacheCache`, and `DjangoMemcachedCachedDbStore` Django's `cached_db`
//! engine with its cache there, to share sessions with a Django application.
//!
//! ```no_run
//! # async fn run() -> Result<(), sessionkit_core::StoreError> {
//! use std::time::Duration;
//! use sessionkit_core::{Config, Engine};
//! use sessionkit_memcached::MemcachedStore;
//!
//! let store = MemcachedStore::connect("memcached://127.0.0.1:11211").await?;
//! // Two servers, keys spread between them as Django's PyMemcacheCache spreads them:
//! let pool = MemcachedStore::builder("memcached://10.0.0.1:11211,10.0.0.2:11211")
//!     .with_prefix("shop:")
//!     .with_timeout(Duration::from_millis(500))
//!     .connect()
//!     .await?;
//! let engine = Engine::new(store, Config::default());
//! # let _ = (pool, engine);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! One item per session under `{prefix}s:{session key}` (default prefix `sessionkit:`),
//! holding a version, the expiry, created-at, last-seen, the user id and the data as JSON
//! (the `record` module spells it out). Leases for lock mode are items under
//! `{prefix}l:{session key}`.
//!
//! | operation | memcached (meta protocol) |
//! | --- | --- |
//! | `load` | `mg key v c`; a record expired at the engine's `now` is missing |
//! | `create` | `ms key ... ME` (add); on a taken key, `mg`, and a record expired at `now` is replaced with `ms ... C<cas>` |
//! | `save` | `ms ... C<cas>` with version + 1 on the CAS value of this process's load of the session (its version the token's, read within 10 s); if that fails or there is none: `mg key v c`, compare the version with the token, `ms ... C<cas>`; never creates |
//! | `touch` | `mg`, then `ms ... C<cas>` with the new expiry and last-seen, same version |
//! | `delete` | `md key` |
//! | `retire` | `ms` of a rotation marker (`sk1r <version> <until>`) with a TTL to `until` |
//!
//! Every write is a compare-and-set on memcached's CAS value of the item just read, so two
//! writers never both succeed from one read; a write that loses the race reads again
//! (a `touch` that changed the item is not a conflict, a `save` is). The token is the
//! version in the value, not the CAS value itself, because a `touch` rewrites the item and
//! the contract keeps tokens across touches.
//!
//! # Expiry
//!
//! The engine's `now` decides whether a record is live (the expiry is in the value).
//! Memcached's TTL only evicts: each write sends `expires_at - now` in whole seconds,
//! rounded up plus one second (memcached's clock ticks once a second), so memcached never
//! evicts a record the engine still considers live. Memcached reads a TTL over 30 days as
//! an absolute Unix time; such TTLs are sent as `time() + TTL`, as Django does. A record
//! already expired is sent with a negative TTL, which memcached drops at once.
//!
//! # What memcached does not have
//!
//! Memcached cannot enumerate its keys, so this store has no listing and no per-user index
//! (`sessionkit list` and `revoke --user` refuse it), and
//! [`clear_expired`](SessionStore::clear_expired) fails with
//! [`StoreErrorKind::Unsupported`]: memcached evicts expired sessions itself, at their TTL.
//! Memcached also drops items when it runs out of memory (least recently used first): a
//! session can disappear before its expiry. Size memcached (`-m`) for the sessions it
//! holds, or use another store where losing a session matters.
//!
//! An item is at most 1 MiB by default (memcached's `-I`); a session too big for it is a
//! [`StoreErrorKind::Encode`] error on save, never a silent drop (see
//! [`MemcachedBuilder::with_max_item_size`]).
//!
//! # A pool of servers
//!
//! With several servers each key lives on one of them, chosen on the client the way
//! pymemcache's `HashClient` (behind Django's `PyMemcacheCache`) chooses: rendezvous
//! hashing with MurmurHash3 over `"{host}:{port}-{key}"`. Name the servers as Django's
//! `LOCATION` names them (the same host spelling: `localhost` and `127.0.0.1` hash
//! differently; the order does not matter) and both find a key on the same server.
//!
//! When a server is down, the requests for its keys fail — with
//! [`StoreErrorKind::Unavailable`] at once when the connection is refused, or
//! [`StoreErrorKind::Timeout`] after the timeout when the server does not answer — which
//! the engine turns into a 503; requests for the other servers' keys keep working. The
//! sessions on the server that went down are lost if it restarts (memcached keeps nothing
//! on disk), unreachable meanwhile. Keys never move to another server: pymemcache, by
//! default, does the opposite after `retry_attempts` failures — it takes the server out of
//! its ring for `dead_timeout` seconds and its keys land on the others — so during an
//! outage Django may create sessions on a server where sessionkit does not look for them.
//!
//! # Connections and timeouts
//!
//! Each server has its own pool of connections (at most
//! [`with_pool_size`](MemcachedBuilder::with_pool_size), 16 by default); a request takes
//! one, sends one command and reads its reply. Connecting gives up after 1 s and every
//! request (waiting for a connection included) after 2 s, below the engine's default
//! 5 s load and save timeouts. `connect` fails when no server answers, and logs a warning
//! for each one that does not.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "django")]
mod cached_db;
mod conn;
#[cfg(feature = "django")]
#[cfg_attr(docsrs, doc(cfg(feature = "django")))]
pub mod django;
mod item;
mod lease;
mod pool;
mod record;
mod ring;
mod ttl;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionKey, SessionStore, StoreError,
    StoreErrorKind, Token,
};
use time::OffsetDateTime;

#[cfg(feature = "django")]
pub use crate::cached_db::DjangoMemcachedCachedDbStore;
use crate::conn::{Reply, Settings};
#[cfg(feature = "django")]
pub use crate::django::{DjangoMemcachedBuilder, DjangoMemcachedStore};
use crate::item::{Decision, Item, Otherwise, Write};
use crate::pool::{Pool, valid_key};
use crate::record::{Decoded, Stored, decode_item, encode, encode_marker};

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "sessionkit:";

/// Memcached's default item size limit (`-I 1m`), in bytes.
pub const DEFAULT_MAX_ITEM_SIZE: usize = 1 << 20;

/// What memcached adds to a value in an item besides the key (header, CAS, suffix),
/// rounded up: a value passes the size check only if it fits with it.
const ITEM_OVERHEAD: usize = 64;

/// How often a write re-reads an item that changed under it before giving up.
pub(crate) const ATTEMPTS: usize = 8;

/// Sessions in memcached (native layout). Clones share the connections.
///
/// See the [crate docs](crate) for the layout, expiry, the pool of servers and what
/// memcached lacks.
#[derive(Clone)]
pub struct MemcachedStore {
    pool: Pool,
    prefix: String,
    max_item_size: usize,
    seen: Arc<Seen>,
}

/// How many loads [`Seen`] remembers before it starts afresh.
const SEEN_CAPACITY: usize = 4096;

/// How long a remembered load may serve a save: a request's span, so that the window
/// in which the CAS value must still name the item read stays that of one request (as
/// long as the loop's own read-then-write, within the store's timeouts).
const SEEN_FOR: Duration = Duration::from_secs(10);

/// What the last load of each session found (its version, CAS value, expiry, created-at),
/// so that a save following it writes at once with `ms ... C<cas>` instead of reading the
/// item again. A CAS value names one write of the item, so a compare-and-set on it
/// succeeds only if the item is still exactly the one that load read; any other answer
/// falls back to the read-compare-write loop. Bounded: full, it is emptied.
#[derive(Default)]
struct Seen(Mutex<HashMap<SessionKey, Loaded>>);

#[derive(Clone, Copy)]
struct Loaded {
    at: Instant,
    version: u64,
    cas: u64,
    expires_at: OffsetDateTime,
    created_at: Option<OffsetDateTime>,
}

impl Seen {
    fn remember(&self, key: SessionKey, loaded: Loaded) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= SEEN_CAPACITY && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, loaded);
    }

    fn take(&self, key: &SessionKey) -> Option<Loaded> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(key)
    }
}

impl fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("servers", &self.pool.description())
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// Options for [`MemcachedStore`] (and, with the feature `django`, the Django layout):
/// from [`MemcachedStore::builder`], finished by [`connect`](MemcachedBuilder::connect).
#[derive(Debug, Clone)]
pub struct MemcachedBuilder {
    url: String,
    prefix: String,
    settings: Settings,
    max_item_size: usize,
}

impl MemcachedBuilder {
    fn new(url: &str) -> MemcachedBuilder {
        MemcachedBuilder {
            url: url.to_owned(),
            prefix: DEFAULT_PREFIX.to_owned(),
            settings: Settings {
                connect_timeout: Duration::from_secs(1),
                timeout: Duration::from_secs(2),
                pool_size: 16,
            },
            max_item_size: DEFAULT_MAX_ITEM_SIZE,
        }
    }

    /// Puts every key under `prefix` instead of [`DEFAULT_PREFIX`] (printable ASCII, no
    /// spaces: memcached's key rules), so that several applications share memcached.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> MemcachedBuilder {
        self.prefix = prefix.into();
        self
    }

    /// How long a request may take, waiting for a pooled connection included (default
    /// 2 s). Keep it below the engine's load and save timeouts.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> MemcachedBuilder {
        self.settings.timeout = timeout;
        self
    }

    /// How long opening a connection may take (default 1 s).
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> MemcachedBuilder {
        self.settings.connect_timeout = timeout;
        self
    }

    /// The most connections open to each server at once (default 16, at least 1).
    #[must_use]
    pub fn with_pool_size(mut self, connections: usize) -> MemcachedBuilder {
        self.settings.pool_size = connections.max(1);
        self
    }

    /// Memcached's item size limit (its `-I` option; default 1 MiB). A session whose item
    /// would not fit is refused with [`StoreErrorKind::Encode`] before it is sent.
    #[must_use]
    pub fn with_max_item_size(mut self, bytes: usize) -> MemcachedBuilder {
        self.max_item_size = bytes;
        self
    }

    /// Connects. Fails with [`StoreErrorKind::Config`] for a bad URL or prefix, and with
    /// [`StoreErrorKind::Unavailable`] when no server answers.
    pub async fn connect(self) -> Result<MemcachedStore, StoreError> {
        check_prefix(&self.prefix, 2)?;
        let pool = self.pool().await?;
        Ok(MemcachedStore {
            pool,
            prefix: self.prefix,
            max_item_size: self.max_item_size,
            seen: Arc::default(),
        })
    }

    async fn pool(&self) -> Result<Pool, StoreError> {
        let specs = pool::parse_url(&self.url)?;
        Pool::connect(specs, self.settings).await
    }
}

/// Refuses a prefix that would make keys memcached rejects: `extra` bytes follow it,
/// then a session key of up to 40 bytes.
fn check_prefix(prefix: &str, extra: usize) -> Result<(), StoreError> {
    let longest = format!("{prefix}{}", "k".repeat(extra + 40));
    if valid_key(longest.as_bytes()) {
        return Ok(());
    }
    Err(StoreError::new(
        StoreErrorKind::Config,
        format!(
            "key prefix {prefix:?} makes keys memcached refuses: keys are at most 250 bytes of printable ASCII without spaces"
        ),
    ))
}

impl MemcachedStore {
    /// Connects with the default options (see [`builder`](MemcachedStore::builder)):
    /// `memcached://host:port[,host:port...]`, the port defaulting to 11211.
    pub async fn connect(url: &str) -> Result<MemcachedStore, StoreError> {
        MemcachedStore::builder(url).connect().await
    }

    /// Options for a store on the servers of `url`.
    pub fn builder(url: &str) -> MemcachedBuilder {
        MemcachedBuilder::new(url)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The memcached key of a session.
    pub fn item_key(&self, key: &SessionKey) -> String {
        format!("{}s:{}", self.prefix, key.as_str())
    }

    /// The server (`host:port`, as the hashing names it) that holds a session.
    pub fn server_of(&self, key: &SessionKey) -> &str {
        self.pool.name_for(self.item_key(key).as_bytes())
    }

    fn lease_key(&self, key: &SessionKey) -> String {
        format!("{}l:{}", self.prefix, key.as_str())
    }

    /// The decoded item (`None`: unreadable, logged).
    fn decode(key: &SessionKey, bytes: &[u8]) -> Option<Decoded> {
        match decode_item(bytes, key) {
            Ok(decoded) => Some(decoded),
            Err(why) => {
                tracing::warn!(key = %key.fingerprint(), problem = why, "unreadable session in memcached; treating as no session");
                None
            }
        }
    }

    /// The value of a record, refused when its item would exceed the size limit.
    fn value(&self, item: &str, version: u64, record: &Record) -> Result<Vec<u8>, StoreError> {
        let value = encode(version, record);
        check_size(item, &value, self.max_item_size)?;
        Ok(value)
    }
}

/// A native write of `value`, with the TTL for `expires_at` at `now`.
fn write(value: Cow<'_, [u8]>, expires_at: OffsetDateTime, now: OffsetDateTime) -> Write<'_> {
    Write {
        value,
        flags: None,
        exptime: ttl::exptime(expires_at, now),
    }
}

/// Refuses a value whose item would exceed `max` bytes.
pub(crate) fn check_size(item: &str, value: &[u8], max: usize) -> Result<(), StoreError> {
    let size = item.len() + value.len() + ITEM_OVERHEAD;
    if size <= max {
        return Ok(());
    }
    Err(StoreError::new(
        StoreErrorKind::Encode,
        format!(
            "the session is too big for memcached: {} bytes, over the item size limit of {max} bytes (memcached's -I); not stored",
            value.len()
        ),
    ))
}

pub(crate) fn unexpected(verb: &str, reply: &Reply) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!("unexpected memcached reply to {verb}: {reply:?}"),
    )
}

impl SessionStore for MemcachedStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let Some(item) = self.pool.get_item(&self.item_key(key)).await? else {
            return Ok(Lookup::Missing);
        };
        Ok(match Self::decode(key, &item.value) {
            Some(Decoded::Record(s)) if s.record.expires_at > now => {
                self.seen.remember(
                    *key,
                    Loaded {
                        at: Instant::now(),
                        version: s.version,
                        cas: item.cas,
                        expires_at: s.record.expires_at,
                        created_at: s.record.meta.created_at,
                    },
                );
                Lookup::Found {
                    record: s.record,
                    token: Token::version(s.version),
                }
            }
            Some(Decoded::Retired { until, .. }) if until > now => Lookup::Retired { until },
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
        let first = self.value(&item, 1, record)?;
        let item = &item;
        self.pool
            .create_item(
                item,
                &write(Cow::Borrowed(&first), record.expires_at, now),
                || CreateOutcome::Created(Token::version(1)),
                // Taken: by a live record or marker (a collision), an unreadable item (left
                // alone) or a record or marker expired at `now`, which does not own the key.
                |old| {
                    let old_version = match decode_item(&old.value, key) {
                        Ok(Decoded::Record(old)) if old.record.expires_at <= now => old.version,
                        Ok(Decoded::Retired { version, until }) if until <= now => version,
                        _ => return Ok(Decision::Answer(CreateOutcome::Collision)),
                    };
                    let version = old_version.saturating_add(1);
                    let value = self.value(item, version, record)?;
                    Ok(Decision::Write(
                        write(Cow::Owned(value), record.expires_at, now),
                        CreateOutcome::Created(Token::version(version)),
                    ))
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
        let Some(expected) = token.as_version() else {
            // A token this store never handed out cannot match.
            return Ok(SaveOutcome::Conflict);
        };
        let item = self.item_key(key);
        let item = &item;
        let version = expected.saturating_add(1);
        if let Some(loaded) = self.seen.take(key)
            && loaded.version == expected
            && loaded.expires_at > now
            && loaded.at.elapsed() < SEEN_FOR
        {
            // The item as this process last loaded it, still live at `now`: written at
            // once on its CAS value, read again only if it changed since.
            let mut record = record.clone();
            record.meta.created_at = loaded.created_at.or(record.meta.created_at);
            let value = self.value(item, version, &record)?;
            let w = write(Cow::Owned(value), record.expires_at, now);
            if self.pool.write_if_unchanged(item, &w, loaded.cas).await? {
                return Ok(SaveOutcome::Saved(Token::version(version)));
            }
        }
        self.pool
            .update_item(
                item,
                |current| {
                    let Some(Decoded::Record(stored)) =
                        current.and_then(|c| Self::decode(key, &c.value))
                    else {
                        return Ok(Decision::Answer(SaveOutcome::Missing));
                    };
                    if stored.record.expires_at <= now {
                        return Ok(Decision::Answer(SaveOutcome::Missing));
                    }
                    if stored.version != expected {
                        return Ok(Decision::Answer(SaveOutcome::Conflict));
                    }
                    let mut record = record.clone();
                    // Created-at belongs to the record as first stored.
                    record.meta.created_at =
                        stored.record.meta.created_at.or(record.meta.created_at);
                    let value = self.value(item, version, &record)?;
                    Ok(Decision::Write(
                        write(Cow::Owned(value), record.expires_at, now),
                        SaveOutcome::Saved(Token::version(version)),
                    ))
                },
                // Changed since read: a touch (read again), or a save that the next read
                // detects.
                Otherwise {
                    gone: SaveOutcome::Missing,
                    busy: SaveOutcome::Conflict,
                },
            )
            .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.pool.delete_item(&self.item_key(key)).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let item = self.item_key(key);
        let item = &item;
        self.pool
            .update_item(
                item,
                |current| {
                    let Some(Decoded::Record(mut stored)) =
                        current.and_then(|c| Self::decode(key, &c.value))
                    else {
                        return Ok(Decision::Answer(false));
                    };
                    if stored.record.expires_at <= now {
                        return Ok(Decision::Answer(false));
                    }
                    stored.record.expires_at = expires_at;
                    stored.record.meta.last_seen = Some(now);
                    let value = self.value(item, stored.version, &stored.record)?;
                    Ok(Decision::Write(
                        write(Cow::Owned(value), expires_at, now),
                        true,
                    ))
                },
                // Still live and being rewritten all the time, each write with an expiry
                // of its own.
                Otherwise {
                    gone: false,
                    busy: true,
                },
            )
            .await
    }

    /// Replaces the record by a marker until `until`. Its TTL runs to `until` on the
    /// engine's clock, read off the record it replaces (its expiry minus its remaining
    /// TTL), or the system clock when there is no record.
    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        let item = self.item_key(key);
        let system_now = OffsetDateTime::now_utc();
        let (version, now) = match self.pool.get_item(&item).await? {
            Some(Item {
                value,
                ttl: remaining,
                ..
            }) => match decode_item(&value, key) {
                Ok(Decoded::Record(s)) if remaining > 0 => (
                    s.version,
                    s.record
                        .expires_at
                        .checked_sub(time::Duration::seconds(remaining))
                        .unwrap_or(system_now),
                ),
                Ok(Decoded::Record(Stored { version, .. }) | Decoded::Retired { version, .. }) => {
                    (version, system_now)
                }
                Err(_) => (0, system_now),
            },
            None => (0, system_now),
        };
        let marker = encode_marker(version, until);
        self.pool
            .set_item(&item, &write(Cow::Borrowed(&marker), until, now))
            .await
    }

    /// Not supported: memcached cannot enumerate its keys. It evicts expired sessions
    /// itself, at their TTL.
    async fn clear_expired_with_progress(
        &self,
        _now: OffsetDateTime,
        _progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        Err(not_supported("clearing expired sessions"))
    }

    fn describe(&self) -> String {
        self.pool.description().to_owned()
    }

    sessionkit_core::offers!(leases);
}

/// The error of what memcached cannot do.
pub(crate) fn not_supported(what: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unsupported,
        format!(
            "{what} is not supported on memcached: it cannot enumerate its keys (memcached evicts expired sessions itself, at their TTL)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked_against_memcached_key_rules() {
        assert!(check_prefix(DEFAULT_PREFIX, 2).is_ok());
        assert!(check_prefix("", 2).is_ok());
        assert!(check_prefix(&"p".repeat(208), 2).is_ok());
        for bad in ["a b:", "tab\t", &"p".repeat(209)] {
            assert_eq!(
                check_prefix(bad, 2).unwrap_err().kind(),
                StoreErrorKind::Config,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn items_over_the_limit_are_refused_before_sending() {
        let item = "sessionkit:s:k";
        let fits = vec![b'x'; DEFAULT_MAX_ITEM_SIZE - item.len() - ITEM_OVERHEAD];
        assert!(check_size(item, &fits, DEFAULT_MAX_ITEM_SIZE).is_ok());
        let over = vec![b'x'; fits.len() + 1];
        let e = check_size(item, &over, DEFAULT_MAX_ITEM_SIZE).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Encode);
        assert!(e.message().contains("too big for memcached"), "{e}");
    }
}
