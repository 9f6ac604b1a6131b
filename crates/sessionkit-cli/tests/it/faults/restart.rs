//! A private server killed (SIGKILL) and restarted under load.

use std::time::Duration;

use sessionkit_core::{Lookup, SessionKey};
use time::OffsetDateTime;

use crate::support::{App, Kind, Logs, fault_config, fault_lock, open, private};

use super::fixtures::{Load, load_summary};
use super::{MARGIN, RECOVERY_LIMIT, TIMEOUT};

/// A private server under load from 6 clients: killed with SIGKILL (requests answer 503,
/// promptly), restarted on the same port and data (requests succeed again within about a
/// second, no app restart), and afterwards every acknowledged count is in the store.
async fn restart_under_load(kind: Kind) {
    let _lock = fault_lock().await;
    let Some(mut server) = tokio::task::block_in_place(|| private(kind)) else {
        return;
    };
    let opened = open(&server.url()).await.expect("the private server");
    let app = App::new(opened.engine(fault_config()));
    let logs = Logs::mark();
    let load = Load::start(&app, 6, false).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok, unavailable) = load.totals();
    assert!(ok > 20, "{kind:?}: {ok} successes in a second");
    assert_eq!(unavailable, 0, "{kind:?}: no 5xx without a fault");

    tokio::task::block_in_place(|| server.kill());
    let killed = load.totals();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = load.totals();
    assert!(
        during.1 > killed.1,
        "{kind:?}: 503s while the server is dead: {killed:?} -> {during:?}"
    );

    tokio::task::block_in_place(|| server.restart()).expect("restart");
    let took = load
        .until_every_client_succeeds(Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("{kind:?}: not every client recovered"));
    eprintln!(
        "{kind:?}: every client succeeds again {took:?} after the server accepts connections"
    );
    assert!(took < RECOVERY_LIMIT, "{kind:?}: {took:?}");
    // Requests sent before the recovery may still end in a 503 (within the timeout); from
    // then on, none.
    tokio::time::sleep(TIMEOUT + Duration::from_millis(200)).await;
    let after = load.totals();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = load.totals();
    assert_eq!(
        settled.1, after.1,
        "{kind:?}: no 5xx once recovered: {after:?} -> {settled:?}"
    );
    let tallies = load.finish().await;
    eprintln!("{kind:?}: {:?}", load_summary(&tallies));

    // Every acknowledged write is in the store (a write whose answer was lost to the
    // kill may have landed too).
    let store = app.engine.store().unwrap();
    for (cookie, t) in &tallies {
        assert!(
            t.slowest < TIMEOUT + MARGIN,
            "{kind:?}: a request took {:?}",
            t.slowest
        );
        let key = SessionKey::parse(cookie.split_once('=').unwrap().1).unwrap();
        let Lookup::Found { record, .. } = store
            .load_boxed(&key, OffsetDateTime::now_utc())
            .await
            .unwrap()
        else {
            panic!("{kind:?}: a session with acknowledged writes is gone")
        };
        let stored = u64::try_from(record.data.get("count").unwrap().as_i64().unwrap()).unwrap();
        assert!(
            stored >= t.acked && stored <= t.acked + t.uncertain,
            "{kind:?}: stored {stored}, acknowledged {}, {} uncertain",
            t.acked,
            t.uncertain
        );
    }
    let errors = logs.lines("ERROR");
    assert!(!errors.is_empty(), "{kind:?}: the outage is logged");
}

/// One test per server kind, from one table.
macro_rules! per_kind {
    ($($test:ident => $kind:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            restart_under_load($kind).await;
        }
    )*};
}

per_kind! {
    fault_postgres_restarted_under_load => Kind::Postgres;
    fault_mariadb_restarted_under_load => Kind::MariaDb;
    fault_redis_restarted_under_load => Kind::Redis;
}
