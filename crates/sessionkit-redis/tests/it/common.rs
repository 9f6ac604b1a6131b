//! Factories, raw server access and the cluster lock.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use sessionkit_core::{CreateOutcome, Data, Metadata, Record, SessionKey, SessionStore};
use sessionkit_redis::RedisStore;
use sessionkit_testkit::{require, service_url};
use time::OffsetDateTime;
use time::macros::datetime;

/// The tests' clock: a fixed instant.
pub(crate) const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

pub(crate) fn secs(s: i64) -> time::Duration {
    time::Duration::seconds(s)
}

/// A record of `json` expiring at `expires_at`, of `user` if any.
pub(crate) fn record(json: &str, expires_at: OffsetDateTime, user: Option<&str>) -> Record {
    Record {
        data: Data::from_json(json.into()).unwrap(),
        expires_at,
        meta: Metadata {
            created_at: None,
            last_seen: None,
            user_id: user.map(str::to_owned),
            client: None,
        },
    }
}

/// An engine on `store` and the real clock (cookie age 60 s), and the cookie pair of a
/// first visit that saved `count = 1`.
pub(crate) async fn first_visit(store: impl SessionStore) -> (sessionkit_core::Engine, String) {
    use sessionkit_core::{Config, Engine, SystemClock};
    let config = Config::builder().cookie_age(60).build().unwrap();
    let engine = Engine::builder(store)
        .with_config(config)
        .with_clock(std::sync::Arc::new(SystemClock))
        .build();
    let req = engine.begin(None);
    req.load().await.unwrap().insert("count", 1).unwrap();
    let out = req.finish(200).await;
    assert!(out.failure.is_none());
    let cookie = out.set_cookie[0].split(';').next().unwrap().to_owned();
    (engine, cookie)
}

/// Creates `key`, which must be new.
pub(crate) async fn created(store: &RedisStore, key: &SessionKey, r: &Record, now: OffsetDateTime) {
    let out = store.create(key, r, now).await.unwrap();
    assert!(matches!(out, CreateOutcome::Created(_)), "{out:?}");
}

pub(crate) fn redis_url() -> String {
    service_url("SESSIONKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// A fresh namespace, so that parallel tests never see each other's keys.
pub(crate) fn unique_prefix() -> String {
    format!("sktest:{}:", SessionKey::generate().as_str())
}

/// A store on the standalone server in its own namespace, or `None` (SKIP).
pub(crate) async fn standalone() -> Option<RedisStore> {
    require(
        "Redis",
        RedisStore::builder(&redis_url())
            .with_prefix(unique_prefix())
            .connect()
            .await
            .map_err(|e| e.report()),
    )
}

/// A raw connection to the standalone server, for looking behind the store's back.
pub(crate) async fn raw_standalone() -> MultiplexedConnection {
    raw(&redis_url()).await
}

pub(crate) async fn raw(url: &str) -> MultiplexedConnection {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("raw connection")
}

pub(crate) async fn exec<T: redis::FromRedisValue>(
    conn: &mut MultiplexedConnection,
    args: &[&str],
) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(conn).await.expect("raw command")
}

/// A standalone store in its own namespace and a raw connection to its server, or `None`
/// (SKIP).
pub(crate) async fn standalone_and_raw() -> Option<(RedisStore, MultiplexedConnection)> {
    let store = standalone().await?;
    Some((store, raw_standalone().await))
}

/// `EXISTS name`: 1 when the server holds `name`, else 0.
pub(crate) async fn exists(conn: &mut MultiplexedConnection, name: &str) -> i64 {
    exec(conn, &["EXISTS", name]).await
}

/// The cluster seeds from the environment.
pub(crate) fn cluster_seeds() -> Result<Vec<String>, String> {
    let v = std::env::var("SESSIONKIT_TEST_REDIS_CLUSTER").map_err(|_| {
        "SESSIONKIT_TEST_REDIS_CLUSTER is not set (start one with .ci/redis-cluster.sh start)"
            .to_owned()
    })?;
    let seeds: Vec<String> = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if seeds.is_empty() {
        return Err("SESSIONKIT_TEST_REDIS_CLUSTER is empty".to_owned());
    }
    Ok(seeds)
}

/// A cluster store in a fresh namespace (see [`unique_prefix`]).
pub(crate) async fn connect_cluster(seeds: &[String]) -> Result<RedisStore, String> {
    let refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    RedisStore::cluster_builder(&refs)
        .with_prefix(unique_prefix())
        .connect()
        .await
        .map_err(|e| e.report())
}

// The cluster lock: shared for ordinary cluster tests, exclusive for the test that stops
// nodes. Released when the file is dropped.
pub(crate) use sessionkit_testkit::guard::redis_cluster_lock as cluster_lock;

/// A cluster store in its own namespace holding the shared cluster lock, or `None`
/// (SKIP).
pub(crate) async fn cluster() -> Option<Locked> {
    let seeds = require("Redis Cluster", cluster_seeds())?;
    let lock = cluster_lock(false).await;
    let store = require("Redis Cluster", connect_cluster(&seeds).await)?;
    Some(Guarded::new(store, lock))
}

/// A store that holds the shared cluster lock as long as it lives.
pub(crate) type Locked = Guarded<RedisStore, File>;

pub(crate) use sessionkit_testkit::guard::Guarded;

/// The suite's `concurrent_cleaners` at its size (2100 records, more than two cleanup
/// batches), with records that expire a minute after the suite's `NOW` rather than one
/// second: Redis evicts by real-time TTL, and creating 2100 records takes longer than a
/// second, so with the suite's 1 s the first records are gone before the cleaners run.
/// They are just as expired at the cleaners' `now`.
pub(crate) async fn two_cleaners_count_each_record_once(store: &impl SessionStore) {
    use sessionkit_core::{Data, Metadata};
    let now = time::macros::datetime!(2026-01-01 00:00 UTC);
    let n = 2100;
    let r = Record {
        data: Data::new(),
        expires_at: now + time::Duration::seconds(60),
        meta: Metadata::default(),
    };
    for _ in 0..n {
        let out = store
            .create(&SessionKey::generate(), &r, now)
            .await
            .unwrap();
        assert!(matches!(out, CreateOutcome::Created(_)));
    }
    let later = now + time::Duration::seconds(120);
    let (a, b) = tokio::join!(store.clear_expired(later), store.clear_expired(later));
    let total = a.expect("first cleaner") + b.expect("second cleaner");
    assert_eq!(total, n, "each expired record removed exactly once");
}

/// A free TCP port on 127.0.0.1.
pub(crate) fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A private server on a free port, killed when dropped.
pub(crate) struct Server {
    child: Child,
    port: u16,
}

impl Server {
    pub(crate) async fn start(port: u16) -> Result<Server, String> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run redis-server: {e}"))?;
        let server = Server { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
            if let Ok(mut c) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut c)
                    .await
                    .is_ok()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err("redis-server did not start".to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
