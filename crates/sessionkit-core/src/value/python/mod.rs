//! Python's standard value types that only a pickle can carry (Django's `cache` engine
//! pickles the session dict, so a Django app may keep them there).
//!
//! Each type is validated on construction to what Python accepts, so that whatever a
//! [`Value`](super::Value) holds is written back as an object Python rebuilds: a
//! [`DateTime`] or [`Date`] has a year between 1 and 9999 and whole microseconds, a
//! [`TimeDelta`] is normalised as Python normalises it, and so on.
//!
//! | Python | Rust | natural typed reading |
//! | --- | --- | --- |
//! | `datetime.datetime` (naive) | [`DateTime`] without `tzinfo` | `time::PrimitiveDateTime` |
//! | `datetime.datetime` (`timezone.utc`, fixed offset) | [`DateTime`] with a fixed [`TzInfo`] | `time::OffsetDateTime` |
//! | `datetime.datetime` (`zoneinfo.ZoneInfo`) | [`DateTime`] with a zone [`TzInfo`] | none (needs the tz database): [`DateTime::local`] and [`TzInfo::zone_key`] |
//! | `datetime.date` | [`Date`] | `time::Date` |
//! | `datetime.time` | [`Time`] | `time::Time` (naive only) |
//! | `datetime.timedelta` | [`TimeDelta`] | `time::Duration`, `std::time::Duration` (not negative) |
//! | `decimal.Decimal` | [`Decimal`] (its exact text) | `String`, `f64` |
//! | `uuid.UUID` | [`Uuid`] | `String` (hyphenated), `u128`, `uuid::Uuid` |
//! | any other object | [`Opaque`] (its pickle, written back unchanged) | none |

use std::fmt;
use std::fmt::Write as _;

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

mod other;

pub use other::{Decimal, Opaque, Uuid};
pub(crate) use other::{write_py_bytes, write_py_str};

const MICROS_PER_DAY: i128 = 86_400_000_000;

/// Python's `datetime.timedelta`: days, seconds (`0..86400`) and microseconds
/// (`0..1_000_000`), with `|days| <= 999_999_999`, normalised as Python stores it.
///
/// ```
/// use sessionkit_core::value::TimeDelta;
///
/// // timedelta(seconds=-1) is stored as days=-1, seconds=86399.
/// let d = TimeDelta::new(0, -1, 0).unwrap();
/// assert_eq!((d.days(), d.seconds(), d.microseconds()), (-1, 86_399, 0));
/// assert_eq!(time::Duration::from(d), time::Duration::seconds(-1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TimeDelta {
    days: i32,
    seconds: i32,
    microseconds: i32,
}

impl TimeDelta {
    /// The largest `|days|` Python allows.
    pub const MAX_DAYS: i32 = 999_999_999;

    /// `timedelta(days=.., seconds=.., microseconds=..)`, normalised; `None` beyond
    /// Python's range.
    pub fn new(days: i64, seconds: i64, microseconds: i64) -> Option<TimeDelta> {
        let total = i128::from(days) * MICROS_PER_DAY
            + i128::from(seconds) * 1_000_000
            + i128::from(microseconds);
        TimeDelta::from_microseconds(total)
    }

    /// The timedelta of `total` microseconds; `None` beyond Python's range.
    pub fn from_microseconds(total: i128) -> Option<TimeDelta> {
        let days = total.div_euclid(MICROS_PER_DAY);
        let rest = total.rem_euclid(MICROS_PER_DAY);
        let days = i32::try_from(days).ok()?;
        if days.unsigned_abs() > TimeDelta::MAX_DAYS.unsigned_abs() {
            return None;
        }
        Some(TimeDelta {
            days,
            seconds: (rest / 1_000_000) as i32,
            microseconds: (rest % 1_000_000) as i32,
        })
    }

    /// Days (may be negative).
    pub fn days(&self) -> i32 {
        self.days
    }

    /// Seconds, `0..86400`.
    pub fn seconds(&self) -> i32 {
        self.seconds
    }

    /// Microseconds, `0..1_000_000`.
    pub fn microseconds(&self) -> i32 {
        self.microseconds
    }

    /// The whole length in microseconds.
    pub fn total_microseconds(&self) -> i128 {
        i128::from(self.days) * MICROS_PER_DAY
            + i128::from(self.seconds) * 1_000_000
            + i128::from(self.microseconds)
    }
}

