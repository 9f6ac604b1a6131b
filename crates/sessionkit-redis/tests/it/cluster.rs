//! A Redis Cluster (`SESSIONKIT_TEST_REDIS_CLUSTER`): the conformance suite, the per-user
//! index across slots, and a failover.
//!
//! The failover test is named `failover_*` so that a runner can put it in a serial group;
//! it also takes the exclusive cluster lock (see `common::cluster_lock`).

use sessionkit_core::store::Page;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use sessionkit_core::{
    CreateOutcome, Lookup, SaveOutcome, SessionKey, SessionStore, StoreErrorKind,
};
use sessionkit_redis::RedisStore;
use sessionkit_testkit::{Profile, require};

use crate::common::{
    NOW, cluster, cluster_lock, cluster_seeds, connect_cluster, exec, raw, record, secs,
};

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::full().with_leases(), cluster());
}

/// The contract again with `RecordFormat::Hash`, whose index updates take the same
/// client-side path.
mod conformance_hash_format {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::full().with_leases(), cluster_hash());
}

/// A cluster store writing hashes, holding the shared cluster lock, or `None` (SKIP).
async fn cluster_hash() -> Option<crate::common::Locked> {
    let seeds = require("Redis Cluster", cluster_seeds())?;
    let lock = cluster_lock(false).await;
    let refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let store = RedisStore::cluster_builder(&refs)
        .with_prefix(crate::common::unique_prefix())
        .with_record_format(sessionkit_redis::RecordFormat::Hash)
        .connect()
        .await
        .map_err(|e| e.report());
    Some(crate::common::Guarded::new(
        require("Redis Cluster", store)?,
        lock,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cleaners_share_many_records() {
    if let Some(store) = cluster().await {
        crate::common::two_cleaners_count_each_record_once(&store).await;
    }
}

async fn raw_cluster(seeds: &[String]) -> redis::cluster_async::ClusterConnection {
    let urls: Vec<String> = seeds.iter().map(|s| format!("redis://{s}")).collect();
    redis::cluster::ClusterClient::new(urls)
        .unwrap()
        .get_async_connection()
        .await
        .unwrap()
}

/// The index lives in other slots than the sessions: a session that changes user moves
/// sets, and a member whose session is gone is skipped and pruned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_index_spans_slots_and_heals() {
    let Some(locked) = cluster().await else {
        return;
    };
    let store = &locked.store;
    let seeds = cluster_seeds().unwrap();
    let mut raw = raw_cluster(&seeds).await;
    let index = store.user_index().unwrap();

    let key = SessionKey::generate();
    let out = store
        .create(&key, &record("{}", NOW + secs(60), Some("alice")), NOW)
        .await
        .unwrap();
    assert!(matches!(out, CreateOutcome::Created(_)));
    let alice = store.layout().user("alice");
    let is_member = |raw: &mut redis::cluster_async::ClusterConnection, set: &str| {
        let mut cmd = redis::cmd("SISMEMBER");
        cmd.arg(set).arg(key.as_str());
        let mut raw = raw.clone();
        async move { cmd.query_async::<i64>(&mut raw).await.unwrap() }
    };
    assert_eq!(is_member(&mut raw, &alice).await, 1);
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&alice)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(pttl > 50_000, "the set has the session's TTL: {pttl}");

    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("created")
    };
    let out = store
        .save(
            &key,
            &record("{}", NOW + secs(60), Some("bob")),
            &token,
            NOW,
        )
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)));
    assert_eq!(is_member(&mut raw, &alice).await, 0);
    assert_eq!(is_member(&mut raw, &store.layout().user("bob")).await, 1);
    assert_eq!(index.sessions_of_boxed("bob", NOW).await.unwrap().len(), 1);

    // A stale member (its session vanished behind the index's back) is skipped, pruned,
    // and never counted as revoked.
    let ghost = SessionKey::generate();
    let _: i64 = redis::cmd("SADD")
        .arg(store.layout().user("bob"))
        .arg(ghost.as_str())
        .query_async(&mut raw)
        .await
        .unwrap();
    let listed = index.sessions_of_boxed("bob", NOW).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key);
    let left: i64 = redis::cmd("SISMEMBER")
        .arg(store.layout().user("bob"))
        .arg(ghost.as_str())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(left, 0, "pruned");
    // A stale member whose key now belongs to someone else is not revoked.
    let _: i64 = redis::cmd("SADD")
        .arg(&alice)
        .arg(key.as_str())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(index.revoke_user_boxed("alice", None).await.unwrap(), 0);
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Found { .. }
    ));
    assert_eq!(index.revoke_user_boxed("bob", None).await.unwrap(), 1);
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));

    // A save without a user over a session with one (the common write's shape, with a
    // created_at): the cheap script hands it to the full one, whose reply names the
    // previous user, and the client takes the session out of that user's set.
    let key = SessionKey::generate();
    store
        .create(&key, &record("{}", NOW + secs(60), Some("carol")), NOW)
        .await
        .unwrap();
    let carol = store.layout().user("carol");
    let member = |raw: &mut redis::cluster_async::ClusterConnection| {
        let mut cmd = redis::cmd("SISMEMBER");
        cmd.arg(&carol).arg(key.as_str());
        let mut raw = raw.clone();
        async move { cmd.query_async::<i64>(&mut raw).await.unwrap() }
    };
    assert_eq!(member(&mut raw).await, 1);
    let Lookup::Found { token, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("created")
    };
    let mut anonymous = record("{}", NOW + secs(60), None);
    anonymous.meta.created_at = Some(NOW);
    assert!(matches!(
        store.save(&key, &anonymous, &token, NOW).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    assert_eq!(member(&mut raw).await, 0, "left carol's set");
    store.delete(&key).await.unwrap();
}

/// Listing and cleanup scan every primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_and_cleanup_cover_every_primary() {
    let Some(locked) = cluster().await else {
        return;
    };
    let store = &locked.store;
    let mut keys = BTreeSet::new();
    for _ in 0..40 {
        let key = SessionKey::generate();
        store
            .create(&key, &record("{}", NOW + secs(60), None), NOW)
            .await
            .unwrap();
        keys.insert(key);
    }
    for _ in 0..40 {
        store
            .create(
                &SessionKey::generate(),
                &record("{}", NOW + secs(5), None),
                NOW,
            )
            .await
            .unwrap();
    }
    let listed = store
        .listing()
        .unwrap()
        .list_boxed(Page::first(NOW + secs(10), 1000))
        .await
        .unwrap();
    let listed: BTreeSet<SessionKey> = listed.into_iter().map(|i| i.key).collect();
    assert_eq!(listed, keys);
    assert_eq!(store.clear_expired(NOW + secs(10)).await.unwrap(), 40);
    assert_eq!(store.clear_expired(NOW + secs(100)).await.unwrap(), 40);
}

