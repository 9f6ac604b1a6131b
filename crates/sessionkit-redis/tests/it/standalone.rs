//! A standalone server: the conformance suite and what is specific to Redis.

use sessionkit_core::store::Page;
use std::time::{Duration, Instant};

use sessionkit_core::{
    CreateOutcome, Lookup, SaveOutcome, SessionKey, SessionStore, StoreErrorKind, Token,
};
use sessionkit_redis::RedisStore;
use sessionkit_testkit::{Profile, require};
use time::OffsetDateTime;

use crate::common::{
    NOW, Server, created, exec, exists, first_visit, raw, record, redis_url, secs, standalone,
    standalone_and_raw, unique_prefix, unused_port,
};

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::full().with_leases(), standalone());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cleaners_share_many_records() {
    if let Some(store) = standalone().await {
        crate::common::two_cleaners_count_each_record_once(&store).await;
    }
}

#[tokio::test]
async fn real_ttls_evict_expired_records() {
    let Some((store, mut raw)) = standalone_and_raw().await else {
        return;
    };
    let now = OffsetDateTime::now_utc();
    let key = SessionKey::generate();
    created(&store, &key, &record("{}", now + secs(1), None), now).await;
    let name = store.layout().session(&key);
    assert_eq!(exists(&mut raw, &name).await, 1);
    let pttl = exec::<i64>(&mut raw, &["PTTL", &name]).await;
    assert!((1..=1000).contains(&pttl), "pttl {pttl}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        exists(&mut raw, &name).await,
        0,
        "Redis evicted the record by its TTL"
    );
}

/// TTLs come from the engine's clock (`expires_at - now`), not from the server's: the
/// suite's clock is in the past, yet the TTLs are what the records have left.
#[tokio::test]
async fn every_write_sets_the_ttl_from_the_given_now() {
    let Some((store, mut raw)) = standalone_and_raw().await else {
        return;
    };
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    let user_set = store.layout().user("u1");
    let pttl = |raw: &mut redis::aio::MultiplexedConnection, k: String| {
        let mut raw = raw.clone();
        async move { exec::<i64>(&mut raw, &["PTTL", &k]).await }
    };
    let near = |got: i64, want: i64| (want - 1500..=want).contains(&got);

    created(
        &store,
        &key,
        &record("{}", NOW + secs(100), Some("u1")),
        NOW,
    )
    .await;
    let got = pttl(&mut raw, name.clone()).await;
    assert!(near(got, 100_000), "after create: {got}");
    // Both TTLs are set in one script; they are read a moment apart.
    assert!(pttl(&mut raw, user_set.clone()).await + 100 >= got);

    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("created")
    };
    let out = store
        .save(
            &key,
            &record("{}", NOW + secs(200), Some("u1")),
            &token,
            NOW + secs(10),
        )
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)));
    let got = pttl(&mut raw, name.clone()).await;
    assert!(near(got, 190_000), "after save: {got}");

    assert!(
        store
            .touch(&key, NOW + secs(400), NOW + secs(20))
            .await
            .unwrap()
    );
    let got = pttl(&mut raw, name.clone()).await;
    assert!(near(got, 380_000), "after touch: {got}");
    assert!(
        pttl(&mut raw, user_set.clone()).await + 100 >= got,
        "the user's set lives as long as its longest session"
    );

    // The marker's TTL runs to `until` on the engine's clock (here NOW + 20 s).
    store.retire(&key, NOW + secs(30)).await.unwrap();
    let got = pttl(&mut raw, name.clone()).await;
    assert!(near(got, 10_000), "after retire: {got}");
    assert!(matches!(
        store.load(&key, NOW + secs(25)).await.unwrap(),
        Lookup::Retired { .. }
    ));

    // A write whose expiry is already past at `now` leaves nothing behind.
    let gone = SessionKey::generate();
    created(&store, &gone, &record("{}", NOW, None), NOW).await;
    assert_eq!(exists(&mut raw, &store.layout().session(&gone)).await, 0);
    let key2 = SessionKey::generate();
    created(&store, &key2, &record("{}", NOW + secs(100), None), NOW).await;
    let Lookup::Found { token, .. } = store.load(&key2, NOW).await.unwrap() else {
        panic!("created")
    };
    let out = store
        .save(
            &key2,
            &record("{}", NOW + secs(5), None),
            &token,
            NOW + secs(5),
        )
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)));
    assert_eq!(exists(&mut raw, &store.layout().session(&key2)).await, 0);
}

