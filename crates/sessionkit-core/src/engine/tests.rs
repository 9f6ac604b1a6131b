//! The middleware rules (DJANGO.md §1.4 and checklist items 16–22, 35, 39–40, 72–84),
//! driven through the engine on the memory store. Tests are named after the checklist item
//! or the rule they pin.

use time::macros::datetime;

use super::*;
use crate::clock::ManualClock;
use crate::config::SameSite;
use crate::expiry::Expiry;
use crate::store::MemoryStore;

const T1: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

struct Harness {
    engine: Engine,
    store: MemoryStore,
    clock: ManualClock,
}

fn harness_with(config: Config) -> Harness {
    let store = MemoryStore::new();
    let clock = ManualClock::new(T1);
    let engine = Engine::new(store.clone(), config).with_clock(Arc::new(clock.clone()));
    Harness {
        engine,
        store,
        clock,
    }
}

fn harness() -> Harness {
    harness_with(Config::default())
}

/// The `name=value` part of a `Set-Cookie` value.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn value(set_cookie: &str) -> String {
    pair(set_cookie).split_once('=').unwrap().1.to_owned()
}

const REMOVAL: &str =
    "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax";

impl Harness {
    /// One request: the handler gets the loaded session (if `load`), then the response
    /// has `status`.
    async fn request(
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
    async fn untouched(&self, cookie: Option<&str>) -> Outcome {
        self.engine.begin(cookie).finish(200).await
    }

    /// Creates a session holding `count = 1` and returns its cookie pair.
    async fn new_session(&self) -> String {
        let out = self
            .request(None, 200, |s| s.insert("count", 1).unwrap())
            .await;
        pair(&out.set_cookie[0])
    }

    async fn read(&self, cookie: &str) -> Session {
        self.engine.begin(Some(cookie)).load().await.unwrap()
    }
}

#[tokio::test]
async fn item_83_first_write_sets_the_cookie_and_vary() {
    let h = harness();
    let out = h
        .request(None, 200, |s| s.insert("count", 1).unwrap())
        .await;
    assert_eq!(out.set_cookie.len(), 1);
    let c = &out.set_cookie[0];
    assert!(c.starts_with("sessionid="));
    assert_eq!(value(c).len(), 32);
    assert_eq!(
        &c[42..],
        "; expires=Thu, 15 Jan 2026 00:00:00 GMT; HttpOnly; Max-Age=1209600; Path=/; SameSite=Lax"
    );
    assert!(out.vary_cookie);
    assert!(out.failure.is_none());
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn lazy_creation_read_only_new_visitor_gets_no_record_and_no_cookie() {
    let h = harness();
    let out = h
        .request(None, 200, |s| {
            assert_eq!(s.get::<String>("color").unwrap(), None)
        })
        .await;
    assert!(out.set_cookie.is_empty());
    assert!(out.vary_cookie, "a read sends Vary: Cookie");
    assert_eq!(h.store.len(), 0);
}

#[tokio::test]
async fn untouched_session_sends_neither_cookie_nor_vary() {
    let h = harness();
    let cookie = h.new_session().await;
    for out in [
        h.untouched(Some(&cookie)).await,
        h.request(Some(&cookie), 200, |_| {}).await,
        h.untouched(None).await,
    ] {
        assert_eq!(out, Outcome::default());
    }
}

#[tokio::test]
async fn untouched_unknown_cookie_does_nothing() {
    // Django vector "untouched, unknown cookie presented, db engine".
    let h = harness();
    let out = h
        .untouched(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"))
        .await;
    assert_eq!(out, Outcome::default());
}

#[tokio::test]
async fn item_39_unknown_key_is_never_adopted() {
    let h = harness();
    let planted = "abcdefghijklmnopqrstuvwxyz012345";
    let cookie = format!("sessionid={planted}");
    // Read: the key resolves to nothing and the cookie is removed.
    let out = h
        .request(Some(&cookie), 200, |s| {
            assert_eq!(s.get::<i32>("x").unwrap(), None);
            assert_eq!(s.key(), None);
        })
        .await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
    assert_eq!(h.store.len(), 0, "a read creates no record");
    // Write: a new key is minted, never the client's.
    let out = h
        .request(Some(&cookie), 200, |s| s.insert("x", 1).unwrap())
        .await;
    let new = value(&out.set_cookie[0]);
    assert_ne!(new, planted);
    let planted_key = SessionKey::parse(planted).unwrap();
    assert!(matches!(
        h.store.load(&planted_key, T1).await.unwrap(),
        Lookup::Missing
    ));
}

#[tokio::test]
async fn impossible_keys_never_reach_the_store() {
    let h = harness();
    for bad in [
        "ABCDEFGHIJKL",
        "../../../etc/passwd",
        &"a".repeat(41),
        "abcdefgh-ijk",
    ] {
        let out = h
            .request(Some(&format!("sessionid={bad}")), 200, |s| {
                assert!(s.is_empty());
            })
            .await;
        assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()], "{bad}");
    }
    assert_eq!(h.engine.stats().loads, 0);
}

#[tokio::test]
async fn s11_short_cookie_is_removed_even_when_untouched() {
    let h = harness();
    for cookie in ["sessionid=", "sessionid=1234567", "sessionid=\"\""] {
        let out = h.untouched(Some(cookie)).await;
        assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()], "{cookie}");
        assert!(out.vary_cookie);
    }
}

