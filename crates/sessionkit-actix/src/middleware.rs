//! The `Transform` and its service: translation only. The rules are the engine's; the
//! responses are rendered by `sessionkit_core::actix`, shared with the extractors.

use std::fmt;

use actix_web::HttpMessage;
use actix_web::body::EitherBody;
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

crate::transform::transform!(
    SessionMiddleware => SessionMiddlewareService { engine: Engine },
    B => EitherBody<B>,
    fn call(service, engine, req) {
        let rs = sessionkit_core::actix::begin(engine, req.headers());
        req.extensions_mut().insert(rs.clone());
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
);
