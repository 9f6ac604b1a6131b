//! The framework-agnostic core of sessionkit.
//!
//! Django's session framework for Rust: a dictionary per visitor, remembered between
//! requests through a cookie, stored where you choose. This crate holds everything that
//! does not depend on a web framework or a database driver:
//!
//! * [`Session`] — Django's `request.session`, typed through serde, synchronous after one
//!   async load, `Clone + Send + Sync`.
//! * [`Value`] and [`Data`] — the value model: anything Django stores (big integers,
//!   `NaN`, Python float forms), decoded lazily, untouched keys written back byte for byte.
//! * [`Config`] — Django's `SESSION_*` settings with Django's defaults, validated.
//! * [`Engine`] — Django's session middleware as a state machine: lazy creation, fixation
//!   defence, the delete branch, `Vary: Cookie`, the 5xx rule, compare-and-set saves with
//!   replay.
//! * [`SessionStore`] — the store contract, [`MemoryStore`], and the object-safe
//!   [`DynSessionStore`] / [`BoxStore`] for stores chosen at run time.
//!
//! Framework adapters (`sessionkit-tower`, `sessionkit-actix`) call the engine; stores
//! live in their own crates (`sessionkit-sql`, `sessionkit-redis`, `sessionkit-file`, ...).
//!
//! # The public surface, by audience
//!
//! * **Applications** use the root: [`Session`], [`SessionError`], [`Config`],
//!   [`Expiry`], [`Value`] (and the [`value`] module for typed conversions), [`Data`],
//!   [`Engine`] when they build one themselves, [`MemoryStore`], [`CachedStore`], the
//!   clocks; [`device`] for device metadata (each session's client IP, user agent and
//!   device label, the trusted proxies, what is recorded and for how long).
//! * **Store authors** implement [`SessionStore`] (or [`ClientStore`]) from the [`store`]
//!   module and check it with `sessionkit-testkit`'s conformance suite; [`json`] and
//!   [`pytime`] are Python's text forms, for layouts shared with Django.
//! * **Adapter authors** call [`Engine::begin`], [`RequestSession::load`] and
//!   [`RequestSession::finish`], and render [`Outcome`] / [`Failure`] / [`LoadError`]:
//!   the [`http`] module does it for `http` 1 frameworks (feature `http`), the [`actix`]
//!   module for actix-web (feature `actix`), and [`cookie`] has the header helpers for
//!   anything else. `sessionkit-testkit`'s adapter conformance suite checks an adapter
//!   through real HTTP.
//!
//! Everything else is private to the crate. The map of which file holds which rule is in
//! `docs/DESIGN.md`.
//!
//! # Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `http` | the [`http`] module: the engine's answers in `http` 1 types |
//! | `axum` | `Session` as an axum extractor (`FromRequestParts`), `SessionError` and `LoadError` as responses (implies `http`) |
//! | `actix` | the [`actix`] module; `Session` as an actix-web extractor (`FromRequest`), `SessionError` and `LoadError` as `ResponseError`s |
//! | `testing` | test hooks: [`EngineBuilder::with_save_delay`] |
//!
//! # Example
//!
//! ```
//! use sessionkit_core::{Config, Engine, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let engine = Engine::new(MemoryStore::new(), Config::default());
//!
//! // First request: no cookie.
//! let req = engine.begin(None);
//! let session = req.load().await.unwrap();
//! let count: u64 = session.get("count").unwrap().unwrap_or(0) + 1;
//! session.insert("count", count).unwrap();
//! let out = req.finish(200).await;
//! let cookie = out.set_cookie[0].split(';').next().unwrap().to_owned();
//!
//! // Second request with the cookie.
//! let req = engine.begin(Some(&cookie));
//! let session = req.load().await.unwrap();
//! assert_eq!(session.get::<u64>("count").unwrap(), Some(1));
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Writes an adapter module's `begin`, `begin_with_peer` and `cookie_header` over its
/// framework's `HeaderMap` — `http` 1 for the tower side (module `http`), actix-web's own
/// (module `actix`): one text for two header-map types that share no trait. `get_all`
/// turns `headers.get_all(name)` into an iterator (`.iter()` on `http` 1; nothing on
/// actix-web), `cookie` names the `Cookie` header constant in scope.
#[cfg(any(feature = "http", feature = "actix"))]
macro_rules! header_entry_points {
    (get_all: [$($iter:tt)*], cookie: $cookie:path) => {
        /// Starts a request on `engine` from its headers: the `Cookie` header(s) and, when
        /// the configuration has one, the session header; for device metadata, the
        /// `User-Agent` (the client's IP is unknown: see [`begin_with_peer`]).
        pub fn begin(engine: &Engine, headers: &HeaderMap) -> RequestSession {
            begin_with_peer(engine, headers, None)
        }

        /// [`begin`], with the connection's peer address: the session records the client's
        /// IP (the peer, or — when the peer is a trusted proxy — what `X-Forwarded-For`
        /// says; see [`crate::device`]) and user agent, unless
        /// [`record_client_info`](crate::Config::record_client_info) is off.
        pub fn begin_with_peer(
            engine: &Engine,
            headers: &HeaderMap,
            peer: Option<std::net::IpAddr>,
        ) -> RequestSession {
            let cookie = cookie_header(headers);
            engine.begin_from_headers_with_client(
                cookie.as_deref(),
                |name| headers.get(name)?.to_str().ok(),
                peer,
                || {
                    headers
                        .get_all("x-forwarded-for")
                        $($iter)*
                        .filter_map(|v| v.to_str().ok())
                },
            )
        }

        /// Every `Cookie` header of a request, joined (HTTP/2 sends one per cookie), for
        /// [`Engine::begin`](crate::Engine::begin).
        pub fn cookie_header(headers: &HeaderMap) -> Option<Cow<'_, str>> {
            join_header_bytes(headers.get_all($cookie)$($iter)*.map(HeaderValue::as_bytes))
        }
    };
}
#[cfg(any(feature = "http", feature = "actix"))]
pub(crate) use header_entry_points;