// ---------------------------------------------------------------------------------------
// Failover

struct NodeInfo {
    id: String,
    addr: String,
    primary: bool,
    primary_id: String,
    failed: bool,
    slots: Vec<(u16, u16)>,
}

fn parse_nodes(text: &str) -> Vec<NodeInfo> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let addr = f[1].split('@').next()?.to_owned();
            let slots = f[8..]
                .iter()
                .filter(|s| !s.starts_with('['))
                .filter_map(|s| match s.split_once('-') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => s.parse().ok().map(|a| (a, a)),
                })
                .collect();
            Some(NodeInfo {
                id: f[0].to_owned(),
                addr,
                primary: f[2].contains("master"),
                primary_id: f[3].to_owned(),
                failed: f[2].contains("fail") && !f[2].contains("fail?") || f[7] != "connected",
                slots,
            })
        })
        .collect()
}

async fn node(addr: &str) -> MultiplexedConnection {
    raw(&format!("redis://{addr}")).await
}

/// `CLUSTER NODES` as seen by the first node in `addrs` that answers.
async fn cluster_nodes(addrs: &[String]) -> Vec<NodeInfo> {
    for a in addrs {
        let client = redis::Client::open(format!("redis://{a}")).unwrap();
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        if let Ok(mut c) = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            && let Ok(text) = redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async::<String>(&mut c)
                .await
        {
            return parse_nodes(&text);
        }
    }
    panic!("no cluster node answers among {addrs:?}");
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.ci/redis-cluster.sh")
}

