//! The rules Django's `cache` and `cached_db` engines follow whatever the cache server
//! (Redis, memcached): where a session's expiry and user are in its data, and the cookie
//! age a session without TTL lives for. The key function is in [`keys`](crate::keys), the
//! pickled values in [`pickle`](crate::pickle).
//!
//! ```
//! use sessionkit_core::{Data, EXPIRY_KEY, Value};
//! use sessionkit_django::cache_layout;
//! use time::macros::datetime;
//!
//! let mut data = Data::new();
//! data.insert(EXPIRY_KEY, Value::from("2026-01-01T00:05:00"));
//! data.insert("_auth_user_id", Value::from("42"));
//! assert_eq!(
//!     cache_layout::absolute_expiry(&data),
//!     Some(datetime!(2026-01-01 00:05 UTC))
//! );
//! assert_eq!(cache_layout::user_id(&data).as_deref(), Some("42"));
//! ```

use sessionkit_core::{Data, EXPIRY_KEY, Metadata, Value, pytime};
use time::OffsetDateTime;

/// Django's default `SESSION_COOKIE_AGE` (two weeks), in seconds.
pub const DEFAULT_COOKIE_AGE: i64 = 1_209_600;

/// An absolute `_session_expiry` in the data (`set_expiry(datetime)` or
/// `set_expiry(timedelta)`: an ISO date, read as UTC without offset). A number there is
/// an age in seconds, relative to each save: no absolute expiry.
pub fn absolute_expiry(data: &Data) -> Option<OffsetDateTime> {
    match data.get(EXPIRY_KEY) {
        Some(Value::String(s)) => pytime::fromisoformat(&s).map(pytime::IsoDateTime::assume_utc),
        _ => None,
    }
}

/// All Django's cache layouts tell beside the data: the user, from `_auth_user_id`.
pub fn metadata(data: &Data) -> Metadata {
    Metadata {
        created_at: None,
        last_seen: None,
        user_id: user_id(data),
    }
}

/// The logged-in user: `_auth_user_id` (a string in Django; an integer is accepted too).
pub fn user_id(data: &Data) -> Option<String> {
    match data.get(crate::auth::SESSION_KEY) {
        Some(Value::String(s)) => Some(s),
        Some(Value::Int(i)) => Some(i.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn only_iso_dates_are_absolute_expiries() {
        let mut d = Data::new();
        assert_eq!(absolute_expiry(&d), None);
        d.insert(EXPIRY_KEY, Value::Int(600));
        assert_eq!(absolute_expiry(&d), None);
        d.insert(EXPIRY_KEY, Value::from("2026-01-01T00:05:00+01:00"));
        assert_eq!(absolute_expiry(&d), Some(datetime!(2025-12-31 23:05 UTC)));
        d.insert(EXPIRY_KEY, Value::from("2026-01-01 00:05:00"));
        assert_eq!(absolute_expiry(&d), Some(datetime!(2026-01-01 00:05 UTC)));
        d.insert(EXPIRY_KEY, Value::from("soon"));
        assert_eq!(absolute_expiry(&d), None);
    }

    #[test]
    fn the_user_comes_from_auth_user_id() {
        let mut d = Data::new();
        assert_eq!(metadata(&d).user_id, None);
        d.insert("_auth_user_id", Value::from("42"));
        assert_eq!(metadata(&d).user_id.as_deref(), Some("42"));
        d.insert("_auth_user_id", Value::Int(7));
        assert_eq!(metadata(&d).user_id.as_deref(), Some("7"));
        d.insert("_auth_user_id", Value::Null);
        assert_eq!(metadata(&d).user_id, None);
    }
}
