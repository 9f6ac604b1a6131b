//! The codec's tests: time conversions, the packed header, both formats' decoding and
//! what garbage decodes to.

use super::*;

fn b(s: &str) -> Option<Vec<u8>> {
    Some(s.as_bytes().to_vec())
}

fn packed(v: &[u8]) -> Raw {
    Raw::Packed(v.to_vec())
}

fn header<'a>(user: &'a str, client: &'a str) -> Header<'a> {
    Header {
        version: 3,
        expires_at: 100,
        write: "w1",
        retired: false,
        created_at: Some(10),
        last_seen: Some(20),
        user,
        client,
    }
}

#[test]
fn ttl_rounds_up_and_clamps() {
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    assert_eq!(ttl_ms(now + time::Duration::seconds(2), now), 2000);
    assert_eq!(ttl_ms(now + time::Duration::microseconds(1), now), 1);
    assert_eq!(ttl_ms(now + time::Duration::microseconds(1001), now), 2);
    assert_eq!(ttl_ms(now, now), 0);
    assert_eq!(ttl_ms(now - time::Duration::seconds(5), now), 0);
    // Before 1970: never stored, even for a clock further back still.
    let before = OffsetDateTime::UNIX_EPOCH - time::Duration::days(1);
    assert_eq!(ttl_ms(before, before - time::Duration::days(1)), 0);
}

/// Out-of-range microseconds saturate instead of falling back to 1970 (which would
/// read a far-future expiry as long past).
#[test]
fn from_micros_saturates() {
    let max = time::PrimitiveDateTime::MAX.assume_utc();
    let min = time::PrimitiveDateTime::MIN.assume_utc();
    assert_eq!(from_unix_micros_saturating(i64::MAX), max);
    assert_eq!(from_unix_micros_saturating(999_999_999_999_999_999), max);
    assert_eq!(from_unix_micros_saturating(i64::MIN), min);
    assert_eq!(from_unix_micros_saturating(0), OffsetDateTime::UNIX_EPOCH);
}

#[test]
fn micros_round_trip() {
    let t = OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_000).unwrap();
    assert_eq!(from_unix_micros_saturating(unix_micros(t)), t);
}

#[test]
fn digits_are_decimal_text() {
    for n in [0, 7, -7, 10, 1_767_225_600_123_456, i64::MAX, i64::MIN] {
        assert_eq!(Digits::int(n).as_str(), n.to_string());
    }
    for n in [0, 9, 10, u64::MAX] {
        assert_eq!(Digits::uint(n).as_bytes(), n.to_string().as_bytes());
    }
}

