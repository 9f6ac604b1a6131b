//! Redis and Redis Cluster session store for sessionkit: [`RedisStore`].
//!
//! With the feature `django`, the `django` module adds Django's own layouts on Redis, to
//! share sessions with a Django application: `DjangoCacheStore` (Django's `cache` session
//! engine) and `DjangoCachedDbStore` (`cached_db`: a store of Django's `db` layout, with
//! Django's cache of it kept in step). They use the connections, the script handling and
//! the cluster scans described below; the rest of these docs is about the native layout.
//!
//! ```no_run
//! # async fn run() -> Result<(), sessionkit_core::StoreError> {
//! use std::time::Duration;
//! use sessionkit_core::{Config, Engine};
//! use sessionkit_redis::RedisStore;
//!
//! // One server (or a primary with replicas behind one address):
//! let store = RedisStore::connect("redis://127.0.0.1:6379/0").await?;
//! // A cluster, from any of its nodes; every write waits for one replica:
//! let cluster = RedisStore::cluster_builder(&["127.0.0.1:7000", "127.0.0.1:7001"])
//!     .with_prefix("myapp:")
//!     .with_replica_wait(1, Duration::from_millis(500))
//!     .connect()
//!     .await?;
//! let engine = Engine::new(store, Config::default());
//! # let _ = (cluster, engine);
//! # Ok(())
//! # }
//! ```
//!
//! # Layout
//!
//! The native layout: one string per session under `{prefix}s:{<session key>}` — a
//! header line with the version, the expiry, created-at, last-seen, the user id and the
//! client info, then the data as JSON text; a set per user; a string per lease. The
//! [`keys`] module spells it out. The braces are the Redis Cluster hash tag: everything
//! about one session lives in one slot.
//!
//! Builds before issue 21 kept each session in a hash. This one reads both formats, and
//! rewrites a hash in the packed format when it saves or touches it. Upgrading a running
//! deployment takes two deploys — first with [`RecordFormat::Hash`] (keep writing hashes,
//! which the earlier build's processes still read), then with the default: see
//! [`RecordFormat`].
//!
//! # One round trip per operation, as a rule
//!
//! `load` is one `GET` (plus an `HMGET` for a record still in the old hash format; under
//! [`RecordFormat::Hash`], `HMGET` first).
//! A write is a Lua script (see the `scripts` module) sent as
//! `EVALSHA` — scripts are loaded when the store connects, and a node that lost them
//! (restart, failover) gets the body once with `EVAL`. The client builds the record's
//! whole new value, so a `save` on the server is a `GET`, a check of the header and one
//! `SET key value PX ttl`. The common write — no user, the packed format, a TTL, and for a
//! save a `created_at` of its own — is cheaper still: a `create` is a plain `SET NX PX`, a `save` a four-argument script;
//! what they cannot settle (a taken key, a conflict, a stored user, a record in another
//! format) goes on to the full script, a second round trip. The scripts make each
//! operation atomic on the session's node:
//!
//! | operation | script |
//! | --- | --- |
//! | `create` | insert if the key is free **or its record expired at `now`**; otherwise a collision |
//! | `save` | compare-and-set on the version; `Missing` when the record is absent, retired or expired at `now`; never creates |
//! | `touch` | new expiry and last-seen on a live record; data and version unchanged |
//! | `delete` | removes the record |
//! | `retire` | replaces the record by a rotation marker (retired, `expires_at = until`) that expires at `until` |
//! | `clear_expired` | per key: delete if expired at `now`, and say so — so concurrent cleaners count each record once |
//!
//! The cluster client re-sends a request whose connection dropped, even if the server had
//! already run it. Deletes, touches and retirements are idempotent; creates and saves carry
//! a random write id, stored with the record, so that a re-run finds its own write and
//! answers as the first run did — not with a conflict, which would make the engine replay
//! the request's changes a second time. (The re-run no longer knows the user the record
//! had before the first run, so in Cluster a user change in a re-sent save leaves the
//! session in its former user's set: a stale member, which readers skip and prune.)
//!
//! # Time: the engine's `now` decides, TTLs only evict
//!
//! Every script compares the stored `expires_at` (Unix microseconds) with the `now` the
//! engine passes in, never with the server's clock. Each write also sets the record's TTL to
//! `expires_at - now` (rounded up to the millisecond) so that Redis evicts the record once
//! it is dead; a record whose TTL would be `<= 0` is not stored at all. `clear_expired` is
//! therefore rarely needed: it removes records that the engine's clock considers expired
//! but whose TTL has not run out yet (a clock ahead of real time, a manual clock).
//!
//! `retire` is given no `now` by the store contract, yet a marker's TTL runs to `until`
//! on the engine's clock. The script reads that clock off the record it replaces (its
//! `expires_at` minus its remaining TTL is the engine's `now`, for any clock that runs at
//! real speed) and falls back on the system clock only when there is no record.
//!
//! # The per-user index
//!
//! `{prefix}u:{<user id>}` is a set of session keys, kept as long as the longest session in
//! it (TTL raised on every write), maintained from [`Metadata::user_id`] on create, save,
//! touch, delete, retire, `clear_expired` and `revoke_user`.
//!
//! * **Standalone:** the session scripts update the sets themselves, in the same atomic
//!   step as the session write. (A single server lets a script touch keys whose names it
//!   builds from the prefix; Redis Cluster does not.)
//! * **Cluster:** a user's set lives in another slot than the session, so the store updates
//!   it with a separate command **after** the session write, on a task of its own (so a
//!   cancelled request still completes it). What can happen:
//!   * a **stale member** — the session was deleted or changed user but the `SREM` did not
//!     arrive. Harmless: `sessions_of` and `revoke_user` check each session's own `user_id`
//!     (in the same script that deletes, for `revoke_user`), skip the stale member and
//!     remove it from the set;
//!   * a **missing member** — the session was written but adding it to its user's set failed
//!     (the operation then returns an error) or the process died between the two commands.
//!     Such a session is invisible to `sessions_of`/`revoke_user` until its next save or
//!     touch, which adds it again.
//!
//! `sessions_of` reads the set and each member's record (concurrently, pipelined per node);
//! `revoke_user(user, keep)` deletes every member still owned by the user except `keep`.
//!
//! # Listing and cleanup cost
//!
//! [`SessionListing::list`] and `clear_expired` `SCAN` the namespace's session keys on
//! every primary (`MATCH {prefix}s:{*}`, `COUNT 1000`): O(number of keys in the database)
//! per call — a page of a listing scans them all, then reads only the records it needs.
//! Fine for an admin tool or a periodic job; not for a request path.
//!
//! # Durability and failover
//!
//! What [`RedisBuilder::with_replica_wait`] changes:
//!
//! * **Without it**, a write is acknowledged once it is in the primary's memory. Redis
//!   replicates asynchronously: if the primary dies before a write reached a replica, the
//!   replica promoted in its place does not have it. The last writes before a failover
//!   (usually well under a second's worth) are lost: a logout can be undone, a save
//!   reverted to an older version, a login forgotten.
//! * **With `with_replica_wait(n, timeout)`**, every write is followed, in the same
//!   pipeline on the same connection, by `WAIT n timeout`. A write that returns `Ok` has
//!   reached the memory of at least `n` replicas of its primary. If fewer acknowledge in
//!   time the operation fails with [`StoreErrorKind::Unavailable`] — but it *did* happen on
//!   the primary (Redis cannot roll it back): treat it like a timeout, outcome unknown.
//!   So while a primary has fewer than `n` connected replicas — right after a failover,
//!   until the old primary rejoins as a replica — every write to its slots fails.
//!   An acknowledged write survives the failover of its primary whenever the promoted
//!   replica is one that acknowledged: always when `n` is the number of replicas of each
//!   primary; with fewer, Redis promotes the most up-to-date replica, which makes it likely
//!   but not certain. It does not survive losing the primary and those replicas together,
//!   a forced failover to a lagging replica, or a restart of a whole shard without
//!   persistence. `WAIT` is not consensus: it bounds loss, it does not make Redis strongly
//!   consistent. Reads always go to primaries, so a writer reads its own writes. The timeout is
//!   capped at 2 s, below the 3 s response timeout. Not waited for: the per-user index
//!   commands in Cluster and `clear_expired`'s deletions (an expired record that comes back
//!   is still expired). Leases are never waited for.
//!
//! # Connections and errors
//!
//! All clones of the store share its connections. A standalone server gets one
//! multiplexed connection per Tokio runtime that sends commands (under actix-web, one per
//! worker; under a multi-threaded runtime, one for all its workers), made on the runtime's
//! first command, so that under actix-web a worker's commands and replies stay on its
//! thread; a Cluster one per node. Concurrent commands are pipelined on a connection. Connecting gives up after 2 s per attempt (one
//! retry) and every reply is awaited at most 3 s, so a dead server is a prompt
//! [`StoreErrorKind::Unavailable`] (or `Timeout`), never a hang; the connection
//! reconnects by itself. The cluster client follows `MOVED`/`ASK` redirects, refreshes its
//! slot map on failover and retries with backoff for at most 5 s per operation; during a
//! failover (about twice the cluster's `cluster-node-timeout`) operations on the failed
//! primary's slots fail with `Unavailable` until a replica is promoted. Bad URLs are [`StoreErrorKind::Config`]. Stored data the store
//! cannot read is `Lookup::Missing` plus a warning with the key's fingerprint — never the key.
//!
//! [`Metadata::user_id`]: sessionkit_core::Metadata::user_id
//! [`SessionListing::list`]: sessionkit_core::SessionListing::list
#![cfg_attr(docsrs, feature(doc_cfg))]

