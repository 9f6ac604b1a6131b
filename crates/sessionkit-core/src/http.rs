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
//! // Before the handler: the cookie header(s) in, a lazy session out (no I/O).
//! let rs = engine.begin(sessionkit_core::http::cookie_header(req.headers()).as_deref());
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

use http::header::{CONTENT_TYPE, COOKIE, HeaderValue, RETRY_AFTER, SET_COOKIE, VARY};
use http::{HeaderMap, Response, StatusCode};

use crate::cookie::{join_header_bytes, merge_vary};
use crate::engine::{Failure, Outcome};

/// Every `Cookie` header of a request, joined (HTTP/2 sends one per cookie), for
/// [`Engine::begin`](crate::Engine::begin).
pub fn cookie_header(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    join_header_bytes(headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes))
}

/// Applies the engine's outcome to the handler's response: the `Set-Cookie` values and
/// `Vary: Cookie`, or — when the session could not be saved — the [`Failure`] response in
/// its place.
pub fn apply<B: From<String>>(outcome: Outcome, res: &mut Response<B>) {
    if let Some(failure) = &outcome.failure {
        *res = failure_response(failure, outcome.vary_cookie);
        return;
    }
    let headers = res.headers_mut();
    for c in outcome.set_cookie {
        match HeaderValue::try_from(c) {
            Ok(v) => {
                headers.append(SET_COOKIE, v);
            }
            Err(e) => tracing::error!(error = %e, "session cookie is not a valid header value"),
        }
    }
    if outcome.vary_cookie {
        patch_vary(headers);
    }
}

/// The response for a [`Failure`]: its status, a plain-text body, `Retry-After` when set,
/// and `Vary: Cookie` when the session was accessed.
pub fn failure_response<B: From<String>>(failure: &Failure, vary_cookie: bool) -> Response<B> {
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
    if vary_cookie {
        headers.insert(VARY, HeaderValue::from_static("Cookie"));
    }
    res
}

/// Adds `Cookie` to `Vary` (merged as Django does).
fn patch_vary(headers: &mut HeaderMap) {
    if !headers.contains_key(VARY) {
        headers.insert(VARY, HeaderValue::from_static("Cookie"));
        return;
    }
    let merged = merge_vary(headers.get_all(VARY).iter().filter_map(|v| v.to_str().ok()));
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
        patch_vary(&mut h);
        assert_eq!(h[VARY], "Cookie");
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        patch_vary(&mut h);
        assert_eq!(h[VARY], "Accept-Encoding, Cookie");
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("accept, COOKIE"));
        patch_vary(&mut h);
        assert_eq!(h[VARY], "accept, COOKIE");
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("*"));
        patch_vary(&mut h);
        assert_eq!(h[VARY], "*");
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
