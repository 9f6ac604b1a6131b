//! [`PostgresStore`]: sessions in PostgreSQL.
//!
//! # Layout
//!
//! One session table (native layout, schema version 1; see [`schema`]): the key, the data
//! as plain JSON, a version number for compare-and-set, the expiry (`timestamptz`,
//! indexed), created-at, last-seen, the user id (partial index) and a rotation-marker
//! flag; beside it a lease table for lock mode. [`PostgresStore::connect`] creates what is
//! missing and refuses a table of another layout version;
//! [`PostgresBuilder::create`]`(Create::Never)` creates nothing.
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
//! [`clear_expired`](SessionStore::clear_expired) deletes in batches of
//! [`CLEAR_BATCH`] rows, each batch one statement that locks its rows with
//! `FOR UPDATE SKIP LOCKED`: several cleaners (one per node, say) share the work, and each
//! expired row is removed, and counted, exactly once.
//! [`clear_expired_with_progress`](SessionStore::clear_expired_with_progress) reports the
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

pub mod schema;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use sessionkit_core::store::{BoxFuture, Create, LeaseStore};
use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionInfo, SessionKey,
    SessionListing, SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use crate::common::{check_table_name, clamp_time};

/// How many expired rows one `clear_expired` statement deletes.
pub const CLEAR_BATCH: i64 = 1000;

/// How long connecting (and waiting for a free pooled connection) may take before the
/// store reports [`StoreErrorKind::Unavailable`], unless the URL sets `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most connections the store opens.
pub const POOL_SIZE: usize = 16;

/// The earliest and latest times written (within `timestamptz`'s range, and the `time`
/// crate's); anything outside is clamped.
const MIN_TIME: OffsetDateTime = datetime!(0001-01-01 00:00 UTC);
const MAX_TIME: OffsetDateTime = datetime!(9999-12-31 23:59:59.999_999 UTC);

/// Sessions in a PostgreSQL database. Clones share the connection pool.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_sql::PostgresStore;
///
/// let store = PostgresStore::connect("postgres://app@127.0.0.1:5432/app").await?;
/// assert_eq!(store.table(), "sessionkit_session");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    table: String,
    url: String,
    sql: schema::Sql,
    timeout: Duration,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.inner.url)
            .field("table", &self.inner.table)
            .finish()
    }
}

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

pub(crate) fn pool_error(url: &str, timeout: Duration, e: PoolError) -> StoreError {
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
    clamp_time(t, MIN_TIME, MAX_TIME)
}

/// The URL without its password: `postgres://user@host:port/db`.
pub(crate) fn describe(cfg: &tokio_postgres::Config) -> String {
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

/// Options for connecting a [`PostgresStore`]; from [`PostgresStore::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct PostgresBuilder {
    url: String,
    table: String,
    create: Create,
}

impl PostgresBuilder {
    /// Uses `table` instead of `sessionkit_session` (letters, digits and `_`,
    /// lower-cased; lets several applications or tests share one database).
    pub fn table(mut self, table: impl Into<String>) -> PostgresBuilder {
        self.table = table.into();
        self
    }

    /// Whether connecting may create the tables ([`Create::IfMissing`], the default) or
    /// must find them ([`Create::Never`]: a missing table is a
    /// [`StoreErrorKind::Config`] error naming it, and nothing is created or written while
    /// connecting). The database and the schema are never created.
    pub fn create(mut self, create: Create) -> PostgresBuilder {
        self.create = create;
        self
    }

    /// Connects and checks (or, under [`Create::IfMissing`], creates) the tables.
    pub async fn connect(self) -> Result<PostgresStore, StoreError> {
        let PostgresBuilder { url, table, create } = self;
        let (url, table) = (url.as_str(), table.as_str());
        check_table_name(table)?;
        let table = table.to_ascii_lowercase();
        let mut cfg: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::with_source(StoreErrorKind::Config, "invalid PostgreSQL URL", e)
        })?;
        // The URL's connect_timeout, if any, bounds the whole connection setup and the wait
        // for a pooled connection; else CONNECT_TIMEOUT does.
        let timeout = cfg
            .get_connect_timeout()
            .copied()
            .filter(|t| !t.is_zero())
            .unwrap_or(CONNECT_TIMEOUT);
        cfg.connect_timeout(timeout);
        let described = describe(&cfg);
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
        let mut client = pool
            .get()
            .await
            .map_err(|e| pool_error(&described, timeout, e))?;
        match create {
            Create::Never => schema::check(&client, &described, &table).await?,
            _ => schema::migrate(&mut client, &table).await?,
        }
        drop(client);
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                pool,
                sql: schema::Sql::new(&table),
                table,
                url: described,
                timeout,
            }),
        })
    }
}

