//! [`DjangoTime`]: Django's `USE_TZ` and `TIME_ZONE`, and what they make of
//! `expire_date`.

use std::fmt;

use jiff::Timestamp;
use jiff::civil;
use jiff::tz::TimeZone;
use sessionkit_core::{StoreError, StoreErrorKind};
use time::macros::datetime;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The first and last naive values Python's `datetime` holds.
const NAIVE_MIN: PrimitiveDateTime = datetime!(0001-01-01 00:00);
const NAIVE_MAX: PrimitiveDateTime = datetime!(9999-12-31 23:59:59.999_999);

/// Django's `USE_TZ` and `TIME_ZONE` settings, as far as `django_session.expire_date`
/// depends on them.
///
/// * `USE_TZ = True` (Django's default, and [`DjangoTime::default`]): `expire_date` is an
///   instant. SQLite and MySQL hold it as naive UTC, PostgreSQL as `timestamp with time
///   zone`; `TIME_ZONE` plays no part.
/// * `USE_TZ = False` ([`DjangoTime::local`]): Django writes and compares `expire_date` as
///   a naive **local** time in `TIME_ZONE` (`timezone.now()` is then the local wall
///   clock). The stores do the same: they send `now` and every expiry they write as naive
///   local time, so the `expire_date` comparisons in SQL are Django's own, and they read a
///   stored value back as the instant it names in that zone.
///
/// Reading a local time back resolves it as Python's `zoneinfo` does with `fold=0`
/// (Django's `make_aware`):
///
/// * in a **gap** (a time skipped when clocks go forward, e.g. 02:30 on the night
///   New York moves to summer time), with the offset in force before the gap: 02:30 EST,
///   which is 03:30 EDT;
/// * in a **fold** (a time that happens twice when clocks go back, e.g. 01:30 on the
///   night New York returns to winter time), as the first of the two: 01:30 EDT.
///
/// During the repeated hour the naive wall clock runs back by an hour, as Django's own
/// comparisons see it: a row whose `expire_date` falls in that hour expires when the
/// clock first passes it (and a `clear-expired` then may delete it), while Django, until
/// the row is deleted, finds it live again during the second pass. The stores compare as
/// Django does (naive against naive); only the expiry they report back is the first pass.
///
/// Times outside what the zone conversion covers (within about a day of the ends of
/// Python's `datetime` range, years 1 and 9999) saturate to those ends.
///
/// ```
/// use sessionkit_sql::django::DjangoTime;
/// use time::macros::datetime;
///
/// let tz = DjangoTime::local("America/New_York").unwrap();
/// assert_eq!(tz.to_column(datetime!(2026-01-15 17:00 UTC)), datetime!(2026-01-15 12:00));
/// assert_eq!(tz.from_column(datetime!(2026-07-15 12:00)), datetime!(2026-07-15 16:00 UTC));
///
/// let utc = DjangoTime::default();
/// assert!(utc.use_tz());
/// assert_eq!(utc.to_column(datetime!(2026-01-15 17:00 UTC)), datetime!(2026-01-15 17:00));
/// assert!(DjangoTime::local("Mars/Olympus_Mons").is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DjangoTime {
    /// `None`: `USE_TZ = True`. `Some`: `USE_TZ = False` with this `TIME_ZONE`.
    local: Option<Zone>,
}

#[derive(Clone)]
struct Zone {
    name: String,
    tz: TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl fmt::Debug for DjangoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoTime")
            .field("use_tz", &self.use_tz())
            .field("time_zone", &self.time_zone())
            .finish()
    }
}

impl fmt::Display for DjangoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.local {
            None => f.write_str("USE_TZ = True"),
            Some(z) => write!(f, "USE_TZ = False, TIME_ZONE = {:?}", z.name),
        }
    }
}