impl From<TimeDelta> for time::Duration {
    fn from(d: TimeDelta) -> time::Duration {
        let total = d.total_microseconds();
        // |total| < 10^9 days: the seconds fit an i64 with room to spare.
        time::Duration::new(
            (total / 1_000_000) as i64,
            ((total % 1_000_000) * 1000) as i32,
        )
    }
}

impl TryFrom<time::Duration> for TimeDelta {
    type Error = RangeError;
    /// Refuses durations beyond Python's range or with a part below a microsecond.
    fn try_from(d: time::Duration) -> Result<TimeDelta, RangeError> {
        if d.subsec_nanoseconds() % 1000 != 0 {
            return Err(RangeError("timedelta has microsecond precision"));
        }
        let total =
            i128::from(d.whole_seconds()) * 1_000_000 + i128::from(d.subsec_nanoseconds() / 1000);
        TimeDelta::from_microseconds(total).ok_or(RangeError("timedelta out of range"))
    }
}

/// A value outside the range Python accepts for its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RangeError(&'static str);

/// A `tzinfo`: `datetime.timezone` (a fixed offset, `timezone.utc` being offset zero
/// without a name) or `zoneinfo.ZoneInfo` (a zone of the tz database, by key).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TzInfo(Tz);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Tz {
    Fixed {
        offset: TimeDelta,
        name: Option<Box<str>>,
    },
    Zone(Box<str>),
}

impl TzInfo {
    /// `datetime.timezone.utc`.
    pub const UTC: TzInfo = TzInfo(Tz::Fixed {
        offset: TimeDelta {
            days: 0,
            seconds: 0,
            microseconds: 0,
        },
        name: None,
    });

    /// `datetime.timezone(offset)`; `None` unless `-24h < offset < 24h` (Python's rule).
    /// An offset of zero is `timezone.utc`, as in Python.
    pub fn fixed(offset: TimeDelta) -> Option<TzInfo> {
        let us = offset.total_microseconds();
        (us.abs() < MICROS_PER_DAY).then_some(TzInfo(Tz::Fixed { offset, name: None }))
    }

    /// `datetime.timezone(offset, name)`.
    pub fn fixed_named(offset: TimeDelta, name: &str) -> Option<TzInfo> {
        let mut tz = TzInfo::fixed(offset)?;
        if let Tz::Fixed { name: n, .. } = &mut tz.0 {
            *n = Some(name.into());
        }
        Some(tz)
    }

    /// `zoneinfo.ZoneInfo(key)`; `None` for a key Python would refuse (empty, absolute,
    /// with `..` components or characters outside the tz database's names).
    pub fn zone(key: &str) -> Option<TzInfo> {
        let valid = !key.is_empty()
            && key.len() <= 255
            && !key.starts_with('/')
            && key
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+-/.".contains(&b));
        valid.then(|| TzInfo(Tz::Zone(key.into())))
    }

    /// The fixed offset (`None` for a zone).
    pub fn offset(&self) -> Option<TimeDelta> {
        match &self.0 {
            Tz::Fixed { offset, .. } => Some(*offset),
            Tz::Zone(_) => None,
        }
    }

    /// A fixed offset's name, when it has one.
    pub fn name(&self) -> Option<&str> {
        match &self.0 {
            Tz::Fixed { name, .. } => name.as_deref(),
            Tz::Zone(_) => None,
        }
    }

    /// A zone's key (`"Europe/Paris"`), `None` for a fixed offset.
    pub fn zone_key(&self) -> Option<&str> {
        match &self.0 {
            Tz::Zone(k) => Some(k),
            Tz::Fixed { .. } => None,
        }
    }

    /// A fixed offset as a `time::UtcOffset`, when it is whole seconds.
    pub fn utc_offset(&self) -> Option<UtcOffset> {
        let us = self.offset()?.total_microseconds();
        if us % 1_000_000 != 0 {
            return None;
        }
        UtcOffset::from_whole_seconds(i32::try_from(us / 1_000_000).ok()?).ok()
    }
}

impl fmt::Display for TzInfo {
    /// Python's `repr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Tz::Fixed { offset, name: None } if offset.total_microseconds() == 0 => {
                f.write_str("datetime.timezone.utc")
            }
            Tz::Fixed { offset, name } => {
                write!(f, "datetime.timezone({offset}")?;
                if let Some(n) = name {
                    f.write_str(", ")?;
                    write_py_str(f, n)?;
                }
                f.write_str(")")
            }
            Tz::Zone(k) => {
                f.write_str("zoneinfo.ZoneInfo(key=")?;
                write_py_str(f, k)?;
                f.write_str(")")
            }
        }
    }
}