#[tokio::test]
async fn items_16_17_save_then_delete() {
    let h = harness();
    let cookie = h.new_session().await;
    let key = SessionKey::parse(&cookie["sessionid=".len()..]).unwrap();
    assert!(matches!(
        h.store.load(&key, T1).await.unwrap(),
        Lookup::Found { .. }
    ));
    h.store.delete(&key).await.unwrap();
    assert!(matches!(
        h.store.load(&key, T1).await.unwrap(),
        Lookup::Missing
    ));
}

#[tokio::test]
async fn item_18_and_79_flush_deletes_record_and_cookie() {
    let h = harness();
    let cookie = h.new_session().await;
    let key = SessionKey::parse(&cookie["sessionid=".len()..]).unwrap();
    let out = h
        .request(Some(&cookie), 200, |s| {
            s.flush();
            assert_eq!(s.key(), None);
            assert!(s.modified() && s.accessed());
        })
        .await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
    assert!(out.vary_cookie);
    assert!(matches!(
        h.store.load(&key, T1).await.unwrap(),
        Lookup::Missing
    ));
}

#[tokio::test]
async fn item_80_removal_cookie_carries_domain_and_path() {
    let h = harness_with(
        Config::builder()
            .cookie_domain(".example.local")
            .cookie_path("/example/")
            .build()
            .unwrap(),
    );
    let cookie = h.new_session().await;
    let out = h.request(Some(&cookie), 200, Session::flush).await;
    assert_eq!(
        out.set_cookie,
        vec!["sessionid=\"\"; Domain=.example.local; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/example/; SameSite=Lax".to_owned()]
    );
}

#[tokio::test]
async fn item_81_flush_without_cookie_sets_nothing_but_vary() {
    let h = harness();
    let out = h.request(None, 200, Session::flush).await;
    assert!(out.set_cookie.is_empty());
    assert!(out.vary_cookie);
}

#[tokio::test]
async fn flush_then_write_starts_a_new_session() {
    let h = harness();
    let cookie = h.new_session().await;
    let out = h
        .request(Some(&cookie), 200, |s| {
            s.flush();
            s.insert("fresh", true).unwrap();
        })
        .await;
    assert_eq!(out.set_cookie.len(), 1);
    assert_ne!(pair(&out.set_cookie[0]), cookie);
    assert_eq!(h.store.len(), 1, "old record deleted, new one created");
}

#[tokio::test]
async fn items_19_20_cycle_key_keeps_data_under_a_new_key() {
    let h = harness();
    let cookie = h.new_session().await;
    let old = SessionKey::parse(&cookie["sessionid=".len()..]).unwrap();
    // Item 20: cycle without reading first.
    let out = h.request(Some(&cookie), 200, Session::cycle_key).await;
    let new_cookie = pair(&out.set_cookie[0]);
    assert_ne!(new_cookie, cookie);
    assert_eq!(
        h.read(&new_cookie).await.get::<i32>("count").unwrap(),
        Some(1)
    );
    assert!(matches!(
        h.store.load(&old, T1).await.unwrap(),
        Lookup::Retired { .. } | Lookup::Missing
    ));
    // The old key gains nothing.
    let s = h.read(&cookie).await;
    assert!(s.is_empty());
}

