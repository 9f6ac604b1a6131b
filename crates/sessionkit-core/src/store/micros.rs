//! Unix microseconds: the one integer form of a time that the stores keep (memory, file,
//! SQLite, Redis, memcached), so that every store rounds and saturates the same way.
//!
//! The conversions go through whole seconds and a sub-second part, never through `i128`
//! nanoseconds: a division of an `i128` costs more than the rest of the conversion, and a
//! returning visit converts four or five times.

use time::{OffsetDateTime, PrimitiveDateTime};

const PER_SECOND: i64 = 1_000_000;

/// `t` as Unix microseconds, rounded down to the microsecond (towards the past, before
/// 1970 too). Saturates at `i64::MIN`/`i64::MAX`, which only dates far beyond the year
/// 9999 could reach (with `time`'s `large-dates` feature).
///
/// ```
/// use sessionkit_core::store::{from_unix_micros, unix_micros};
/// use time::macros::datetime;
///
/// let t = datetime!(2026-12-07 18:00:00.123_456_789 UTC);
/// assert_eq!(unix_micros(t), 1_796_666_400_123_456);
/// assert_eq!(from_unix_micros(unix_micros(t)), Some(datetime!(2026-12-07 18:00:00.123_456 UTC)));
/// ```
pub fn unix_micros(t: OffsetDateTime) -> i64 {
    let seconds = t.unix_timestamp();
    seconds
        .checked_mul(PER_SECOND)
        .and_then(|m| m.checked_add(i64::from(t.microsecond())))
        .unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX })
}

/// The instant `m` Unix microseconds after the epoch, or `None` when it lies outside the
/// range a time can hold (beyond the year 9999 either way).
pub fn from_unix_micros(m: i64) -> Option<OffsetDateTime> {
    let second = OffsetDateTime::from_unix_timestamp(m.div_euclid(PER_SECOND)).ok()?;
    // `rem_euclid` is in 0..1_000_000: a valid microsecond.
    let micro = u32::try_from(m.rem_euclid(PER_SECOND)).ok()?;
    second.replace_microsecond(micro).ok()
}

/// [`from_unix_micros`], saturating at the first or last representable instant: a
/// far-future expiry stays far in the future and a far-past one stays past.
pub fn from_unix_micros_saturating(m: i64) -> OffsetDateTime {
    from_unix_micros(m).unwrap_or(if m < 0 {
        PrimitiveDateTime::MIN.assume_utc()
    } else {
        PrimitiveDateTime::MAX.assume_utc()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn round_trips_at_the_microsecond_on_both_sides_of_the_epoch() {
        for m in [
            0,
            1,
            -1,
            999_999,
            -999_999,
            1_000_000,
            -1_000_001,
            1_765_130_400_123_456,
            -62_135_596_800_000_000,
        ] {
            let t = from_unix_micros(m).unwrap();
            assert_eq!(unix_micros(t), m, "{m}");
            // The same instant as the nanosecond arithmetic gives.
            assert_eq!(t.unix_timestamp_nanos(), i128::from(m) * 1000, "{m}");
        }
    }

    #[test]
    fn rounds_down_towards_the_past() {
        let before = datetime!(1969-12-31 23:59:59.999_999_500 UTC);
        assert_eq!(unix_micros(before), -1);
        let after = datetime!(1970-01-01 00:00:00.000_000_500 UTC);
        assert_eq!(unix_micros(after), 0);
        // An offset is only a view of the same instant.
        let paris = datetime!(1970-01-01 01:00:00.000_001 +01:00);
        assert_eq!(unix_micros(paris), 1);
    }

    #[test]
    fn the_extremes_saturate_or_are_refused() {
        let last = PrimitiveDateTime::MAX.assume_utc();
        let first = PrimitiveDateTime::MIN.assume_utc();
        assert_eq!(
            from_unix_micros(unix_micros(last)),
            Some(last.replace_nanosecond(999_999_000).unwrap())
        );
        assert_eq!(from_unix_micros(unix_micros(first)), Some(first));
        // Beyond the year 9999 either way: no time (with `time`'s `large-dates`, a time
        // that converts back to the same number).
        for m in [i64::MAX, i64::MIN] {
            assert!(
                from_unix_micros(m).is_none_or(|t| unix_micros(t) == m),
                "{m}"
            );
        }
        if from_unix_micros(i64::MAX).is_none() {
            assert_eq!(from_unix_micros_saturating(i64::MAX), last);
            assert_eq!(from_unix_micros_saturating(i64::MIN), first);
        }
        assert_eq!(from_unix_micros_saturating(0), OffsetDateTime::UNIX_EPOCH);
    }
}
