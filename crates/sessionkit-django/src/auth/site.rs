//! [`DjangoAuth`]: `django.contrib.auth`'s session side (`get_user`, `authenticate`,
//! `login`, `logout`, `update_session_auth_hash`) over a [`UserLoader`].

use std::fmt;
use std::sync::Arc;

use sessionkit_core::{Session, SessionError, Value};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::hashers::check_password;
use super::user::{LoaderError, User, UserLoader};
use super::{AuthHasher, BACKEND_SESSION_KEY, HASH_SESSION_KEY, HashMatch, SESSION_KEY};
use crate::signing::Secrets;

/// Django's `ModelBackend`, the default (and only) entry of `AUTHENTICATION_BACKENDS`.
pub const MODEL_BACKEND: &str = "django.contrib.auth.backends.ModelBackend";

/// Who a request's session belongs to, as Django's `request.user` would say.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum CurrentUser {
    /// `AnonymousUser`.
    Anonymous,
    /// A logged-in, active user whose session auth hash verified.
    User {
        /// The user record from the loader.
        user: User,
        /// The dotted path of the backend that logged them in (`_auth_user_backend`).
        backend: String,
    },
}

impl CurrentUser {
    /// The user's primary key, `None` when anonymous.
    pub fn id(&self) -> Option<&str> {
        match self {
            CurrentUser::Anonymous => None,
            CurrentUser::User { user, .. } => Some(&user.id),
        }
    }

    /// `request.user.is_authenticated`.
    pub fn is_authenticated(&self) -> bool {
        matches!(self, CurrentUser::User { .. })
    }
}

/// Why an auth operation failed: the loader could not answer (a 503) or the session
/// refused a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The user loader failed; nothing was decided about the user.
    #[error(transparent)]
    Loader(#[from] LoaderError),
    /// The session refused a write.
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// The body of the 503 answered when the user loader fails.
pub const LOADER_UNAVAILABLE_MESSAGE: &str = "The user database is unavailable. Please retry.";

/// `django.contrib.auth`'s session side, configured like the Django site it sits beside:
/// the secrets (`SECRET_KEY` and `SECRET_KEY_FALLBACKS`), `AUTHENTICATION_BACKENDS`, and
/// the [`UserLoader`] reading the user model. Cheap to clone.
///
/// By default every [`get_user`](DjangoAuth::get_user) asks the loader, as Django asks
/// its database on every request: there is no cache, so a password change or a
/// deactivation in Django takes effect on the Rust side at the next request.
///
/// ```
/// # use std::collections::HashMap;
/// # use sessionkit_django::auth::{LoaderFuture, User, UserLoader};
/// # struct Users(HashMap<String, User>);
/// # impl UserLoader for Users {
/// #     fn by_id<'a>(&'a self, id: &'a str) -> LoaderFuture<'a, Option<User>> {
/// #         Box::pin(async move { Ok(self.0.get(id).cloned()) })
/// #     }
/// #     fn by_username<'a>(&'a self, name: &'a str) -> LoaderFuture<'a, Option<User>> {
/// #         Box::pin(async move { Ok(self.0.values().find(|u| u.username == name).cloned()) })
/// #     }
/// # }
/// use sessionkit_core::Session;
/// use sessionkit_django::Secrets;
/// use sessionkit_django::auth::{CurrentUser, DjangoAuth, hashers::make_pbkdf2_sha256};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let alice = User {
///     id: "1".into(),
///     username: "alice".into(),
///     password: make_pbkdf2_sha256("s3cret", "salt", 1000),
///     is_active: true,
/// };
/// let auth = DjangoAuth::new(&Secrets::new("django-secret-key"), Users(HashMap::from([("1".into(), alice)])));
///
/// let session = Session::detached();
/// let user = auth.authenticate("alice", "s3cret").await.unwrap().expect("right password");
/// auth.login(&session, &user).await.unwrap();
/// assert_eq!(auth.get_user(&session).await.unwrap().id(), Some("1"));
///
/// auth.logout(&session);
/// assert_eq!(auth.get_user(&session).await.unwrap(), CurrentUser::Anonymous);
/// # });
/// ```
#[derive(Clone)]
pub struct DjangoAuth {
    hasher: AuthHasher,
    backends: Arc<[String]>,
    login_backend: Arc<str>,
    loader: Arc<dyn UserLoader>,
    rotate_csrf: bool,
    update_last_login: bool,
}

impl fmt::Debug for DjangoAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoAuth")
            .field("hasher", &self.hasher)
            .field("backends", &self.backends)
            .field("login_backend", &self.login_backend)
            .field("rotate_csrf", &self.rotate_csrf)
            .field("update_last_login", &self.update_last_login)
            .finish_non_exhaustive()
    }
}