impl DjangoTime {
    /// Django's settings as given: `use_tz` (`USE_TZ`) and `time_zone` (`TIME_ZONE`, an
    /// IANA name such as `"America/New_York"` or `"UTC"`).
    ///
    /// With `use_tz` the zone does not matter to `expire_date` and is only checked. An
    /// unknown zone name is a [`StoreErrorKind::Config`] error.
    pub fn new(use_tz: bool, time_zone: &str) -> Result<DjangoTime, StoreError> {
        let zone = lookup(time_zone)?;
        Ok(DjangoTime {
            local: (!use_tz).then_some(zone),
        })
    }

    /// `USE_TZ = False` with `TIME_ZONE = time_zone`.
    pub fn local(time_zone: &str) -> Result<DjangoTime, StoreError> {
        DjangoTime::new(false, time_zone)
    }

    /// Django's `USE_TZ`.
    pub fn use_tz(&self) -> bool {
        self.local.is_none()
    }

    /// The zone naive `expire_date` values are in: `TIME_ZONE` with `USE_TZ = False`,
    /// `"UTC"` otherwise.
    pub fn time_zone(&self) -> &str {
        self.local.as_ref().map_or("UTC", |z| z.name.as_str())
    }

    /// Appends `, USE_TZ = False, TIME_ZONE = "…"` to a store's description (nothing
    /// with `USE_TZ = True`).
    pub(crate) fn describe_into(&self, s: &mut String) {
        if !self.use_tz() {
            s.push_str(", ");
            s.push_str(&self.to_string());
        }
    }

    /// The naive value Django would store for the instant `t` (Django's `make_naive`):
    /// UTC with `USE_TZ = True`, local time otherwise; within Python's `datetime` range.
    pub fn to_column(&self, t: OffsetDateTime) -> PrimitiveDateTime {
        let Some(zone) = &self.local else {
            let t = t.to_offset(UtcOffset::UTC);
            return PrimitiveDateTime::new(t.date(), t.time()).clamp(NAIVE_MIN, NAIVE_MAX);
        };
        match Timestamp::from_nanosecond(t.unix_timestamp_nanos()) {
            Ok(ts) => from_civil(zone.tz.to_datetime(ts)).clamp(NAIVE_MIN, NAIVE_MAX),
            Err(_) if t.year() > 0 => NAIVE_MAX,
            Err(_) => NAIVE_MIN,
        }
    }

    /// The instant a stored naive `expire_date` names (Django's `make_aware`, `fold=0`:
    /// see the type's docs for gaps and folds).
    pub fn from_column(&self, naive: PrimitiveDateTime) -> OffsetDateTime {
        let Some(zone) = &self.local else {
            return naive.assume_utc();
        };
        let instant = to_civil(naive)
            .and_then(|dt| zone.tz.to_ambiguous_timestamp(dt).compatible().ok())
            .and_then(|ts| OffsetDateTime::from_unix_timestamp_nanos(ts.as_nanosecond()).ok());
        match instant {
            Some(t) => t,
            None if naive.year() > 0 => NAIVE_MAX.assume_utc(),
            None => NAIVE_MIN.assume_utc(),
        }
    }
}

fn lookup(name: &str) -> Result<Zone, StoreError> {
    TimeZone::get(name)
        .map(|tz| Zone {
            name: name.to_owned(),
            tz,
        })
        .map_err(|e| {
            StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "unknown time zone {name:?} (Django's TIME_ZONE): use an IANA name such as \"UTC\" or \"America/New_York\" ({e})"
                ),
            )
        })
}

fn to_civil(t: PrimitiveDateTime) -> Option<civil::DateTime> {
    civil::DateTime::new(
        i16::try_from(t.year()).ok()?,
        i8::try_from(u8::from(t.month())).ok()?,
        i8::try_from(t.day()).ok()?,
        i8::try_from(t.hour()).ok()?,
        i8::try_from(t.minute()).ok()?,
        i8::try_from(t.second()).ok()?,
        i32::try_from(t.nanosecond()).ok()?,
    )
    .ok()
}

