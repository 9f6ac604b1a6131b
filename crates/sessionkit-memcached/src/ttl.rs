//! Memcached expiration times.
//!
//! Memcached reads an expiration time up to 30 days (2592000 s) as relative seconds and
//! anything greater as an absolute Unix time; 0 is "never", a negative time "already
//! expired". Django's `BaseMemcachedCache.get_backend_timeout` sends a longer timeout as
//! `timeout + int(time.time())`; so does this module (with the system clock: memcached
//! compares absolute times with its own clock, not the engine's).

use time::OffsetDateTime;

/// The longest expiration time memcached reads as relative seconds.
pub(crate) const MAX_RELATIVE: i64 = 60 * 60 * 24 * 30;

/// Memcached's expiration time for a lifetime of `secs` seconds, seen at the system
/// time `unix_now`: relative up to 30 days, absolute beyond (capped at what memcached's
/// 32-bit field holds), `-1` when `secs <= 0`.
pub(crate) fn from_secs(secs: i64, unix_now: i64) -> i64 {
    if secs <= 0 {
        -1
    } else if secs <= MAX_RELATIVE {
        secs
    } else {
        unix_now.saturating_add(secs).min(i64::from(i32::MAX))
    }
}

/// Whole seconds until `expires_at` at `now`, rounded up (`<= 0`: already expired).
pub(crate) fn secs_until(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let us = (expires_at - now).whole_microseconds();
    if us <= 0 {
        return 0;
    }
    i64::try_from((us + 999_999) / 1_000_000).unwrap_or(i64::MAX)
}

/// The system clock, in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The expiration time of a native record: the seconds until `expires_at` rounded up,
/// plus one (memcached's clock ticks once a second, so an item may otherwise go up to a
/// second early).
pub(crate) fn exptime(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    match secs_until(expires_at, now) {
        0 => -1,
        s => from_secs(s.saturating_add(1), unix_now()),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn thirty_days_is_relative_and_more_is_absolute() {
        let now = 1_767_225_600;
        assert_eq!(from_secs(0, now), -1);
        assert_eq!(from_secs(-5, now), -1);
        assert_eq!(from_secs(1, now), 1);
        assert_eq!(from_secs(MAX_RELATIVE, now), MAX_RELATIVE);
        assert_eq!(from_secs(MAX_RELATIVE + 1, now), now + MAX_RELATIVE + 1);
        assert_eq!(from_secs(i64::MAX, now), i64::from(i32::MAX));
    }

    #[test]
    fn lifetimes_round_up() {
        let now = datetime!(2026-01-01 00:00 UTC);
        assert_eq!(secs_until(now, now), 0);
        assert_eq!(secs_until(now - time::Duration::seconds(3), now), 0);
        assert_eq!(secs_until(now + time::Duration::microseconds(1), now), 1);
        assert_eq!(secs_until(now + time::Duration::seconds(10), now), 10);
        assert_eq!(exptime(now + time::Duration::seconds(10), now), 11);
        assert_eq!(exptime(now, now), -1);
        let far = exptime(now + time::Duration::days(60), now);
        assert!(far > unix_now() + 59 * 86_400, "{far}");
    }
}
