//! The adapter conformance suite: every middleware rule of the engine, checked through real
//! HTTP requests against a framework adapter — the tower/axum and actix-web adapters run
//! it, and so can an adapter for any other framework.
//!
//! An adapter passes by serving three routes over the engine the suite gives it
//! ([`Adapter::serve`]), each a few lines in any framework:
//!
//! | route | handler |
//! | --- | --- |
//! | `GET /plain` | never touches the session; answers 200 `plain` |
//! | `GET /s/{action}` | takes the framework's `Session` extractor and answers [`respond`]`(action, &session)` (a [`SessionError`] converted by the framework, as a handler's `?` would) |
//! | `GET /load/{action}` | takes the [`RequestSession`](sessionkit_core::RequestSession), calls `load().await?` (the [`LoadError`](sessionkit_core::LoadError) converted by the framework), then answers `respond(action, &session)` |
//!
//! and then invoking [`adapter_conformance_tests!`](crate::adapter_conformance_tests) with
//! its [`Adapter`]:
//!
//! ```ignore
//! struct MyFramework;
//! impl sessionkit_testkit::adapter::Adapter for MyFramework {
//!     async fn serve(&self, engine: sessionkit_core::Engine) -> sessionkit_testkit::adapter::Server {
//!         // build the app with the three routes and the session middleware over `engine`,
//!         // listen on 127.0.0.1:0, return the address
//!     }
//! }
//! sessionkit_testkit::adapter_conformance_tests!(MyFramework);
//! ```
//!
//! The checks: an id is handed out only when a session is written; `Vary` exactly when the
//! session was accessed, merged with the handler's own; untouched sessions (and routes
//! without the extractor) send nothing and never reach the store; a too-short id is
//! withdrawn; a client's key is never adopted; logout withdraws the id; a 5xx saves
//! nothing; `save_every_request`; cookie attributes and expiry; rotation and its grace
//! window; several `Cookie` headers (and, with both transports, the header winning over
//! the cookie); a session moved into threads; a concurrent logout is a 400; a store outage
//! is a 503 with the configured `Retry-After` — with the same status, headers and body from
//! the extractor, from a handler returning the load error, and from the middleware's save.
//!
//! Every check runs in each transport ([`Mode`]): the cookie, a session header, or both. An
//! adapter that reads its request headers through `sessionkit_core::http::begin` (or the
//! `actix` module's) and applies the outcome through the matching `apply` gets every
//! transport for free.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::{
    BoxStore, Config, ConfigBuilder, Engine, Expiry, ManualClock, SameSite, Session, SessionError,
    SessionStore, Transport, UNAVAILABLE_MESSAGE,
};

use crate::fakes::{Counting, Down};
use crate::http::{Response, send};
use crate::suite::NOW;

/// A running server of the adapter under test.
pub struct Server {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Whatever keeps the server alive (dropped with the `Server`).
    pub guard: Box<dyn Any + Send>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

/// A framework adapter under test: see the [module docs](self) for the routes.
pub trait Adapter: Send + Sync + 'static {
    /// Serves the suite's three routes with the session middleware over `engine`, on
    /// 127.0.0.1 (any free port).
    fn serve(&self, engine: Engine) -> impl Future<Output = Server> + Send;
}

/// What a handler of the suite answers: status, extra headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// Extra response headers.
    pub headers: Vec<(&'static str, &'static str)>,
    /// A plain-text body.
    pub body: String,
}

impl Reply {
    fn ok(body: impl Into<String>) -> Reply {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }
}

