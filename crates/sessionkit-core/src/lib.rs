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
//! live in their own crates (`sessionkit-sql`, `sessionkit-redis`, ...).
//!
//! # Layout
//!
//! | module | what |
//! | --- | --- |
//! | [`session`] | the `Session` API |
//! | [`engine`] | the request flow and its rules |
//! | [`store`] | the store traits and `MemoryStore` |
//! | [`value`], [`data`], [`json`] | the value model and Python-compatible JSON |
//! | [`config`], [`expiry`], [`key`], [`cookie`], [`clock`], [`pytime`] | settings, expiry arithmetic, keys, cookie headers, time |
//!
//! # Features
//!
//! | feature | what it adds |
//! | --- | --- |
//! | `axum` | `Session` as an axum extractor (`FromRequestParts`), `SessionError` and `LoadError` as responses |
//! | `actix` | `Session` as an actix-web extractor (`FromRequest`), `SessionError` and `LoadError` as `ResponseError`s |
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

pub mod clock;
pub mod config;
pub mod cookie;
pub mod data;
pub mod engine;
pub mod expiry;
#[cfg(feature = "actix")]
mod extract_actix;
#[cfg(feature = "axum")]
mod extract_axum;
pub mod json;
pub mod key;
pub mod pytime;
pub mod session;
pub mod store;
pub mod value;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Concurrency, Config, ConfigBuilder, ConfigError, SameSite};
pub use data::Data;
pub use engine::{
    Engine, Failure, LoadError, Outcome, RequestSession, StatsSnapshot, spawn_cleanup,
};
pub use expiry::Expiry;
#[cfg(feature = "axum")]
pub use extract_axum::SessionRejection;
pub use key::{ClientKey, SessionKey};
pub use session::{Session, SessionError};
pub use store::{
    BoxStore, ClientStore, CookieContents, CreateOutcome, DynSessionStore, LeaseStore, Lookup,
    MemoryStore, Metadata, Record, SaveOutcome, SessionInfo, SessionListing, SessionStore,
    StoreError, StoreErrorKind, Token, UserIndex,
};
pub use value::Value;
