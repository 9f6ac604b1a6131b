//! The middleware rules (DJANGO.md §1.4 and checklist items 16–22, 35, 39–40, 72–84) and
//! the engine's own guarantees, driven through the engine's public API on the memory store.
//! Tests are named after the checklist item or the rule they pin.

mod client_side;
mod concurrency;
mod device;
mod events;
mod extremes;
mod failures;
mod limit;
mod rules;
mod timeouts;

use std::sync::Arc;

use sessionkit_core::{Config, ConfigBuilder, Engine, ManualClock, MemoryStore, Outcome, Session};
use time::OffsetDateTime;
use time::macros::datetime;

pub(crate) const T1: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

pub(crate) struct Harness {
    pub(crate) engine: Engine,
    pub(crate) store: MemoryStore,
    pub(crate) clock: ManualClock,
}

pub(crate) fn harness_with(config: Config) -> Harness {
    let store = MemoryStore::new();
    let clock = ManualClock::new(T1);
    let engine = Engine::builder(store.clone())
        .with_config(config)
        .with_clock(Arc::new(clock.clone()))
        .build();
    Harness {
        engine,
        store,
        clock,
    }
}

pub(crate) fn harness() -> Harness {
    harness_with(Config::default())
}

/// The `name=value` part of a `Set-Cookie` value.
pub(crate) fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

pub(crate) fn value(set_cookie: &str) -> String {
    pair(set_cookie).split_once('=').unwrap().1.to_owned()
}

/// The `Set-Cookie` values of flushing a session under `config` with the cookie domain
/// `.example.local`.
pub(crate) async fn removal_cookie(config: ConfigBuilder) -> Vec<String> {
    let h = harness_with(config.cookie_domain(".example.local").build().unwrap());
    let cookie = h.new_session().await;
    h.request(Some(&cookie), 200, Session::flush)
        .await
        .set_cookie
}

pub(crate) const REMOVAL: &str = "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=Lax";

impl Harness {
    /// One request: the handler gets the loaded session (if `load`), then the response
    /// has `status`.
    pub(crate) async fn request(
        &self,
        cookie: Option<&str>,
        status: u16,
        handler: impl FnOnce(&Session),
    ) -> Outcome {
        let req = self.engine.begin(cookie);
        let session = req.load().await.unwrap();
        handler(&session);
        req.finish(status).await
    }

    /// A request whose handler never extracts the session.
    pub(crate) async fn untouched(&self, cookie: Option<&str>) -> Outcome {
        self.engine.begin(cookie).finish(200).await
    }

    /// Creates a session holding `count = 1` and returns its cookie pair.
    pub(crate) async fn new_session(&self) -> String {
        let out = self
            .request(None, 200, |s| s.insert("count", 1).unwrap())
            .await;
        pair(&out.set_cookie[0])
    }

    pub(crate) async fn read(&self, cookie: &str) -> Session {
        self.engine.begin(Some(cookie)).load().await.unwrap()
    }
}