/// The suite's handlers, framework-neutral. Actions:
///
/// | action | does | answers |
/// | --- | --- | --- |
/// | `visit` | `count += 1` | `Visit count: N` |
/// | `read` | reads `count` | `count: N` or `count: none` |
/// | `flush` | `flush()` (logout) | `bye` |
/// | `cycle` | `cycle_key()` | `cycled` |
/// | `boom` | writes `count = 1000` | 500 |
/// | `short` | writes `x`, `set_expiry(10)` | `short` |
/// | `vary` | reads `count` | `varied` with `Vary: Accept-Encoding` |
/// | `name` | writes `name = "text"` | `named` |
/// | `typed` | reads `name` as an integer | an error if it is text |
/// | `threads` | `update_with("count", +10)` on another thread | the new count |
///
/// Anything else answers 404.
pub fn respond(action: &str, session: &Session) -> Result<Reply, SessionError> {
    Ok(match action {
        "visit" => {
            let n: u64 = session.get("count")?.unwrap_or(0) + 1;
            session.insert("count", n)?;
            Reply::ok(format!("Visit count: {n}"))
        }
        "read" => match session.get::<u64>("count")? {
            Some(n) => Reply::ok(format!("count: {n}")),
            None => Reply::ok("count: none"),
        },
        "flush" => {
            session.flush();
            Reply::ok("bye")
        }
        "cycle" => {
            session.cycle_key();
            Reply::ok("cycled")
        }
        "boom" => {
            session.insert("count", 1000)?;
            Reply {
                status: 500,
                ..Reply::ok("boom")
            }
        }
        "short" => {
            session.insert("x", 1)?;
            session.set_expiry(Expiry::Seconds(10));
            Reply::ok("short")
        }
        "vary" => {
            session.get::<u64>("count")?;
            Reply {
                headers: vec![("Vary", "Accept-Encoding")],
                ..Reply::ok("varied")
            }
        }
        "name" => {
            session.insert("name", "text")?;
            Reply::ok("named")
        }
        "typed" => Reply::ok(session.get::<u64>("name")?.unwrap_or(0).to_string()),
        "threads" => {
            // The session is Send + Sync: it can move into another thread.
            let s = session.clone();
            let n = std::thread::spawn(move || {
                s.update_with("count", |n: Option<u64>| n.unwrap_or(0) + 10)
            })
            .join()
            .unwrap_or_else(|_| panic!("thread"))?;
            Reply::ok(n.to_string())
        }
        _ => Reply {
            status: 404,
            ..Reply::ok("no such action")
        },
    })
}

/// The removal cookie under the default configuration.
pub const REMOVAL: &str = "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=Lax";

/// How the suite's client carries the session id, and so how the engine under test is
/// configured ([`Transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The session cookie (the default transport).
    Cookie,
    /// A session header of this name, no cookie.
    Header(&'static str),
    /// The cookie and a header of this name; the client sends the header.
    Both(&'static str),
}

impl Mode {
    /// A configuration builder with this transport.
    pub fn config(self) -> ConfigBuilder {
        let b = Config::builder();
        match self {
            Mode::Cookie => b,
            Mode::Header(h) => b.transport(Transport::Header(h.to_owned())),
            Mode::Both(h) => b.transport(Transport::Both(h.to_owned())),
        }
    }

    fn header(self) -> Option<&'static str> {
        match self {
            Mode::Cookie => None,
            Mode::Header(h) | Mode::Both(h) => Some(h),
        }
    }

    /// The request headers carrying `id`.
    fn carry(self, id: Option<&str>) -> Vec<(&'static str, String)> {
        match (id, self.header()) {
            (None, _) => Vec::new(),
            (Some(id), Some(h)) => vec![(h, id.to_owned())],
            (Some(id), None) => vec![("Cookie", format!("sessionid={id}"))],
        }
    }

    /// `GET path` carrying `id`.
    async fn get(self, server: &Server, path: &str, id: Option<&str>) -> Response {
        let headers = self.carry(id);
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        send(&server.addr, path, &refs).await
    }

    /// The id the response hands out, if any (a new or refreshed session).
    fn issued(self, res: &Response) -> Option<String> {
        let from_cookie = || {
            res.set_cookies()
                .into_iter()
                .filter(|c| !c.contains("Max-Age=0"))
                .find_map(|c| c.split(';').next()?.strip_prefix("sessionid="))
                .map(str::to_owned)
        };
        match self {
            Mode::Cookie => from_cookie(),
            Mode::Header(h) => res.header(h).filter(|v| !v.is_empty()).map(str::to_owned),
            Mode::Both(h) => {
                let header = res.header(h).filter(|v| !v.is_empty()).map(str::to_owned);
                assert_eq!(
                    header,
                    from_cookie(),
                    "both transports carry the same id: {res:?}"
                );
                header
            }
        }
    }

    /// The id the response hands out; panics if there is none.
    fn id(self, res: &Response) -> String {
        self.issued(res)
            .unwrap_or_else(|| panic!("a session id was expected: {res:?}"))
    }

    /// Whether the response withdraws the client's id (the removal cookie, an empty header).
    fn ended(self, res: &Response) -> bool {
        let cookie = res.set_cookies() == vec![REMOVAL];
        let header = self.header().map(|h| res.header(h) == Some(""));
        match self {
            Mode::Cookie => cookie,
            Mode::Header(_) => header == Some(true) && res.set_cookies().is_empty(),
            Mode::Both(_) => cookie && header == Some(true),
        }
    }

    /// Whether the response says nothing about the session id.
    fn silent(self, res: &Response) -> bool {
        res.set_cookies().is_empty() && self.header().is_none_or(|h| res.header(h).is_none())
    }

    /// The `Vary` of a response whose session was accessed.
    fn vary(self) -> String {
        match self {
            Mode::Cookie => "Cookie".to_owned(),
            Mode::Header(h) => h.to_owned(),
            Mode::Both(h) => format!("Cookie, {h}"),
        }
    }
}