fn cluster_dir() -> String {
    std::env::var("SESSIONKIT_REDIS_CLUSTER_DIR")
        .unwrap_or_else(|_| "/tmp/sessionkit-redis-cluster".to_owned())
}

/// Brings the cluster back whole (restarting stopped nodes) even if the test fails.
struct Repair;

impl Repair {
    fn run() -> Result<(), String> {
        let out = std::process::Command::new("bash")
            .arg(script())
            .arg("start")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "redis-cluster.sh start failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Repair {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Err(e) = Repair::run()
        {
            eprintln!("{e}");
        }
    }
}

async fn load_retrying(store: &RedisStore, key: &SessionKey, deadline: Instant) -> Lookup {
    loop {
        match store.load(key, NOW).await {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                eprintln!("load during failover: {}", e.report());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store did not recover: {}", e.report()),
        }
    }
}

/// Kills a primary (SIGKILL: no chance to flush anything to its replica), waits for its
/// replica's promotion, and checks that every write acknowledged with `WAIT` is there,
/// that the store keeps serving, and that a shard without replicas reports writes it
/// cannot replicate. Then restarts the node (it rejoins as a replica) and waits for
/// `cluster_state:ok`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_acknowledged_writes() {
    let Some(seeds) = require("Redis Cluster", cluster_seeds()) else {
        return;
    };
    let _lock = cluster_lock(true).await;
    let store = require("Redis Cluster", connect_cluster(&seeds).await)
        .expect("cluster")
        .waiting_for(1, Duration::from_secs(1));

    let nodes = cluster_nodes(&seeds).await;
    let all: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let Some(victim) = nodes
        .iter()
        .filter(|n| n.primary && !n.failed && !n.slots.is_empty())
        .find(|n| seeds.first().is_none_or(|s| *s != n.addr))
    else {
        panic!("no primary to fail over");
    };
    // Only nodes that .ci/redis-cluster.sh started may be killed.
    let mut victim_conn = node(&victim.addr).await;
    let dir: Vec<String> = exec(&mut victim_conn, &["CONFIG", "GET", "dir"]).await;
    if !dir.get(1).is_some_and(|d| d.starts_with(&cluster_dir())) {
        require::<()>(
            "Redis Cluster",
            Err(format!(
                "{} was not started by .ci/redis-cluster.sh ({dir:?}); not killing it",
                victim.addr
            )),
        );
        return;
    }
    assert!(
        nodes.iter().any(|n| n.primary_id == victim.id && !n.failed),
        "the victim has a replica"
    );

    // Acknowledged writes: creates and saves, about half of them on the victim's shard.
    let on_victim = |slot: u16| victim.slots.iter().any(|&(a, b)| (a..=b).contains(&slot));
    let mut acked: Vec<(SessionKey, i64, bool)> = Vec::new();
    let (mut here, mut there) = (0, 0);
    while here < 12 || there < 12 {
        let key = SessionKey::generate();
        let slot: i64 = exec(
            &mut victim_conn,
            &["CLUSTER", "KEYSLOT", &store.layout().session(&key)],
        )
        .await;
        let mine = on_victim(u16::try_from(slot).unwrap());
        if (mine && here >= 12) || (!mine && there >= 12) {
            continue;
        }
        let n = i64::try_from(acked.len()).unwrap();
        let created = store
            .create(
                &key,
                &record(&format!(r#"{{"n":{n}}}"#), NOW + secs(600), Some("u")),
                NOW,
            )
            .await
            .unwrap();
        let CreateOutcome::Created(token) = created else {
            panic!("fresh key")
        };
        let saved = store
            .save(
                &key,
                &record(
                    &format!(r#"{{"n":{}}}"#, n + 1000),
                    NOW + secs(600),
                    Some("u"),
                ),
                &token,
                NOW,
            )
            .await
            .unwrap();
        assert!(matches!(saved, SaveOutcome::Saved(_)));
        acked.push((key, n + 1000, mine));
        if mine {
            here += 1;
        } else {
            there += 1;
        }
    }
    drop(victim_conn);

    // Crash the primary.
    let _repair = Repair;
    let mut c = node(&victim.addr).await;
    let info: String = exec(&mut c, &["INFO", "server"]).await;
    let pid = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .map(|p| p.trim().to_owned())
        .expect("process_id");
    drop(c);
    let killed_at = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .unwrap();
    assert!(status.success());

    // Wait (bounded) for the replica's promotion and a healthy cluster.
    let survivors: Vec<String> = all.iter().filter(|a| **a != victim.addr).cloned().collect();
    let promoted = loop {
        assert!(
            killed_at.elapsed() < Duration::from_secs(20),
            "no promotion within 20 s"
        );
        let now_nodes = cluster_nodes(&survivors).await;
        // Another node serves the victim's slots (the survivors still list the victim
        // as a healthy primary until they detect the failure).
        let promoted = now_nodes.iter().find(|n| {
            n.addr != victim.addr
                && n.primary
                && !n.failed
                && n.slots.iter().any(|&(a, _)| on_victim(a))
        });
        let mut c = node(&survivors[0]).await;
        let info: String = exec(&mut c, &["CLUSTER", "INFO"]).await;
        if let Some(p) = promoted
            && info.contains("cluster_state:ok")
        {
            break p.addr.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!(
        "{} promoted {:?} after the kill",
        promoted,
        killed_at.elapsed()
    );

    // Every acknowledged write survived.
    let deadline = Instant::now() + Duration::from_secs(15);
    for (key, n, _) in &acked {
        match load_retrying(&store, key, deadline).await {
            Lookup::Found { record, .. } => {
                assert_eq!(record.data.get("n"), Some(sessionkit_core::Value::Int(*n)));
            }
            other => panic!("an acknowledged write was lost: {other:?}"),
        }
    }

    // The store keeps serving: new writes succeed on every shard (without waiting: the
    // promoted primary has no replica yet) ...
    let serving = store.waiting_for(0, Duration::ZERO);
    for _ in 0..20 {
        let key = SessionKey::generate();
        let out = serving
            .create(&key, &record("{}", NOW + secs(600), None), NOW)
            .await
            .unwrap();
        assert!(matches!(out, CreateOutcome::Created(_)));
        serving.delete(&key).await.unwrap();
    }
    // ... while a waiting write to the shard that lost its replica says it was not
    // replicated.
    let strict = store.waiting_for(1, Duration::from_millis(200));
    let (key, _, _) = acked.iter().find(|(_, _, mine)| *mine).unwrap();
    let err = strict.touch(key, NOW + secs(900), NOW).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{}", err.report());

    // Restart the killed node: it rejoins as a replica; the cluster is whole again.
    Repair::run().unwrap();
    let nodes = cluster_nodes(&all).await;
    let back = nodes.iter().find(|n| n.addr == victim.addr).unwrap();
    assert!(
        !back.primary && !back.failed,
        "the old primary is a replica now"
    );
    for (key, n, _) in &acked {
        let deadline = Instant::now() + Duration::from_secs(10);
        let Lookup::Found { record, token } = load_retrying(&store, key, deadline).await else {
            panic!("lost after the restart")
        };
        assert_eq!(record.data.get("n"), Some(sessionkit_core::Value::Int(*n)));
        // Replicated writes work on every shard again.
        let out = store
            .save(key, &record, &token, NOW)
            .await
            .unwrap_or_else(|e| panic!("{}", e.report()));
        assert!(matches!(out, SaveOutcome::Saved(_)));
        store.delete(key).await.unwrap();
    }
}
