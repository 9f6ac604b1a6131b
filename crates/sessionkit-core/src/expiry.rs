//! [`Expiry`]: Django's `set_expiry` values and the arithmetic of `get_expiry_age`,
//! `get_expiry_date` and `get_expire_at_browser_close`.
//!
//! As in Django, a session's own expiry lives in its data under `_session_expiry`: an
//! integer (seconds relative to each save; `0` means "until the browser closes") or an
//! ISO 8601 string (an absolute instant). That keeps sessions shared with Django readable
//! by both sides.

use std::time::Duration;

use time::OffsetDateTime;

use crate::pytime::{self, IsoDateTime};
use crate::value::Value;

/// The data key that holds a session's own expiry (Django's name).
pub const EXPIRY_KEY: &str = "_session_expiry";

/// What [`Session::set_expiry`](crate::Session::set_expiry) accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Back to the configured default (`set_expiry(None)`).
    Default,
    /// A browser-session cookie (`set_expiry(0)`); the server still expires the session
    /// after `cookie_age`.
    BrowserClose,
    /// Seconds after each save (`set_expiry(300)`); negative means already expired.
    Seconds(i64),
    /// A fixed instant this long from now (`set_expiry(timedelta(...))`).
    In(Duration),
    /// A fixed instant (`set_expiry(datetime)`).
    At(OffsetDateTime),
}

impl Expiry {
    /// The value stored under `_session_expiry`, or `None` to remove it.
    pub(crate) fn to_stored(self, now: OffsetDateTime) -> Option<Value> {
        match self {
            Expiry::Default => None,
            Expiry::BrowserClose => Some(Value::Int(0)),
            Expiry::Seconds(n) => Some(Value::Int(n)),
            Expiry::In(d) => Some(Value::String(pytime::isoformat(
                now.checked_add(time::Duration::try_from(d).unwrap_or(time::Duration::MAX))
                    .unwrap_or(now),
            ))),
            Expiry::At(t) => Some(Value::String(pytime::isoformat(t))),
        }
    }
}

/// A `_session_expiry` value as Django interprets it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Stored {
    /// Absent, `None`, `0`, or another falsy value: the default age applies.
    Default { browser_close: bool },
    /// Relative seconds.
    Relative(i64),
    /// An absolute instant.
    Absolute(OffsetDateTime),
}

impl Stored {
    pub(crate) fn from_value(v: Option<&Value>) -> Stored {
        match v {
            None | Some(Value::Null) => Stored::Default {
                browser_close: false,
            },
            Some(Value::Int(0) | Value::Bool(false)) => Stored::Default {
                browser_close: true,
            },
            Some(Value::Float(f)) if *f == 0.0 => Stored::Default {
                browser_close: true,
            },
            Some(Value::Int(n)) => Stored::Relative(*n),
            Some(Value::Bool(true)) => Stored::Relative(1),
            Some(Value::Float(f)) if f.is_finite() => Stored::Relative(*f as i64),
            Some(Value::String(s)) if s.is_empty() => Stored::Default {
                browser_close: false,
            },
            Some(Value::String(s)) => match pytime::fromisoformat(s) {
                Some(IsoDateTime::Aware(t)) => Stored::Absolute(t),
                Some(IsoDateTime::Naive(t)) => {
                    // Django raises TypeError here (naive minus aware) and answers 500.
                    // Reading it as UTC is the useful reading; say so in the log.
                    tracing::warn!("session expiry {s:?} has no UTC offset; reading it as UTC");
                    Stored::Absolute(t.assume_utc())
                }
                None => {
                    tracing::warn!("session expiry {s:?} is not a date; using the default age");
                    Stored::Default {
                        browser_close: false,
                    }
                }
            },
            Some(other) => {
                tracing::warn!(
                    "session expiry of type {} is not understood; using the default age",
                    other.type_name()
                );
                Stored::Default {
                    browser_close: false,
                }
            }
        }
    }

    /// `get_expiry_age(modification=...)`: whole seconds, floored (Python's
    /// `delta.days * 86400 + delta.seconds`).
    pub(crate) fn age(self, modification: OffsetDateTime, cookie_age: i64) -> i64 {
        match self {
            Stored::Default { .. } => cookie_age,
            Stored::Relative(n) => n,
            Stored::Absolute(t) => {
                let micros =
                    (pytime::to_micros(t) - pytime::to_micros(modification)).whole_microseconds();
                i64::try_from(micros.div_euclid(1_000_000)).unwrap_or(if micros < 0 {
                    i64::MIN
                } else {
                    i64::MAX
                })
            }
        }
    }

