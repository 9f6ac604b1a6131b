//! [`ClientStore`]: stores that keep the whole session in the cookie.

use time::OffsetDateTime;

use super::{StoreError, StoreErrorKind};
use crate::data::Data;

/// The largest cookie (`name=value`) browsers are required to keep (RFC 6265 §6.1).
pub const MAX_COOKIE_SIZE: usize = 4096;

/// The cookie-size rule for client-side sessions, applied by the engine to what a
/// [`ClientStore`] encoded, with the configured cookie name (in either transport, so a
/// session never depends on which one carried it): `name=value` must fit in
/// [`MAX_COOKIE_SIZE`] bytes, or the write fails with a [`StoreErrorKind::Encode`] error
/// naming the size — a logged 500, never a cookie the browser would silently drop. `what`
/// names the cookie in the message ("the session cookie").
///
/// ```
/// use sessionkit_core::store::{MAX_COOKIE_SIZE, check_cookie_size};
///
/// assert!(check_cookie_size("the session cookie", "sessionid", &"x".repeat(4086)).is_ok());
/// let err = check_cookie_size("the session cookie", "sessionid", &"x".repeat(4087)).unwrap_err();
/// assert!(err.message().contains("4097 bytes"));
/// # let _ = MAX_COOKIE_SIZE;
/// ```
pub fn check_cookie_size(what: &str, cookie_name: &str, value: &str) -> Result<(), StoreError> {
    let size = cookie_name
        .len()
        .saturating_add(1)
        .saturating_add(value.len());
    if size > MAX_COOKIE_SIZE {
        return Err(StoreError::new(
            StoreErrorKind::Encode,
            format!(
                "{what} would be {size} bytes (name, '=' and value), over the \
                 {MAX_COOKIE_SIZE}-byte limit browsers enforce; store less in the session or \
                 use a server-side store"
            ),
        ));
    }
    Ok(())
}

/// A client-side store: the whole session travels in the cookie (Django's
/// `signed_cookies`). There is no server-side record, so no revocation and no protection
/// against replaying an old cookie until it expires.
pub trait ClientStore: Send + Sync + 'static {
    /// Reads a cookie value. A bad signature, an expired timestamp or garbage is `None`
    /// (the implementation logs a warning); never an error. The engine then checks the
    /// session's own expiry against `issued_at`.
    fn decode(&self, cookie_value: &str, now: OffsetDateTime) -> Option<CookieContents>;

    /// Writes the session into a cookie value. The engine then applies the size rule
    /// ([`check_cookie_size`]) with its configured cookie name, so a store needs no copy of
    /// that setting.
    fn encode(&self, data: &Data, now: OffsetDateTime) -> Result<String, StoreError>;

    /// A short description for logs and the inspector.
    fn describe(&self) -> String {
        std::any::type_name::<Self>().to_owned()
    }
}

/// What a [`ClientStore`] read from a cookie.
#[derive(Clone, Debug, PartialEq)]
pub struct CookieContents {
    /// The session's dictionary.
    pub data: Data,
    /// When the cookie value was signed (its embedded timestamp).
    pub issued_at: OffsetDateTime,
}
