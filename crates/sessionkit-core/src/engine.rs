//! The engine: Django's session middleware, framework-agnostic.
//!
//! An adapter (tower, actix) calls [`Engine::begin`] with the request's `Cookie` header —
//! no store I/O — and puts the returned [`RequestSession`] where the handler's extractor
//! finds it. The extractor calls [`RequestSession::load`]: one store read, at most once
//! per request, and only for handlers that ask for the session. After the handler,
//! the adapter calls [`RequestSession::finish`] with the response status and applies the
//! returned [`Outcome`]: `Set-Cookie` values, `Vary: Cookie`, or a replacement response
//! (400 for a session deleted concurrently, 503 when the store failed).
//!
//! The rules, in the order Django's `SessionMiddleware.process_response` applies them:
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

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::OwnedMutexGuard;

use crate::clock::{Clock, SystemClock};
use crate::config::{Concurrency, Config};
use crate::cookie;
use crate::data::Data;
use crate::expiry::{self, EXPIRY_KEY, Stored};
use crate::key::{ClientKey, SessionKey};
use crate::session::{AUTH_USER_ID_KEY, Ctx, Identity, Op, Session};
use crate::store::{
    ClientStore, CreateOutcome, DynSessionStore, Lookup, Metadata, Record, SaveOutcome,
    SessionStore, StoreError, StoreErrorKind, Token,
};
use crate::value::Value;

/// Django's `SessionInterrupted` message, sent with the 400.
pub const INTERRUPTED_MESSAGE: &str = "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.";

/// The body of a 503 caused by the session store.
pub const UNAVAILABLE_MESSAGE: &str = "The session store is unavailable. Please retry.";

/// How many fresh keys `create` tries before giving up (a collision of 165-bit random
/// keys means a broken random source, not bad luck).
const CREATE_ATTEMPTS: usize = 8;

/// The session engine: configuration, clock and store, shared by every request.
/// Cloning is one reference-count increment.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    ctx: Arc<Ctx>,
    backend: Backend,
    stats: Stats,
    /// Lock mode: one request per session at a time on this node.
    locks: KeyLocks,
    /// Optimistic mode: one compare-and-set loop per session at a time on this node, so a
    /// burst of concurrent writers queues instead of exhausting its retries.
    saves: SaveQueue,
    save_delay: Option<Duration>,
}

enum Backend {
    Server(Arc<dyn DynSessionStore>),
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
    /// An engine over a server-side store.
    pub fn new<S: SessionStore>(store: S, config: Config) -> Engine {
        Engine::from_dyn(Arc::new(store), config)
    }

    /// An engine over a store chosen at run time.
    pub fn from_dyn(store: Arc<dyn DynSessionStore>, config: Config) -> Engine {
        Engine::build(Backend::Server(store), config)
    }

    /// An engine over a client-side store (the session lives in the cookie).
    pub fn client_side<C: ClientStore>(store: C, config: Config) -> Engine {
        Engine::build(Backend::Client(Arc::new(store)), config)
    }

    fn build(backend: Backend, config: Config) -> Engine {
        let python_values = match &backend {
            Backend::Server(store) => store.python_values_dyn(),
            Backend::Client(_) => false,
        };
        Engine {
            inner: Arc::new(EngineInner {
                ctx: Arc::new(Ctx {
                    config,
                    clock: Arc::new(SystemClock),
                    python_values,
                }),
                backend,
                stats: Stats::default(),
                locks: KeyLocks::default(),
                saves: SaveQueue::default(),
                save_delay: None,
            }),
        }
    }

