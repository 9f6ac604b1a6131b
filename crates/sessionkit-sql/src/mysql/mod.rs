//! [`MySqlStore`]: sessions in MySQL or MariaDB.
//!
//! # Layout
//!
//! The same native layout as the other SQL stores (schema version 2; see [`schema`]):
//! the key (`varchar(40)`, binary collation), the data as plain JSON (`longtext`), a
//! version number for compare-and-set, the expiry (`datetime(6)` in UTC, indexed),
//! created-at, last-seen, the user id (indexed) and a rotation-marker flag; beside it a
//! lease table for lock mode. [`MySqlStore::connect`] creates what is missing and refuses
//! a table written by a newer layout.
//!
//! # Statements
//!
//! mysql_async's pool (up to 16 connections) and its per-connection statement cache: each
//! statement is prepared once per connection (connections are not reset when they go
//! back to the pool, which would drop the cache). MySQL has no `UPDATE … RETURNING`, so
//! the store reads the **affected-row count**, with `CLIENT_FOUND_ROWS` always off
//! (whatever the URL says):
//!
//! * `create` is `INSERT … ON DUPLICATE KEY UPDATE` where every assignment is
//!   `IF(<old row expired>, new, old)`: 1 row affected means inserted, 2 means an expired
//!   row was taken over (its new version comes back through `LAST_INSERT_ID`), 0 means a
//!   live row kept all its values — a collision.
//! * `save` is a compare-and-set `UPDATE` (one affected row: saved, version + 1); when
//!   nothing matched, a second `SELECT` tells a conflict from a missing row.
//! * `touch` with no affected row also checks with a `SELECT` (an update that changes no
//!   value affects no row).
//!
//! Transient InnoDB deadlocks (error 1213, which roll the statement back) are retried a
//! few times. All times compared are the ones the engine passes in, never the server's
//! `NOW()`.
//!
//! # Cleanup
//!
//! [`clear_expired`](sessionkit_core::SessionStore::clear_expired) repeats
//! `DELETE … WHERE expires_at <= ? ORDER BY expires_at LIMIT 1000` until a batch comes
//! back short ([`clear_expired_with_progress`](sessionkit_core::SessionStore::clear_expired_with_progress)
//! reports the running count after each batch). Concurrent cleaners wait for each other's
//! row locks and then skip what the other removed, so each expired row is removed, and
//! counted, once. MySQL's `DELETE` has no `SKIP LOCKED`, so two cleaners take turns
//! rather than share batches; each batch commits by itself, so the wait is short.
//!
//! Times are written without fractional-second rounding surprises: the store sends whole
//! microseconds itself. User ids and lease owners over 255 characters are refused with
//! [`StoreErrorKind::Encode`] before anything is sent (outside strict SQL mode the server
//! would truncate them silently).
//!
//! # Errors
//!
//! Connection failures and pool timeouts are [`StoreErrorKind::Unavailable`]; a bad URL,
//! a refused login, an unknown database or a table of another layout are
//! [`StoreErrorKind::Config`]; a record the server refuses to hold (over
//! `max_allowed_packet`, a user id over 255 characters) is [`StoreErrorKind::Encode`].
//! Getting a connection gives up after [`CONNECT_TIMEOUT`].
//!
//! # Files
//!
//! This folder holds everything MySQL: this module the connection handling both layouts
//! share (the pool, error classification, deadlock retries, `datetime(6)` values and
//! their range, statement helpers); `native.rs` the native layout ([`MySqlStore`]) and
//! [`schema`] its DDL; `django.rs` Django's layout
//! ([`DjangoMySqlStore`], feature `django`) and
//! `django_schema.rs` its DDL.

#[cfg(feature = "django")]
mod django;
#[cfg(feature = "django")]
mod django_schema;
mod native;
pub mod schema;

use std::future::Future;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, Row, Value};
use sessionkit_core::{StoreError, StoreErrorKind};
use time::macros::datetime;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

pub use crate::shared::{CLEAR_BATCH, CONNECT_TIMEOUT, POOL_SIZE};
use crate::shared::{TimeRange, clear_in_batches};

#[cfg(feature = "django")]
pub use self::django::{DjangoMySqlBuilder, DjangoMySqlStore};
pub use self::native::{MySqlBuilder, MySqlStore};

/// How long an idle pooled connection is kept open.
const IDLE_TTL: Duration = Duration::from_secs(60);

/// How often a statement that lost an InnoDB deadlock is tried again.
const DEADLOCK_RETRIES: u32 = 3;

/// `datetime`'s range: from year 1000 (not 1, as in PostgreSQL and Python).
const TIMES: TimeRange = TimeRange {
    min: datetime!(1000-01-01 00:00 UTC),
    max: datetime!(9999-12-31 23:59:59.999_999 UTC),
};

