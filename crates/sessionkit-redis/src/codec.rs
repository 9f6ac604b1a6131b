//! Encoding and decoding a stored session, in either record format (see
//! [`keys`](crate::keys) for both): the packed string this build writes by default, and the
//! hash of earlier builds (still read, and written under [`RecordFormat::Hash`]).
//!
//! [`RecordFormat::Hash`]: crate::RecordFormat::Hash

use std::sync::Arc;

use sessionkit_core::{ClientInfo, Data, Metadata, Record, SessionInfo, SessionKey};
use time::OffsetDateTime;

/// The fields a hash record is read by (`load`, listings), in this order.
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

/// The first bytes of a packed record: the format's name and version.
pub(crate) const PACKED_MAGIC: &[u8] = b"sk2 ";

/// Unix microseconds (saturating far outside the supported range).
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(if t.unix_timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// The time of Unix microseconds `m`, saturating at the first or last representable
/// instant (year -9999 or 9999): a far-future expiry stays far in the future.
pub(crate) fn from_micros(m: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000).unwrap_or(if m < 0 {
        time::PrimitiveDateTime::MIN.assume_utc()
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    })
}

/// The Redis TTL of a record expiring at `expires_at`, seen at `now`: milliseconds, rounded
/// up so that Redis never evicts a record the engine still considers live. `<= 0` means
/// the record is already gone.
///
/// A record expiring before 1970 is not stored either (0), whatever `now` says: the
/// packed format's numbers have no sign, so such a record could not be read back.
pub(crate) fn ttl_ms(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let expires = micros(expires_at);
    let d = i128::from(expires) - i128::from(micros(now));
    if d <= 0 || expires < 0 {
        return 0;
    }
    i64::try_from((d + 999) / 1000).unwrap_or(i64::MAX)
}

/// The decimal text of an integer in a stack buffer: script arguments and packed headers
/// without a `String` per number.
#[derive(Clone, Copy)]
pub(crate) struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    /// `n` in decimal, with a `-` when negative.
    pub(crate) fn int(n: i64) -> Digits {
        let mut d = Digits::uint(n.unsigned_abs());
        if n < 0 {
            // 19 digits at most for |i64::MIN|, so there is room for the sign.
            d.start -= 1;
            d.buf[d.start] = b'-';
        }
        d
    }

    /// `n` in decimal.
    pub(crate) fn uint(mut n: u64) -> Digits {
        let mut d = Digits {
            buf: [0; 20],
            start: 20,
        };
        loop {
            d.start -= 1;
            d.buf[d.start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return d;
            }
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits and `-` are ever written.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// The header of a packed record (see [`keys`](crate::keys)), to write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header<'a> {
    pub(crate) version: u64,
    pub(crate) expires_at: i64,
    /// The write id; never empty nor with spaces (generated ids are alphanumeric).
    pub(crate) write: &'a str,
    pub(crate) retired: bool,
    pub(crate) created_at: Option<i64>,
    pub(crate) last_seen: Option<i64>,
    /// `""` for none.
    pub(crate) user: &'a str,
    /// [`client_arg`]: `""` for none.
    pub(crate) client: &'a str,
}

impl Header<'_> {
    /// A rotation marker until `until`: retired, no write id (`-`), metadata or data.
    pub(crate) fn marker(until: i64) -> Header<'static> {
        Header {
            version: 0,
            expires_at: until,
            write: "-",
            retired: true,
            created_at: None,
            last_seen: None,
            user: "",
            client: "",
        }
    }

    /// The whole packed value: this header, then `data` as JSON (nothing for a marker),
    /// built in one buffer sized up front.
    pub(crate) fn pack(&self, data: Option<&Data>) -> String {
        let guess = data.map_or(0, |d| {
            d.keys()
                .map(|k| k.len() + d.raw(k).map_or(24, str::len) + 4)
                .sum::<usize>()
                + 2
        });
        let mut out = String::with_capacity(
            96 + self.write.len() + self.user.len() + self.client.len() + guess,
        );
        out.push_str("sk2 ");
        out.push_str(Digits::uint(self.version).as_str());
        out.push_str(if self.retired { " 1 " } else { " 0 " });
        out.push_str(Digits::int(self.expires_at).as_str());
        out.push(' ');
        push_text(&mut out, self.user);
        out.push(' ');
        out.push_str(if self.write.is_empty() {
            "-"
        } else {
            self.write
        });
        for t in [self.created_at, self.last_seen] {
            out.push(' ');
            // A time before 1970 has no place in the format (digits only): none.
            match t.filter(|t| *t >= 0) {
                Some(t) => out.push_str(Digits::int(t).as_str()),
                None => out.push('-'),
            }
        }
        out.push(' ');
        push_text(&mut out, self.client);
        out.push('\n');
        if let Some(d) = data {
            d.write_json(&mut out);
        }
        out
    }
}

