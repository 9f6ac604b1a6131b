//! The client-side profile of the conformance suite, for stores that keep the whole
//! session in the cookie ([`ClientStore`], e.g. Django's signed cookie).
//!
//! What a client-side store can promise is less than a server-side one, and the profile
//! says so with checks that pin the limits rather than hide them:
//!
//! * **round trip and integrity** — what `encode` writes, `decode` reads back, with the time
//!   it was issued; any change to the value (a flipped byte, a cut, garbage) is refused;
//! * **size** — a session that would not fit in a cookie is refused at `encode` (a logged
//!   500), never silently truncated;
//! * **expiry through the engine** — a cookie past its session's expiry is no session;
//! * **no revocation** — a cookie copied before a logout still decodes afterwards (the
//!   server keeps no state to revoke): the check asserts it, so the limitation can't be
//!   fixed or broken without someone noticing;
//! * **no replay protection** — an older cookie of the same session decodes as well as the
//!   newest, and so rolls the session back.
//!
//! Concurrency guarantees (compare-and-set, no lost updates, no resurrection) do not apply:
//! the browser keeps whichever cookie it received last.

use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::{ClientStore, Config, Data, Engine, ManualClock, Value};

use crate::suite::NOW;

fn data(text: &str) -> Data {
    Data::from_json(text.into()).expect("test data is valid JSON")
}

/// `encode` then `decode` gives the same data (Python-only values included) and the issue
/// time.
pub fn round_trip<C: ClientStore>(store: &C) {
    let d = data(
        r#"{"count":1,"u":"caf\u00e9","big":123456789012345678901234567890,"nan":NaN,"nested":{"a":[1,null]}}"#,
    );
    let value = store.encode(&d, NOW).expect("encode");
    let got = store.decode(&value, NOW).expect("decode");
    assert_eq!(got.data.to_json(), d.to_json());
    assert_eq!(got.issued_at, NOW);
    assert!(
        value.is_ascii() && !value.contains([';', ' ', ',', '"']),
        "cookie-safe: {value}"
    );
}

/// A tampered, truncated or foreign value decodes to nothing.
pub fn tampering_is_refused<C: ClientStore>(store: &C) {
    let value = store
        .encode(&data(r#"{"admin":false}"#), NOW)
        .expect("encode");
    let mut flipped = value.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    for bad in [
        flipped.as_str(),
        &value[..value.len() - 1],
        &value[1..],
        "garbage",
        "",
        "a:b:c",
    ] {
        assert!(store.decode(bad, NOW).is_none(), "accepted {bad:?}");
    }
}

/// A session too big for a cookie fails the request (a 500, no cookie): the engine applies
/// the size rule to what the store encoded; nothing is truncated.
pub async fn oversized_sessions_are_refused<C: ClientStore>(store: C) {
    // Random text (session keys: CSPRNG output) does not compress below the limit.
    let noise: String = (0..300)
        .map(|_| sessionkit_core::SessionKey::generate().as_str().to_owned())
        .collect();
    let engine = Engine::client_builder(store)
        .with_clock(Arc::new(ManualClock::new(NOW)))
        .build();
    let req = engine.begin(None);
    req.load()
        .await
        .expect("load")
        .insert("blob", noise)
        .expect("insert");
    let out = req.finish(200).await;
    assert_eq!(
        out.failure
            .expect("a 9.6 KB random session cannot be a cookie")
            .status,
        500
    );
    assert!(out.set_cookie.is_empty(), "{:?}", out.set_cookie);
}

/// Through the engine: the cookie's session expires with its own expiry and the cookie
/// age, counted from the issue time.
pub async fn expiry_through_the_engine<C: ClientStore>(store: C) {
    let clock = ManualClock::new(NOW);
    let engine = Engine::client_builder(store)
        .with_config(Config::builder().cookie_age(100).build().expect("config"))
        .with_clock(Arc::new(clock.clone()))
        .build();
    let cookie = first_cookie(&engine, "n", 1).await;
    clock.advance(Duration::from_secs(100));
    let s = engine.begin(Some(&cookie)).load().await.expect("load");
    assert_eq!(
        s.get::<i32>("n").expect("int"),
        Some(1),
        "valid for exactly the cookie age"
    );
    clock.advance(Duration::from_secs(1));
    let s = engine.begin(Some(&cookie)).load().await.expect("load");
    assert!(s.is_empty(), "expired after the cookie age");
}

/// Begins a session through `engine` (no cookie), sets `key` to `value`, finishes the
/// request with a 200 (which must not fail) and returns the `name=value` pair of the cookie
/// it set: the first visit of the checks that come back with a cookie, for client-side and
/// server-side stores alike.
pub async fn first_cookie(engine: &Engine, key: &str, value: i32) -> String {
    let req = engine.begin(None);
    req.load()
        .await
        .expect("load")
        .insert(key, value)
        .expect("insert");
    let out = req.finish(200).await;
    assert!(out.failure.is_none(), "the first visit failed");
    out.set_cookie[0]
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

/// The documented limits: a logout cannot revoke a copied cookie, and an older cookie of
/// the same session still decodes (replay).
pub fn no_revocation_and_no_replay_protection<C: ClientStore>(store: &C) {
    let before = store
        .encode(&data(r#"{"_auth_user_id":"1","cart":[1]}"#), NOW)
        .expect("encode");
    let later = NOW + time::Duration::seconds(10);
    let after = store
        .encode(&data(r#"{"_auth_user_id":"1","cart":[1,2]}"#), later)
        .expect("encode");
    // The user logs out: the server sends a removal cookie, and has nothing else to do.
    // A copy of `before` still decodes — there is nothing to revoke.
    let replayed = store
        .decode(&before, later)
        .expect("a copied cookie still decodes");
    assert_eq!(
        replayed.data.get("_auth_user_id"),
        Some(Value::String("1".into()))
    );
    // And it rolls the cart back: the older cookie is as valid as the newer one.
    assert_eq!(
        store.decode(&after, later).expect("newer").data.get("cart"),
        Some(Value::List(vec![Value::Int(1), Value::Int(2)]))
    );
    assert_eq!(
        replayed.data.get("cart"),
        Some(Value::List(vec![Value::Int(1)]))
    );
}

/// Generates one test per client-side check; `$make` builds a fresh store.
#[macro_export]
macro_rules! client_conformance_tests {
    ($make:expr) => {
        #[test]
        fn client_round_trip() {
            $crate::client::round_trip(&$make);
        }
        #[test]
        fn client_tampering_is_refused() {
            $crate::client::tampering_is_refused(&$make);
        }
        #[::tokio::test(flavor = "current_thread")]
        async fn client_oversized_sessions_are_refused() {
            $crate::client::oversized_sessions_are_refused($make).await;
        }
        #[test]
        fn client_no_revocation_and_no_replay_protection() {
            $crate::client::no_revocation_and_no_replay_protection(&$make);
        }
        #[::tokio::test(flavor = "current_thread")]
        async fn client_expiry_through_the_engine() {
            $crate::client::expiry_through_the_engine($make).await;
        }
    };
}
