//! The native layout's value: one memcached item per session.
//!
//! ```text
//! sk1 <version> <expires_at> <created_at> <last_seen> <user id length>[ <client info>]\n<user id><data as JSON>
//! ```
//!
//! The client info (issue 19) is [`ClientInfo::to_stored_text`] after a sixth space, to
//! the end of the header line (it holds spaces and tabs, never a line break); without
//! client info the item is exactly that of earlier versions. Items of earlier versions
//! read as having none; builds before it read the header's first five fields and ignore
//! the rest, so they still read items written with it. Client info that does not read
//! back is dropped with a warning; the session stays readable.
//!
//! A rotation marker (`retire`) is `sk1r <version> <until>`: until `until` a load answers
//! `Retired`, and the version carries on into a record that later takes the key.
//!
//! Times are Unix microseconds; a missing created-at or last-seen is `-`. The version is
//! the session's token: memcached's own CAS value guards every write (each one reads the
//! item and writes it back with `ms ... C<cas>`), but a `touch` rewrites the item — new
//! expiry, new last-seen — and with it the CAS value, while the contract wants the token
//! to survive a touch. So the token is the version kept in the value, raised by every
//! save; the CAS value is the lock on the read-modify-write.

use sessionkit_core::store::{from_unix_micros, unix_micros};
use sessionkit_core::{ClientInfo, Data, Metadata, Record, SessionKey};
use time::OffsetDateTime;

const MAGIC: &[u8] = b"sk1 ";
const MARKER: &[u8] = b"sk1r ";

/// What an item holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoded {
    /// A session.
    Record(Stored),
    /// A rotation marker.
    Retired { version: u64, until: OffsetDateTime },
}

/// A rotation marker's item.
pub(crate) fn encode_marker(version: u64, until: OffsetDateTime) -> Vec<u8> {
    format!("sk1r {version} {}", unix_micros(until)).into_bytes()
}

/// Reads an item: a record or a marker.
pub(crate) fn decode_item(bytes: &[u8], key: &SessionKey) -> Result<Decoded, &'static str> {
    let Some(rest) = bytes.strip_prefix(MARKER) else {
        return decode(bytes, key).map(Decoded::Record);
    };
    let text = std::str::from_utf8(rest).map_err(|_| "marker is not text")?;
    let (version, until) = text.split_once(' ').ok_or("short marker")?;
    Ok(Decoded::Retired {
        version: version.parse().map_err(|_| "bad marker version")?,
        until: from_unix_micros(until.parse().map_err(|_| "bad marker time")?)
            .ok_or("marker time out of range")?,
    })
}

/// A decoded item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stored {
    pub(crate) version: u64,
    pub(crate) record: Record,
}

fn opt_time(t: Option<OffsetDateTime>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| unix_micros(t).to_string())
}

/// The item for `record` at `version`.
pub(crate) fn encode(version: u64, record: &Record) -> Vec<u8> {
    let user = record.meta.user_id.as_deref().unwrap_or("");
    let json = record.data.to_json();
    let mut head = format!(
        "sk1 {version} {} {} {} {}",
        unix_micros(record.expires_at),
        opt_time(record.meta.created_at),
        opt_time(record.meta.last_seen),
        user.len()
    );
    if let Some(client) = &record.meta.client {
        head.push(' ');
        head.push_str(&client.to_stored_text());
    }
    head.push('\n');
    let mut out = Vec::with_capacity(head.len() + user.len() + json.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(user.as_bytes());
    out.extend_from_slice(json.as_bytes());
    out
}

/// Reads an item; `Err` says what is wrong with it (for the log).
fn decode(bytes: &[u8], key: &SessionKey) -> Result<Stored, &'static str> {
    let rest = bytes.strip_prefix(MAGIC).ok_or("not a sessionkit item")?;
    let nl = rest
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let head = std::str::from_utf8(&rest[..nl]).map_err(|_| "header is not text")?;
    let body = &rest[nl + 1..];
    let mut fields = head.splitn(6, ' ');
    let mut next = || fields.next().ok_or("short header");
    let version: u64 = next()?.parse().map_err(|_| "bad version")?;
    let expires: i64 = next()?.parse().map_err(|_| "bad expiry")?;
    let created = time_field(next()?)?;
    let seen = time_field(next()?)?;
    let user_len: usize = next()?.parse().map_err(|_| "bad user id length")?;
    let client = fields.next().and_then(|text| {
        let parsed = ClientInfo::from_stored_text(text);
        if parsed.is_none() {
            tracing::warn!(key = %key.fingerprint(), "unreadable client info in the memcached item; ignoring it");
        }
        parsed
    });
    if user_len > body.len() {
        return Err("user id cut short");
    }
    let (user, json) = body.split_at(user_len);
    let user = std::str::from_utf8(user).map_err(|_| "user id is not UTF-8")?;
    let json = std::str::from_utf8(json).map_err(|_| "data is not UTF-8")?;
    let data = Data::from_json(json.into()).map_err(|_| "data is not a JSON object")?;
    Ok(Stored {
        version,
        record: Record {
            data,
            expires_at: from_unix_micros(expires).ok_or("expiry out of range")?,
            meta: Metadata {
                created_at: created,
                last_seen: seen,
                user_id: (!user.is_empty()).then(|| user.to_owned()),
                client,
            },
        },
    })
}

