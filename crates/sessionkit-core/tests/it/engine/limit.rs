//! Issue 19: the per-user session limit — a login beyond `max_sessions_per_user` revokes
//! the user's least recently used sessions (event `revoked`, cause `cap`); stores without
//! a per-user index refuse the setting when the engine is built; parallel logins on
//! several nodes end within the limit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sessionkit_core::events::{Event, EventListener, EventRecord, RevokeCause};
use sessionkit_core::*;
use sessionkit_testkit::fakes::PlainCookie;

use super::*;

#[derive(Default, Clone)]
struct Collect(Arc<Mutex<Vec<Event>>>);

impl EventListener for Collect {
    fn on_event(&self, r: &EventRecord) {
        self.0.lock().unwrap().push(r.event.clone());
    }
}

fn limited(limit: u32) -> Config {
    Config::builder()
        .max_sessions_per_user(limit)
        .build()
        .unwrap()
}

/// A login on a new browser; returns its cookie pair.
async fn login(e: &Engine, user: &str) -> String {
    let req = e.begin(None);
    req.load().await.unwrap().login(user);
    let out = req.finish(200).await;
    assert!(out.failure.is_none(), "{:?}", out.failure);
    pair(&out.set_cookie[0])
}

/// Whether the browser holding `cookie` is still logged in as `user`.
async fn logged_in(e: &Engine, cookie: &str, user: &str) -> bool {
    let req = e.begin(Some(cookie));
    let who = req.load().await.unwrap().user_id();
    req.finish(200).await;
    who.as_deref() == Some(user)
}

#[tokio::test]
async fn a_login_beyond_the_limit_revokes_the_least_recently_used() {
    let store = MemoryStore::new();
    let clock = ManualClock::new(T1);
    let events = Collect::default();
    let e = Engine::builder(store.clone())
        .with_config(limited(2))
        .with_clock(Arc::new(clock.clone()))
        .with_events(events.clone())
        .try_build()
        .unwrap();
    let first = login(&e, "alice").await;
    clock.advance(Duration::from_secs(10));
    let second = login(&e, "alice").await;
    clock.advance(Duration::from_secs(10));
    // The first browser comes back: now the second is the least recently used.
    {
        let req = e.begin(Some(&first));
        req.load().await.unwrap().insert("seen", 1).unwrap();
        req.finish(200).await;
    }
    let bob = login(&e, "bob").await;
    clock.advance(Duration::from_secs(10));
    let third = login(&e, "alice").await;

    assert!(logged_in(&e, &first, "alice").await, "recently used: kept");
    assert!(
        !logged_in(&e, &second, "alice").await,
        "least recently used: revoked"
    );
    assert!(
        logged_in(&e, &third, "alice").await,
        "the new login is never revoked"
    );
    assert!(
        logged_in(&e, &bob, "bob").await,
        "other users are not counted"
    );
    let index = store.user_index().unwrap();
    assert_eq!(
        index
            .sessions_of_boxed("alice", clock.now())
            .await
            .unwrap()
            .len(),
        2
    );

    e.flush_events();
    let second_key = SessionKey::parse(second.split_once('=').unwrap().1).unwrap();
    let revoked: Vec<_> = events
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|ev| matches!(ev, Event::Revoked { .. }))
        .cloned()
        .collect();
    assert_eq!(
        revoked,
        vec![Event::Revoked {
            cause: RevokeCause::Cap,
            user: Some("alice".into()),
            key: Some(second_key.fingerprint()),
            count: 1,
        }]
    );
    // The login is reported before the revocation it caused.
    let names: Vec<_> = events.0.lock().unwrap().iter().map(Event::name).collect();
    let last_login = names.iter().rposition(|n| *n == "logged_in").unwrap();
    assert_eq!(names[last_login + 1], "revoked");
}

#[tokio::test]
async fn a_limit_of_one_keeps_only_the_latest_login_and_zero_is_refused() {
    let e = Engine::builder(MemoryStore::new())
        .with_config(limited(1))
        .try_build()
        .unwrap();
    let a = login(&e, "carol").await;
    let b = login(&e, "carol").await;
    assert!(!logged_in(&e, &a, "carol").await);
    assert!(logged_in(&e, &b, "carol").await);

    let err = Config::builder()
        .max_sessions_per_user(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_sessions_per_user"), "{err}");
    // The extremes: u32::MAX is no limit in practice.
    let e = Engine::builder(MemoryStore::new())
        .with_config(limited(u32::MAX))
        .try_build()
        .unwrap();
    let a = login(&e, "dave").await;
    login(&e, "dave").await;
    assert!(logged_in(&e, &a, "dave").await);
}

#[tokio::test]
async fn stores_without_a_per_user_index_refuse_the_limit() {
    let err = Engine::client_builder(PlainCookie)
        .with_config(limited(3))
        .try_build()
        .unwrap_err();
    assert!(err.to_string().contains("per-user index"), "{err}");
    // `build` leaves the limit off (and logs why) rather than failing.
    let e = Engine::client_builder(PlainCookie)
        .with_config(limited(3))
        .build();
    assert_eq!(e.config().max_sessions_per_user(), None);
}

/// Logins of one user on two nodes (two engines over one store), in parallel: when they
/// have all finished, the user has at most the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_logins_on_several_nodes_end_within_the_limit() {
    let store = MemoryStore::new();
    let nodes: Vec<Engine> = (0..2)
        .map(|_| {
            Engine::builder(store.clone())
                .with_config(limited(3))
                .try_build()
                .unwrap()
        })
        .collect();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let e = nodes[i % 2].clone();
        tasks.push(tokio::spawn(async move { login(&e, "erin").await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let left = store
        .user_index()
        .unwrap()
        .sessions_of_boxed("erin", time::OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert!(
        (1..=3).contains(&left.len()),
        "{} sessions left",
        left.len()
    );
}