/// On a standalone server the scripts keep the user sets in the same atomic step.
#[tokio::test]
async fn the_user_index_moves_with_the_session() {
    let Some((store, mut raw)) = standalone_and_raw().await else {
        return;
    };
    let key = SessionKey::generate();
    let member = |set: String| {
        let mut raw = raw.clone();
        let k = key.as_str().to_owned();
        async move { exec::<i64>(&mut raw, &["SISMEMBER", &set, &k]).await }
    };
    let (a, b) = (store.layout().user("a"), store.layout().user("b"));
    created(&store, &key, &record("{}", NOW + secs(60), Some("a")), NOW).await;
    assert_eq!(member(a.clone()).await, 1);
    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("created")
    };
    store
        .save(&key, &record("{}", NOW + secs(60), Some("b")), &token, NOW)
        .await
        .unwrap();
    assert_eq!(member(a.clone()).await, 0, "left the old user's set");
    assert_eq!(member(b.clone()).await, 1);
    // A save without a user (the common case's shape) over a record with one: the cheap
    // path defers to the full script, which takes the session out of the user's set.
    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("saved")
    };
    let mut anonymous = record("{}", NOW + secs(60), None);
    anonymous.meta.created_at = Some(NOW);
    assert_eq!(
        store.save(&key, &anonymous, &token, NOW).await.unwrap(),
        SaveOutcome::Saved(Token::version(3))
    );
    assert_eq!(member(b.clone()).await, 0, "left the set with its user");
    let Lookup::Found { record: back, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("saved")
    };
    assert_eq!(back.meta.user_id, None);
    store.delete(&key).await.unwrap();
    assert_eq!(member(b).await, 0);
    assert_eq!(exists(&mut raw, &a).await, 0);
}

