//! Values kept byte for byte, client-side stores, keys hashed at rest.

use sessionkit_core::store::Page;
use std::time::Duration;

use sessionkit_core::*;

use sessionkit_testkit::fakes::PlainCookie;

use super::*;

#[tokio::test]
async fn untouched_values_round_trip_byte_for_byte() {
    let h = harness();
    let cookie = h.new_session().await;
    let key = SessionKey::parse(&cookie["sessionid=".len()..]).unwrap();
    let Lookup::Found { token, .. } = h.store.load(&key, T1).await.unwrap() else {
        panic!()
    };
    let odd = Data::from_json(
        r#"{"count":1,"big":123456789012345678901234567890,"f":1E5,"nan":NaN}"#.into(),
    )
    .unwrap();
    let rec = Record {
        data: odd,
        expires_at: T1 + Duration::from_secs(3600),
        meta: Metadata::default(),
    };
    assert!(matches!(
        h.store.save(&key, &rec, &token, T1).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    h.request(Some(&cookie), 200, |s| s.insert("count", 2).unwrap())
        .await;
    let Lookup::Found { record, .. } = h.store.load(&key, T1).await.unwrap() else {
        panic!()
    };
    assert_eq!(
        record.data.to_json(),
        r#"{"count":2,"big":123456789012345678901234567890,"f":1E5,"nan":NaN}"#
    );
}

#[tokio::test]
async fn regression_client_side_new_session_is_encoded_not_created() {
    let clock = ManualClock::new(T1);
    let engine = Engine::client_builder(PlainCookie)
        .with_clock(Arc::new(clock.clone()))
        .build();
    let req = engine.begin(None);
    req.load().await.unwrap().insert("count", 1).unwrap();
    let out = req.finish(200).await;
    assert!(out.failure.is_none(), "{out:?}");
    let cookie = pair(&out.set_cookie[0]);
    let req = engine.begin(Some(&cookie));
    let s = req.load().await.unwrap();
    assert_eq!(s.get::<i32>("count").unwrap(), Some(1));
    s.flush();
    let out = req.finish(200).await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
    // Expired by the cookie's own timestamp (cookie_age after signing).
    clock.advance(Duration::from_secs(1_209_601));
    let s = engine.begin(Some(&cookie)).load().await.unwrap();
    assert!(s.is_empty());
}

#[tokio::test]
async fn keys_hashed_at_rest_never_reach_the_store() {
    let h = harness_with(Config::builder().hash_keys_at_rest(true).build().unwrap());
    let cookie = h.new_session().await;
    let key = SessionKey::parse(&cookie["sessionid=".len()..]).unwrap();
    // The store holds the hash, not the cookie's key.
    assert!(matches!(
        h.store.load(&key, T1).await.unwrap(),
        Lookup::Missing
    ));
    assert!(matches!(
        h.store.load(&key.hashed(), T1).await.unwrap(),
        Lookup::Found { .. }
    ));
    assert_eq!(h.engine.at_rest(&key), key.hashed());
    // Everything else works as usual: read, write, rotate, flush.
    assert_eq!(h.read(&cookie).await.get::<i32>("count").unwrap(), Some(1));
    let out = h.request(Some(&cookie), 200, Session::cycle_key).await;
    let new_cookie = pair(&out.set_cookie[0]);
    assert_eq!(
        h.read(&new_cookie).await.get::<i32>("count").unwrap(),
        Some(1)
    );
    let out = h.request(Some(&new_cookie), 200, Session::flush).await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
    // A copy of the store holds no cookie value.
    let listed = h
        .store
        .listing()
        .unwrap()
        .list_boxed(Page::first(T1, 10))
        .await
        .unwrap();
    assert!(listed.iter().all(|i| i.key != key));
}

/// Issue 20: with a session header, a client-side store's token travels in the header, and
/// an ended session answers it with an empty value; no cookie either way.
#[tokio::test]
async fn client_side_tokens_travel_in_the_session_header() {
    let engine = Engine::client_builder(PlainCookie)
        .with_config(
            Config::builder()
                .transport(Transport::Header("X-Session".into()))
                .build()
                .unwrap(),
        )
        .build();
    let req = engine.begin_with(SessionIds::new(None, None));
    req.load().await.unwrap().insert("count", 1).unwrap();
    let out = req.finish(200).await;
    assert!(out.set_cookie.is_empty(), "{out:?}");
    let token = out.session_header.unwrap().value;
    assert!(!token.is_empty());
    assert_eq!(out.vary_header.as_deref(), Some("X-Session"));
    assert!(!out.vary_cookie);
    let req = engine.begin_with(SessionIds::new(None, Some(&token)));
    assert_eq!(req.id_source(), IdSource::Header);
    let s = req.load().await.unwrap();
    assert_eq!(s.get::<i32>("count").unwrap(), Some(1));
    s.flush();
    let out = req.finish(200).await;
    assert_eq!(out.session_header.unwrap().value, "");
    assert!(out.set_cookie.is_empty());
    // A cookie is not read in header mode.
    let req = engine.begin(Some(&format!("sessionid={token}")));
    assert_eq!(req.id_source(), IdSource::None);
    assert!(req.load().await.unwrap().is_empty());
}

/// The engine applies the cookie-size rule to what a client-side store encoded, with the
/// configured cookie name (stores hold no copy of it): `name=value` up to 4096 bytes.
#[tokio::test]
async fn the_cookie_size_rule_counts_the_configured_cookie_name() {
    let data = r#"{"k":"0123456789"}"#;
    // PlainCookie: "<unix seconds>.<hex of the JSON>".
    let len = format!("{}.", T1.unix_timestamp()).len() + 2 * data.len();
    let write = async |name: String| {
        let engine = Engine::client_builder(PlainCookie)
            .with_config(Config::builder().cookie_name(name).build().unwrap())
            .with_clock(Arc::new(ManualClock::new(T1)))
            .build();
        let req = engine.begin(None);
        req.load().await.unwrap().insert("k", "0123456789").unwrap();
        req.finish(200).await
    };
    let fits = write("n".repeat(4096 - 1 - len)).await;
    assert!(fits.failure.is_none(), "{fits:?}");
    assert_eq!(pair(&fits.set_cookie[0]).len(), 4096);
    let logs = sessionkit_testkit::logs::Logs::mark();
    let over = write("n".repeat(4096 - len)).await;
    assert_eq!(over.failure.expect("a 500").status, 500);
    assert!(over.set_cookie.is_empty());
    assert!(
        logs.lines("ERROR").iter().any(|l| l.contains("4097 bytes")),
        "{}",
        logs.text()
    );
}
