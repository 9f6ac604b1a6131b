//! Django's session auth hash (`AbstractBaseUser.get_session_auth_hash`, DJANGO.md
//! §1.6 and §2.10): what `login()` stores under `_auth_user_hash` so that changing the
//! password logs out every other session.
//!
//! `hash = hex(HMAC-SHA256(key = SHA256(salt ++ SECRET_KEY), msg = user.password))`,
//! where `user.password` is the stored password hash string.
//!
//! On each request Django recomputes the hash and compares it with the stored one:
//!
//! * it matches with `SECRET_KEY` → the user stays logged in;
//! * it matches only with a `SECRET_KEY_FALLBACKS` key → Django calls `cycle_key()` and
//!   stores the hash computed with the current key (the session survives a key rotation
//!   and is upgraded);
//! * no match → `flush()`: the user is logged out.
//!
//! [`AuthHasher::verify`] answers which of the three applies.
//!
//! On top of the hash, [`DjangoAuth`] is the session side of `django.contrib.auth`:
//! `get_user`, `authenticate` (with [`hashers`]), `login`, `logout` and
//! `update_session_auth_hash`, writing exactly what Django writes, over a [`UserLoader`]
//! (ready ones for Django's `auth_user` table, or a custom user model's
//! [`UserTable`], on SQLite, PostgreSQL and MySQL behind the `sqlite`, `postgres` and
//! `mysql` features).
//!
//! ```
//! use sessionkit_django::auth::{AuthHasher, HashMatch, session_auth_hash};
//! use sessionkit_django::signing::Secrets;
//!
//! let password = "pbkdf2_sha256$1000000$salt$hash";
//! let old = session_auth_hash("old-key", password);
//!
//! let hasher = AuthHasher::new(&Secrets::new("new-key").with_fallback("old-key"));
//! assert_eq!(hasher.verify(&old, password), HashMatch::Fallback { index: 0 });
//! assert_eq!(hasher.verify(&hasher.hash(password), password), HashMatch::Current);
//! assert_eq!(hasher.verify(&old, "another password"), HashMatch::NoMatch);
//! ```

pub mod hashers;
mod site;
mod user;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod table;

#[cfg(feature = "mysql")]
pub use mysql::MySqlUserLoader;
#[cfg(feature = "postgres")]
pub use postgres::PostgresUserLoader;
pub use site::{AuthError, CurrentUser, DjangoAuth, LOADER_UNAVAILABLE_MESSAGE, MODEL_BACKEND};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteUserLoader;
pub use table::UserTable;
pub use user::{LoaderError, LoaderFuture, User, UserLoader};

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::signing::{Secrets, salted_hmac};

/// The key salt of the session auth hash.
pub const AUTH_HASH_SALT: &str =
    "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash";

/// The session key holding the logged-in user's primary key, **as a string**.
pub const SESSION_KEY: &str = "_auth_user_id";

/// The session key holding the dotted path of the authentication backend.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";

/// The session key holding the session auth hash.
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";

/// `get_session_auth_hash()` for one secret: 64 lower-case hex characters.
///
/// ```
/// use sessionkit_django::auth::session_auth_hash;
///
/// let h = session_auth_hash(
///     "anchor-secret-key-for-vectors",
///     "pbkdf2_sha256$1000000$anchorsalt$Jm5Ew0pRmvBqYzVfZDbeTGTWBf6kqcmqL40CGGVsfbo=",
/// );
/// assert_eq!(h, "7bc383293aae4e9bcfeb144354db9cc59333c73078b1bcfb6adc5641e33eb316");
/// ```
pub fn session_auth_hash(secret: &str, password_hash: &str) -> String {
    hex(&salted_hmac(
        AUTH_HASH_SALT,
        password_hash.as_bytes(),
        secret,
    ))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// Which secret produced a stored auth hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum HashMatch {
    /// `SECRET_KEY`: nothing to do.
    Current,
    /// A `SECRET_KEY_FALLBACKS` entry (its position): cycle the session key and store
    /// [`AuthHasher::hash`] (the current-key hash), as Django does.
    Fallback {
        /// Position in the fallback list.
        index: usize,
    },
    /// No secret: the password changed (or the hash was forged); flush the session.
    NoMatch,
}

impl HashMatch {
    /// Whether the user stays logged in (current or fallback match).
    pub fn is_valid(self) -> bool {
        !matches!(self, HashMatch::NoMatch)
    }
}

/// Computes and verifies session auth hashes with the HMAC keys for every secret derived
/// once. `Debug` shows no key material.
#[derive(Clone)]
pub struct AuthHasher {
    keys: Arc<[Hmac<Sha256>]>,
}

