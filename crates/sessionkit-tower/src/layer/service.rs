//! The middleware service: translation only. The rules are the engine's; the responses are
//! rendered by `sessionkit_core::http`, shared with the axum extractors.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use sessionkit_core::Engine;
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
        let rs = sessionkit_core::http::begin_with_peer(&self.engine, req.headers(), peer(&req));
        req.extensions_mut().insert(rs.clone());
        // The clone that was made ready is the one to call (tower's clone-and-swap idiom).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut res = inner.call(req).await?;
            let outcome = rs.finish(res.status().as_u16()).await;
            sessionkit_core::http::apply(outcome, &mut res);
            Ok(res)
        })
    }
}

/// The connection's peer address, for device metadata: axum's `ConnectInfo<SocketAddr>`
/// when the app is served with `into_make_service_with_connect_info::<SocketAddr>()`
/// (feature `axum`); else unknown.
fn peer<B>(req: &Request<B>) -> Option<std::net::IpAddr> {
    #[cfg(feature = "axum")]
    {
        use axum::extract::ConnectInfo;
        req.extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = req;
        None
    }
}