fn time_field(s: &str) -> Result<Option<OffsetDateTime>, &'static str> {
    if s == "-" {
        return Ok(None);
    }
    let m: i64 = s.parse().map_err(|_| "bad time")?;
    Ok(Some(from_unix_micros(m).ok_or("time out of range")?))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn record(user: Option<&str>) -> Record {
        Record {
            data: Data::from_json(r#"{"a":1,"s":"x\ny"}"#.into()).unwrap(),
            expires_at: datetime!(2026-01-01 01:00:00.000123 UTC),
            meta: Metadata {
                created_at: Some(datetime!(2026-01-01 00:00 UTC)),
                last_seen: None,
                user_id: user.map(str::to_owned),
                client: None,
            },
        }
    }

    #[test]
    fn items_round_trip() {
        for user in [None, Some("42"), Some("ü ser\nname")] {
            let r = record(user);
            let bytes = encode(7, &r);
            let back = decode(&bytes, &SessionKey::generate()).unwrap();
            assert_eq!(back.version, 7);
            assert_eq!(back.record, r);
        }
        assert!(
            encode(1, &record(None)).starts_with(b"sk1 1 1767229200000123 1767225600000000 - 0\n{")
        );
    }

    #[test]
    fn markers_round_trip() {
        let until = datetime!(2026-01-01 00:00:30 UTC);
        let bytes = encode_marker(4, until);
        assert_eq!(bytes, b"sk1r 4 1767225630000000");
        assert_eq!(
            decode_item(&bytes, &SessionKey::generate()),
            Ok(Decoded::Retired { version: 4, until })
        );
        assert!(matches!(
            decode_item(&encode(2, &record(None)), &SessionKey::generate()),
            Ok(Decoded::Record(_))
        ));
        assert!(decode_item(b"sk1r 4", &SessionKey::generate()).is_err());
    }

    #[test]
    fn foreign_or_damaged_items_are_refused() {
        let good = encode(3, &record(Some("42")));
        for bad in [
            &b""[..],
            b"hello",
            b"sk1 x 1 - - 0\n{}",
            b"sk1 1 1 - - 9\n{}",
            b"sk1 1 1 - -\n{}",
            b"sk1 1 1 - - 0\n[1]",
            &good[..good.len() - 1],
        ] {
            assert!(decode(bad, &SessionKey::generate()).is_err(), "{bad:?}");
        }
    }

    /// Issue 19: the client info rides at the end of the header line; an item without it
    /// is byte for byte that of the previous version, which loads with none; garbage
    /// there loads without it.
    #[test]
    fn client_info_round_trips_and_old_items_load() {
        let key = SessionKey::generate();
        let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
        for info in [
            ClientInfo::new(Some("203.0.113.7".parse().unwrap()), Some(ua)),
            ClientInfo::new(Some("2001:db8::1".parse().unwrap()), None),
            ClientInfo::new(None, Some("curl/8.5.0")),
        ] {
            let mut r = record(Some("42"));
            r.meta.client = Some(info);
            let back = decode(&encode(5, &r), &key).unwrap();
            assert_eq!(back.record, r);
        }
        // Written by the previous build (its encoder is today's without client info).
        let old = b"sk1 7 1767229200000123 1767225600000000 - 2\n42{\"a\":1}";
        let back = decode(old, &key).unwrap();
        assert_eq!(back.record.meta.client, None);
        assert_eq!(back.record.meta.user_id.as_deref(), Some("42"));
        assert_eq!(&encode(7, &back.record)[..], &old[..]);
        for garbage in [
            &b"sk1 7 1767229200000123 - - 2 junk\n42{}"[..],
            b"sk1 7 1767229200000123 - - 2 1.2.3.999\t\t\n42{}",
            b"sk1 7 1767229200000123 - - 2 \n42{}",
        ] {
            let back = decode(garbage, &key).unwrap();
            assert_eq!(back.record.meta.client, None, "{garbage:?}");
            assert_eq!(back.record.meta.user_id.as_deref(), Some("42"));
        }
        // What the previous build's decoder reads of a new item: its first five header
        // fields, the rest of the line ignored.
        let mut r = record(Some("42"));
        r.meta.client = Some(ClientInfo::new(None, Some("curl/8.5.0")));
        let item = encode(2, &r);
        let head_end = item.iter().position(|&b| b == b'\n').unwrap();
        let head = std::str::from_utf8(&item[..head_end]).unwrap();
        assert_eq!(head.split(' ').take(6).collect::<Vec<_>>().len(), 6);
        assert!(head.starts_with("sk1 2 1767229200000123 1767225600000000 - 2 \tcurl/8.5.0\tcurl"));
    }
}
