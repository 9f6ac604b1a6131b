//! Store faults (docs/RELIABILITY.md): a server that is down, unresponsive, killed and
//! restarted under load; SQLite read-only, full or locked. Every test is named `fault_…`:
//! nextest runs them one at a time (the `faults` group in .config/nextest.toml), and they
//! hold [`fault_lock`](crate::support::fault_lock) so that `cargo test`'s threads don't overlap either.
//!
//! Down and unresponsive servers are made with a [`Proxy`](crate::support::Proxy) between the app and the shared
//! local server (nothing shared is stopped); "restarted under load" kills and restarts a
//! [`Private`](crate::support::Private) server of the test's own, on a free port.
//!
//! The tests are grouped by fault kind — `network` (down, unresponsive), `restart`
//! (killed under load), `cluster` (a primary lost), `sqlite` (read-only, full, locked) —
//! and their fixtures live in `fixtures`.

mod cluster;
mod fixtures;
mod network;
mod restart;
mod sqlite;

use std::time::{Duration, Instant};

use crate::support::{App, Reply};

pub(crate) use fixtures::cluster_lock;

/// The load and save timeouts of [`fault_config`].
const TIMEOUT: Duration = Duration::from_secs(1);
/// Scheduling slack on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_secs(2);
/// "Requests succeed again within about a second": asserted with a generous margin; the
/// measured time is printed (and recorded in docs/RELIABILITY.md).
const RECOVERY_LIMIT: Duration = Duration::from_secs(3);

/// A session with count 2 (two /atomic requests), its cookie.
async fn counted(app: &App) -> String {
    let r = app.get("/atomic", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let cookie = r.cookie().unwrap();
    let r = app.get("/atomic", Some(&cookie)).await;
    assert_eq!(r.count(), Some(2), "{r:?}");
    cookie
}

fn assert_unavailable(r: &Reply, what: &str) {
    assert_eq!(r.status, 503, "{what}: {r:?}");
    // Retry-After: present, whole seconds. (Load failures send 1 whatever the configured
    // `retry_after` says: see `load_failures_send_the_configured_retry_after`.)
    assert!(
        r.retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n >= 1)),
        "{what}: {r:?}"
    );
    assert_eq!(
        r.body,
        sessionkit_core::UNAVAILABLE_MESSAGE,
        "{what}: the handler's answer is not reported"
    );
    assert!(
        r.set_cookie.iter().all(|c| c.contains("Max-Age=0")),
        "{what}: no session cookie for work that was not saved: {r:?}"
    );
}

/// Waits until the session's /atomic answers 200 again; returns how long that took and
/// the count it answered.
async fn recovery(app: &App, cookie: &str) -> (Duration, u64) {
    let started = Instant::now();
    loop {
        let r = app.get("/atomic", Some(cookie)).await;
        assert!(matches!(r.status, 200 | 503), "{r:?}");
        if r.status == 200 {
            return (started.elapsed(), r.count().unwrap());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the store never came back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