#[tokio::test]
async fn rotation_grace_sends_no_removal_cookie_to_the_old_key() {
    let h = harness();
    let cookie = h.new_session().await;
    h.request(Some(&cookie), 200, Session::cycle_key).await;
    // A late request with the old cookie reads: no removal cookie within the window.
    let out = h
        .request(Some(&cookie), 200, |s| assert!(s.is_empty()))
        .await;
    assert!(out.set_cookie.is_empty(), "{out:?}");
    // It writes: the write is dropped, no cookie that would replace the new one.
    let out = h
        .request(Some(&cookie), 200, |s| s.insert("x", 1).unwrap())
        .await;
    assert!(out.set_cookie.is_empty(), "{out:?}");
    // After the window the old key is an unknown key like any other.
    h.clock.advance(Duration::from_secs(31));
    let out = h
        .request(Some(&cookie), 200, |s| assert!(s.is_empty()))
        .await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
}

#[tokio::test]
async fn item_21_save_keeps_the_data() {
    let h = harness();
    let req = h.engine.begin(None);
    let s = req.load().await.unwrap();
    s.insert("a", 1).unwrap();
    req.finish(200).await;
    assert_eq!(s.get::<i32>("a").unwrap(), Some(1));
    assert!(s.key().is_some());
}

#[tokio::test]
async fn item_22_invalid_key_saves_under_a_new_key() {
    let h = harness();
    let out = h
        .request(Some("sessionid=1"), 200, |s| s.insert("a", 1).unwrap())
        .await;
    // The cookie was too short: the session is new, saved under a fresh key.
    assert_eq!(out.set_cookie.len(), 1);
    assert_ne!(value(&out.set_cookie[0]), "1");
    assert_eq!(value(&out.set_cookie[0]).len(), 32);
}

#[tokio::test]
async fn item_35_expired_session_is_not_served() {
    let h = harness();
    let out = h
        .request(None, 200, |s| {
            s.insert("a", 1).unwrap();
            s.set_expiry(Expiry::Seconds(10));
        })
        .await;
    let cookie = pair(&out.set_cookie[0]);
    assert!(out.set_cookie[0].contains("Max-Age=10"));
    h.clock.advance(Duration::from_secs(9));
    assert_eq!(h.read(&cookie).await.get::<i32>("a").unwrap(), Some(1));
    h.clock.advance(Duration::from_secs(1));
    assert!(h.read(&cookie).await.is_empty());
}

#[tokio::test]
async fn expiry_in_the_past_is_never_served() {
    let h = harness();
    let out = h
        .request(None, 200, |s| {
            s.insert("a", 1).unwrap();
            s.set_expiry(Expiry::Seconds(-10));
        })
        .await;
    assert!(out.set_cookie[0].contains("Max-Age=-10"), "{out:?}");
    assert!(out.set_cookie[0].contains("expires=Wed, 31 Dec 2025 23:59:50 GMT"));
    assert!(h.read(&pair(&out.set_cookie[0])).await.is_empty());
}

#[tokio::test]
async fn item_40_no_resurrection_after_concurrent_delete() {
    let h = harness();
    let cookie = h.new_session().await;
    let req = h.engine.begin(Some(&cookie));
    let s = req.load().await.unwrap();
    // A concurrent logout.
    h.request(Some(&cookie), 200, Session::flush).await;
    s.insert("late", 1).unwrap();
    let out = req.finish(200).await;
    let failure = out.failure.expect("SessionInterrupted");
    assert_eq!(failure.status, 400);
    assert_eq!(failure.message, INTERRUPTED_MESSAGE);
    assert!(out.set_cookie.is_empty());
    assert_eq!(h.store.len(), 0, "the session stays deleted");
    assert!(h.read(&cookie).await.is_empty());
}

