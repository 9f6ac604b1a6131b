// The README's examples use the axum, actix and SQLite parts; with all of them enabled they
// are compiled as doc tests, so the README cannot drift from the code.
#![cfg_attr(
    all(feature = "axum", feature = "actix", feature = "sqlite"),
    doc = include_str!("../../../README.md")
)]
#![cfg_attr(
    not(all(feature = "axum", feature = "actix", feature = "sqlite")),
    doc = "Sessions for Rust web services, the Django way. See the repository README."
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use sessionkit_core::{
    BoxStore, CachedStore, ClientStore, Clock, Concurrency, Config, ConfigBuilder, ConfigError,
    Data, DynSessionStore, Engine, Expiry, LoadError, LocalCache, ManualClock, MemoryStore,
    Outcome, RequestSession, SameSite, Session, SessionError, SessionKey, SessionStore, StoreError,
    StoreErrorKind, SystemClock, Value, spawn_cleanup,
};

/// The core crate: everything framework- and driver-independent.
pub use sessionkit_core as core;

/// The store traits and types.
pub use sessionkit_core::store;

/// The value model.
pub use sessionkit_core::value;

#[cfg(any(feature = "axum", feature = "tower"))]
pub use sessionkit_tower::{SessionLayer, SessionService};

/// Test helpers for applications on axum/tower (feature `testing`).
#[cfg(all(feature = "testing", any(feature = "axum", feature = "tower")))]
pub use sessionkit_tower::testing;

#[cfg(feature = "axum")]
pub use sessionkit_core::SessionRejection;

#[cfg(feature = "sqlite")]
pub use sessionkit_sql::SqliteStore;

#[cfg(feature = "file")]
pub use sessionkit_file::{FileStore, FileStoreBuilder};

/// actix-web integration (`SessionMiddleware`).
#[cfg(feature = "actix")]
pub mod actix {
    /// Test helpers for applications on actix-web (feature `testing`).
    #[cfg(feature = "testing")]
    pub use sessionkit_actix::testing;
    pub use sessionkit_actix::{SessionMiddleware, SessionMiddlewareService};
}

#[cfg(feature = "postgres")]
pub use sessionkit_sql::PostgresStore;

#[cfg(feature = "mysql")]
pub use sessionkit_sql::MySqlStore;

#[cfg(feature = "redis")]
pub use sessionkit_redis::{RedisCache, RedisStore};

/// The encrypted cookie store: the session sealed in the cookie under a key ring.
#[cfg(feature = "encrypted-cookie")]
pub mod encrypted_cookie {
    pub use sessionkit_encrypted_cookie::*;
}

#[cfg(feature = "encrypted-cookie")]
pub use sessionkit_encrypted_cookie::EncryptedCookieStore;

#[cfg(feature = "memcached")]
pub use sessionkit_memcached::MemcachedStore;

/// Django compatibility: wire formats, Django's layouts, the signed cookie, the auth hash.
#[cfg(feature = "django")]
pub mod django {
    pub use sessionkit_django::*;
    /// Django's `file` engine.
    #[cfg(feature = "file")]
    pub use sessionkit_file::{DjangoFileBuilder, DjangoFileStore};
    /// Django's `cache` and `cached_db` engines on `PyMemcacheCache`.
    #[cfg(feature = "memcached")]
    pub use sessionkit_memcached::django as memcached;
    /// Django's `cache` and `cached_db` engines on Redis.
    #[cfg(feature = "redis")]
    pub use sessionkit_redis::{DjangoCacheBuilder, DjangoCacheStore, DjangoCachedDbStore};
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    pub use sessionkit_sql::django as sql;

    /// Beside a Django site on axum / tower: Django's logged-in user ([`DjangoUser`](axum::DjangoUser)),
    /// its flash messages ([`MessagesLayer`](axum::MessagesLayer), [`Messages`](axum::Messages))
    /// and its CSRF protection ([`CsrfLayer`](axum::CsrfLayer), [`CsrfToken`](axum::CsrfToken)).
    /// See `examples/django-site.rs`.
    #[cfg(feature = "axum")]
    pub mod axum {
        pub use sessionkit_tower::{
            CsrfLayer, CsrfService, CsrfToken, CsrfTokenRejection, DjangoUser, DjangoUserRejection,
            MAX_FORM_BODY, Messages, MessagesLayer, MessagesRejection, MessagesService,
        };
    }

    /// Beside a Django site on actix-web: Django's logged-in user, its flash messages and
    /// its CSRF protection.
    #[cfg(feature = "actix")]
    pub mod actix {
        pub use sessionkit_actix::{
            CsrfMiddleware, CsrfMiddlewareService, CsrfToken, DjangoUser, DjangoUserError,
            MAX_FORM_BODY, Messages, MessagesMiddleware, MessagesMiddlewareService,
            MessagesMissing,
        };
    }
}
