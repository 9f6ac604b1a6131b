//! One connection handle over a standalone server or a cluster, the error mapping, and
//! script execution (EVALSHA → EVAL fallback, optional WAIT).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, ServerErrorKind, Value};
use sessionkit_core::{StoreError, StoreErrorKind};

use crate::runtimes::Standalone;
use crate::scripts::Lua;

/// How long to wait for a TCP connection (and each reconnection attempt).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long to wait for any reply (a WAIT included, hence the cap on its timeout).
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest `WAIT` timeout: it must fit in [`RESPONSE_TIMEOUT`].
pub(crate) const MAX_REPLICA_WAIT: Duration = Duration::from_secs(2);

/// A shared handle, cheap to clone, over multiplexed connections: concurrent commands
/// from several tasks are pipelined on one socket. A standalone server gets one socket per
/// runtime that sends commands (`runtimes.rs` says why); a cluster one per node.
#[derive(Clone)]
pub(crate) enum Conn {
    Standalone(Arc<Standalone>),
    Cluster(ClusterConnection),
}

/// Where a store connects: one server by URL, or a Redis Cluster through seed nodes.
/// What a builder holds until its `connect`. Its `Debug` shows no credentials.
#[derive(Clone)]
pub(crate) enum Target {
    Server(String),
    Cluster(Vec<String>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Server(url) => f.debug_tuple("Server").field(&redact(url)).finish(),
            Target::Cluster(seeds) => f
                .debug_tuple("Cluster")
                .field(&seeds.iter().map(|s| redact_seed(s)).collect::<Vec<_>>())
                .finish(),
        }
    }
}

impl Target {
    pub(crate) fn cluster(seeds: &[&str]) -> Target {
        Target::Cluster(seeds.iter().map(|s| (*s).to_owned()).collect())
    }

    /// Connects (see [`connect`] and [`connect_cluster`]).
    pub(crate) async fn connect(&self) -> Result<(Conn, String), StoreError> {
        match self {
            Target::Server(url) => connect(url).await,
            Target::Cluster(seeds) => {
                let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
                connect_cluster(&seeds).await
            }
        }
    }
}

/// Connects to a standalone server (see [`RedisStore::connect`](crate::RedisStore::connect));
/// returns the connection and its description without credentials.
pub(crate) async fn connect(url: &str) -> Result<(Conn, String), StoreError> {
    let description = redact(url);
    let client = redis::Client::open(url).map_err(|e| {
        StoreError::with_source(
            StoreErrorKind::Config,
            format!("invalid Redis URL {description}"),
            e,
        )
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(1));
    // The first connection now, so that a wrong address or password fails here.
    let manager = ConnectionManager::new_with_config(client.clone(), config.clone())
        .await
        .map_err(|e| store_error(&format!("connection to {description}"), e))?;
    let standalone = Standalone::new(client, config, manager);
    Ok((Conn::Standalone(Arc::new(standalone)), description))
}

/// Connects to a Redis Cluster through its seeds (see
/// [`RedisStore::connect_cluster`](crate::RedisStore::connect_cluster)); returns the
/// connection and its description without credentials.
pub(crate) async fn connect_cluster(seeds: &[&str]) -> Result<(Conn, String), StoreError> {
    if seeds.is_empty() {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            "a Redis Cluster needs at least one seed node",
        ));
    }
    let urls: Vec<String> = seeds
        .iter()
        .map(|s| {
            if s.contains("://") {
                (*s).to_owned()
            } else {
                format!("redis://{s}")
            }
        })
        .collect();
    let hosts: Vec<String> = urls
        .iter()
        .map(|u| {
            let r = redact(u);
            r.split_once("://").map_or(r.clone(), |(_, h)| h.to_owned())
        })
        .collect();
    let description = format!("redis-cluster://{}", hosts.join(","));
    let client = ClusterClientBuilder::new(urls)
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        // Bounds a request with its retries and redirects, e.g. during a failover.
        .overall_response_timeout(Some(RESPONSE_TIMEOUT + Duration::from_secs(2)))
        // Retries with backoff from 50 ms to 500 ms: enough to ride out a short
        // failover, bounded by the overall timeout above.
        .retries(12)
        .min_retry_wait(50)
        .max_retry_wait(500)
        .retry_wait_formula(25, 2)
        .build()
        .map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Config,
                format!("invalid Redis Cluster seeds {description}"),
                e,
            )
        })?;
    let conn = client
        .get_async_connection()
        .await
        .map_err(|e| store_error(&format!("connection to {description}"), e))?;
    Ok((Conn::Cluster(conn), description))
}

