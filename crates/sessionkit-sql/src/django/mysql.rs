//! [`DjangoMySqlStore`]: Django's `django_session` table in MySQL or MariaDB.

use std::fmt;
use std::sync::Arc;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, Value};
use sessionkit_core::store::{BoxFuture, Create};
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionInfo, SessionKey, SessionListing,
    SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::shared::{self, Codec, Row, Scan};
use super::{CLEAR_BATCH, DEFAULT_TABLE, DjangoTime, Secrets};
use crate::common::check_table_name;
use crate::mysql::{
    CONNECT_TIMEOUT, IDLE_TTL, POOL_SIZE, classify, describe, dt, from_dt, my_error, retrying, text,
};

/// Django's `db` engine layout in MySQL or MariaDB: the `django_session` table of the
/// URL's database (or of [`database`](DjangoMySqlBuilder::database)). See the
/// [module docs](super) for the semantics.
///
/// `expire_date` is `datetime(6)` holding naive UTC, as Django writes it with
/// `USE_TZ = True`, or naive local time with `USE_TZ = False`
/// ([`DjangoMySqlBuilder::django_time`]); the store sends whole microseconds itself,
/// never the server's `NOW()` or its time zone. Django's columns take the database's default collation, usually a
/// case-insensitive one, so the store compares the token (the stored `session_data`)
/// and pages through keys as bytes (`CAST(… AS BINARY)`).
///
/// MySQL has no `UPDATE … RETURNING`: the store reads affected-row counts with
/// `CLIENT_FOUND_ROWS` off, and when a save or a touch changes no row (the same values
/// written again also change none) it looks at the row to tell what happened. InnoDB
/// deadlocks are retried a few times. Cleanup repeats
/// `DELETE … WHERE expire_date <= ? ORDER BY expire_date LIMIT 1000`; two cleaners take
/// turns on row locks and each row is counted once.
///
/// Connections come from mysql_async's pool ([`POOL_SIZE`] connections) with its
/// statement cache. Clones share the pool.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_sql::django::{DjangoMySqlStore, Secrets};
///
/// let secrets = Secrets::new("django-insecure-...");
/// let store = DjangoMySqlStore::connect("mysql://app:pw@db/app", &secrets).await?;
/// assert_eq!(store.describe_url(), "mysql://app@db:3306/app");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DjangoMySqlStore {
    db: Arc<Db>,
    codec: Codec,
}

struct Db {
    pool: Pool,
    url: String,
    table: String,
    sql: Sql,
    /// What `expire_date` holds.
    time: DjangoTime,
}

impl fmt::Debug for DjangoMySqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoMySqlStore")
            .field("url", &self.db.url)
            .field("table", &self.db.table)
            .finish_non_exhaustive()
    }
}

/// Options for connecting a [`DjangoMySqlStore`]; from [`DjangoMySqlStore::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct DjangoMySqlBuilder {
    url: String,
    secrets: Secrets,
    database: Option<String>,
    table: String,
    create: Create,
    time: DjangoTime,
}

impl DjangoMySqlBuilder {
    /// Django's `USE_TZ` and `TIME_ZONE` (default: `USE_TZ = True`, naive UTC). With
    /// `USE_TZ = False`, `expire_date` holds naive local time: see [`DjangoTime`].
    pub fn django_time(mut self, time: DjangoTime) -> DjangoMySqlBuilder {
        self.time = time;
        self
    }

    /// Uses database `name` instead of the URL's (as Django's `NAME` setting replaces
    /// it). The database must exist.
    pub fn database(mut self, name: impl Into<String>) -> DjangoMySqlBuilder {
        self.database = Some(name.into());
        self
    }

    /// Uses `table` instead of `django_session` (letters, digits and `_`; for tests, or a
    /// custom session model's `db_table`).
    pub fn table(mut self, table: impl Into<String>) -> DjangoMySqlBuilder {
        self.table = table.into();
        self
    }

    /// Creates the table (exactly Django's DDL, see the [module docs](super), with the
    /// database's default character set) when it is missing, instead of failing. The
    /// database is never created.
    ///
    /// Django does not know about a table made this way: its `manage.py migrate` then
    /// needs `--fake-initial` to adopt it (plain `migrate` fails with "Table
    /// 'django_session' already exists"). Prefer running Django's `migrate`.
    pub fn create_table_if_missing(self) -> DjangoMySqlBuilder {
        self.create(Create::IfMissing)
    }