#[tokio::test]
async fn unreadable_records_are_missing_and_left_alone() {
    let Some((store, mut raw)) = standalone_and_raw().await else {
        return;
    };
    let future = (OffsetDateTime::now_utc() + secs(3600)).unix_timestamp() * 1_000_000;
    let future = future.to_string();

    // Data that is not JSON.
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    hash_record(
        &mut raw,
        &name,
        &["data", "{not json", "version", "1", "expires_at", &future],
    )
    .await;
    assert!(matches!(
        store.load(&key, OffsetDateTime::now_utc()).await.unwrap(),
        Lookup::Missing
    ));
    assert_eq!(exists(&mut raw, &name).await, 1, "left for inspection");
    let again = store
        .create(&key, &record("{}", NOW + secs(60), None), NOW)
        .await
        .unwrap();
    assert_eq!(
        again,
        CreateOutcome::Collision,
        "never overwritten by create"
    );

    // An expiry that does not parse.
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    hash_record(&mut raw, &name, &["data", "{}", "expires_at", "soon"]).await;
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
    assert_eq!(store.clear_expired(NOW + secs(10_000)).await.unwrap(), 0);
    assert_eq!(exists(&mut raw, &name).await, 1);

    // A string that is not a packed record.
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    let _: () = exec(&mut raw, &["SET", &name, "junk", "PX", "60000"]).await;
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
    let r = record("{}", NOW + secs(60), None);
    assert_eq!(
        store.create(&key, &r, NOW).await.unwrap(),
        CreateOutcome::Collision
    );
    let token = sessionkit_core::Token::version(1);
    assert_eq!(
        store.save(&key, &r, &token, NOW).await.unwrap(),
        SaveOutcome::Missing
    );
    assert!(!store.touch(&key, NOW + secs(60), NOW).await.unwrap());
    // Listings read metadata only: the record with unreadable data but a readable expiry
    // is shown (for inspection); the other two are not.
    let listed = store
        .listing()
        .unwrap()
        .list_boxed(Page::first(NOW, 10))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    store.delete(&key).await.unwrap();
    assert_eq!(exists(&mut raw, &name).await, 0, "delete removes it");

    // The same with a created_at, the shape of the common write (a plain `SET NX`, the
    // cheap save script): a string that is not a record, and one whose header ends right
    // after the user, are left alone as by the full scripts.
    let mut common = record("{}", NOW + secs(60), None);
    common.meta.created_at = Some(NOW);
    for junk in ["junk".to_owned(), format!("sk2 1 0 {future} 0:")] {
        let key = SessionKey::generate();
        let name = store.layout().session(&key);
        let _: () = exec(&mut raw, &["SET", &name, &junk, "PX", "60000"]).await;
        assert_eq!(
            store.create(&key, &common, NOW).await.unwrap(),
            CreateOutcome::Collision,
            "{junk}"
        );
        assert_eq!(
            store.save(&key, &common, &token, NOW).await.unwrap(),
            SaveOutcome::Missing,
            "{junk}"
        );
        let left: String = exec(&mut raw, &["GET", &name]).await;
        assert_eq!(left, junk, "left for inspection");
        store.delete(&key).await.unwrap();
    }
    // A hash record without a user, saved by a packed store: the cheap script hands it on,
    // and the full one migrates it.
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    hash_record(
        &mut raw,
        &name,
        &["data", "{}", "version", "1", "expires_at", &future],
    )
    .await;
    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("a readable hash record")
    };
    assert_eq!(
        store.save(&key, &common, &token, NOW).await.unwrap(),
        SaveOutcome::Saved(Token::version(2))
    );
    let kind: String = exec(&mut raw, &["TYPE", &name]).await;
    assert_eq!(kind, "string", "rewritten packed");
    store.delete(&key).await.unwrap();
}

/// Writes a hash record (the format of earlier builds) with these fields under `name`,
/// expiring in a minute.
async fn hash_record(raw: &mut redis::aio::MultiplexedConnection, name: &str, fields: &[&str]) {
    let mut args = vec!["HSET", name];
    args.extend_from_slice(fields);
    let _: i64 = exec(raw, &args).await;
    let _: i64 = exec(raw, &["PEXPIRE", name, "60000"]).await;
}

/// A server that lost its script cache (restart, `SCRIPT FLUSH`) gets the bodies again.
#[tokio::test]
async fn a_flushed_script_cache_is_refilled() {
    let Some((store, mut raw)) = standalone_and_raw().await else {
        return;
    };
    let _: () = exec(&mut raw, &["SCRIPT", "FLUSH"]).await;
    let key = SessionKey::generate();
    created(
        &store,
        &key,
        &record(r#"{"n":1}"#, NOW + secs(60), None),
        NOW,
    )
    .await;
    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("created")
    };
    let _: () = exec(&mut raw, &["SCRIPT", "FLUSH"]).await;
    let out = store
        .save(
            &key,
            &record(r#"{"n":2}"#, NOW + secs(60), None),
            &token,
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
}

#[tokio::test]
async fn clear_expired_counts_and_reports_progress() {
    let Some(store) = standalone().await else {
        return;
    };
    for i in 0..300 {
        let r = record("{}", NOW + secs(5), Some(&format!("u{}", i % 7)));
        created(&store, &SessionKey::generate(), &r, NOW).await;
    }
    let live = SessionKey::generate();
    created(&store, &live, &record("{}", NOW + secs(3600), None), NOW).await;
    let mut seen = Vec::new();
    let removed = store
        .clear_expired_with_progress(NOW + secs(10), &mut |n| seen.push(n))
        .await
        .unwrap();
    assert_eq!(removed, 300);
    assert!(!seen.is_empty());
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&300));
    assert!(matches!(
        store.load(&live, NOW + secs(10)).await.unwrap(),
        Lookup::Found { .. }
    ));
    let index = store.user_index().unwrap();
    assert!(index.sessions_of_boxed("u1", NOW).await.unwrap().is_empty());
}