    fn rebuild(self, f: impl FnOnce(&mut EngineInner)) -> Engine {
        let inner = match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                f(&mut inner);
                inner
            }
            Err(shared) => {
                let mut inner = EngineInner {
                    ctx: Arc::clone(&shared.ctx),
                    backend: match &shared.backend {
                        Backend::Server(s) => Backend::Server(Arc::clone(s)),
                        Backend::Client(c) => Backend::Client(Arc::clone(c)),
                    },
                    stats: Stats::default(),
                    locks: KeyLocks::default(),
                    saves: SaveQueue::default(),
                    save_delay: shared.save_delay,
                };
                f(&mut inner);
                inner
            }
        };
        Engine {
            inner: Arc::new(inner),
        }
    }

    /// Uses `clock` instead of the system clock (tests use a
    /// [`ManualClock`](crate::ManualClock)).
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Engine {
        self.rebuild(|inner| {
            inner.ctx = Arc::new(Ctx {
                config: inner.ctx.config.clone(),
                clock,
                python_values: inner.ctx.python_values,
            });
        })
    }

    /// Test hook: waits this long before the end-of-request writes, so that tests can
    /// force concurrent requests to overlap and prove that conflicts are handled.
    #[doc(hidden)]
    #[must_use]
    pub fn with_save_delay(self, delay: Duration) -> Engine {
        self.rebuild(|inner| inner.save_delay = Some(delay))
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
            Backend::Server(s) => Some(s),
            Backend::Client(_) => None,
        }
    }

    /// A description of the store, for logs and the inspector.
    pub fn describe_store(&self) -> String {
        match &self.inner.backend {
            Backend::Server(s) => s.describe_dyn(),
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

    /// Starts a request: reads the session cookie from the `Cookie` header (several
    /// headers joined with `"; "`). No store I/O happens here.
    pub fn begin(&self, cookie_header: Option<&str>) -> RequestSession {
        let name = self.inner.ctx.config.cookie_name();
        let value = cookie_header.and_then(|h| cookie::find(h, name));
        let incoming = match &self.inner.backend {
            Backend::Server(_) => match ClientKey::classify(value.as_deref()) {
                ClientKey::Absent => Incoming::Absent,
                ClientKey::TooShort => Incoming::TooShort,
                ClientKey::Impossible => {
                    tracing::debug!("session cookie cannot be a key; treating it as unknown");
                    Incoming::Impossible
                }
                ClientKey::Key(k) => Incoming::Key(k),
            },
            Backend::Client(_) => match value {
                None => Incoming::Absent,
                Some(v) if v.chars().count() < crate::key::MIN_KEY_LEN => Incoming::TooShort,
                Some(v) => Incoming::Client(v.into_owned().into_boxed_str()),
            },
        };
        RequestSession {
            inner: Arc::new(ReqInner {
                engine: self.clone(),
                incoming,
                loaded: tokio::sync::OnceCell::new(),
                lock: Mutex::new(None),
                finished: AtomicBool::new(false),
            }),
        }
    }

    /// Removes expired sessions from the store; returns how many. A no-op for client-side
    /// stores.
    pub async fn clear_expired(&self) -> Result<u64, StoreError> {
        match &self.inner.backend {
            Backend::Server(s) => s.clear_expired_boxed(self.inner.ctx.clock.now()).await,
            Backend::Client(_) => Ok(0),
        }
    }

    fn ctx(&self) -> &Arc<Ctx> {
        &self.inner.ctx
    }

    /// When a record loaded now stops being valid, by the engine's own rules (the store's
    /// expiry, plus the idle and absolute timeouts).
    fn live(&self, record: &Record, now: OffsetDateTime) -> bool {
        let cfg = &self.inner.ctx.config;
        if record.expires_at <= now {
            return false;
        }
        if let (Some(idle), Some(seen)) = (cfg.idle_timeout(), record.meta.last_seen)
            && seen + idle <= now
        {
            return false;
        }
        if let (Some(abs), Some(created)) = (cfg.absolute_timeout(), record.meta.created_at)
            && created + abs <= now
        {
            return false;
        }
        true
    }
}

/// What the request's cookie said.
enum Incoming {
    Absent,
    TooShort,
    Impossible,
    Key(SessionKey),
    Client(Box<str>),
}

impl Incoming {
    fn present(&self) -> bool {
        !matches!(self, Incoming::Absent)
    }
}

/// Where the loaded session came from.
enum Origin {
    /// No stored session: no cookie, an unknown or expired key, a bad client cookie.
    Fresh,
    /// A stored session.
    Stored {
        key: SessionKey,
        token: Token,
        meta: Metadata,
        /// The data as loaded, to tell which keys other requests changed meanwhile.
        original: Data,
    },
    /// A key retired by a recent rotation.
    Retired { until: OffsetDateTime },
    /// A valid client-side session.
    Client,
}

struct Loaded {
    session: Session,
    origin: Origin,
}

/// One request's session, lazily loaded. Adapters store it in the request (extensions);
/// extractors call [`load`](RequestSession::load); adapters call
/// [`finish`](RequestSession::finish) with the response status.
#[derive(Clone)]
pub struct RequestSession {
    inner: Arc<ReqInner>,
}

struct ReqInner {
    engine: Engine,
    incoming: Incoming,
    loaded: tokio::sync::OnceCell<Loaded>,
    lock: Mutex<Option<HeldLock>>,
    finished: AtomicBool,
}

impl fmt::Debug for RequestSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSession")
            .field("loaded", &self.inner.loaded.initialized())
            .finish_non_exhaustive()
    }
}

/// Why a session could not be loaded. The extractor answers 503 with `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The store failed.
    #[error("session store failed: {0}")]
    Store(#[source] StoreError),
    /// The store did not answer within the load timeout.
    #[error("session store did not answer within {0:?}")]
    Timeout(Duration),
    /// In lock mode, the session's lock was not free within the lock timeout.
    #[error("session is locked by another request (waited {0:?})")]
    Locked(Duration),
}

impl LoadError {
    /// The HTTP status for this error (503).
    pub fn status(&self) -> u16 {
        503
    }
}

impl RequestSession {
    /// The engine this request belongs to.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Whether the request carried the session cookie.
    pub fn cookie_present(&self) -> bool {
        self.inner.incoming.present()
    }

    /// Loads the session (one store read, at most once per request; later calls return
    /// the same session). Not an access in Django's sense: a handler that loads the
    /// session but never uses it sends no cookie and no `Vary`.
    pub async fn load(&self) -> Result<Session, LoadError> {
        let loaded = self
            .inner
            .loaded
            .get_or_try_init(|| self.load_uncached())
            .await?;
        Ok(loaded.session.clone())
    }

