//! actix-web integration of sessionkit.
//!
//! [`SessionMiddleware`] gives every request a lazily loaded session from the same
//! framework-agnostic engine the tower side uses: same stores, same layouts, same rules and
//! status codes (400 for a session deleted concurrently, 503 with `Retry-After` when the
//! store fails). Handlers take [`Session`] as an extractor — the very type axum handlers
//! use, `Send + Sync`, so it can move into spawned tasks. Routes that never extract it never
//! touch the store.
//!
//! actix-web 4 uses `http` 0.2 and its own cookie types; this crate converts at the edge
//! (the engine takes the `Cookie` header as a string and returns `Set-Cookie` strings) and
//! enables no actix-web feature that would pull a second cookie or TLS stack.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use sessionkit_actix::{Session, SessionMiddleware};
//! use sessionkit_core::{Config, MemoryStore, SessionError};
//!
//! async fn visit(session: Session) -> Result<String, SessionError> {
//!     let count: u64 = session.get("count")?.unwrap_or(0) + 1;
//!     session.insert("count", count)?;
//!     Ok(format!("Visit count: {count}"))
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let middleware = SessionMiddleware::new(MemoryStore::new(), Config::default());
//! HttpServer::new(move || {
//!     App::new()
//!         .wrap(middleware.clone())
//!         .route("/", web::get().to(visit))
//! })
//! .bind("127.0.0.1:8080")?
//! .run()
//! .await
//! # }
//! ```

//!
//! With the `testing` feature, [`testing`] sends requests through an app with a session in
//! tests (`force_login`, the session read back afterwards).

#[cfg(feature = "django")]
mod django;
mod middleware;
#[cfg(feature = "testing")]
pub mod testing;
mod transform;

#[cfg(feature = "django")]
pub use django::{
    CsrfMiddleware, CsrfMiddlewareService, CsrfToken, DjangoUser, DjangoUserError, MAX_FORM_BODY,
    Messages, MessagesMiddleware, MessagesMiddlewareService, MessagesMissing,
};
pub use middleware::{SessionMiddleware, SessionMiddlewareService};
pub use sessionkit_core::{Engine, RequestSession, Session};