/// Where a node-specific command (SCAN) goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node {
    /// The standalone server.
    Server,
    /// The primary that currently owns this slot (so the route follows failovers).
    Primary(u16),
}

/// `n` replicas within `timeout`, checked with WAIT after each write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReplicaWait {
    pub(crate) replicas: u32,
    pub(crate) timeout: Duration,
}

impl Conn {
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisError> {
        match self {
            Conn::Standalone(s) => cmd.query_async(&mut s.manager()?).await,
            Conn::Cluster(c) => cmd.query_async(&mut c.clone()).await,
        }
    }

    pub(crate) async fn query_pipe<T: FromRedisValue>(
        &self,
        pipe: &Pipeline,
    ) -> Result<T, RedisError> {
        match self {
            Conn::Standalone(s) => pipe.query_async(&mut s.manager()?).await,
            Conn::Cluster(c) => pipe.query_async(&mut c.clone()).await,
        }
    }

    /// Loads `scripts` into the server's script cache (each node's, in Cluster), so that
    /// requests need no fallback. In Cluster this is best effort: a node that is down now
    /// gets a script body on first use instead.
    pub(crate) async fn preload(&self, scripts: &[&Lua]) -> Result<(), StoreError> {
        if self.is_cluster() {
            for lua in scripts {
                let mut cmd = redis::cmd("SCRIPT");
                cmd.arg("LOAD").arg(&lua.body);
                if let Err(e) = self.query::<Value>(&cmd).await {
                    tracing::debug!(error = %e, "could not preload scripts on every cluster node");
                    break;
                }
            }
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for lua in scripts {
            pipe.cmd("SCRIPT").arg("LOAD").arg(&lua.body);
        }
        self.query_pipe::<Vec<String>>(&pipe)
            .await
            .map(drop)
            .map_err(|e| store_error("SCRIPT LOAD", e))
    }

    /// One [`Node`] per primary: the server itself, or in Cluster a slot of each primary
    /// (from `CLUSTER SLOTS`).
    pub(crate) async fn primaries(&self) -> Result<Vec<Node>, RedisError> {
        if !self.is_cluster() {
            return Ok(vec![Node::Server]);
        }
        let slots: Value = self.query(redis::cmd("CLUSTER").arg("SLOTS")).await?;
        let Value::Array(ranges) = slots else {
            return Err(unexpected("CLUSTER SLOTS did not answer an array"));
        };
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut nodes = Vec::new();
        for range in ranges {
            let Value::Array(parts) = range else { continue };
            let (Some(Value::Int(start)), Some(Value::Array(primary))) =
                (parts.first(), parts.get(2))
            else {
                continue;
            };
            // host, port[, id]: identify the primary by all of it.
            let ident: Vec<u8> = primary
                .iter()
                .take(3)
                .flat_map(|v| match v {
                    Value::BulkString(b) => b.clone(),
                    Value::Int(i) => i.to_string().into_bytes(),
                    _ => Vec::new(),
                })
                .collect();
            if seen.contains(&ident) {
                continue;
            }
            seen.push(ident);
            if let Ok(slot) = u16::try_from(*start) {
                nodes.push(Node::Primary(slot));
            }
        }
        Ok(nodes)
    }

    /// Runs `cmd` on `node`.
    pub(crate) async fn query_on<T: FromRedisValue>(
        &self,
        node: Node,
        cmd: Cmd,
    ) -> Result<T, RedisError> {
        match (self, node) {
            (Conn::Cluster(c), Node::Primary(slot)) => {
                let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(
                    Route::new(slot, SlotAddr::Master),
                ));
                let v = c.clone().route_command(cmd, route).await?;
                Ok(T::from_redis_value(v)?)
            }
            _ => self.query(&cmd).await,
        }
    }

