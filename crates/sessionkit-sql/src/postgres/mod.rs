//! [`PostgresStore`]: sessions in PostgreSQL.
//!
//! # Layout
//!
//! One session table (native layout, schema version 2; see [`schema`]): the key, the data
//! as plain JSON, a version number for compare-and-set, the expiry (`timestamptz`,
//! indexed), created-at, last-seen, the user id (partial index), a rotation-marker flag
//! and the client (IP, user agent, device label); beside it a lease table for lock mode.
//! [`PostgresStore::connect`] creates what is missing, upgrades a version 1 table in place
//! and refuses a table of another layout version;
//! [`PostgresBuilder::with_create`]`(Create::Never)` creates nothing.
//!
//! # Round trips
//!
//! Every operation is one statement, prepared once per connection and cached
//! (`prepare_cached`): `load` a primary-key `SELECT`; `create` an
//! `INSERT … ON CONFLICT DO UPDATE … WHERE <expired>` (an expired row does not own its
//! key); `save` a compare-and-set `UPDATE` in a CTE whose outer `SELECT` also tells a
//! conflict from a missing row. Connections come from a `deadpool-postgres` pool (16
//! connections); on one connection tokio-postgres pipelines whatever is sent
//! concurrently. All times compared are the ones the engine passes in, never the
//! server's `now()`.
//!
//! # Cleanup
//!
//! [`clear_expired`](sessionkit_core::SessionStore::clear_expired) deletes in batches of
//! [`CLEAR_BATCH`] rows, each batch one statement that locks its rows with
//! `FOR UPDATE SKIP LOCKED`: several cleaners (one per node, say) share the work, and each
//! expired row is removed, and counted, exactly once.
//! [`clear_expired_with_progress`](sessionkit_core::SessionStore::clear_expired_with_progress) reports the
//! running count after each batch.
//!
//! # Errors
//!
//! Connection failures and pool timeouts are [`StoreErrorKind::Unavailable`]; a bad URL,
//! a refused login, a missing database or a table of another layout are
//! [`StoreErrorKind::Config`]; a record the server refuses to hold (a NUL character in a
//! user id, say) is [`StoreErrorKind::Encode`]. Connecting gives up after
//! [`CONNECT_TIMEOUT`] (or the URL's `connect_timeout`), so a dead server is a prompt
//! error, not a hang.
//! Connections are made without TLS.
//!
//! # Files
//!
//! This folder holds everything PostgreSQL: this module the connection handling both
//! layouts share (the pool, error classification, statement helpers, the time range);
//! `native.rs` the native layout ([`PostgresStore`]) and [`schema`] its DDL;
//! `django.rs` Django's layout ([`DjangoPostgresStore`],
//! feature `django`) and `django_schema.rs` its DDL.

#[cfg(feature = "django")]
mod django;
#[cfg(feature = "django")]
mod django_schema;
mod native;
pub mod schema;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use sessionkit_core::{SessionKey, StoreError, StoreErrorKind};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

pub use crate::shared::{CLEAR_BATCH, CONNECT_TIMEOUT, POOL_SIZE};
use crate::shared::{TimeRange, clear_in_batches};

#[cfg(feature = "django")]
pub use self::django::{DjangoPostgresBuilder, DjangoPostgresStore};
pub use self::native::{PostgresBuilder, PostgresStore};

/// The times written (within `timestamptz`'s range, and the `time` crate's); anything
/// outside is clamped.
const TIMES: TimeRange = TimeRange {
    min: datetime!(0001-01-01 00:00 UTC),
    max: datetime!(9999-12-31 23:59:59.999_999 UTC),
};

/// A driver error as a [`StoreError`], keeping the error as its source: login, database
/// and schema problems (SQLSTATE classes 28, 3D, 3F, 42) are misconfiguration, data the
/// server refuses (22, 54) an encoding failure; everything else, connection and I/O
/// failures first, means the store could not answer.
pub(crate) fn pg_error(what: &str, e: tokio_postgres::Error) -> StoreError {
    StoreError::with_source(classify(&e), format!("postgres {what} failed"), e)
}

fn classify(e: &tokio_postgres::Error) -> StoreErrorKind {
    match e.code().map(|c| c.code().get(..2).unwrap_or_default()) {
        Some("28" | "3D" | "3F" | "42") => StoreErrorKind::Config,
        // Data exceptions (a NUL in a user id, say) and size limits: this record cannot
        // be stored, the store itself is fine.
        Some("22" | "54") => StoreErrorKind::Encode,
        _ => StoreErrorKind::Unavailable,
    }
}

fn pool_error(url: &str, timeout: Duration, e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => StoreError::with_source(
            classify(&e),
            format!("cannot connect to PostgreSQL at {url}"),
            e,
        ),
        PoolError::Timeout(_) => StoreError::with_source(
            StoreErrorKind::Unavailable,
            format!("no PostgreSQL connection to {url} within {timeout:?}"),
            e,
        ),
        e => StoreError::with_source(
            StoreErrorKind::Unavailable,
            format!("no PostgreSQL connection to {url}"),
            e,
        ),
    }
}

/// `t` as written: clamped into the range the column holds.
pub(crate) fn ts(t: OffsetDateTime) -> OffsetDateTime {
    TIMES.clamp(t)
}

/// `now + ttl`, saturating at the latest time the column holds.
pub(crate) fn lease_end(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    TIMES.after(now, ttl)
}

