//! [`DjangoMySqlStore`]: Django's `django_session` table in MySQL or MariaDB (see the
//! [layout's docs](crate::django)); its DDL is in `django_schema.rs`.

use std::fmt;
use std::sync::Arc;

use mysql_async::Value;
use mysql_async::prelude::Queryable;
use sessionkit_core::store::Create;
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionKey, SessionStore, StoreError, Token,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{Db, django_schema, dt, from_dt, text};
use crate::builder::Builder;
use crate::django::{DEFAULT_TABLE, DjangoOptions, DjangoTime, Secrets};
use crate::shared::check_table_name;
use crate::shared::django::{self as shared, Codec, Page, Row, Scan, Sql};

/// Django's `db` engine layout in MySQL or MariaDB: the `django_session` table of the
/// URL's database (or of [`with_database`](DjangoMySqlBuilder::with_database)). See the
/// [module docs](super) for the semantics.
///
/// `expire_date` is `datetime(6)` holding naive UTC, as Django writes it with
/// `USE_TZ = True`, or naive local time with `USE_TZ = False`
/// ([`DjangoMySqlBuilder::with_django_time`]); the store sends whole microseconds itself,
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
/// Connections come from mysql_async's pool ([`POOL_SIZE`](super::POOL_SIZE) connections) with its
/// statement cache. Clones share the pool.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_sql::django::{DjangoMySqlStore, Secrets};
///
/// let secrets = Secrets::new("django-insecure-...");
/// let store = DjangoMySqlStore::connect("mysql://app:pw@db/app", &secrets).await?;
/// assert_eq!(store.location(), "mysql://app@db:3306/app");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DjangoMySqlStore {
    db: Arc<Django>,
    codec: Codec,
}

struct Django {
    db: Db,
    table: String,
    sql: Sql,
    /// What `expire_date` holds.
    time: DjangoTime,
}

impl fmt::Debug for DjangoMySqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (url, table) = (self.db.db.url(), &self.db.table);
        crate::shared::debug_store(f, "DjangoMySqlStore", url, table, true)
    }
}

/// Options for connecting a [`DjangoMySqlStore`]; from [`DjangoMySqlStore::builder`].
/// The setters every store has are [`Builder`]'s.
pub type DjangoMySqlBuilder = Builder<DjangoMySqlStore>;

crate::builder::target!(DjangoMySqlStore: String, DjangoOptions, DEFAULT_TABLE, Create::Never);

impl DjangoMySqlBuilder {
    /// Uses database `name` instead of the URL's (as Django's `NAME` setting replaces
    /// it). The database must exist.
    pub fn with_database(mut self, name: impl Into<String>) -> DjangoMySqlBuilder {
        self.options.scope = Some(name.into());
        self
    }

