//! Encoding times and decoding the stored hash (see [`keys`](crate::keys) for the fields).

use std::sync::Arc;

use sessionkit_core::{ClientInfo, Data, Metadata, Record, SessionInfo, SessionKey};
use time::OffsetDateTime;

/// The fields `load` reads, in this order.
pub(crate) const RECORD_FIELDS: [&str; 8] = [
    "data",
    "version",
    "expires_at",
    "created_at",
    "last_seen",
    "user_id",
    "retired",
    "client",
];

/// The fields listings read, in this order: [`RECORD_FIELDS`] without the data and the
/// version.
pub(crate) const INFO_FIELDS: &[&str] = RECORD_FIELDS.split_at(2).1;

/// Unix microseconds (saturating far outside the supported range).
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

pub(crate) fn from_micros(m: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The Redis TTL of a record expiring at `expires_at`, seen at `now`: milliseconds, rounded
/// up so that Redis never evicts a record the engine still considers live. `<= 0` means
/// the record is already gone.
pub(crate) fn ttl_ms(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let d = i128::from(micros(expires_at)) - i128::from(micros(now));
    if d <= 0 {
        return 0;
    }
    i64::try_from((d + 999) / 1000).unwrap_or(i64::MAX)
}

fn int(field: Option<&Vec<u8>>) -> Option<i64> {
    std::str::from_utf8(field?).ok()?.parse().ok()
}

fn text(field: Option<&Vec<u8>>) -> Option<String> {
    String::from_utf8(field?.clone()).ok()
}

/// The `client` field as a script argument: [`ClientInfo::to_stored_text`], or the empty
/// string for none (the scripts always write the field, so a save without client info
/// erases the old one in the same `HSET`).
pub(crate) fn client_arg(client: Option<&ClientInfo>) -> String {
    client.map(ClientInfo::to_stored_text).unwrap_or_default()
}

/// Reads the `client` field: absent (a record of an earlier version) or empty is `None`;
/// so is one that does not parse, with a warning — the session itself stays readable.
pub(crate) fn client(field: Option<&[u8]>, key: &SessionKey) -> Option<ClientInfo> {
    let raw = field.filter(|f| !f.is_empty())?;
    let parsed = std::str::from_utf8(raw)
        .ok()
        .and_then(ClientInfo::from_stored_text);
    if parsed.is_none() {
        tracing::warn!(key = %key.fingerprint(), "unreadable client info in the session hash; ignoring it");
    }
    parsed
}

/// What a stored hash holds, as seen at some `now`.
#[derive(Debug)]
pub(crate) enum Stored {
    /// No hash under the key, or one that expired.
    Gone,
    /// A rotation marker still in its grace window.
    Retired { until: OffsetDateTime },
    /// A live session.
    Live { record: Record, version: u64 },
    /// Something that is not a readable session (left alone, reported as missing).
    Unreadable(&'static str),
}

/// Decodes the [`RECORD_FIELDS`] of a hash (all `None`: no hash).
pub(crate) fn decode_record(fields: &[Option<Vec<u8>>], key: &SessionKey, now: i64) -> Stored {
    if fields.iter().all(Option::is_none) {
        return Stored::Gone;
    }
    let get = |i: usize| fields.get(i).and_then(Option::as_ref);
    let Some(expires_at) = int(get(2)) else {
        return Stored::Unreadable("no readable expires_at");
    };
    if expires_at <= now {
        return Stored::Gone;
    }
    if get(6).is_some() {
        return Stored::Retired {
            until: from_micros(expires_at),
        };
    }
    let Some(version) = int(get(1)).and_then(|v| u64::try_from(v).ok()) else {
        return Stored::Unreadable("no readable version");
    };
    let Some(json) = get(0).and_then(|d| std::str::from_utf8(d).ok()) else {
        return Stored::Unreadable("data is missing or not UTF-8");
    };
    let Ok(data) = Data::from_json(Arc::from(json)) else {
        return Stored::Unreadable("data is not valid JSON");
    };
    Stored::Live {
        record: Record {
            data,
            expires_at: from_micros(expires_at),
            meta: Metadata {
                created_at: int(get(3)).map(from_micros),
                last_seen: int(get(4)).map(from_micros),
                user_id: text(get(5)),
                client: client(get(7).map(Vec::as_slice), key),
            },
        },
        version,
    }
}

/// Decodes the [`INFO_FIELDS`] of a hash: `Some` for a live session at `now`.
pub(crate) fn decode_info(
    key: SessionKey,
    fields: &[Option<Vec<u8>>],
    now: i64,
) -> Option<SessionInfo> {
    let get = |i: usize| fields.get(i).and_then(Option::as_ref);
    let expires_at = int(get(0))?;
    if expires_at <= now || get(4).is_some() {
        return None;
    }
    Some(SessionInfo {
        key,
        expires_at: from_micros(expires_at),
        meta: Metadata {
            created_at: int(get(1)).map(from_micros),
            last_seen: int(get(2)).map(from_micros),
            user_id: text(get(3)),
            client: client(get(5).map(Vec::as_slice), &key),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn ttl_rounds_up_and_clamps() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        assert_eq!(ttl_ms(now + time::Duration::seconds(2), now), 2000);
        assert_eq!(ttl_ms(now + time::Duration::microseconds(1), now), 1);
        assert_eq!(ttl_ms(now + time::Duration::microseconds(1001), now), 2);
        assert_eq!(ttl_ms(now, now), 0);
        assert_eq!(ttl_ms(now - time::Duration::seconds(5), now), 0);
    }

    #[test]
    fn micros_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_000).unwrap();
        assert_eq!(from_micros(micros(t)), t);
    }

    #[test]
    fn records_decode_and_garbage_is_unreadable() {
        let live = [
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
        match decode_record(&live, &key, 50) {
            Stored::Live { record, version } => {
                assert_eq!(version, 3);
                assert_eq!(record.meta.user_id.as_deref(), Some("u"));
                assert_eq!(record.meta.created_at, Some(from_micros(10)));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(decode_record(&live, &key, 100), Stored::Gone));
        assert!(matches!(
            decode_record(&[const { None }; 8], &key, 0),
            Stored::Gone
        ));
        let marker = [None, None, b("100"), None, None, None, b("1"), None];
        assert!(matches!(
            decode_record(&marker, &key, 1),
            Stored::Retired { .. }
        ));
        let mut bad = live.clone();
        bad[0] = b("{not json");
        assert!(matches!(
            decode_record(&bad, &key, 1),
            Stored::Unreadable(_)
        ));
        bad[0] = Some(vec![0xff, 0xfe]);
        assert!(matches!(
            decode_record(&bad, &key, 1),
            Stored::Unreadable(_)
        ));
        let mut bad = live.clone();
        bad[2] = b("soon");
        assert!(matches!(
            decode_record(&bad, &key, 1),
            Stored::Unreadable(_)
        ));
        let mut bad = live.clone();
        bad[1] = b("-1");
        assert!(matches!(
            decode_record(&bad, &key, 1),
            Stored::Unreadable(_)
        ));
    }

    /// A record of the previous version has no `client` field; one with an empty field or
    /// garbage in it loads too, without client info.
    #[test]
    fn client_info_is_optional_and_garbage_is_ignored() {
        let key = SessionKey::generate();
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        let info = ClientInfo::new(Some("203.0.113.7".parse().unwrap()), Some(ua));
        let old = [b("{}"), b("1"), b("100"), b("10"), b("20"), None, None];
        let client_of = |fields: &[Option<Vec<u8>>]| match decode_record(fields, &key, 50) {
            Stored::Live { record, .. } => record.meta.client,
            other => panic!("{other:?}"),
        };
        // The previous build's HMGET answer (7 fields) and the same hash read now.
        assert_eq!(client_of(&old), None);
        let mut now = old.to_vec();
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
        let listed = decode_info(
            key,
            &[
                b("100"),
                None,
                None,
                None,
                None,
                b(&client_arg(Some(&info))),
            ],
            50,
        );
        assert_eq!(listed.unwrap().meta.client, Some(info));
        assert_eq!(
            decode_info(key, &[b("100"), None, None, None, None], 50)
                .unwrap()
                .meta
                .client,
            None
        );
    }
}