    async fn load_uncached(&self) -> Result<Loaded, LoadError> {
        let engine = &self.inner.engine;
        let ctx = Arc::clone(engine.ctx());
        let cfg = &ctx.config;
        let fresh = |ctx: Arc<Ctx>| Loaded {
            session: Session::new(ctx, Data::new(), Identity::None),
            origin: Origin::Fresh,
        };
        match (&self.inner.incoming, &engine.inner.backend) {
            (Incoming::Key(key), Backend::Server(store)) => {
                if cfg.concurrency() == Concurrency::Lock {
                    let held = engine.lock_session(store, engine.at_rest(key)).await?;
                    *self.inner.lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(held);
                }
                let now = ctx.clock.now();
                engine.inner.stats.add(Ev::Loads);
                let lookup = observe_within(cfg.load_timeout(), "load", store.load_boxed(&engine.at_rest(key), now))
                    .await
                    .map_err(|e| {
                        engine.inner.stats.add(Ev::StoreErrors);
                        if e.kind() == StoreErrorKind::Timeout {
                            tracing::warn!(key = %key.fingerprint(), timeout = ?cfg.load_timeout(), "session load timed out");
                            LoadError::Timeout(cfg.load_timeout())
                        } else {
                            tracing::error!(key = %key.fingerprint(), error = %e.report(), "session load failed");
                            LoadError::Store(e)
                        }
                    })?;
                Ok(match lookup {
                    Lookup::Found { record, token } if engine.live(&record, now) => Loaded {
                        session: Session::new(ctx, record.data.clone(), Identity::Key(*key)),
                        origin: Origin::Stored {
                            key: *key,
                            token,
                            meta: record.meta,
                            original: record.data,
                        },
                    },
                    Lookup::Found { .. } => {
                        engine.inner.stats.add(Ev::Expired);
                        tracing::debug!(key = %key.fingerprint(), "session expired");
                        fresh(ctx)
                    }
                    Lookup::Missing => {
                        tracing::debug!(key = %key.fingerprint(), "unknown session key");
                        fresh(ctx)
                    }
                    Lookup::Retired { until } => Loaded {
                        session: Session::new(ctx, Data::new(), Identity::None),
                        origin: Origin::Retired { until },
                    },
                })
            }
            (Incoming::Client(value), Backend::Client(store)) => {
                let now = ctx.clock.now();
                engine.inner.stats.add(Ev::Loads);
                let Some(contents) = store.decode(value, now) else {
                    return Ok(fresh(ctx));
                };
                let stored = Stored::from_value(contents.data.get(EXPIRY_KEY).as_ref());
                let expires = stored.date(contents.issued_at, cfg.cookie_age());
                let issued_abs_ok = cfg
                    .absolute_timeout()
                    .is_none_or(|abs| contents.issued_at + abs > now);
                // Django's signed cookies stay valid for exactly cookie_age seconds
                // (inclusive); beyond Django, the session's own expiry counts too.
                if now > expires || !issued_abs_ok {
                    engine.inner.stats.add(Ev::Expired);
                    tracing::debug!("client-side session expired");
                    return Ok(fresh(ctx));
                }
                Ok(Loaded {
                    session: Session::new(ctx, contents.data, Identity::Client),
                    origin: Origin::Client,
                })
            }
            _ => Ok(fresh(ctx)),
        }
    }

