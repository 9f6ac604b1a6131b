//! A server that is down, or that stops answering, and then comes back.

use std::time::Duration;

use crate::support::{Logs, Mode, fault_lock, mysql_url, postgres_url, redis_url};

use super::fixtures::proxied;
use super::{MARGIN, RECOVERY_LIMIT, TIMEOUT, assert_unavailable, counted, recovery};

/// The store goes down (connections cut, new ones closed at once): loads and saves are
/// prompt 503s with Retry-After and a logged cause, routes without the session keep
/// answering, and once it is back requests succeed again without a restart of the app,
/// with the session as it was.
async fn down_and_back(name: &str, url: &str) {
    let _lock = fault_lock().await;
    let Some((proxy, app)) = proxied(url).await else {
        return;
    };
    let cookie = counted(&app).await;
    let logs = Logs::mark();
    proxy.set(Mode::Down);

    let r = app.get("/", Some(&cookie)).await;
    assert_unavailable(&r, "load while down");
    assert!(r.took < TIMEOUT + MARGIN, "never a hang: {:?}", r.took);
    let r = app.get("/healthz", Some(&cookie)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    assert!(r.took < Duration::from_millis(500), "{:?}", r.took);
    // A new visitor: the load needs no store; the save fails.
    let r = app.get("/color/set?color=red", None).await;
    assert_unavailable(&r, "save while down");
    assert!(r.took < TIMEOUT + MARGIN, "never a hang: {:?}", r.took);
    let errors = logs.lines("ERROR").join("\n");
    assert!(
        errors.contains("session load failed") || errors.contains("session load timed out"),
        "{errors}"
    );
    assert!(
        errors.contains("session store failed") && errors.contains("operation=\"create\""),
        "the failed save is logged with its cause: {errors}"
    );

    proxy.set(Mode::Up);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("{name}: down -> back: requests succeed again after {took:?}");
    assert!(took < RECOVERY_LIMIT, "{name}: back after {took:?}");
    assert_eq!(
        count, 3,
        "{name}: the session is as it was before the outage"
    );
}

/// The store stops answering (connections stay open, nothing comes back): loads answer
/// 503 after the load timeout, saves after the save timeout, other routes are not held
/// up, and when the store answers again (delivering what it held) requests succeed.
async fn frozen_and_back(name: &str, url: &str) {
    let _lock = fault_lock().await;
    let Some((proxy, app)) = proxied(url).await else {
        return;
    };
    let cookie = counted(&app).await;
    let logs = Logs::mark();
    proxy.set(Mode::Frozen);

    let load = {
        let app = app.clone();
        let cookie = cookie.clone();
        tokio::spawn(async move { app.get("/", Some(&cookie)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = app.get("/healthz", Some(&cookie)).await;
    assert_eq!(r.status, 200);
    assert!(r.took < Duration::from_millis(500), "{:?}", r.took);
    let r = load.await.unwrap();
    assert_unavailable(&r, "load while frozen");
    assert!(
        r.took >= TIMEOUT - Duration::from_millis(50) && r.took < TIMEOUT + MARGIN,
        "503 after the load timeout: {:?}",
        r.took
    );
    let r = app.get("/color/set?color=red", None).await;
    assert_unavailable(&r, "save while frozen");
    assert!(r.took < TIMEOUT + MARGIN, "{:?}", r.took);
    let text = logs.text();
    assert!(text.contains("session load timed out"), "{text}");
    assert!(
        text.contains("session store failed") && text.contains("no answer within 1s"),
        "{text}"
    );

    proxy.set(Mode::Up);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("{name}: frozen -> answering: requests succeed again after {took:?}");
    assert!(took < RECOVERY_LIMIT, "{name}: back after {took:?}");
    assert_eq!(
        count, 3,
        "{name}: the session is as it was before the stall"
    );
    // And it stays consistent: a few more increments count one by one.
    for n in 4..=6 {
        let r = app.get("/atomic", Some(&cookie)).await;
        assert_eq!(r.count(), Some(n), "{name}: {r:?}");
    }
}

/// The two tests of each server, from one table: the test names stay those that
/// docs/RELIABILITY.md cites.
macro_rules! per_server {
    ($($down:ident, $frozen:ident: $name:literal => $url:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $down() {
            down_and_back($name, &$url).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $frozen() {
            frozen_and_back($name, &$url).await;
        }
    )*};
}

per_server! {
    fault_postgres_down_then_back, fault_postgres_unresponsive_then_back: "postgres" => postgres_url();
    fault_mysql_down_then_back, fault_mysql_unresponsive_then_back: "mariadb" => mysql_url();
    fault_redis_down_then_back, fault_redis_unresponsive_then_back: "redis" => redis_url();
}

/// `Config::retry_after` (2 s in [`fault_config`]) is the `Retry-After` of every 503 the
/// store causes. Saves honour it; load failures, answered by the extractor's rejection,
/// always send `1` (`extract_axum.rs` and `extract_actix.rs` hard-code it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_failures_send_the_configured_retry_after() {
    let Some((proxy, app)) = proxied(&redis_url()).await else {
        return;
    };
    let cookie = counted(&app).await;
    proxy.set(Mode::Down);
    let save = app.get("/color/set?color=red", None).await;
    assert_eq!(save.retry_after.as_deref(), Some("2"), "{save:?}");
    let load = app.get("/", Some(&cookie)).await;
    assert_eq!(load.retry_after.as_deref(), Some("2"), "{load:?}");
}