/// With `with_replica_wait`, a write that too few replicas acknowledged is an error — but
/// it did happen on the primary. (The test server has no replica.)
#[tokio::test]
async fn replica_wait_reports_a_shortfall() {
    let Some((store, mut raw)) = standalone_and_raw().await else {
        return;
    };
    let info: String = exec(&mut raw, &["INFO", "replication"]).await;
    if !info.contains("connected_slaves:0") {
        sessionkit_testkit::require::<()>(
            "Redis (a server without replicas)",
            Err("the test server has replicas".into()),
        );
        return;
    }
    let waiting = store.waiting_for(1, Duration::from_millis(100));
    let key = SessionKey::generate();
    let err = waiting
        .create(&key, &record("{}", NOW + secs(60), None), NOW)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert!(err.report().contains("0 of 1 replicas"), "{}", err.report());
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Found { .. }
    ));
    // Reads never wait.
    let Lookup::Found { token, .. } = waiting.load(&key, NOW).await.unwrap() else {
        panic!("created")
    };
    // The common save (no user, a created_at) waits as the full script does.
    let mut next = record("{}", NOW + secs(60), None);
    next.meta.created_at = Some(NOW);
    let err = waiting.save(&key, &next, &token, NOW).await.unwrap_err();
    assert!(err.report().contains("0 of 1 replicas"), "{}", err.report());
    let Lookup::Found { token: saved, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("saved")
    };
    assert_ne!(saved, token, "the save happened on the primary");
    // A common save that finds nothing to save wrote nothing, so it answers without
    // counting replicas.
    assert_eq!(
        waiting
            .save(&SessionKey::generate(), &next, &token, NOW)
            .await
            .unwrap(),
        SaveOutcome::Missing
    );
    // Waiting for no replica at all is off.
    let off = store.waiting_for(0, Duration::from_secs(1));
    off.delete(&key).await.unwrap();
}

#[tokio::test]
async fn bad_urls_are_config_errors_without_credentials() {
    for url in [
        "http://127.0.0.1:6379",
        "nonsense",
        "redis://127.0.0.1:99999",
    ] {
        let err = RedisStore::connect(url).await.unwrap_err();
        assert_eq!(
            err.kind(),
            StoreErrorKind::Config,
            "{url}: {}",
            err.report()
        );
    }
    let err = RedisStore::connect_cluster(&[]).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Config);
    // A password the server refuses: the error names the server, never the password.
    if let Some(store) = standalone().await {
        let url = redis_url().replacen("redis://", "redis://:hunter2secret@", 1);
        if let Err(err) = RedisStore::connect(&url).await {
            assert!(!err.report().contains("hunter2secret"), "{}", err.report());
        }
        assert!(!store.describe().contains('@'));
        assert!(store.describe().starts_with("redis://"));
    }
}

#[tokio::test]
async fn a_dead_server_is_a_prompt_error() {
    let port = unused_port();
    let started = Instant::now();
    let err = RedisStore::connect(&format!("redis://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{}", err.report());
    assert!(
        err.report().contains(&format!("127.0.0.1:{port}")),
        "{}",
        err.report()
    );
    assert_prompt(started, 5);

    let started = Instant::now();
    let err = RedisStore::connect_cluster(&[&format!("127.0.0.1:{port}")])
        .await
        .unwrap_err();
    assert_ne!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    assert_prompt(started, 10);
}

/// A server that goes away: operations fail fast (no hang), and the store reconnects by
/// itself once a server answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_away_fails_fast_and_comes_back() {
    let port = unused_port();
    let Some(server) = require("redis-server", Server::start(port).await) else {
        return;
    };
    let store = RedisStore::builder(&server.url())
        .with_prefix(unique_prefix())
        .connect()
        .await
        .unwrap();
    let key = SessionKey::generate();
    created(&store, &key, &record("{}", NOW + secs(60), None), NOW).await;
    drop(server);

    for _ in 0..3 {
        let started = Instant::now();
        let err = store.load(&key, NOW).await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            ),
            "{}",
            err.report()
        );
        assert_prompt(started, 5);
    }

    let _server = Server::start(port).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.load(&key, NOW).await {
            // The new server started empty.
            Ok(Lookup::Missing) => break,
            Ok(other) => panic!("{other:?}"),
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet reconnected: {}", e.report());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("did not reconnect: {}", e.report()),
        }
    }
    created(&store, &key, &record("{}", NOW + secs(60), None), NOW).await;
}