/// Server error codes that mean misconfiguration rather than an unavailable server.
const CONFIG_CODES: &[u16] = &[
    1044, // access denied to the database
    1045, // access denied (login)
    1046, // no database selected
    1049, // unknown database
    1054, // unknown column (a table of another layout)
    1064, // syntax error
    1142, // command denied on a table
    1146, // table does not exist
];

/// A driver error as a [`StoreError`], keeping the error as its source.
pub(crate) fn my_error(what: &str, e: mysql_async::Error) -> StoreError {
    StoreError::with_source(classify(&e), format!("mysql {what} failed"), e)
}

/// Server error codes that mean this record cannot be stored (the store itself is fine).
const ENCODE_CODES: &[u16] = &[
    1153, // packet larger than max_allowed_packet
    1301, // result larger than max_allowed_packet
    1366, // incorrect string value for the column's character set
    1406, // data too long for the column
];

fn classify(e: &mysql_async::Error) -> StoreErrorKind {
    match e {
        mysql_async::Error::Url(_) => StoreErrorKind::Config,
        mysql_async::Error::Server(s) if CONFIG_CODES.contains(&s.code) => StoreErrorKind::Config,
        mysql_async::Error::Server(s) if ENCODE_CODES.contains(&s.code) => StoreErrorKind::Encode,
        mysql_async::Error::Driver(mysql_async::DriverError::PacketTooLarge) => {
            StoreErrorKind::Encode
        }
        _ => StoreErrorKind::Unavailable,
    }
}

/// Whether `e` is an InnoDB deadlock, after which the statement was rolled back and may
/// simply run again.
fn is_deadlock(e: &StoreError) -> bool {
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<mysql_async::Error>())
        .is_some_and(|e| matches!(e, mysql_async::Error::Server(s) if s.code == 1213))
}

/// Runs `op` again (up to [`DEADLOCK_RETRIES`] times) while it loses deadlocks.
pub(crate) async fn retrying<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(e) if attempt < DEADLOCK_RETRIES && is_deadlock(&e) => attempt += 1,
            other => return other,
        }
    }
}

/// `t` as a `datetime(6)` value: UTC, whole microseconds, clamped into the column's range.
/// Written by hand rather than through a driver feature, so the stored form is ours.
pub(crate) fn dt(t: OffsetDateTime) -> Value {
    let t = TIMES.clamp(t);
    Value::Date(
        u16::try_from(t.year()).unwrap_or(1000),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond(),
    )
}

/// A `datetime(6)` value read back as UTC; `None` for anything else (a zero date, say).
pub(crate) fn from_dt(v: Value) -> Option<OffsetDateTime> {
    match v {
        Value::Date(y, mo, d, h, mi, s, us) => {
            let date = Date::from_calendar_date(i32::from(y), Month::try_from(mo).ok()?, d).ok()?;
            let time = Time::from_hms_micro(h, mi, s, us).ok()?;
            Some(PrimitiveDateTime::new(date, time).assume_utc())
        }
        _ => None,
    }
}

/// `now + ttl`, saturating at the latest time the column holds.
pub(crate) fn lease_end(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    TIMES.after(now, ttl)
}