    /// Whether connecting may create the table ([`Create::IfMissing`], as
    /// [`create_table_if_missing`](Self::create_table_if_missing)) or must find it
    /// ([`Create::Never`], the default for Django's table: Django's `migrate` creates it).
    /// The database is never created.
    pub fn create(mut self, create: Create) -> DjangoMySqlBuilder {
        self.create = create;
        self
    }

    /// Connects and checks the table.
    ///
    /// An unreachable server is [`StoreErrorKind::Unavailable`] (getting a connection
    /// gives up after [`CONNECT_TIMEOUT`]); a bad URL, a URL without a database, a refused
    /// login, an unknown database, a missing table (unless
    /// [`create_table_if_missing`](Self::create_table_if_missing)) or a table without
    /// Django's columns is [`StoreErrorKind::Config`].
    pub async fn connect(self) -> Result<DjangoMySqlStore, StoreError> {
        check_table_name(&self.table)?;
        let mut opts = OptsBuilder::from_opts(Opts::from_url(&self.url).map_err(|e| {
            StoreError::with_source(StoreErrorKind::Config, "invalid MySQL URL", e)
        })?);
        if let Some(name) = &self.database {
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
        let table = self.table;
        let store = DjangoMySqlStore {
            codec: Codec::new(&self.secrets, "mysql"),
            db: Arc::new(Db {
                pool: Pool::new(opts),
                url,
                sql: Sql::new(&table),
                table,
                time: self.time,
            }),
        };
        let mut conn = store.conn().await?;
        let db = &store.db;
        if !table_exists(&mut conn, &db.table).await? {
            if self.create != Create::IfMissing {
                return Err(shared::table_missing(&db.table, &format!(" in {}", db.url)));
            }
            // Reset this connection when it goes back to the pool: it held a named lock.
            conn.reset_connection(true);
            create_table(&mut conn, &db.table).await?;
        }
        conn.query_drop(&db.sql.columns).await.map_err(|e| {
            StoreError::with_source(
                StoreErrorKind::Config,
                format!(
                    "table {} in {} is not Django's session table (session_key, session_data, expire_date)",
                    db.table, db.url
                ),
                e,
            )
        })?;
        drop(conn);
        Ok(store)
    }
}

async fn table_exists(conn: &mut Conn, table: &str) -> Result<bool, StoreError> {
    let row: Option<mysql_async::Row> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            (table,),
        )
        .await
        .map_err(|e| my_error("table check", e))?;
    Ok(row.is_some())
}

/// Django's DDL under a named lock, after a second look (DDL is not transactional in
/// MySQL; two processes starting at once take turns).
async fn create_table(conn: &mut Conn, table: &str) -> Result<(), StoreError> {
    let lock = "SELECT GET_LOCK(CONCAT('sessionkit_django.', DATABASE()), 10)";
    let got: Option<Option<i64>> = conn
        .query_first(lock)
        .await
        .map_err(|e| my_error("schema lock", e))?;
    if got.flatten() != Some(1) {
        return Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "timed out waiting for the table creation lock",
        ));
    }
    let result = async {
        if table_exists(conn, table).await? {
            return Ok(());
        }
        let index = shared::expire_index(table);
        for stmt in [
            format!(
                "CREATE TABLE `{table}` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)"
            ),
            format!("CREATE INDEX `{index}` ON `{table}` (`expire_date`)"),
        ] {
            conn.query_drop(stmt)
                .await
                .map_err(|e| my_error("schema setup", e))?;
        }
        Ok(())
    }
    .await;
    // A failed release leaves the lock to the connection's reset.
    let _ = conn
        .query_drop("SELECT RELEASE_LOCK(CONCAT('sessionkit_django.', DATABASE()))")
        .await;
    result
}

/// A `session_data` value as text (`None` when it is not UTF-8).
fn data_text(v: Value) -> Option<String> {
    match v {
        Value::Bytes(b) => String::from_utf8(b).ok(),
        _ => None,
    }
}

