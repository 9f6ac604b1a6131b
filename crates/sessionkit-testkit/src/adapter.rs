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
//! The checks: the cookie is set only when a session is written; `Vary: Cookie` exactly
//! when the session was accessed, merged with the handler's own; untouched sessions (and
//! routes without the extractor) send nothing and never reach the store; a too-short cookie
//! is removed; a client's key is never adopted; logout removes the cookie; a 5xx saves
//! nothing; `save_every_request`; cookie attributes and expiry; rotation and its grace
//! window; several `Cookie` headers; a session moved into threads; a concurrent logout is a
//! 400; a store outage is a 503 with the configured `Retry-After` — with the same status,
//! headers and body from the extractor, from a handler returning the load error, and from
//! the middleware's save.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::{
    BoxStore, Config, Engine, Expiry, ManualClock, SameSite, Session, SessionError, SessionStore,
    UNAVAILABLE_MESSAGE,
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

/// One request, with an optional session cookie.
async fn get(server: &Server, path: &str, cookie: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
    send(&server.addr, path, &headers).await
}

/// The `name=value` part of the response's (only) session cookie.
fn cookie_of(res: &Response) -> String {
    let set = res.set_cookies();
    assert_eq!(set.len(), 1, "one Set-Cookie expected: {res:?}");
    set[0].split(';').next().unwrap_or_default().to_owned()
}

fn engine(store: impl SessionStore, config: Config) -> Engine {
    Engine::new(store, config)
}

/// The tutorial's counter: a cookie on the first write, the count kept with it.
pub async fn tutorial_counter(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let res = get(&s, "/s/visit", None).await;
    assert_eq!((res.status, res.body.as_str()), (200, "Visit count: 1"));
    assert_eq!(res.header("vary"), Some("Cookie"));
    let cookie = cookie_of(&res);
    for n in 2..=3 {
        let res = get(&s, "/s/visit", Some(&cookie)).await;
        assert_eq!(res.body, format!("Visit count: {n}"));
    }
    let res = get(&s, "/s/visit", None).await;
    assert_eq!(res.body, "Visit count: 1", "a new visitor starts again");
}

/// A visitor who only reads gets no record and no cookie, but `Vary: Cookie`.
pub async fn lazy_creation(a: &impl Adapter, store: BoxStore) {
    let store = Counting::new(store);
    let counts = store.counts();
    let s = a.serve(engine(store, Config::default())).await;
    let res = get(&s, "/s/read", None).await;
    assert_eq!((res.status, res.body.as_str()), (200, "count: none"));
    assert!(res.set_cookies().is_empty(), "{res:?}");
    assert_eq!(res.header("vary"), Some("Cookie"));
    assert_eq!(counts.total(), 0, "nothing reached the store");
}

/// A route that never extracts the session sends nothing and never reaches the store.
pub async fn untouched_routes_send_nothing(a: &impl Adapter, store: BoxStore) {
    let store = Counting::new(store);
    let counts = store.counts();
    let s = a.serve(engine(store, Config::default())).await;
    let cookie = cookie_of(&get(&s, "/s/visit", None).await);
    let before = counts.total();
    let res = get(&s, "/plain", Some(&cookie)).await;
    assert_eq!((res.status, res.body.as_str()), (200, "plain"));
    assert!(
        res.set_cookies().is_empty() && res.header("vary").is_none(),
        "{res:?}"
    );
    assert_eq!(counts.total(), before);
}

/// A cookie shorter than 8 characters is removed even on an untouched route (Django).
pub async fn short_cookie_is_removed(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let res = get(&s, "/plain", Some("sessionid=1234567")).await;
    assert_eq!(res.set_cookies(), vec![REMOVAL]);
    assert_eq!(res.header("vary"), Some("Cookie"));
}

/// A key the store does not know is never adopted (session fixation).
pub async fn client_keys_are_never_adopted(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let forged = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let res = get(&s, "/s/visit", Some(forged)).await;
    assert_eq!(res.body, "Visit count: 1");
    let cookie = cookie_of(&res);
    assert_ne!(cookie, forged);
    assert_eq!(cookie.len(), "sessionid=".len() + 32);
    // Read-only with the forged key: the cookie is removed.
    let res = get(&s, "/s/read", Some(forged)).await;
    assert_eq!(res.set_cookies(), vec![REMOVAL]);
}

/// Logout removes the cookie and the record; without a cookie it sends only `Vary`.
pub async fn logout_removes_the_cookie(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let cookie = cookie_of(&get(&s, "/s/visit", None).await);
    let res = get(&s, "/s/flush", Some(&cookie)).await;
    assert_eq!(res.set_cookies(), vec![REMOVAL]);
    assert_eq!(res.header("vary"), Some("Cookie"));
    let res = get(&s, "/s/visit", Some(&cookie)).await;
    assert_eq!(res.body, "Visit count: 1", "the old cookie leads nowhere");
    let res = get(&s, "/s/flush", None).await;
    assert!(res.set_cookies().is_empty());
    assert_eq!(res.header("vary"), Some("Cookie"));
}

