//! Issue 19, device metadata: what the engine records beside a session (IP, user agent,
//! device label), when (creation and the writes it already makes, never a touch), the
//! recording switch, and the optional user-agent binding.

use sessionkit_core::store::Page;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sessionkit_core::events::{Event, EventListener, EventRecord};
use sessionkit_core::*;

use super::*;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// One request from `client` (IP, user agent); `handler` gets the session.
async fn visit(
    e: &Engine,
    cookie: Option<&str>,
    client: Option<(&str, &str)>,
    handler: impl FnOnce(&Session),
) -> Outcome {
    let mut ids = SessionIds::new(cookie, None);
    if let Some((addr, ua)) = client {
        ids = ids.with_client(ClientHints::new(Some(ip(addr)), Some(ua)));
    }
    let req = e.begin_with(ids);
    handler(&req.load().await.unwrap());
    req.finish(200).await
}

use sessionkit_testkit::adapter::device::stored_client;

#[tokio::test]
async fn recorded_at_creation_and_at_each_write_never_by_a_touch() {
    let h = harness_with(
        Config::builder()
            .idle_timeout(Duration::from_secs(600))
            .build()
            .unwrap(),
    );
    let out = visit(&h.engine, None, Some(("203.0.113.7", FIREFOX)), |s| {
        s.insert("a", 1).unwrap();
    })
    .await;
    let cookie = pair(&out.set_cookie[0]);
    let c = stored_client(&h.store, T1).await.unwrap();
    assert_eq!(c.ip(), Some(ip("203.0.113.7")));
    assert_eq!(c.user_agent(), Some(FIREFOX));
    assert_eq!(c.device(), "Firefox on Linux");

    // A read from elsewhere writes nothing; a touch (idle timeout) neither.
    h.clock.advance(Duration::from_secs(120));
    let out = visit(
        &h.engine,
        Some(&cookie),
        Some(("198.51.100.1", "curl/8")),
        |s| {
            let _ = s.get::<i64>("a");
        },
    )
    .await;
    assert!(!out.set_cookie.is_empty(), "the touch refreshed the cookie");
    let now = h.clock.now();
    assert_eq!(stored_client(&h.store, now).await, Some(c.clone()));

    // A write records the writer.
    visit(
        &h.engine,
        Some(&cookie),
        Some(("198.51.100.1", SAFARI_IOS)),
        |s| {
            s.insert("a", 2).unwrap();
        },
    )
    .await;
    let c2 = stored_client(&h.store, now).await.unwrap();
    assert_eq!(c2.ip(), Some(ip("198.51.100.1")));
    assert_eq!(c2.device(), "Safari on iOS");

    // A request whose adapter reports no client keeps what was recorded.
    let req = h.engine.begin(Some(&cookie));
    req.load().await.unwrap().insert("a", 3).unwrap();
    req.finish(200).await;
    assert_eq!(stored_client(&h.store, now).await, Some(c2.clone()));

    // A rotation (login) records too.
    visit(
        &h.engine,
        Some(&cookie),
        Some(("192.0.2.9", FIREFOX)),
        |s| {
            s.login("alice");
        },
    )
    .await;
    let c3 = stored_client(&h.store, now).await.unwrap();
    assert_eq!(c3.ip(), Some(ip("192.0.2.9")));
    assert_eq!(c3.device(), "Firefox on Linux");
}

#[tokio::test]
async fn the_switch_off_records_nothing_and_erases_at_the_next_write() {
    let h = harness();
    let out = visit(&h.engine, None, Some(("203.0.113.7", FIREFOX)), |s| {
        s.insert("a", 1).unwrap();
    })
    .await;
    let cookie = pair(&out.set_cookie[0]);
    assert!(stored_client(&h.store, T1).await.is_some());

    // The same store, an engine with recording off.
    let off = Engine::builder(h.store.clone())
        .with_config(Config::builder().record_client_info(false).build().unwrap())
        .with_clock(Arc::new(h.clock.clone()))
        .build();
    visit(&off, Some(&cookie), Some(("203.0.113.7", FIREFOX)), |s| {
        s.insert("a", 2).unwrap();
    })
    .await;
    assert_eq!(stored_client(&h.store, T1).await, None);

    // And a new session under it has none.
    let fresh = MemoryStore::new();
    let off = Engine::builder(fresh.clone())
        .with_config(Config::builder().record_client_info(false).build().unwrap())
        .with_clock(Arc::new(h.clock.clone()))
        .build();
    visit(&off, None, Some(("203.0.113.7", FIREFOX)), |s| {
        s.insert("a", 1).unwrap();
    })
    .await;
    assert_eq!(stored_client(&fresh, T1).await, None);
}

