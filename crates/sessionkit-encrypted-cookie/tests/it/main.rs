//! The encrypted cookie store: the client-side conformance profile, then tampering,
//! truncation, wrong keys and rotation through the engine, in both transports (the cookie,
//! and the session header where the token travels in the header).

mod fuzz_corpus;

use std::sync::Arc;

use sessionkit_core::{ClientStore, Config, Data, Engine, ManualClock, SessionIds, Transport};
use sessionkit_encrypted_cookie::{CookieKey, EncryptedCookieStore, KeyRing};
use sessionkit_testkit::logs::Logs;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

/// The client-side profile of the conformance suite.
mod client_profile {
    use sessionkit_encrypted_cookie::{CookieKey, EncryptedCookieStore, KeyRing};

    sessionkit_testkit::client_conformance_tests!(EncryptedCookieStore::new(KeyRing::single(
        CookieKey::from_bytes(&[42; 32])
    )));
}

fn store(keys: &[&CookieKey]) -> EncryptedCookieStore {
    EncryptedCookieStore::new(KeyRing::new(keys.iter().map(|k| (*k).clone()).collect()).unwrap())
}

const HEADER: &str = "X-Session";

/// One engine over `store` in one transport, with helpers that send the token the way
/// that transport does.
struct Client {
    engine: Engine,
    header: bool,
}

impl Client {
    fn new(store: EncryptedCookieStore, header: bool) -> Client {
        let mut config = Config::builder();
        if header {
            config = config.transport(Transport::Header(HEADER.into()));
        }
        let engine = Engine::client_builder(store)
            .with_config(config.build().unwrap())
            .with_clock(Arc::new(ManualClock::new(NOW)))
            .build();
        Client { engine, header }
    }

    fn ids<'a>(&self, token: Option<&'a str>, cookie: &'a mut String) -> SessionIds<'a> {
        match token {
            None => SessionIds::new(None, None),
            Some(t) if self.header => SessionIds::new(None, Some(t)),
            Some(t) => {
                *cookie = format!("sessionid={t}");
                SessionIds::new(Some(cookie.as_str()), None)
            }
        }
    }

    /// Sets `key` to `value` in the session `token` names; the new token.
    async fn write(&self, token: Option<&str>, key: &str, value: i64) -> String {
        let mut cookie = String::new();
        let req = self.engine.begin_with(self.ids(token, &mut cookie));
        req.load().await.unwrap().insert(key, value).unwrap();
        let out = req.finish(200).await;
        assert!(out.failure.is_none(), "{out:?}");
        if self.header {
            assert!(
                out.set_cookie.is_empty(),
                "no cookie in header mode: {out:?}"
            );
            out.session_header.expect("a token in the header").value
        } else {
            assert!(out.session_header.is_none());
            let pair = out.set_cookie[0].split(';').next().unwrap();
            pair.strip_prefix("sessionid=").unwrap().to_owned()
        }
    }

    /// The session `token` names, as JSON (`{}` for no session).
    async fn read(&self, token: &str) -> String {
        let mut cookie = String::new();
        let req = self.engine.begin_with(self.ids(Some(token), &mut cookie));
        let s = req.load().await.unwrap();
        let items: sessionkit_core::value::Map = s.items().into_iter().collect();
        Data::from_map(items).to_json()
    }
}

async fn both(check: impl AsyncFn(bool)) {
    check(false).await;
    check(true).await;
}