    /// Ends the request: decides, from the session's state and the response status, what
    /// to write and which headers to send. Call it once, after the handler; later calls
    /// return an empty outcome.
    ///
    /// A single write is atomic in every store, so a client that disconnects mid-save
    /// leaves either the write or nothing. Plans of several writes (a rotation; a flush
    /// followed by new data) run on a spawned task, so that they complete even if the
    /// request is dropped.
    pub async fn finish(&self, status: u16) -> Outcome {
        if self.inner.finished.swap(true, Ordering::AcqRel) {
            return Outcome::default();
        }
        let plan = self.plan(status).await;
        let outcome = if plan.multi_step() {
            let this = self.clone();
            match tokio::spawn(async move { this.execute(plan).await }).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::error!(error = %e, "session save task failed");
                    Outcome::failed(Failure::unavailable(self.engine().config()))
                }
            }
        } else {
            self.execute(plan).await
        };
        // Lock mode: the next request on this session may go.
        let held = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(held) = held {
            held.release().await;
        }
        outcome
    }

    /// Decides what to do; the only I/O is the load that `save_every_request` needs for a
    /// handler that never used the session.
    async fn plan(&self, status: u16) -> Plan {
        let engine = &self.inner.engine;
        let cfg = engine.config();
        let present = self.inner.incoming.present();
        let ser = cfg.save_every_request();

        let mut loaded = self.inner.loaded.get();
        let untouched = loaded.is_none_or(|l| {
            let st = l.session.state();
            !st.accessed && !st.modified
        });
        if untouched {
            if let Some(l) = loaded {
                l.session.state().finished = true;
            }
            if matches!(self.inner.incoming, Incoming::TooShort) {
                return Plan::remove_cookie();
            }
            if !ser || status >= 500 || !present {
                return Plan::nothing();
            }
            // save_every_request on a handler that never used the session: Django saves
            // it anyway, which needs it loaded.
            if loaded.is_none() {
                if let Err(e) = self.load().await {
                    tracing::warn!(error = %e, "save_every_request: session could not be loaded; not refreshed");
                    return Plan::nothing();
                }
                loaded = self.inner.loaded.get();
            }
            let Some(l) = loaded else {
                return Plan::nothing();
            };
            l.session.state().finished = true;
            return match &l.origin {
                Origin::Stored { key, meta, .. } => Plan {
                    action: Action::Touch {
                        key: *key,
                        created_at: meta.created_at,
                    },
                    vary: true,
                    ..Plan::nothing()
                },
                Origin::Client if !l.session.state().data.is_empty() => Plan {
                    action: Action::Encode,
                    vary: true,
                    ..Plan::nothing()
                },
                // Django would store a new empty session for a garbage cookie; we refuse
                // to create records on reads and remove the cookie instead.
                Origin::Fresh | Origin::Client => Plan::remove_cookie(),
                Origin::Retired { .. } => Plan::nothing(),
            };
        }

        let l = loaded.expect("touched implies loaded");
        let mut st = l.session.state();
        st.finished = true;
        let empty = st.identity == Identity::None && st.data.is_empty();
        let mut plan = Plan::nothing();
        plan.vary = st.accessed;
        if st.flushed
            && let Origin::Stored { key, .. } = &l.origin
        {
            plan.delete = Some(*key);
        }
        if present && empty {
            let in_grace =
                matches!(l.origin, Origin::Retired { until } if engine.ctx().clock.now() < until);
            if !in_grace {
                plan.cookie_removal = true;
            }
            plan.vary = true;
            return plan;
        }
        if (st.modified || ser) && !empty {
            if status >= 500 {
                return plan;
            }
            plan.vary = true;
            let client_side = matches!(engine.inner.backend, Backend::Client(_));
            plan.action = match (&st.identity, &l.origin) {
                // A client-side session, new or not, is written into its cookie.
                _ if client_side => Action::Encode,
                (Identity::Client, _) => Action::Encode,
                (Identity::Key(new_key), origin) if st.cycled => Action::Rotate {
                    new_key: *new_key,
                    old_key: match origin {
                        Origin::Stored { key, .. } => Some(*key),
                        _ => None,
                    },
                },
                (
                    Identity::Key(_),
                    Origin::Stored {
                        key,
                        token,
                        meta,
                        original,
                    },
                ) => {
                    if st.modified {
                        Action::Save {
                            key: *key,
                            token: token.clone(),
                            created_at: meta.created_at,
                            ops: std::mem::take(&mut st.ops),
                            original: original.clone(),
                        }
                    } else {
                        Action::Touch {
                            key: *key,
                            created_at: meta.created_at,
                        }
                    }
                }
                (Identity::None, Origin::Retired { until })
                    if engine.ctx().clock.now() < *until =>
                {
                    tracing::warn!(
                        "a request carrying a rotated-away session key wrote to the session; the write is dropped"
                    );
                    plan.vary = st.accessed;
                    Action::None
                }
                (Identity::None | Identity::Key(_), _) => Action::Create,
            };
            return plan;
        }
        // Idle timeout: refresh last_seen (and the cookie's Max-Age) now and then, with a
        // touch that does not rewrite the data.
        if status < 500
            && let (Some(interval), Origin::Stored { key, meta, .. }, Identity::Key(k)) =
                (cfg.touch_interval(), &l.origin, &st.identity)
        {
            let now = engine.ctx().clock.now();
            if k == key && !st.cycled && meta.last_seen.is_none_or(|seen| seen + interval <= now) {
                plan.action = Action::Touch {
                    key: *key,
                    created_at: meta.created_at,
                };
                plan.vary = true;
            }
        }
        plan
    }

    async fn execute(&self, plan: Plan) -> Outcome {
        let engine = &self.inner.engine;
        let cfg = engine.config();
        if plan.needs_io()
            && let Some(d) = engine.inner.save_delay
        {
            tokio::time::sleep(d).await;
        }
        let mut outcome = Outcome {
            vary_cookie: plan.vary,
            ..Outcome::default()
        };
        if let (Some(key), Backend::Server(store)) = (plan.delete, &engine.inner.backend) {
            match observe(cfg, "delete", store.delete_boxed(&engine.at_rest(&key))).await {
                Ok(()) => {
                    engine.inner.stats.add(Ev::Deletes);
                }
                Err(e) => {
                    // A failed logout must not look like a successful one.
                    engine.inner.stats.add(Ev::StoreErrors);
                    tracing::error!(key = %key.fingerprint(), error = %e.report(), "session delete failed");
                    return Outcome::failed(Failure::unavailable(cfg));
                }
            }
        }
        if plan.cookie_removal {
            outcome.set_cookie.push(cookie::removal_cookie(cfg));
        }
        let result = match plan.action {
            Action::None => return outcome,
            Action::Create => self.create_new().await,
            Action::Rotate { new_key, old_key } => self.rotate(new_key, old_key).await,
            Action::Save {
                key,
                token,
                created_at,
                ops,
                original,
            } => {
                self.save_existing(key, token, created_at, ops, original)
                    .await
            }
            Action::Touch { key, created_at } => self.touch(key, created_at).await,
            Action::Encode => self.encode().await,
        };
        match result {
            Ok(cookie) => {
                outcome.set_cookie.extend(cookie);
                outcome
            }
            Err(failure) => Outcome {
                failure: Some(failure),
                vary_cookie: plan.vary,
                set_cookie: Vec::new(),
            },
        }
    }

    fn session(&self) -> &Session {
        &self
            .inner
            .loaded
            .get()
            .expect("writes happen only for loaded sessions")
            .session
    }

    fn server_store(&self) -> Result<&Arc<dyn DynSessionStore>, Failure> {
        match &self.inner.engine.inner.backend {
            Backend::Server(s) => Ok(s),
            Backend::Client(_) => Err(Failure::internal()),
        }
    }

    /// Builds the record to store from the session's current data.
    fn record(
        &self,
        data: Data,
        now: OffsetDateTime,
        created_at: Option<OffsetDateTime>,
    ) -> Record {
        let cfg = self.inner.engine.config();
        let created_at = created_at.unwrap_or(now);
        let user_id = match data.get(AUTH_USER_ID_KEY) {
            Some(Value::String(s)) => Some(s),
            Some(Value::Int(i)) => Some(i.to_string()),
            _ => None,
        };
        Record {
            expires_at: expires_at(cfg, &data, now, created_at),
            data,
            meta: Metadata {
                created_at: Some(created_at),
                last_seen: Some(now),
                user_id,
            },
        }
    }

    fn set_cookie_for(
        &self,
        value: &str,
        data: &Data,
        now: OffsetDateTime,
        created_at: OffsetDateTime,
    ) -> String {
        let cfg = self.inner.engine.config();
        cookie::set_cookie(cfg, value, cookie_max_age(cfg, data, now, created_at), now)
    }

    async fn create_new(&self) -> Result<Option<String>, Failure> {
        let data = self.session().state().data.clone();
        let (key, record, now) = self.insert_fresh(data).await?;
        self.session().state().identity = Identity::Key(key);
        Ok(Some(self.set_cookie_for(
            key.as_str(),
            &record.data,
            now,
            now,
        )))
    }

    /// Stores `data` under a new random key (retrying collisions).
    async fn insert_fresh(
        &self,
        data: Data,
    ) -> Result<(SessionKey, Record, OffsetDateTime), Failure> {
        let engine = &self.inner.engine;
        let cfg = engine.config();
        let store = self.server_store()?;
        let now = engine.ctx().clock.now();
        let record = self.record(data, now, None);
        for _ in 0..CREATE_ATTEMPTS {
            let key = SessionKey::generate();
            match observe(
                cfg,
                "create",
                store.create_boxed(&engine.at_rest(&key), &record, now),
            )
            .await
            {
                Ok(CreateOutcome::Created(_)) => {
                    engine.inner.stats.add(Ev::Creates);
                    return Ok((key, record, now));
                }
                Ok(CreateOutcome::Collision) => {
                    tracing::warn!("session key collision; generating another");
                }
                Err(e) => return Err(engine.store_failure("create", &e)),
            }
        }
        tracing::error!("could not find a free session key after {CREATE_ATTEMPTS} attempts");
        Err(Failure::unavailable(cfg))
    }

    /// `cycle_key`: write the new record first, then retire the old key.
    async fn rotate(
        &self,
        new_key: SessionKey,
        old_key: Option<SessionKey>,
    ) -> Result<Option<String>, Failure> {
        let engine = &self.inner.engine;
        let cfg = engine.config();
        let store = self.server_store()?;
        let data = self.session().state().data.clone();
        let now = engine.ctx().clock.now();
        let record = self.record(data, now, None);
        let key = match observe(
            cfg,
            "create",
            store.create_boxed(&engine.at_rest(&new_key), &record, now),
        )
        .await
        {
            Ok(CreateOutcome::Created(_)) => {
                engine.inner.stats.add(Ev::Creates);
                new_key
            }
            Ok(CreateOutcome::Collision) => {
                let (key, _, _) = self.insert_fresh(record.data.clone()).await?;
                key
            }
            Err(e) => return Err(engine.store_failure("create", &e)),
        };
        self.session().state().identity = Identity::Key(key);
        engine.inner.stats.add(Ev::Rotations);
        if let Some(old) = old_key {
            let until = now + cfg.rotation_grace();
            if let Err(e) = observe(
                cfg,
                "retire",
                store.retire_boxed(&engine.at_rest(&old), until),
            )
            .await
            {
                // The new session exists and the client gets it; the old key merely
                // lingers until it expires. Report it: a lingering pre-login key is worth
                // knowing about.
                engine.inner.stats.add(Ev::StoreErrors);
                tracing::error!(key = %old.fingerprint(), error = %e.report(), "retiring the old session key failed");
            }
        }
        Ok(Some(self.set_cookie_for(
            key.as_str(),
            &record.data,
            now,
            now,
        )))
    }

    /// Compare-and-set save with reload and replay on conflict.
    async fn save_existing(
        &self,
        key: SessionKey,
        mut token: Token,
        mut created_at: Option<OffsetDateTime>,
        ops: Vec<Op>,
        original: Data,
    ) -> Result<Option<String>, Failure> {
        let engine = &self.inner.engine;
        let stats = &engine.inner.stats;
        let cfg = engine.config();
        let store = self.server_store()?;
        // Queue behind other saves of this session on this node (bounded by the save
        // timeout; past it, go on optimistically).
        let _queued = engine
            .inner
            .saves
            .acquire(&engine.at_rest(&key), cfg.save_timeout())
            .await;
        let mut data = self.session().state().data.clone();
        for attempt in 0..cfg.max_save_attempts() {
            let now = engine.ctx().clock.now();
            let record = self.record(data, now, created_at);
            match observe(
                cfg,
                "save",
                store.save_boxed(&engine.at_rest(&key), &record, &token, now),
            )
            .await
            {
                Ok(SaveOutcome::Saved(_)) => {
                    stats.add(Ev::Saves);
                    let created = record.meta.created_at.unwrap_or(now);
                    if attempt > 0 {
                        // Let the handler's clones see what was stored.
                        self.session().state().data = record.data.clone();
                    }
                    return Ok(Some(self.set_cookie_for(
                        key.as_str(),
                        &record.data,
                        now,
                        created,
                    )));
                }
                Ok(SaveOutcome::Missing) => {
                    stats.add(Ev::Interrupted);
                    tracing::info!(key = %key.fingerprint(), "session deleted during the request; not resurrected");
                    return Err(Failure::interrupted());
                }
                Ok(SaveOutcome::Conflict) => {
                    stats.add(Ev::Conflicts);
                    if attempt >= 4 {
                        backoff(attempt).await;
                    }
                    let now = engine.ctx().clock.now();
                    match observe(cfg, "load", store.load_boxed(&engine.at_rest(&key), now)).await {
                        Ok(Lookup::Found {
                            record: fresh,
                            token: t,
                        }) => {
                            stats.add(Ev::Replays);
                            data = replay(fresh.data, &ops, &original, stats);
                            token = t;
                            created_at = fresh.meta.created_at.or(created_at);
                        }
                        Ok(Lookup::Missing | Lookup::Retired { .. }) => {
                            stats.add(Ev::Interrupted);
                            return Err(Failure::interrupted());
                        }
                        Err(e) => return Err(engine.store_failure("reload", &e)),
                    }
                }
                Err(e) => return Err(engine.store_failure("save", &e)),
            }
        }
        stats.add(Ev::Exhausted);
        tracing::error!(key = %key.fingerprint(), attempts = cfg.max_save_attempts(), "session save kept conflicting; giving up");
        Err(Failure::unavailable(cfg))
    }

    async fn touch(
        &self,
        key: SessionKey,
        created_at: Option<OffsetDateTime>,
    ) -> Result<Option<String>, Failure> {
        let engine = &self.inner.engine;
        let cfg = engine.config();
        let store = self.server_store()?;
        let data = self.session().state().data.clone();
        let now = engine.ctx().clock.now();
        let created = created_at.unwrap_or(now);
        let expires = expires_at(cfg, &data, now, created);
        match observe(
            cfg,
            "touch",
            store.touch_boxed(&engine.at_rest(&key), expires, now),
        )
        .await
        {
            Ok(true) => {
                engine.inner.stats.add(Ev::Touches);
                Ok(Some(self.set_cookie_for(key.as_str(), &data, now, created)))
            }
            Ok(false) => Ok(None),
            Err(e) => Err(engine.store_failure("touch", &e)),
        }
    }

    async fn encode(&self) -> Result<Option<String>, Failure> {
        let engine = &self.inner.engine;
        let Backend::Client(store) = &engine.inner.backend else {
            return Err(Failure::internal());
        };
        let data = self.session().state().data.clone();
        let now = engine.ctx().clock.now();
        match store.encode(&data, now) {
            Ok(value) => {
                engine.inner.stats.add(Ev::Saves);
                Ok(Some(self.set_cookie_for(&value, &data, now, now)))
            }
            Err(e) => {
                tracing::error!(error = %e.report(), "session could not be written to its cookie");
                Err(Failure::internal())
            }
        }
    }
}