#[tokio::test]
async fn the_trusted_proxy_rule_through_the_engine() {
    let h = harness_with(
        Config::builder()
            .trusted_proxies(["10.0.0.0/8"])
            .build()
            .unwrap(),
    );
    let begin = |peer: &str, xff: &'static str| {
        h.engine.begin_from_headers_with_client(
            None,
            |name| (name == "user-agent").then_some("curl/8"),
            Some(ip(peer)),
            || [xff],
        )
    };
    // Through the trusted proxy: the forwarded client.
    let req = begin("10.0.0.1", "203.0.113.5, 10.0.0.9");
    req.load().await.unwrap().insert("a", 1).unwrap();
    req.finish(200).await;
    let c = stored_client(&h.store, T1).await.unwrap();
    assert_eq!(c.ip(), Some(ip("203.0.113.5")));
    assert_eq!(c.device(), "curl");
    // Straight from a client claiming to be someone else: its own address.
    let spoof = MemoryStore::new();
    let e = Engine::builder(spoof.clone())
        .with_config(h.engine.config().clone())
        .with_clock(Arc::new(h.clock.clone()))
        .build();
    let req = e.begin_from_headers_with_client(
        None,
        |_| None,
        Some(ip("198.51.100.66")),
        || ["203.0.113.5"],
    );
    req.load().await.unwrap().insert("a", 1).unwrap();
    req.finish(200).await;
    assert_eq!(
        stored_client(&spoof, T1).await.unwrap().ip(),
        Some(ip("198.51.100.66"))
    );
    assert_eq!(
        e.client_ip(Some(ip("10.0.0.1")), ["garbage"]),
        Some(ip("10.0.0.1"))
    );
}

#[derive(Default, Clone)]
struct Collect(Arc<Mutex<Vec<Event>>>);

impl EventListener for Collect {
    fn on_event(&self, r: &EventRecord) {
        self.0.lock().unwrap().push(r.event.clone());
    }
}

#[tokio::test]
async fn user_agent_binding_flushes_a_session_met_with_another_user_agent() {
    let store = MemoryStore::new();
    let events = Collect::default();
    let e = Engine::builder(store.clone())
        .with_config(Config::builder().bind_user_agent(true).build().unwrap())
        .with_clock(Arc::new(ManualClock::new(T1)))
        .with_events(events.clone())
        .build();
    let out = visit(&e, None, Some(("203.0.113.7", FIREFOX)), |s| {
        s.login("alice")
    })
    .await;
    let cookie = pair(&out.set_cookie[0]);

    // The same browser from another address: still logged in.
    let out = visit(&e, Some(&cookie), Some(("198.51.100.1", FIREFOX)), |s| {
        assert_eq!(s.user_id().as_deref(), Some("alice"));
    })
    .await;
    assert!(out.set_cookie.is_empty());

    // Another browser with the cookie: a new empty session, the old one deleted.
    let out = visit(&e, Some(&cookie), Some(("203.0.113.7", SAFARI_IOS)), |s| {
        assert_eq!(s.user_id(), None);
        assert!(s.is_empty());
    })
    .await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
    assert_eq!(store.len(), 0);
    e.flush_events();
    assert!(
        events
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|ev| matches!(ev, Event::Flushed { user: Some(u), .. } if u == "alice")),
        "{:?}",
        events.0.lock().unwrap()
    );

    // A handler that writes after the flush starts a new session under a new key.
    let out = visit(&e, None, Some(("203.0.113.7", FIREFOX)), |s| s.login("bob")).await;
    let cookie = pair(&out.set_cookie[0]);
    let out = visit(&e, Some(&cookie), Some(("203.0.113.7", "curl/8")), |s| {
        s.insert("x", 1).unwrap();
    })
    .await;
    assert_eq!(out.set_cookie.len(), 1);
    assert_ne!(pair(&out.set_cookie[0]), cookie);
    assert_eq!(store.len(), 1);
    let now = T1;
    let c = stored_client(&store, now).await.unwrap();
    assert_eq!(c.device(), "curl");

    // Without the binding, nothing is flushed.
    let free = Engine::builder(store.clone())
        .with_clock(Arc::new(ManualClock::new(T1)))
        .build();
    let cookie = pair(&out.set_cookie[0]);
    visit(&free, Some(&cookie), Some(("203.0.113.7", FIREFOX)), |s| {
        assert_eq!(s.get::<i64>("x").unwrap(), Some(1));
    })
    .await;
}

