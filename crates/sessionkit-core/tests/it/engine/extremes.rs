//! Issue 13's bugs, each pinned: huge expiries saturate at the latest representable date
//! (never "now"), extreme settings are refused at build time (never a panic on a save),
//! `cycle_key` keeps the absolute timeout, and the removal cookie is as strong as the
//! cookie it removes.

use std::time::Duration;

use sessionkit_core::*;

use super::*;

/// The year-9999 instant every addition saturates at, as a cookie carries it.
const LATEST_HTTP_DATE: &str = "expires=Fri, 31 Dec 9999 23:59:59 GMT";

fn max_age(set_cookie: &str) -> i64 {
    set_cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap()
}

/// A new session holding `a = 1`, saved with `expiry`.
async fn saved_with(h: &Harness, expiry: Expiry) -> Outcome {
    h.request(None, 200, |s| {
        s.set_expiry(expiry);
        s.insert("a", 1).unwrap();
    })
    .await
}

#[tokio::test]
async fn regression_13_huge_relative_expiry_saturates_instead_of_ending_the_session() {
    let h = harness();
    let out = saved_with(&h, Expiry::Seconds(i64::MAX)).await;
    let c = &out.set_cookie[0];
    assert!(c.contains(LATEST_HTTP_DATE), "{c}");
    // Max-Age and expires agree: the seconds until the year 9999 ends.
    let until_latest = (datetime!(9999-12-31 23:59:59.999999999 UTC) - T1).whole_seconds();
    assert_eq!(max_age(c), until_latest);
    let cookie = pair(c);
    // A second later, and a century later, the session is still there.
    h.clock.advance(Duration::from_secs(1));
    assert_eq!(h.read(&cookie).await.get::<i32>("a").unwrap(), Some(1));
    h.clock.advance(Duration::from_secs(100 * 365 * 24 * 3600));
    assert_eq!(h.read(&cookie).await.get::<i32>("a").unwrap(), Some(1));
}

#[tokio::test]
async fn regression_13_huge_absolute_expiry_saturates() {
    let h = harness();
    let out = saved_with(&h, Expiry::In(Duration::MAX)).await;
    let c = &out.set_cookie[0];
    assert!(c.contains(LATEST_HTTP_DATE), "{c}");
    assert!(max_age(c) > 0, "{c}");
    h.clock.advance(Duration::from_secs(3600));
    assert_eq!(h.read(&pair(c)).await.get::<i32>("a").unwrap(), Some(1));
}

#[tokio::test]
async fn regression_13_extreme_negative_expiry_is_expired_not_a_panic() {
    let h = harness();
    let out = saved_with(&h, Expiry::Seconds(i64::MIN)).await;
    assert!(out.failure.is_none(), "{out:?}");
    let cookie = pair(&out.set_cookie[0]);
    assert!(h.read(&cookie).await.is_empty());
}

#[tokio::test]
async fn regression_13_longest_timeouts_build_and_save_without_panicking() {
    let longest = Duration::from_secs(253_402_300_799);
    let h = harness_with(
        Config::builder()
            .idle_timeout(longest)
            .absolute_timeout(longest)
            .cookie_age(i64::try_from(longest.as_secs()).unwrap())
            .build()
            .unwrap(),
    );
    let out = h.request(None, 200, |s| s.insert("a", 1).unwrap()).await;
    assert!(out.failure.is_none(), "{out:?}");
    let cookie = pair(&out.set_cookie[0]);
    assert!(out.set_cookie[0].contains(LATEST_HTTP_DATE), "{out:?}");
    h.clock.advance(Duration::from_secs(3600));
    let out = h
        .request(Some(&cookie), 200, |s| s.insert("a", 2).unwrap())
        .await;
    assert!(out.failure.is_none(), "{out:?}");
    assert_eq!(h.read(&cookie).await.get::<i32>("a").unwrap(), Some(2));
}

#[test]
fn regression_13_unrepresentable_settings_are_refused() {
    for b in [
        Config::builder().cookie_age(i64::MAX),
        Config::builder().idle_timeout(Duration::MAX),
        Config::builder().absolute_timeout(Duration::MAX),
    ] {
        assert!(b.build().is_err());
    }
}

/// A harness with a 2-hour absolute timeout, and a new session's cookie pair.
async fn new_session_with_a_2h_absolute_timeout() -> (Harness, String) {
    let h = harness_with(
        Config::builder()
            .absolute_timeout(Duration::from_secs(2 * 3600))
            .build()
            .unwrap(),
    );
    let cookie = h.new_session().await;
    (h, cookie)
}

#[tokio::test]
async fn regression_13_cycle_key_keeps_the_absolute_timeout() {
    let (h, cookie) = new_session_with_a_2h_absolute_timeout().await;
    // A periodic key renewal just before the end...
    h.clock.advance(Duration::from_secs(3600 + 57 * 60));
    let out = h.request(Some(&cookie), 200, Session::cycle_key).await;
    let c = &out.set_cookie[0];
    // ...gets a cookie for the 3 minutes left, not for another 2 hours.
    assert_eq!(max_age(c), 180, "{c}");
    let renewed = pair(c);
    h.clock.advance(Duration::from_secs(179));
    assert!(!h.read(&renewed).await.is_empty());
    h.clock.advance(Duration::from_secs(1));
    assert!(
        h.read(&renewed).await.is_empty(),
        "the absolute timeout holds"
    );
}

#[tokio::test]
async fn a_login_restarts_the_absolute_timeout() {
    let (h, cookie) = new_session_with_a_2h_absolute_timeout().await;
    h.clock.advance(Duration::from_secs(3600));
    let out = h.request(Some(&cookie), 200, |s| s.login("alice")).await;
    let c = &out.set_cookie[0];
    assert_eq!(max_age(c), 2 * 3600, "a fresh authentication: {c}");
    let logged_in = pair(c);
    h.clock.advance(Duration::from_secs(2 * 3600 - 1));
    assert_eq!(h.read(&logged_in).await.user_id().as_deref(), Some("alice"));
}

#[tokio::test]
async fn regression_13_removal_cookie_carries_secure_and_httponly() {
    let set_cookie = removal_cookie(Config::builder().cookie_secure(true)).await;
    assert_eq!(
        set_cookie,
        vec![
            "sessionid=\"\"; Domain=.example.local; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Max-Age=0; Path=/; SameSite=Lax; Secure"
                .to_owned()
        ]
    );
}

#[tokio::test]
async fn cleanup_with_a_zero_period_does_not_panic() {
    let task = spawn_cleanup(MemoryStore::new(), Arc::new(SystemClock), Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!task.is_finished(), "the cleanup task is still running");
    task.abort();
}