/// `<byte length>:<text>`.
fn push_text(out: &mut String, text: &str) {
    out.push_str(Digits::uint(text.len() as u64).as_str());
    out.push(':');
    out.push_str(text);
}

/// The `client` text of a record ([`ClientInfo::to_stored_text`]), or the empty string for
/// none (written as such, so a save without client info erases the old one).
pub(crate) fn client_arg(client: Option<&ClientInfo>) -> String {
    client.map(ClientInfo::to_stored_text).unwrap_or_default()
}

/// Reads client info: absent (a record of an earlier version) or empty is `None`; so is
/// text that does not parse, with a warning — the session itself stays readable.
pub(crate) fn client(field: Option<&[u8]>, key: &SessionKey) -> Option<ClientInfo> {
    let raw = field.filter(|f| !f.is_empty())?;
    let parsed = std::str::from_utf8(raw)
        .ok()
        .and_then(ClientInfo::from_stored_text);
    if parsed.is_none() {
        tracing::warn!(key = %key.fingerprint(), "unreadable client info in the session record; ignoring it");
    }
    parsed
}

/// What a session key holds, as read: nothing, a packed value (`GET`), or a hash's
/// [`RECORD_FIELDS`] (`HMGET`, for records of earlier builds or [`RecordFormat::Hash`]).
///
/// [`RecordFormat::Hash`]: crate::RecordFormat::Hash
#[derive(Debug)]
pub(crate) enum Raw {
    Absent,
    Packed(Vec<u8>),
    Hash(Vec<Option<Vec<u8>>>),
}

impl Raw {
    /// The record's fields, borrowed: `Ok(None)` for no record, `Err` for a packed value
    /// whose header does not parse.
    pub(crate) fn fields(&self) -> Result<Option<Fields<'_>>, &'static str> {
        match self {
            Raw::Absent => Ok(None),
            Raw::Packed(v) => Fields::packed(v).map(Some),
            Raw::Hash(f) if f.iter().all(Option::is_none) => Ok(None),
            Raw::Hash(f) => Ok(Some(Fields::hash(f))),
        }
    }
}

/// One stored record's fields, of either format, as unparsed text. Numbers are checked by
/// [`decode_record`] and [`decode_info`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Fields<'a> {
    pub(crate) data: Option<&'a [u8]>,
    pub(crate) version: Option<&'a [u8]>,
    pub(crate) expires_at: Option<&'a [u8]>,
    pub(crate) created_at: Option<&'a [u8]>,
    pub(crate) last_seen: Option<&'a [u8]>,
    /// `None` when anonymous.
    pub(crate) user_id: Option<&'a [u8]>,
    pub(crate) retired: bool,
    pub(crate) client: Option<&'a [u8]>,
}

/// `text` if it is a non-empty run of ASCII digits.
fn digits(text: &[u8]) -> Option<&[u8]> {
    (!text.is_empty() && text.iter().all(u8::is_ascii_digit)).then_some(text)
}

impl<'a> Fields<'a> {
    /// A hash's [`RECORD_FIELDS`], in that order.
    fn hash(f: &'a [Option<Vec<u8>>]) -> Fields<'a> {
        let get = |i: usize| f.get(i).and_then(Option::as_deref);
        Fields {
            data: get(0),
            version: get(1),
            expires_at: get(2),
            created_at: get(3),
            last_seen: get(4),
            user_id: get(5),
            retired: get(6).is_some(),
            client: get(7),
        }
    }

    /// Parses a packed value's header (see [`keys`](crate::keys)); the data is what
    /// follows its newline. Numbers must be plain digits: no sign, no spaces.
    pub(crate) fn packed(v: &'a [u8]) -> Result<Fields<'a>, &'static str> {
        let rest = v
            .strip_prefix(PACKED_MAGIC)
            .ok_or("not a packed session record")?;
        let (version, rest) = word(rest).ok_or("a truncated header")?;
        let (retired, rest) = word(rest).ok_or("a truncated header")?;
        let (expires_at, rest) = word(rest).ok_or("a truncated header")?;
        let (user, rest) = length_prefixed(rest).ok_or("a bad user id length")?;
        let rest = rest
            .strip_prefix(b" ")
            .ok_or("no space after the user id")?;
        let (write, rest) = word(rest).ok_or("a truncated header")?;
        let (created_at, rest) = word(rest).ok_or("a truncated header")?;
        let (last_seen, rest) = word(rest).ok_or("a truncated header")?;
        let (client, rest) = length_prefixed(rest).ok_or("a bad client info length")?;
        let data = rest
            .strip_prefix(b"\n")
            .ok_or("no newline after the header")?;
        let version = digits(version).ok_or("no readable version")?;
        // At most 18 digits, as the scripts read it (every i64 of 18 digits is one; the
        // year 9999 is 18 digits of microseconds).
        let expires_at = digits(expires_at)
            .filter(|e| e.len() <= 18)
            .ok_or("no readable expires_at")?;
        // The scripts read the write id as one run of non-space characters.
        if write.is_empty() || write.iter().any(u8::is_ascii_whitespace) {
            return Err("no write id");
        }
        let retired = match retired {
            b"0" => false,
            b"1" => true,
            _ => return Err("no readable retired flag"),
        };
        let time = |t: &'a [u8]| match t {
            b"-" => Ok(None),
            t => digits(t).map(Some).ok_or("an unreadable time"),
        };
        Ok(Fields {
            data: Some(data),
            version: Some(version),
            expires_at: Some(expires_at),
            created_at: time(created_at)?,
            last_seen: time(last_seen)?,
            user_id: (!user.is_empty()).then_some(user),
            retired,
            client: Some(client),
        })
    }
}

