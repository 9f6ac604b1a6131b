//! [`ClientStore`]: stores that keep the whole session in the cookie.

use time::OffsetDateTime;

use super::StoreError;
use crate::data::Data;

/// A client-side store: the whole session travels in the cookie (Django's
/// `signed_cookies`). There is no server-side record, so no revocation and no protection
/// against replaying an old cookie until it expires.
pub trait ClientStore: Send + Sync + 'static {
    /// Reads a cookie value. A bad signature, an expired timestamp or garbage is `None`
    /// (the implementation logs a warning); never an error. The engine then checks the
    /// session's own expiry against `issued_at`.
    fn decode(&self, cookie_value: &str, now: OffsetDateTime) -> Option<CookieContents>;

    /// Writes the session into a cookie value. Fails (a logged 500, never a silently
    /// dropped cookie) when the result would not fit in a cookie.
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
