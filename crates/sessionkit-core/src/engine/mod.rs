//! The engine: Django's session middleware, framework-agnostic.
//!
//! An adapter (tower, actix) calls [`Engine::begin`] with the request's `Cookie` header —
//! no store I/O — and puts the returned [`RequestSession`] where the handler's extractor
//! finds it. The extractor calls [`RequestSession::load`]: one store read, at most once
//! per request, and only for handlers that ask for the session. After the handler,
//! the adapter calls [`RequestSession::finish`] with the response status and applies the
//! returned [`Outcome`]: `Set-Cookie` values, `Vary: Cookie`, or a [`Failure`] that
//! replaces the response (400 for a session deleted concurrently, 503 when the store
//! failed). A failed load is a [`LoadError`], which carries the same kind of `Failure`:
//! every framework renders both the same way.
//!
//! The rules, in the order Django's `SessionMiddleware.process_response` applies them
//! (decided by the pure function in `plan.rs`):
//!
//! 1. A request that carried the cookie and ends with an empty session (flushed, or an
//!    unknown key that was read, or a cookie shorter than 8 characters) gets the removal
//!    cookie and `Vary: Cookie`.
//! 2. Otherwise `Vary: Cookie` if the session was accessed; and if it was modified (or
//!    `save_every_request`) and is not empty, it is saved and its cookie (re)sent — unless
//!    the response is a 5xx, which writes nothing and rotates nothing. Deletions (flush,
//!    logout) still apply on a 5xx: an error never undoes a logout.
//! 3. A new session gets a fresh key at its first save: a key sent by the client is never
//!    adopted (session fixation).
//!
//! Saves are compare-and-set: when another request changed the session since it was
//! loaded, the engine reloads it, re-applies this request's operations key by key and
//! tries again (see `docs/CONCURRENCY.md`). A save that finds the session deleted is
//! Django's `SessionInterrupted` (400); the session is not resurrected.
//!
//! # Where each part lives
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | [`Engine`]: what every request shares |
//! | `builder.rs` | [`EngineBuilder`]: store, configuration, clock |
//! | `request.rs` | [`RequestSession`]: one request, from the cookie to the outcome |
//! | `load.rs` | the load: one store read, expiry and timeouts enforced |
//! | `plan.rs` | the end-of-request decision, a pure function of state, cookie, status, config and time |
//! | `commit.rs` | the writes the plan asks for: create, rotate, save (compare-and-set with replay), touch, encode |
//! | `store_client.rs` | every store call: keys hashed at rest, timeout, span, metrics, errors |
//! | `failure.rs` | the HTTP error contract: [`Failure`], [`LoadError`], [`Outcome`] |
//! | `locks.rs` | lock mode (node lock + store lease) and the optimistic save queue |
//! | `stats.rs` | counters ([`StatsSnapshot`]) and their metrics |
//! | `cleanup.rs` | [`spawn_cleanup`], [`Engine::spawn_cleanup`] |
//! | `../events.rs` | lifecycle events: emitted here after the store confirmed each write |

mod builder;
mod cleanup;
mod commit;
mod failure;
mod limit;
mod load;
mod locks;
mod plan;
mod request;
mod stats;
mod store_client;

use std::fmt;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::events::{Event, EventRecord, EventSink, RevokeCause};
use crate::key::SessionKey;
use crate::session::Ctx;
use crate::store::{ClientStore, DynSessionStore, SessionStore, StoreError, StoreErrorKind};

pub use builder::{DEFAULT_EVENT_QUEUE, EngineBuilder};
pub use cleanup::{MIN_CLEANUP_PERIOD, spawn_cleanup};
pub use failure::{
    Failure, INTERNAL_MESSAGE, INTERRUPTED_MESSAGE, LoadError, LoadErrorKind, Outcome,
    SessionHeader, UNAVAILABLE_MESSAGE,
};
pub use request::{ClientHints, IdSource, RequestSession, SessionIds};
pub use stats::StatsSnapshot;

