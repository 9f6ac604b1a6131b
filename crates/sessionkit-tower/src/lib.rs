//! tower and axum integration of sessionkit.
//!
//! [`SessionLayer`] wraps any tower service taking `http::Request`s. For each request it
//! reads the `Cookie` header(s), hands a lazy [`RequestSession`] to the inner service
//! through the request extensions (no store I/O), and after the response applies what the
//! engine decided: `Set-Cookie`, `Vary: Cookie`, or a 400/503 replacing the response when
//! the session could not be saved. With the `axum` feature (on by default), handlers take
//! [`Session`] as an extractor; routes that never extract it never touch the store.
//!
//! ```
//! use axum::{Router, routing::get};
//! use sessionkit_core::{Config, MemoryStore, Session, SessionError};
//! use sessionkit_tower::SessionLayer;
//!
//! async fn visit(session: Session) -> Result<String, SessionError> {
//!     let count: u64 = session.get("count")?.unwrap_or(0) + 1;
//!     session.insert("count", count)?;
//!     Ok(format!("Visit count: {count}"))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(visit))
//!     .layer(SessionLayer::new(MemoryStore::new(), Config::default()));
//! ```
//!
//! # Features
//!
//! | feature | default | what |
//! | --- | --- | --- |
//! | `axum` | yes | the `Session` extractor for axum |
//! | `testing` | no | [`testing`]: send requests through an app with a session in tests, `force_login`, read the session back |
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "django")]
mod django;
mod layer;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(feature = "django")]
pub use django::{
    CsrfLayer, CsrfService, CsrfToken, CsrfTokenRejection, DjangoUser, DjangoUserRejection,
    MAX_FORM_BODY, Messages, MessagesLayer, MessagesRejection, MessagesService,
};
pub use layer::{SessionLayer, SessionService};
pub use sessionkit_core::{Engine, RequestSession, Session};