mod builder;
mod cache;
mod codec;
mod conn;
#[cfg(feature = "django")]
#[cfg_attr(docsrs, doc(cfg(feature = "django")))]
pub mod django;
mod index;
pub mod keys;
mod lease;
mod listing;
mod plain;
mod runtimes;
mod scan;
mod scripts;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::{ErrorKind, Value};
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionKey, SessionStore, StoreError,
    StoreErrorKind, Token,
};
use time::OffsetDateTime;

pub use crate::builder::RedisBuilder;
pub use crate::cache::RedisCache;
use crate::codec::{
    Digits, Header, RECORD_FIELDS, Raw, Stored, client_arg, decode_record, ttl_ms, unix_micros,
};
use crate::conn::{Conn, ReplicaWait, reply_str, script_reply, store_error};
#[cfg(feature = "django")]
pub use crate::django::{DjangoCacheBuilder, DjangoCacheStore, DjangoCachedDbStore};
pub use crate::keys::{DEFAULT_PREFIX, KeyLayout, RecordFormat};
use crate::scripts::{Lua, SCRIPTS};

/// Sessions in Redis or Redis Cluster (native layout). Clones share the connection.
///
/// See the [crate docs](crate) for the layout, the scripts' guarantees, the per-user
/// index in Cluster and what [`with_replica_wait`](RedisBuilder::with_replica_wait) adds.
/// [`connect`](RedisStore::connect) with the defaults, or [`builder`](RedisStore::builder)
/// for options (see [`RedisBuilder`]).
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    conn: Conn,
    layout: KeyLayout,
    description: String,
    replica_wait: Option<ReplicaWait>,
    format: RecordFormat,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.inner.description)
            .field("prefix", &self.inner.layout.prefix())
            .field("replica_wait", &self.inner.replica_wait)
            .field("format", &self.inner.format)
            .finish()
    }
}

