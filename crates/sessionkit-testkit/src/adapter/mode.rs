//! How the suite's client carries the session id: [`Mode`].

use sessionkit_core::{Config, ConfigBuilder, Transport};

use super::Server;
use crate::http::{Response, send};

/// The removal cookie under the default configuration.
pub const REMOVAL: &str = "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=Lax";

/// How the suite's client carries the session id, and so how the engine under test is
/// configured ([`Transport`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The session cookie (the default transport).
    Cookie,
    /// A session header of this name, no cookie.
    Header(&'static str),
    /// The cookie and a header of this name; the client sends the header.
    Both(&'static str),
}

impl Mode {
    /// A configuration builder with this transport.
    pub fn config(self) -> ConfigBuilder {
        let b = Config::builder();
        match self {
            Mode::Cookie => b,
            Mode::Header(h) => b.transport(Transport::Header(h.to_owned())),
            Mode::Both(h) => b.transport(Transport::Both(h.to_owned())),
        }
    }

    pub(crate) fn header(self) -> Option<&'static str> {
        match self {
            Mode::Cookie => None,
            Mode::Header(h) | Mode::Both(h) => Some(h),
        }
    }

    /// The request headers carrying `id`.
    pub(crate) fn carry(self, id: Option<&str>) -> Vec<(&'static str, String)> {
        match (id, self.header()) {
            (None, _) => Vec::new(),
            (Some(id), Some(h)) => vec![(h, id.to_owned())],
            (Some(id), None) => vec![("Cookie", format!("sessionid={id}"))],
        }
    }

    /// `GET path` carrying `id`.
    pub(crate) async fn get(self, server: &Server, path: &str, id: Option<&str>) -> Response {
        let headers = self.carry(id);
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        send(&server.addr, path, &refs).await
    }

    /// The id the response hands out, if any (a new or refreshed session).
    pub(crate) fn issued(self, res: &Response) -> Option<String> {
        let from_cookie = || {
            res.set_cookies()
                .into_iter()
                .filter(|c| !c.contains("Max-Age=0"))
                .find_map(|c| c.split(';').next()?.strip_prefix("sessionid="))
                .map(str::to_owned)
        };
        match self {
            Mode::Cookie => from_cookie(),
            Mode::Header(h) => res.header(h).filter(|v| !v.is_empty()).map(str::to_owned),
            Mode::Both(h) => {
                let header = res.header(h).filter(|v| !v.is_empty()).map(str::to_owned);
                assert_eq!(
                    header,
                    from_cookie(),
                    "both transports carry the same id: {res:?}"
                );
                header
            }
        }
    }

    /// The id the response hands out; panics if there is none.
    pub(crate) fn id(self, res: &Response) -> String {
        self.issued(res)
            .unwrap_or_else(|| panic!("a session id was expected: {res:?}"))
    }

    /// Whether the response withdraws the client's id (the removal cookie, an empty header).
    pub(crate) fn ended(self, res: &Response) -> bool {
        let cookie = res.set_cookies() == vec![REMOVAL];
        let header = self.header().map(|h| res.header(h) == Some(""));
        match self {
            Mode::Cookie => cookie,
            Mode::Header(_) => header == Some(true) && res.set_cookies().is_empty(),
            Mode::Both(_) => cookie && header == Some(true),
        }
    }

    /// Whether the response says nothing about the session id.
    pub(crate) fn silent(self, res: &Response) -> bool {
        res.set_cookies().is_empty() && self.header().is_none_or(|h| res.header(h).is_none())
    }

    /// The `Vary` of a response whose session was accessed.
    pub(crate) fn vary(self) -> String {
        match self {
            Mode::Cookie => "Cookie".to_owned(),
            Mode::Header(h) => h.to_owned(),
            Mode::Both(h) => format!("Cookie, {h}"),
        }
    }
}