impl Engine {
    /// Lock mode: takes this node's lock on the session, then (if the store has leases) the
    /// cross-node lease, within the lock timeout.
    async fn lock_session(
        &self,
        store: &Arc<dyn DynSessionStore>,
        key: SessionKey,
    ) -> Result<HeldLock, LoadError> {
        let cfg = self.config();
        let timeout = cfg.lock_timeout();
        let started = tokio::time::Instant::now();
        let local = self
            .inner
            .locks
            .acquire(key, timeout)
            .await
            .ok_or(LoadError::Locked(timeout))?;
        let mut held = HeldLock {
            _local: local,
            lease: None,
        };
        if let Some(leases) = store.leases_dyn() {
            let owner = SessionKey::generate().as_str().to_owned();
            let mut wait = Duration::from_millis(2);
            loop {
                match leases.try_acquire(&key, &owner, cfg.lock_lease()).await {
                    Ok(true) => {
                        held.lease = Some((Arc::clone(store), key, owner));
                        break;
                    }
                    Ok(false) if started.elapsed() + wait < timeout => {
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_millis(50));
                    }
                    Ok(false) => return Err(LoadError::Locked(timeout)),
                    Err(e) => {
                        self.inner.stats.add(Ev::StoreErrors);
                        tracing::error!(error = %e.report(), "session lease failed");
                        return Err(LoadError::Store(e));
                    }
                }
            }
        }
        Ok(held)
    }

    fn store_failure(&self, op: &str, e: &StoreError) -> Failure {
        self.inner.stats.add(Ev::StoreErrors);
        tracing::error!(operation = op, error = %e.report(), "session store failed");
        Failure::unavailable(self.config())
    }
}