impl RedisStore {
    /// Options for a store on a standalone server: `redis://[[user]:password@]host[:port][/db]`
    /// (or `redis+unix:///path`).
    pub fn builder(url: &str) -> RedisBuilder {
        RedisStore::builder_for(conn::Target::Server(url.to_owned()))
    }

    /// Options for a store on a Redis Cluster, reached through any of its nodes
    /// (`host:port` or `redis://host:port`; credentials, if any, in the first seed's URL).
    /// The client discovers the other nodes, follows redirects and refreshes its slot map
    /// on failover.
    pub fn cluster_builder(seeds: &[&str]) -> RedisBuilder {
        RedisStore::builder_for(conn::Target::cluster(seeds))
    }

    fn builder_for(target: conn::Target) -> RedisBuilder {
        RedisBuilder {
            target,
            layout: KeyLayout::default(),
            replica_wait: None,
            format: RecordFormat::default(),
        }
    }

    /// Connects to a standalone server with the default options: `builder(url).connect()`.
    pub async fn connect(url: &str) -> Result<RedisStore, StoreError> {
        RedisStore::builder(url).connect().await
    }

    /// Connects to a Redis Cluster with the default options:
    /// `cluster_builder(seeds).connect()`.
    pub async fn connect_cluster(seeds: &[&str]) -> Result<RedisStore, StoreError> {
        RedisStore::cluster_builder(seeds).connect().await
    }