/// The URL without its password: `postgres://user@host:port/db`.
fn describe(cfg: &tokio_postgres::Config) -> String {
    let ports = cfg.get_ports();
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string().replace('/', "%2F"),
            }
        })
        .collect();
    let user = cfg.get_user().unwrap_or_default();
    let db = cfg.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{db}", hosts.join(","))
}

/// A transaction holding the advisory lock `lock` (released when it ends): schema setup
/// by processes starting at once takes turns.
pub(crate) async fn locked_transaction(
    client: &mut deadpool_postgres::Client,
    lock: i64,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| pg_error("schema setup", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock])
        .await
        .map_err(|e| pg_error("schema lock", e))?;
    Ok(tx)
}

/// A database both layouts use: the pool, the URL without its password, and the
/// connection timeout. Every statement is prepared once per connection and cached.
pub(crate) struct Db {
    pool: Pool,
    url: String,
    timeout: Duration,
}

impl Db {
    /// The pool for the database at `url` (`postgres://…` or `key=value`), not connected
    /// yet. The URL's `connect_timeout`, if any, bounds the whole connection setup and the
    /// wait for a pooled connection; else [`CONNECT_TIMEOUT`] does.
    pub(crate) fn new(url: &str) -> Result<Db, StoreError> {
        let mut cfg: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::with_source(StoreErrorKind::Config, "invalid PostgreSQL URL", e)
        })?;
        let timeout = cfg
            .get_connect_timeout()
            .copied()
            .filter(|t| !t.is_zero())
            .unwrap_or(CONNECT_TIMEOUT);
        cfg.connect_timeout(timeout);
        let url = describe(&cfg);
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .recycle_timeout(Some(timeout))
            .build()
            .map_err(|e| {
                StoreError::with_source(
                    StoreErrorKind::Config,
                    "cannot build the PostgreSQL pool",
                    e,
                )
            })?;
        Ok(Db { pool, url, timeout })
    }

    /// The URL without its password.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A pooled connection.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| pool_error(&self.url, self.timeout, e))
    }

    /// A pooled connection and `sql` prepared on it (cached per connection); errors are
    /// `what` failing.
    async fn prepared(
        &self,
        what: &str,
        sql: &str,
    ) -> Result<(deadpool_postgres::Client, tokio_postgres::Statement), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| pg_error(what, e))?;
        Ok((client, stmt))
    }

    /// Runs one cached statement returning rows.
    pub(crate) async fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let (client, stmt) = self.prepared(what, sql).await?;
        client
            .query(&stmt, params)
            .await
            .map_err(|e| pg_error(what, e))
    }

    /// Runs one cached statement returning at most one row.
    pub(crate) async fn query_opt(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let (client, stmt) = self.prepared(what, sql).await?;
        client
            .query_opt(&stmt, params)
            .await
            .map_err(|e| pg_error(what, e))
    }

    /// Runs one cached statement; returns the rows it changed.
    pub(crate) async fn execute(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let (client, stmt) = self.prepared(what, sql).await?;
        client
            .execute(&stmt, params)
            .await
            .map_err(|e| pg_error(what, e))
    }

    /// Deletes the row under `key` with `sql` (parameter: the key), live or not.
    pub(crate) async fn delete(&self, sql: &str, key: &SessionKey) -> Result<(), StoreError> {
        self.execute("delete", sql, &[&key.as_str()])
            .await
            .map(drop)
    }

    /// Moves the expiry of the live row under `key` with `sql` (parameters: the key, the
    /// new expiry, now); whether there was one.
    pub(crate) async fn touch(
        &self,
        sql: &str,
        key: &SessionKey,
        expires_at: &(dyn ToSql + Sync),
        now: &(dyn ToSql + Sync),
    ) -> Result<bool, StoreError> {
        let n = self
            .execute("touch", sql, &[&key.as_str(), expires_at, now])
            .await?;
        Ok(n > 0)
    }

    /// Cleanup with progress: runs the batch statement `sql` (parameters: `now`, the batch
    /// size) on one connection until a batch removes fewer than [`CLEAR_BATCH`] rows.
    pub(crate) async fn clear_expired(
        &self,
        sql: &str,
        now: &(dyn ToSql + Sync),
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let (client, stmt) = self.prepared("clear_expired", sql).await?;
        let batch = CLEAR_BATCH as i64;
        let (client, stmt) = (&client, &stmt);
        clear_in_batches(progress, || async move {
            client
                .execute(stmt, &[now, &batch])
                .await
                .map_err(|e| pg_error("clear_expired", e))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_drops_the_password() {
        let cfg: tokio_postgres::Config = "postgres://app:s3cret@db.example:6543/shop"
            .parse()
            .unwrap();
        assert_eq!(describe(&cfg), "postgres://app@db.example:6543/shop");
        let cfg: tokio_postgres::Config = "postgres://postgres@127.0.0.1/test".parse().unwrap();
        assert_eq!(describe(&cfg), "postgres://postgres@127.0.0.1:5432/test");
        let cfg: tokio_postgres::Config = "host=a,b user=u password=p dbname=d port=1,2"
            .parse()
            .unwrap();
        assert_eq!(describe(&cfg), "postgres://u@a:1,b:2/d");
    }

    #[test]
    fn times_are_clamped() {
        assert_eq!(ts(datetime!(-5000-01-01 00:00 UTC)), TIMES.min);
        let t = datetime!(2026-01-01 00:00 +02:00);
        assert_eq!(ts(t), t);
        assert_eq!(
            lease_end(datetime!(9999-12-31 23:00 UTC), Duration::from_secs(86400)),
            TIMES.max
        );
    }
}
