//! HTTP/1.1 on the wire, as little of it as the benchmark needs: a `GET` request written
//! into a reusable buffer, and a response parsed in place from the bytes read so far.
//!
//! The load generator shares the machine with the server it measures, so every
//! microsecond it spends is one the server does not get. It therefore speaks HTTP itself
//! (no client library, no task per connection, a request's bytes built once per cookie) and leaves the
//! CPU to the servers under test. Responses may carry a `Content-Length` or be chunked;
//! anything else (an upgrade, a body that ends at close) is reported as malformed.

use std::ops::Range;

/// Most response headers a benchmark server sends; more is malformed.
const MAX_HEADERS: usize = 32;

/// The `User-Agent` every request sends: a desktop browser's, as real visits carry one
/// (servers that record client info read it; `bench/wrk/visits.lua` sends the same).
pub const USER_AGENT: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";

/// Writes `GET path HTTP/1.1` with `Host`, [`USER_AGENT`] and, if given, `Cookie` into
/// `out` (cleared first).
///
/// ```
/// use sessionkit_loadgen::wire::{USER_AGENT, request};
///
/// let mut out = Vec::new();
/// request(&mut out, "/", "127.0.0.1:8000", Some("a=1"));
/// let expected = format!(
///     "GET / HTTP/1.1\r\nhost: 127.0.0.1:8000\r\nuser-agent: {USER_AGENT}\r\ncookie: a=1\r\n\r\n"
/// );
/// assert_eq!(out, expected.as_bytes());
/// ```
pub fn request(out: &mut Vec<u8>, path: &str, host: &str, cookie: Option<&str>) {
    out.clear();
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nuser-agent: ");
    out.extend_from_slice(USER_AGENT.as_bytes());
    out.extend_from_slice(b"\r\n");
    if let Some(c) = cookie {
        out.extend_from_slice(b"cookie: ");
        out.extend_from_slice(c.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A complete response, as ranges into the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Each `Set-Cookie` value.
    pub set_cookies: Vec<Range<usize>>,
    /// The body (for a chunked response: where the decoded body was copied, see
    /// [`Parsed::Complete`]).
    pub body: Range<usize>,
    /// Whether the server will close the connection after this response.
    pub close: bool,
}

/// The result of [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Partial,
    /// A whole response, which used the first `len` bytes of the buffer. A chunked body
    /// is decoded into the `chunked` vector passed to [`parse`] and `body` indexes that.
    Complete {
        /// The response.
        response: Response,
        /// How many bytes of the buffer it took.
        len: usize,
        /// Whether `body` indexes the decoded chunked body rather than the buffer.
        chunked: bool,
    },
    /// Not a response this client understands.
    Malformed(String),
}

/// Parses one response from the start of `buf`; a chunked body is decoded into
/// `chunked_body` (cleared first).
///
/// ```
/// use sessionkit_loadgen::wire::{Parsed, parse};
///
/// let buf = b"HTTP/1.1 200 OK\r\nset-cookie: id=x; Path=/\r\ncontent-length: 2\r\n\r\nhi";
/// let Parsed::Complete { response, len, chunked } = parse(buf, &mut Vec::new()) else {
///     panic!("a whole response")
/// };
/// assert_eq!((response.status, len, chunked), (200, buf.len(), false));
/// assert_eq!(&buf[response.body], b"hi");
/// assert_eq!(&buf[response.set_cookies[0].clone()], b"id=x; Path=/");
/// assert_eq!(parse(&buf[..20], &mut Vec::new()), Parsed::Partial);
/// ```
pub fn parse(buf: &[u8], chunked_body: &mut Vec<u8>) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let head_len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(e) => return Parsed::Malformed(format!("bad response head: {e}")),
    };
    let Some(status) = res.code else {
        return Parsed::Malformed("no status code".to_owned());
    };
    let base = buf.as_ptr() as usize;
    let mut set_cookies = Vec::new();
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut close = res.version == Some(0);
    for h in res.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("set-cookie") {
            let start = h.value.as_ptr() as usize - base;
            set_cookies.push(start..start + h.value.len());
        } else if name.eq_ignore_ascii_case("content-length") {
            let parsed = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
            match parsed {
                Some(n) => length = Some(n),
                None => return Parsed::Malformed("bad content-length".to_owned()),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h.value.eq_ignore_ascii_case(b"chunked");
            if !chunked {
                return Parsed::Malformed("unsupported transfer-encoding".to_owned());
            }
        } else if name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    // 1xx, 204 and 304 have no body.
    let bodiless = status < 200 || status == 204 || status == 304;
    let (body, len) = if bodiless {
        (head_len..head_len, head_len)
    } else if chunked {
        match dechunk(&buf[head_len..], chunked_body) {
            Ok(Some(used)) => (0..chunked_body.len(), head_len + used),
            Ok(None) => return Parsed::Partial,
            Err(e) => return Parsed::Malformed(e),
        }
    } else if let Some(n) = length {
        if buf.len() < head_len + n {
            return Parsed::Partial;
        }
        (head_len..head_len + n, head_len + n)
    } else {
        return Parsed::Malformed("a body without content-length or chunking".to_owned());
    };
    Parsed::Complete {
        response: Response {
            status,
            set_cookies,
            body,
            close,
        },
        len,
        chunked: chunked && !bodiless,
    }
}

