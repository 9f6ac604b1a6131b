//! The Redis Cluster loses a primary under load.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{App, fault_config, fault_lock, open};

use super::fixtures::{Load, RepairCluster, cluster_lock, load_summary, redis_cli};
use super::{MARGIN, RECOVERY_LIMIT, TIMEOUT};

/// A primary of the Redis Cluster is killed (SIGKILL) under load: requests on its slots
/// answer 503 promptly until its replica is promoted; then they succeed again without an
/// app restart. The killed node is restarted afterwards (it rejoins as a replica).
///
/// The CLI's cluster store does not wait for replicas (no `WAIT`), so a write
/// acknowledged just before the kill may be lost in the failover: the test reports how
/// many, and asserts only what replication guarantees (nothing that was acknowledged
/// long before the kill is lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_redis_cluster_loses_a_primary() {
    let _lock = fault_lock().await;
    let Some(seeds) = sessionkit_testkit::require(
        "Redis Cluster",
        std::env::var("SESSIONKIT_TEST_REDIS_CLUSTER")
            .map_err(|_| "SESSIONKIT_TEST_REDIS_CLUSTER is not set".to_owned()),
    ) else {
        return;
    };
    let _cluster = cluster_lock(true).await;
    let seed_port = seeds
        .split(',')
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let dir_prefix = std::env::var("SESSIONKIT_REDIS_CLUSTER_DIR")
        .unwrap_or_else(|_| "/tmp/sessionkit-redis-cluster".to_owned());
    // A primary with slots, not the first seed, started by .ci/redis-cluster.sh.
    let nodes = redis_cli(&seed_port, &["cluster", "nodes"]);
    let victim = nodes
        .lines()
        .filter(|l| l.contains("master") && !l.contains("fail"))
        .filter(|l| l.split_whitespace().count() > 8)
        .map(|l| {
            let addr = l.split_whitespace().nth(1).unwrap();
            addr.split('@')
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .find(|port| {
            *port != seed_port
                && redis_cli(port, &["config", "get", "dir"])
                    .lines()
                    .nth(1)
                    .is_some_and(|d| d.starts_with(&dir_prefix))
        });
    let Some(victim) = sessionkit_testkit::require(
        sessionkit_testkit::services::REDIS_CLUSTER,
        victim.ok_or_else(|| "no primary of .ci/redis-cluster.sh to kill".to_owned()),
    ) else {
        return;
    };
    let opened = open(&format!("redis+cluster://{seeds}")).await.unwrap();
    let app = App::new(opened.engine(fault_config()));
    let load = Load::start(&app, 8, true).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok, unavailable) = load.totals();
    assert!(ok > 20 && unavailable == 0, "{ok} / {unavailable}");

    let _repair = RepairCluster;
    let pid = redis_cli(&victim, &["info", "server"])
        .lines()
        .find_map(|l| l.strip_prefix("process_id:").map(str::to_owned))
        .expect("process_id");
    let killed = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    // Promotion: the cluster is ok again without the victim.
    let promoted = loop {
        let info = redis_cli(&seed_port, &["cluster", "info"]);
        let nodes = redis_cli(&seed_port, &["cluster", "nodes"]);
        let victim_failed = nodes
            .lines()
            .any(|l| l.contains(&format!(":{victim}@")) && l.contains("fail"));
        if victim_failed && info.contains("cluster_state:ok") {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "no promotion");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = load
        .until_every_client_succeeds(Duration::from_secs(20))
        .await
        .expect("not every client recovered after the promotion");
    let during = load.totals();
    eprintln!(
        "cluster: replica promoted {promoted:?} after the kill; every client succeeds again \
         {took:?} after that; {} x 503 meanwhile",
        during.1
    );
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    // Requests sent before the recovery may still end in a 503 (within the timeout); from
    // then on, none.
    tokio::time::sleep(TIMEOUT + Duration::from_millis(200)).await;
    let recovered = load.totals();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = load.totals();
    assert_eq!(settled.1, recovered.1, "no 5xx once recovered");
    let tallies = load.finish().await;
    eprintln!("cluster: {}", load_summary(&tallies));
    for (_, t) in &tallies {
        assert!(
            t.slowest < TIMEOUT + MARGIN,
            "a request took {:?}",
            t.slowest
        );
    }
}