/// Re-applies a request's operations to freshly loaded data.
fn replay(fresh: Data, ops: &[Op], original: &Data, stats: &Stats) -> Data {
    let mut seen = Vec::new();
    for op in ops {
        if let Op::Set(k, _) = op
            && !seen.contains(&k)
        {
            seen.push(k);
            if !fresh.same_value(original, k) {
                // Read-then-write by this request, changed meanwhile by another:
                // last writer wins on this key. Counted, so it is never silent.
                stats.add(Ev::Overwrites);
            }
        }
    }
    let mut data = fresh;
    for op in ops {
        match op {
            Op::Set(k, v) => data.insert(k.clone(), v.clone()),
            Op::Remove(k) => {
                data.remove(k);
            }
            Op::Clear => data.clear(),
            Op::UpdateWith(k, f) => match f(data.get(k)) {
                Ok(v) => data.insert(k.clone(), v),
                Err(e) => {
                    tracing::error!(error = %e, "update_with could not be re-applied to the fresh value; keeping the fresh value");
                }
            },
        }
    }
    data
}

async fn backoff(attempt: u32) {
    use rand::RngExt as _;
    let cap = 1u64 << attempt.min(6);
    let ms = rand::rng().random_range(0..=cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Runs one store call with a timeout, inside a `tracing` span (`sessionkit.store`, with
/// the operation), recording its latency (`sessionkit_store_duration_seconds`) and outcome
/// (`sessionkit_store_operations_total`).
async fn observe<T>(
    cfg: &Config,
    op: &'static str,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    observe_within(cfg.save_timeout(), op, fut).await
}

async fn observe_within<T>(
    timeout: Duration,
    op: &'static str,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    use tracing::Instrument as _;
    let span = tracing::debug_span!("sessionkit.store", op);
    let started = std::time::Instant::now();
    let mut fut = std::pin::pin!(fut.instrument(span));
    // A store that answers at once (the memory store, a cache hit) needs no timer: poll
    // once, and arm the timeout only if the answer is not there yet.
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
    let result = match first {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                format!("no answer within {timeout:?}"),
            )),
        },
    };
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!("sessionkit_store_duration_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("sessionkit_store_operations_total", "op" => op, "outcome" => outcome)
        .increment(1);
    result
}

/// When a record written now expires: the session's own expiry (Django's rules), capped
/// by the idle and absolute timeouts.
fn expires_at(
    cfg: &Config,
    data: &Data,
    now: OffsetDateTime,
    created_at: OffsetDateTime,
) -> OffsetDateTime {
    let stored = Stored::from_value(data.get(EXPIRY_KEY).as_ref());
    let mut t = stored.date(now, cfg.cookie_age());
    if let Some(idle) = cfg.idle_timeout() {
        t = t.min(now + idle);
    }
    if let Some(abs) = cfg.absolute_timeout() {
        t = t.min(created_at + abs);
    }
    t
}

/// The cookie's Max-Age: `None` for a browser-session cookie, else the session's expiry
/// age capped by the idle and absolute timeouts.
fn cookie_max_age(
    cfg: &Config,
    data: &Data,
    now: OffsetDateTime,
    created_at: OffsetDateTime,
) -> Option<i64> {
    let v = data.get(EXPIRY_KEY);
    let absent = matches!(v, None | Some(Value::Null));
    let stored = Stored::from_value(v.as_ref());
    if stored.browser_close(cfg.expire_at_browser_close(), absent) {
        return None;
    }
    let mut age = stored.age(now, cfg.cookie_age());
    if let Some(idle) = cfg.idle_timeout() {
        age = age.min(idle.as_secs() as i64);
    }
    if let Some(abs) = cfg.absolute_timeout() {
        let end = expiry::add_seconds(created_at, abs.as_secs() as i64);
        age = age.min((end - now).whole_seconds());
    }
    Some(age)
}

struct Plan {
    delete: Option<SessionKey>,
    cookie_removal: bool,
    vary: bool,
    action: Action,
}

enum Action {
    None,
    Create,
    Rotate {
        new_key: SessionKey,
        old_key: Option<SessionKey>,
    },
    Save {
        key: SessionKey,
        token: Token,
        created_at: Option<OffsetDateTime>,
        ops: Vec<Op>,
        original: Data,
    },
    Touch {
        key: SessionKey,
        created_at: Option<OffsetDateTime>,
    },
    Encode,
}

impl Plan {
    fn nothing() -> Plan {
        Plan {
            delete: None,
            cookie_removal: false,
            vary: false,
            action: Action::None,
        }
    }

    fn remove_cookie() -> Plan {
        Plan {
            cookie_removal: true,
            vary: true,
            ..Plan::nothing()
        }
    }

    fn needs_io(&self) -> bool {
        self.delete.is_some() || !matches!(self.action, Action::None | Action::Encode)
    }

    /// Whether the plan takes several store writes that must not be cut apart (a rotation:
    /// create, then retire; a flush followed by new data: delete, then create). A single
    /// write is atomic in every store, so a dropped request either made it or not.
    fn multi_step(&self) -> bool {
        matches!(self.action, Action::Rotate { .. })
            || (self.delete.is_some() && !matches!(self.action, Action::None))
    }
}

/// What the adapter does to the response.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `Set-Cookie` header values to add.
    pub set_cookie: Vec<String>,
    /// Whether to add `Cookie` to `Vary` (merged with any existing `Vary`).
    pub vary_cookie: bool,
    /// If set, the response is replaced by this error.
    pub failure: Option<Failure>,
}