#[test]
fn packed_records_round_trip() {
    let key = SessionKey::generate();
    let data = Data::from_json(r#"{"a":1,"s":"x y\nz"}"#.into()).unwrap();
    let user = "user with spaces\tand a tab\n";
    let info = ClientInfo::new(Some("203.0.113.7".parse().unwrap()), Some("curl/8.5.0"));
    let client = client_arg(Some(&info));
    let v = header(user, &client).pack(Some(&data));
    assert!(
        v.starts_with("sk2 3 0 100 27:user with spaces\tand a tab\n w1 10 20 27:203.0.113.7\t"),
        "{v}"
    );
    match decode_record(&packed(v.as_bytes()), &key, 50) {
        Stored::Live { record, version } => {
            assert_eq!(version, 3);
            assert_eq!(record.data, data);
            assert_eq!(record.expires_at, from_unix_micros_saturating(100));
            assert_eq!(record.meta.user_id.as_deref(), Some(user));
            assert_eq!(
                record.meta.created_at,
                Some(from_unix_micros_saturating(10))
            );
            assert_eq!(record.meta.last_seen, Some(from_unix_micros_saturating(20)));
            assert_eq!(record.meta.client, Some(info));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decode_record(&packed(v.as_bytes()), &key, 100),
        Stored::Gone
    ));
    // Anonymous, no client info, no times.
    let mut h = header("", "");
    h.created_at = None;
    h.last_seen = None;
    let v = h.pack(Some(&Data::new()));
    assert_eq!(v, "sk2 3 0 100 0: w1 - - 0:\n{}");
    h.created_at = Some(-5);
    assert_eq!(
        h.pack(None),
        "sk2 3 0 100 0: w1 - - 0:\n",
        "no negative times"
    );
    match decode_record(&packed(v.as_bytes()), &key, 50) {
        Stored::Live { record, .. } => {
            assert_eq!(record.meta, Metadata::default());
            assert!(record.data.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let listed = decode_info(
        key,
        &Raw::Packed(v.into_bytes()).fields().unwrap().unwrap(),
        50,
    );
    assert_eq!(listed.unwrap().meta, Metadata::default());
}

#[test]
fn markers_are_retired_until_they_expire() {
    let key = SessionKey::generate();
    let v = Header::marker(100).pack(None);
    assert_eq!(v, "sk2 0 1 100 0: - - - 0:\n");
    assert!(matches!(
        decode_record(&packed(v.as_bytes()), &key, 99),
        Stored::Retired { until } if until == from_unix_micros_saturating(100)
    ));
    assert!(matches!(
        decode_record(&packed(v.as_bytes()), &key, 100),
        Stored::Gone
    ));
    let f = Fields::packed(v.as_bytes()).unwrap();
    assert!(decode_info(key, &f, 1).is_none(), "markers are not listed");
    assert!(matches!(decode_record(&Raw::Absent, &key, 0), Stored::Gone));
}

/// Whatever is under the key, decoding never panics: garbage is unreadable.
#[test]
fn garbage_packed_values_are_unreadable() {
    let key = SessionKey::generate();
    let garbage: &[&[u8]] = &[
        b"",
        b"junk",
        b"sk2",
        b"sk2 ",
        b"sk1 3 0 100 0: w1 10 20 0:\n{}",
        b"SK2 3 0 100 0: w1 10 20 0:\n{}",
        b"sk2 3 0 100 0: w1 10 20 0:{}",
        b"sk2 3 0 100 0: w1 10 20 0:",
        b"sk2 3 0 100 0: w1 10 20 \n{}",
        b"sk2 3 0 100 0: w1 10 20\n{}",
        b"sk2 3 0 100 0: w1 10 0:\n{}",
        b"sk2 3 0 100 0:w1 10 20 0:\n{}",
        b"sk2 3 0 100 0:  10 20 0:\n{}",
        b"sk2 3 2 100 0: w1 10 20 0:\n{}",
        b"sk2 3 100 0: w1 10 20 0:\n{}",
        b"sk2 -3 0 100 0: w1 10 20 0:\n{}",
        b"sk2 +3 0 100 0: w1 10 20 0:\n{}",
        b"sk2 3 0 -100 0: w1 10 20 0:\n{}",
        b"sk2 3 0 1e9 0: w1 10 20 0:\n{}",
        b"sk2 3 0 0x64 0: w1 10 20 0:\n{}",
        b"sk2  3 0 100 0: w1 10 20 0:\n{}",
        b"sk2 3 0 100 0: w1 -10 20 0:\n{}",
        b"sk2 3 0 100 0: w1 10 x 0:\n{}",
        b"sk2 99999999999999999999 0 100 0: w1 10 20 0:\n{}",
        b"sk2 3 0 99999999999999999999 0: w1 10 20 0:\n{}",
        // 19 digits: an i64, but more than the scripts read as an expiry.
        b"sk2 3 0 9223372036854775807 0: w1 10 20 0:\n{}",
        b"sk2 3 0 100 0: w\t1 10 20 0:\n{}",
        b"sk2 3 0 100 0: w\n1 10 20 0:\n{}",
        b"sk2 3 0 100 99999999999999999999999:ab w1 10 20 0:\n{}",
        b"sk2 3 0 100 5:ab w1 10 20 0:\n{}",
        b"sk2 3 0 100 99:ab w1 10 20 0:\n{}",
        b"sk2 3 0 100 2:ab w1 10 20 9:x\n{}",
        b"sk2 3 0 100 -1: w1 10 20 0:\n{}",
        b"sk2 3 0 100 2:ab w1 10 20 0:\n{not json",
        b"sk2 3 0 100 2:ab w1 10 20 0:\n\xff\xfe",
        b"sk2 3 0 100 2:ab w1 10 20 0:\n[1]",
        b"\xff\xfe\xfd",
    ];
    for v in garbage {
        let got = decode_record(&packed(v), &key, 1);
        assert!(
            matches!(got, Stored::Unreadable(_)),
            "{:?}: {got:?}",
            String::from_utf8_lossy(v)
        );
    }
    // A number beyond i64 (Lua reads it as a double) is unreadable, not "forever".
    let huge = b"sk2 3 0 9223372036854775808 0: w1 10 20 0:\n{}";
    assert!(matches!(
        decode_record(&packed(huge), &key, 1),
        Stored::Unreadable(_)
    ));
    // Client info that does not parse loses the client info, not the session.
    let v = b"sk2 3 0 100 0: w1 10 20 12:999.1.1.1\t\tx\n{}";
    assert!(matches!(
        decode_record(&packed(v), &key, 1),
        Stored::Live { record, .. } if record.meta.client.is_none()
    ));
}

#[test]
fn hash_records_decode_and_garbage_is_unreadable() {
    let live = vec![
        b(r#"{"a":1}"#),
        b("3"),
        b("100"),
        b("10"),
        b("20"),
        b("u"),
        None,
        None,
    ];
    let key = SessionKey::generate();
    match decode_record(&Raw::Hash(live.clone()), &key, 50) {
        Stored::Live { record, version } => {
            assert_eq!(version, 3);
            assert_eq!(record.meta.user_id.as_deref(), Some("u"));
            assert_eq!(
                record.meta.created_at,
                Some(from_unix_micros_saturating(10))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decode_record(&Raw::Hash(live.clone()), &key, 100),
        Stored::Gone
    ));
    assert!(matches!(
        decode_record(&Raw::Hash(vec![None; 8]), &key, 0),
        Stored::Gone
    ));
    let marker = vec![None, None, b("100"), None, None, None, b("1"), None];
    assert!(matches!(
        decode_record(&Raw::Hash(marker), &key, 1),
        Stored::Retired { .. }
    ));
    let bad = |i: usize, v: Option<Vec<u8>>| {
        let mut f = live.clone();
        f[i] = v;
        decode_record(&Raw::Hash(f), &key, 1)
    };
    assert!(matches!(bad(0, b("{not json")), Stored::Unreadable(_)));
    assert!(matches!(
        bad(0, Some(vec![0xff, 0xfe])),
        Stored::Unreadable(_)
    ));
    assert!(matches!(bad(2, b("soon")), Stored::Unreadable(_)));
    assert!(matches!(bad(1, b("-1")), Stored::Unreadable(_)));
}

/// A hash of the build before issue 19 has no `client` field; one with an empty field
/// or garbage in it loads too, without client info.
#[test]
fn client_info_is_optional_and_garbage_is_ignored() {
    let key = SessionKey::generate();
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let info = ClientInfo::new(Some("203.0.113.7".parse().unwrap()), Some(ua));
    let old = vec![b("{}"), b("1"), b("100"), b("10"), b("20"), None, None];
    let client_of =
        |fields: &[Option<Vec<u8>>]| match decode_record(&Raw::Hash(fields.to_vec()), &key, 50) {
            Stored::Live { record, .. } => record.meta.client,
            other => panic!("{other:?}"),
        };
    // The 7 fields of the previous build's HMGET, and the same hash read now.
    assert_eq!(client_of(&old), None);
    let mut now = old.clone();
    now.push(None);
    assert_eq!(client_of(&now), None);
    now[7] = b("");
    assert_eq!(client_of(&now), None);
    now[7] = Some(client_arg(Some(&info)).into_bytes());
    assert_eq!(client_of(&now), Some(info.clone()));
    for garbage in [
        &b"no tabs"[..],
        b"999.1.1.1\t\tx",
        b"\xff\xfe",
        b"a\tb\tc\td",
    ] {
        now[7] = Some(garbage.to_vec());
        assert_eq!(client_of(&now), None, "{garbage:?}");
    }
    let listed = Raw::Hash(vec![
        None,
        None,
        b("100"),
        None,
        None,
        None,
        None,
        b(&client_arg(Some(&info))),
    ]);
    let f = listed.fields().unwrap().unwrap();
    assert_eq!(decode_info(key, &f, 50).unwrap().meta.client, Some(info));
}

#[test]
fn int_reads_what_str_parse_reads() {
    let mut cases: Vec<String> = [
        "",
        "-",
        "+",
        "0",
        "-0",
        "+0",
        "7",
        "-7",
        "+7",
        "007",
        " 1",
        "1 ",
        "1a",
        "a1",
        "--1",
        "+-1",
        "1e5",
        "0x10",
        "1.5",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999",
        "1796666400123456",
        "٣",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    cases.extend((0..64).map(|i| (1i64 << i).to_string()));
    cases.extend((0..64).map(|i| (1i64 << i).wrapping_neg().to_string()));
    for c in &cases {
        assert_eq!(
            super::int(Some(c.as_bytes())),
            c.parse::<i64>().ok(),
            "{c:?}"
        );
    }
    assert_eq!(super::int(Some(&[0xff, b'1'])), None);
    assert_eq!(super::int(None), None);
}
