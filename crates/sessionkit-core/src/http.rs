//! The engine's answers in `http` 1 types (tower, axum, hyper and anything built on them):
//! the one place they are rendered for these frameworks. `sessionkit-tower`'s middleware,
//! the axum extractors and `LoadError`'s `IntoResponse` all call it, so a store outage
//! looks the same whichever of them met it. An adapter for another `http` 1 framework
//! needs nothing else:
//!
//! ```
//! use http::{Request, Response};
//! use sessionkit_core::{Config, Engine, MemoryStore};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let engine = Engine::new(MemoryStore::new(), Config::default());
//! let req = Request::get("/").body(()).unwrap();
//!
//! // Before the handler: the cookie header(s) (or the session header) in, a lazy session
//! // out (no I/O).
//! let rs = sessionkit_core::http::begin(&engine, req.headers());
//! rs.load().await.unwrap().insert("count", 1).unwrap();
//!
//! // After the handler: apply the outcome to its response.
//! let mut res: Response<String> = Response::new("Visit count: 1".into());
//! sessionkit_core::http::apply(rs.finish(res.status().as_u16()).await, &mut res);
//! assert!(res.headers().contains_key(http::header::SET_COOKIE));
//! assert_eq!(res.headers()[http::header::VARY], "Cookie");
//! # }
//! ```

use std::borrow::Cow;

use http::header::{CONTENT_TYPE, COOKIE, HeaderName, HeaderValue, RETRY_AFTER, SET_COOKIE, VARY};
use http::{HeaderMap, Response, StatusCode};

use crate::cookie::{join_header_bytes, merge_vary};
use crate::engine::{Engine, Failure, Outcome, RequestSession};

crate::header_entry_points!(get_all: [.iter()], cookie: COOKIE);

/// Applies the engine's outcome to the handler's response: the `Set-Cookie` values, the
/// session header and `Vary`, or — when the session could not be saved — the [`Failure`]
/// response in its place.
pub fn apply<B: From<String>>(outcome: Outcome, res: &mut Response<B>) {
    if let Some(failure) = &outcome.failure {
        *res = failure_response(failure, outcome.vary_names());
        return;
    }
    let headers = res.headers_mut();
    for name in outcome.vary_names() {
        patch_vary(headers, name);
    }
    for c in outcome.set_cookie {
        match HeaderValue::try_from(c) {
            Ok(v) => {
                headers.append(SET_COOKIE, v);
            }
            Err(e) => tracing::error!(error = %e, "session cookie is not a valid header value"),
        }
    }
    if let Some(h) = outcome.session_header {
        match (
            HeaderName::try_from(&*h.name),
            HeaderValue::try_from(h.value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            _ => tracing::error!("session header is not a valid header"),
        }
    }
}

/// The response for a [`Failure`]: its status, a plain-text body, `Retry-After` when set,
/// and `Vary` naming `vary` (the request headers the session came from, when the session
/// was accessed; none for a failed load).
pub fn failure_response<'a, B: From<String>>(
    failure: &Failure,
    vary: impl IntoIterator<Item = &'a str>,
) -> Response<B> {
    let mut res = Response::new(B::from(failure.message.to_owned()));
    *res.status_mut() =
        StatusCode::from_u16(failure.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(secs) = failure.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    for name in vary {
        patch_vary(headers, name);
    }
    res
}

/// Adds `name` to `Vary` (merged as Django does). The common case — `Cookie` on a
/// response without `Vary` — takes a static value: no text built, none checked.
fn patch_vary(headers: &mut HeaderMap, name: &str) {
    if name == "Cookie" && !headers.contains_key(VARY) {
        headers.insert(VARY, HeaderValue::from_static("Cookie"));
        return;
    }
    let merged = merge_vary(
        headers.get_all(VARY).iter().filter_map(|v| v.to_str().ok()),
        name,
    );
    if let Some(v) = merged.and_then(|v| HeaderValue::try_from(v).ok()) {
        headers.insert(VARY, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_merges() {
        let mut h = HeaderMap::new();
        patch_vary(&mut h, "Cookie");
        assert_eq!(h[VARY], "Cookie");
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        patch_vary(&mut h, "Cookie");
        assert_eq!(h[VARY], "Accept-Encoding, Cookie");
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("accept, COOKIE"));
        patch_vary(&mut h, "Cookie");
        assert_eq!(h[VARY], "accept, COOKIE");
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("*"));
        patch_vary(&mut h, "Cookie");
        assert_eq!(h[VARY], "*");
        let mut h = HeaderMap::new();
        h.append(VARY, HeaderValue::from_static("Accept"));
        h.append(VARY, HeaderValue::from_static("Origin"));
        patch_vary(&mut h, "Cookie");
        patch_vary(&mut h, "X-Session-Id");
        assert_eq!(h[VARY], "Accept, Origin, Cookie, X-Session-Id");
    }

    #[test]
    fn cookie_headers_join() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1"));
        h.append(COOKIE, HeaderValue::from_static("sessionid=abc"));
        assert_eq!(cookie_header(&h).as_deref(), Some("a=1; sessionid=abc"));
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_bytes(b"a=\xff").unwrap());
        h.append(COOKIE, HeaderValue::from_static("sessionid=abc"));
        assert_eq!(
            cookie_header(&h).as_deref(),
            Some("a=\u{fffd}; sessionid=abc")
        );
    }
}