    /// Connects and checks the table.
    ///
    /// An unreachable server is [`StoreErrorKind::Unavailable`](sessionkit_core::StoreErrorKind::Unavailable) (getting a connection
    /// gives up after [`CONNECT_TIMEOUT`](super::CONNECT_TIMEOUT)); a bad URL, a URL without a database, a refused
    /// login, an unknown database, a missing table (unless
    /// [`create_table_if_missing`](Self::create_table_if_missing)) or a table without
    /// Django's columns is [`StoreErrorKind::Config`](sessionkit_core::StoreErrorKind::Config).
    pub async fn connect(self) -> Result<DjangoMySqlStore, StoreError> {
        check_table_name(&self.table)?;
        let db = Db::new(&self.place, self.scope())?;
        let table = self.table;
        let store = DjangoMySqlStore {
            codec: Codec::new(&self.options.secrets, "mysql"),
            db: Arc::new(Django {
                db,
                sql: django_schema::sql(&table),
                table,
                time: self.options.time,
            }),
        };
        let db = &store.db;
        let mut conn = db.db.conn().await?;
        if !django_schema::table_exists(&mut conn, &db.table).await? {
            if self.create != Create::IfMissing {
                return Err(shared::table_missing(
                    &db.table,
                    &format!(" in {}", db.db.url()),
                ));
            }
            // Reset this connection when it goes back to the pool: it held a named lock.
            conn.reset_connection(true);
            django_schema::create_table(&mut conn, &db.table).await?;
        }
        conn.query_drop(&db.sql.columns)
            .await
            .map_err(|e| shared::not_django(&db.table, db.db.url(), e))?;
        drop(conn);
        Ok(store)
    }
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
        Builder::new(url.to_owned(), DjangoOptions::new(secrets))
    }

    /// Connects to the database at `url`, whose `django_session` table Django's `migrate`
    /// created. See [`DjangoMySqlBuilder::connect`] for the errors.
    pub async fn connect(url: &str, secrets: &Secrets) -> Result<DjangoMySqlStore, StoreError> {
        DjangoMySqlStore::builder(url, secrets).connect().await
    }

    /// The database URL without its password.
    pub fn location(&self) -> &str {
        self.db.db.url()
    }

    /// `t` as this store writes `expire_date`.
    fn dt(&self, t: OffsetDateTime) -> Value {
        column_dt(&self.db.time, t)
    }

    /// Closes the pool's connections (waiting for those in use to come back). Dropping
    /// the last clone closes them too, without waiting.
    pub async fn disconnect(&self) -> Result<(), StoreError> {
        self.db.db.disconnect().await
    }

    /// The live row under `key` at `now`: its data and expiry, as stored.
    async fn live_row(
        &self,
        what: &str,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<Option<(Option<String>, Value)>, StoreError> {
        let rows = self
            .db
            .db
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
            .db
            .db
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
                .db
                .db
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
        self.db.db.delete(&self.db.sql.delete, key.as_str()).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let params = vec![self.dt(expires_at), text(key.as_str()), self.dt(now)];
        // No affected row also when the expiry did not change: ask.
        Ok(self
            .db
            .db
            .changed("touch", &self.db.sql.touch, params)
            .await?
            || self.live_row("touch", key, now).await?.is_some())
    }

    /// Deletes in batches of [`CLEAR_BATCH`](crate::CLEAR_BATCH) rows, each committed by itself, and reports
    /// the running total after each batch that removed something (just `0` when nothing
    /// had expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.db
            .db
            .clear_expired(&self.db.sql.clear, self.dt(now), progress)
            .await
    }

    fn describe(&self) -> String {
        let custom = self.db.table != DEFAULT_TABLE;
        shared::describe(
            self.db.db.url(),
            custom.then_some(self.db.table.as_str()),
            &self.db.time,
        )
    }

    sessionkit_core::offers!(listing, user_index);
}

shared::django_store_common!(DjangoMySqlStore, "mysql");

impl Scan for DjangoMySqlStore {
    async fn page(&self, p: Page<'_>) -> Result<Vec<Row>, StoreError> {
        let (after, limit) = (
            p.after,
            Value::UInt(u64::try_from(p.limit).unwrap_or(u64::MAX)),
        );
        let rows = match p.live_at {
            Some(now) => {
                self.db
                    .db
                    .query(
                        "scan",
                        &self.db.sql.page_live,
                        vec![text(after), self.dt(now), limit],
                    )
                    .await?
            }
            None => {
                self.db
                    .db
                    .query("scan", &self.db.sql.page_all, vec![text(after), limit])
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
            .db
            .db
            .query("scan", &self.db.sql.row, vec![text(key)])
            .await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| read_row(&self.db.time, r)))
    }

    async fn delete_if(&self, key: &str, data: &str) -> Result<bool, StoreError> {
        let n = self
            .db
            .db
            .execute(
                "revoke_user",
                &self.db.sql.delete_if,
                vec![text(key), text(data)],
            )
            .await?;
        Ok(n > 0)
    }
}