impl PostgresStore {
    /// Options for connecting to the database at `url`: the table, and whether to create
    /// what is missing.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sessionkit_core::StoreError> {
    /// use sessionkit_core::store::Create;
    /// use sessionkit_sql::PostgresStore;
    ///
    /// let store = PostgresStore::builder("postgres://app@127.0.0.1:5432/app")
    ///     .create(Create::Never)
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: &str) -> PostgresBuilder {
        PostgresBuilder {
            url: url.to_owned(),
            table: schema::DEFAULT_TABLE.to_owned(),
            create: Create::IfMissing,
        }
    }

    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db`,
    /// or the `key=value` form) with the default table name `sessionkit_session`,
    /// creating the tables if they are missing.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::builder(url).connect().await
    }

    /// Connects using `table` (letters, digits and `_`, lower-cased; lets several
    /// applications or tests share one database), creating the tables if they are missing.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sessionkit_core::StoreError> {
    /// use sessionkit_sql::PostgresStore;
    ///
    /// let store = PostgresStore::connect_with_table("postgres://app@db/app", "shop_sessions").await?;
    /// assert_eq!(store.describe_url(), "postgres://app@db:5432/app");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_with_table(url: &str, table: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::builder(url).table(table).connect().await
    }

    /// The session table (lower-cased).
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The database URL without its password, as [`describe`](SessionStore::describe)
    /// shows it.
    pub fn describe_url(&self) -> &str {
        &self.inner.url
    }

    /// The query plan of one cleanup batch (`EXPLAIN`), for checking that it uses the
    /// expiry index.
    pub async fn explain_clear_expired(&self, now: OffsetDateTime) -> Result<String, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!("EXPLAIN {}", self.inner.sql.clear),
                &[&ts(now), &CLEAR_BATCH],
            )
            .await
            .map_err(|e| pg_error("explain", e))?;
        let mut plan = String::new();
        for row in rows {
            let line: String = row.try_get(0).map_err(|e| pg_error("explain", e))?;
            plan.push_str(&line);
            plan.push('\n');
        }
        Ok(plan)
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| pool_error(&self.inner.url, self.inner.timeout, e))
    }

    /// Runs one cached statement returning rows.
    async fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| pg_error(what, e))?;
        client
            .query(&stmt, params)
            .await
            .map_err(|e| pg_error(what, e))
    }

    /// Runs one cached statement returning at most one row.
    async fn query_opt(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| pg_error(what, e))?;
        client
            .query_opt(&stmt, params)
            .await
            .map_err(|e| pg_error(what, e))
    }

    /// Runs one cached statement; returns the rows it changed.
    async fn execute(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| pg_error(what, e))?;
        client
            .execute(&stmt, params)
            .await
            .map_err(|e| pg_error(what, e))
    }

    async fn infos(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = self.query(what, sql, params).await?;
        Ok(rows.iter().filter_map(info).collect())
    }
}

/// A listing row, or `None` (logged) when it cannot be read.
fn info(r: &Row) -> Option<SessionInfo> {
    let read = || -> Result<_, tokio_postgres::Error> {
        Ok((
            r.try_get::<_, &str>(0)?,
            r.try_get::<_, OffsetDateTime>(1)?,
            r.try_get::<_, OffsetDateTime>(2)?,
            r.try_get::<_, OffsetDateTime>(3)?,
            r.try_get::<_, Option<String>>(4)?,
        ))
    };
    match read() {
        Ok((key, expires_at, created, seen, user_id)) => Some(SessionInfo {
            key: SessionKey::parse(key)?,
            expires_at,
            meta: Metadata {
                created_at: Some(created),
                last_seen: Some(seen),
                user_id,
            },
        }),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable session row in PostgreSQL; not listed");
            None
        }
    }
}

/// A loaded row as a [`Lookup`]; unreadable rows are `Missing` plus a warning.
fn lookup(key: &SessionKey, r: &Row) -> Lookup {
    let read = || -> Result<_, tokio_postgres::Error> {
        Ok((
            r.try_get::<_, String>(0)?,
            r.try_get::<_, i64>(1)?,
            r.try_get::<_, OffsetDateTime>(2)?,
            r.try_get::<_, OffsetDateTime>(3)?,
            r.try_get::<_, OffsetDateTime>(4)?,
            r.try_get::<_, Option<String>>(5)?,
            r.try_get::<_, bool>(6)?,
        ))
    };
    let (json, version, expires_at, created, seen, user_id, retired) = match read() {
        Ok(row) => row,
        Err(e) => {
            tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session row in PostgreSQL; treating as no session");
            return Lookup::Missing;
        }
    };
    if retired {
        return Lookup::Retired { until: expires_at };
    }
    match Data::from_json(json.into()) {
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
            tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session data in PostgreSQL; treating as no session");
            Lookup::Missing
        }
    }
}

impl SessionStore for PostgresStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let row = self
            .query_opt("load", &self.inner.sql.load, &[&key.as_str(), &ts(now)])
            .await?;
        Ok(row.map_or(Lookup::Missing, |r| lookup(key, &r)))
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let data = record.data.to_json();
        let row = self
            .query_opt(
                "create",
                &self.inner.sql.create,
                &[
                    &key.as_str(),
                    &data,
                    &ts(record.expires_at),
                    &ts(record.meta.created_at.unwrap_or(now)),
                    &ts(record.meta.last_seen.unwrap_or(now)),
                    &record.meta.user_id,
                    &ts(now),
                ],
            )
            .await?;
        match row {
            None => Ok(CreateOutcome::Collision),
            Some(r) => {
                let v: i64 = r.try_get(0).map_err(|e| pg_error("create", e))?;
                Ok(CreateOutcome::Created(Token::version(v as u64)))
            }
        }
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        // A token this store never issued matches no row (versions are positive), but the
        // statement still tells Conflict from Missing.
        let version = token
            .as_version()
            .and_then(|v| i64::try_from(v).ok())
            .unwrap_or(-1);
        let data = record.data.to_json();
        let row = self
            .query_opt(
                "save",
                &self.inner.sql.save,
                &[
                    &key.as_str(),
                    &data,
                    &ts(record.expires_at),
                    &ts(record.meta.last_seen.unwrap_or(now)),
                    &record.meta.user_id,
                    &version,
                    &ts(now),
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(SaveOutcome::Missing);
        };
        let read = || -> Result<(Option<i64>, bool), tokio_postgres::Error> {
            Ok((row.try_get(0)?, row.try_get(1)?))
        };
        match read().map_err(|e| pg_error("save", e))? {
            (Some(v), _) => Ok(SaveOutcome::Saved(Token::version(v as u64))),
            (None, true) => Ok(SaveOutcome::Conflict),
            (None, false) => Ok(SaveOutcome::Missing),
        }
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.execute("delete", &self.inner.sql.delete, &[&key.as_str()])
            .await
            .map(|_| ())
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = self
            .execute(
                "touch",
                &self.inner.sql.touch,
                &[&key.as_str(), &ts(expires_at), &ts(now)],
            )
            .await?;
        Ok(n > 0)
    }

    /// Reports the running total after each batch that removed something (just `0`
    /// when nothing had expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&self.inner.sql.clear)
            .await
            .map_err(|e| pg_error("clear_expired", e))?;
        let now = ts(now);
        let mut total = 0u64;
        loop {
            // Each batch commits by itself, so its locks are held only briefly.
            let n = client
                .execute(&stmt, &[&now, &CLEAR_BATCH])
                .await
                .map_err(|e| pg_error("clear_expired", e))?;
            total += n;
            if n > 0 {
                progress(total);
            }
            if n < CLEAR_BATCH as u64 {
                if total == 0 {
                    // Nothing to remove: still one report, as the default method gives.
                    progress(0);
                }
                return Ok(total);
            }
        }
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.execute(
            "retire",
            &self.inner.sql.retire,
            &[&key.as_str(), &ts(until)],
        )
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

impl SessionListing for PostgresStore {
    fn list<'a>(
        &'a self,
        now: OffsetDateTime,
        after: Option<&'a SessionKey>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Box::pin(async move {
            let now = ts(now);
            match after {
                Some(a) => {
                    self.infos("list", &self.inner.sql.list, &[&now, &a.as_str(), &limit])
                        .await
                }
                None => {
                    self.infos("list", &self.inner.sql.list_all, &[&now, &limit])
                        .await
                }
            }
        })
    }
}

impl UserIndex for PostgresStore {
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(async move {
            self.infos(
                "sessions_of",
                &self.inner.sql.of_user,
                &[&user_id, &ts(now)],
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
            self.execute("revoke_user", &self.inner.sql.revoke, &[&user_id, &keep])
                .await
        })
    }
}

/// `now + ttl`, saturating at the latest time the column holds.
pub(crate) fn lease_end(now: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or(MAX_TIME)
}

impl LeaseStore for PostgresStore {
    /// Takes the lease if nobody holds it, or the holder's lease ran out. Lease times are
    /// the application's system clock (`now_utc`), not the database server's.
    fn try_acquire<'a>(
        &'a self,
        key: &'a SessionKey,
        owner: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let now = OffsetDateTime::now_utc();
            let row = self
                .query_opt(
                    "lease",
                    &self.inner.sql.acquire,
                    &[&key.as_str(), &owner, &ts(lease_end(now, ttl)), &ts(now)],
                )
                .await?;
            Ok(row.is_some())
        })
    }

    fn release<'a>(
        &'a self,
        key: &'a SessionKey,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.execute(
                "lease release",
                &self.inner.sql.release,
                &[&key.as_str(), &owner],
            )
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
        assert_eq!(ts(datetime!(-5000-01-01 00:00 UTC)), MIN_TIME);
        let t = datetime!(2026-01-01 00:00 +02:00);
        assert_eq!(ts(t), t);
        assert_eq!(
            lease_end(datetime!(9999-12-31 23:00 UTC), Duration::from_secs(86400)),
            MAX_TIME
        );
    }
}