    /// Runs a script with `KEYS = [key]` and `ARGV = args`. With `wait`, a `WAIT` follows
    /// in the same pipeline — same connection, same node, right after the script — and a
    /// reply from fewer replicas than asked is an error.
    pub(crate) async fn eval(
        &self,
        lua: &Lua,
        key: &[u8],
        args: &[&[u8]],
        wait: Option<ReplicaWait>,
    ) -> Result<Value, StoreError> {
        self.eval_if(lua, key, args, wait, |_| true).await
    }

    /// [`Conn::eval`] for a script that may answer without writing (`save_plain` handing
    /// its case on, or finding nothing to save): the replicas' count is checked only when
    /// `wrote` says the reply is a write — a call that wrote nothing has nothing a failover
    /// could lose, and its caller goes on as without a wait.
    pub(crate) async fn eval_if(
        &self,
        lua: &Lua,
        key: &[u8],
        args: &[&[u8]],
        wait: Option<ReplicaWait>,
        wrote: fn(&Value) -> bool,
    ) -> Result<Value, StoreError> {
        let mut by_sha = true;
        loop {
            let result = self.eval_once(lua, by_sha, key, args, wait).await;
            let (reply, acked) = match result {
                Err(e) if by_sha && e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    by_sha = false;
                    continue;
                }
                Err(e) => return Err(store_error(lua.name, e)),
                Ok(ok) => ok,
            };
            if wrote(&reply) {
                check_acked(lua.name, wait, acked)?;
            }
            return Ok(reply);
        }
    }

    /// Runs one write command that is not a script (`what` names it in errors), then
    /// `WAIT` when `wait` asks for replicas, checked as [`Conn::eval_if`] checks it: only
    /// when `wrote` says the reply is a write.
    pub(crate) async fn write(
        &self,
        what: &str,
        cmd: Cmd,
        wait: Option<ReplicaWait>,
        wrote: fn(&Value) -> bool,
    ) -> Result<Value, StoreError> {
        let (reply, acked) = self
            .send_waited(cmd, wait)
            .await
            .map_err(|e| store_error(what, e))?;
        if wrote(&reply) {
            check_acked(what, wait, acked)?;
        }
        Ok(reply)
    }

    async fn eval_once(
        &self,
        lua: &Lua,
        by_sha: bool,
        key: &[u8],
        args: &[&[u8]],
        wait: Option<ReplicaWait>,
    ) -> Result<(Value, Option<i64>), RedisError> {
        let (name, script): (&str, &[u8]) = if by_sha {
            ("EVALSHA", lua.sha.as_bytes())
        } else {
            ("EVAL", lua.body.as_bytes())
        };
        // Sized once: a save's arguments carry the whole record, and a command grown
        // argument by argument reallocated its buffer several times per write.
        let mut cmd = Cmd::with_capacity(
            args.len() + 4,
            name.len() + script.len() + 1 + key.len() + args.iter().map(|a| a.len()).sum::<usize>(),
        );
        cmd.arg(name).arg(script).arg(1).arg(key);
        for a in args {
            cmd.arg(*a);
        }
        self.send_waited(cmd, wait).await
    }

    /// `cmd`, followed in the same pipeline by `WAIT` when `wait` is set: the reply and
    /// how many replicas acknowledged.
    async fn send_waited(
        &self,
        cmd: Cmd,
        wait: Option<ReplicaWait>,
    ) -> Result<(Value, Option<i64>), RedisError> {
        let Some(wait) = wait else {
            return Ok((self.query(&cmd).await?, None));
        };
        let mut pipe = redis::pipe();
        pipe.add_command(cmd);
        pipe.cmd("WAIT").arg(wait.replicas).arg(
            u64::try_from(wait.timeout.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        let (reply, acked): (Value, i64) = self.query_pipe(&pipe).await?;
        Ok((reply, Some(acked)))
    }
}

/// Refuses a write that fewer replicas acknowledged than `wait` asks for.
fn check_acked(
    what: &str,
    wait: Option<ReplicaWait>,
    acked: Option<i64>,
) -> Result<(), StoreError> {
    match (wait, acked) {
        (Some(wait), Some(acked)) if acked < i64::from(wait.replicas) => Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!(
                "redis {what}: {acked} of {} replicas acknowledged the write within {:?}; \
                 it happened on the primary but may not survive a failover",
                wait.replicas, wait.timeout
            ),
        )),
        _ => Ok(()),
    }
}

