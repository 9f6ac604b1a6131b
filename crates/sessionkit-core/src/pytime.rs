//! Python's date-time text forms: `datetime.isoformat()`, `datetime.fromisoformat()` and
//! `str(datetime)` (the form Django writes to SQLite), at Python's microsecond precision.

use std::fmt::Write as _;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Truncates to whole microseconds, Python's precision.
pub fn to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1000).unwrap_or(t)
}

pub(crate) fn push_datetime(s: &mut String, t: PrimitiveDateTime, sep: char) {
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let micros = t.microsecond();
    if micros != 0 {
        let _ = write!(s, ".{micros:06}");
    }
}

/// `datetime.isoformat()` of an aware datetime: `2026-01-02T03:04:05.678901+00:00`
/// (microseconds only when non-zero; the instant's own offset).
///
/// ```
/// use sessionkit_core::pytime::isoformat;
/// use time::macros::datetime;
///
/// assert_eq!(isoformat(datetime!(2026-01-01 00:05 UTC)), "2026-01-01T00:05:00+00:00");
/// assert_eq!(
///     isoformat(datetime!(2026-01-02 03:04:05.678901 UTC)),
///     "2026-01-02T03:04:05.678901+00:00"
/// );
/// ```
pub fn isoformat(t: OffsetDateTime) -> String {
    let t = to_micros(t);
    let mut s = String::with_capacity(32);
    push_datetime(&mut s, PrimitiveDateTime::new(t.date(), t.time()), 'T');
    let off = t.offset();
    let total = off.whole_seconds();
    let sign = if total < 0 { '-' } else { '+' };
    let abs = total.unsigned_abs();
    let _ = write!(s, "{sign}{:02}:{:02}", abs / 3600, (abs / 60) % 60);
    if !abs.is_multiple_of(60) {
        let _ = write!(s, ":{:02}", abs % 60);
    }
    s
}

/// `str(datetime)` of a naive UTC datetime, as Django stores `expire_date` in SQLite:
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`.
///
/// ```
/// use sessionkit_core::pytime::naive_utc_str;
/// use time::macros::datetime;
///
/// assert_eq!(naive_utc_str(datetime!(2026-01-15 00:00 UTC)), "2026-01-15 00:00:00");
/// assert_eq!(
///     naive_utc_str(datetime!(2026-01-15 00:00:00.123456 UTC)),
///     "2026-01-15 00:00:00.123456"
/// );
/// ```
pub fn naive_utc_str(t: OffsetDateTime) -> String {
    let t = to_micros(t.to_offset(UtcOffset::UTC));
    let mut s = String::with_capacity(26);
    push_datetime(&mut s, PrimitiveDateTime::new(t.date(), t.time()), ' ');
    s
}

/// A parsed ISO 8601 date-time: naive, or with an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsoDateTime {
    /// With an offset (`Z` or `±HH:MM`).
    Aware(OffsetDateTime),
    /// Without an offset.
    Naive(PrimitiveDateTime),
}

impl IsoDateTime {
    /// The instant, reading a naive value as UTC.
    pub fn assume_utc(self) -> OffsetDateTime {
        match self {
            IsoDateTime::Aware(t) => t,
            IsoDateTime::Naive(t) => t.assume_utc(),
        }
    }
}

