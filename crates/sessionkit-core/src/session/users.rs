//! The user side of [`Session`]: Django's test-cookie helpers and what `auth.login` and
//! `auth.logout` do to the session.

use super::{AuthChange, Session, TEST_COOKIE_NAME, TEST_COOKIE_VALUE};
use crate::derived::AUTH_USER_ID_KEY;
use crate::value::Value;

impl Session {
    // ---- test cookie ----

    /// `session.set_test_cookie()`.
    pub fn set_test_cookie(&self) {
        self.put(
            TEST_COOKIE_NAME,
            Value::String(TEST_COOKIE_VALUE.to_owned()),
        );
    }

    /// `session.test_cookie_worked()`.
    pub fn test_cookie_worked(&self) -> bool {
        self.get_value(TEST_COOKIE_NAME)
            .as_ref()
            .and_then(Value::as_str)
            == Some(TEST_COOKIE_VALUE)
    }

    /// `session.delete_test_cookie()`; `false` (Django's `KeyError`) when it was not set.
    pub fn delete_test_cookie(&self) -> bool {
        self.remove(TEST_COOKIE_NAME).is_some()
    }

    // ---- users ----

    /// The logged-in user's id (Django's `_auth_user_id`), if any.
    pub fn user_id(&self) -> Option<String> {
        self.read().data.user_id()
    }

    /// Logs `user_id` in the way Django's `auth.login` treats the session: if another user
    /// is logged in, the session is flushed first; otherwise the key is cycled (keeping
    /// anonymous data). Then `_auth_user_id` is stored (as a string, as Django does).
    ///
    /// A login is a fresh authentication, so it also restarts the
    /// [absolute timeout](crate::ConfigBuilder::absolute_timeout) (a plain
    /// [`cycle_key`](Session::cycle_key) keeps the session's creation time).
    pub fn login(&self, user_id: &str) {
        match self.user_id() {
            Some(current) if current != user_id => self.flush(),
            _ => {
                self.cycle_key();
                self.state().renewed = true;
            }
        }
        self.put(AUTH_USER_ID_KEY, Value::String(user_id.to_owned()));
        self.state().auth = Some(AuthChange::LoggedIn(user_id.to_owned()));
    }

    /// Records a new login of the user already logged in, keeping the session key: Django's
    /// `auth.login` leaves the session alone when the same user logs in again with a
    /// matching auth hash (`sessionkit-django` decides that; other callers want
    /// [`login`](Session::login)). `_auth_user_id` is stored again and the login is
    /// reported to the lifecycle events; the absolute timeout does not restart, since the
    /// key does not change.
    pub fn login_again(&self, user_id: &str) {
        self.put(AUTH_USER_ID_KEY, Value::String(user_id.to_owned()));
        self.state().auth = Some(AuthChange::LoggedIn(user_id.to_owned()));
    }

    /// Logs out: Django's `auth.logout`, i.e. [`flush`](Session::flush).
    pub fn logout(&self) {
        let user = self.user_id();
        self.flush();
        self.state().auth = Some(AuthChange::LoggedOut(user));
    }
}