/// Decodes a chunked body from `buf` into `out`; `Ok(None)` if incomplete, else the bytes
/// used (trailers included).
fn dechunk(buf: &[u8], out: &mut Vec<u8>) -> Result<Option<usize>, String> {
    out.clear();
    let mut at = 0;
    loop {
        let Some(eol) = find_crlf(&buf[at..]) else {
            return Ok(None);
        };
        let line = &buf[at..at + eol];
        let size_hex = line.split(|&b| b == b';').next().unwrap_or_default();
        let size = std::str::from_utf8(size_hex)
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .ok_or_else(|| "bad chunk size".to_owned())?;
        at += eol + 2;
        if size == 0 {
            // Trailers, each ending in CRLF, then an empty line.
            loop {
                let Some(eol) = find_crlf(&buf[at..]) else {
                    return Ok(None);
                };
                at += eol + 2;
                if eol == 0 {
                    return Ok(Some(at));
                }
            }
        }
        let end = at
            .checked_add(size)
            .filter(|&e| e < usize::MAX - 2)
            .ok_or_else(|| "chunk size too large".to_owned())?;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&buf[at..end]);
        if &buf[end..end + 2] != b"\r\n" {
            return Err("chunk not followed by CRLF".to_owned());
        }
        at = end + 2;
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (Response, usize, bool, Vec<u8>) {
        let mut decoded = Vec::new();
        match parse(buf, &mut decoded) {
            Parsed::Complete {
                response,
                len,
                chunked,
            } => (response, len, chunked, decoded),
            other => panic!("expected a complete response, got {other:?}"),
        }
    }

    #[test]
    fn request_without_cookie() {
        let mut out = b"left over".to_vec();
        request(&mut out, "/x?y=1", "h:1", None);
        let expected =
            format!("GET /x?y=1 HTTP/1.1\r\nhost: h:1\r\nuser-agent: {USER_AGENT}\r\n\r\n");
        assert_eq!(out, expected.as_bytes());
    }

    #[test]
    fn several_set_cookies_and_a_second_response_behind() {
        let buf = b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nvary: Cookie\r\nSET-COOKIE: b=2; Max-Age=0\r\ncontent-length: 15\r\n\r\nVisit count: 12HTTP/1.1 200";
        let (r, len, chunked, _) = complete(buf);
        assert_eq!(r.status, 200);
        assert!(!chunked && !r.close);
        assert_eq!(&buf[r.body.clone()], b"Visit count: 12");
        let cookies: Vec<&[u8]> = r.set_cookies.iter().map(|c| &buf[c.clone()]).collect();
        assert_eq!(cookies, [&b"a=1"[..], &b"b=2; Max-Age=0"[..]]);
        assert_eq!(&buf[len..], b"HTTP/1.1 200");
    }

    #[test]
    fn partial_until_the_whole_body_is_there() {
        let buf = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 5\r\nconnection: close\r\n\r\nbusy!";
        for cut in 0..buf.len() {
            assert_eq!(
                parse(&buf[..cut], &mut Vec::new()),
                Parsed::Partial,
                "{cut}"
            );
        }
        let (r, len, _, _) = complete(buf);
        assert_eq!((r.status, len, r.close), (503, buf.len(), true));
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let buf = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nVisit \r\n8;ext=1\r\ncount: 3\r\n0\r\nx-trailer: t\r\n\r\nNEXT";
        let (r, len, chunked, decoded) = complete(buf);
        assert!(chunked);
        assert_eq!(&decoded[r.body], b"Visit count: 3");
        assert_eq!(&buf[len..], b"NEXT");
        let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nVis";
        assert_eq!(parse(head, &mut Vec::new()), Parsed::Partial);
    }

    #[test]
    fn malformed_responses_are_named() {
        for bad in [
            &b"HTTP/1.1 abc\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\nbody until close",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffff\r\nx",
        ] {
            assert!(
                matches!(parse(bad, &mut Vec::new()), Parsed::Malformed(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bodiless_statuses_and_http_1_0() {
        let (r, len, _, _) = complete(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((r.status, r.body.len(), len), (204, 0, 27));
        let (r, _, _, _) = complete(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert!(r.close);
    }
}