use locks::{KeyLocks, SaveQueue};
use stats::Stats;
use store_client::StoreClient;

/// The session engine: configuration, clock and store, shared by every request.
/// Cloning is one reference-count increment.
///
/// ```
/// use std::sync::Arc;
/// use sessionkit_core::{Config, Engine, ManualClock, MemoryStore};
/// use time::macros::datetime;
///
/// // The common case: a store and a configuration.
/// let engine = Engine::new(MemoryStore::new(), Config::default());
/// assert_eq!(engine.config().cookie_name(), "sessionid");
///
/// // Anything else through the builder (tests set a clock).
/// let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
/// let engine = Engine::builder(MemoryStore::new())
///     .with_config(Config::default())
///     .with_clock(Arc::new(clock))
///     .build();
/// assert_eq!(engine.clock().now(), datetime!(2026-01-01 00:00 UTC));
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    ctx: Arc<Ctx>,
    backend: Backend,
    stats: Arc<Stats>,
    /// Lock mode: one request per session at a time on this node.
    locks: KeyLocks,
    /// Optimistic mode: one compare-and-set loop per session at a time on this node, so a
    /// burst of concurrent writers queues instead of exhausting its retries.
    saves: SaveQueue,
    /// Test hook (feature `testing`): a pause before the end-of-request writes.
    save_delay: Option<std::time::Duration>,
    /// Where lifecycle events go, if anywhere.
    events: Option<EventSink>,
}

/// Where sessions live.
enum Backend {
    /// A server-side store, called through the one store client.
    Server(StoreClient),
    /// A client-side store: the session travels in the cookie.
    Client(Arc<dyn ClientStore>),
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("store", &self.describe_store())
            .field("config", &self.inner.ctx.config)
            .finish()
    }
}

impl Engine {
    /// An engine over a server-side store, with the system clock.
    pub fn new<S: SessionStore>(store: S, config: Config) -> Engine {
        Engine::builder(store).with_config(config).build()
    }

    /// An engine over a store chosen at run time, with the system clock.
    pub fn from_dyn(store: Arc<dyn DynSessionStore>, config: Config) -> Engine {
        EngineBuilder::server(store).with_config(config).build()
    }

    /// An engine over a client-side store (the session lives in the cookie), with the
    /// system clock.
    pub fn client_side<C: ClientStore>(store: C, config: Config) -> Engine {
        Engine::client_builder(store).with_config(config).build()
    }

    /// A builder over a server-side store (default configuration, system clock).
    pub fn builder<S: SessionStore>(store: S) -> EngineBuilder {
        EngineBuilder::server(Arc::new(store))
    }

    /// A builder over a client-side store.
    pub fn client_builder<C: ClientStore>(store: C) -> EngineBuilder {
        EngineBuilder::client(Arc::new(store))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.ctx.config
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.ctx.clock
    }

    /// The server-side store, if this engine has one.
    pub fn store(&self) -> Option<&Arc<dyn DynSessionStore>> {
        match &self.inner.backend {
            Backend::Server(s) => Some(s.store()),
            Backend::Client(_) => None,
        }
    }

    /// A description of the store, for logs and the inspector.
    pub fn describe_store(&self) -> String {
        match &self.inner.backend {
            Backend::Server(s) => s.store().describe_dyn(),
            Backend::Client(c) => c.describe(),
        }
    }

    /// The key a store sees for a client's key: the key itself, or with
    /// [`Config::hash_keys_at_rest`] its hash (what per-user listings return, and what
    /// `revoke_user`'s `keep` must be).
    pub fn at_rest(&self, key: &SessionKey) -> SessionKey {
        if self.inner.ctx.config.hash_keys_at_rest() {
            key.hashed()
        } else {
            *key
        }
    }

