//! Reading the `Cookie` header and writing `Set-Cookie` values, byte for byte as Django.

use std::borrow::Cow;
use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::config::{Config, SameSite};

/// The value of the cookie `name` in a `Cookie` header, by Django's rules: the header is
/// split on `;`, each part on its first `=`, names and values are trimmed, the **last**
/// occurrence of a name wins, and a double-quoted value is unquoted Python-style
/// (`\"`, `\\` and octal `\ooo` escapes).
///
/// ```
/// use sessionkit_core::cookie::find;
///
/// assert_eq!(find("a=1; sessionid=abc; b=2", "sessionid").as_deref(), Some("abc"));
/// assert_eq!(find("sessionid=one; sessionid=two", "sessionid").as_deref(), Some("two"));
/// assert_eq!(find(r#"sessionid="q\"v""#, "sessionid").as_deref(), Some("q\"v"));
/// assert_eq!(find("other=1", "sessionid"), None);
/// ```
pub fn find<'a>(header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let mut found = None;
    for chunk in header.split(';') {
        let (k, v) = match chunk.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => ("", chunk.trim()),
        };
        if k == name {
            found = Some(v);
        }
    }
    found.map(unquote)
}

/// Python's `http.cookies._unquote`.
fn unquote(v: &str) -> Cow<'_, str> {
    let b = v.as_bytes();
    if b.len() < 2 || b[0] != b'"' || b[b.len() - 1] != b'"' {
        return Cow::Borrowed(v);
    }
    let inner = &v[1..v.len() - 1];
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let ib = inner.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(ib.len());
    let mut i = 0;
    while i < ib.len() {
        if ib[i] == b'\\' && i + 1 < ib.len() {
            let oct = ib.get(i + 1..i + 4);
            match oct {
                Some(&[a @ b'0'..=b'3', b2 @ b'0'..=b'7', c @ b'0'..=b'7']) => {
                    out.push(((a - b'0') << 6) | ((b2 - b'0') << 3) | (c - b'0'));
                    i += 4;
                }
                _ => {
                    out.push(ib[i + 1]);
                    i += 2;
                }
            }
        } else {
            out.push(ib[i]);
            i += 1;
        }
    }
    // Python decodes the octal escapes as code points (latin-1); do the same.
    Cow::Owned(out.iter().map(|&b| b as char).collect())
}

/// Merges a header name (`Cookie`, or the session header) into the values of a response's
/// `Vary` header(s), as Django's `patch_vary_headers` does: `None` when nothing needs to
/// change (the header already names it, in any case, or is `*`), else the new single header
/// value (`<existing>, <name>`). Adapters call it with their own header types.
///
/// ```
/// use sessionkit_core::cookie::merge_vary;
///
/// assert_eq!(merge_vary([], "Cookie").as_deref(), Some("Cookie"));
/// assert_eq!(merge_vary(["Accept-Encoding"], "Cookie").as_deref(), Some("Accept-Encoding, Cookie"));
/// assert_eq!(merge_vary(["accept, COOKIE"], "Cookie"), None);
/// assert_eq!(merge_vary(["*"], "Cookie"), None);
/// assert_eq!(merge_vary(["Cookie"], "X-Session-Id").as_deref(), Some("Cookie, X-Session-Id"));
/// ```
pub fn merge_vary<'a, I: IntoIterator<Item = &'a str>>(existing: I, name: &str) -> Option<String> {
    let mut value = String::new();
    for part in existing.into_iter().flat_map(|v| v.split(',')) {
        let part = part.trim();
        if part == "*" || part.eq_ignore_ascii_case(name) {
            return None;
        }
        if !part.is_empty() {
            value.push_str(part);
            value.push_str(", ");
        }
    }
    value.push_str(name);
    Some(value)
}

/// Joins several `Cookie` header values (HTTP/2 sends one per cookie) the way a single
/// HTTP/1 header would carry them (`"; "` between them), decoding bytes that are not UTF-8
/// lossily: a non-ASCII byte in another cookie (`name=José`) must not hide the session
/// cookie. Adapters pass their header values' bytes to
/// [`Engine::begin`](crate::Engine::begin) through it.
///
/// ```
/// use sessionkit_core::cookie::{find, join_header_bytes};
///
/// let joined = join_header_bytes([&b"name=Jos\xe9"[..], b"sessionid=abc"]).unwrap();
/// assert_eq!(find(&joined, "sessionid").as_deref(), Some("abc"));
/// ```
pub fn join_header_bytes<'a, I: IntoIterator<Item = &'a [u8]>>(values: I) -> Option<Cow<'a, str>> {
    let mut iter = values.into_iter();
    let first = String::from_utf8_lossy(iter.next()?);
    let Some(second) = iter.next() else {
        return Some(first);
    };
    let mut s = first.into_owned();
    s.push_str("; ");
    s.push_str(&String::from_utf8_lossy(second));
    for v in iter {
        s.push_str("; ");
        s.push_str(&String::from_utf8_lossy(v));
    }
    Some(Cow::Owned(s))
}