#[cfg(feature = "actix")]
pub mod actix;
mod clock;
mod config;
pub mod cookie;
mod data;
mod derived;
pub mod device;
mod engine;
pub mod events;
mod expiry;
#[cfg(feature = "axum")]
mod extract_axum;
#[cfg(feature = "http")]
pub mod http;
pub mod json;
mod key;
pub mod pytime;
mod session;
pub mod store;
pub mod value;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Concurrency, Config, ConfigBuilder, ConfigError, SameSite, Transport};
pub use data::Data;
pub use derived::{AUTH_USER_ID_KEY, EXPIRY_KEY};
pub use device::{ClientInfo, TrustedProxies};
pub use engine::{
    ClientHints, DEFAULT_EVENT_QUEUE, Engine, EngineBuilder, Failure, INTERNAL_MESSAGE,
    INTERRUPTED_MESSAGE, IdSource, LoadError, LoadErrorKind, MIN_CLEANUP_PERIOD, Outcome,
    RequestSession, SessionHeader, SessionIds, StatsSnapshot, UNAVAILABLE_MESSAGE, spawn_cleanup,
};
pub use expiry::Expiry;
#[cfg(feature = "axum")]
pub use extract_axum::SessionRejection;
pub use key::{ClientKey, Fingerprint, SessionKey};
pub use session::{Session, SessionError, TEST_COOKIE_NAME, TEST_COOKIE_VALUE};
pub use store::{
    BoxStore, CachedStore, ClientStore, CookieContents, Create, CreateOutcome, DynLeaseStore,
    DynSessionListing, DynSessionStore, DynUserIndex, LeaseStore, LocalCache, Lookup, MemoryStore,
    Metadata, Record, SaveOutcome, SessionCache, SessionInfo, SessionListing, SessionStore,
    StoreError, StoreErrorKind, Token, UserIndex,
};
pub use value::Value;