impl Outcome {
    fn failed(failure: Failure) -> Outcome {
        Outcome {
            failure: Some(failure),
            ..Outcome::default()
        }
    }
}

/// A response that replaces the handler's: the session could not be saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 400 (session deleted concurrently), 500 (session cannot be encoded) or 503 (store
    /// failure, timeout, retries exhausted).
    pub status: u16,
    /// Seconds for `Retry-After` (with 503).
    pub retry_after: Option<u64>,
    /// A plain-text body.
    pub message: &'static str,
}

impl Failure {
    fn interrupted() -> Failure {
        Failure {
            status: 400,
            retry_after: None,
            message: INTERRUPTED_MESSAGE,
        }
    }

    fn unavailable(cfg: &Config) -> Failure {
        Failure {
            status: 503,
            retry_after: Some(cfg.retry_after().as_secs().max(1)),
            message: UNAVAILABLE_MESSAGE,
        }
    }

    fn internal() -> Failure {
        Failure {
            status: 500,
            retry_after: None,
            message: "The session could not be saved.",
        }
    }
}

/// Counters of the engine's work, for tests and diagnostics; each event is also a
/// `metrics` counter (`sessionkit_events_total{event=...}`, a no-op without a recorder).
#[derive(Default)]
struct Stats {
    counts: [AtomicU64; Ev::COUNT],
}

/// The events the engine counts.
#[derive(Clone, Copy)]
enum Ev {
    Loads,
    Creates,
    Saves,
    Touches,
    Deletes,
    Rotations,
    Conflicts,
    Replays,
    Overwrites,
    Interrupted,
    Exhausted,
    Expired,
    StoreErrors,
}

impl Ev {
    const COUNT: usize = 13;

