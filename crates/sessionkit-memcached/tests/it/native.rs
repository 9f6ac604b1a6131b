//! The native layout: the conformance suite and what is specific to memcached.

use std::time::{Duration, Instant};

use sessionkit_core::{
    Config, CreateOutcome, Data, Engine, Lookup, Metadata, Record, SaveOutcome, SessionKey,
    SessionStore, StoreErrorKind, Token,
};
use sessionkit_memcached::MemcachedStore;
use sessionkit_testkit::{Profile, require, require_store};
use time::OffsetDateTime;

use crate::common::{
    Private, addr, assert_still_hello, holds, plant_hello, raw, store, unique_prefix, url, url_2,
};

fn profile() -> Profile {
    Profile::full()
        .without_listing()
        .without_user_index()
        .without_clear_expired()
        .with_leases()
}

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(profile(), store());
}

fn record(json: &str, expires_at: OffsetDateTime) -> Record {
    Record {
        data: Data::from_json(json.into()).unwrap(),
        expires_at,
        meta: Metadata::default(),
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn created(store: &MemcachedStore, key: &SessionKey, r: &Record) -> Token {
    match store.create(key, r, now()).await.expect("create") {
        CreateOutcome::Created(t) => t,
        CreateOutcome::Collision => panic!("collision on a fresh key"),
    }
}

/// Memcached reads a TTL over 30 days as a Unix time: a 60-day session must be sent as
/// one, or memcached would take it for a date in 1970 and drop it at once.
#[tokio::test]
async fn sessions_longer_than_thirty_days_are_kept() {
    let Some(store) = store().await else { return };
    let key = SessionKey::generate();
    let r = record(r#"{"n":1}"#, now() + time::Duration::days(60));
    created(&store, &key, &r).await;
    assert!(matches!(
        store.load(&key, now()).await.unwrap(),
        Lookup::Found { .. }
    ));
    let reply = raw(
        &addr(&url()),
        format!("mg {} t\r\n", store.item_key(&key)).as_bytes(),
        b"\r\n",
    );
    let ttl: i64 = String::from_utf8(reply).unwrap()[4..]
        .trim()
        .parse()
        .unwrap();
    assert!(
        (59 * 86_400..=61 * 86_400).contains(&ttl),
        "remaining TTL {ttl}"
    );
    store.delete(&key).await.unwrap();
}

/// The TTL evicts: once it ran out the item is gone from memcached itself.
#[tokio::test]
async fn memcached_evicts_at_the_ttl() {
    let Some(store) = store().await else { return };
    let key = SessionKey::generate();
    let t0 = now();
    created(&store, &key, &record("{}", t0 + time::Duration::seconds(1))).await;
    assert!(holds(&addr(&url()), &store.item_key(&key)));
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(!holds(&addr(&url()), &store.item_key(&key)), "evicted");
    // Already expired when written: nothing is stored.
    let gone = SessionKey::generate();
    store
        .create(&gone, &record("{}", t0 - time::Duration::seconds(1)), t0)
        .await
        .unwrap();
    assert!(!holds(&addr(&url()), &store.item_key(&gone)));
}

/// A session over memcached's 1 MiB item limit is a clear error, and the stored one stays.
#[tokio::test]
async fn a_session_over_the_item_limit_is_refused() {
    let Some(store) = store().await else { return };
    let key = SessionKey::generate();
    let expires = now() + time::Duration::hours(1);
    let t = created(&store, &key, &record(r#"{"n":1}"#, expires)).await;
    let big = format!(r#"{{"big":"{}"}}"#, "x".repeat(1 << 20));
    let e = store
        .save(&key, &record(&big, expires), &t, now())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Encode, "{}", e.report());
    assert!(e.message().contains("too big for memcached"), "{e}");
    let Lookup::Found { record: kept, .. } = store.load(&key, now()).await.unwrap() else {
        panic!("the session stays")
    };
    assert_eq!(kept.data.to_json(), r#"{"n":1}"#);
    // Just under the limit is stored.
    let fits = format!(r#"{{"big":"{}"}}"#, "x".repeat(1_000_000));
    assert!(matches!(
        store
            .save(&key, &record(&fits, expires), &t, now())
            .await
            .unwrap(),
        SaveOutcome::Saved(_)
    ));
}

/// A server started with a smaller item limit (`-I`) refuses what it cannot hold, and the
/// store says so (the check before sending uses the configured limit).
#[tokio::test]
async fn the_servers_own_limit_is_an_encode_error() {
    let Some(server) = require(
        "memcached binary",
        Private::start(&["-I", "64k", "-o", "slab_chunk_max=32768"]),
    ) else {
        return;
    };
    let store = MemcachedStore::builder(&format!("memcached://{}", server.addr()))
        .connect()
        .await
        .unwrap();
    let key = SessionKey::generate();
    let r = record(
        &format!(r#"{{"big":"{}"}}"#, "x".repeat(100_000)),
        now() + time::Duration::hours(1),
    );
    let e = store.create(&key, &r, now()).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Encode, "{}", e.report());
    // The connection that got the error was dropped; the next request works.
    assert!(matches!(
        store.load(&key, now()).await.unwrap(),
        Lookup::Missing
    ));
}

/// Something else under a session's key is no session: load misses, create collides,
/// nothing is overwritten.
#[tokio::test]
async fn foreign_items_are_left_alone() {
    let Some(store) = store().await else { return };
    let key = SessionKey::generate();
    let item = store.item_key(&key);
    plant_hello(&item, 0);
    assert!(matches!(
        store.load(&key, now()).await.unwrap(),
        Lookup::Missing
    ));
    let r = record("{}", now() + time::Duration::hours(1));
    assert_eq!(
        store.create(&key, &r, now()).await.unwrap(),
        CreateOutcome::Collision
    );
    assert_eq!(
        store
            .save(&key, &r, &Token::version(1), now())
            .await
            .unwrap(),
        SaveOutcome::Missing
    );
    assert!(!store.touch(&key, r.expires_at, now()).await.unwrap());
    assert_still_hello(&item);
}

/// Two servers: keys spread over both, each on the server the hashing names, and a
/// store on the two finds what it wrote.
#[tokio::test]
async fn a_pool_spreads_keys_over_its_servers() {
    let (one, two) = (addr(&url()), addr(&url_2()));
    let pool_url = format!("memcached://{one},{two}");
    let Some(store) = require_store(
        "memcached (two servers)",
        MemcachedStore::builder(&pool_url)
            .with_prefix(unique_prefix())
            .connect()
            .await,
    ) else {
        return;
    };
    let expires = now() + time::Duration::hours(1);
    let mut on = [0, 0];
    for i in 0..40 {
        let key = SessionKey::generate();
        created(&store, &key, &record(&format!(r#"{{"i":{i}}}"#), expires)).await;
        let item = store.item_key(&key);
        let server = store.server_of(&key).to_owned();
        let (here, there) = if server == one {
            on[0] += 1;
            (&one, &two)
        } else {
            assert_eq!(server, two);
            on[1] += 1;
            (&two, &one)
        };
        assert!(holds(here, &item), "{item} on {here}");
        assert!(!holds(there, &item), "{item} not on {there}");
        let Lookup::Found { record, .. } = store.load(&key, now()).await.unwrap() else {
            panic!("found")
        };
        assert_eq!(record.data.to_json(), format!(r#"{{"i":{i}}}"#));
    }
    assert!(on[0] > 5 && on[1] > 5, "{on:?}");
}

/// A server that goes down: its keys fail fast (connection refused: `Unavailable`), the
/// other server's keys keep working; a server that accepts but never answers fails its
/// keys after the timeout. A server of the test's own, so the shared ones stay up.
#[tokio::test]
async fn a_server_down_fails_only_its_keys_within_the_timeout() {
    let Some(mut own) = require("memcached binary", Private::start(&[])) else {
        return;
    };
    let shared = addr(&url());
    let pool_url = format!("memcached://{shared},{}", own.addr());
    let Some(store) = require_store(
        "memcached",
        MemcachedStore::builder(&pool_url)
            .with_prefix(unique_prefix())
            .with_timeout(Duration::from_millis(500))
            .connect()
            .await,
    ) else {
        return;
    };
    let expires = now() + time::Duration::hours(1);
    let mut keys = Vec::new();
    for _ in 0..30 {
        let key = SessionKey::generate();
        created(&store, &key, &record("{}", expires)).await;
        keys.push(key);
    }
    own.stop();
    let (mut ok, mut failed) = (0, 0);
    for key in &keys {
        let started = Instant::now();
        let result = store.load(key, now()).await;
        assert!(started.elapsed() < Duration::from_millis(900));
        if store.server_of(key) == shared {
            assert!(matches!(result, Ok(Lookup::Found { .. })), "{result:?}");
            ok += 1;
        } else {
            let e = result.unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{}", e.report());
            failed += 1;
        }
    }
    assert!(ok > 0 && failed > 0, "{ok} {failed}");

    // Through the engine: a request whose session is on the dead server is a 503, a
    // request whose session is on the live one is served.
    let engine = Engine::new(store.clone(), Config::default());
    for key in &keys {
        let request = engine.begin(Some(&format!("sessionid={}", key.as_str())));
        let started = Instant::now();
        let loaded = request.load().await;
        assert!(started.elapsed() < Duration::from_millis(900));
        if store.server_of(key) == shared {
            assert!(loaded.is_ok(), "{:?}", loaded.err());
        } else {
            assert_eq!(loaded.unwrap_err().status(), 503);
        }
    }

    // A black hole: accepts, never answers.
    let hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hole_addr = hole.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Ok((c, _)) = hole.accept().await {
            conns.push(c);
        }
    });
    let url = format!("memcached://{shared},{hole_addr}");
    let store = MemcachedStore::builder(&url)
        .with_prefix(unique_prefix())
        .with_timeout(Duration::from_millis(300))
        .connect()
        .await
        .expect("one server answers");
    let key = (0..100)
        .map(|_| SessionKey::generate())
        .find(|k| store.server_of(k) != shared)
        .unwrap();
    let started = Instant::now();
    let e = store.load(&key, now()).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Timeout, "{}", e.report());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_millis(800),
        "{took:?}"
    );
    held.abort();
}

#[tokio::test]
async fn nobody_answering_is_unavailable_and_bad_urls_are_config_errors() {
    let port = crate::common::unused_port();
    let e = MemcachedStore::connect(&format!("memcached://127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{}", e.report());
    let e = MemcachedStore::connect("memcached://h:1/db")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Config);
    let e = MemcachedStore::builder(&url())
        .with_prefix("has space")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Config);
}

/// `cmd_get` of a server's `stats`: how many reads it has served.
fn gets(addr: &str) -> u64 {
    let reply = raw(addr, b"stats\r\n", b"END\r\n");
    String::from_utf8(reply)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("STAT cmd_get "))
        .expect("cmd_get")
        .trim()
        .parse()
        .unwrap()
}

/// A save after a load of the same process writes at once on the CAS value that load
/// read — no second read — and falls back to reading the item when it changed since (a
/// touch: saved; another save: a conflict).
#[tokio::test]
async fn a_save_after_a_load_reads_nothing_more() {
    let Some(server) = require("memcached binary", Private::start(&[])) else {
        return;
    };
    let url = format!("memcached://{}", server.addr());
    let store = MemcachedStore::connect(&url).await.unwrap();
    let other = MemcachedStore::connect(&url).await.unwrap();
    let key = SessionKey::generate();
    let t = now();
    let r = record(r#"{"n":1}"#, t + time::Duration::hours(1));
    store.create(&key, &r, t).await.unwrap();

    let Lookup::Found { token, .. } = store.load(&key, t).await.unwrap() else {
        panic!("found");
    };
    let before = gets(&server.addr());
    let r2 = record(r#"{"n":2}"#, t + time::Duration::hours(1));
    let SaveOutcome::Saved(token) = store.save(&key, &r2, &token, t).await.unwrap() else {
        panic!("saved");
    };
    assert_eq!(gets(&server.addr()), before, "no read at the save");

    // Changed since the load by a touch (same version): read again, saved.
    let Lookup::Found { .. } = store.load(&key, t).await.unwrap() else {
        panic!("found");
    };
    assert!(
        other
            .touch(&key, t + time::Duration::hours(2), t)
            .await
            .unwrap()
    );
    let r3 = record(r#"{"n":3}"#, t + time::Duration::hours(1));
    let SaveOutcome::Saved(token) = store.save(&key, &r3, &token, t).await.unwrap() else {
        panic!("saved after a touch");
    };

    // Changed since the load by another save: a conflict, never an overwrite.
    let Lookup::Found { .. } = store.load(&key, t).await.unwrap() else {
        panic!("found");
    };
    let Lookup::Found { token: theirs, .. } = other.load(&key, t).await.unwrap() else {
        panic!("found");
    };
    let r4 = record(r#"{"n":4}"#, t + time::Duration::hours(1));
    assert!(matches!(
        other.save(&key, &r4, &theirs, t).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    let r5 = record(r#"{"n":5}"#, t + time::Duration::hours(1));
    assert_eq!(
        store.save(&key, &r5, &token, t).await.unwrap(),
        SaveOutcome::Conflict
    );
    let Lookup::Found { record: last, .. } = store.load(&key, t).await.unwrap() else {
        panic!("found");
    };
    assert_eq!(last.data, r4.data);
}

/// Issue 19: an item written by the previous build (no client info on its header line)
/// loads without client info; one with garbage there loads too, without it, and a
/// warning says so; a save writes the client info, which a load returns.
#[tokio::test]
async fn client_info_compatibility() {
    use sessionkit_core::ClientInfo;
    use sessionkit_testkit::logs::Logs;

    let Some(store) = store().await else { return };
    let logs = Logs::mark();
    let a = addr(&url());
    let now = now();
    let expires = (now + time::Duration::hours(1)).unix_timestamp() * 1_000_000;
    let put = |key: &SessionKey, extra: &str| {
        let value = format!("sk1 3 {expires} - - 2{extra}\n42{{\"n\":1}}");
        let item = store.item_key(key);
        let reply = raw(
            &a,
            format!("set {item} 0 600 {}\r\n{value}\r\n", value.len()).as_bytes(),
            b"\r\n",
        );
        assert_eq!(reply, b"STORED\r\n");
    };
    let load = |key: SessionKey| {
        let store = store.clone();
        async move {
            match store.load(&key, now).await.unwrap() {
                Lookup::Found { record, token } => {
                    assert_eq!(record.meta.user_id.as_deref(), Some("42"));
                    (record, token)
                }
                other => panic!("{other:?}"),
            }
        }
    };
    let old = SessionKey::generate();
    put(&old, "");
    let (mut r, token) = load(old).await;
    assert_eq!(r.meta.client, None);
    let garbage = SessionKey::generate();
    put(&garbage, " 300.1.2.3\tx\ty");
    assert_eq!(load(garbage).await.0.meta.client, None);
    assert!(
        logs.lines("WARN")
            .iter()
            .any(|l| l.contains("unreadable client info"))
    );
    // The old record saved by this build gains the client info.
    let info = ClientInfo::new(Some("192.0.2.1".parse().unwrap()), Some("curl/8.5.0"));
    r.meta.client = Some(info.clone());
    assert!(matches!(
        store.save(&old, &r, &token, now).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    assert_eq!(load(old).await.0.meta.client, Some(info));
    let got = raw(
        &a,
        format!("get {}\r\n", store.item_key(&old)).as_bytes(),
        b"END\r\n",
    );
    let got = String::from_utf8_lossy(&got);
    assert!(got.contains(" 2 192.0.2.1\tcurl/8.5.0\tcurl\n42{"), "{got}");
}
