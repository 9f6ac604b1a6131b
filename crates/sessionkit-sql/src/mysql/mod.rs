//! [`MySqlStore`]: sessions in MySQL or MariaDB.
//!
//! # Layout
//!
//! The same native layout as the other SQL stores (schema version 1; see [`schema`]):
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
//! [`clear_expired`](SessionStore::clear_expired) repeats
//! `DELETE … WHERE expires_at <= ? ORDER BY expires_at LIMIT 1000` until a batch comes
//! back short ([`clear_expired_with_progress`](SessionStore::clear_expired_with_progress)
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

pub mod schema;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, Row, Value};
use sessionkit_core::store::{BoxFuture, Create, LeaseStore};
use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionInfo, SessionKey,
    SessionListing, SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use time::macros::datetime;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::common::{check_table_name, clamp_time};

pub use self::schema::CLEAR_BATCH;

/// How long getting a connection (connecting, or waiting for a free pooled one) may take
/// before the store reports [`StoreErrorKind::Unavailable`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most connections the store opens.
pub const POOL_SIZE: usize = 16;

/// How long an idle pooled connection is kept open.
pub(crate) const IDLE_TTL: Duration = Duration::from_secs(60);

/// How often a statement that lost an InnoDB deadlock is tried again.
const DEADLOCK_RETRIES: u32 = 3;

/// `datetime`'s range.
const MIN_TIME: OffsetDateTime = datetime!(1000-01-01 00:00 UTC);
const MAX_TIME: OffsetDateTime = datetime!(9999-12-31 23:59:59.999_999 UTC);

/// Sessions in a MySQL or MariaDB database. Clones share the connection pool.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_sql::MySqlStore;
///
/// let store = MySqlStore::connect("mysql://app@127.0.0.1:3306/app").await?;
/// assert_eq!(store.table(), "sessionkit_session");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct MySqlStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    table: String,
    url: String,
    sql: schema::Sql,
}

impl fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MySqlStore")
            .field("url", &self.inner.url)
            .field("table", &self.inner.table)
            .finish()
    }
}

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

