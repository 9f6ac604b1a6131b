//! What sessionkit reads out of a session's data by Django's rules: the logged-in user and
//! the session's own expiry.
//!
//! Django keeps both inside the session dictionary (`_auth_user_id`, `_session_expiry`),
//! and several parts need them: the engine (the record's expiry and user index), the
//! `Session` API (`get_expiry_age`...), and the stores whose layout has no column for them
//! (Django's cache and file layouts derive a record's expiry and user from the data). They
//! all ask here, so the rules cannot drift apart.

use time::OffsetDateTime;

use crate::data::Data;
use crate::expiry::Stored;
use crate::store::Metadata;
use crate::value::Value;

/// The key Django's `auth.login` stores the user's primary key under (as a string).
pub const AUTH_USER_ID_KEY: &str = "_auth_user_id";

/// The data key that holds a session's own expiry (Django's name): an integer (seconds
/// relative to each save; `0` means "until the browser closes") or an ISO 8601 string (an
/// absolute instant).
pub const EXPIRY_KEY: &str = "_session_expiry";

impl Data {
    /// The logged-in user's id: `_auth_user_id` as text (Django stores the primary key as a
    /// string; an integer is accepted too). `None` when absent or of another type.
    ///
    /// ```
    /// use sessionkit_core::{Data, Value};
    ///
    /// let mut data = Data::new();
    /// assert_eq!(data.user_id(), None);
    /// data.insert("_auth_user_id", Value::from("42"));
    /// assert_eq!(data.user_id().as_deref(), Some("42"));
    /// data.insert("_auth_user_id", Value::Int(7));
    /// assert_eq!(data.user_id().as_deref(), Some("7"));
    /// ```
    pub fn user_id(&self) -> Option<String> {
        match self.get(AUTH_USER_ID_KEY)? {
            Value::String(s) => Some(s),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// Django's `get_expiry_date(modification=...)`: an absolute `_session_expiry`, else
    /// `modification` plus the relative expiry, else plus `cookie_age` (seconds). Saturates
    /// at the representable range.
    ///
    /// ```
    /// use sessionkit_core::{Data, Value};
    /// use time::macros::datetime;
    ///
    /// let t = datetime!(2026-01-01 00:00 UTC);
    /// let mut data = Data::new();
    /// assert_eq!(data.expiry_date(t, 60), datetime!(2026-01-01 00:01 UTC));
    /// data.insert("_session_expiry", Value::Int(300));
    /// assert_eq!(data.expiry_date(t, 60), datetime!(2026-01-01 00:05 UTC));
    /// data.insert("_session_expiry", Value::from("2026-02-01T00:00:00+00:00"));
    /// assert_eq!(data.expiry_date(t, 60), datetime!(2026-02-01 00:00 UTC));
    /// ```
    pub fn expiry_date(&self, modification: OffsetDateTime, cookie_age: i64) -> OffsetDateTime {
        self.stored_expiry().date(modification, cookie_age)
    }

    /// An absolute `_session_expiry` (an ISO date; one without an offset is read as UTC),
    /// if the session has one.
    pub fn absolute_expiry(&self) -> Option<OffsetDateTime> {
        match self.stored_expiry() {
            Stored::Absolute(t) => Some(t),
            Stored::Default { .. } | Stored::Relative(_) => None,
        }
    }

    /// Django's `get_expire_at_browser_close()`: `configured`
    /// (`SESSION_EXPIRE_AT_BROWSER_CLOSE`) when `_session_expiry` is unset, else whether it
    /// is `0`.
    pub fn expire_at_browser_close(&self, configured: bool) -> bool {
        let (stored, unset) = self.expiry_setting();
        stored.browser_close(configured, unset)
    }

    /// `_session_expiry` as Django interprets it.
    pub(crate) fn stored_expiry(&self) -> Stored {
        self.expiry_setting().0
    }

    /// `_session_expiry` as Django interprets it, and whether it is unset (absent or
    /// `None`: the configured defaults apply) — read once.
    pub(crate) fn expiry_setting(&self) -> (Stored, bool) {
        let v = self.get(EXPIRY_KEY);
        let unset = matches!(v, None | Some(Value::Null));
        (Stored::from_value(v.as_ref()), unset)
    }
}

impl Metadata {
    /// All a layout without columns of its own (Django's `db`, `cache`, `cached_db` and
    /// `file` layouts) can tell beside the data: the user, from `_auth_user_id`
    /// ([`Data::user_id`]); no creation or last-seen time.
    ///
    /// ```
    /// use sessionkit_core::{Data, Metadata, Value};
    ///
    /// let mut data = Data::new();
    /// data.insert("_auth_user_id", Value::from("42"));
    /// let meta = Metadata::from_data(&data);
    /// assert_eq!(meta.user_id.as_deref(), Some("42"));
    /// assert_eq!(meta.created_at, None);
    /// ```
    pub fn from_data(data: &Data) -> Metadata {
        Metadata {
            created_at: None,
            last_seen: None,
            user_id: data.user_id(),
            client: None,
        }
    }
}