    /// This store — the same connection and namespace — with another replica wait (see
    /// [`RedisBuilder::with_replica_wait`]): for writes that need more (or less)
    /// durability than the rest, without a second connection.
    #[must_use]
    pub fn waiting_for(&self, replicas: u32, timeout: Duration) -> RedisStore {
        let mut inner = (*self.inner).clone();
        inner.replica_wait = builder::replica_wait(replicas, timeout);
        RedisStore {
            inner: Arc::new(inner),
        }
    }

    /// The key names of this store's namespace.
    pub fn layout(&self) -> &KeyLayout {
        &self.inner.layout
    }

    /// The format this store writes session records in (it reads both).
    pub fn record_format(&self) -> RecordFormat {
        self.inner.format
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.inner.conn.is_cluster()
    }

    /// Where the store lives: the server or cluster address, without credentials.
    pub fn location(&self) -> &str {
        &self.inner.description
    }

    pub(crate) fn conn(&self) -> &Conn {
        &self.inner.conn
    }

    /// `ARGV[1]` of the session scripts: where they keep the user sets themselves
    /// (standalone), or empty for "the client does it" (Cluster).
    fn index_prefix(&self) -> &[u8] {
        if self.inner.conn.is_cluster() {
            b""
        } else {
            self.inner.layout.user_prefix().as_bytes()
        }
    }

    /// Runs a session script on `key`'s record; `write` adds the replica wait.
    async fn run(
        &self,
        lua: &Lua,
        key: &SessionKey,
        args: &[&[u8]],
        write: bool,
    ) -> Result<(i64, Vec<Value>), StoreError> {
        let redis_key = self.inner.layout.session(key);
        let mut argv: Vec<&[u8]> = Vec::with_capacity(args.len() + 3);
        argv.push(self.index_prefix());
        argv.push(key.as_bytes());
        argv.push(match self.inner.format {
            RecordFormat::Hash => b"h",
            RecordFormat::Packed => b"",
        });
        argv.extend_from_slice(args);
        let wait = if write { self.inner.replica_wait } else { None };
        let reply = self
            .inner
            .conn
            .eval(lua, redis_key.as_bytes(), &argv, wait)
            .await?;
        script_reply(reply, lua.name)
    }

    /// `create` with a given write id (a re-sent call reuses it).
    async fn create_as(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
        write: &str,
    ) -> Result<CreateOutcome, StoreError> {
        let now_us = unix_micros(now);
        let ttl = ttl_ms(record.expires_at, now);
        let user = record.meta.user_id.as_deref().unwrap_or("");
        let client = client_arg(record.meta.client.as_ref());
        let value = Header {
            version: 1,
            expires_at: unix_micros(record.expires_at),
            write,
            retired: false,
            created_at: Some(record.meta.created_at.map_or(now_us, unix_micros)),
            last_seen: Some(record.meta.last_seen.map_or(now_us, unix_micros)),
            user,
            client: &client,
        }
        .pack(Some(&record.data));
        if self.plain_create(record, ttl) && self.create_plain(key, &value, ttl).await? {
            return Ok(CreateOutcome::Created(Token::version(1)));
        }
        let (now_s, ttl_s) = (Digits::int(now_us), Digits::int(ttl));
        let args: [&[u8]; 5] = [
            now_s.as_bytes(),
            ttl_s.as_bytes(),
            value.as_bytes(),
            write.as_bytes(),
            user.as_bytes(),
        ];
        let (status, items) = self.run(&SCRIPTS.create, key, &args, true).await?;
        if status != 1 {
            return Ok(CreateOutcome::Collision);
        }
        self.update_index(key, reply_str(&items, 0), Some(user), ttl)
            .await?;
        Ok(CreateOutcome::Created(Token::version(1)))
    }

