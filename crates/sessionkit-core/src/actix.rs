//! The engine's answers in actix-web's types (actix-web 4 uses `http` 0.2 and its own
//! header map): the one place they are rendered for actix-web, and the extractors, which
//! live here because the orphan rule forbids implementing actix's `FromRequest` for
//! `Session` in any other crate. `sessionkit-actix`'s middleware, the extractors and
//! `LoadError`'s `ResponseError` all call [`failure_response`], so a store outage looks
//! the same whichever of them met it.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::cookie::{join_header_bytes, merge_vary};
use crate::engine::{Engine, Failure, LoadError, Outcome, RequestSession};
use crate::session::{Session, SessionError};

crate::header_entry_points!(get_all: [], cookie: header::COOKIE);

/// The response for a [`Failure`]: its status, a plain-text body, `Retry-After` when set,
/// and `Vary` naming `vary` (the request headers the session came from, when the session
/// was accessed; none for a failed load).
pub fn failure_response<'a>(
    failure: &Failure,
    vary: impl IntoIterator<Item = &'a str>,
) -> HttpResponse {
    let mut res = HttpResponse::build(
        StatusCode::from_u16(failure.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
    );
    res.content_type("text/plain; charset=utf-8");
    let mut res = res.body(failure.message);
    if let Some(secs) = failure.retry_after {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    for name in vary {
        patch_vary(res.headers_mut(), name);
    }
    res
}

/// Applies a successful outcome's `Set-Cookie` values, session header and `Vary` to a
/// response's headers (a failed outcome is answered with [`failure_response`] instead).
pub fn apply_headers(outcome: Outcome, headers: &mut HeaderMap) {
    for name in outcome.vary_names() {
        patch_vary(headers, name);
    }
    for c in outcome.set_cookie {
        match HeaderValue::try_from(c) {
            Ok(v) => headers.append(header::SET_COOKIE, v),
            Err(e) => tracing::error!(error = %e, "session cookie is not a valid header value"),
        }
    }
    if let Some(h) = outcome.session_header {
        match (
            header::HeaderName::try_from(&*h.name),
            HeaderValue::try_from(h.value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            _ => tracing::error!("session header is not a valid header"),
        }
    }
}

/// Adds `name` to `Vary` (merged as Django does). The common case — `Cookie` on a
/// response without `Vary` — takes a static value: no text built, none checked.
fn patch_vary(headers: &mut HeaderMap, name: &str) {
    if name == "Cookie" && !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
        return;
    }
    let merged = merge_vary(
        headers
            .get_all(header::VARY)
            .filter_map(|v| v.to_str().ok()),
        name,
    );
    if let Some(v) = merged.and_then(|v| HeaderValue::try_from(v).ok()) {
        headers.insert(header::VARY, v);
    }
}

impl ResponseError for LoadError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }

    /// The error's [`Failure`]: a 503 with the configured `Retry-After`.
    fn error_response(&self) -> HttpResponse {
        failure_response(self.failure(), [])
    }
}

/// A 500 with the plain-text `body`: what a programming error or a failure whose details
/// go to the log (not to the client) answers, here and in `sessionkit-actix`.
pub fn internal_error(body: &'static str) -> HttpResponse {
    HttpResponse::InternalServerError()
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

impl ResponseError for SessionError {
    /// A 500 with a generic body; the details go to the log, not to the client.
    fn error_response(&self) -> HttpResponse {
        tracing::error!(error = %self, "session error in handler");
        internal_error("Internal Server Error")
    }
}

/// The session middleware is not installed on this route (a programming error: 500).
#[derive(Debug, thiserror::Error)]
#[error("the session middleware is not installed on this route")]
struct MissingMiddleware;

impl ResponseError for MissingMiddleware {
    fn error_response(&self) -> HttpResponse {
        tracing::error!("Session extractor used on a route without SessionMiddleware");
        internal_error("Session middleware missing.")
    }
}

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Session, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let rs = req.extensions().get::<RequestSession>().cloned();
        Box::pin(async move {
            let rs = rs.ok_or(MissingMiddleware)?;
            Ok(rs.load().await?)
        })
    }
}

impl FromRequest for RequestSession {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<RequestSession, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<RequestSession>()
                .cloned()
                .ok_or_else(|| MissingMiddleware.into()),
        )
    }
}
