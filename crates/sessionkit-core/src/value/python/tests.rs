use super::*;

#[test]
fn timedelta_normalises_like_python() {
    let d = TimeDelta::new(0, 0, -1).unwrap();
    assert_eq!(
        (d.days(), d.seconds(), d.microseconds()),
        (-1, 86_399, 999_999)
    );
    assert!(TimeDelta::new(1_000_000_000, 0, 0).is_none());
    assert!(TimeDelta::new(-999_999_999, 0, 0).is_some());
    assert!(TimeDelta::new(i64::MAX, i64::MAX, i64::MAX).is_none());
    assert!(TimeDelta::new(i64::MIN, 0, 0).is_none());
    assert_eq!(
        d.to_string(),
        "datetime.timedelta(days=-1, seconds=86399, microseconds=999999)"
    );
    assert_eq!(TimeDelta::default().to_string(), "datetime.timedelta(0)");
    let max = TimeDelta::new(999_999_999, 86_399, 999_999).unwrap();
    let back = TimeDelta::try_from(time::Duration::from(max)).unwrap();
    assert_eq!(back, max);
    assert!(TimeDelta::try_from(time::Duration::nanoseconds(1)).is_err());
    assert!(TimeDelta::try_from(time::Duration::MAX).is_err());
}

#[test]
fn tzinfo_rules() {
    assert!(TzInfo::fixed(TimeDelta::new(1, 0, 0).unwrap()).is_none());
    assert!(TzInfo::fixed(TimeDelta::new(0, 86_399, 999_999).unwrap()).is_some());
    assert!(TzInfo::zone("Europe/Paris").is_some());
    for bad in ["", "/etc/passwd", "../x", "a//b", "Europe/Par is"] {
        assert!(TzInfo::zone(bad).is_none(), "{bad}");
    }
    let est = TzInfo::fixed_named(TimeDelta::new(0, -5 * 3600, 0).unwrap(), "EST").unwrap();
    assert_eq!(
        est.to_string(),
        "datetime.timezone(datetime.timedelta(days=-1, seconds=68400), 'EST')"
    );
    assert_eq!(est.utc_offset(), UtcOffset::from_hms(-5, 0, 0).ok());
}

#[test]
fn reprs_and_isoformat() {
    let t = time::macros::datetime!(2026-01-02 03:04:05.000006);
    let naive = DateTime::naive(t).unwrap();
    assert_eq!(
        naive.to_string(),
        "datetime.datetime(2026, 1, 2, 3, 4, 5, 6)"
    );
    assert_eq!(naive.isoformat(), "2026-01-02T03:04:05.000006");
    let z = DateTime::aware(t, TzInfo::zone("America/New_York").unwrap())
        .unwrap()
        .with_fold(true);
    assert_eq!(
        z.to_string(),
        "datetime.datetime(2026, 1, 2, 3, 4, 5, 6, fold=1, tzinfo=zoneinfo.ZoneInfo(key='America/New_York'))"
    );
    assert_eq!(z.to_offset(), None);
    assert!(DateTime::naive(time::macros::datetime!(0000-01-01 0:00)).is_none());
    assert!(DateTime::naive(time::macros::datetime!(2026-01-01 0:00:00.000000001)).is_none());
    let tm = Time::try_from(time::macros::time!(3:04)).unwrap();
    assert_eq!(tm.to_string(), "datetime.time(3, 4)");
    assert_eq!(tm.isoformat(), "03:04:00");
    let mut s = String::new();
    write_py_bytes(&mut s, b"a'\x00\xff").unwrap();
    assert_eq!(s, r#"b"a'\x00\xff""#);
}

#[test]
fn decimal_and_uuid_text() {
    for ok in [
        "1.50",
        "-0",
        "1e-7",
        "NaN",
        "-Infinity",
        "sNaN12",
        ".5",
        "5.",
        "+1E+3",
    ] {
        assert!(ok.parse::<Decimal>().is_ok(), "{ok}");
    }
    for bad in ["", ".", "1..2", "e5", "1e", "0x1", "1_0", " 1"] {
        assert!(bad.parse::<Decimal>().is_err(), "{bad}");
    }
    assert_eq!("1.5".parse::<Decimal>().unwrap().to_f64(), Some(1.5));
    let u: Uuid = "{12345678123456781234567812345678}".parse().unwrap();
    assert_eq!(
        u.to_string(),
        "UUID('12345678-1234-5678-1234-567812345678')"
    );
    assert!("1234".parse::<Uuid>().is_err());
}