/// `t` as `expire_date` holds it: naive, in the column's zone.
fn column_dt(tz: &DjangoTime, t: OffsetDateTime) -> Value {
    // `dt` writes the fields of a UTC value as they are.
    dt(tz.to_column(t).assume_utc())
}

/// A stored `expire_date` as the instant it names; `None` for anything else.
fn column_instant(tz: &DjangoTime, v: Value) -> Option<OffsetDateTime> {
    from_dt(v).map(|t| tz.from_column(PrimitiveDateTime::new(t.date(), t.time())))
}

/// A scanned row (key, data, expiry), or `None` (logged) when it cannot be read.
fn read_row(tz: &DjangoTime, mut r: mysql_async::Row) -> Option<Row> {
    let key = r.take::<Value, _>(0).and_then(data_text);
    let data = r.take::<Value, _>(1).and_then(data_text);
    let expires_at = r.take::<Value, _>(2).and_then(|v| column_instant(tz, v));
    match (key, data) {
        (Some(key), Some(data)) => Some(Row {
            key,
            data,
            expires_at,
        }),
        _ => {
            tracing::warn!("unreadable Django session row in MySQL; skipped");
            None
        }
    }
}

impl DjangoMySqlStore {
    /// Options for connecting to the database at `url`
    /// (`mysql://user[:password]@host[:port]/db`), signing with `secrets` (Django's
    /// `SECRET_KEY` and `SECRET_KEY_FALLBACKS`).
    pub fn builder(url: &str, secrets: &Secrets) -> DjangoMySqlBuilder {
        DjangoMySqlBuilder {
            url: url.to_owned(),
            secrets: secrets.clone(),
            database: None,
            table: DEFAULT_TABLE.to_owned(),
            create: Create::Never,
            time: DjangoTime::default(),
        }
    }

    /// Connects to the database at `url`, whose `django_session` table Django's `migrate`
    /// created. See [`DjangoMySqlBuilder::connect`] for the errors.
    pub async fn connect(url: &str, secrets: &Secrets) -> Result<DjangoMySqlStore, StoreError> {
        DjangoMySqlStore::builder(url, secrets).connect().await
    }

    /// The same database and pool, signing and verifying with other secrets (a key
    /// rotation without reconnecting).
    pub fn with_secrets(&self, secrets: &Secrets) -> DjangoMySqlStore {
        DjangoMySqlStore {
            db: Arc::clone(&self.db),
            codec: Codec::new(secrets, "mysql"),
        }
    }

    /// The session table.
    pub fn table(&self) -> &str {
        &self.db.table
    }

    /// The database URL without its password.
    pub fn describe_url(&self) -> &str {
        &self.db.url
    }

    /// Django's `USE_TZ` and `TIME_ZONE` as this store applies them to `expire_date`.
    pub fn django_time(&self) -> &DjangoTime {
        &self.db.time
    }

    /// `t` as this store writes `expire_date`.
    fn dt(&self, t: OffsetDateTime) -> Value {
        column_dt(&self.db.time, t)
    }

