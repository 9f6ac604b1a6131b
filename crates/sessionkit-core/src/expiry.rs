//! [`Expiry`]: Django's `set_expiry` values and the arithmetic of `get_expiry_age`,
//! `get_expiry_date` and `get_expire_at_browser_close`.
//!
//! As in Django, a session's own expiry lives in its data under `_session_expiry`
//! ([`EXPIRY_KEY`](crate::EXPIRY_KEY)): an integer (seconds relative to each save; `0`
//! means "until the browser closes") or an ISO 8601 string (an absolute instant). That
//! keeps sessions shared with Django readable by both sides.
//!
//! Every addition here saturates at the representable range (the year 9999): a huge
//! expiry means "as late as can be", never "now" and never a panic.

use std::time::Duration;

use time::{OffsetDateTime, PrimitiveDateTime};

use crate::config::Config;
use crate::data::Data;
use crate::pytime::{self, IsoDateTime};
use crate::value::Value;

/// The latest instant sessionkit represents (`9999-12-31T23:59:59.999999999Z`); additions
/// saturate here.
pub(crate) const LATEST: OffsetDateTime = PrimitiveDateTime::MAX.assume_utc();

/// The earliest instant sessionkit represents; subtractions saturate here.
pub(crate) const EARLIEST: OffsetDateTime = PrimitiveDateTime::MIN.assume_utc();

/// The longest span a setting may have: from the Unix epoch to [`LATEST`]. Anything longer
/// could not be added to any date after 1970, so `Config::build` refuses it.
pub(crate) const LONGEST: Duration = Duration::from_secs(253_402_300_799);

/// What [`Session::set_expiry`](crate::Session::set_expiry) accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
            Expiry::In(d) => Some(Value::String(pytime::isoformat(add(now, d)))),
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

/// `t + seconds`, saturating at the representable range ([`EARLIEST`] ..= [`LATEST`]).
pub(crate) fn add_seconds(t: OffsetDateTime, seconds: i64) -> OffsetDateTime {
    t.checked_add(time::Duration::seconds(seconds))
        .unwrap_or(if seconds < 0 { EARLIEST } else { LATEST })
}

/// `t + d`, saturating at [`LATEST`].
pub(crate) fn add(t: OffsetDateTime, d: Duration) -> OffsetDateTime {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d))
        .unwrap_or(LATEST)
}

/// Whole seconds of `d`, saturating at `i64::MAX`.
pub(crate) fn whole_seconds(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// When a record written at `now` expires: the session's own expiry (Django's rules), capped
/// by the idle timeout (from `now`) and the absolute timeout (from `created_at`).
pub(crate) fn record_expiry(
    cfg: &Config,
    data: &Data,
    now: OffsetDateTime,
    created_at: OffsetDateTime,
) -> OffsetDateTime {
    let mut t = data.expiry_date(now, cfg.cookie_age());
    if let Some(idle) = cfg.idle_timeout() {
        t = t.min(add(now, idle));
    }
    if let Some(abs) = cfg.absolute_timeout() {
        t = t.min(add(created_at, abs));
    }
    t
}

/// The cookie's Max-Age for a record written at `now`: `None` for a browser-session cookie,
/// else the session's expiry age capped by the idle and absolute timeouts and by what the
/// cookie's `expires` date can hold (so the two attributes always agree).
pub(crate) fn cookie_max_age(
    cfg: &Config,
    data: &Data,
    now: OffsetDateTime,
    created_at: OffsetDateTime,
) -> Option<i64> {
    let (stored, unset) = data.expiry_setting();
    if stored.browser_close(cfg.expire_at_browser_close(), unset) {
        return None;
    }
    let mut age = stored.age(now, cfg.cookie_age());
    if let Some(idle) = cfg.idle_timeout() {
        age = age.min(whole_seconds(idle));
    }
    if let Some(abs) = cfg.absolute_timeout() {
        age = age.min((add(created_at, abs) - now).whole_seconds());
    }
    Some(age.min((LATEST - now).whole_seconds()))
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