/// The bytes up to the next space, and what follows it.
fn word(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = v.iter().position(|&b| b == b' ')?;
    Some((&v[..end], &v[end + 1..]))
}

/// `<len>:<len bytes>` at the start of `v`: the bytes and what follows.
fn length_prefixed(v: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = v.iter().take(21).position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(digits(&v[..colon])?)
        .ok()?
        .parse()
        .ok()?;
    let body = &v[colon + 1..];
    (len <= body.len()).then(|| body.split_at(len))
}

fn int(field: Option<&[u8]>) -> Option<i64> {
    std::str::from_utf8(field?).ok()?.parse().ok()
}

fn text(field: Option<&[u8]>) -> Option<String> {
    std::str::from_utf8(field?).ok().map(str::to_owned)
}

/// What a stored record holds, as seen at some `now`.
#[derive(Debug)]
pub(crate) enum Stored {
    /// No record under the key, or one that expired.
    Gone,
    /// A rotation marker still in its grace window.
    Retired { until: OffsetDateTime },
    /// A live session.
    Live { record: Record, version: u64 },
    /// Something that is not a readable session (left alone, reported as missing).
    Unreadable(&'static str),
}

/// Decodes a record read under `key`. The data is copied once, into the record's JSON.
pub(crate) fn decode_record(raw: &Raw, key: &SessionKey, now: i64) -> Stored {
    let f = match raw.fields() {
        Ok(Some(f)) => f,
        Ok(None) => return Stored::Gone,
        Err(why) => return Stored::Unreadable(why),
    };
    let Some(expires_at) = int(f.expires_at) else {
        return Stored::Unreadable("no readable expires_at");
    };
    if expires_at <= now {
        return Stored::Gone;
    }
    if f.retired {
        return Stored::Retired {
            until: from_micros(expires_at),
        };
    }
    let Some(version) = int(f.version).and_then(|v| u64::try_from(v).ok()) else {
        return Stored::Unreadable("no readable version");
    };
    let Some(json) = f.data.and_then(|d| std::str::from_utf8(d).ok()) else {
        return Stored::Unreadable("data is missing or not UTF-8");
    };
    let Ok(data) = Data::from_json(Arc::from(json)) else {
        return Stored::Unreadable("data is not valid JSON");
    };
    Stored::Live {
        record: Record {
            data,
            expires_at: from_micros(expires_at),
            meta: meta(&f, key),
        },
        version,
    }
}

fn meta(f: &Fields<'_>, key: &SessionKey) -> Metadata {
    Metadata {
        created_at: int(f.created_at).map(from_micros),
        last_seen: int(f.last_seen).map(from_micros),
        user_id: text(f.user_id),
        client: client(f.client, key),
    }
}

/// A listing's view of a record: `Some` for a live session at `now`. Only the metadata is
/// read, so a session with unreadable data is listed (for inspection).
pub(crate) fn decode_info(key: SessionKey, f: &Fields<'_>, now: i64) -> Option<SessionInfo> {
    let expires_at = int(f.expires_at)?;
    if expires_at <= now || f.retired {
        return None;
    }
    Some(SessionInfo {
        key,
        expires_at: from_micros(expires_at),
        meta: meta(f, &key),
    })
}

#[cfg(test)]
mod tests {
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
        assert_eq!(from_micros(i64::MAX), max);
        assert_eq!(from_micros(999_999_999_999_999_999), max);
        assert_eq!(from_micros(i64::MIN), min);
        assert_eq!(from_micros(0), OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn micros_round_trip() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_000).unwrap();
        assert_eq!(from_micros(micros(t)), t);
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
                assert_eq!(record.expires_at, from_micros(100));
                assert_eq!(record.meta.user_id.as_deref(), Some(user));
                assert_eq!(record.meta.created_at, Some(from_micros(10)));
                assert_eq!(record.meta.last_seen, Some(from_micros(20)));
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
            Stored::Retired { until } if until == from_micros(100)
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
                assert_eq!(record.meta.created_at, Some(from_micros(10)));
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
            |fields: &[Option<Vec<u8>>]| match decode_record(&Raw::Hash(fields.to_vec()), &key, 50)
            {
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
}
