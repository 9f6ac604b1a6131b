//! The idle and absolute timeouts.

use std::time::Duration;

use sessionkit_core::*;

use super::*;

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
