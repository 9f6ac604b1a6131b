//! Lifecycle events as an adapter delivers them (issue 19): in order, only after the store
//! confirmed the write, never holding a request, never carrying a session id.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use sessionkit_core::events::{EventListener, EventRecord};
use sessionkit_core::{BoxStore, Engine};

use super::{Adapter, Mode};
use crate::fakes::Down;

/// Collects events (as JSON lines, the way an events log writes them).
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<Vec<(String, String)>>>);

impl EventListener for Collect {
    fn on_event(&self, r: &EventRecord) {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.push((r.event.name().to_owned(), r.to_json()));
    }
}

impl Collect {
    fn names(&self) -> Vec<String> {
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.iter().map(|(n, _)| n.clone()).collect()
    }

    fn log(&self) -> String {
        let v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        v.iter()
            .map(|(_, j)| j.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A visit, a login, a key rotation and a logout: `created`, `rotated` + `logged_in`,
/// `rotated`, `logged_out`, in that order; the log holds none of the ids the client saw.
pub async fn events_follow_login_rotation_logout(a: &impl Adapter, m: Mode, store: BoxStore) {
    let events = Collect::default();
    let engine = Engine::builder(store)
        .with_config(m.config().build().expect("config"))
        .with_events(events.clone())
        .build();
    let s = a.serve(engine.clone()).await;
    let mut seen = Vec::new();
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    seen.push(id.clone());
    let id = m.id(&m.get(&s, "/s/login", Some(&id)).await);
    seen.push(id.clone());
    let id = m.id(&m.get(&s, "/s/cycle", Some(&id)).await);
    seen.push(id.clone());
    assert!(m.ended(&m.get(&s, "/s/logout", Some(&id)).await));
    engine.flush_events();
    assert_eq!(
        events.names(),
        ["created", "rotated", "logged_in", "rotated", "logged_out"]
    );
    let log = events.log();
    assert!(log.contains(r#""user":"alice""#), "{log}");
    for id in &seen {
        assert!(
            !log.contains(id.as_str()),
            "a session id in the events: {log}"
        );
    }
}

/// A write the store refuses sends no event.
pub async fn no_event_after_a_failed_write(a: &impl Adapter, m: Mode, _store: BoxStore) {
    let events = Collect::default();
    let engine = Engine::builder(Down)
        .with_config(m.config().build().expect("config"))
        .with_events(events.clone())
        .build();
    let s = a.serve(engine.clone()).await;
    assert_eq!(m.get(&s, "/s/login", None).await.status, 503);
    assert_eq!(
        m.get(&s, "/s/logout", Some("abcdefghijklmnopqrstuvwxyz012345"))
            .await
            .status,
        503
    );
    engine.flush_events();
    assert!(events.names().is_empty(), "{:?}", events.names());
}

/// A listener that blocks until released.
#[derive(Clone, Default)]
struct Blocked(Arc<(Mutex<bool>, Condvar)>);

impl EventListener for Blocked {
    fn on_event(&self, _: &EventRecord) {
        let (open, cv) = &*self.0;
        let mut g = open.lock().unwrap_or_else(|e| e.into_inner());
        while !*g {
            g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// A listener that never returns holds no request: 30 new sessions are served all the
/// same, and the events that found the queue full are counted as dropped.
pub async fn a_blocked_listener_never_holds_requests(a: &impl Adapter, m: Mode, store: BoxStore) {
    let gate = Blocked::default();
    let engine = Engine::builder(store)
        .with_config(m.config().build().expect("config"))
        .with_events(gate.clone())
        .with_event_queue(2)
        .build();
    let s = a.serve(engine.clone()).await;
    let started = Instant::now();
    for _ in 0..30 {
        m.id(&m.get(&s, "/s/visit", None).await);
    }
    // A generous margin: 30 requests take milliseconds.
    assert!(started.elapsed() < Duration::from_secs(20));
    let dropped = engine.stats().events_dropped;
    assert!((27..=28).contains(&dropped), "dropped {dropped}");
    let (open, cv) = &*gate.0;
    *open.lock().unwrap_or_else(|e| e.into_inner()) = true;
    cv.notify_all();
    engine.flush_events();
}

/// The per-user limit (`max_sessions_per_user = 1`): a second browser's login revokes the
/// first browser's session (event `revoked`, cause `cap`); the second keeps its data.
/// Stores without a per-user index refuse the setting and skip this check.
pub async fn the_per_user_limit_revokes_the_oldest_login(
    a: &impl Adapter,
    m: Mode,
    store: BoxStore,
) {
    let events = Collect::default();
    let config = m.config().max_sessions_per_user(1).build().expect("config");
    let Ok(engine) = Engine::builder(store)
        .with_config(config)
        .with_events(events.clone())
        .try_build()
    else {
        return;
    };
    let s = a.serve(engine.clone()).await;
    let first = m.id(&m.get(&s, "/s/visit", None).await);
    let first = m.id(&m.get(&s, "/s/login", Some(&first)).await);
    let second = m.id(&m.get(&s, "/s/visit", None).await);
    let second = m.id(&m.get(&s, "/s/login", Some(&second)).await);
    assert_eq!(m.get(&s, "/s/read", Some(&second)).await.body, "count: 1");
    assert_eq!(
        m.get(&s, "/s/read", Some(&first)).await.body,
        "count: none",
        "the first login was revoked"
    );
    engine.flush_events();
    let log = events.log();
    assert!(log.contains(r#""event":"revoked""#), "{log}");
    assert!(log.contains(r#""cause":"cap""#), "{log}");
}