/// The store behind the engine, on the real clock, for one visit and a return.
#[tokio::test]
async fn serves_the_engine() {
    let Some(store) = standalone().await else {
        return;
    };
    let (engine, cookie) = first_visit(store.clone()).await;
    let req = engine.begin(Some(&cookie));
    let session = req.load().await.unwrap();
    assert_eq!(session.get::<i32>("count").unwrap(), Some(1));
    session.flush();
    req.finish(200).await;
    let mut raw = raw(&redis_url()).await;
    let keys: Vec<String> = exec(
        &mut raw,
        &["KEYS", &format!("{}*", store.layout().prefix())],
    )
    .await;
    assert!(keys.is_empty(), "logout left {keys:?}");
}

/// Issue 19: a hash written by the previous build (no `client` field) loads and lists
/// without client info; garbage in the field loads too, without it, and a warning says
/// so; a save by this build adds the client info in the same script.
#[tokio::test]
async fn client_info_compatibility() {
    use sessionkit_core::ClientInfo;
    use sessionkit_testkit::logs::Logs;

    let Some((store, mut raw)) = standalone_and_raw().await else {
        return;
    };
    let logs = Logs::mark();
    let expires = (NOW + secs(3600)).unix_timestamp() * 1_000_000;
    let expires = expires.to_string();
    let mut put = async |key: &SessionKey, client: Option<&str>| {
        let name = store.layout().session(key);
        let mut args = vec![
            "HSET",
            &name,
            "data",
            "{\"n\":1}",
            "version",
            "3",
            "expires_at",
            &expires,
            "created_at",
            "1",
            "last_seen",
            "2",
            "user_id",
            "42",
        ];
        if let Some(c) = client {
            args.extend(["client", c]);
        }
        let _: i64 = exec(&mut raw, &args).await;
        let _: i64 = exec(&mut raw, &["PEXPIRE", &name, "600000"]).await;
    };
    let old = SessionKey::generate();
    put(&old, None).await;
    let garbage = SessionKey::generate();
    put(&garbage, Some("300.1.2.3\tx\ty")).await;
    let load = async |key: &SessionKey| match store.load(key, NOW).await.unwrap() {
        Lookup::Found { record, token } => {
            assert_eq!(record.meta.user_id.as_deref(), Some("42"));
            (record, token)
        }
        other => panic!("{other:?}"),
    };
    let (mut r, token) = load(&old).await;
    assert_eq!(r.meta.client, None);
    assert_eq!(load(&garbage).await.0.meta.client, None);
    assert!(
        logs.lines("WARN")
            .iter()
            .any(|l| l.contains("unreadable client info"))
    );
    let listed = store
        .listing()
        .unwrap()
        .list_boxed(Page::first(NOW, 10))
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|i| i.meta.client.is_none()));
    let info = ClientInfo::new(Some("192.0.2.1".parse().unwrap()), Some("curl/8.5.0"));
    r.meta.client = Some(info.clone());
    assert!(matches!(
        store.save(&old, &r, &token, NOW).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    assert_eq!(load(&old).await.0.meta.client, Some(info));
    // The save rewrote the hash as a packed record, the client text length-prefixed.
    let name = store.layout().session(&old);
    let value: String = exec(&mut raw, &["GET", &name]).await;
    assert!(value.starts_with("sk2 4 0 "), "{value:?}");
    assert!(
        value.contains(" 25:192.0.2.1\tcurl/8.5.0\tcurl\n{"),
        "{value:?}"
    );
}

/// A functional deadline (generous: a hang is what it catches): `started` is under `secs`
/// seconds ago.
#[track_caller]
fn assert_prompt(started: Instant, secs: u64) {
    let took = started.elapsed();
    assert!(took < Duration::from_secs(secs), "took {took:?}");
}

/// `connected_clients` of a private server, less the asking connection.
async fn clients(raw: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = exec(raw, &["INFO", "clients"]).await;
    info.lines()
        .find_map(|l| l.strip_prefix("connected_clients:"))
        .and_then(|v| v.trim().parse::<i64>().ok())
        .expect("INFO clients")
        - 1
}

/// [`clients`] once it is `want`, or after 5 s whatever it is (a closed connection
/// reaches the server's count asynchronously).
async fn settled_clients(raw: &mut redis::aio::MultiplexedConnection, want: i64) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = clients(raw).await;
        if n == want || Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One connection per runtime that sends commands (here one per thread, as actix-web's
/// workers have): each sees the writes of the runtimes before it (Redis orders commands
/// across connections), a runtime's connection closes with it, no runtime waits on one
/// that is not being driven (the connecting runtime sits idle while the threads run), a
/// runtime that shut down leaves nothing that fails the first command of the thread's next
/// runtime (it gets a new connection), and dropping the store closes them all.
#[test]
fn one_connection_per_runtime() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let main = runtime();
    let Some(server) =
        main.block_on(async { require("redis-server", Server::start(unused_port()).await) })
    else {
        return;
    };
    let url = server.url();
    let (store, mut raw_main) = main.block_on(async {
        let store = RedisStore::builder(&url)
            .with_prefix(unique_prefix())
            .connect()
            .await
            .unwrap();
        (store, raw(&url).await)
    });
    assert_eq!(
        main.block_on(settled_clients(&mut raw_main, 1)),
        1,
        "the connecting runtime's"
    );
    let key = SessionKey::generate();
    main.block_on(created(
        &store,
        &key,
        &record(r#"{"n":0}"#, NOW + secs(600), None),
        NOW,
    ));

    // Three threads in turn, each on its own runtime, each saving the next version.
    for n in 1..=3 {
        let (store, url) = (store.clone(), url.clone());
        std::thread::spawn(move || {
            runtime().block_on(async {
                let Lookup::Found { mut record, token } = store.load(&key, NOW).await.unwrap()
                else {
                    panic!("not found on thread {n}");
                };
                assert_eq!(
                    record.data.get("n"),
                    Some(sessionkit_core::Value::Int(n - 1))
                );
                record.data.insert("n", sessionkit_core::Value::Int(n));
                let out = store.save(&key, &record, &token, NOW).await.unwrap();
                assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
                let mut raw = raw(&url).await;
                assert_eq!(
                    settled_clients(&mut raw, 3).await,
                    3,
                    "the connecting runtime's, its raw one and this runtime's (the one \
                     before closed with its runtime)"
                );
            });
        })
        .join()
        .unwrap();
    }

    // The connecting thread's runtime goes (closing its connections); a new one on the
    // same thread gets a new connection: its first command succeeds.
    drop(raw_main);
    drop(main);
    let next = runtime();
    next.block_on(async {
        let found = store.load(&key, NOW).await.unwrap();
        assert!(matches!(found, Lookup::Found { .. }), "{found:?}");
    });
    next.block_on(async {
        let mut raw = raw(&url).await;
        assert_eq!(
            settled_clients(&mut raw, 1).await,
            1,
            "the new runtime's only"
        );
        drop(store);
        assert_eq!(
            settled_clients(&mut raw, 0).await,
            0,
            "dropping the store closes its connections"
        );
    });
}
