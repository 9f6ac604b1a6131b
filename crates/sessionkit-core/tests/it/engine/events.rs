//! Issue 19: lifecycle events — delivered after the store confirmed the write, never
//! holding a request, never carrying a key.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sessionkit_core::events::{Event, EventListener, EventRecord, JsonLines, RevokeCause};
use sessionkit_core::*;
use sessionkit_testkit::fakes::Down;

use super::*;

/// Collects events.
#[derive(Default, Clone)]
struct Collect(Arc<Mutex<Vec<EventRecord>>>);

impl EventListener for Collect {
    fn on_event(&self, r: &EventRecord) {
        self.0.lock().unwrap().push(r.clone());
    }
}

impl Collect {
    fn names(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.event.name())
            .collect()
    }
    fn events(&self) -> Vec<Event> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.event.clone())
            .collect()
    }
}

fn engine_with(store: impl SessionStore, listener: impl EventListener) -> Engine {
    Engine::builder(store)
        .with_clock(Arc::new(ManualClock::new(T1)))
        .with_events(listener)
        .build()
}

async fn request(e: &Engine, cookie: Option<&str>, f: impl FnOnce(&Session)) -> Outcome {
    let req = e.begin(cookie);
    f(&req.load().await.unwrap());
    req.finish(200).await
}

fn key_of(out: &Outcome) -> SessionKey {
    SessionKey::parse(&value(&out.set_cookie[0])).unwrap()
}

#[tokio::test]
async fn login_rotation_logout_in_order_with_fingerprints() {
    let events = Collect::default();
    let e = engine_with(MemoryStore::new(), events.clone());
    let out = request(&e, None, |s| s.insert("a", 1).unwrap()).await;
    let k1 = key_of(&out);
    let out = request(&e, Some(&pair(&out.set_cookie[0])), |s| s.login("alice")).await;
    let k2 = key_of(&out);
    let out = request(&e, Some(&pair(&out.set_cookie[0])), Session::cycle_key).await;
    let k3 = key_of(&out);
    request(&e, Some(&pair(&out.set_cookie[0])), Session::logout).await;
    e.flush_events();
    assert_eq!(
        events.events(),
        vec![
            Event::Created {
                key: Some(k1.fingerprint()),
                user: None
            },
            Event::Rotated {
                old: Some(k1.fingerprint()),
                new: k2.fingerprint(),
                user: Some("alice".into())
            },
            Event::LoggedIn {
                key: Some(k2.fingerprint()),
                user: "alice".into()
            },
            Event::Rotated {
                old: Some(k2.fingerprint()),
                new: k3.fingerprint(),
                user: Some("alice".into())
            },
            Event::LoggedOut {
                key: Some(k3.fingerprint()),
                user: Some("alice".into())
            },
        ]
    );
    let times: Vec<_> = events.0.lock().unwrap().iter().map(|r| r.time).collect();
    assert!(times.iter().all(|t| *t == T1), "the engine's clock");
}

#[tokio::test]
async fn a_flush_that_is_not_a_logout_and_a_replay() {
    let events = Collect::default();
    let e = engine_with(MemoryStore::new(), events.clone());
    let out = request(&e, None, |s| s.insert("n", 0).unwrap()).await;
    let cookie = pair(&out.set_cookie[0]);
    let key = key_of(&out);
    // Two overlapping writers: the second replays.
    let a = e.begin(Some(&cookie));
    let b = e.begin(Some(&cookie));
    a.load().await.unwrap().insert("x", 1).unwrap();
    b.load().await.unwrap().insert("y", 1).unwrap();
    a.finish(200).await;
    b.finish(200).await;
    request(&e, Some(&cookie), Session::flush).await;
    e.flush_events();
    assert_eq!(events.names(), ["created", "replayed", "flushed"]);
    assert_eq!(
        events.events()[1],
        Event::Replayed {
            key: key.fingerprint(),
            times: 1
        }
    );
}