fn python_year(year: i32) -> bool {
    (1..=9999).contains(&year)
}

/// Python's `datetime.datetime`: a wall time (year 1 to 9999, microsecond precision), an
/// optional [`TzInfo`] and PEP 495's `fold`.
///
/// ```
/// use sessionkit_core::value::{DateTime, TzInfo};
/// use time::macros::datetime;
///
/// let aware = DateTime::try_from(datetime!(2026-01-02 03:04:05 UTC)).unwrap();
/// assert_eq!(aware.tz(), Some(&TzInfo::UTC));
/// assert_eq!(aware.to_offset(), Some(datetime!(2026-01-02 03:04:05 UTC)));
/// assert_eq!(
///     aware.to_string(),
///     "datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DateTime {
    local: PrimitiveDateTime,
    tz: Option<TzInfo>,
    fold: bool,
}

impl DateTime {
    /// A naive datetime; `None` outside Python's range or below a microsecond.
    pub fn naive(local: PrimitiveDateTime) -> Option<DateTime> {
        (python_year(local.year()) && local.nanosecond().is_multiple_of(1000)).then_some(DateTime {
            local,
            tz: None,
            fold: false,
        })
    }

    /// An aware datetime: the wall time `local` in `tz`.
    pub fn aware(local: PrimitiveDateTime, tz: TzInfo) -> Option<DateTime> {
        let mut dt = DateTime::naive(local)?;
        dt.tz = Some(tz);
        Some(dt)
    }

    /// Sets PEP 495's `fold` (which of two equal wall times in a zone's repeated hour).
    #[must_use]
    pub fn with_fold(mut self, fold: bool) -> DateTime {
        self.fold = fold;
        self
    }

    /// The wall time.
    pub fn local(&self) -> PrimitiveDateTime {
        self.local
    }

    /// The `tzinfo` (`None` for a naive datetime).
    pub fn tz(&self) -> Option<&TzInfo> {
        self.tz.as_ref()
    }

    /// PEP 495's `fold`.
    pub fn fold(&self) -> bool {
        self.fold
    }

    /// The instant, for a datetime with a fixed offset of whole seconds.
    pub fn to_offset(&self) -> Option<OffsetDateTime> {
        Some(self.local.assume_offset(self.tz.as_ref()?.utc_offset()?))
    }

    /// `datetime.isoformat()` (a zone's offset is unknown without the tz database: its
    /// key follows in brackets instead, as RFC 9557 writes it).
    pub fn isoformat(&self) -> String {
        let mut s = String::with_capacity(40);
        crate::pytime::push_datetime(&mut s, self.local, 'T');
        push_tz_suffix(&mut s, self.tz.as_ref());
        s
    }
}

fn push_tz_suffix(s: &mut String, tz: Option<&TzInfo>) {
    match tz.map(|t| &t.0) {
        None => {}
        Some(Tz::Fixed { offset, .. }) => {
            let us = offset.total_microseconds();
            let sign = if us < 0 { '-' } else { '+' };
            let abs = us.unsigned_abs();
            let (secs, micros) = (abs / 1_000_000, abs % 1_000_000);
            let _ = write!(s, "{sign}{:02}:{:02}", secs / 3600, (secs / 60) % 60);
            if secs % 60 != 0 || micros != 0 {
                let _ = write!(s, ":{:02}", secs % 60);
            }
            if micros != 0 {
                let _ = write!(s, ".{micros:06}");
            }
        }
        Some(Tz::Zone(k)) => {
            let _ = write!(s, "[{k}]");
        }
    }
}

impl TryFrom<OffsetDateTime> for DateTime {
    type Error = RangeError;
    /// An aware datetime at the instant's offset (`timezone.utc` for offset zero).
    fn try_from(t: OffsetDateTime) -> Result<DateTime, RangeError> {
        let offset = TimeDelta::new(0, i64::from(t.offset().whole_seconds()), 0)
            .and_then(TzInfo::fixed)
            .ok_or(RangeError("offset out of range"))?;
        DateTime::aware(PrimitiveDateTime::new(t.date(), t.time()), offset)
            .ok_or(RangeError("datetime out of Python's range"))
    }
}

