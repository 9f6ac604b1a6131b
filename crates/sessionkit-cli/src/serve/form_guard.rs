//! The demo's form protection: the library's CSRF middleware ([`CsrfLayer`], Django's
//! rules under `CSRF_USE_SESSIONS = True`: the origin, then the masked token of the field
//! `csrfmiddlewaretoken` or the `X-CSRFToken` header against the secret under
//! `_csrftoken`), behind the demo's own stateless checks, with every refusal shown as the
//! demo's HTML error page. Tokens rendered by a Django app on the same sessions are
//! accepted, and the demo's tokens by Django.
//!
//! In front of the library's layer, [`guard`] keeps two checks of the demo:
//!
//! 1. **`Sec-Fetch-Site`** (like Go 1.25's `CrossOriginProtection`): a POST the browser
//!    labels `cross-site` or `same-site` is refused unless its `Origin` is one of the
//!    trusted origins ([`CsrfConfig::is_trusted_origin`], Django's
//!    `CSRF_TRUSTED_ORIGINS`; the demo trusts none). It needs no session, so it refuses a
//!    cross-site form before any secret exists (login CSRF).
//! 2. **The body limit** (`--max-body-bytes`): a larger form is a 413 page before the
//!    layer reads it.
//!
//! The layer's own refusals (403, and 413 past its body limit) are plain text; [`guard`]
//! turns them into the demo's error page.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sessionkit_django::csrf::{CsrfConfig, Reason, is_safe_method};
use sessionkit_tower::CsrfLayer;

use super::pages::PageError;

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
    const ALL: [Refusal; 4] = [
        Refusal::CrossOrigin,
        Refusal::Missing,
        Refusal::NoSessionToken,
        Refusal::Mismatch,
    ];

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

/// The demo's CSRF settings: Django's defaults (no trusted origins); the 403's text is the
/// demo's message for the reason.
fn config() -> CsrfConfig {
    CsrfConfig::new().with_failure_body(|reason| Refusal::from(reason).message().to_owned())
}

/// The library's CSRF middleware with the demo's settings, for the form routes.
pub(super) fn csrf_layer() -> CsrfLayer {
    CsrfLayer::new(config())
}

/// [`guard`]'s settings.
#[derive(Clone)]
pub(super) struct Guard {
    config: CsrfConfig,
    max_body_bytes: usize,
}

impl Guard {
    /// The demo's checks, forms over `max_body_bytes` refused (413).
    pub(super) fn new(max_body_bytes: usize) -> Guard {
        Guard {
            config: config(),
            max_body_bytes,
        }
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the browser says the request came from another site whose origin is not
/// trusted.
fn cross_site(config: &CsrfConfig, headers: &HeaderMap) -> bool {
    let origin = text(headers, header::ORIGIN.as_str());
    text(headers, "sec-fetch-site").is_some_and(|site| !matches!(site, "same-origin" | "none"))
        && !origin.is_some_and(|o| config.is_trusted_origin(o))
}

/// Middleware outside [`csrf_layer`]: the `Sec-Fetch-Site` check and the body limit on
/// unsafe methods, then the layer and the handler; the layer's plain-text refusals come
/// back as the demo's error page.
pub(super) async fn guard(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    if !is_safe_method(req.method().as_str()) {
        if cross_site(&guard.config, req.headers()) {
            return PageError::Csrf(Refusal::CrossOrigin).into_response();
        }
        let declared = text(req.headers(), header::CONTENT_LENGTH.as_str())
            .and_then(|n| n.parse::<u64>().ok());
        if declared.is_some_and(|n| n > guard.max_body_bytes as u64) {
            return PageError::TooLarge.into_response();
        }
    }
    let max = guard.max_body_bytes;
    let req = req.map(|body| Body::new(http_body_util::Limited::new(body, max)));
    let res = next.run(req).await;
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/plain"));
    match res.status() {
        StatusCode::PAYLOAD_TOO_LARGE if plain => PageError::TooLarge.into_response(),
        StatusCode::FORBIDDEN if plain => {
            let body = axum::body::to_bytes(res.into_body(), 4096)
                .await
                .unwrap_or_default();
            let refusal = Refusal::ALL
                .into_iter()
                .find(|r| body == r.message().as_bytes())
                .unwrap_or(Refusal::CrossOrigin);
            PageError::Csrf(refusal).into_response()
        }
        _ => res,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use sessionkit_core::Session;
    use sessionkit_django::csrf::{CsrfRequest, get_token, rotate_secret, session_secret};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn sec_fetch_site() {
        let c = config();
        assert!(!cross_site(&c, &headers(&[])));
        assert!(!cross_site(
            &c,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(!cross_site(&c, &headers(&[("sec-fetch-site", "none")])));
        assert!(cross_site(
            &c,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(cross_site(&c, &headers(&[("sec-fetch-site", "same-site")])));
        let trusted = CsrfConfig::new().with_trusted_origins(["https://www.example.com"]);
        let sibling = headers(&[
            ("sec-fetch-site", "same-site"),
            ("origin", "https://www.example.com"),
        ]);
        assert!(!cross_site(&trusted, &sibling));
        assert!(cross_site(&c, &sibling));
    }

    /// The refusal messages the layer writes, for each of Django's reasons.
    #[test]
    fn refusals() {
        let c = config();
        let s = Session::detached();
        let check = |token: Option<&str>| {
            let req = CsrfRequest {
                method: "POST",
                secure: false,
                host: Some("127.0.0.1:8000"),
                origin: None,
                referer: None,
                form_token: token,
                header_token: None,
            };
            c.check(&req, session_secret(&s).as_deref())
                .map_err(|r| c.failure_body(&r))
        };
        assert_eq!(
            check(Some("x")),
            Err(Refusal::NoSessionToken.message().into())
        );
        let t = get_token(&s).unwrap();
        assert_eq!(check(Some(&t)), Ok(()));
        assert_eq!(check(None), Err(Refusal::Missing.message().into()));
        assert_eq!(check(Some("nope")), Err(Refusal::Mismatch.message().into()));
        rotate_secret(&s).unwrap();
        assert_eq!(check(Some(&t)), Err(Refusal::Mismatch.message().into()));
        let evil = Reason::BadOrigin("http://evil.example".into());
        assert_eq!(c.failure_body(&evil), Refusal::CrossOrigin.message());
    }
}