#[tokio::test]
async fn no_event_after_a_failed_write() {
    let events = Collect::default();
    let e = engine_with(Down, events.clone());
    let out = request(&e, None, |s| s.login("alice")).await;
    assert_eq!(out.failure.unwrap().status, 503);
    let req = e.begin(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"));
    assert!(req.load().await.is_err());
    req.finish(200).await;
    e.flush_events();
    assert!(events.names().is_empty(), "{:?}", events.names());
}

#[tokio::test]
async fn interrupted_saves_are_reported() {
    let events = Collect::default();
    let e = engine_with(MemoryStore::new(), events.clone());
    let out = request(&e, None, |s| s.insert("n", 0).unwrap()).await;
    let cookie = pair(&out.set_cookie[0]);
    let late = e.begin(Some(&cookie));
    late.load().await.unwrap().insert("late", 1).unwrap();
    request(&e, Some(&cookie), Session::flush).await;
    assert_eq!(late.finish(200).await.failure.unwrap().status, 400);
    e.flush_events();
    assert_eq!(events.names(), ["created", "flushed", "interrupted"]);
}

#[tokio::test]
async fn revocations_and_cleanups_are_reported() {
    let events = Collect::default();
    let store = MemoryStore::new();
    let clock = ManualClock::new(T1);
    let e = Engine::builder(store)
        .with_clock(Arc::new(clock.clone()))
        .with_events(events.clone())
        .build();
    let mut keys = Vec::new();
    for _ in 0..3 {
        let out = request(&e, None, |s| s.login("bob")).await;
        keys.push(key_of(&out));
    }
    assert_eq!(
        e.revoke_user("bob", Some(&keys[0]), RevokeCause::User)
            .await
            .unwrap(),
        2
    );
    assert!(e.revoke_key(&keys[0], RevokeCause::Admin).await.unwrap());
    let out = request(&e, None, |s| {
        s.set_expiry(Expiry::Seconds(10));
        s.insert("a", 1).unwrap();
    })
    .await;
    assert!(out.failure.is_none());
    clock.advance(Duration::from_secs(11));
    assert_eq!(e.clear_expired().await.unwrap(), 1);
    assert_eq!(
        e.clear_expired().await.unwrap(),
        0,
        "nothing left: no event"
    );
    e.flush_events();
    let ev = events.events();
    assert_eq!(
        ev[6..],
        [
            Event::Revoked {
                cause: RevokeCause::User,
                user: Some("bob".into()),
                key: None,
                count: 2
            },
            Event::Revoked {
                cause: RevokeCause::Admin,
                user: None,
                key: Some(keys[0].fingerprint()),
                count: 1
            },
            Event::Created {
                key: ev[8].clone().created_key(),
                user: None
            },
            Event::Expired { count: 1 },
        ]
    );
}

trait CreatedKey {
    fn created_key(self) -> Option<Fingerprint>;
}

impl CreatedKey for Event {
    fn created_key(self) -> Option<Fingerprint> {
        match self {
            Event::Created { key, .. } => key,
            _ => None,
        }
    }
}

/// A listener that blocks until released.
#[derive(Clone)]
struct Blocked(Arc<(Mutex<bool>, std::sync::Condvar)>);

impl EventListener for Blocked {
    fn on_event(&self, _: &EventRecord) {
        let (open, cv) = &*self.0;
        let mut g = open.lock().unwrap();
        while !*g {
            g = cv.wait(g).unwrap();
        }
    }
}

#[tokio::test]
async fn a_blocked_listener_never_holds_requests_and_drops_are_counted() {
    let gate = Blocked(Arc::new((Mutex::new(false), std::sync::Condvar::new())));
    let e = Engine::builder(MemoryStore::new())
        .with_events(gate.clone())
        .with_event_queue(4)
        .build();
    let started = Instant::now();
    for _ in 0..50 {
        let out = request(&e, None, |s| s.insert("a", 1).unwrap()).await;
        assert!(out.failure.is_none());
    }
    // 50 requests with a listener that never returns: they completed all the same (a
    // generous margin: they take milliseconds).
    assert!(started.elapsed() < Duration::from_secs(20));
    let dropped = e.stats().events_dropped;
    // One event is with the listener, four wait in the queue; the rest were dropped.
    assert!((45..=46).contains(&dropped), "{dropped}");
    let (open, cv) = &*gate.0;
    *open.lock().unwrap() = true;
    cv.notify_all();
    e.flush_events();
}

#[tokio::test]
async fn the_json_lines_log_holds_no_key() {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let e = engine_with(MemoryStore::new(), JsonLines::new(buf.clone()));
    let out = request(&e, None, |s| s.login("carol")).await;
    let k1 = value(&out.set_cookie[0]);
    let out = request(&e, Some(&pair(&out.set_cookie[0])), Session::cycle_key).await;
    let k2 = value(&out.set_cookie[0]);
    request(&e, Some(&pair(&out.set_cookie[0])), Session::logout).await;
    e.flush_events();
    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    assert!(
        lines[0].starts_with(r#"{"event":"created","time":"2026-01-01T00:00:00+00:00","key":""#),
        "{log}"
    );
    assert!(lines[3].contains(r#""event":"logged_out""#) && lines[3].contains(r#""user":"carol""#));
    for k in [&k1, &k2] {
        assert!(
            !log.contains(k.as_str()),
            "a session key leaked into the log"
        );
    }
}
