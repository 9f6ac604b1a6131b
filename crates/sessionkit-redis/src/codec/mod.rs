//! Encoding and decoding a stored session, in either record format (see
//! [`keys`](crate::keys) for both): the packed string this build writes by default, and the
//! hash of earlier builds (still read, and written under [`RecordFormat::Hash`]).
//!
//! [`RecordFormat::Hash`]: crate::RecordFormat::Hash

use std::sync::Arc;

pub(crate) use sessionkit_core::store::{from_unix_micros_saturating, unix_micros};
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

/// The Redis TTL of a record expiring at `expires_at`, seen at `now`: milliseconds, rounded
/// up so that Redis never evicts a record the engine still considers live. `<= 0` means
/// the record is already gone.
///
/// A record expiring before 1970 is not stored either (0), whatever `now` says: the
/// packed format's numbers have no sign, so such a record could not be read back.
pub(crate) fn ttl_ms(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let expires = unix_micros(expires_at);
    let d = i128::from(expires) - i128::from(unix_micros(now));
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

/// A field's decimal integer, as `str::parse::<i64>` reads it (an optional sign, then one
/// or more ASCII digits, in range), straight from the bytes: a load reads four of these,
/// and checking the text as UTF-8 first cost more than the digits.
pub(crate) fn int(field: Option<&[u8]>) -> Option<i64> {
    let field = field?;
    let (negative, digits) = match field.first()? {
        b'-' => (true, &field[1..]),
        b'+' => (false, &field[1..]),
        _ => (false, field),
    };
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0i64, |n, &b| {
        let d = i64::from(char::from(b).to_digit(10)?);
        let n = n.checked_mul(10)?;
        // Accumulated on the sign's side, so that i64::MIN is reachable.
        if negative {
            n.checked_sub(d)
        } else {
            n.checked_add(d)
        }
    })
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
            until: from_unix_micros_saturating(expires_at),
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
            expires_at: from_unix_micros_saturating(expires_at),
            meta: meta(&f, key),
        },
        version,
    }
}

fn meta(f: &Fields<'_>, key: &SessionKey) -> Metadata {
    Metadata {
        created_at: int(f.created_at).map(from_unix_micros_saturating),
        last_seen: int(f.last_seen).map(from_unix_micros_saturating),
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
        expires_at: from_unix_micros_saturating(expires_at),
        meta: meta(f, &key),
    })
}

#[cfg(test)]
mod tests;