    /// Counters of what the engine did (loads, saves, conflicts, replays...).
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// Starts a request that carries only its `Cookie` header (several headers joined with
    /// `"; "`, see [`join_header_bytes`](crate::cookie::join_header_bytes)). No store I/O
    /// happens here. With a session header configured, use
    /// [`begin_with`](Engine::begin_with) (the `http` and `actix` modules' `begin` do).
    pub fn begin(&self, cookie_header: Option<&str>) -> RequestSession {
        RequestSession::begin(self.clone(), SessionIds::new(cookie_header, None))
    }

    /// Starts a request: reads the session id from the `Cookie` header and the session
    /// header, as [`Config::transport`] says. No store I/O happens here.
    pub fn begin_with(&self, ids: SessionIds<'_>) -> RequestSession {
        RequestSession::begin(self.clone(), ids)
    }

    /// Starts a request from a framework's headers: `cookie` is every `Cookie` header
    /// joined, and `header` looks a request header up by name; it is asked for the session
    /// header only when the configuration names one. Reports no client: a write keeps
    /// the session's stored client info. The `http` and `actix` modules' `begin` use
    /// [`begin_from_headers_with_client`](Self::begin_from_headers_with_client) instead.
    pub fn begin_from_headers<'h>(
        &self,
        cookie: Option<&str>,
        header: impl FnOnce(&str) -> Option<&'h str>,
    ) -> RequestSession {
        let header = self.config().session_header().and_then(header);
        self.begin_with(SessionIds::new(cookie, header))
    }

    /// Starts a request from a framework's headers, with its client for device metadata
    /// (see [`crate::device`]): `header` looks a request header up by name (asked for the
    /// session header and `User-Agent`), `peer` is the socket's peer address and
    /// `forwarded_for` the request's `X-Forwarded-For` headers, in order. With
    /// [`record_client_info`](Config::record_client_info) off, neither the user agent
    /// nor the forwarded addresses are looked at. The `http` and `actix` modules'
    /// `begin_with_peer` are this with their header maps.
    pub fn begin_from_headers_with_client<'h, F>(
        &self,
        cookie: Option<&str>,
        header: impl Fn(&str) -> Option<&'h str>,
        peer: Option<std::net::IpAddr>,
        forwarded_for: impl FnOnce() -> F,
    ) -> RequestSession
    where
        F: IntoIterator<Item = &'h str, IntoIter: DoubleEndedIterator>,
    {
        let cfg = self.config();
        let mut ids = SessionIds::new(cookie, cfg.session_header().and_then(&header));
        if cfg.record_client_info() {
            let ip = if cfg.trusted_proxies().is_empty() {
                peer
            } else {
                self.client_ip(peer, forwarded_for())
            };
            ids = ids.with_client(ClientHints::new(ip, header("user-agent")));
        }
        self.begin_with(ids)
    }

    /// The client's IP address for a connection from `peer` carrying the
    /// `X-Forwarded-For` headers `forwarded_for`, by the configured
    /// [`trusted_proxies`](Config::trusted_proxies) (see
    /// [`TrustedProxies::client_ip`](crate::device::TrustedProxies::client_ip)): the peer
    /// itself unless it is a trusted proxy.
    pub fn client_ip<'h>(
        &self,
        peer: Option<std::net::IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'h str, IntoIter: DoubleEndedIterator>,
    ) -> Option<std::net::IpAddr> {
        self.config()
            .trusted_proxies()
            .client_ip(peer, forwarded_for)
    }

    /// Removes expired sessions from the store; returns how many (an `expired` event
    /// reports them). A no-op for client-side stores.
    pub async fn clear_expired(&self) -> Result<u64, StoreError> {
        self.clear_expired_with_progress(&mut |_| {}).await
    }

    /// [`clear_expired`](Engine::clear_expired), calling `progress` with the running total
    /// as the store's batches complete.
    pub async fn clear_expired_with_progress(
        &self,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let n = match &self.inner.backend {
            Backend::Server(s) => {
                s.clear_expired(self.inner.ctx.clock.now(), progress)
                    .await?
            }
            Backend::Client(_) => 0,
        };
        if n > 0 {
            self.emit(Event::Expired { count: n });
        }
        Ok(n)
    }

    /// Runs [`clear_expired`](Engine::clear_expired) every `every` (at least
    /// [`MIN_CLEANUP_PERIOD`]), logging what it removed, until the returned handle is
    /// aborted or dropped with the runtime.
    pub fn spawn_cleanup(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        cleanup::spawn_engine_cleanup(self.clone(), every)
    }

    /// Revokes every session of `user` except `keep` (a client's key, e.g. the current
    /// session's), through the store's per-user index; returns how many (a `revoked`
    /// event reports them, with `cause`).
    pub async fn revoke_user(
        &self,
        user: &str,
        keep: Option<&SessionKey>,
        cause: RevokeCause,
    ) -> Result<u64, StoreError> {
        let index = self
            .store()
            .and_then(|s| s.user_index_dyn())
            .ok_or_else(|| {
                StoreError::new(
                    StoreErrorKind::Config,
                    format!(
                        "{} has no per-user index: sessions cannot be revoked by user",
                        self.describe_store()
                    ),
                )
            })?;
        let keep = keep.map(|k| self.at_rest(k));
        let n = index.revoke_user_boxed(user, keep.as_ref()).await?;
        self.emit(Event::Revoked {
            cause,
            user: Some(user.to_owned()),
            key: None,
            count: n,
        });
        Ok(n)
    }

    /// Revokes one session by its client key; `true` when a live session had it (a
    /// `revoked` event reports it). Whatever was stored under the key goes (a rotation
    /// marker, a stale cache entry).
    pub async fn revoke_key(
        &self,
        key: &SessionKey,
        cause: RevokeCause,
    ) -> Result<bool, StoreError> {
        let store = self.store().ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Config,
                "a client-side store keeps sessions in the browser: they cannot be revoked",
            )
        })?;
        let at_rest = self.at_rest(key);
        let live = matches!(
            store.load_boxed(&at_rest, self.clock().now()).await?,
            crate::store::Lookup::Found { .. }
        );
        store.delete_boxed(&at_rest).await?;
        if live {
            self.emit(Event::Revoked {
                cause,
                user: None,
                key: Some(key.fingerprint()),
                count: 1,
            });
        }
        Ok(live)
    }

    /// Revokes a session a listing returned (its key is the key at rest: see
    /// [`at_rest`](Engine::at_rest)); a `revoked` event reports it with that key's
    /// fingerprint.
    pub async fn revoke_listed(
        &self,
        info: &crate::store::SessionInfo,
        cause: RevokeCause,
    ) -> Result<(), StoreError> {
        let store = self.store().ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Config,
                "a client-side store keeps sessions in the browser: they cannot be revoked",
            )
        })?;
        store.delete_boxed(&info.key).await?;
        self.emit(Event::Revoked {
            cause,
            user: info.meta.user_id.clone(),
            key: Some(info.key.fingerprint()),
            count: 1,
        });
        Ok(())
    }

    /// Delivers a lifecycle event to the listener, if there is one, without waiting: a
    /// full queue drops it (counted).
    pub(crate) fn emit(&self, event: Event) {
        let Some(sink) = &self.inner.events else {
            return;
        };
        let record = EventRecord {
            event,
            time: self.inner.ctx.clock.now(),
        };
        if !sink.send(record) {
            self.inner.stats.add(stats::Ev::EventsDropped);
            metrics::counter!("sessionkit_events_dropped_total").increment(1);
        }
    }

    /// Waits until every lifecycle event emitted so far was delivered to the listener
    /// (tests; a graceful shutdown). Returns at once without a listener.
    pub fn flush_events(&self) {
        if let Some(sink) = &self.inner.events {
            sink.flush();
        }
    }

    fn ctx(&self) -> &Arc<Ctx> {
        &self.inner.ctx
    }

    fn server(&self) -> Option<&StoreClient> {
        match &self.inner.backend {
            Backend::Server(s) => Some(s),
            Backend::Client(_) => None,
        }
    }
}
