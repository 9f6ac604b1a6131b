//! The expiry side of [`Session`]: Django's `set_expiry`, `get_expiry_age`,
//! `get_expiry_date` and `get_expire_at_browser_close`.

use time::OffsetDateTime;

use super::Session;
use crate::derived::EXPIRY_KEY;
use crate::expiry::Expiry;

impl Session {
    /// `session.set_expiry(value)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sessionkit_core::{Expiry, Session};
    ///
    /// let s = Session::detached();
    /// s.set_expiry(Expiry::Seconds(300));
    /// assert_eq!(s.expiry_age(), 300);
    /// s.set_expiry(Expiry::BrowserClose);
    /// assert!(s.expire_at_browser_close());
    /// s.set_expiry(Expiry::In(Duration::from_secs(60)));
    /// assert!((59..=60).contains(&s.expiry_age()));
    /// ```
    pub fn set_expiry(&self, expiry: Expiry) {
        match expiry.to_stored(self.now()) {
            Some(v) => self.put(EXPIRY_KEY, v),
            None => {
                self.remove(EXPIRY_KEY);
            }
        }
    }

    /// `session.get_expiry_age()`: seconds until the session expires, from now.
    pub fn expiry_age(&self) -> i64 {
        self.expiry_age_at(self.now())
    }

    /// `session.get_expiry_age(modification=at)`.
    pub fn expiry_age_at(&self, at: OffsetDateTime) -> i64 {
        self.read()
            .data
            .stored_expiry()
            .age(at, self.inner.ctx.config.cookie_age())
    }

    /// `session.get_expiry_date()`.
    pub fn expiry_date(&self) -> OffsetDateTime {
        self.expiry_date_at(self.now())
    }

    /// `session.get_expiry_date(modification=at)`.
    pub fn expiry_date_at(&self, at: OffsetDateTime) -> OffsetDateTime {
        self.read()
            .data
            .expiry_date(at, self.inner.ctx.config.cookie_age())
    }

    /// `session.get_expire_at_browser_close()`.
    pub fn expire_at_browser_close(&self) -> bool {
        self.read()
            .data
            .expire_at_browser_close(self.inner.ctx.config.expire_at_browser_close())
    }
}