fn from_civil(dt: civil::DateTime) -> PrimitiveDateTime {
    let parts = || -> Option<PrimitiveDateTime> {
        let month = Month::try_from(u8::try_from(dt.month()).ok()?).ok()?;
        let date =
            Date::from_calendar_date(i32::from(dt.year()), month, u8::try_from(dt.day()).ok()?)
                .ok()?;
        let time = Time::from_hms_nano(
            u8::try_from(dt.hour()).ok()?,
            u8::try_from(dt.minute()).ok()?,
            u8::try_from(dt.second()).ok()?,
            u32::try_from(dt.subsec_nanosecond()).ok()?,
        )
        .ok()?;
        Some(PrimitiveDateTime::new(date, time))
    };
    // Every civil date-time jiff produces is a valid calendar value.
    parts().unwrap_or(if dt.year() > 0 { NAIVE_MAX } else { NAIVE_MIN })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> DjangoTime {
        DjangoTime::local("America/New_York").unwrap()
    }

    #[test]
    fn utc_passes_through() {
        let utc = DjangoTime::default();
        assert!(utc.use_tz());
        assert_eq!(utc.time_zone(), "UTC");
        let t = datetime!(2026-03-08 07:30:00.123456789 UTC);
        assert_eq!(utc.to_column(t), datetime!(2026-03-08 07:30:00.123456789));
        assert_eq!(
            utc.to_column(datetime!(2026-03-08 09:30 +02:00)),
            datetime!(2026-03-08 07:30)
        );
        assert_eq!(
            utc.from_column(datetime!(2026-03-08 02:30)),
            datetime!(2026-03-08 02:30 UTC)
        );
        // USE_TZ = True with another TIME_ZONE: still UTC in the column.
        let aware = DjangoTime::new(true, "America/New_York").unwrap();
        assert_eq!(aware, utc);
        assert_eq!(aware.to_column(t), utc.to_column(t));
        // USE_TZ = False in UTC: the same values, through the zone database.
        let local_utc = DjangoTime::local("UTC").unwrap();
        assert!(!local_utc.use_tz());
        assert_eq!(
            local_utc.to_column(t),
            datetime!(2026-03-08 07:30:00.123456789)
        );
        assert_eq!(
            local_utc.from_column(datetime!(2026-03-08 07:30)),
            datetime!(2026-03-08 07:30 UTC)
        );
    }

    /// `tz` writes `instant` as `naive` and reads `naive` back as `instant`.
    fn both_ways(tz: &DjangoTime, instant: OffsetDateTime, naive: PrimitiveDateTime) {
        assert_eq!(tz.to_column(instant), naive, "{instant}");
        assert_eq!(tz.from_column(naive), instant, "{naive}");
    }

    #[test]
    fn fixed_offset_zone() {
        // POSIX sign: Etc/GMT+5 is five hours behind UTC.
        let tz = DjangoTime::local("Etc/GMT+5").unwrap();
        both_ways(
            &tz,
            datetime!(2026-06-01 12:00 UTC),
            datetime!(2026-06-01 07:00),
        );
        let tokyo = DjangoTime::local("Asia/Tokyo").unwrap();
        assert_eq!(
            tokyo.to_column(datetime!(2026-12-31 20:00 UTC)),
            datetime!(2027-01-01 05:00)
        );
    }

    #[test]
    fn new_york_winter_and_summer() {
        let tz = ny();
        assert_eq!(tz.time_zone(), "America/New_York");
        assert_eq!(
            tz.to_string(),
            "USE_TZ = False, TIME_ZONE = \"America/New_York\""
        );
        // EST, -05:00.
        both_ways(
            &tz,
            datetime!(2026-01-15 17:00 UTC),
            datetime!(2026-01-15 12:00),
        );
        // EDT, -04:00.
        assert_eq!(
            tz.to_column(datetime!(2026-07-15 16:00:00.5 UTC)),
            datetime!(2026-07-15 12:00:00.5)
        );
        both_ways(
            &tz,
            datetime!(2026-07-15 16:00 UTC),
            datetime!(2026-07-15 12:00),
        );
        // Round trips across the year.
        let mut t = datetime!(2026-01-01 00:00:00.25 UTC);
        while t < datetime!(2027-01-01 00:00 UTC) {
            let naive = tz.to_column(t);
            // Outside the repeated hour a local time names one instant.
            if !(naive >= datetime!(2026-11-01 01:00) && naive < datetime!(2026-11-01 02:00)) {
                assert_eq!(tz.from_column(naive), t, "{t}");
            }
            t += time::Duration::minutes(97);
        }
    }

    #[test]
    fn gap_and_fold_as_zoneinfo_with_fold_0() {
        let tz = ny();
        // (naive New York time, the instant it is read as): table-driven.
        let reads = [
            // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist. fold=0 reads
            // it with the offset before the gap (EST): 07:30 UTC, i.e. 03:30 EDT.
            (datetime!(2026-03-08 02:30), datetime!(2026-03-08 07:30 UTC)),
            // Just before and after the gap.
            (
                datetime!(2026-03-08 01:59:59),
                datetime!(2026-03-08 06:59:59 UTC),
            ),
            (datetime!(2026-03-08 03:00), datetime!(2026-03-08 07:00 UTC)),
            // 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 happens twice. fold=0 is
            // the first, EDT: 05:30 UTC.
            (datetime!(2026-11-01 01:30), datetime!(2026-11-01 05:30 UTC)),
            (datetime!(2026-11-01 02:00), datetime!(2026-11-01 07:00 UTC)),
        ];
        for (naive, instant) in reads {
            assert_eq!(tz.from_column(naive), instant, "{naive}");
        }
        // (instant, the naive time it is written as).
        let writes = [
            (datetime!(2026-03-08 07:30 UTC), datetime!(2026-03-08 03:30)),
            // Both instants of the fold are written as the same wall-clock time.
            (datetime!(2026-11-01 05:30 UTC), datetime!(2026-11-01 01:30)),
            (datetime!(2026-11-01 06:30 UTC), datetime!(2026-11-01 01:30)),
        ];
        for (instant, naive) in writes {
            assert_eq!(tz.to_column(instant), naive, "{instant}");
        }
    }

    #[test]
    fn extremes_saturate() {
        let tz = ny();
        let tokyo = DjangoTime::local("Asia/Tokyo").unwrap();
        for z in [&tz, &tokyo, &DjangoTime::default()] {
            assert_eq!(
                z.to_column(datetime!(9999-12-31 23:59:59.999999999 UTC))
                    .year(),
                9999
            );
            assert_eq!(z.to_column(datetime!(-9999-01-01 00:00 UTC)), NAIVE_MIN);
            assert_eq!(z.to_column(datetime!(0001-01-01 00:00 UTC)).year(), 1);
            assert!(z.to_column(datetime!(0001-01-01 00:00 UTC)) >= NAIVE_MIN);
            assert!(z.to_column(datetime!(9999-12-31 23:59 UTC)) <= NAIVE_MAX);
            // The stored ends read back as instants near them, in order.
            let lo = z.from_column(NAIVE_MIN);
            let hi = z.from_column(NAIVE_MAX);
            assert!(lo.year() <= 1 && hi.year() >= 9999 && lo < hi, "{lo} {hi}");
        }
        // Tokyo is ahead: the last UTC instants are past year 9999 there.
        assert_eq!(tokyo.to_column(datetime!(9999-12-31 20:00 UTC)), NAIVE_MAX);
        // New York is behind: the first UTC instants are before year 1 there.
        assert_eq!(tz.to_column(datetime!(0001-01-01 02:00 UTC)), NAIVE_MIN);
    }

    #[test]
    fn unknown_zones_are_refused() {
        for bad in [
            "",
            "Mars/Olympus_Mons",
            "America/New York",
            "../../etc/passwd",
        ] {
            let err = DjangoTime::local(bad).unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Config, "{bad}");
            assert!(err.to_string().contains("TIME_ZONE"), "{err}");
            assert!(DjangoTime::new(true, bad).is_err());
        }
    }
}