    /// Closes the pool's connections (waiting for those in use to come back). Dropping
    /// the last clone closes them too, without waiting.
    pub async fn disconnect(&self) -> Result<(), StoreError> {
        self.db
            .pool
            .clone()
            .disconnect()
            .await
            .map_err(|e| my_error("disconnect", e))
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.db.pool.get_conn()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(StoreError::with_source(
                classify(&e),
                format!("cannot connect to MySQL at {}", self.db.url),
                e,
            )),
            Err(elapsed) => Err(StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!(
                    "no MySQL connection to {} within {CONNECT_TIMEOUT:?}",
                    self.db.url
                ),
                elapsed,
            )),
        }
    }

    /// Runs one cached statement; returns the affected rows.
    async fn execute(&self, what: &str, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        retrying(|| async {
            let mut conn = self.conn().await?;
            conn.exec_drop(sql, Params::Positional(params.clone()))
                .await
                .map_err(|e| my_error(what, e))?;
            Ok(conn.affected_rows())
        })
        .await
    }

    /// Runs one cached statement returning rows.
    async fn query(
        &self,
        what: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<Vec<mysql_async::Row>, StoreError> {
        let mut conn = self.conn().await?;
        conn.exec(sql, Params::Positional(params))
            .await
            .map_err(|e| my_error(what, e))
    }

    /// The live row under `key` at `now`: its data and expiry, as stored.
    async fn live_row(
        &self,
        what: &str,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<Option<(Option<String>, Value)>, StoreError> {
        let rows = self
            .query(
                what,
                &self.db.sql.load,
                vec![text(key.as_str()), self.dt(now)],
            )
            .await?;
        Ok(rows.into_iter().next().map(|mut r| {
            (
                r.take::<Value, _>(0).and_then(data_text),
                r.take::<Value, _>(1).unwrap_or(Value::NULL),
            )
        }))
    }
}

impl SessionStore for DjangoMySqlStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        Ok(match self.live_row("load", key, now).await? {
            Some((Some(data), expires)) => {
                self.codec
                    .lookup(key, data, column_instant(&self.db.time, expires))
            }
            Some((None, _)) => {
                tracing::warn!(key = %key.fingerprint(), "Django session data in MySQL is not UTF-8; treating as no session");
                Lookup::Missing
            }
            None => Lookup::Missing,
        })
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let data = self.codec.encode(&record.data, now);
        let n = self
            .execute(
                "create",
                &self.db.sql.create,
                vec![
                    text(key.as_str()),
                    text(&data),
                    self.dt(record.expires_at),
                    self.dt(now),
                    self.dt(now),
                ],
            )
            .await?;
        // 1: inserted, 2: took over an expired row, 0: a live row kept its values.
        Ok(if n > 0 {
            CreateOutcome::Created(shared::token(data))
        } else {
            CreateOutcome::Collision
        })
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let data = self.codec.encode(&record.data, now);
        let expires = self.dt(record.expires_at);
        if let Some(old) = shared::token_text(token) {
            let n = self
                .execute(
                    "save",
                    &self.db.sql.save,
                    vec![
                        text(&data),
                        expires.clone(),
                        text(key.as_str()),
                        text(old),
                        self.dt(now),
                    ],
                )
                .await?;
            if n > 0 {
                return Ok(SaveOutcome::Saved(shared::token(data)));
            }
        }
        // Nothing changed: the row is gone, holds other data, or already holds exactly
        // what was written (an update to the same values affects no row).
        Ok(match self.live_row("save", key, now).await? {
            None => SaveOutcome::Missing,
            Some((Some(stored), e)) if stored == data && e == expires => {
                SaveOutcome::Saved(shared::token(data))
            }
            Some(_) => SaveOutcome::Conflict,
        })
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.execute("delete", &self.db.sql.delete, vec![text(key.as_str())])
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
                &self.db.sql.touch,
                vec![self.dt(expires_at), text(key.as_str()), self.dt(now)],
            )
            .await?;
        // No affected row also when the expiry did not change: ask.
        Ok(n > 0 || self.live_row("touch", key, now).await?.is_some())
    }

    /// Deletes in batches of [`CLEAR_BATCH`] rows, each committed by itself, and reports
    /// the running total after each batch that removed something (just `0` when nothing
    /// had expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let mut total = 0u64;
        loop {
            let n = self
                .execute("clear_expired", &self.db.sql.clear, vec![self.dt(now)])
                .await?;
            total += n;
            if n > 0 {
                progress(total);
            }
            if n < CLEAR_BATCH {
                if total == 0 {
                    progress(0);
                }
                return Ok(total);
            }
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("{} (django layout", self.db.url);
        if self.db.table != DEFAULT_TABLE {
            s.push_str(", table ");
            s.push_str(&self.db.table);
        }
        self.db.time.describe_into(&mut s);
        s.push(')');
        s
    }

    fn listing(&self) -> Option<&dyn SessionListing> {
        Some(self)
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }
}

impl Scan for DjangoMySqlStore {
    fn codec(&self) -> &Codec {
        &self.codec
    }