    /// `get_expiry_date(modification=...)`.
    pub(crate) fn date(self, modification: OffsetDateTime, cookie_age: i64) -> OffsetDateTime {
        match self {
            Stored::Absolute(t) => t,
            Stored::Default { .. } => add_seconds(modification, cookie_age),
            Stored::Relative(n) => add_seconds(modification, n),
        }
    }

    /// `get_expire_at_browser_close()`.
    pub(crate) fn browser_close(self, configured: bool, absent: bool) -> bool {
        if absent {
            return configured;
        }
        matches!(
            self,
            Stored::Default {
                browser_close: true
            }
        )
    }
}

/// `t + seconds`, saturating at the representable range.
pub(crate) fn add_seconds(t: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    t.checked_add(time::Duration::seconds(seconds))
        .unwrap_or(if seconds < 0 {
            OffsetDateTime::UNIX_EPOCH
        } else {
            t
        })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const AGE: i64 = 1_209_600;

    #[test]
    fn matches_djangos_set_expiry_vectors() {
        let now = datetime!(2026-01-01 00:00 UTC);
        // (expiry, stored, age, date, browser_close)
        let cases = [
            (
                Expiry::Seconds(300),
                Some(Value::Int(300)),
                300,
                datetime!(2026-01-01 00:05 UTC),
                false,
            ),
            (
                Expiry::BrowserClose,
                Some(Value::Int(0)),
                AGE,
                datetime!(2026-01-15 00:00 UTC),
                true,
            ),
            (
                Expiry::Seconds(-10),
                Some(Value::Int(-10)),
                -10,
                datetime!(2025-12-31 23:59:50 UTC),
                false,
            ),
            (
                Expiry::In(Duration::from_secs(300)),
                Some(Value::String("2026-01-01T00:05:00+00:00".into())),
                300,
                datetime!(2026-01-01 00:05 UTC),
                false,
            ),
            (
                Expiry::At(datetime!(2026-01-02 03:04:05.678901 UTC)),
                Some(Value::String("2026-01-02T03:04:05.678901+00:00".into())),
                97445,
                datetime!(2026-01-02 03:04:05.678901 UTC),
                false,
            ),
            (
                Expiry::Default,
                None,
                AGE,
                datetime!(2026-01-15 00:00 UTC),
                false,
            ),
        ];
        for (expiry, stored, age, date, bc) in cases {
            let v = expiry.to_stored(now);
            assert_eq!(v, stored, "{expiry:?}");
            let s = Stored::from_value(v.as_ref());
            assert_eq!(s.age(now, AGE), age, "{expiry:?}");
            assert_eq!(s.date(now, AGE), date, "{expiry:?}");
            assert_eq!(s.browser_close(false, v.is_none()), bc, "{expiry:?}");
        }
    }

    #[test]
    fn ages_floor_like_timedelta() {
        let now = datetime!(2026-01-01 00:00:00.5 UTC);
        let s = Stored::Absolute(datetime!(2026-01-01 00:00 UTC));
        assert_eq!(s.age(now, AGE), -1);
        let s = Stored::Absolute(datetime!(2026-01-01 00:00:10 UTC));
        assert_eq!(s.age(now, AGE), 9);
    }

    #[test]
    fn browser_close_default_follows_setting() {
        let absent = Stored::from_value(None);
        assert!(absent.browser_close(true, true));
        assert!(!absent.browser_close(false, true));
        let ten = Stored::from_value(Some(&Value::Int(10)));
        assert!(!ten.browser_close(true, false));
        let zero = Stored::from_value(Some(&Value::Int(0)));
        assert!(zero.browser_close(false, false));
    }

    #[test]
    fn odd_stored_values_never_panic() {
        for v in [
            Value::String("garbage".into()),
            Value::String("2026-01-01T00:00:00".into()),
            Value::List(vec![]),
            Value::Float(f64::NAN),
            Value::Int(i64::MAX),
            Value::Int(i64::MIN),
        ] {
            let s = Stored::from_value(Some(&v));
            let now = datetime!(2026-01-01 00:00 UTC);
            let _ = s.age(now, AGE);
            let _ = s.date(now, AGE);
        }
    }
}
