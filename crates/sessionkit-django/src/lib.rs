//! Django's session wire formats as pure functions, and the signed-cookie store.
//!
//! Everything a Rust service needs to share sessions with a Django app, byte for byte:
//! the signing framing under every Django session format, the signed session data of the
//! `db`/`cached_db`/`file` engines, the pickled dict of the cache engines, the cookie of
//! the `signed_cookies` engine, cache keys, file names and the auth hash. Each format is
//! checked against vectors produced by running Django (`tests/data/django-vectors.json`).
//!
//! # Layout
//!
//! | module | Django | what |
//! | --- | --- | --- |
//! | [`signing`] | `django.core.signing` | base62, base64, `salted_hmac`, [`Secrets`], [`Signer`] with `dumps`/`loads` |
//! | [`session`] | `SessionStore.encode/decode` | signed session data for server-side stores |
//! | [`pickle`] | `RedisCache` and `PyMemcacheCache` values | a restricted pickle reader and writer |
//! | [`auth`] | `django.contrib.auth` | the `_auth_user_hash` value, password hashes, [`DjangoAuth`] (`get_user`, `authenticate`, `login`, `logout`) over a [`UserLoader`] |
//! | [`csrf`] | `django.middleware.csrf` | the CSRF secret under `_csrftoken` |
//! | [`keys`] | cache keys, file names | where each engine puts a session |
//! | `cached_db` (feature `cached-db`) | `backends.cached_db` | the rules of Django's `cached_db` engine over any cache side |
//! | [`cookie_store`] | `backends.signed_cookies` | [`SignedCookieStore`], a [`ClientStore`](sessionkit_core::ClientStore) |
//!
//! Decoding never panics and never trusts input: a bad signature is `None` (plus a
//! warning), a zip bomb or an oversized pickle is refused before it is allocated, and no
//! pickle opcode that constructs Python objects is ever acted on.
//!
//! # Example
//!
//! ```
//! use sessionkit_core::{Data, Value};
//! use sessionkit_django::{Secrets, session};
//! use time::OffsetDateTime;
//!
//! // What Django's db engine stores in `django_session.session_data`.
//! let secrets = Secrets::new("anchor-secret-key-for-vectors");
//! let signer = session::signer(&secrets);
//! let mut data = Data::new();
//! data.insert("count", Value::Int(4));
//! data.insert("favorite_color", Value::from("blue"));
//! let t1 = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
//! assert_eq!(
//!     session::encode(&data, &signer, t1),
//!     "eyJjb3VudCI6NCwiZmF2b3JpdGVfY29sb3IiOiJibHVlIn0:1vb66i:xT2qXHXjBEKdl9_htSvGeqznirHyU2P9bd5-Y6pxBVg"
//! );
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod auth;
#[cfg(feature = "cached-db")]
#[cfg_attr(docsrs, doc(cfg(feature = "cached-db")))]
pub mod cached_db;

/// For [`cached_db_store!`]'s expansion in the cache crates.
#[cfg(feature = "cached-db")]
#[doc(hidden)]
pub use sessionkit_core as __core;
#[cfg(feature = "cached-db")]
#[doc(hidden)]
pub use time as __time;
pub mod cookie_store;
pub mod csrf;
pub mod keys;
pub mod messages;
pub mod pickle;
pub mod session;
pub mod signing;

pub use auth::{AuthHasher, CurrentUser, DjangoAuth, HashMatch, User, UserLoader};
pub use cookie_store::SignedCookieStore;
pub use pickle::{PickleError, PickleErrorKind};

/// Django's default `SESSION_COOKIE_AGE` (two weeks), in seconds: the life the cache
/// layouts give a session whose key has no TTL.
pub const DEFAULT_COOKIE_AGE: i64 = 1_209_600;
pub use signing::{Secrets, Signer, SigningError};
