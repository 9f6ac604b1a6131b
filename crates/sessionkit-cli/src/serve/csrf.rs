//! CSRF protection for the demo's HTML forms, on the library's Django-compatible rules
//! (`sessionkit_django::csrf`, Django's `CSRF_USE_SESSIONS = True`), in two layers:
//!
//! 1. **`Sec-Fetch-Site`** (stateless, like Go 1.25's `CrossOriginProtection`): a POST
//!    the browser labels `cross-site` or `same-site` is refused unless its `Origin` is in
//!    the trusted origins (Django's `CSRF_TRUSTED_ORIGINS`; the demo trusts none). This
//!    also stops *login* CSRF before any session exists.
//! 2. **Django's checks** ([`CsrfConfig::check`]): the `Origin` (or, over HTTPS, the
//!    `Referer`) against the request's host and the trusted origins, then the masked
//!    64-character token of the hidden field `csrfmiddlewaretoken` (or the `X-CSRFToken`
//!    header) against the 32-character secret under `_csrftoken` in the session. Tokens
//!    rendered by a Django app on the same sessions are accepted, and the demo's tokens by
//!    Django. Rendering a form starts a session, as in Django; pages without forms never
//!    do. Login replaces the secret (Django's `rotate_token`), logout flushes it with the
//!    session.
//!
//! The demo checks inside its handlers (after parsing the form) rather than through the
//! library's `CsrfLayer`, so that a refusal is its own HTML error page.

use axum::http::{HeaderMap, header};
use sessionkit_core::{Session, SessionError};
use sessionkit_django::csrf::{CsrfConfig, CsrfRequest, Reason, get_token, session_secret};

/// Why a POST was refused (always 403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The request came from another site.
    CrossOrigin,
    /// The form carried no token.
    Missing,
    /// The session holds no secret (new, expired or revoked session).
    NoSessionToken,
    /// The token does not match the session's secret.
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

impl From<&Reason> for Refusal {
    fn from(reason: &Reason) -> Refusal {
        match reason {
            Reason::NoSecret => Refusal::NoSessionToken,
            Reason::TokenMissing => Refusal::Missing,
            Reason::BadTokenFormat { .. } | Reason::Incorrect { .. } => Refusal::Mismatch,
            _ => Refusal::CrossOrigin,
        }
    }
}

/// A masked token for the session's secret (Django's `get_token`), storing a new secret
/// if the session has none.
pub(crate) fn token(session: &Session) -> Result<String, SessionError> {
    get_token(session)
}

/// Stores a new secret (Django's `rotate_token`): every token rendered before is void.
pub(crate) fn rotate(session: &Session) -> Result<(), SessionError> {
    sessionkit_django::csrf::rotate_secret(session)
}

/// The demo's configuration: Django's defaults (no trusted origins).
fn config() -> CsrfConfig {
    CsrfConfig::new()
}

fn text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks a form POST: `Sec-Fetch-Site`, then Django's origin and token rules.
pub(crate) fn verify(
    headers: &HeaderMap,
    session: &Session,
    sent: Option<&str>,
) -> Result<(), Refusal> {
    let config = config();
    let origin = text(headers, header::ORIGIN);
    if let Some(site) = text(headers, "sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
        && !origin.is_some_and(|o| config.is_trusted_origin(o))
    {
        return Err(Refusal::CrossOrigin);
    }
    let request = CsrfRequest {
        method: "POST",
        secure: false,
        host: text(headers, header::HOST),
        origin,
        referer: text(headers, header::REFERER),
        form_token: sent,
        header_token: text(headers, config.header_name()),
    };
    config
        .check(&request, session_secret(session).as_deref())
        .map_err(|reason| Refusal::from(&reason))
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
        let s = Session::detached();
        let t = token(&s).unwrap();
        let check = |pairs: &[(&'static str, &'static str)]| verify(&headers(pairs), &s, Some(&t));
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(check(&[("sec-fetch-site", "same-origin")]), Ok(()));
        assert_eq!(
            check(&[("sec-fetch-site", "cross-site")]),
            Err(Refusal::CrossOrigin)
        );
        assert_eq!(
            check(&[("sec-fetch-site", "same-site")]),
            Err(Refusal::CrossOrigin)
        );
        let ok = [
            ("origin", "http://127.0.0.1:8000"),
            ("host", "127.0.0.1:8000"),
        ];
        assert_eq!(check(&ok), Ok(()));
        let evil = [
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:8000"),
        ];
        assert_eq!(check(&evil), Err(Refusal::CrossOrigin));
        assert_eq!(check(&[("origin", "null")]), Err(Refusal::CrossOrigin));
    }

    #[test]
    fn token_round_trip() {
        let s = Session::detached();
        let none = HeaderMap::new();
        assert_eq!(verify(&none, &s, Some("x")), Err(Refusal::NoSessionToken));
        let t = token(&s).unwrap();
        assert_eq!(t.len(), 64, "Django's masked token");
        assert_ne!(token(&s).unwrap(), t, "masked anew on every page");
        assert_eq!(verify(&none, &s, Some(&t)), Ok(()));
        assert_eq!(verify(&none, &s, None), Err(Refusal::Missing));
        assert_eq!(verify(&none, &s, Some("nope")), Err(Refusal::Mismatch));
        rotate(&s).unwrap();
        assert_eq!(verify(&none, &s, Some(&t)), Err(Refusal::Mismatch));
    }
}
