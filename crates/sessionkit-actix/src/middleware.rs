//! The `Transform` and its service.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::{Error, HttpMessage, HttpResponse};
use sessionkit_core::cookie::{join_header_bytes, merge_vary};
use sessionkit_core::{ClientStore, Config, Engine, Outcome, SessionStore};

/// actix-web middleware giving every request a lazily loaded session. Cloning is cheap:
/// the engine (configuration and store) is shared.
#[derive(Clone)]
pub struct SessionMiddleware {
    engine: Engine,
}

impl fmt::Debug for SessionMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddleware")
            .field("engine", &self.engine)
            .finish()
    }
}

impl SessionMiddleware {
    /// Middleware over a server-side store.
    pub fn new<S: SessionStore>(store: S, config: Config) -> SessionMiddleware {
        SessionMiddleware::from_engine(Engine::new(store, config))
    }

    /// Middleware over a client-side store (the signed cookie).
    pub fn client_side<C: ClientStore>(store: C, config: Config) -> SessionMiddleware {
        SessionMiddleware::from_engine(Engine::client_side(store, config))
    }

    /// Middleware over an engine built elsewhere (to set a clock, or to share one engine
    /// with the tower side).
    pub fn from_engine(engine: Engine) -> SessionMiddleware {
        SessionMiddleware { engine }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl<S, B> Transform<S, ServiceRequest> for SessionMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = SessionMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SessionMiddlewareService {
            service: Rc::new(service),
            engine: self.engine.clone(),
        }))
    }
}

/// The service made by [`SessionMiddleware`].
pub struct SessionMiddlewareService<S> {
    service: Rc<S>,
    engine: Engine,
}

impl<S> fmt::Debug for SessionMiddlewareService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionMiddlewareService")
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for SessionMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let rs = {
            let cookie = join_header_bytes(
                req.headers()
                    .get_all(header::COOKIE)
                    .map(HeaderValue::as_bytes),
            );
            self.engine.begin(cookie.as_deref())
        };
        req.extensions_mut().insert(rs.clone());
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let mut res = service.call(req).await?;
            let outcome = rs.finish(res.status().as_u16()).await;
            if let Some(failure) = &outcome.failure {
                let mut replaced = HttpResponse::build(
                    StatusCode::from_u16(failure.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                );
                replaced.content_type("text/plain; charset=utf-8");
                if let Some(secs) = failure.retry_after {
                    replaced.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
                }
                if outcome.vary_cookie {
                    replaced.insert_header((header::VARY, HeaderValue::from_static("Cookie")));
                }
                let replaced = replaced.body(failure.message);
                return Ok(res.into_response(replaced).map_into_right_body());
            }
            apply(outcome, res.headers_mut());
            Ok(res.map_into_left_body())
        })
    }
}

fn apply(outcome: Outcome, headers: &mut HeaderMap) {
    for c in outcome.set_cookie {
        match HeaderValue::try_from(c) {
            Ok(v) => headers.append(header::SET_COOKIE, v),
            Err(e) => tracing::error!(error = %e, "session cookie is not a valid header value"),
        }
    }
    if outcome.vary_cookie {
        patch_vary(headers);
    }
}

/// Adds `Cookie` to `Vary` (merged as Django does).
fn patch_vary(headers: &mut HeaderMap) {
    if !headers.contains_key(header::VARY) {
        headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
        return;
    }
    let merged = merge_vary(
        headers
            .get_all(header::VARY)
            .filter_map(|v| v.to_str().ok()),
    );
    if let Some(v) = merged.and_then(|v| HeaderValue::try_from(v).ok()) {
        headers.insert(header::VARY, v);
    }
}