    async fn page(
        &self,
        after: &str,
        live_at: Option<OffsetDateTime>,
        limit: usize,
    ) -> Result<Vec<Row>, StoreError> {
        let limit = Value::UInt(u64::try_from(limit).unwrap_or(u64::MAX));
        let rows = match live_at {
            Some(now) => {
                self.query(
                    "scan",
                    &self.db.sql.page_live,
                    vec![text(after), self.dt(now), limit],
                )
                .await?
            }
            None => {
                self.query("scan", &self.db.sql.page_all, vec![text(after), limit])
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .filter_map(|r| read_row(&self.db.time, r))
            .collect())
    }

    async fn row(&self, key: &str) -> Result<Option<Row>, StoreError> {
        let rows = self
            .query("scan", &self.db.sql.row, vec![text(key)])
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| read_row(&self.db.time, r)))
    }

    async fn delete_if(&self, key: &str, data: &str) -> Result<bool, StoreError> {
        let n = self
            .execute(
                "revoke_user",
                &self.db.sql.delete_if,
                vec![text(key), text(data)],
            )
            .await?;
        Ok(n > 0)
    }
}

/// Listing decodes every row in key order: see the [module docs](super).
impl SessionListing for DjangoMySqlStore {
    fn list<'a>(
        &'a self,
        now: OffsetDateTime,
        after: Option<&'a SessionKey>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(shared::list(self, now, after, limit))
    }
}

/// The per-user index is a scan that decodes every row: see the [module docs](super).
impl UserIndex for DjangoMySqlStore {
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(shared::sessions_of(self, user_id, now))
    }

    fn revoke_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(shared::revoke_user(self, user_id, keep))
    }
}

/// The statements, with the table name filled in once.
struct Sql {
    columns: String,
    load: String,
    create: String,
    save: String,
    delete: String,
    touch: String,
    clear: String,
    page_live: String,
    page_all: String,
    row: String,
    delete_if: String,
}

impl Sql {
    fn new(t: &str) -> Sql {
        // The key and the data compare as bytes: Django's columns have the database's
        // default collation, usually case-insensitive (and padding-insensitive).
        let key = "CAST(session_key AS BINARY)";
        let same_data = "CAST(session_data AS BINARY) = CAST(? AS BINARY)";
        Sql {
            columns: format!("SELECT session_key, session_data, expire_date FROM `{t}` LIMIT 0"),
            load: format!(
                "SELECT session_data, expire_date FROM `{t}` WHERE session_key = ? AND expire_date > ?"
            ),
            // Insert if absent; an expired row does not own its key. session_data is
            // assigned first: each IF() sees the assignments made before it. Affected
            // rows: 1 inserted, 2 took over an expired row, 0 a live row kept its values.
            create: format!(
                "INSERT INTO `{t}` (session_key, session_data, expire_date) VALUES (?, ?, ?)
                 ON DUPLICATE KEY UPDATE
                     session_data = IF(expire_date <= ?, VALUES(session_data), session_data),
                     expire_date = IF(expire_date <= ?, VALUES(expire_date), expire_date)"
            ),
            // Compare-and-set on the stored text; never inserts.
            save: format!(
                "UPDATE `{t}` SET session_data = ?, expire_date = ?
                 WHERE session_key = ? AND {same_data} AND expire_date > ?"
            ),
            delete: format!("DELETE FROM `{t}` WHERE session_key = ?"),
            touch: format!(
                "UPDATE `{t}` SET expire_date = ? WHERE session_key = ? AND expire_date > ?"
            ),
            clear: format!(
                "DELETE FROM `{t}` WHERE expire_date <= ? ORDER BY expire_date LIMIT {CLEAR_BATCH}"
            ),
            page_live: format!(
                "SELECT session_key, session_data, expire_date FROM `{t}`
                 WHERE {key} > CAST(? AS BINARY) AND expire_date > ?
                 ORDER BY {key} LIMIT ?"
            ),
            page_all: format!(
                "SELECT session_key, session_data, expire_date FROM `{t}`
                 WHERE {key} > CAST(? AS BINARY)
                 ORDER BY {key} LIMIT ?"
            ),
            row: format!(
                "SELECT session_key, session_data, expire_date FROM `{t}` WHERE session_key = ?"
            ),
            delete_if: format!("DELETE FROM `{t}` WHERE session_key = ? AND {same_data}"),
        }
    }
}