/// Formats an instant as an HTTP date (`Thu, 01 Jan 1970 00:00:00 GMT`), truncated to the
/// second as Python's `formatdate(usegmt=True)` does.
pub fn http_date(t: OffsetDateTime) -> String {
    let mut s = String::with_capacity(29);
    push_http_date(&mut s, t, 0);
    s
}

/// Appends [`http_date`]'s form of `t + seconds` (saturating). Responses in the same second
/// share the text: each thread keeps the last one it formatted, under the second it names,
/// so neither the addition nor the formatting is done again within that second.
fn push_http_date(out: &mut String, t: OffsetDateTime, seconds: i64) {
    thread_local! {
        static LAST: std::cell::RefCell<(Option<i64>, String)> = const { std::cell::RefCell::new((None, String::new())) };
    }
    // In UTC first: the range is checked in `t`'s own offset, so near its ends the same
    // target second could saturate in one offset and not in another.
    let utc = if t.offset().is_utc() {
        Some(t)
    } else {
        t.checked_to_offset(time::UtcOffset::UTC)
    };
    let Some(t) = utc else {
        out.push_str(&format_http_date(crate::expiry::add_seconds(t, seconds)));
        return;
    };
    // The text depends on the target's whole second only: adding whole seconds keeps the
    // fraction, and every target past the representable range formats as its end.
    let second = Some(t.unix_timestamp().saturating_add(seconds));
    let format = || format_http_date(crate::expiry::add_seconds(t, seconds));
    let cached = LAST.try_with(|last| match last.try_borrow_mut() {
        Ok(mut last) => {
            if last.0 != second {
                *last = (second, format());
            }
            out.push_str(&last.1);
            true
        }
        Err(_) => false,
    });
    if cached != Ok(true) {
        out.push_str(&format());
    }
}

fn format_http_date(t: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // An instant that UTC cannot hold lies past one end of the range: that end.
    let t = t
        .checked_to_offset(time::UtcOffset::UTC)
        .unwrap_or(if t.year() > 0 {
            crate::expiry::LATEST
        } else {
            crate::expiry::EARLIEST
        });
    let mut s = String::with_capacity(29);
    let _ = write!(
        s,
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[t.weekday().number_days_from_monday() as usize],
        t.day(),
        MONTHS[u8::from(t.month()) as usize - 1],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    );
    s
}

/// The `Set-Cookie` value for a session cookie. `max_age` of `None` makes a browser-session
/// cookie (no `expires`, no `Max-Age`). Attributes come in Django's order:
/// `Domain, expires, HttpOnly, Max-Age, Partitioned, Path, SameSite, Secure`.
pub fn set_cookie(
    config: &Config,
    value: &str,
    max_age: Option<i64>,
    now: OffsetDateTime,
) -> String {
    let mut s = String::with_capacity(value.len() + 128);
    s.push_str(config.cookie_name());
    s.push('=');
    s.push_str(value);
    if let Some(domain) = config.cookie_domain() {
        s.push_str("; Domain=");
        s.push_str(domain);
    }
    if let Some(age) = max_age {
        s.push_str("; expires=");
        push_http_date(&mut s, now, age);
    }
    if config.cookie_httponly() {
        s.push_str("; HttpOnly");
    }
    if let Some(age) = max_age {
        s.push_str("; Max-Age=");
        crate::json::push_int(&mut s, age);
    }
    if config.cookie_partitioned() {
        s.push_str("; Partitioned");
    }
    s.push_str("; Path=");
    s.push_str(config.cookie_path());
    push_samesite(&mut s, config.cookie_samesite());
    if config.cookie_secure() {
        s.push_str("; Secure");
    }
    s
}

/// The `Set-Cookie` value that removes the session cookie: empty quoted value, the epoch as
/// `expires`, `Max-Age=0`, and the session cookie's own attributes (Domain, HttpOnly,
/// Partitioned, Path, SameSite, Secure), in Django's order.
///
/// Django's `delete_cookie` leaves out `HttpOnly`, and `Secure` unless the name has a
/// `__Secure-`/`__Host-` prefix or SameSite is `None`. Browsers delete the cookie either
/// way, but a removal cookie weaker than the cookie it removes is what scanners flag, so
/// sessionkit repeats the session cookie's attributes (a deliberate difference, listed in
/// `docs/CONFORMANCE.md`). `Secure` is still sent where Django sends it, even when the
/// session cookie itself is not Secure.
pub fn removal_cookie(config: &Config) -> String {
    let mut s = String::with_capacity(128);
    s.push_str(config.cookie_name());
    s.push_str("=\"\"");
    if let Some(domain) = config.cookie_domain() {
        s.push_str("; Domain=");
        s.push_str(domain);
    }
    s.push_str("; expires=Thu, 01 Jan 1970 00:00:00 GMT");
    if config.cookie_httponly() {
        s.push_str("; HttpOnly");
    }
    s.push_str("; Max-Age=0");
    if config.cookie_partitioned() {
        s.push_str("; Partitioned");
    }
    s.push_str("; Path=");
    s.push_str(config.cookie_path());
    push_samesite(&mut s, config.cookie_samesite());
    let name = config.cookie_name();
    if config.cookie_secure()
        || name.starts_with("__Secure-")
        || name.starts_with("__Host-")
        || config.cookie_samesite() == Some(SameSite::None)
    {
        s.push_str("; Secure");
    }
    s
}