/// `datetime.fromisoformat()` for the forms Django and Python write: `YYYY-MM-DD`, then
/// optionally `T` or a space and `HH[:MM[:SS[.fff[fff]]]]`, then optionally `Z`, `±HH:MM`,
/// `±HHMM` or `±HH:MM:SS`. Returns `None` for anything else.
///
/// ```
/// use sessionkit_core::pytime::{fromisoformat, IsoDateTime};
///
/// assert!(matches!(fromisoformat("2026-01-01T00:05:00+00:00"), Some(IsoDateTime::Aware(_))));
/// assert!(matches!(fromisoformat("2026-01-01 00:05:00"), Some(IsoDateTime::Naive(_))));
/// assert!(fromisoformat("yesterday").is_none());
/// ```
pub fn fromisoformat(s: &str) -> Option<IsoDateTime> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(num(0..4)?).ok()?;
    let month = Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?;
    let day = u8::try_from(num(8..10)?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let mut i = 10;
    let mut time = Time::MIDNIGHT;
    if i < b.len() {
        if b[i] != b'T' && b[i] != b' ' {
            return None;
        }
        i += 1;
        let hour = u8::try_from(num(i..i + 2)?).ok()?;
        i += 2;
        let (mut minute, mut second, mut micro) = (0u8, 0u8, 0u32);
        if b.get(i) == Some(&b':') {
            minute = u8::try_from(num(i + 1..i + 3)?).ok()?;
            i += 3;
            if b.get(i) == Some(&b':') {
                second = u8::try_from(num(i + 1..i + 3)?).ok()?;
                i += 3;
                if matches!(b.get(i), Some(b'.' | b',')) {
                    let start = i + 1;
                    let mut end = start;
                    while end < b.len() && b[end].is_ascii_digit() {
                        end += 1;
                    }
                    if end == start {
                        return None;
                    }
                    let digits = &s[start..end.min(start + 6)];
                    micro = digits.parse::<u32>().ok()? * 10u32.pow(6 - digits.len() as u32);
                    i = end;
                }
            }
        }
        time = Time::from_hms_micro(hour, minute, second, micro).ok()?;
    }
    let naive = PrimitiveDateTime::new(date, time);
    if i == b.len() {
        return Some(IsoDateTime::Naive(naive));
    }
    let offset = match b[i] {
        b'Z' if i + 1 == b.len() => UtcOffset::UTC,
        sign @ (b'+' | b'-') => {
            let rest = &s[i + 1..];
            let (h, m, sec) = match rest.len() {
                5 if rest.as_bytes()[2] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?, 0),
                4 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?, 0),
                8 if rest.as_bytes()[2] == b':' && rest.as_bytes()[5] == b':' => {
                    (num(i + 1..i + 3)?, num(i + 4..i + 6)?, num(i + 7..i + 9)?)
                }
                2 => (num(i + 1..i + 3)?, 0, 0),
                _ => return None,
            };
            let total = i32::try_from(h * 3600 + m * 60 + sec).ok()?;
            UtcOffset::from_whole_seconds(if sign == b'-' { -total } else { total }).ok()?
        }
        _ => return None,
    };
    Some(IsoDateTime::Aware(naive.assume_offset(offset)))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn iso_round_trip() {
        for t in [
            datetime!(2026-01-02 03:04:05.678901 UTC),
            datetime!(2026-01-01 00:00 UTC),
            datetime!(1999-12-31 23:59:59.000001 +05:30),
            datetime!(2030-06-01 12:00 -08:00),
        ] {
            let s = isoformat(t);
            assert_eq!(fromisoformat(&s), Some(IsoDateTime::Aware(t)), "{s}");
        }
    }

    #[test]
    fn iso_forms() {
        let want = datetime!(2026-01-01 00:05 UTC);
        for s in [
            "2026-01-01T00:05:00+00:00",
            "2026-01-01T00:05:00Z",
            "2026-01-01 00:05:00+0000",
            "2026-01-01T00:05+00:00",
            "2026-01-01T00:05:00.000+00:00",
            "2026-01-01T01:05:00+01:00",
        ] {
            assert_eq!(
                fromisoformat(s).map(IsoDateTime::assume_utc),
                Some(want),
                "{s}"
            );
        }
        assert_eq!(
            fromisoformat("2026-01-01"),
            Some(IsoDateTime::Naive(datetime!(2026-01-01 00:00)))
        );
        for bad in [
            "",
            "2026-13-01",
            "2026-01-01X",
            "2026-01-01T25:00",
            "2026-01-01T00:00+1",
            "x",
        ] {
            assert_eq!(fromisoformat(bad), None, "{bad}");
        }
    }
}