fn engine(store: impl SessionStore, config: ConfigBuilder) -> Engine {
    Engine::new(store, config.build().expect("config"))
}

/// The tutorial's counter: an id on the first write, the count kept with it.
pub async fn tutorial_counter(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/visit", None).await;
    assert_eq!((res.status, res.body.as_str()), (200, "Visit count: 1"));
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
    let id = m.id(&res);
    for n in 2..=3 {
        let res = m.get(&s, "/s/visit", Some(&id)).await;
        assert_eq!(res.body, format!("Visit count: {n}"));
    }
    let res = m.get(&s, "/s/visit", None).await;
    assert_eq!(res.body, "Visit count: 1", "a new visitor starts again");
}

/// A visitor who only reads gets no record and no id, but `Vary`.
pub async fn lazy_creation(a: &impl Adapter, m: Mode, store: BoxStore) {
    let store = Counting::new(store);
    let counts = store.counts();
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/read", None).await;
    assert_eq!((res.status, res.body.as_str()), (200, "count: none"));
    assert!(m.silent(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
    assert_eq!(counts.total(), 0, "nothing reached the store");
}

/// A route that never extracts the session sends nothing and never reaches the store.
pub async fn untouched_routes_send_nothing(a: &impl Adapter, m: Mode, store: BoxStore) {
    let store = Counting::new(store);
    let counts = store.counts();
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let before = counts.total();
    let res = m.get(&s, "/plain", Some(&id)).await;
    assert_eq!((res.status, res.body.as_str()), (200, "plain"));
    assert!(m.silent(&res) && res.header("vary").is_none(), "{res:?}");
    assert_eq!(counts.total(), before);
}

/// An id shorter than 8 characters is withdrawn even on an untouched route (Django).
pub async fn short_id_is_withdrawn(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/plain", Some("1234567")).await;
    assert!(m.ended(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
}

/// A key the store does not know is never adopted (session fixation).
pub async fn client_keys_are_never_adopted(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let forged = "abcdefghijklmnopqrstuvwxyz012345";
    let res = m.get(&s, "/s/visit", Some(forged)).await;
    assert_eq!(res.body, "Visit count: 1");
    let id = m.id(&res);
    assert_ne!(id, forged);
    assert_eq!(id.len(), 32);
    // Read-only with the forged key: the id is withdrawn.
    let res = m.get(&s, "/s/read", Some(forged)).await;
    assert!(m.ended(&res), "{res:?}");
}

/// Logout withdraws the id and deletes the record; without an id it sends only `Vary`.
pub async fn logout_withdraws_the_id(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let res = m.get(&s, "/s/flush", Some(&id)).await;
    assert!(m.ended(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
    let res = m.get(&s, "/s/visit", Some(&id)).await;
    assert_eq!(res.body, "Visit count: 1", "the old id leads nowhere");
    let res = m.get(&s, "/s/flush", None).await;
    assert!(m.silent(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
}

/// A 5xx response saves nothing.
pub async fn server_errors_save_nothing(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let res = m.get(&s, "/s/boom", Some(&id)).await;
    assert_eq!(res.status, 500);
    assert!(m.silent(&res), "{res:?}");
    let res = m.get(&s, "/s/visit", Some(&id)).await;
    assert_eq!(res.body, "Visit count: 2");
}

/// `save_every_request` re-sends the same id even on an untouched route.
pub async fn save_every_request(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a
        .serve(engine(store, m.config().save_every_request(true)))
        .await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let res = m.get(&s, "/plain", Some(&id)).await;
    assert_eq!(m.id(&res), id);
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
}

/// The cookie's attributes and lifetime follow the configuration and `set_expiry`; a
/// header-only transport sends no cookie at all.
pub async fn cookie_attributes_and_expiry(a: &impl Adapter, m: Mode, store: BoxStore) {
    let cfg = m
        .config()
        .cookie_secure(true)
        .cookie_samesite(Some(SameSite::Strict));
    let s = a.serve(engine(store, cfg)).await;
    let res = m.get(&s, "/s/short", None).await;
    if let Mode::Header(_) = m {
        assert!(res.set_cookies().is_empty(), "{res:?}");
        m.id(&res);
        return;
    }
    let c = res.set_cookies()[0];
    assert!(
        c.ends_with("; HttpOnly; Max-Age=10; Path=/; SameSite=Strict; Secure"),
        "{c}"
    );
    let res = m.get(&s, "/s/visit", None).await;
    assert!(res.set_cookies()[0].contains("Max-Age=1209600"), "{res:?}");
}

/// An expired session is not served: reading it withdraws the id.
pub async fn expired_sessions_are_not_served(a: &impl Adapter, m: Mode, store: BoxStore) {
    let clock = ManualClock::new(NOW);
    let cfg = m.config().idle_timeout(Duration::from_secs(600));
    let e = Engine::builder(store)
        .with_config(cfg.build().expect("config"))
        .with_clock(Arc::new(clock.clone()))
        .build();
    let s = a.serve(e).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    clock.advance(Duration::from_secs(599));
    assert_eq!(m.get(&s, "/s/read", Some(&id)).await.body, "count: 1");
    clock.advance(Duration::from_secs(601));
    let res = m.get(&s, "/s/read", Some(&id)).await;
    assert_eq!(res.body, "count: none");
    assert!(m.ended(&res), "{res:?}");
}

/// `cycle_key` hands out a new id; late requests with the old one get no withdrawal within
/// the grace window (it would overwrite the new id on the client).
pub async fn rotation_and_its_grace_window(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let old = m.id(&m.get(&s, "/s/visit", None).await);
    let new = m.id(&m.get(&s, "/s/cycle", Some(&old)).await);
    assert_ne!(new, old);
    assert_eq!(m.get(&s, "/s/read", Some(&new)).await.body, "count: 1");
    let res = m.get(&s, "/s/read", Some(&old)).await;
    assert_eq!(res.body, "count: none");
    assert!(m.silent(&res), "{res:?}");
}

/// `Vary` is merged with the handler's own.
pub async fn vary_is_merged(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/vary", None).await;
    let vary: Vec<&str> = res
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(vary, vec![format!("Accept-Encoding, {}", m.vary())]);
}

/// Several `Cookie` headers (HTTP/2 style) are read as one; with both transports, a header
/// that disagrees with the cookie wins.
pub async fn several_ids_in_one_request(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let other = m.id(&m.get(&s, "/s/visit", None).await);
    let cookie = format!("sessionid={id}");
    let res = match m {
        Mode::Cookie => {
            send(
                &s.addr,
                "/s/visit",
                &[
                    ("Cookie", "theme=dark"),
                    ("Cookie", &cookie),
                    ("Cookie", "lang=en"),
                ],
            )
            .await
        }
        // The header names the other session: it wins over the cookie.
        Mode::Header(h) | Mode::Both(h) => {
            send(&s.addr, "/s/visit", &[("Cookie", &cookie), (h, &other)]).await
        }
    };
    assert_eq!(res.body, "Visit count: 2");
    if m != Mode::Cookie {
        assert_eq!(m.get(&s, "/s/read", Some(&other)).await.body, "count: 2");
        assert_eq!(m.get(&s, "/s/read", Some(&id)).await.body, "count: 1");
    }
}

/// The session moves into other threads; their writes are saved.
pub async fn session_moves_into_threads(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/threads", None).await;
    assert_eq!(res.body, "10");
    let id = m.id(&res);
    assert_eq!(
        m.get(&s, "/s/visit", Some(&id)).await.body,
        "Visit count: 11"
    );
}

/// A value of the wrong type is a plain 500, details in the log only.
pub async fn type_mismatch_is_a_plain_500(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/name", None).await);
    let res = m.get(&s, "/s/typed", Some(&id)).await;
    assert_eq!(res.status, 500);
    assert_eq!(res.body, "Internal Server Error");
}

/// A logout that lands while another request's save is pending: that save is a 400
/// (Django's `SessionInterrupted`) and the logout stays.
pub async fn concurrent_logout_is_a_400(a: &impl Adapter, m: Mode, store: BoxStore) {
    let e = Engine::builder(store)
        .with_config(m.config().build().expect("config"))
        .with_save_delay(Duration::from_millis(300))
        .build();
    let s = a.serve(e).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    // Every request's writes wait 300 ms after its handler: the logout, sent first, deletes
    // at ~300 ms; the write, sent 50 ms later, loaded the session before that and saves at
    // ~350 ms — after the logout.
    let logout = {
        let (addr, headers) = (s.addr.clone(), m.carry(Some(&id)));
        tokio::spawn(async move {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(&addr, "/s/flush", &refs).await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let res = m.get(&s, "/s/visit", Some(&id)).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body, sessionkit_core::INTERRUPTED_MESSAGE);
    let res = logout.await.unwrap_or_else(|e| panic!("request task: {e}"));
    assert!(m.ended(&res), "{res:?}");
    let res = m.get(&s, "/s/read", Some(&id)).await;
    assert_eq!(res.body, "count: none", "the logout stays");
}

/// What a store outage looks like, as the suite saw it: a load failure met by the
/// extractor, the same met by a handler returning the load error, and a save failure met
/// by the middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageResponses {
    /// The `Session` extractor's rejection.
    pub extractor: Observed,
    /// A handler returning `rs.load().await?`.
    pub handler: Observed,
    /// The middleware's failed save (a new visitor's first write).
    pub save: Observed,
}

/// The parts of a response the error contract fixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Retry-After`.
    pub retry_after: Option<String>,
    /// `Vary`.
    pub vary: Option<String>,
    /// `Set-Cookie` values.
    pub set_cookie: Vec<String>,
    /// Body.
    pub body: String,
}

impl From<&Response> for Observed {
    fn from(r: &Response) -> Observed {
        Observed {
            status: r.status,
            content_type: r.header("content-type").map(str::to_owned),
            retry_after: r.header("retry-after").map(str::to_owned),
            vary: r.header("vary").map(str::to_owned),
            set_cookie: r.set_cookies().into_iter().map(str::to_owned).collect(),
            body: r.body.clone(),
        }
    }
}

/// A store outage (every call fails): 503s with the configured `Retry-After` (here 7 s)
/// and the same response wherever it is met; routes without the session keep working.
/// Returns what it saw. Every adapter is held to the same expected responses, so the
/// adapters answer an outage identically.
pub async fn store_outage_is_a_503(a: &impl Adapter, m: Mode, _store: BoxStore) -> OutageResponses {
    let id = "abcdefghijklmnopqrstuvwxyz012345";
    // The default Retry-After is one second.
    let s = a.serve(engine(Down, m.config())).await;
    let res = m.get(&s, "/s/visit", Some(id)).await;
    assert_eq!((res.status, res.header("retry-after")), (503, Some("1")));
    let s = a
        .serve(engine(Down, m.config().retry_after(Duration::from_secs(7))))
        .await;
    let extractor = Observed::from(&m.get(&s, "/s/visit", Some(id)).await);
    let handler = Observed::from(&m.get(&s, "/load/visit", Some(id)).await);
    let save = Observed::from(&m.get(&s, "/s/visit", None).await);
    let unavailable = Observed {
        status: 503,
        content_type: Some("text/plain; charset=utf-8".to_owned()),
        retry_after: Some("7".to_owned()),
        vary: None,
        set_cookie: Vec::new(),
        body: UNAVAILABLE_MESSAGE.to_owned(),
    };
    assert_eq!(extractor, unavailable);
    assert_eq!(
        handler, extractor,
        "a handler's load error renders as the extractor's"
    );
    // The save failed after the handler accessed the session: the same, plus Vary.
    assert_eq!(
        save,
        Observed {
            vary: Some(m.vary()),
            ..unavailable
        }
    );
    let res = m.get(&s, "/plain", Some(id)).await;
    assert_eq!((res.status, res.body.as_str()), (200, "plain"));
    OutageResponses {
        extractor,
        handler,
        save,
    }
}

/// Generates one `#[tokio::test]` per check of the adapter suite for `$adapter` (an
/// expression whose value implements [`Adapter`]): on the memory store with the cookie by
/// default; `mode: $mode` picks the transport ([`Mode`]), `store: $make` the store (an
/// async expression evaluating to a [`BoxStore`], fresh for each check).
///
/// ```ignore
/// sessionkit_testkit::adapter_conformance_tests!(MyFramework);
/// mod header {
///     sessionkit_testkit::adapter_conformance_tests!(
///         super::MyFramework,
///         mode: sessionkit_testkit::adapter::Mode::Header("X-Session-Id")
///     );
/// }
/// ```
#[macro_export]
macro_rules! adapter_conformance_tests {
    ($adapter:expr) => {
        $crate::adapter_conformance_tests!($adapter, mode: $crate::adapter::Mode::Cookie);
    };
    ($adapter:expr, store: $make:expr) => {
        $crate::adapter_conformance_tests!(
            $adapter,
            mode: $crate::adapter::Mode::Cookie,
            store: $make
        );
    };
    ($adapter:expr, mode: $mode:expr) => {
        $crate::adapter_conformance_tests!(
            $adapter,
            mode: $mode,
            store: async { ::sessionkit_core::BoxStore::new(::sessionkit_core::MemoryStore::new()) }
        );
    };
    ($adapter:expr, mode: $mode:expr, store: $make:expr) => {
        $crate::adapter_conformance_tests!(@each $adapter, $mode, $make;
            tutorial_counter,
            lazy_creation,
            untouched_routes_send_nothing,
            short_id_is_withdrawn,
            client_keys_are_never_adopted,
            logout_withdraws_the_id,
            server_errors_save_nothing,
            save_every_request,
            cookie_attributes_and_expiry,
            expired_sessions_are_not_served,
            rotation_and_its_grace_window,
            vary_is_merged,
            several_ids_in_one_request,
            session_moves_into_threads,
            type_mismatch_is_a_plain_500,
            concurrent_logout_is_a_400,
            store_outage_is_a_503
        );
    };
    (@each $adapter:expr, $mode:expr, $make:expr; $($name:ident),*) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let store: ::sessionkit_core::BoxStore = $make.await;
            let _ = $crate::adapter::$name(&$adapter, $mode, store).await;
        }
    )*};
}