fn push_samesite(s: &mut String, samesite: Option<SameSite>) {
    if let Some(ss) = samesite {
        s.push_str("; SameSite=");
        s.push_str(ss.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn t1() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            http_date(OffsetDateTime::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            http_date(t1() + time::Duration::seconds(1_209_600)),
            "Thu, 15 Jan 2026 00:00:00 GMT"
        );
    }

    /// The per-thread text cache: keyed by the second the date names, so every pair of
    /// (now, age) gives the text computed from scratch, at the range's ends and in any
    /// offset too.
    #[test]
    fn cached_dates_are_the_dates_computed_afresh() {
        let plus14 = time::UtcOffset::from_hms(14, 0, 0).unwrap();
        let minus12 = time::UtcOffset::from_hms(-12, 0, 0).unwrap();
        let last = crate::expiry::LATEST;
        let first = crate::expiry::EARLIEST;
        let cases = [
            (OffsetDateTime::UNIX_EPOCH, i64::MIN),
            (OffsetDateTime::UNIX_EPOCH, i64::MIN + 1),
            (OffsetDateTime::UNIX_EPOCH, i64::MAX),
            (t1(), 0),
            (t1(), 1_209_600),
            (t1().to_offset(plus14), 1_209_600),
            (t1(), -1),
            (last - time::Duration::hours(13), 3600 * 12),
            (
                (last - time::Duration::hours(15)).to_offset(plus14),
                3600 * 12,
            ),
            (last - time::Duration::hours(13), 3600 * 14),
            (
                (first + time::Duration::hours(13)).to_offset(minus12),
                -3600 * 12,
            ),
            (first + time::Duration::hours(13), -3600 * 14),
        ];
        // Twice each, in both orders, so that every case meets a warm cache.
        for (now, age) in cases.iter().chain(cases.iter().rev()).chain(cases.iter()) {
            let mut out = String::new();
            push_http_date(&mut out, *now, *age);
            let fresh = format_http_date(crate::expiry::add_seconds(
                now.to_offset(time::UtcOffset::UTC),
                *age,
            ));
            assert_eq!(out, fresh, "{now} + {age}");
        }
    }

    #[test]
    fn set_cookie_matches_django_defaults() {
        let c = Config::default();
        assert_eq!(
            set_cookie(
                &c,
                "mw3y32ckux19jlnoh27nxqnpzr1j4dt4",
                Some(1_209_600),
                t1()
            ),
            "sessionid=mw3y32ckux19jlnoh27nxqnpzr1j4dt4; expires=Thu, 15 Jan 2026 00:00:00 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"
        );
        assert_eq!(
            set_cookie(&c, "v", None, t1()),
            "sessionid=v; HttpOnly; Path=/; SameSite=Lax"
        );
    }

    /// Django's removal cookie plus the session cookie's HttpOnly and Secure (issue 13,
    /// bug 4: a removal cookie as strong as the cookie it removes).
    #[test]
    fn removal_cookie_matches_django_plus_the_cookies_own_attributes() {
        assert_eq!(
            removal_cookie(&Config::default()),
            "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=Lax"
        );
        let c = Config::builder()
            .cookie_secure(true)
            .cookie_httponly(false)
            .build()
            .unwrap();
        assert_eq!(
            removal_cookie(&c),
            "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax; Secure"
        );
        let c = Config::builder()
            .cookie_domain(".example.local")
            .cookie_path("/example/")
            .build()
            .unwrap();
        assert_eq!(
            removal_cookie(&c),
            "sessionid=\"\"; Domain=.example.local; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/example/; SameSite=Lax"
        );
    }

    #[test]
    fn parsing_follows_python() {
        assert_eq!(find("", "sessionid"), None);
        assert_eq!(find("sessionid", "sessionid"), None);
        assert_eq!(find("sessionid=", "sessionid").as_deref(), Some(""));
        assert_eq!(
            find(" sessionid = abc ; x=1", "sessionid").as_deref(),
            Some("abc")
        );
        assert_eq!(find("sessionid=a=b", "sessionid").as_deref(), Some("a=b"));
        assert_eq!(
            find(r#"sessionid="\101\\""#, "sessionid").as_deref(),
            Some("A\\")
        );
        assert_eq!(find("sessionid=\"", "sessionid").as_deref(), Some("\""));
        assert_eq!(find("sessionid=\"\"", "sessionid").as_deref(), Some(""));
        assert_eq!(find("sessionid=\"\\\"", "sessionid").as_deref(), Some("\\"));
    }

    #[test]
    fn join() {
        assert_eq!(join_header_bytes(Vec::<&[u8]>::new()), None);
        assert_eq!(join_header_bytes([&b"a=1"[..]]).as_deref(), Some("a=1"));
        assert_eq!(
            join_header_bytes([&b"a=1"[..], b"b=2", b"c=3"]).as_deref(),
            Some("a=1; b=2; c=3")
        );
    }
}
