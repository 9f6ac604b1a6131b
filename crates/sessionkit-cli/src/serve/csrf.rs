//! CSRF protection for the demo's HTML forms, in two layers:
//!
//! 1. **Origin check** (stateless, like Go 1.25's `CrossOriginProtection`): a POST whose
//!    `Sec-Fetch-Site` says `cross-site` or `same-site`, or (without that header) whose
//!    `Origin` is not this server's `Host`, is refused. This also stops *login* CSRF, where
//!    the victim has no session yet.
//! 2. **A token kept in the session** (Django's `CSRF_USE_SESSIONS = True`): a form page
//!    stores a random token under [`TOKEN_KEY`] and puts it in the hidden field
//!    `csrfmiddlewaretoken` (Django's name); the POST must
//!    send it back. Rendering a form therefore starts a session, as in Django; pages
//!    without forms never do. Login replaces the token (Django's `rotate_token`), logout
//!    flushes it with the session.

use axum::http::{HeaderMap, header};
use rand::RngExt as _;
use sessionkit_core::{Session, SessionError};

/// The session key the token is stored under.
pub(crate) const TOKEN_KEY: &str = "_csrftoken";

/// Why a POST was refused (always 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request came from another site.
    CrossOrigin,
    /// The form carried no token.
    Missing,
    /// The session holds no token (new, expired or revoked session).
    NoSessionToken,
    /// The tokens differ.
    Mismatch,
}

impl Refusal {
    /// A message for the person who submitted the form.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::CrossOrigin => {
                "This form was submitted from another site, so it was refused (CSRF protection)."
            }
            Refusal::Missing => {
                "The form carried no CSRF token. Reload the page and submit the form again."
            }
            Refusal::NoSessionToken => {
                "Your session has no CSRF token: it expired, was revoked or was never started. Reload the page and submit the form again."
            }
            Refusal::Mismatch => {
                "The form's CSRF token does not match your session's. Reload the page and submit the form again."
            }
        }
    }
}

/// The session's token, creating (and storing) one if it has none.
pub(crate) fn token(session: &Session) -> Result<String, SessionError> {
    if let Some(t) = session.get::<String>(TOKEN_KEY).ok().flatten() {
        return Ok(t);
    }
    rotate(session)
}

/// Stores a new token and returns it.
pub(crate) fn rotate(session: &Session) -> Result<String, SessionError> {
    let mut bytes = [0u8; 24];
    rand::rng().fill(&mut bytes);
    let t: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    session.insert(TOKEN_KEY, &t)?;
    Ok(t)
}

/// Checks a form POST: its origin, then its token against the session's.
pub(crate) fn verify(
    headers: &HeaderMap,
    session: &Session,
    sent: Option<&str>,
) -> Result<(), Refusal> {
    if !same_origin(headers) {
        return Err(Refusal::CrossOrigin);
    }
    let sent = sent.filter(|s| !s.is_empty()).ok_or(Refusal::Missing)?;
    let stored = session
        .get::<String>(TOKEN_KEY)
        .ok()
        .flatten()
        .ok_or(Refusal::NoSessionToken)?;
    if constant_time_eq(sent.as_bytes(), stored.as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::Mismatch)
    }
}

/// `Sec-Fetch-Site` when the browser sends it (all current ones do), else `Origin` against
/// `Host`. A request with neither (curl, old browsers) passes here and still needs the token.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        return matches!(site, "same-origin" | "none");
    }
    match (text(header::ORIGIN), text(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        (Some(_), None) => false,
    }
}

/// Compares without an early exit, so the time taken says nothing about where the tokens
/// differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origin_rules() {
        assert!(same_origin(&headers(&[])));
        assert!(same_origin(&headers(&[("sec-fetch-site", "same-origin")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "same-site")])));
        let ok = [
            ("origin", "http://127.0.0.1:8000"),
            ("host", "127.0.0.1:8000"),
        ];
        assert!(same_origin(&headers(&ok)));
        let evil = [
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8000"),
        ];
        assert!(!same_origin(&headers(&evil)));
        assert!(!same_origin(&headers(&[("origin", "null")])));
    }

    #[test]
    fn token_round_trip() {
        let s = Session::detached();
        let none = HeaderMap::new();
        assert_eq!(verify(&none, &s, Some("x")), Err(Refusal::NoSessionToken));
        let t = token(&s).unwrap();
        assert_eq!(t.len(), 48);
        assert_eq!(token(&s).unwrap(), t, "stable until rotated");
        assert_eq!(verify(&none, &s, Some(&t)), Ok(()));
        assert_eq!(verify(&none, &s, None), Err(Refusal::Missing));
        assert_eq!(verify(&none, &s, Some("nope")), Err(Refusal::Mismatch));
        let t2 = rotate(&s).unwrap();
        assert_ne!(t, t2);
        assert_eq!(verify(&none, &s, Some(&t)), Err(Refusal::Mismatch));
    }
}
