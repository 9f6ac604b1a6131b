//! Users as the Rust side sees them, and the [`UserLoader`] the application provides.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use time::OffsetDateTime;

/// A user record: what Django's `get_user()` and `authenticate()` read of a user model.
/// `Debug` shows no password hash.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// The primary key, as text (what Django stores under `_auth_user_id`).
    pub id: String,
    /// The `USERNAME_FIELD` value.
    pub username: String,
    /// The stored password hash (`auth_user.password`).
    pub password: String,
    /// `is_active` (a model without the column is always active, as in Django's
    /// `ModelBackend.user_can_authenticate`).
    pub is_active: bool,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("is_active", &self.is_active)
            .finish_non_exhaustive()
    }
}

/// Why a [`UserLoader`] could not answer (the database is down, a query failed). The
/// request gets a 503; the session is left as it was.
#[derive(Debug, thiserror::Error)]
#[error("user loader failed: {0}")]
pub struct LoaderError(pub String);

impl LoaderError {
    /// An error with a message (never a password or a hash).
    pub fn new(message: impl fmt::Display) -> LoaderError {
        LoaderError(message.to_string())
    }
}

/// The future a [`UserLoader`] method returns.
pub type LoaderFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LoaderError>> + Send + 'a>>;

/// Where the users are: the application's user model (Django's `auth_user` table, a custom
/// user model's table, or anything else). Ready loaders for SQL tables:
/// `SqliteUserLoader`, `PostgresUserLoader`, `MySqlUserLoader` (features `sqlite`,
/// `postgres`, `mysql`).
///
/// `Ok(None)` means "no such user" (the session is then anonymous, without a flush, as in
/// Django); `Err` means the loader could not tell (a 503, never a silent logout).
///
/// ```
/// use std::collections::HashMap;
/// use sessionkit_django::auth::{LoaderFuture, User, UserLoader};
///
/// struct InMemory(HashMap<String, User>);
///
/// impl UserLoader for InMemory {
///     fn by_id<'a>(&'a self, id: &'a str) -> LoaderFuture<'a, Option<User>> {
///         Box::pin(async move { Ok(self.0.get(id).cloned()) })
///     }
///     fn by_username<'a>(&'a self, username: &'a str) -> LoaderFuture<'a, Option<User>> {
///         Box::pin(async move { Ok(self.0.values().find(|u| u.username == username).cloned()) })
///     }
/// }
/// ```
pub trait UserLoader: Send + Sync + 'static {
    /// The user with primary key `id` (Django's `backend.get_user(user_id)`).
    fn by_id<'a>(&'a self, id: &'a str) -> LoaderFuture<'a, Option<User>>;

    /// The user with this username (Django's `get_by_natural_key`).
    fn by_username<'a>(&'a self, username: &'a str) -> LoaderFuture<'a, Option<User>>;

    /// Sets the user's `last_login` (what Django's `user_logged_in` signal does through
    /// `update_last_login`). `Ok(false)`: this loader does not record logins (the
    /// default); the login still succeeds.
    fn update_last_login<'a>(&'a self, id: &'a str, at: OffsetDateTime) -> LoaderFuture<'a, bool> {
        let _ = (id, at);
        Box::pin(async { Ok(false) })
    }
}
