//! The middleware service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{COOKIE, HeaderValue, RETRY_AFTER, SET_COOKIE, VARY};
use http::{HeaderMap, Request, Response, StatusCode};
use sessionkit_core::cookie::{join_header_bytes, merge_vary};
use sessionkit_core::{Engine, Outcome};
use tower_service::Service;

/// The service made by [`SessionLayer`](super::SessionLayer). The inner service's error
/// type passes through untouched.
#[derive(Clone)]
pub struct SessionService<S> {
    inner: S,
    engine: Engine,
}

impl<S> SessionService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, engine: Engine) -> SessionService<S> {
        SessionService { inner, engine }
    }
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for SessionService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: Send + 'static,
    ResB: From<String> + Send + 'static,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let cookie = cookie_header(req.headers());
        let rs = self.engine.begin(cookie.as_deref());
        req.extensions_mut().insert(rs.clone());
        // The clone that was made ready is the one to call (tower's clone-and-swap idiom).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut res = inner.call(req).await?;
            let outcome = rs.finish(res.status().as_u16()).await;
            apply(outcome, &mut res);
            Ok(res)
        })
    }
}

/// All `Cookie` headers joined (HTTP/2 sends one per cookie), bytes that are not UTF-8
/// decoded lossily.
fn cookie_header(headers: &HeaderMap) -> Option<std::borrow::Cow<'_, str>> {
    join_header_bytes(headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes))
}

fn apply<B: From<String>>(outcome: Outcome, res: &mut Response<B>) {
    if let Some(failure) = outcome.failure {
        let mut replaced = Response::new(B::from(failure.message.to_owned()));
        *replaced.status_mut() =
            StatusCode::from_u16(failure.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let headers = replaced.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(secs) = failure.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if outcome.vary_cookie {
            headers.insert(VARY, HeaderValue::from_static("Cookie"));
        }
        *res = replaced;
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