/// A 5xx response saves nothing.
pub async fn server_errors_save_nothing(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let cookie = cookie_of(&get(&s, "/s/visit", None).await);
    let res = get(&s, "/s/boom", Some(&cookie)).await;
    assert_eq!(res.status, 500);
    assert!(res.set_cookies().is_empty(), "{res:?}");
    let res = get(&s, "/s/visit", Some(&cookie)).await;
    assert_eq!(res.body, "Visit count: 2");
}

/// `save_every_request` refreshes the cookie (same key) even on an untouched route.
pub async fn save_every_request(a: &impl Adapter, store: BoxStore) {
    let cfg = Config::builder()
        .save_every_request(true)
        .build()
        .expect("config");
    let s = a.serve(engine(store, cfg)).await;
    let cookie = cookie_of(&get(&s, "/s/visit", None).await);
    let res = get(&s, "/plain", Some(&cookie)).await;
    assert_eq!(cookie_of(&res), cookie);
    assert_eq!(res.header("vary"), Some("Cookie"));
}

/// The cookie's attributes and lifetime follow the configuration and `set_expiry`.
pub async fn cookie_attributes_and_expiry(a: &impl Adapter, store: BoxStore) {
    let cfg = Config::builder()
        .cookie_secure(true)
        .cookie_samesite(Some(SameSite::Strict))
        .build()
        .expect("config");
    let s = a.serve(engine(store, cfg)).await;
    let res = get(&s, "/s/short", None).await;
    let c = res.set_cookies()[0];
    assert!(
        c.ends_with("; HttpOnly; Max-Age=10; Path=/; SameSite=Strict; Secure"),
        "{c}"
    );
    let res = get(&s, "/s/visit", None).await;
    assert!(res.set_cookies()[0].contains("Max-Age=1209600"), "{res:?}");
}

/// An expired session is not served: the next write starts a new one.
pub async fn expired_sessions_are_not_served(a: &impl Adapter, store: BoxStore) {
    let clock = ManualClock::new(NOW);
    let cfg = Config::builder()
        .idle_timeout(Duration::from_secs(600))
        .build()
        .expect("config");
    let e = Engine::builder(store)
        .with_config(cfg)
        .with_clock(Arc::new(clock.clone()))
        .build();
    let s = a.serve(e).await;
    let cookie = cookie_of(&get(&s, "/s/visit", None).await);
    clock.advance(Duration::from_secs(599));
    assert_eq!(get(&s, "/s/read", Some(&cookie)).await.body, "count: 1");
    clock.advance(Duration::from_secs(601));
    let res = get(&s, "/s/read", Some(&cookie)).await;
    assert_eq!(res.body, "count: none");
    assert_eq!(res.set_cookies(), vec![REMOVAL]);
}

/// `cycle_key` sends a new key; late requests with the old key get no removal cookie
/// within the grace window (it would overwrite the new one).
pub async fn rotation_and_its_grace_window(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let old = cookie_of(&get(&s, "/s/visit", None).await);
    let res = get(&s, "/s/cycle", Some(&old)).await;
    let new = cookie_of(&res);
    assert_ne!(new, old);
    assert_eq!(get(&s, "/s/read", Some(&new)).await.body, "count: 1");
    let res = get(&s, "/s/read", Some(&old)).await;
    assert_eq!(res.body, "count: none");
    assert!(res.set_cookies().is_empty(), "{res:?}");
}

/// `Vary: Cookie` is merged with the handler's own `Vary`.
pub async fn vary_is_merged(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let res = get(&s, "/s/vary", None).await;
    let vary: Vec<&str> = res
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(vary, vec!["Accept-Encoding, Cookie"]);
}

/// Several `Cookie` headers (HTTP/2 style) are read as one.
pub async fn several_cookie_headers(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let cookie = cookie_of(&get(&s, "/s/visit", None).await);
    let res = send(
        &s.addr,
        "/s/visit",
        &[
            ("Cookie", "theme=dark"),
            ("Cookie", &cookie),
            ("Cookie", "lang=en"),
        ],
    )
    .await;
    assert_eq!(res.body, "Visit count: 2");
}

/// The session moves into other threads; their writes are saved.
pub async fn session_moves_into_threads(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let res = get(&s, "/s/threads", None).await;
    assert_eq!(res.body, "10");
    let cookie = cookie_of(&res);
    assert_eq!(
        get(&s, "/s/visit", Some(&cookie)).await.body,
        "Visit count: 11"
    );
}

