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

use sessionkit_core::{Engine, Expiry, Session, SessionError};

mod checks;
pub mod device;
mod events;
mod mode;
mod outage;

pub use checks::*;
pub use events::*;
pub use mode::{Mode, REMOVAL};
pub use outage::*;

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
/// | `login` | `login("alice")` | `welcome` |
/// | `logout` | `logout()` | `bye` |
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
        "login" => {
            session.login("alice");
            Reply::ok("welcome")
        }
        "logout" => {
            session.logout();
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

/// Generates one `#[tokio::test]` per check of the adapter suite for `$adapter` (an
/// expression whose value implements [`Adapter`]): on the memory store with the cookie by
/// default; `mode: $mode` picks the transport ([`Mode`]), `store: $make` the store (an
/// async expression evaluating to a [`BoxStore`](sessionkit_core::BoxStore), fresh for each check).
/// `header_transports: $adapter, $header` writes the suite twice more, in `mod header`
/// ([`Mode::Header`]) and `mod both` ([`Mode::Both`]), with the session header `$header`
/// (`$adapter` is named as at the call site: the modules import their parent's items).
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
    (header_transports: $adapter:expr, $header:expr) => {
        mod header {
            use super::*;
            $crate::adapter_conformance_tests!($adapter, mode: $crate::adapter::Mode::Header($header));
        }
        mod both {
            use super::*;
            $crate::adapter_conformance_tests!($adapter, mode: $crate::adapter::Mode::Both($header));
        }
    };
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
            store_outage_is_a_503,
            events_follow_login_rotation_logout,
            no_event_after_a_failed_write,
            a_blocked_listener_never_holds_requests,
            the_per_user_limit_revokes_the_oldest_login
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

/// Writes the [`device`] checks as `#[tokio::test]`s for `$adapter` (whose server must hand
/// the engine the socket's peer address).
#[macro_export]
macro_rules! adapter_device_tests {
    ($adapter:expr) => {
        $crate::adapter_device_tests!(@each $adapter;
            ip_user_agent_and_label_are_recorded,
            behind_a_trusted_proxy_the_forwarded_client_is_recorded,
            the_switch_off_records_nothing,
            user_agent_binding_flushes_the_session
        );
    };
    (@each $adapter:expr; $($name:ident),*) => {$(
        #[::tokio::test]
        async fn $name() {
            $crate::adapter::device::$name(&$adapter).await;
        }
    )*};
}