    /// `save` with a given write id (a re-sent call reuses it).
    async fn save_as(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
        write: &str,
    ) -> Result<SaveOutcome, StoreError> {
        // A token this store never handed out cannot match; nor can a version that no
        // record could follow.
        let Some((version, next)) = token
            .as_version()
            .and_then(|v| Some((v, v.checked_add(1)?)))
        else {
            return Ok(SaveOutcome::Conflict);
        };
        let now_us = unix_micros(now);
        let ttl = ttl_ms(record.expires_at, now);
        let user = record.meta.user_id.as_deref().unwrap_or("");
        let client = client_arg(record.meta.client.as_ref());
        let value = Header {
            version: next,
            expires_at: unix_micros(record.expires_at),
            write,
            retired: false,
            created_at: record.meta.created_at.map(unix_micros),
            last_seen: Some(record.meta.last_seen.map_or(now_us, unix_micros)),
            user,
            client: &client,
        }
        .pack(Some(&record.data));
        let (now_s, version_s, ttl_s) =
            (Digits::int(now_us), Digits::uint(version), Digits::int(ttl));
        if self.plain_save(record, ttl)
            && let Some(outcome) = self
                .save_plain(key, [&version_s, &ttl_s, &now_s], &value, next)
                .await?
        {
            return Ok(outcome);
        }
        // Without a created_at of its own the record keeps the stored one.
        let keep_created: &[u8] = if record.meta.created_at.is_none() {
            b"1"
        } else {
            b""
        };
        let args: [&[u8]; 7] = [
            now_s.as_bytes(),
            version_s.as_bytes(),
            ttl_s.as_bytes(),
            value.as_bytes(),
            write.as_bytes(),
            user.as_bytes(),
            keep_created,
        ];
        let (status, items) = self.run(&SCRIPTS.save, key, &args, true).await?;
        match status {
            1 => {
                self.update_index(key, reply_str(&items, 0), Some(user), ttl)
                    .await?;
                Ok(SaveOutcome::Saved(Token::version(next)))
            }
            0 => Ok(SaveOutcome::Conflict),
            _ => Ok(SaveOutcome::Missing),
        }
    }

    /// What the key of a session holds: one `GET`, and for a hash (a record of an earlier
    /// build, or of [`RecordFormat::Hash`]) an `HMGET` of its [`RECORD_FIELDS`]. A key
    /// holding another type reads as absent, with a warning.
    pub(crate) async fn read_raw(&self, key: &SessionKey) -> Result<Raw, StoreError> {
        let name = self.inner.layout.session(key);
        // The command of the format this store writes first: a hash-writing store reads
        // mostly hashes. `WRONGTYPE` sends the read to the other format. The two reads are
        // separate commands, so a save between them may have just rewritten the record in
        // the first format (a migration, or a process writing the other format during an
        // upgrade): the loop reads again rather than take the record for garbage.
        let mut hash = self.inner.format == RecordFormat::Hash;
        let mut wrong = 0;
        while wrong < 4 {
            let read = if hash {
                let mut cmd = redis::cmd("HMGET");
                cmd.arg(&name).arg(&RECORD_FIELDS[..]);
                self.inner.conn.query(&cmd).await.map(Raw::Hash)
            } else {
                let mut cmd = redis::cmd("GET");
                cmd.arg(&name);
                self.inner
                    .conn
                    .query::<Option<Vec<u8>>>(&cmd)
                    .await
                    .map(|v| v.map_or(Raw::Absent, Raw::Packed))
            };
            match read {
                Ok(raw) => return Ok(raw),
                Err(e) if e.code() == Some("WRONGTYPE") => {
                    wrong += 1;
                    hash = !hash;
                }
                Err(e)
                    if hash
                        && (e.kind() == ErrorKind::UnexpectedReturnType
                            || e.kind() == ErrorKind::Parse) =>
                {
                    tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session hash; treating as no session");
                    return Ok(Raw::Absent);
                }
                Err(e) => return Err(store_error(if hash { "HMGET" } else { "GET" }, e)),
            }
        }
        tracing::warn!(key = %key.fingerprint(), "the session key holds neither a string nor a hash; treating as no session");
        Ok(Raw::Absent)
    }