impl fmt::Debug for AuthHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthHasher")
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl AuthHasher {
    /// A hasher for the current key and the fallbacks of `secrets`.
    pub fn new(secrets: &Secrets) -> AuthHasher {
        let keys = secrets
            .all()
            .map(|secret| crate::signing::salted_hmac_state(AUTH_HASH_SALT, secret))
            .collect();
        AuthHasher { keys }
    }

    fn hash_with(&self, index: usize, password_hash: &str) -> Option<[u8; 64]> {
        let mut mac = self.keys.get(index)?.clone();
        mac.update(password_hash.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; 64];
        out.copy_from_slice(hex(&digest).as_bytes());
        Some(out)
    }

    /// The hash with the current key: what to store under [`HASH_SESSION_KEY`].
    pub fn hash(&self, password_hash: &str) -> String {
        self.hash_with(0, password_hash)
            .map(|h| h.iter().map(|&b| char::from(b)).collect())
            .unwrap_or_default()
    }

    /// Compares a stored hash with the hash of `password_hash` under the current key,
    /// then each fallback, in constant time per comparison (Django's
    /// `constant_time_compare` on the hex strings). An empty stored hash never matches.
    pub fn verify(&self, stored: &str, password_hash: &str) -> HashMatch {
        if stored.is_empty() {
            return HashMatch::NoMatch;
        }
        for index in 0..self.keys.len() {
            let Some(expected) = self.hash_with(index, password_hash) else {
                break;
            };
            if bool::from(expected[..].ct_eq(stored.as_bytes())) {
                return match index {
                    0 => HashMatch::Current,
                    n => HashMatch::Fallback { index: n - 1 },
                };
            }
        }
        HashMatch::NoMatch
    }
}

/// Who a session belongs to, by Django's rules (`django.contrib.auth.get_user`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum AuthState {
    /// No user in the session.
    Anonymous,
    /// The user (`_auth_user_id`), verified against their current password hash.
    User(String),
    /// The session named a user but failed the check (the password changed, the user is
    /// gone, or the hash is missing or forged): the session was flushed, as Django does.
    LoggedOut,
}

/// Checks the logged-in user of a session as Django's `get_user` does, so that a password
/// change in Django logs the user out on the Rust side too.
///
/// `password_hash_of(user_id)` returns the user's stored password hash (Django's
/// `auth_user.password`) from the application's user store, or `None` if the user no
/// longer exists. A hash made with a fallback secret cycles the session key and stores the
/// current-key hash; a mismatch flushes the session.
///
/// ```
/// use sessionkit_core::Session;
/// use sessionkit_django::auth::{AuthHasher, AuthState, authenticate};
/// use sessionkit_django::signing::Secrets;
///
/// let hasher = AuthHasher::new(&Secrets::new("secret"));
/// let session = Session::detached();
/// session.insert("_auth_user_id", "1").unwrap();
/// session.insert("_auth_user_hash", hasher.hash("pbkdf2$old")).unwrap();
///
/// assert_eq!(authenticate(&session, &hasher, |_| Some("pbkdf2$old".into())).unwrap(), AuthState::User("1".into()));
/// // The password changed in Django: logged out.
/// assert_eq!(authenticate(&session, &hasher, |_| Some("pbkdf2$new".into())).unwrap(), AuthState::LoggedOut);
/// assert!(session.is_empty());
/// ```
pub fn authenticate(
    session: &sessionkit_core::Session,
    hasher: &AuthHasher,
    password_hash_of: impl FnOnce(&str) -> Option<String>,
) -> Result<AuthState, sessionkit_core::SessionError> {
    let Some(user_id) = session.user_id() else {
        return Ok(AuthState::Anonymous);
    };
    let Some(password_hash) = password_hash_of(&user_id) else {
        session.flush();
        return Ok(AuthState::LoggedOut);
    };
    let stored: Option<String> = session.get(HASH_SESSION_KEY).unwrap_or(None);
    match hasher.verify(stored.as_deref().unwrap_or(""), &password_hash) {
        HashMatch::Current => Ok(AuthState::User(user_id)),
        HashMatch::Fallback { .. } => {
            session.cycle_key();
            session.insert(HASH_SESSION_KEY, hasher.hash(&password_hash))?;
            Ok(AuthState::User(user_id))
        }
        HashMatch::NoMatch => {
            session.flush();
            Ok(AuthState::LoggedOut)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str =
        "pbkdf2_sha256$1000000$anchorsalt$Jm5Ew0pRmvBqYzVfZDbeTGTWBf6kqcmqL40CGGVsfbo=";

    #[test]
    fn hasher_agrees_with_the_free_function() {
        let secrets = Secrets::new("a").with_fallbacks(["b", "c"]);
        let hasher = AuthHasher::new(&secrets);
        assert_eq!(hasher.hash(PASSWORD), session_auth_hash("a", PASSWORD));
        assert_eq!(
            hasher.verify(&session_auth_hash("c", PASSWORD), PASSWORD),
            HashMatch::Fallback { index: 1 }
        );
        assert!(HashMatch::Fallback { index: 1 }.is_valid());
        assert!(!HashMatch::NoMatch.is_valid());
    }

    #[test]
    fn near_misses_do_not_match() {
        let hasher = AuthHasher::new(&Secrets::new("a"));
        let good = hasher.hash(PASSWORD);
        assert_eq!(hasher.verify("", PASSWORD), HashMatch::NoMatch);
        assert_eq!(hasher.verify(&good[..63], PASSWORD), HashMatch::NoMatch);
        assert_eq!(
            hasher.verify(&good.to_uppercase(), PASSWORD),
            HashMatch::NoMatch
        );
        assert_eq!(
            hasher.verify(&format!("{good}0"), PASSWORD),
            HashMatch::NoMatch
        );
        assert_eq!(hasher.verify(&good, "other"), HashMatch::NoMatch);
        assert_eq!(format!("{hasher:?}"), "AuthHasher { keys: 1 }");
    }
}