#[tokio::test]
async fn round_trip_in_both_transports() {
    both(async |header| {
        let c = Client::new(store(&[&CookieKey::generate()]), header);
        let t1 = c.write(None, "n", 1).await;
        assert_eq!(c.read(&t1).await, r#"{"n":1}"#);
        let t2 = c.write(Some(&t1), "m", 2).await;
        assert_eq!(c.read(&t2).await, r#"{"n":1,"m":2}"#);
    })
    .await;
}

#[tokio::test]
async fn tampered_tokens_are_no_session() {
    both(async |header| {
        let c = Client::new(store(&[&CookieKey::generate()]), header);
        let token = c.write(None, "admin", 0).await;
        // Every position, changed to another base64 character.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let bad = String::from_utf8(bytes).unwrap();
            assert_eq!(c.read(&bad).await, "{}", "position {i} ({header})");
        }
    })
    .await;
}

#[tokio::test]
async fn truncated_and_extended_tokens_are_no_session() {
    both(async |header| {
        let c = Client::new(store(&[&CookieKey::generate()]), header);
        let token = c.write(None, "n", 1).await;
        for cut in 0..token.len() {
            assert_eq!(c.read(&token[..cut]).await, "{}", "cut at {cut} ({header})");
            assert_eq!(c.read(&token[cut + 1..]).await, "{}", "cut before {cut}");
        }
        assert_eq!(c.read(&format!("{token}A")).await, "{}");
        assert_eq!(c.read(&format!("{token}AAAA")).await, "{}");
    })
    .await;
}

#[tokio::test]
async fn another_key_reads_nothing() {
    both(async |header| {
        let ours = Client::new(store(&[&CookieKey::generate()]), header);
        let theirs = Client::new(store(&[&CookieKey::generate()]), header);
        let token = ours.write(None, "n", 1).await;
        assert_eq!(theirs.read(&token).await, "{}");
        // And a token of theirs is no session here, whatever it holds.
        let foreign = theirs.write(None, "admin", 1).await;
        assert_eq!(ours.read(&foreign).await, "{}");
    })
    .await;
}

#[tokio::test]
async fn rotation_keeps_sessions_then_retires_the_old_key() {
    both(async |header| {
        let old = CookieKey::generate();
        let new = CookieKey::generate();
        let before = Client::new(store(&[&old]), header);
        let during = Client::new(store(&[&new, &old]), header);
        let after = Client::new(store(&[&new]), header);

        let t_old = before.write(None, "n", 1).await;
        // The new key first, the old one kept: nobody is logged out.
        assert_eq!(during.read(&t_old).await, r#"{"n":1}"#);
        // A write re-seals under the new key, which the ring without the old key reads.
        let t_new = during.write(Some(&t_old), "n", 2).await;
        assert_eq!(after.read(&t_new).await, r#"{"n":2}"#);
        assert_eq!(
            before.read(&t_new).await,
            "{}",
            "the old ring lacks the new key"
        );
        // Once the old key is removed, a cookie it sealed is no session.
        assert_eq!(after.read(&t_old).await, "{}");
    })
    .await;
}

#[tokio::test]
async fn oversized_sessions_fail_the_request_in_both_transports() {
    both(async |header| {
        let c = Client::new(store(&[&CookieKey::generate()]), header);
        let req = c.engine.begin_with(SessionIds::new(None, None));
        let noise: String = (0..200)
            .map(|_| sessionkit_core::SessionKey::generate().as_str().to_owned())
            .collect();
        req.load().await.unwrap().insert("blob", noise).unwrap();
        let out = req.finish(200).await;
        assert_eq!(out.failure.expect("a 500").status, 500);
        assert!(out.set_cookie.is_empty() && out.session_header.is_none());
    })
    .await;
}

fn logs_of(f: impl FnOnce()) -> String {
    let logs = Logs::mark();
    f();
    logs.lines("WARN").join("\n")
}

#[test]
fn a_removed_key_is_logged_by_id_never_by_value() {
    let old_b64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let old = CookieKey::from_base64(old_b64, 1).unwrap();
    let new = CookieKey::generate();
    let token = store(&[&old]).encode(&Data::new(), NOW).unwrap();
    let logs = logs_of(|| assert!(store(&[&new]).decode(&token, NOW).is_none()));
    assert!(logs.contains("no longer in the key ring"), "{logs}");
    assert!(logs.contains(&old.id().to_string()), "{logs}");
    assert!(!logs.contains(&old_b64[..20]), "{logs}");
    // A forged value says so.
    let mut forged = token.into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let logs = logs_of(|| assert!(store(&[&old]).decode(&forged, NOW).is_none()));
    assert!(logs.contains("failed authentication"), "{logs}");
}

#[test]
fn describe_and_debug_show_no_key() {
    let key = CookieKey::from_bytes(&[0x5a; 32]);
    let s = store(&[&key]);
    assert_eq!(s.describe(), "encrypted-cookie://");
    let shown = format!("{s:?}");
    assert!(shown.contains(&key.id().to_string()), "{shown}");
    assert!(
        !shown.contains("90, 90") && !shown.contains("WlpaWlpa"),
        "{shown}"
    );
}

mod properties {
    use proptest::prelude::*;
    use sessionkit_core::value::Map;
    use sessionkit_core::{ClientStore, Data, Value};

    use super::{NOW, store};
    use sessionkit_encrypted_cookie::CookieKey;

    proptest! {
        #[test]
        fn encode_then_decode(entries in prop::collection::vec((".{0,8}", any::<i64>(), ".{0,16}"), 0..10)) {
            let map: Map = entries
                .into_iter()
                .map(|(k, i, s)| (k, Value::List(vec![Value::Int(i), Value::String(s)])))
                .collect();
            let s = store(&[&CookieKey::from_bytes(&[1; 32])]);
            let v = s.encode(&Data::from_map(map.clone()), NOW).unwrap();
            let back = s.decode(&v, NOW).unwrap();
            prop_assert_eq!(back.data.to_map(), map);
            prop_assert_eq!(back.issued_at, NOW);
        }

        #[test]
        fn arbitrary_values_never_panic(v in "[A-Za-z0-9_-]{0,400}|.{0,300}") {
            let s = store(&[&CookieKey::from_bytes(&[1; 32])]);
            prop_assert!(s.decode(&v, NOW).is_none());
        }
    }
}
