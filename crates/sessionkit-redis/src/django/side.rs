//! The Redis half of both Django layouts: key names, the scripts, scans.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use redis::Value;
use sessionkit_core::{SessionKey, StoreError};
use sessionkit_django::keys::{CacheEngine, DEFAULT_VERSION};

use crate::conn::{self, Conn, bad_reply, script_reply, store_error};
use crate::listing::CONCURRENCY;
use crate::scan::{Scanner, glob_escape};

use super::scripts::DJANGO_SCRIPTS;

/// A value as stored, with its remaining TTL in milliseconds (`-1`: none).
#[derive(Debug, Clone)]
pub(super) struct Stored {
    pub(super) value: Vec<u8>,
    pub(super) pttl: i64,
}

/// What a session's key holds.
#[derive(Debug)]
pub(super) enum Fetched {
    /// Nothing.
    Absent,
    /// Something else than a string: not a Django session.
    Foreign,
    /// A value.
    Value(Stored),
}

/// The answer of the `create` script.
#[derive(Debug)]
pub(super) enum Inserted {
    /// Written (or nothing to write, and the key was free).
    Yes,
    /// The key holds another type.
    Foreign,
    /// The key holds this value.
    Taken(Stored),
}

/// The answer of the `replace` script.
#[derive(Debug)]
pub(super) enum Replaced {
    /// Written.
    Yes,
    /// The stored value is another one (given).
    Changed(Vec<u8>),
    /// No value, or the expected one is expired.
    Gone,
}

/// One Django cache namespace on one connection.
#[derive(Clone)]
pub(super) struct CacheSide {
    conn: Conn,
    description: String,
    engine: CacheEngine,
    key_prefix: String,
    version: i64,
    /// Everything before the session key: `{KEY_PREFIX}:{VERSION}:<engine module prefix>`.
    head: String,
}

impl CacheSide {
    fn new(conn: Conn, description: String, engine: CacheEngine) -> CacheSide {
        let mut side = CacheSide {
            conn,
            description,
            engine,
            key_prefix: String::new(),
            version: DEFAULT_VERSION,
            head: String::new(),
        };
        side.set_namespace(String::new(), DEFAULT_VERSION);
        side
    }

    /// Connects to a standalone server and loads the scripts.
    pub(super) async fn connect(url: &str, engine: CacheEngine) -> Result<CacheSide, StoreError> {
        let (conn, description) = conn::connect(url).await?;
        conn.preload(&DJANGO_SCRIPTS.all()).await?;
        Ok(CacheSide::new(conn, description, engine))
    }

    /// Connects to a cluster and loads the scripts (best effort, as the native store).
    pub(super) async fn connect_cluster(
        seeds: &[&str],
        engine: CacheEngine,
    ) -> Result<CacheSide, StoreError> {
        let (conn, description) = conn::connect_cluster(seeds).await?;
        conn.preload(&DJANGO_SCRIPTS.all()).await?;
        Ok(CacheSide::new(conn, description, engine))
    }

    /// Django's cache `KEY_PREFIX` and `VERSION`.
    pub(super) fn set_namespace(&mut self, key_prefix: String, version: i64) {
        self.head = self.engine.redis_key(&key_prefix, version, "");
        self.key_prefix = key_prefix;
        self.version = version;
    }

    pub(super) fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    pub(super) fn version(&self) -> i64 {
        self.version
    }

    /// The server or cluster, without credentials.
    pub(super) fn description(&self) -> &str {
        &self.description
    }

    pub(super) fn is_cluster(&self) -> bool {
        self.conn.is_cluster()
    }

    /// The session's Redis key, as Django names it.
    pub(super) fn redis_key(&self, key: &SessionKey) -> String {
        let mut name = String::with_capacity(self.head.len() + key.as_str().len());
        name.push_str(&self.head);
        name.push_str(key.as_str());
        name
    }

    /// The session key in a Redis key name (from SCAN), if it is one of this namespace's.
    /// (The `cache` engine's pattern also matches `cached_db` names — `cache` is a prefix
    /// of `cached_db` — but what follows, `d_db<key>`, is no session key.)
    fn session_key_of(&self, name: &[u8]) -> Option<SessionKey> {
        let rest = name.strip_prefix(self.head.as_bytes())?;
        SessionKey::parse(std::str::from_utf8(rest).ok()?)
    }

    async fn run(
        &self,
        script: &crate::scripts::Lua,
        key: &SessionKey,
        args: &[&[u8]],
    ) -> Result<(i64, Vec<Value>), StoreError> {
        let name = self.redis_key(key);
        let reply = self.conn.eval(script, name.as_bytes(), args, None).await?;
        script_reply(reply, script.name)
    }