pub(crate) fn classify(e: &mysql_async::Error) -> StoreErrorKind {
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
    let t = clamp_time(t, MIN_TIME, MAX_TIME);
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

/// The longest user id or lease owner the `varchar(255)` columns hold.
const MAX_ID_CHARS: usize = 255;

/// Refuses an id the column would truncate (or reject, in strict mode).
fn check_id(what: &str, id: Option<&str>) -> Result<(), StoreError> {
    match id {
        Some(id) if id.chars().count() > MAX_ID_CHARS => Err(StoreError::new(
            StoreErrorKind::Encode,
            format!("{what} longer than {MAX_ID_CHARS} characters"),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn text(s: &str) -> Value {
    Value::Bytes(s.as_bytes().to_vec())
}

fn opt_text(s: Option<&str>) -> Value {
    s.map_or(Value::NULL, text)
}

/// Column `i` of `row`, converted without panicking.
fn col<T: mysql_async::prelude::FromValue>(row: &mut Row, i: usize) -> Option<T> {
    row.take::<Value, _>(i)
        .and_then(|v| mysql_async::from_value_opt::<T>(v).ok())
}

fn col_dt(row: &mut Row, i: usize) -> Option<OffsetDateTime> {
    row.take::<Value, _>(i).and_then(from_dt)
}

/// The URL without its password: `mysql://user@host:port/db`.
pub(crate) fn describe(opts: &Opts) -> String {
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

/// Options for connecting a [`MySqlStore`]; from [`MySqlStore::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct MySqlBuilder {
    url: String,
    table: String,
    create: Create,
}

impl MySqlBuilder {
    /// Uses `table` instead of `sessionkit_session` (letters, digits and `_`; lets several
    /// applications or tests share one database).
    pub fn table(mut self, table: impl Into<String>) -> MySqlBuilder {
        self.table = table.into();
        self
    }

    /// Whether connecting may create the tables ([`Create::IfMissing`], the default) or
    /// must find them ([`Create::Never`]: a missing table is a
    /// [`StoreErrorKind::Config`] error naming it, and nothing is created or written while
    /// connecting). The database itself is never created.
    pub fn create(mut self, create: Create) -> MySqlBuilder {
        self.create = create;
        self
    }

    /// Connects and checks (or, under [`Create::IfMissing`], creates) the tables.
    pub async fn connect(self) -> Result<MySqlStore, StoreError> {
        let MySqlBuilder { url, table, create } = self;
        let (url, table) = (url.as_str(), table.as_str());
        check_table_name(table)?;
        let opts = Opts::from_url(url)
            .map_err(|e| StoreError::with_source(StoreErrorKind::Config, "invalid MySQL URL", e))?;
        let described = describe(&opts);
        if opts.db_name().is_none_or(str::is_empty) {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!("the MySQL URL {described} names no database"),
            ));
        }
        let constraints = PoolConstraints::new(0, POOL_SIZE)
            .ok_or_else(|| StoreError::new(StoreErrorKind::Config, "invalid MySQL pool size"))?;
        let opts = OptsBuilder::from_opts(opts)
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
            );
        let store = MySqlStore {
            inner: Arc::new(Inner {
                pool: Pool::new(opts),
                sql: schema::Sql::new(table),
                table: table.to_owned(),
                url: described,
            }),
        };
        let mut conn = store.conn().await?;
        // Reset this connection when it goes back to the pool: it may hold a named lock.
        conn.reset_connection(true);
        match create {
            Create::Never => schema::check(&mut conn, &store.inner.url, table).await?,
            _ => schema::migrate(&mut conn, table).await?,
        }
        drop(conn);
        Ok(store)
    }
}

impl MySqlStore {
    /// Options for connecting to the database at `url`: the table, and whether to create
    /// what is missing.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sessionkit_core::StoreError> {
    /// use sessionkit_core::store::Create;
    /// use sessionkit_sql::MySqlStore;
    ///
    /// let store = MySqlStore::builder("mysql://app:pw@db/app")
    ///     .create(Create::Never)
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: &str) -> MySqlBuilder {
        MySqlBuilder {
            url: url.to_owned(),
            table: schema::DEFAULT_TABLE.to_owned(),
            create: Create::IfMissing,
        }
    }

    /// Connects to the database at `url` (`mysql://user[:password]@host[:port]/db`) with
    /// the default table name `sessionkit_session`, creating the tables if they are
    /// missing.
    pub async fn connect(url: &str) -> Result<MySqlStore, StoreError> {
        MySqlStore::builder(url).connect().await
    }

    /// Connects using `table` (letters, digits and `_`; lets several applications or
    /// tests share one database), creating the tables if they are missing.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sessionkit_core::StoreError> {
    /// use sessionkit_sql::MySqlStore;
    ///
    /// let store = MySqlStore::connect_with_table("mysql://app:pw@db/app", "shop_sessions").await?;
    /// assert_eq!(store.describe_url(), "mysql://app@db:3306/app");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_with_table(url: &str, table: &str) -> Result<MySqlStore, StoreError> {
        MySqlStore::builder(url).table(table).connect().await
    }

    /// The session table.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The database URL without its password, as [`describe`](SessionStore::describe)
    /// shows it.
    pub fn describe_url(&self) -> &str {
        &self.inner.url
    }

    /// Closes the pool's connections (waiting for those in use to come back). Dropping
    /// the last clone closes them too, without waiting.
    pub async fn disconnect(&self) -> Result<(), StoreError> {
        self.inner
            .pool
            .clone()
            .disconnect()
            .await
            .map_err(|e| my_error("disconnect", e))
    }

    /// The query plan of one cleanup batch (`EXPLAIN`), one line per row of the plan as
    /// `column=value` pairs, for checking that it uses the expiry index.
    pub async fn explain_clear_expired(&self, now: OffsetDateTime) -> Result<String, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<Row> = conn
            .exec(
                format!("EXPLAIN {}", self.inner.sql.clear),
                Params::Positional(vec![dt(now)]),
            )
            .await
            .map_err(|e| my_error("explain", e))?;
        let mut plan = String::new();
        for mut row in rows {
            let columns = row.columns();
            let line: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = match row.take::<Value, _>(i).unwrap_or(Value::NULL) {
                        Value::NULL => "NULL".to_owned(),
                        Value::Bytes(b) => String::from_utf8_lossy(&b).into_owned(),
                        other => other.as_sql(true),
                    };
                    format!("{}={v}", c.name_str())
                })
                .collect();
            plan.push_str(&line.join(" "));
            plan.push('\n');
        }
        Ok(plan)
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.inner.pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(StoreError::with_source(
                classify(&e),
                format!("cannot connect to MySQL at {}", self.inner.url),
                e,
            )),
            Err(elapsed) => Err(StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!(
                    "no MySQL connection to {} within {CONNECT_TIMEOUT:?}",
                    self.inner.url
                ),
                elapsed,
            )),
        }
    }

    /// Runs one cached statement; returns the affected rows and the last insert id.
    async fn execute_info(
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

    /// Runs one cached statement; returns the affected rows.
    async fn execute(&self, what: &str, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        self.execute_info(what, sql, params).await.map(|(n, _)| n)
    }

    /// Runs one cached statement returning rows.
    async fn query(
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
    async fn query_first(
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

    /// Whether a live, non-marker row has `key` at `now`.
    async fn is_live(
        &self,
        what: &str,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let row = self
            .query_first(
                what,
                &self.inner.sql.state,
                vec![text(key.as_str()), dt(now)],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn infos(
        &self,
        what: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = self.query(what, sql, params).await?;
        Ok(rows.into_iter().filter_map(info).collect())
    }

    async fn create_once(
        &self,
        key: &SessionKey,
        record: &Record,
        data: &str,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let mut params = vec![
            text(key.as_str()),
            text(data),
            dt(record.expires_at),
            dt(record.meta.created_at.unwrap_or(now)),
            dt(record.meta.last_seen.unwrap_or(now)),
            opt_text(record.meta.user_id.as_deref()),
        ];
        // One `now` for each IF() of the ON DUPLICATE KEY UPDATE.
        params.extend(std::iter::repeat_n(dt(now), 7));
        let (affected, insert_id) = self
            .execute_info("create", &self.inner.sql.create, params)
            .await?;
        match affected {
            0 => Ok(CreateOutcome::Collision),
            1 => Ok(CreateOutcome::Created(Token::version(1))),
            _ => {
                // Took over an expired row: LAST_INSERT_ID(version + 1) reported the new
                // version. Should a server not pass it on, read it back.
                if let Some(v) = insert_id.filter(|v| *v > 1) {
                    return Ok(CreateOutcome::Created(Token::version(v)));
                }
                let row = self
                    .query_first("create", &self.inner.sql.version, vec![text(key.as_str())])
                    .await?;
                let v = row.and_then(|mut r| col::<i64>(&mut r, 0)).ok_or_else(|| {
                    StoreError::new(
                        StoreErrorKind::Other,
                        "mysql create: the new row's version could not be read",
                    )
                })?;
                Ok(CreateOutcome::Created(Token::version(v as u64)))
            }
        }
    }

    async fn save_once(
        &self,
        key: &SessionKey,
        record: &Record,
        data: &str,
        version: i64,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let n = self
            .execute(
                "save",
                &self.inner.sql.save,
                vec![
                    text(data),
                    dt(record.expires_at),
                    dt(record.meta.last_seen.unwrap_or(now)),
                    opt_text(record.meta.user_id.as_deref()),
                    text(key.as_str()),
                    Value::Int(version),
                    dt(now),
                ],
            )
            .await?;
        if n > 0 {
            return Ok(SaveOutcome::Saved(Token::version(version as u64 + 1)));
        }
        Ok(if self.is_live("save", key, now).await? {
            SaveOutcome::Conflict
        } else {
            SaveOutcome::Missing
        })
    }
}

/// A listing row, or `None` (logged) when it cannot be read.
fn info(mut r: Row) -> Option<SessionInfo> {
    let read = (|| {
        Some((
            col::<String>(&mut r, 0)?,
            col_dt(&mut r, 1)?,
            col_dt(&mut r, 2)?,
            col_dt(&mut r, 3)?,
            col::<Option<String>>(&mut r, 4)?,
        ))
    })();
    let Some((key, expires_at, created, seen, user_id)) = read else {
        tracing::warn!("unreadable session row in MySQL; not listed");
        return None;
    };
    Some(SessionInfo {
        key: SessionKey::parse(&key)?,
        expires_at,
        meta: Metadata {
            created_at: Some(created),
            last_seen: Some(seen),
            user_id,
        },
    })
}

/// A loaded row as a [`Lookup`]; unreadable rows are `Missing` plus a warning.
fn lookup(key: &SessionKey, mut r: Row) -> Lookup {
    let read = (|| {
        Some((
            col::<Vec<u8>>(&mut r, 0)?,
            col::<i64>(&mut r, 1)?,
            col_dt(&mut r, 2)?,
            col_dt(&mut r, 3)?,
            col_dt(&mut r, 4)?,
            col::<Option<String>>(&mut r, 5)?,
            col::<bool>(&mut r, 6)?,
        ))
    })();
    let Some((json, version, expires_at, created, seen, user_id, retired)) = read else {
        tracing::warn!(key = %key.fingerprint(), "unreadable session row in MySQL; treating as no session");
        return Lookup::Missing;
    };
    if retired {
        return Lookup::Retired { until: expires_at };
    }
    let data = String::from_utf8(json)
        .map_err(|e| e.to_string())
        .and_then(|json| Data::from_json(json.into()).map_err(|e| e.to_string()));
    match data {
        Ok(data) => Lookup::Found {
            record: Record {
                data,
                expires_at,
                meta: Metadata {
                    created_at: Some(created),
                    last_seen: Some(seen),
                    user_id,
                },
            },
            token: Token::version(version as u64),
        },
        Err(e) => {
            tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session data in MySQL; treating as no session");
            Lookup::Missing
        }
    }
}

impl SessionStore for MySqlStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let row = self
            .query_first(
                "load",
                &self.inner.sql.load,
                vec![text(key.as_str()), dt(now)],
            )
            .await?;
        Ok(row.map_or(Lookup::Missing, |r| lookup(key, r)))
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        check_id("user id", record.meta.user_id.as_deref())?;
        let data = record.data.to_json();
        retrying(|| self.create_once(key, record, &data, now)).await
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        // A token this store never issued matches no row (versions are positive), but the
        // follow-up still tells Conflict from Missing.
        let version = token
            .as_version()
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(-1);
        check_id("user id", record.meta.user_id.as_deref())?;
        let data = record.data.to_json();
        retrying(|| self.save_once(key, record, &data, version, now)).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        retrying(|| self.execute("delete", &self.inner.sql.delete, vec![text(key.as_str())]))
            .await
            .map(|_| ())
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = retrying(|| {
            self.execute(
                "touch",
                &self.inner.sql.touch,
                vec![dt(expires_at), dt(now), text(key.as_str()), dt(now)],
            )
        })
        .await?;
        // No affected row also when the values did not change: ask.
        Ok(n > 0 || self.is_live("touch", key, now).await?)
    }

    /// Reports the running total after each batch that removed something (just `0`
    /// when nothing had expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            // Each batch commits by itself, so its locks are held only briefly.
            let n =
                retrying(|| self.execute("clear_expired", &self.inner.sql.clear, vec![dt(now)]))
                    .await?;
            total += n;
            if n > 0 {
                progress(total);
            }
            if n < CLEAR_BATCH {
                if total == 0 {
                    // Nothing to remove: still one report, as the default method gives.
                    progress(0);
                }
                return Ok(total);
            }
        }
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        retrying(|| {
            self.execute(
                "retire",
                &self.inner.sql.retire,
                vec![text(key.as_str()), dt(until)],
            )
        })
        .await
        .map(|_| ())
    }

    fn describe(&self) -> String {
        self.inner.url.clone()
    }

    fn listing(&self) -> Option<&dyn SessionListing> {
        Some(self)
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }

    fn leases(&self) -> Option<&dyn LeaseStore> {
        Some(self)
    }
}