#[tokio::test]
async fn the_memory_store_keeps_client_info_beside_users() {
    let store = MemoryStore::new();
    let key = SessionKey::generate();
    let client = ClientInfo::new(Some(ip("2001:db8::1")), Some(SAFARI_IOS));
    for user in [None, Some("alice"), Some("we\0ird\0user")] {
        let record = Record {
            data: Data::new(),
            expires_at: T1 + time::Duration::hours(1),
            meta: Metadata {
                created_at: Some(T1),
                last_seen: Some(T1),
                user_id: user.map(str::to_owned),
                client: Some(client.clone()),
            },
        };
        store.delete(&key).await.unwrap();
        store.create(&key, &record, T1).await.unwrap();
        let Lookup::Found { record: got, .. } = store.load(&key, T1).await.unwrap() else {
            panic!("stored");
        };
        assert_eq!(got.meta.user_id.as_deref(), user);
        assert_eq!(got.meta.client.as_ref(), Some(&client));
        let listed = store
            .listing()
            .unwrap()
            .list_boxed(Page::first(T1, 5))
            .await
            .unwrap();
        assert_eq!(listed[0].meta, got.meta);
    }
    let index = store.user_index().unwrap();
    assert_eq!(
        index
            .sessions_of_boxed("we\0ird\0user", T1)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn with_recording_off_the_request_is_not_even_read() {
    let h = harness_with(
        Config::builder()
            .record_client_info(false)
            .trusted_proxies(["0.0.0.0/0"])
            .build()
            .unwrap(),
    );
    let asked = Mutex::new(Vec::new());
    let req = h.engine.begin_from_headers_with_client(
        None,
        |name| {
            asked.lock().unwrap().push(name.to_owned());
            Some("curl/8")
        },
        Some(ip("10.0.0.1")),
        || -> [&str; 1] { panic!("X-Forwarded-For read with recording off") },
    );
    req.load().await.unwrap().insert("a", 1).unwrap();
    req.finish(200).await;
    assert!(asked.lock().unwrap().is_empty(), "{asked:?}");
    assert_eq!(stored_client(&h.store, T1).await, None);
}

#[tokio::test]
async fn the_binding_compares_only_what_was_reported() {
    let h = harness_with(Config::builder().bind_user_agent(true).build().unwrap());
    // A session written without client info: nothing to compare with.
    let req = h.engine.begin(None);
    req.load().await.unwrap().insert("a", 1).unwrap();
    let cookie = pair(&req.finish(200).await.set_cookie[0]);
    let out = visit(
        &h.engine,
        Some(&cookie),
        Some(("192.0.2.1", FIREFOX)),
        |s| {
            assert_eq!(s.get::<i64>("a").unwrap(), Some(1));
            s.insert("a", 2).unwrap();
        },
    )
    .await;
    assert!(out.set_cookie.iter().all(|c| !c.contains("Max-Age=0")));
    // Now recorded; a request that reports no client is not compared either.
    let req = h.engine.begin(Some(&cookie));
    assert_eq!(req.load().await.unwrap().get::<i64>("a").unwrap(), Some(2));
    req.finish(200).await;
    // A request without a User-Agent header, from an adapter that reports its client, is
    // another user agent.
    let req = h
        .engine
        .begin_with(SessionIds::new(Some(&cookie), None).with_client(ClientHints::new(None, None)));
    assert!(req.load().await.unwrap().is_empty());
    assert_eq!(req.finish(200).await.set_cookie, vec![REMOVAL.to_owned()]);
}
