//! Django's middleware rules, item by item.

use std::time::Duration;

use sessionkit_core::*;

use super::*;

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
    let set_cookie = removal_cookie(Config::builder().cookie_path("/example/")).await;
    assert_eq!(
        set_cookie,
        vec!["sessionid=\"\"; Domain=.example.local; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/example/; SameSite=Lax".to_owned()]
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
