//! The `Transform` and its service: translation only. The rules are the engine's; the
//! responses are rendered by `sessionkit_core::actix`, shared with the extractors.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use sessionkit_core::{ClientStore, Config, Engine, SessionStore};

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
        // Device metadata: the socket's peer (X-Forwarded-For only from trusted proxies).
        let peer = req.peer_addr().map(|a| a.ip());
        let rs = sessionkit_core::actix::begin_with_peer(&self.engine, req.headers(), peer);
        req.extensions_mut().insert(rs.clone());
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let mut res = service.call(req).await?;
            let outcome = rs.finish(res.status().as_u16()).await;
            if let Some(failure) = &outcome.failure {
                let replaced =
                    sessionkit_core::actix::failure_response(failure, outcome.vary_names());
                return Ok(res.into_response(replaced).map_into_right_body());
            }
            sessionkit_core::actix::apply_headers(outcome, res.headers_mut());
            Ok(res.map_into_left_body())
        })
    }
}