fn unexpected(what: &'static str) -> RedisError {
    RedisError::from((ErrorKind::UnexpectedReturnType, what))
}

/// A reply that does not have the shape a script promises.
pub(crate) fn bad_reply(what: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!("unexpected reply from Redis to {what}"),
    )
}

/// Maps a driver error, keeping it as the source.
pub(crate) fn store_error(what: &str, e: RedisError) -> StoreError {
    let kind = match e.kind() {
        _ if e.is_timeout() => StoreErrorKind::Timeout,
        ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => StoreErrorKind::Unavailable,
        ErrorKind::Server(
            ServerErrorKind::ClusterDown
            | ServerErrorKind::TryAgain
            | ServerErrorKind::MasterDown
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::ReadOnly
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        ) => StoreErrorKind::Unavailable,
        ErrorKind::InvalidClientConfig
        | ErrorKind::AuthenticationFailed
        | ErrorKind::Server(ServerErrorKind::NoPerm) => StoreErrorKind::Config,
        _ => StoreErrorKind::Other,
    };
    StoreError::with_source(kind, format!("redis {what} failed"), e)
}

/// The first value of a script's array reply as an integer, and the rest.
pub(crate) fn script_reply(v: Value, what: &str) -> Result<(i64, Vec<Value>), StoreError> {
    match v {
        Value::Array(mut items) if !items.is_empty() => match items.remove(0) {
            Value::Int(status) => Ok((status, items)),
            _ => Err(bad_reply(what)),
        },
        Value::Int(status) => Ok((status, Vec::new())),
        _ => Err(bad_reply(what)),
    }
}

/// A string item of a script reply (`''` and absent are `None`).
pub(crate) fn reply_str(items: &[Value], i: usize) -> Option<String> {
    match items.get(i) {
        Some(Value::BulkString(b)) if !b.is_empty() => String::from_utf8(b.clone()).ok(),
        Some(Value::SimpleString(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// A URL without its credentials (and without a query, which may carry them too).
/// A seed as given (`host:port`), or its URL without credentials.
fn redact_seed(seed: &str) -> String {
    if seed.contains("://") {
        redact(seed)
    } else {
        seed.to_owned()
    }
}

pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsable Redis URL>".to_owned();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    // Everything up to the last `@` is user info (a password may hold `/` or `@`).
    let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{host_and_path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_descriptions() {
        assert_eq!(
            redact("redis://user:s3cret@db.example:6380/2"),
            "redis://db.example:6380/2"
        );
        assert_eq!(redact("redis://:p@ss@h:1"), "redis://h:1");
        assert_eq!(redact("redis://:pa/ss@h:1/0"), "redis://h:1/0");
        assert_eq!(redact("rediss://h:1/0?password=x"), "rediss://h:1/0");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("127.0.0.1:6379"), "<unparsable Redis URL>");
        assert_eq!(
            redact("redis+unix:///tmp/r.sock?pass=x"),
            "redis+unix:///tmp/r.sock"
        );
    }

    #[test]
    fn script_replies_parse() {
        let v = Value::Array(vec![
            Value::Int(1),
            Value::Int(7),
            Value::BulkString(b"42".to_vec()),
        ]);
        let (status, items) = script_reply(v, "t").unwrap();
        assert_eq!(status, 1);
        assert_eq!(reply_str(&items, 1).as_deref(), Some("42"));
        assert_eq!(reply_str(&items, 2), None);
        assert!(script_reply(Value::Nil, "t").is_err());
    }
}