#[tokio::test]
async fn items_76_77_5xx_saves_nothing() {
    let h = harness();
    let cookie = h.new_session().await;
    for status in [500, 503] {
        let out = h
            .request(Some(&cookie), status, |s| s.insert("count", 99).unwrap())
            .await;
        assert!(out.set_cookie.is_empty());
        assert!(out.vary_cookie);
        assert_eq!(h.read(&cookie).await.get::<i32>("count").unwrap(), Some(1));
    }
    // A new session is not created either.
    let out = h.request(None, 500, |s| s.insert("x", 1).unwrap()).await;
    assert!(out.set_cookie.is_empty());
    assert_eq!(h.store.len(), 1);
}

#[tokio::test]
async fn a_5xx_never_undoes_a_logout() {
    let h = harness();
    let cookie = h.new_session().await;
    let out = h.request(Some(&cookie), 500, Session::flush).await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
    assert_eq!(h.store.len(), 0);
}

#[tokio::test]
async fn a_5xx_rotates_nothing() {
    let h = harness();
    let cookie = h.new_session().await;
    let out = h.request(Some(&cookie), 500, Session::cycle_key).await;
    assert!(out.set_cookie.is_empty());
    assert_eq!(h.read(&cookie).await.get::<i32>("count").unwrap(), Some(1));
}

#[tokio::test]
async fn items_72_to_75_cookie_attributes() {
    let h = harness_with(
        Config::builder()
            .cookie_secure(true)
            .cookie_samesite(Some(SameSite::Strict))
            .build()
            .unwrap(),
    );
    let out = h.request(None, 200, |s| s.insert("a", 1).unwrap()).await;
    let c = &out.set_cookie[0];
    assert!(
        c.ends_with("; HttpOnly; Max-Age=1209600; Path=/; SameSite=Strict; Secure"),
        "{c}"
    );
    let h = harness_with(
        Config::builder()
            .cookie_httponly(false)
            .cookie_samesite(None)
            .build()
            .unwrap(),
    );
    let out = h.request(None, 200, |s| s.insert("a", 1).unwrap()).await;
    let c = &out.set_cookie[0];
    assert!(!c.contains("HttpOnly"), "{c}");
    assert!(!c.contains("SameSite"), "{c}");
    assert!(c.ends_with("; expires=Thu, 15 Jan 2026 00:00:00 GMT; Max-Age=1209600; Path=/"));
}

#[tokio::test]
async fn browser_close_cookie_has_no_lifetime_but_the_record_expires() {
    let h = harness_with(
        Config::builder()
            .expire_at_browser_close(true)
            .build()
            .unwrap(),
    );
    let out = h.request(None, 200, |s| s.insert("a", 1).unwrap()).await;
    let c = &out.set_cookie[0];
    assert_eq!(&c[42..], "; HttpOnly; Path=/; SameSite=Lax");
    // S15: the store still expires it after cookie_age.
    h.clock.advance(Duration::from_secs(1_209_600));
    assert!(h.read(&pair(c)).await.is_empty());
}

#[tokio::test]
async fn item_82_save_every_request_refreshes_untouched_sessions() {
    let h = harness_with(Config::builder().save_every_request(true).build().unwrap());
    let cookie = h.new_session().await;
    h.clock.advance(Duration::from_secs(100));
    let out = h.untouched(Some(&cookie)).await;
    assert_eq!(out.set_cookie.len(), 1);
    assert_eq!(pair(&out.set_cookie[0]), cookie);
    assert!(out.set_cookie[0].contains("expires=Thu, 15 Jan 2026 00:01:40 GMT"));
    assert!(out.vary_cookie);
    // The record's expiry slid too.
    h.clock.advance(Duration::from_secs(1_209_550));
    assert_eq!(h.read(&cookie).await.get::<i32>("count").unwrap(), Some(1));
}