impl SessionListing for MySqlStore {
    fn list<'a>(
        &'a self,
        now: OffsetDateTime,
        after: Option<&'a SessionKey>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        let limit = Value::UInt(u64::try_from(limit).unwrap_or(u64::MAX));
        Box::pin(async move {
            match after {
                Some(a) => {
                    self.infos(
                        "list",
                        &self.inner.sql.list,
                        vec![dt(now), text(a.as_str()), limit],
                    )
                    .await
                }
                None => {
                    self.infos("list", &self.inner.sql.list_all, vec![dt(now), limit])
                        .await
                }
            }
        })
    }
}

impl UserIndex for MySqlStore {
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(async move {
            self.infos(
                "sessions_of",
                &self.inner.sql.of_user,
                vec![text(user_id), dt(now)],
            )
            .await
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let keep = keep.map_or("", SessionKey::as_str);
            retrying(|| {
                self.execute(
                    "revoke_user",
                    &self.inner.sql.revoke,
                    vec![text(user_id), text(keep)],
                )
            })
            .await
        })
    }
}

/// `now + ttl`, saturating at the latest time the column holds.
fn lease_end(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or(MAX_TIME)
}

impl LeaseStore for MySqlStore {
    /// Takes the lease if nobody holds it, or the holder's lease ran out. Lease times are
    /// the application's system clock (`now_utc`), not the database server's.
    fn try_acquire<'a>(
        &'a self,
        key: &'a SessionKey,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            check_id("lease owner", Some(owner))?;
            let now = OffsetDateTime::now_utc();
            let n = retrying(|| {
                self.execute(
                    "lease",
                    &self.inner.sql.acquire,
                    vec![
                        text(key.as_str()),
                        text(owner),
                        dt(lease_end(now, ttl)),
                        dt(now),
                        dt(now),
                    ],
                )
            })
            .await?;
            Ok(n > 0)
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a SessionKey,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            retrying(|| {
                self.execute(
                    "lease release",
                    &self.inner.sql.release,
                    vec![text(key.as_str()), text(owner)],
                )
            })
            .await
            .map(|_| ())
        })
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
        assert_eq!(from_dt(dt(datetime!(0500-01-01 00:00 UTC))), Some(MIN_TIME));
        assert_eq!(from_dt(Value::Date(0, 0, 0, 0, 0, 0, 0)), None);
        assert_eq!(from_dt(Value::NULL), None);
    }
}