    /// What the key holds.
    pub(super) async fn get(&self, key: &SessionKey) -> Result<Fetched, StoreError> {
        let s = &DJANGO_SCRIPTS.get;
        match self.run(s, key, &[]).await? {
            (1, items) => Ok(Fetched::Value(stored(items, s.name)?)),
            (0, _) => Ok(Fetched::Absent),
            _ => Ok(Fetched::Foreign),
        }
    }

    /// `SET NX PX`, or what holds the key.
    pub(super) async fn create(
        &self,
        key: &SessionKey,
        value: &[u8],
        ttl_ms: i64,
    ) -> Result<Inserted, StoreError> {
        let s = &DJANGO_SCRIPTS.create;
        let ttl = ttl_ms.to_string();
        match self.run(s, key, &[value, ttl.as_bytes()]).await? {
            (1, _) => Ok(Inserted::Yes),
            (2, items) => Ok(Inserted::Taken(stored(items, s.name)?)),
            _ => Ok(Inserted::Foreign),
        }
    }

    /// Compare-and-set on the bytes (see the script).
    pub(super) async fn replace(
        &self,
        key: &SessionKey,
        expected: &[u8],
        value: &[u8],
        ttl_ms: i64,
        expected_is_expired: bool,
    ) -> Result<Replaced, StoreError> {
        let s = &DJANGO_SCRIPTS.replace;
        let ttl = ttl_ms.to_string();
        let flag: &[u8] = if expected_is_expired { b"1" } else { b"0" };
        match self
            .run(s, key, &[expected, value, ttl.as_bytes(), flag])
            .await?
        {
            (1, _) => Ok(Replaced::Yes),
            (0, items) => match items.into_iter().next() {
                Some(Value::BulkString(current)) => Ok(Replaced::Changed(current)),
                _ => Err(bad_reply(s.name)),
            },
            _ => Ok(Replaced::Gone),
        }
    }

    /// A new TTL (`<= 0`: delete) if the value is still `expected`.
    pub(super) async fn expire_if(
        &self,
        key: &SessionKey,
        expected: &[u8],
        ttl_ms: i64,
    ) -> Result<bool, StoreError> {
        let ttl = ttl_ms.to_string();
        let (status, _) = self
            .run(&DJANGO_SCRIPTS.expire_if, key, &[expected, ttl.as_bytes()])
            .await?;
        Ok(status == 1)
    }

    /// Deletes the key if its value is still `expected`.
    pub(super) async fn delete_if(
        &self,
        key: &SessionKey,
        expected: &[u8],
    ) -> Result<bool, StoreError> {
        let (status, _) = self
            .run(&DJANGO_SCRIPTS.delete_if, key, &[expected])
            .await?;
        Ok(status == 1)
    }

    /// `SET key value PX ttl` (`ttl_ms > 0`).
    pub(super) async fn set(
        &self,
        key: &SessionKey,
        value: &[u8],
        ttl_ms: i64,
    ) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis_key(key))
            .arg(value)
            .arg("PX")
            .arg(ttl_ms);
        self.conn
            .query::<Value>(&cmd)
            .await
            .map(drop)
            .map_err(|e| store_error("SET", e))
    }

    /// `DEL key`.
    pub(super) async fn del(&self, key: &SessionKey) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.redis_key(key));
        self.conn
            .query::<Value>(&cmd)
            .await
            .map(drop)
            .map_err(|e| store_error("DEL", e))
    }

    /// A scan of the namespace's session keys (every primary in Cluster).
    pub(super) async fn scanner(&self) -> Result<Scanner<'_>, StoreError> {
        let mut pattern = glob_escape(&self.head);
        pattern.push('*');
        Scanner::new(&self.conn, pattern).await
    }

    /// The session keys of one scan page.
    pub(super) async fn next_keys(
        &self,
        scanner: &mut Scanner<'_>,
    ) -> Result<Option<Vec<SessionKey>>, StoreError> {
        Ok(scanner.next_page().await?.map(|names| {
            names
                .iter()
                .filter_map(|n| self.session_key_of(n))
                .collect()
        }))
    }

    /// Every session key of the namespace, sorted, each once.
    pub(super) async fn all_keys(&self) -> Result<Vec<SessionKey>, StoreError> {
        let mut scanner = self.scanner().await?;
        let mut keys = Vec::new();
        while let Some(page) = self.next_keys(&mut scanner).await? {
            keys.extend(page);
        }
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// What each key holds, fetched concurrently, in the order of `keys`.
    pub(super) async fn get_many(&self, keys: &[SessionKey]) -> Result<Vec<Fetched>, StoreError> {
        stream::iter(keys.iter().copied())
            .map(|key| async move { self.get(&key).await })
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }
}

/// `{value, pttl}` of a script reply.
fn stored(items: Vec<Value>, what: &str) -> Result<Stored, StoreError> {
    let mut it = items.into_iter();
    match (it.next(), it.next()) {
        (Some(Value::BulkString(value)), Some(Value::Int(pttl))) => Ok(Stored { value, pttl }),
        _ => Err(bad_reply(what)),
    }
}