#[tokio::test]
async fn save_every_request_with_an_unknown_key_creates_nothing() {
    // Deviation from Django (S14): no record for a garbage cookie; it is removed instead.
    let h = harness_with(Config::builder().save_every_request(true).build().unwrap());
    let out = h
        .untouched(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"))
        .await;
    assert_eq!(out.set_cookie, vec![REMOVAL.to_owned()]);
    assert_eq!(h.store.len(), 0);
}

#[tokio::test]
async fn item_84_session_emptied_with_del_is_saved_and_keeps_its_key() {
    let h = harness();
    let cookie = h.new_session().await;
    let out = h
        .request(Some(&cookie), 200, |s| {
            s.remove("count");
        })
        .await;
    assert_eq!(pair(&out.set_cookie[0]), cookie);
    assert!(out.vary_cookie);
    let s = h.read(&cookie).await;
    assert!(s.is_empty());
    assert!(s.key().is_some(), "still a stored session");
}

#[tokio::test]
async fn counter_flow() {
    let h = harness();
    let mut cookie: Option<String> = None;
    for want in 1..=3u64 {
        let out = h
            .request(cookie.as_deref(), 200, |s| {
                let n: u64 = s.get("count").unwrap().unwrap_or(0) + 1;
                s.insert("count", n).unwrap();
                assert_eq!(n, want);
            })
            .await;
        cookie = Some(pair(&out.set_cookie[0]));
    }
}

#[tokio::test]
async fn concurrent_writers_to_different_keys_both_land() {
    let h = harness();
    let cookie = h.new_session().await;
    let a = h.engine.begin(Some(&cookie));
    let b = h.engine.begin(Some(&cookie));
    let sa = a.load().await.unwrap();
    let sb = b.load().await.unwrap();
    sa.insert("a", 1).unwrap();
    sb.insert("b", 2).unwrap();
    assert!(a.finish(200).await.failure.is_none());
    assert!(b.finish(200).await.failure.is_none());
    let s = h.read(&cookie).await;
    assert_eq!(s.get::<i32>("a").unwrap(), Some(1));
    assert_eq!(s.get::<i32>("b").unwrap(), Some(2));
    let st = h.engine.stats();
    assert_eq!(st.conflicts, 1);
    assert_eq!(st.replays, 1);
    assert_eq!(st.overwrites, 0);
}

#[tokio::test]
async fn update_with_loses_no_increment_and_plain_writes_are_counted() {
    let h = harness();
    let cookie = h.new_session().await;
    let reqs: Vec<_> = (0..10).map(|_| h.engine.begin(Some(&cookie))).collect();
    for r in &reqs {
        let s = r.load().await.unwrap();
        s.update_with("count", |n: Option<u64>| n.unwrap_or(0) + 1)
            .unwrap();
    }
    for r in &reqs {
        assert!(r.finish(200).await.failure.is_none());
    }
    assert_eq!(h.read(&cookie).await.get::<u64>("count").unwrap(), Some(11));
    assert_eq!(h.engine.stats().conflicts, 9);

    // The same with a plain read-then-write: last writer wins, and it is counted.
    let reqs: Vec<_> = (0..3).map(|_| h.engine.begin(Some(&cookie))).collect();
    for r in &reqs {
        let s = r.load().await.unwrap();
        let n: u64 = s.get("count").unwrap().unwrap();
        s.insert("count", n + 1).unwrap();
    }
    for r in &reqs {
        r.finish(200).await;
    }
    assert_eq!(h.read(&cookie).await.get::<u64>("count").unwrap(), Some(12));
    assert_eq!(h.engine.stats().overwrites, 2);
}

#[tokio::test]
async fn retries_exhausted_is_a_503_with_retry_after() {
    let h = harness_with(Config::builder().max_save_attempts(1).build().unwrap());
    let cookie = h.new_session().await;
    let a = h.engine.begin(Some(&cookie));
    a.load().await.unwrap().insert("x", 1).unwrap();
    h.request(Some(&cookie), 200, |s| s.insert("y", 1).unwrap())
        .await;
    let out = a.finish(200).await;
    let f = out.failure.unwrap();
    assert_eq!(f.status, 503);
    assert_eq!(f.retry_after, Some(1));
    assert_eq!(h.engine.stats().exhausted, 1);
}

#[tokio::test]
async fn finish_twice_is_harmless_and_late_writes_are_lost() {
    let h = harness();
    let req = h.engine.begin(None);
    let s = req.load().await.unwrap();
    s.insert("a", 1).unwrap();
    let first = req.finish(200).await;
    assert_eq!(first.set_cookie.len(), 1);
    assert_eq!(req.finish(200).await, Outcome::default());
    s.insert("b", 2).unwrap(); // logged as lost
    let again = h.read(&pair(&first.set_cookie[0])).await;
    assert_eq!(again.get::<i32>("b").unwrap(), None);
}

#[tokio::test]
async fn idle_timeout_expires_and_touch_refreshes() {
    let h = harness_with(
        Config::builder()
            .idle_timeout(Duration::from_secs(600))
            .build()
            .unwrap(),
    );
    let out = h.request(None, 200, |s| s.insert("a", 1).unwrap()).await;
    assert!(out.set_cookie[0].contains("Max-Age=600"));
    let cookie = pair(&out.set_cookie[0]);
    // Within the touch interval (60 s): a read writes nothing.
    h.clock.advance(Duration::from_secs(30));
    let out = h
        .request(Some(&cookie), 200, |s| assert!(!s.is_empty()))
        .await;
    assert!(out.set_cookie.is_empty());
    // After it: a touch-only write re-sends the cookie with a fresh Max-Age.
    h.clock.advance(Duration::from_secs(60));
    let out = h
        .request(Some(&cookie), 200, |s| assert!(!s.is_empty()))
        .await;
    assert_eq!(out.set_cookie.len(), 1, "{out:?}");
    assert!(out.set_cookie[0].contains("Max-Age=600"));
    assert_eq!(h.engine.stats().touches, 1);
    // Idle for longer than the timeout: gone.
    h.clock.advance(Duration::from_secs(600));
    assert!(h.read(&cookie).await.is_empty());
}

#[tokio::test]
async fn absolute_timeout_ends_even_an_active_session() {
    let h = harness_with(
        Config::builder()
            .idle_timeout(Duration::from_secs(600))
            .absolute_timeout(Duration::from_secs(1000))
            .build()
            .unwrap(),
    );
    let out = h.request(None, 200, |s| s.insert("a", 1).unwrap()).await;
    let cookie = pair(&out.set_cookie[0]);
    for _ in 0..3 {
        h.clock.advance(Duration::from_secs(300));
        let out = h
            .request(Some(&cookie), 200, |s| s.insert("a", 2).unwrap())
            .await;
        assert!(out.failure.is_none());
    }
    // 900 s in: the cookie's Max-Age is capped by the 100 s left.
    let out = h
        .request(Some(&cookie), 200, |s| s.insert("a", 3).unwrap())
        .await;
    assert!(out.set_cookie[0].contains("Max-Age=100"), "{out:?}");
    h.clock.advance(Duration::from_secs(100));
    assert!(h.read(&cookie).await.is_empty());
}

#[tokio::test]
async fn lock_mode_serializes_requests_of_one_session() {
    let h = harness_with(
        Config::builder()
            .concurrency(Concurrency::Lock)
            .lock_timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    );
    let cookie = h.new_session().await;
    let a = h.engine.begin(Some(&cookie));
    let sa = a.load().await.unwrap();
    // A second request waits for the first and times out with a 503.
    let b = h.engine.begin(Some(&cookie));
    assert!(matches!(b.load().await, Err(LoadError::Locked(_))));
    sa.insert("count", 2).unwrap();
    a.finish(200).await;
    // Released: the next request gets in and sees the write.
    let c = h.engine.begin(Some(&cookie));
    assert_eq!(
        c.load().await.unwrap().get::<i32>("count").unwrap(),
        Some(2)
    );
    c.finish(200).await;
    assert!(h.engine.inner.locks.map.lock().unwrap().is_empty());
}

#[tokio::test]
async fn store_failures_are_503s() {
    #[derive(Clone)]
    struct Down;
    impl SessionStore for Down {
        async fn load(&self, _: &SessionKey, _: OffsetDateTime) -> Result<Lookup, StoreError> {
            Err(StoreError::new(StoreErrorKind::Unavailable, "down"))
        }
        async fn create(
            &self,
            _: &SessionKey,
            _: &Record,
            _: OffsetDateTime,
        ) -> Result<CreateOutcome, StoreError> {
            Err(StoreError::new(StoreErrorKind::Unavailable, "down"))
        }
        async fn save(
            &self,
            _: &SessionKey,
            _: &Record,
            _: &Token,
            _: OffsetDateTime,
        ) -> Result<SaveOutcome, StoreError> {
            Err(StoreError::new(StoreErrorKind::Unavailable, "down"))
        }
        async fn delete(&self, _: &SessionKey) -> Result<(), StoreError> {
            Err(StoreError::new(StoreErrorKind::Unavailable, "down"))
        }
        async fn touch(
            &self,
            _: &SessionKey,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            Err(StoreError::new(StoreErrorKind::Unavailable, "down"))
        }
        async fn clear_expired(&self, _: OffsetDateTime) -> Result<u64, StoreError> {
            Err(StoreError::new(StoreErrorKind::Unavailable, "down"))
        }
    }
    let engine = Engine::new(Down, Config::default());
    let req = engine.begin(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"));
    assert!(matches!(req.load().await, Err(LoadError::Store(_))));
    let req = engine.begin(None);
    req.load().await.unwrap().insert("a", 1).unwrap();
    let out = req.finish(200).await;
    assert_eq!(out.failure.as_ref().map(|f| f.status), Some(503));
    assert!(out.set_cookie.is_empty());
    // A route that does not use the session is unaffected.
    let out = engine
        .begin(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"))
        .finish(200)
        .await;
    assert_eq!(out, Outcome::default());
}

#[tokio::test]
async fn slow_store_load_times_out() {
    struct Slow;
    impl SessionStore for Slow {
        async fn load(&self, _: &SessionKey, _: OffsetDateTime) -> Result<Lookup, StoreError> {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(Lookup::Missing)
        }
        async fn create(
            &self,
            _: &SessionKey,
            _: &Record,
            _: OffsetDateTime,
        ) -> Result<CreateOutcome, StoreError> {
            Ok(CreateOutcome::Collision)
        }
        async fn save(
            &self,
            _: &SessionKey,
            _: &Record,
            _: &Token,
            _: OffsetDateTime,
        ) -> Result<SaveOutcome, StoreError> {
            Ok(SaveOutcome::Missing)
        }
        async fn delete(&self, _: &SessionKey) -> Result<(), StoreError> {
            Ok(())
        }
        async fn touch(
            &self,
            _: &SessionKey,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn clear_expired(&self, _: OffsetDateTime) -> Result<u64, StoreError> {
            Ok(0)
        }
    }
    let engine = Engine::new(
        Slow,
        Config::builder()
            .load_timeout(Duration::from_millis(50))
            .build()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let req = engine.begin(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"));
    assert!(matches!(req.load().await, Err(LoadError::Timeout(_))));
    assert!(started.elapsed() < Duration::from_secs(10));
}

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

/// A client-side store for tests: the cookie is the hex of the JSON, "signed" by nothing.
struct HexCookie;

impl ClientStore for HexCookie {
    fn decode(&self, value: &str, _now: OffsetDateTime) -> Option<crate::store::CookieContents> {
        let (ts, hex) = value.split_once('.')?;
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        let data = Data::from_json(String::from_utf8(bytes?).ok()?.into()).ok()?;
        let issued_at = OffsetDateTime::from_unix_timestamp(ts.parse().ok()?).ok()?;
        Some(crate::store::CookieContents { data, issued_at })
    }

    fn encode(&self, data: &Data, now: OffsetDateTime) -> Result<String, StoreError> {
        let hex: String = data.to_json().bytes().map(|b| format!("{b:02x}")).collect();
        Ok(format!("{}.{hex}", now.unix_timestamp()))
    }
}

#[tokio::test]
async fn regression_client_side_new_session_is_encoded_not_created() {
    let clock = ManualClock::new(T1);
    let engine =
        Engine::client_side(HexCookie, Config::default()).with_clock(Arc::new(clock.clone()));
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
    let listed = h.store.listing().unwrap().list(T1, None, 10).await.unwrap();
    assert!(listed.iter().all(|i| i.key != key));
}
