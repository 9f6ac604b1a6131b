//! [`RequestSession`]: one request's session, from the cookie to the outcome.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::failure::{Failure, LoadError, Outcome, Vary};
use super::load::Loaded;
use super::locks::HeldLock;
use super::plan::{self, Incoming, PlanInput};
use super::{Backend, Engine};
use crate::cookie;
use crate::device::sanitize_user_agent;
use crate::key::{ClientKey, MIN_KEY_LEN};
use crate::session::Session;

/// One request's session, lazily loaded. Adapters store it in the request (extensions);
/// extractors call [`load`](RequestSession::load); adapters call
/// [`finish`](RequestSession::finish) with the response status.
#[derive(Clone)]
pub struct RequestSession {
    pub(super) inner: Arc<ReqInner>,
}

pub(super) struct ReqInner {
    pub(super) engine: Engine,
    pub(super) incoming: Incoming,
    source: IdSource,
    pub(super) loaded: tokio::sync::OnceCell<Loaded>,
    /// Lock mode: the session's lock, from the load to the end of `finish`.
    pub(super) lock: Mutex<Option<HeldLock>>,
    finished: AtomicBool,
    /// The client, as the adapter reported it; only with `record_client_info` on (off,
    /// nothing is copied).
    pub(super) client: Option<RequestClient>,
}

/// A request's client, for the session's [`ClientInfo`](crate::ClientInfo).
pub(super) struct RequestClient {
    /// The resolved IP (the peer, or what a trusted proxy forwarded).
    pub(super) ip: Option<IpAddr>,
    /// The user agent, sanitized.
    pub(super) user_agent: Option<Box<str>>,
}

impl fmt::Debug for RequestSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSession")
            .field("loaded", &self.inner.loaded.initialized())
            .finish_non_exhaustive()
    }
}

impl RequestSession {
    /// Reads the session id (the cookie, the session header, as the transport says); no
    /// I/O.
    pub(super) fn begin(engine: Engine, ids: SessionIds<'_>) -> RequestSession {
        let cfg = engine.config();
        // The header wins when the transport has one and the request carries it (explicit,
        // and never sent by a browser on its own); an empty header is no id.
        let (value, source) = match ids.session_header.map(str::trim) {
            Some(h) if cfg.session_header().is_some() && !h.is_empty() => {
                (Some(Cow::Borrowed(h)), IdSource::Header)
            }
            _ if cfg.uses_cookie() => match ids
                .cookie_header
                .and_then(|h| cookie::find(h, cfg.cookie_name()))
            {
                Some(v) => (Some(v), IdSource::Cookie),
                None => (None, IdSource::None),
            },
            _ => (None, IdSource::None),
        };
        let incoming = match &engine.inner.backend {
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
                Some(v) if v.chars().count() < MIN_KEY_LEN => Incoming::TooShort,
                Some(v) => Incoming::Client(v.into_owned().into_boxed_str()),
            },
        };
        // Device metadata: nothing is read or copied unless it is recorded.
        let client = match ids.client {
            Some(hints) if cfg.record_client_info() => Some(RequestClient {
                ip: hints.ip.map(|ip| ip.to_canonical()),
                user_agent: hints.user_agent.and_then(sanitize_user_agent),
            }),
            _ => None,
        };
        RequestSession {
            inner: Arc::new(ReqInner {
                engine,
                incoming,
                source,
                loaded: tokio::sync::OnceCell::new(),
                lock: Mutex::new(None),
                finished: AtomicBool::new(false),
                client,
            }),
        }
    }

    /// The engine this request belongs to.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Whether the request carried a session id (the cookie or the session header).
    pub fn cookie_present(&self) -> bool {
        self.inner.incoming.present()
    }

    /// Where the request's session id came from. A CSRF check may exempt requests whose
    /// session came from the header — a browser never attaches a custom header cross-site
    /// — and only those.
    pub fn id_source(&self) -> IdSource {
        self.inner.source
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
        let outcome = self.decide_and_commit(status).await;
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

    async fn decide_and_commit(&self, status: u16) -> Outcome {
        let engine = self.engine();
        let cfg = engine.config();
        let mut view = self.inner.loaded.get().map(|l| l.session.close());
        // save_every_request on a handler that never used the session: Django saves it
        // anyway, which needs it loaded. The only I/O before the decision.
        if plan::needs_load(&self.inner.incoming, view.is_some(), status, cfg) {
            match self.load().await {
                Ok(session) => view = Some(session.close()),
                Err(e) => {
                    tracing::warn!(error = %e, "save_every_request: session could not be loaded; not refreshed");
                    return Outcome::default();
                }
            }
        }
        let loaded = self.inner.loaded.get();
        let now = engine.clock().now();
        let plan = plan::decide(&PlanInput {
            incoming: &self.inner.incoming,
            session: view.zip(loaded.map(|l| &l.origin)),
            status,
            config: cfg,
            now,
            client_side: matches!(engine.inner.backend, Backend::Client(_)),
        });
        if plan.write_dropped {
            tracing::warn!(
                "a request carrying a rotated-away session key wrote to the session; the write is dropped"
            );
        }
        if !plan.multi_step() {
            return self.commit(plan, now).await;
        }
        let this = self.clone();
        match tokio::spawn(async move { this.commit(plan, now).await }).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(error = %e, "session save task failed");
                Outcome::failed(
                    engine
                        .server()
                        .map_or_else(Failure::internal, |s| s.unavailable()),
                    Vary::default(),
                )
            }
        }
    }
}

/// What a request carries that may identify its session, for
/// [`Engine::begin_with`](crate::Engine::begin_with): its `Cookie` header(s), joined with
/// `"; "`, and the value of the session header (`Config::session_header`), if any; and,
/// for device metadata, its client ([`with_client`](SessionIds::with_client)).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct SessionIds<'a> {
    /// The `Cookie` header(s), joined.
    pub cookie_header: Option<&'a str>,
    /// The session header's value.
    pub session_header: Option<&'a str>,
    /// The request's client, when the adapter reports it (see [`crate::device`]).
    pub client: Option<ClientHints<'a>>,
}

impl<'a> SessionIds<'a> {
    /// The cookie header and the session header's value.
    pub fn new(cookie_header: Option<&'a str>, session_header: Option<&'a str>) -> Self {
        SessionIds {
            cookie_header,
            session_header,
            client: None,
        }
    }

    /// With the request's client: what the engine records as the session's
    /// [`ClientInfo`](crate::ClientInfo) when
    /// [`record_client_info`](crate::Config::record_client_info) is on (off, it is not
    /// even copied). A request without it keeps the session's recorded client.
    pub fn with_client(mut self, client: ClientHints<'a>) -> Self {
        self.client = Some(client);
        self
    }
}

/// A request's client as an adapter reports it: the IP address, already resolved by
/// [`Engine::client_ip`](crate::Engine::client_ip) (the socket's peer, or what a trusted
/// proxy forwarded), and the raw `User-Agent` header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHints<'a> {
    /// The client's IP address, if known.
    pub ip: Option<IpAddr>,
    /// The `User-Agent` header, if any (sanitized by the engine).
    pub user_agent: Option<&'a str>,
}

impl<'a> ClientHints<'a> {
    /// The client's IP address and user agent.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&'a str>) -> Self {
        ClientHints { ip, user_agent }
    }
}

/// Where a request's session id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdSource {
    /// The request carried no session id.
    None,
    /// The session cookie.
    Cookie,
    /// The session header.
    Header,
}
