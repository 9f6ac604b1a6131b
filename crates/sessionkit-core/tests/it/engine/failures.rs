//! Store failures: 503s with Retry-After, load timeouts.

use std::time::Duration;

use sessionkit_core::*;

use sessionkit_testkit::fakes::{Down, Hang};

#[tokio::test]
async fn store_failures_are_503s() {
    let engine = Engine::new(Down, Config::default());
    let req = engine.begin(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"));
    assert!(matches!(
        req.load().await.map_err(|e| e.kind()),
        Err(LoadErrorKind::Store)
    ));
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
    let engine = Engine::new(
        Hang,
        Config::builder()
            .load_timeout(Duration::from_millis(50))
            .build()
            .unwrap(),
    );
    let started = std::time::Instant::now();
    let req = engine.begin(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"));
    assert!(matches!(
        req.load().await.map_err(|e| e.kind()),
        Err(LoadErrorKind::Timeout(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
}