impl TryFrom<PrimitiveDateTime> for DateTime {
    type Error = RangeError;
    /// A naive datetime.
    fn try_from(t: PrimitiveDateTime) -> Result<DateTime, RangeError> {
        DateTime::naive(t).ok_or(RangeError("datetime out of Python's range"))
    }
}

impl fmt::Display for DateTime {
    /// Python's `repr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.local;
        write!(
            f,
            "datetime.datetime({}, {}, {}, {}, {}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )?;
        write_tail(f, t.second(), t.microsecond(), self.fold, self.tz.as_ref())
    }
}

/// The end of a `datetime`/`time` repr: the seconds and microseconds Python omits when
/// zero, `fold=1`, the `tzinfo`, and the closing parenthesis.
fn write_tail(
    f: &mut fmt::Formatter<'_>,
    second: u8,
    micros: u32,
    fold: bool,
    tz: Option<&impl fmt::Display>,
) -> fmt::Result {
    if micros != 0 {
        write!(f, ", {second}, {micros}")?;
    } else if second != 0 {
        write!(f, ", {second}")?;
    }
    if fold {
        f.write_str(", fold=1")?;
    }
    if let Some(tz) = tz {
        write!(f, ", tzinfo={tz}")?;
    }
    f.write_str(")")
}

/// Python's `datetime.date` (year 1 to 9999).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(time::Date);

impl Date {
    /// The date.
    pub fn get(self) -> time::Date {
        self.0
    }
}

impl TryFrom<time::Date> for Date {
    type Error = RangeError;
    fn try_from(d: time::Date) -> Result<Date, RangeError> {
        if python_year(d.year()) {
            Ok(Date(d))
        } else {
            Err(RangeError("date out of Python's range"))
        }
    }
}

impl fmt::Display for Date {
    /// Python's `repr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "datetime.date({}, {}, {})",
            d.year(),
            u8::from(d.month()),
            d.day()
        )
    }
}

/// Python's `datetime.time`: a time of day (microsecond precision), an optional
/// [`TzInfo`] and `fold`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Time {
    time: time::Time,
    tz: Option<TzInfo>,
    fold: bool,
}

impl Time {
    /// A time with an optional `tzinfo`; `None` below a microsecond.
    pub fn new(time: time::Time, tz: Option<TzInfo>) -> Option<Time> {
        time.nanosecond().is_multiple_of(1000).then_some(Time {
            time,
            tz,
            fold: false,
        })
    }

    /// Sets `fold`.
    #[must_use]
    pub fn with_fold(mut self, fold: bool) -> Time {
        self.fold = fold;
        self
    }

    /// The time of day.
    pub fn time(&self) -> time::Time {
        self.time
    }

    /// The `tzinfo`.
    pub fn tz(&self) -> Option<&TzInfo> {
        self.tz.as_ref()
    }

    /// `fold`.
    pub fn fold(&self) -> bool {
        self.fold
    }

    /// `time.isoformat()`.
    pub fn isoformat(&self) -> String {
        let t = self.time;
        let mut s = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
        if t.microsecond() != 0 {
            let _ = write!(s, ".{:06}", t.microsecond());
        }
        push_tz_suffix(&mut s, self.tz.as_ref());
        s
    }
}

impl TryFrom<time::Time> for Time {
    type Error = RangeError;
    /// A naive time.
    fn try_from(t: time::Time) -> Result<Time, RangeError> {
        Time::new(t, None).ok_or(RangeError("time has microsecond precision"))
    }
}

impl fmt::Display for Time {
    /// Python's `repr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time;
        write!(f, "datetime.time({}, {}", t.hour(), t.minute())?;
        write_tail(f, t.second(), t.microsecond(), self.fold, self.tz.as_ref())
    }
}

impl fmt::Display for TimeDelta {
    /// Python's `repr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("datetime.timedelta(")?;
        let parts = [
            ("days", self.days),
            ("seconds", self.seconds),
            ("microseconds", self.microseconds),
        ];
        let mut first = true;
        for (name, v) in parts.into_iter().filter(|(_, v)| *v != 0) {
            if !first {
                f.write_str(", ")?;
            }
            write!(f, "{name}={v}")?;
            first = false;
        }
        if first {
            f.write_str("0")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests;