/// A string parameter, sent as bytes.
pub(crate) fn text(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

/// The URL without its password: `mysql://user@host:port/db`.
fn describe(opts: &Opts) -> String {
    let host = opts.ip_or_hostname();
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    format!(
        "mysql://{}@{host}:{}/{}",
        opts.user().unwrap_or_default(),
        opts.tcp_port(),
        opts.db_name().unwrap_or_default()
    )
}

/// A database both layouts use: mysql_async's pool, with its statement cache, and the
/// URL without its password.
pub(crate) struct Db {
    pool: Pool,
    url: String,
}

impl Db {
    /// The pool for the database at `url` (`mysql://user[:password]@host[:port]/db`), or
    /// for database `database` on that server; not connected yet. The URL (or `database`)
    /// must name a database.
    pub(crate) fn new(url: &str, database: Option<&str>) -> Result<Db, StoreError> {
        let mut opts = OptsBuilder::from_opts(Opts::from_url(url).map_err(|e| {
            StoreError::with_source(StoreErrorKind::Config, "invalid MySQL URL", e)
        })?);
        if let Some(name) = database {
            if name.is_empty() || name.len() > 64 || name.contains(['\0', '/']) {
                return Err(StoreError::new(
                    StoreErrorKind::Config,
                    format!("invalid MySQL database name {name:?}"),
                ));
            }
            opts = opts.db_name(Some(name));
        }
        let constraints = PoolConstraints::new(0, POOL_SIZE)
            .ok_or_else(|| StoreError::new(StoreErrorKind::Config, "invalid MySQL pool size"))?;
        let opts: Opts = opts
            .client_found_rows(false)
            .stmt_cache_size(64)
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    // Keep idle connections (and their prepared statements) for a while;
                    // with a zero TTL the pool would close every connection above `min`
                    // as soon as it comes back.
                    .with_inactive_connection_ttl(IDLE_TTL)
                    .with_reset_connection(false),
            )
            .into();
        let url = describe(&opts);
        if opts.db_name().is_none_or(str::is_empty) {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!("the MySQL URL {url} names no database"),
            ));
        }
        Ok(Db {
            pool: Pool::new(opts),
            url,
        })
    }

    /// The URL without its password.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pool's connections (waiting for those in use to come back).
    pub(crate) async fn disconnect(&self) -> Result<(), StoreError> {
        self.pool
            .clone()
            .disconnect()
            .await
            .map_err(|e| my_error("disconnect", e))
    }

    /// A pooled connection, within [`CONNECT_TIMEOUT`].
    pub(crate) async fn conn(&self) -> Result<Conn, StoreError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(StoreError::with_source(
                classify(&e),
                format!("cannot connect to MySQL at {}", self.url),
                e,
            )),
            Err(elapsed) => Err(StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!(
                    "no MySQL connection to {} within {CONNECT_TIMEOUT:?}",
                    self.url
                ),
                elapsed,
            )),
        }
    }

    /// Runs one cached statement; returns the affected rows and the last insert id.
    pub(crate) async fn execute_info(
        &self,
        what: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<(u64, Option<u64>), StoreError> {
        let mut conn = self.conn().await?;
        conn.exec_drop(sql, Params::Positional(params))
            .await
            .map_err(|e| my_error(what, e))?;
        Ok((conn.affected_rows(), conn.last_insert_id()))
    }

    /// Runs one cached statement, again while it loses deadlocks; returns the affected
    /// rows.
    pub(crate) async fn execute(
        &self,
        what: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<u64, StoreError> {
        retrying(|| async {
            let (n, _) = self.execute_info(what, sql, params.clone()).await?;
            Ok(n)
        })
        .await
    }

    /// Runs one cached statement returning rows.
    pub(crate) async fn query(
        &self,
        what: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<Row>, StoreError> {
        let mut conn = self.conn().await?;
        conn.exec(sql, Params::Positional(params))
            .await
            .map_err(|e| my_error(what, e))
    }

    /// Runs one cached statement returning at most one row.
    pub(crate) async fn query_first(
        &self,
        what: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Option<Row>, StoreError> {
        let mut conn = self.conn().await?;
        conn.exec_first(sql, Params::Positional(params))
            .await
            .map_err(|e| my_error(what, e))
    }

    /// Deletes the row under `key` with `sql` (parameter: the key), live or not.
    pub(crate) async fn delete(&self, sql: &str, key: &str) -> Result<(), StoreError> {
        self.execute("delete", sql, vec![text(key)]).await.map(drop)
    }

    /// Runs one cached statement, as [`execute`](Self::execute); whether it changed a row.
    pub(crate) async fn changed(
        &self,
        what: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<bool, StoreError> {
        Ok(self.execute(what, sql, params).await? > 0)
    }

    /// Cleanup with progress: runs the batch statement `sql` (parameter: `now`; the batch
    /// size is in the statement) until a batch removes fewer than [`CLEAR_BATCH`] rows.
    pub(crate) async fn clear_expired(
        &self,
        sql: &str,
        now: Value,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        clear_in_batches(progress, || {
            self.execute("clear_expired", sql, vec![now.clone()])
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_drops_the_password() {
        let opts = Opts::from_url("mysql://app:s3cret@db.example:3307/shop").unwrap();
        assert_eq!(describe(&opts), "mysql://app@db.example:3307/shop");
        let opts = Opts::from_url("mysql://root@127.0.0.1/test").unwrap();
        assert_eq!(describe(&opts), "mysql://root@127.0.0.1:3306/test");
    }

    #[test]
    fn datetimes_round_trip_and_clamp() {
        let t = datetime!(2026-01-01 12:34:56.123_456 UTC);
        assert_eq!(from_dt(dt(t)), Some(t));
        let t = datetime!(2026-01-01 12:34:56.123_456_789 +02:00);
        assert_eq!(
            from_dt(dt(t)),
            Some(datetime!(2026-01-01 10:34:56.123_456 UTC))
        );
        assert_eq!(
            from_dt(dt(datetime!(0500-01-01 00:00 UTC))),
            Some(TIMES.min)
        );
        assert_eq!(from_dt(Value::Date(0, 0, 0, 0, 0, 0, 0)), None);
        assert_eq!(from_dt(Value::NULL), None);
    }
}
