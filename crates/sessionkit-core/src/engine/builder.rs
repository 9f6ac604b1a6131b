//! [`EngineBuilder`]: an engine is built once, with everything it shares between requests.
//!
//! There is no way to change a built engine's clock or store: every clone of an engine
//! shares its locks, save queue and counters, and a "modified copy" would have silently
//! started fresh ones.

use std::fmt;
use std::sync::Arc;

use super::locks::{KeyLocks, SaveQueue};
use super::stats::Stats;
use super::store_client::StoreClient;
use super::{Backend, Engine, EngineInner};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::events::{EventListener, EventSink};
use crate::session::Ctx;
use crate::store::{ClientStore, DynSessionStore};

/// Builds an [`Engine`]: from [`Engine::builder`] (a server-side store) or
/// [`Engine::client_builder`] (a client-side store). Defaults: `Config::default()` and the
/// system clock.
#[must_use]
pub struct EngineBuilder {
    store: BuilderStore,
    config: Config,
    clock: Arc<dyn Clock>,
    save_delay: Option<std::time::Duration>,
    events: Option<Arc<dyn EventListener>>,
    event_queue: usize,
}

/// How many lifecycle events may wait for a slow listener before new ones are dropped.
pub const DEFAULT_EVENT_QUEUE: usize = 4096;

enum BuilderStore {
    Server(Arc<dyn DynSessionStore>),
    Client(Arc<dyn ClientStore>),
}

impl fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = match &self.store {
            BuilderStore::Server(s) => s.describe_dyn(),
            BuilderStore::Client(c) => c.describe(),
        };
        f.debug_struct("EngineBuilder")
            .field("store", &store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EngineBuilder {
    /// A builder over a server-side store chosen at run time.
    pub fn server(store: Arc<dyn DynSessionStore>) -> EngineBuilder {
        EngineBuilder::with(BuilderStore::Server(store))
    }

    /// A builder over a client-side store.
    pub fn client(store: Arc<dyn ClientStore>) -> EngineBuilder {
        EngineBuilder::with(BuilderStore::Client(store))
    }

    fn with(store: BuilderStore) -> EngineBuilder {
        EngineBuilder {
            store,
            config: Config::default(),
            clock: Arc::new(SystemClock),
            save_delay: None,
            events: None,
            event_queue: DEFAULT_EVENT_QUEUE,
        }
    }

    /// The settings (default: Django's, `Config::default()`).
    pub fn with_config(mut self, config: Config) -> EngineBuilder {
        self.config = config;
        self
    }

    /// The clock the engine and its store compare against (default: the system clock;
    /// tests use a [`ManualClock`](crate::ManualClock)).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> EngineBuilder {
        self.clock = clock;
        self
    }

    /// Sends lifecycle events to `listener` (see [`crate::events`]); at most `queue`
    /// events wait for it (default [`DEFAULT_EVENT_QUEUE`]), later ones are dropped and
    /// counted until it catches up.
    pub fn with_events(mut self, listener: impl EventListener) -> EngineBuilder {
        self.events = Some(Arc::new(listener));
        self
    }

    /// How many lifecycle events may wait for the listener (at least 1).
    pub fn with_event_queue(mut self, queue: usize) -> EngineBuilder {
        self.event_queue = queue.max(1);
        self
    }

    /// Test hook: waits this long before the end-of-request writes, so that tests can
    /// force concurrent requests to overlap and prove that conflicts are handled.
    #[cfg(feature = "testing")]
    pub fn with_save_delay(mut self, delay: std::time::Duration) -> EngineBuilder {
        self.save_delay = Some(delay);
        self
    }

    /// The engine, after checking the settings that depend on the store: a
    /// [`max_sessions_per_user`](Config::max_sessions_per_user) needs a server-side store
    /// with a per-user index ([`SessionStore::user_index`](crate::SessionStore::user_index)).
    ///
    /// ```
    /// use sessionkit_core::{Config, Engine, MemoryStore};
    ///
    /// let config = Config::builder().max_sessions_per_user(3).build().unwrap();
    /// let engine = Engine::builder(MemoryStore::new()).with_config(config).try_build();
    /// assert!(engine.is_ok());
    /// ```
    pub fn try_build(self) -> Result<Engine, ConfigError> {
        self.check()?;
        Ok(self.build_unchecked())
    }

    /// The engine. Settings that depend on the store are checked by
    /// [`try_build`](EngineBuilder::try_build); here one the store cannot honour is
    /// logged at ERROR and left off (a per-user limit on a store without a per-user index).
    pub fn build(mut self) -> Engine {
        if let Err(e) = self.check() {
            tracing::error!(error = %e, "the per-user session limit is off");
            self.config = self.config.without_max_sessions_per_user();
        }
        self.build_unchecked()
    }

    /// The settings that depend on the store.
    fn check(&self) -> Result<(), ConfigError> {
        let Some(limit) = self.config.max_sessions_per_user() else {
            return Ok(());
        };
        let indexed = match &self.store {
            BuilderStore::Server(store) => store.user_index_dyn().is_some(),
            BuilderStore::Client(_) => false,
        };
        if indexed {
            return Ok(());
        }
        Err(ConfigError::new(
            "max_sessions_per_user",
            format!(
                "a limit of {limit} sessions per user needs a store with a per-user index, and {} has none (a client-side store keeps sessions in the browser)",
                self.describe_store()
            ),
        ))
    }

    fn describe_store(&self) -> String {
        match &self.store {
            BuilderStore::Server(s) => s.describe_dyn(),
            BuilderStore::Client(c) => c.describe(),
        }
    }

    fn build_unchecked(self) -> Engine {
        let stats = Arc::new(Stats::default());
        let python_values = match &self.store {
            BuilderStore::Server(store) => store.python_values_dyn(),
            BuilderStore::Client(_) => false,
        };
        let backend = match self.store {
            BuilderStore::Server(store) => {
                Backend::Server(StoreClient::new(store, &self.config, Arc::clone(&stats)))
            }
            BuilderStore::Client(store) => Backend::Client(store),
        };
        Engine {
            inner: Arc::new(EngineInner {
                ctx: Arc::new(Ctx {
                    config: self.config,
                    clock: self.clock,
                    python_values,
                }),
                backend,
                stats,
                locks: KeyLocks::default(),
                saves: SaveQueue::default(),
                save_delay: self.save_delay,
                events: self.events.map(|l| EventSink::start(l, self.event_queue)),
            }),
        }
    }
}