    /// Cluster only: brings the user sets in line with a session write that replaced
    /// `previous` by `current` (`None`: no live session with a user any more). Runs on its
    /// own task so that a cancelled request still completes it. Failing to add is an error
    /// (the session would be missing from its user's index); failing to remove only leaves
    /// a stale member, which readers skip, so it is logged.
    async fn update_index(
        &self,
        key: &SessionKey,
        previous: Option<String>,
        current: Option<&str>,
        ttl: i64,
    ) -> Result<(), StoreError> {
        if !self.inner.conn.is_cluster() {
            return Ok(());
        }
        let current = current.filter(|u| !u.is_empty() && ttl > 0);
        let remove = previous.filter(|p| !p.is_empty() && Some(p.as_str()) != current);
        if remove.is_none() && current.is_none() {
            return Ok(());
        }
        let conn = self.inner.conn.clone();
        let layout = self.inner.layout.clone();
        let add = current.map(|u| layout.user(u));
        let member = key.as_str().to_owned();
        let fingerprint = key.fingerprint();
        let task = tokio::spawn(async move {
            let removing = async {
                if let Some(user) = &remove {
                    let mut cmd = redis::cmd("SREM");
                    cmd.arg(layout.user(user)).arg(&member);
                    if let Err(e) = conn.query::<Value>(&cmd).await {
                        tracing::warn!(
                            key = %fingerprint,
                            error = %e,
                            "could not remove a session from its former user's index; the stale member will be skipped and pruned by readers"
                        );
                    }
                }
            };
            let adding = async {
                match &add {
                    Some(set) => {
                        let ttl = ttl.to_string();
                        conn.eval(
                            &SCRIPTS.index_add,
                            set.as_bytes(),
                            &[member.as_bytes(), ttl.as_bytes()],
                            None,
                        )
                        .await
                        .map(drop)
                    }
                    None => Ok(()),
                }
            };
            let ((), added) = tokio::join!(removing, adding);
            added
        });
        match task.await {
            Ok(result) => result.map_err(|e| {
                StoreError::with_source(
                    e.kind(),
                    "the session was written but could not be added to its user's index",
                    e,
                )
            }),
            Err(e) => Err(StoreError::with_source(
                StoreErrorKind::Other,
                "the per-user index task failed",
                e,
            )),
        }
    }
}

/// A fresh id for one create or save: 32 characters from the CSPRNG that makes session
/// keys (uniqueness is what matters here).
fn write_id() -> String {
    SessionKey::generate().as_str().to_owned()
}

impl SessionStore for RedisStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let raw = self.read_raw(key).await?;
        Ok(match decode_record(&raw, key, unix_micros(now)) {
            Stored::Gone => Lookup::Missing,
            Stored::Retired { until } => Lookup::Retired { until },
            Stored::Live { record, version } => Lookup::Found {
                record,
                token: Token::version(version),
            },
            Stored::Unreadable(why) => {
                tracing::warn!(key = %key.fingerprint(), problem = why, "unreadable session in Redis; treating as no session");
                Lookup::Missing
            }
        })
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.create_as(key, record, now, &write_id()).await
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.save_as(key, record, token, now, &write_id()).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let (_, items) = self.run(&SCRIPTS.delete, key, &[], true).await?;
        self.update_index(key, reply_str(&items, 0), None, 0).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let ttl = ttl_ms(expires_at, now);
        let (now_s, expires_s, ttl_s) = (
            Digits::int(unix_micros(now)),
            Digits::int(unix_micros(expires_at)),
            Digits::int(ttl),
        );
        let args: [&[u8]; 3] = [now_s.as_bytes(), expires_s.as_bytes(), ttl_s.as_bytes()];
        let (status, items) = self.run(&SCRIPTS.touch, key, &args, true).await?;
        if status != 1 {
            return Ok(false);
        }
        // The same user before and after: re-adding raises the set's TTL with the
        // session's (or, when the touch expired the session, removes it).
        let user = reply_str(&items, 0);
        self.update_index(key, user.clone(), user.as_deref(), ttl)
            .await?;
        Ok(true)
    }

    /// Reports the running total after each batch: one `SCAN` page (up to 1000 keys),
    /// whose keys are checked concurrently.
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        listing::clear_expired(self, now, progress).await
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        let until_us = unix_micros(until);
        let until_s = Digits::int(until_us);
        // Used only when no record is left to tell the engine's clock (see the script).
        let fallback_now = Digits::int(unix_micros(OffsetDateTime::now_utc()));
        let marker = Header::marker(until_us).pack(None);
        let args: [&[u8]; 3] = [
            until_s.as_bytes(),
            fallback_now.as_bytes(),
            marker.as_bytes(),
        ];
        let (_, items) = self.run(&SCRIPTS.retire, key, &args, true).await?;
        self.update_index(key, reply_str(&items, 0), None, 0).await
    }

    fn describe(&self) -> String {
        self.inner.description.clone()
    }

    sessionkit_core::offers!(listing, user_index, leases);
}

#[cfg(test)]
mod tests;
