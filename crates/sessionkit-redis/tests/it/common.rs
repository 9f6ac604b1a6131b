//! Factories, raw server access and the cluster lock.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use sessionkit_core::{
    CreateOutcome, Data, DynLeaseStore, DynSessionListing, DynUserIndex, Lookup, Metadata, Record,
    SaveOutcome, SessionKey, SessionStore, StoreError, Token,
};
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

/// Takes the cluster lock: shared for ordinary cluster tests, exclusive for the test that
/// stops nodes. Released when the file is dropped.
pub(crate) async fn cluster_lock(exclusive: bool) -> File {
    let path = std::env::temp_dir().join("sessionkit-redis-cluster-tests.lock");
    tokio::task::spawn_blocking(move || {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("lock file");
        if exclusive {
            file.lock().expect("exclusive cluster lock");
        } else {
            file.lock_shared().expect("shared cluster lock");
        }
        file
    })
    .await
    .expect("lock task")
}

/// A cluster store in its own namespace holding the shared cluster lock, or `None`
/// (SKIP).
pub(crate) async fn cluster() -> Option<Locked> {
    let seeds = require("Redis Cluster", cluster_seeds())?;
    let lock = cluster_lock(false).await;
    let store = require("Redis Cluster", connect_cluster(&seeds).await)?;
    Some(Guarded {
        store,
        _guard: lock,
    })
}

/// A store that holds the shared cluster lock as long as it lives.
pub(crate) type Locked = Guarded<RedisStore, File>;

/// A store and something that must live as long as it (a lock, a temp dir).
pub(crate) struct Guarded<S, G> {
    pub(crate) store: S,
    pub(crate) _guard: G,
}

impl<S: SessionStore, G: Send + Sync + 'static> SessionStore for Guarded<S, G> {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        self.store.load(key, now).await
    }
    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.store.create(key, record, now).await
    }
    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.store.save(key, record, token, now).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.store.delete(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.store.touch(key, expires_at, now).await
    }
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.store.clear_expired_with_progress(now, progress).await
    }
    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.store.retire(key, until).await
    }
    fn describe(&self) -> String {
        self.store.describe()
    }
    fn listing(&self) -> Option<&dyn DynSessionListing> {
        self.store.listing()
    }
    fn user_index(&self) -> Option<&dyn DynUserIndex> {
        self.store.user_index()
    }
    fn leases(&self) -> Option<&dyn DynLeaseStore> {
        self.store.leases()
    }
    fn python_values(&self) -> bool {
        self.store.python_values()
    }
}

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