/// A value of the wrong type is a plain 500, details in the log only.
pub async fn type_mismatch_is_a_plain_500(a: &impl Adapter, store: BoxStore) {
    let s = a.serve(engine(store, Config::default())).await;
    let cookie = cookie_of(&get(&s, "/s/name", None).await);
    let res = get(&s, "/s/typed", Some(&cookie)).await;
    assert_eq!(res.status, 500);
    assert_eq!(res.body, "Internal Server Error");
}

/// A logout that lands while another request's save is pending: that save is a 400
/// (Django's `SessionInterrupted`) and the logout stays.
pub async fn concurrent_logout_is_a_400(a: &impl Adapter, store: BoxStore) {
    let e = Engine::builder(store)
        .with_save_delay(Duration::from_millis(300))
        .build();
    let s = a.serve(e).await;
    let cookie = cookie_of(&get(&s, "/s/visit", None).await);
    // Every request's writes wait 300 ms after its handler: the logout, sent first, deletes
    // at ~300 ms; the write, sent 50 ms later, loaded the session before that and saves at
    // ~350 ms — after the logout.
    let logout = {
        let (addr, cookie) = (s.addr.clone(), cookie.clone());
        tokio::spawn(async move { send(&addr, "/s/flush", &[("Cookie", &cookie)]).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let res = get(&s, "/s/visit", Some(&cookie)).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body, sessionkit_core::INTERRUPTED_MESSAGE);
    let res = logout.await.unwrap_or_else(|e| panic!("request task: {e}"));
    assert_eq!(res.set_cookies(), vec![REMOVAL]);
    let res = get(&s, "/s/read", Some(&cookie)).await;
    assert_eq!(res.body, "count: none", "the logout stays");
}

/// What a store outage looks like, as the suite saw it: (status, `Content-Type`,
/// `Retry-After`, `Vary`, body) for a load failure met by the extractor, the same met by a
/// handler returning the load error, and a save failure met by the middleware.
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
/// Returns what it saw, so that adapters can be compared with each other.
pub async fn store_outage_is_a_503(a: &impl Adapter, _store: BoxStore) -> OutageResponses {
    // The default Retry-After is one second.
    let s = a.serve(engine(Down, Config::default())).await;
    let cookie = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let res = get(&s, "/s/visit", Some(cookie)).await;
    assert_eq!((res.status, res.header("retry-after")), (503, Some("1")));
    let cfg = Config::builder()
        .retry_after(Duration::from_secs(7))
        .build()
        .expect("config");
    let s = a.serve(engine(Down, cfg)).await;
    let extractor = Observed::from(&get(&s, "/s/visit", Some(cookie)).await);
    let handler = Observed::from(&get(&s, "/load/visit", Some(cookie)).await);
    let save = Observed::from(&get(&s, "/s/visit", None).await);
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
            vary: Some("Cookie".to_owned()),
            ..unavailable
        }
    );
    let res = get(&s, "/plain", Some(cookie)).await;
    assert_eq!((res.status, res.body.as_str()), (200, "plain"));
    OutageResponses {
        extractor,
        handler,
        save,
    }
}

/// Generates one `#[tokio::test]` per check of the adapter suite for `$adapter` (an
/// expression whose value implements [`Adapter`]), on the memory store — or, with
/// `store: $make`, on the store an async expression `$make` evaluates to (a
/// [`BoxStore`], fresh for each check).
#[macro_export]
macro_rules! adapter_conformance_tests {
    ($adapter:expr) => {
        $crate::adapter_conformance_tests!(
            $adapter,
            store: async { ::sessionkit_core::BoxStore::new(::sessionkit_core::MemoryStore::new()) }
        );
    };
    ($adapter:expr, store: $make:expr) => {
        $crate::adapter_conformance_tests!(@each $adapter, $make;
            tutorial_counter,
            lazy_creation,
            untouched_routes_send_nothing,
            short_cookie_is_removed,
            client_keys_are_never_adopted,
            logout_removes_the_cookie,
            server_errors_save_nothing,
            save_every_request,
            cookie_attributes_and_expiry,
            expired_sessions_are_not_served,
            rotation_and_its_grace_window,
            vary_is_merged,
            several_cookie_headers,
            session_moves_into_threads,
            type_mismatch_is_a_plain_500,
            concurrent_logout_is_a_400,
            store_outage_is_a_503
        );
    };
    (@each $adapter:expr, $make:expr; $($name:ident),*) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let store: ::sessionkit_core::BoxStore = $make.await;
            let _ = $crate::adapter::$name(&$adapter, store).await;
        }
    )*};
}