    fn name(self) -> &'static str {
        match self {
            Ev::Loads => "loaded",
            Ev::Creates => "created",
            Ev::Saves => "saved",
            Ev::Touches => "touched",
            Ev::Deletes => "deleted",
            Ev::Rotations => "rotated",
            Ev::Conflicts => "conflict",
            Ev::Replays => "replayed",
            Ev::Overwrites => "overwritten",
            Ev::Interrupted => "interrupted",
            Ev::Exhausted => "retries_exhausted",
            Ev::Expired => "expired",
            Ev::StoreErrors => "store_error",
        }
    }
}

/// A copy of the engine's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Store reads for loading a session.
    pub loads: u64,
    /// Sessions created (including rotations).
    pub creates: u64,
    /// Sessions saved.
    pub saves: u64,
    /// Expiry-only refreshes.
    pub touches: u64,
    /// Sessions deleted (flush).
    pub deletes: u64,
    /// Key rotations.
    pub rotations: u64,
    /// Compare-and-set conflicts met.
    pub conflicts: u64,
    /// Reload-and-replay rounds after a conflict.
    pub replays: u64,
    /// Keys a request overwrote after another request changed them (plain read-then-write,
    /// last writer wins on that key).
    pub overwrites: u64,
    /// Saves refused because the session was deleted meanwhile (400).
    pub interrupted: u64,
    /// Saves that ran out of attempts (503).
    pub exhausted: u64,
    /// Sessions found expired by the engine's checks.
    pub expired: u64,
    /// Store failures and timeouts.
    pub store_errors: u64,
}

impl Stats {
    fn add(&self, ev: Ev) {
        self.counts[ev as usize].fetch_add(1, Ordering::Relaxed);
        metrics::counter!("sessionkit_events_total", "event" => ev.name()).increment(1);
    }

    fn snapshot(&self) -> StatsSnapshot {
        let g = |ev: Ev| self.counts[ev as usize].load(Ordering::Relaxed);
        StatsSnapshot {
            loads: g(Ev::Loads),
            creates: g(Ev::Creates),
            saves: g(Ev::Saves),
            touches: g(Ev::Touches),
            deletes: g(Ev::Deletes),
            rotations: g(Ev::Rotations),
            conflicts: g(Ev::Conflicts),
            replays: g(Ev::Replays),
            overwrites: g(Ev::Overwrites),
            interrupted: g(Ev::Interrupted),
            exhausted: g(Ev::Exhausted),
            expired: g(Ev::Expired),
            store_errors: g(Ev::StoreErrors),
        }
    }
}

/// The per-session save queue of optimistic mode: striped locks, so that taking one costs
/// no allocation. Two sessions on one stripe merely save one after the other.
struct SaveQueue {
    stripes: Box<[Arc<tokio::sync::Mutex<()>>]>,
}

impl Default for SaveQueue {
    fn default() -> SaveQueue {
        SaveQueue {
            stripes: (0..1024)
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
        }
    }
}

impl SaveQueue {
    async fn acquire(&self, key: &SessionKey, timeout: Duration) -> Option<OwnedMutexGuard<()>> {
        let h = key.as_str().bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        let stripe = Arc::clone(&self.stripes[h % self.stripes.len()]);
        if let Ok(guard) = Arc::clone(&stripe).try_lock_owned() {
            return Some(guard);
        }
        tokio::time::timeout(timeout, stripe.lock_owned())
            .await
            .ok()
    }
}

/// In-process per-session locks for lock mode.
#[derive(Default)]
struct KeyLocks {
    map: Arc<Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>>,
}

struct KeyLockGuard {
    key: SessionKey,
    map: Arc<Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyLockGuard {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        drop(self.guard.take());
        if let Some(m) = map.get(&self.key) {
            // Only the map holds it: nobody waits, forget it.
            if Arc::strong_count(m) == 1 {
                map.remove(&self.key);
            }
        }
    }
}

impl KeyLocks {
    async fn acquire(&self, key: SessionKey, timeout: Duration) -> Option<KeyLockGuard> {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(map.entry(key).or_default())
        };
        let guard = tokio::time::timeout(timeout, mutex.lock_owned())
            .await
            .ok()?;
        Some(KeyLockGuard {
            key,
            map: Arc::clone(&self.map),
            guard: Some(guard),
        })
    }
}

/// What a request holds in lock mode: this node's lock, and the store's lease when the
/// store has leases (released when the request finishes; if the request is dropped first,
/// released by a spawned task, and in any case expiring by itself).
struct HeldLock {
    _local: KeyLockGuard,
    lease: Option<(Arc<dyn DynSessionStore>, SessionKey, String)>,
}

impl HeldLock {
    async fn release(mut self) {
        if let Some((store, key, owner)) = self.lease.take()
            && let Some(leases) = store.leases_dyn()
            && let Err(e) = leases.release(&key, &owner).await
        {
            tracing::warn!(error = %e.report(), "session lease release failed; it expires by itself");
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if let Some((store, key, owner)) = self.lease.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                if let Some(leases) = store.leases_dyn() {
                    let _ = leases.release(&key, &owner).await;
                }
            });
        }
    }
}

/// Runs [`SessionStore::clear_expired`] every `every`, logging what it removed, until the
/// returned handle is aborted or dropped with the runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sessionkit_core::{spawn_cleanup, MemoryStore, SystemClock};
///
/// let task = spawn_cleanup(MemoryStore::new(), Arc::new(SystemClock), Duration::from_secs(60));
/// task.abort();
/// # }
/// ```
pub fn spawn_cleanup<S: SessionStore + Clone>(
    store: S,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.clear_expired(clock.now()).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired sessions removed"),
                Err(e) => tracing::warn!(error = %e.report(), "clearing expired sessions failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests;