impl DjangoAuth {
    /// Django's defaults: `AUTHENTICATION_BACKENDS = [ModelBackend]`, the CSRF secret
    /// rotated at login, `last_login` updated at login through the loader.
    pub fn new(secrets: &Secrets, loader: impl UserLoader) -> DjangoAuth {
        DjangoAuth {
            hasher: AuthHasher::new(secrets),
            backends: Arc::from([MODEL_BACKEND.to_owned()]),
            login_backend: Arc::from(MODEL_BACKEND),
            loader: Arc::new(loader),
            rotate_csrf: true,
            update_last_login: true,
        }
    }

    /// `AUTHENTICATION_BACKENDS`: a session whose `_auth_user_backend` is not in this list
    /// is anonymous (not flushed), as in Django.
    pub fn with_backends<I, S>(mut self, backends: I) -> DjangoAuth
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.backends = backends.into_iter().map(Into::into).collect();
        self
    }

    /// The backend path [`login`](DjangoAuth::login) writes (default
    /// [`MODEL_BACKEND`]): the backend whose `get_user` Django will call for the
    /// session, so it should read the same user model as the loader.
    pub fn with_login_backend(mut self, backend: impl Into<String>) -> DjangoAuth {
        self.login_backend = Arc::from(backend.into());
        self
    }

    /// Whether [`login`](DjangoAuth::login) rotates the CSRF secret in the session
    /// (Django's `rotate_token`; default on; the secret lives in the session under
    /// `CSRF_USE_SESSIONS = True`).
    pub fn with_csrf_rotation(mut self, on: bool) -> DjangoAuth {
        self.rotate_csrf = on;
        self
    }

    /// Whether [`login`](DjangoAuth::login) updates `last_login` through
    /// [`UserLoader::update_last_login`] (default on, as Django's `update_last_login`
    /// signal receiver).
    pub fn with_last_login(mut self, on: bool) -> DjangoAuth {
        self.update_last_login = on;
        self
    }

    /// The hasher of `_auth_user_hash` values.
    pub fn hasher(&self) -> &AuthHasher {
        &self.hasher
    }

    /// The loader.
    pub fn loader(&self) -> &dyn UserLoader {
        &*self.loader
    }

    /// Django's `get_user(request)`:
    ///
    /// * no `_auth_user_id` or no `_auth_user_backend`, or a backend not in the list →
    ///   anonymous, the session untouched;
    /// * the loader finds no user, or an inactive one → anonymous, **not** flushed;
    /// * a missing or empty `_auth_user_hash`, or one matching no secret → the session is
    ///   flushed, anonymous;
    /// * a hash matching a `SECRET_KEY_FALLBACKS` secret → the key is cycled and the
    ///   current hash stored; the user;
    /// * else the user.
    ///
    /// A loader failure is an error and changes nothing.
    pub async fn get_user(&self, session: &Session) -> Result<CurrentUser, AuthError> {
        let Some(id) = session.user_id() else {
            return Ok(CurrentUser::Anonymous);
        };
        let Some(backend) = string_value(session, BACKEND_SESSION_KEY) else {
            return Ok(CurrentUser::Anonymous);
        };
        if !self.backends.contains(&backend) {
            return Ok(CurrentUser::Anonymous);
        }
        let Some(user) = self.loader.by_id(&id).await? else {
            return Ok(CurrentUser::Anonymous);
        };
        if !user.is_active {
            return Ok(CurrentUser::Anonymous);
        }
        let stored = string_value(session, HASH_SESSION_KEY).unwrap_or_default();
        match self.hasher.verify(&stored, &user.password) {
            HashMatch::Current => Ok(CurrentUser::User { user, backend }),
            HashMatch::Fallback { .. } => {
                session.cycle_key();
                session.insert(HASH_SESSION_KEY, self.hasher.hash(&user.password))?;
                Ok(CurrentUser::User { user, backend })
            }
            HashMatch::NoMatch => {
                session.flush();
                Ok(CurrentUser::Anonymous)
            }
        }
    }

    /// `ModelBackend.authenticate(username=…, password=…)`: the user if the password
    /// matches their stored hash ([`hashers`](super::hashers) says which algorithms are
    /// covered) and they are active; `None` otherwise. An unknown username costs one
    /// default-hasher run, as in Django (no timing difference to probe usernames with).
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, LoaderError> {
        let Some(user) = self.loader.by_username(username).await? else {
            let dummy = super::hashers::make_pbkdf2_sha256(
                password,
                "sessionkitdummysalt",
                super::hashers::DJANGO_PBKDF2_ITERATIONS,
            );
            let _ = std::hint::black_box(dummy);
            return Ok(None);
        };
        Ok((check_password(password, &user.password) && user.is_active).then_some(user))
    }

    /// Django's `login(request, user)`:
    ///
    /// * the session names another user, or this user with a different hash → flushed
    ///   (a new, empty session);
    /// * it names this user with the same hash → the key is kept;
    /// * it names no user → the key is cycled, anonymous data kept;
    ///
    /// then `_auth_user_id`, `_auth_user_backend` and `_auth_user_hash` are written, the
    /// CSRF secret rotated ([`with_csrf_rotation`](DjangoAuth::with_csrf_rotation)) and
    /// `last_login` updated ([`with_last_login`](DjangoAuth::with_last_login)).
    pub async fn login(&self, session: &Session, user: &User) -> Result<(), AuthError> {
        let hash = self.hasher.hash(&user.password);
        if session.contains_key(SESSION_KEY) {
            let stored = string_value(session, HASH_SESSION_KEY).unwrap_or_default();
            let same_user = session.user_id().as_deref() == Some(user.id.as_str());
            let same_hash = bool::from(stored.as_bytes().ct_eq(hash.as_bytes()));
            if same_user && same_hash {
                session.login_again(&user.id);
            } else {
                session.flush();
                session.login(&user.id);
            }
        } else {
            session.login(&user.id);
        }
        session.insert(BACKEND_SESSION_KEY, &*self.login_backend)?;
        session.insert(HASH_SESSION_KEY, hash)?;
        if self.rotate_csrf {
            crate::csrf::rotate_secret(session)?;
        }
        if self.update_last_login {
            let recorded = self
                .loader
                .update_last_login(&user.id, OffsetDateTime::now_utc())
                .await?;
            if !recorded {
                tracing::debug!("the user loader does not record last_login");
            }
        }
        Ok(())
    }

    /// Django's `logout(request)`: the session is flushed.
    pub fn logout(&self, session: &Session) {
        session.logout();
    }

    /// Django's `update_session_auth_hash(request, user)`, after the user changed their
    /// password on the Rust side: the key is cycled and, when the session is this user's,
    /// the new hash stored so that this session stays logged in (every other one is
    /// logged out at its next request).
    pub fn update_session_auth_hash(
        &self,
        session: &Session,
        user: &User,
    ) -> Result<(), SessionError> {
        session.cycle_key();
        if session.user_id().as_deref() == Some(user.id.as_str()) {
            session.insert(HASH_SESSION_KEY, self.hasher.hash(&user.password))?;
        }
        Ok(())
    }
}

fn string_value(session: &Session, key: &str) -> Option<String> {
    match session.get_value(key)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}
