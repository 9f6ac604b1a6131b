//! The checks of the middleware rules, each through real HTTP in a given [`Mode`].

use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::{BoxStore, ConfigBuilder, Engine, ManualClock, SameSite, SessionStore};

use super::{Adapter, Mode};
use crate::fakes::Counting;
use crate::http::send;
use crate::suite::NOW;

pub(super) fn engine(store: impl SessionStore, config: ConfigBuilder) -> Engine {
    Engine::new(store, config.build().expect("config"))
}

/// The tutorial's counter: an id on the first write, the count kept with it.
pub async fn tutorial_counter(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/visit", None).await;
    assert_eq!((res.status, res.body.as_str()), (200, "Visit count: 1"));
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
    let id = m.id(&res);
    for n in 2..=3 {
        let res = m.get(&s, "/s/visit", Some(&id)).await;
        assert_eq!(res.body, format!("Visit count: {n}"));
    }
    let res = m.get(&s, "/s/visit", None).await;
    assert_eq!(res.body, "Visit count: 1", "a new visitor starts again");
}

/// A visitor who only reads gets no record and no id, but `Vary`.
pub async fn lazy_creation(a: &impl Adapter, m: Mode, store: BoxStore) {
    let store = Counting::new(store);
    let counts = store.counts();
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/read", None).await;
    assert_eq!((res.status, res.body.as_str()), (200, "count: none"));
    assert!(m.silent(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
    assert_eq!(counts.total(), 0, "nothing reached the store");
}

/// A route that never extracts the session sends nothing and never reaches the store.
pub async fn untouched_routes_send_nothing(a: &impl Adapter, m: Mode, store: BoxStore) {
    let store = Counting::new(store);
    let counts = store.counts();
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let before = counts.total();
    let res = m.get(&s, "/plain", Some(&id)).await;
    assert_eq!((res.status, res.body.as_str()), (200, "plain"));
    assert!(m.silent(&res) && res.header("vary").is_none(), "{res:?}");
    assert_eq!(counts.total(), before);
}

/// An id shorter than 8 characters is withdrawn even on an untouched route (Django).
pub async fn short_id_is_withdrawn(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/plain", Some("1234567")).await;
    assert!(m.ended(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
}

/// A key the store does not know is never adopted (session fixation).
pub async fn client_keys_are_never_adopted(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let forged = "abcdefghijklmnopqrstuvwxyz012345";
    let res = m.get(&s, "/s/visit", Some(forged)).await;
    assert_eq!(res.body, "Visit count: 1");
    let id = m.id(&res);
    assert_ne!(id, forged);
    assert_eq!(id.len(), 32);
    // Read-only with the forged key: the id is withdrawn.
    let res = m.get(&s, "/s/read", Some(forged)).await;
    assert!(m.ended(&res), "{res:?}");
}

/// Logout withdraws the id and deletes the record; without an id it sends only `Vary`.
pub async fn logout_withdraws_the_id(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let res = m.get(&s, "/s/flush", Some(&id)).await;
    assert!(m.ended(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
    let res = m.get(&s, "/s/visit", Some(&id)).await;
    assert_eq!(res.body, "Visit count: 1", "the old id leads nowhere");
    let res = m.get(&s, "/s/flush", None).await;
    assert!(m.silent(&res), "{res:?}");
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
}

/// A 5xx response saves nothing.
pub async fn server_errors_save_nothing(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let res = m.get(&s, "/s/boom", Some(&id)).await;
    assert_eq!(res.status, 500);
    assert!(m.silent(&res), "{res:?}");
    let res = m.get(&s, "/s/visit", Some(&id)).await;
    assert_eq!(res.body, "Visit count: 2");
}

/// `save_every_request` re-sends the same id even on an untouched route.
pub async fn save_every_request(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a
        .serve(engine(store, m.config().save_every_request(true)))
        .await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let res = m.get(&s, "/plain", Some(&id)).await;
    assert_eq!(m.id(&res), id);
    assert_eq!(res.header("vary"), Some(m.vary().as_str()));
}

/// The cookie's attributes and lifetime follow the configuration and `set_expiry`; a
/// header-only transport sends no cookie at all.
pub async fn cookie_attributes_and_expiry(a: &impl Adapter, m: Mode, store: BoxStore) {
    let cfg = m
        .config()
        .cookie_secure(true)
        .cookie_samesite(Some(SameSite::Strict));
    let s = a.serve(engine(store, cfg)).await;
    let res = m.get(&s, "/s/short", None).await;
    if let Mode::Header(_) = m {
        assert!(res.set_cookies().is_empty(), "{res:?}");
        m.id(&res);
        return;
    }
    let c = res.set_cookies()[0];
    assert!(
        c.ends_with("; HttpOnly; Max-Age=10; Path=/; SameSite=Strict; Secure"),
        "{c}"
    );
    let res = m.get(&s, "/s/visit", None).await;
    assert!(res.set_cookies()[0].contains("Max-Age=1209600"), "{res:?}");
}

/// An expired session is not served: reading it withdraws the id.
pub async fn expired_sessions_are_not_served(a: &impl Adapter, m: Mode, store: BoxStore) {
    let clock = ManualClock::new(NOW);
    let cfg = m.config().idle_timeout(Duration::from_secs(600));
    let e = Engine::builder(store)
        .with_config(cfg.build().expect("config"))
        .with_clock(Arc::new(clock.clone()))
        .build();
    let s = a.serve(e).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    clock.advance(Duration::from_secs(599));
    assert_eq!(m.get(&s, "/s/read", Some(&id)).await.body, "count: 1");
    clock.advance(Duration::from_secs(601));
    let res = m.get(&s, "/s/read", Some(&id)).await;
    assert_eq!(res.body, "count: none");
    assert!(m.ended(&res), "{res:?}");
}

/// `cycle_key` hands out a new id; late requests with the old one get no withdrawal within
/// the grace window (it would overwrite the new id on the client).
pub async fn rotation_and_its_grace_window(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let old = m.id(&m.get(&s, "/s/visit", None).await);
    let new = m.id(&m.get(&s, "/s/cycle", Some(&old)).await);
    assert_ne!(new, old);
    assert_eq!(m.get(&s, "/s/read", Some(&new)).await.body, "count: 1");
    let res = m.get(&s, "/s/read", Some(&old)).await;
    assert_eq!(res.body, "count: none");
    assert!(m.silent(&res), "{res:?}");
}

/// `Vary` is merged with the handler's own.
pub async fn vary_is_merged(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/vary", None).await;
    let vary: Vec<&str> = res
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(vary, vec![format!("Accept-Encoding, {}", m.vary())]);
}

/// Several `Cookie` headers (HTTP/2 style) are read as one; with both transports, a header
/// that disagrees with the cookie wins.
pub async fn several_ids_in_one_request(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    let other = m.id(&m.get(&s, "/s/visit", None).await);
    let cookie = format!("sessionid={id}");
    let res = match m {
        Mode::Cookie => {
            send(
                &s.addr,
                "/s/visit",
                &[
                    ("Cookie", "theme=dark"),
                    ("Cookie", &cookie),
                    ("Cookie", "lang=en"),
                ],
            )
            .await
        }
        // The header names the other session: it wins over the cookie.
        Mode::Header(h) | Mode::Both(h) => {
            send(&s.addr, "/s/visit", &[("Cookie", &cookie), (h, &other)]).await
        }
    };
    assert_eq!(res.body, "Visit count: 2");
    if m != Mode::Cookie {
        assert_eq!(m.get(&s, "/s/read", Some(&other)).await.body, "count: 2");
        assert_eq!(m.get(&s, "/s/read", Some(&id)).await.body, "count: 1");
    }
}

/// The session moves into other threads; their writes are saved.
pub async fn session_moves_into_threads(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let res = m.get(&s, "/s/threads", None).await;
    assert_eq!(res.body, "10");
    let id = m.id(&res);
    assert_eq!(
        m.get(&s, "/s/visit", Some(&id)).await.body,
        "Visit count: 11"
    );
}

/// A value of the wrong type is a plain 500, details in the log only.
pub async fn type_mismatch_is_a_plain_500(a: &impl Adapter, m: Mode, store: BoxStore) {
    let s = a.serve(engine(store, m.config())).await;
    let id = m.id(&m.get(&s, "/s/name", None).await);
    let res = m.get(&s, "/s/typed", Some(&id)).await;
    assert_eq!(res.status, 500);
    assert_eq!(res.body, "Internal Server Error");
}

/// A logout that lands while another request's save is pending: that save is a 400
/// (Django's `SessionInterrupted`) and the logout stays.
pub async fn concurrent_logout_is_a_400(a: &impl Adapter, m: Mode, store: BoxStore) {
    let e = Engine::builder(store)
        .with_config(m.config().build().expect("config"))
        .with_save_delay(Duration::from_millis(300))
        .build();
    let s = a.serve(e).await;
    let id = m.id(&m.get(&s, "/s/visit", None).await);
    // Every request's writes wait 300 ms after its handler: the logout, sent first, deletes
    // at ~300 ms; the write, sent 50 ms later, loaded the session before that and saves at
    // ~350 ms — after the logout.
    let logout = {
        let (addr, headers) = (s.addr.clone(), m.carry(Some(&id)));
        tokio::spawn(async move {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            send(&addr, "/s/flush", &refs).await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let res = m.get(&s, "/s/visit", Some(&id)).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body, sessionkit_core::INTERRUPTED_MESSAGE);
    let res = logout.await.unwrap_or_else(|e| panic!("request task: {e}"));
    assert!(m.ended(&res), "{res:?}");
    let res = m.get(&s, "/s/read", Some(&id)).await;
    assert_eq!(res.body, "count: none", "the logout stays");
}
