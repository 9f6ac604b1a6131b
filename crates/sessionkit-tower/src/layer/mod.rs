//! The `SessionLayer` / `SessionService<S>` pair.

mod service;

use std::fmt;

use sessionkit_core::{ClientStore, Config, Engine, SessionStore};
use tower_layer::Layer;

pub use service::SessionService;

/// A tower layer that gives every request a lazily loaded session.
///
/// Cloning is cheap (one reference count): the engine, with its configuration and store,
/// is shared.
#[derive(Clone)]
pub struct SessionLayer {
    engine: Engine,
}

impl SessionLayer {
    /// A layer over a server-side store.
    pub fn new<S: SessionStore>(store: S, config: Config) -> SessionLayer {
        SessionLayer::from_engine(Engine::new(store, config))
    }

    /// A layer over a client-side store (the signed cookie).
    pub fn client_side<C: ClientStore>(store: C, config: Config) -> SessionLayer {
        SessionLayer::from_engine(Engine::client_side(store, config))
    }

    /// A layer over an engine built elsewhere (to set a clock, or share one engine).
    pub fn from_engine(engine: Engine) -> SessionLayer {
        SessionLayer { engine }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

impl fmt::Debug for SessionLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionLayer")
            .field("engine", &self.engine)
            .finish()
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> SessionService<S> {
        SessionService::new(inner, self.engine.clone())
    }
}
