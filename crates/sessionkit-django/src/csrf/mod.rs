//! Django's CSRF secret as `CSRF_USE_SESSIONS = True` keeps it (`django.middleware.csrf`):
//! 32 characters of `[A-Za-z0-9]` under `_csrftoken` in the session.
//!
//! [`rotate_secret`] is what Django's `rotate_token()` does to the session at login
//! ([`DjangoAuth::login`](crate::auth::DjangoAuth::login) calls it).
//!
//! On top of the secret, Django's protection itself (`CsrfViewMiddleware` under
//! `CSRF_USE_SESSIONS = True`): [`get_token`] (a masked 64-character token for forms and
//! the `X-CSRFToken` header, Django's `mask`/`unmask`), and [`CsrfConfig::check`] with
//! Django's Origin / Referer / `CSRF_TRUSTED_ORIGINS` rules and its failure reasons. The
//! adapters' CSRF middleware (`sessionkit-tower` and `sessionkit-actix`, feature
//! `django`) run it before the handler and answer 403 on failure.
//!
//! ```
//! use sessionkit_core::Session;
//! use sessionkit_django::csrf::{CSRF_SESSION_KEY, is_valid_secret, rotate_secret};
//!
//! let session = Session::detached();
//! rotate_secret(&session).unwrap();
//! let secret: String = session.get(CSRF_SESSION_KEY).unwrap().unwrap();
//! assert!(is_valid_secret(&secret));
//! ```

mod check;
mod token;

pub use check::{
    CsrfConfig, CsrfRequest, DEFAULT_HEADER_NAME, FORM_FIELD, Reason, failure_text, form_token,
    get_token, is_safe_method, is_same_domain, session_secret,
};
pub use token::{
    CSRF_TOKEN_LENGTH, TokenFormat, check_token_format, mask, mask_with, token_matches, unmask,
};

use rand::RngExt as _;
use sessionkit_core::{Session, SessionError};

/// The session key of the CSRF secret (`CSRF_SESSION_KEY`).
pub const CSRF_SESSION_KEY: &str = "_csrftoken";

/// The secret's length (`CSRF_SECRET_LENGTH`).
pub const CSRF_SECRET_LENGTH: usize = 32;

/// Django's `CSRF_ALLOWED_CHARS`.
pub const CSRF_ALLOWED_CHARS: &[u8; 62] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A new secret (`_get_new_csrf_string`): 32 characters drawn uniformly from
/// [`CSRF_ALLOWED_CHARS`] by the thread-local CSPRNG.
pub fn new_secret() -> String {
    let mut rng = rand::rng();
    (0..CSRF_SECRET_LENGTH)
        .map(|_| char::from(CSRF_ALLOWED_CHARS[rng.random_range(0..CSRF_ALLOWED_CHARS.len())]))
        .collect()
}

/// Whether `secret` has the form Django accepts under `_csrftoken` (32 characters of
/// [`CSRF_ALLOWED_CHARS`]); Django replaces any other value.
pub fn is_valid_secret(secret: &str) -> bool {
    secret.len() == CSRF_SECRET_LENGTH && secret.bytes().all(|b| CSRF_ALLOWED_CHARS.contains(&b))
}

/// Django's `rotate_token(request)` under `CSRF_USE_SESSIONS`: a new secret in the
/// session (every token rendered before no longer matches).
pub fn rotate_secret(session: &Session) -> Result<(), SessionError> {
    session.insert(CSRF_SESSION_KEY, new_secret())
}

#[cfg(test)]
mod tests;
