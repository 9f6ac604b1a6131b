//! [`DjangoSqliteStore`]: Django's `django_session` table in Django's SQLite database
//! (see the [layout's docs](crate::django)); its DDL is in `django_schema.rs`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sessionkit_core::store::Create;
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionKey, SessionStore, StoreError,
    StoreErrorKind, Token, pytime,
};
use time::OffsetDateTime;

use super::{Idle, blocking, django_schema, open_file, sql_error};
use crate::builder::Builder;
use crate::django::{CLEAR_BATCH, DEFAULT_TABLE, DjangoOptions, DjangoTime, Secrets};
use crate::shared::django::{self as shared, Codec, Page, Row, Scan, Sql};
use crate::shared::{check_table_name, clear_in_batches, save_outcome};

/// How long a statement waits for another connection's lock (Django's own default
/// `timeout` is 5 seconds too).
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The most idle connections the store keeps open.
const POOL_SIZE: usize = 8;

/// Django's `db` engine layout in an SQLite database: the `django_session` table of a
/// Django project's `db.sqlite3`. See the [module docs](super) for the semantics.
///
/// The database is Django's, so the store changes nothing about it: it does not switch
/// the journal mode (Django's default rollback journal stays), does not touch
/// `synchronous`, and does not create the table unless told to
/// ([`DjangoSqliteBuilder::create_table_if_missing`]). Each connection waits up to
/// [`SQLITE_BUSY_TIMEOUT`] for locks. Statements run on Tokio's blocking threads over a small
/// pool of connections; writes run in `BEGIN IMMEDIATE` transactions (one at a time per
/// store), so that concurrent writers wait for each other instead of failing with
/// "database is locked".
///
/// `expire_date` is written as Django writes it: naive text,
/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (Python's `str(datetime)`), in UTC or, with
/// `USE_TZ = False`, in local time ([`DjangoSqliteBuilder::with_django_time`]), and compared
/// as text, as Django compares it.
///
/// Clones share the connections.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_sql::django::{DjangoSqliteStore, Secrets};
///
/// let secrets = Secrets::new("django-insecure-...");
/// let store = DjangoSqliteStore::open("/srv/app/db.sqlite3", &secrets).await?;
/// assert_eq!(store.table(), "django_session");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DjangoSqliteStore {
    db: Arc<Db>,
    codec: Codec,
}

struct Db {
    path: PathBuf,
    table: String,
    sql: Sql,
    /// What `expire_date` holds.
    time: DjangoTime,
    idle: Idle,
    /// Writes of this store take turns (other processes wait through the busy timeout).
    write: Mutex<()>,
}

impl fmt::Debug for DjangoSqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoSqliteStore")
            .field("path", &self.db.path)
            .field("table", &self.db.table)
            .finish_non_exhaustive()
    }
}

/// Options for opening a [`DjangoSqliteStore`]; from [`DjangoSqliteStore::builder`].
/// The setters every store has are [`Builder`]'s.
pub type DjangoSqliteBuilder = Builder<DjangoSqliteStore>;

crate::builder::target!(DjangoSqliteStore: PathBuf, DjangoOptions, DEFAULT_TABLE, Create::Never);

impl DjangoSqliteBuilder {
    /// Opens the database and checks the table.
    ///
    /// Fails with [`StoreErrorKind::Config`] when the file or the table does not exist
    /// (unless [`create_table_if_missing`](Self::create_table_if_missing)), when the
    /// table lacks Django's columns, or when the file is not an SQLite database.
    pub async fn open(self) -> Result<DjangoSqliteStore, StoreError> {
        blocking("sqlite open task failed", move || self.open_blocking()).await
    }

    fn open_blocking(self) -> Result<DjangoSqliteStore, StoreError> {
        check_table_name(&self.table)?;
        let path = self.place;
        let table = self.table;
        let shown = path.display();
        let create = self.create == Create::IfMissing;
        let dir_exists = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .is_none_or(Path::is_dir);
        if !create && dir_exists && !path.exists() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "SQLite database {shown} not found, so table {table} not found: run Django's `manage.py migrate`, or open with `create_table_if_missing`"
                ),
            ));
        }
        let mut conn = connect(&path, self.create)?;
        if !django_schema::table_exists(&conn, &path, &table)? {
            if !create {
                return Err(shared::table_missing(&table, &format!(" in {shown}")));
            }
            django_schema::create_table(&mut conn, &path, &table)?;
        }
        let sql = django_schema::sql(&table);
        // The columns Django's model has; anything else is not a session table.
        conn.prepare(&sql.columns)
            .map_err(|e| shared::not_django(&table, &shown.to_string(), e))?;
        Ok(DjangoSqliteStore {
            codec: Codec::new(&self.options.secrets, "sqlite"),
            db: Arc::new(Db {
                path,
                table,
                sql,
                time: self.options.time,
                idle: Idle::new(vec![conn], POOL_SIZE),
                write: Mutex::new(()),
            }),
        })
    }
}

/// A connection to Django's database: read-write, a busy timeout, nothing else changed.
fn connect(path: &Path, create: Create) -> Result<Connection, StoreError> {
    let conn = open_file(path, create)?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)
        .map_err(|e| sql_error(path, "configure", e))?;
    Ok(conn)
}

/// `t` as Django writes it to SQLite: naive `YYYY-MM-DD HH:MM:SS[.ffffff]` in the
/// column's zone ([`DjangoTime::to_column`]), within Python's `datetime` range.
fn text_time(tz: &DjangoTime, t: OffsetDateTime) -> String {
    pytime::naive_utc_str(tz.to_column(t).assume_utc())
}

/// A stored `expire_date`: naive text in the column's zone (an offset, if some writer
/// added one, is honoured); `None` for anything else.
fn parse_time(tz: &DjangoTime, v: SqlValue) -> Option<OffsetDateTime> {
    match v {
        SqlValue::Text(s) => match pytime::fromisoformat(&s)? {
            pytime::IsoDateTime::Aware(t) => Some(t),
            pytime::IsoDateTime::Naive(t) => Some(tz.from_column(t)),
        },
        _ => None,
    }
}

fn read_row(tz: &DjangoTime, r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        key: r.get(0)?,
        data: r.get(1)?,
        expires_at: parse_time(tz, r.get(2)?),
    })
}

impl DjangoSqliteStore {
    /// Options for opening Django's database at `path` (Django's
    /// `DATABASES["default"]["NAME"]`), signing with `secrets` (Django's `SECRET_KEY` and
    /// `SECRET_KEY_FALLBACKS`).
    pub fn builder(path: impl AsRef<Path>, secrets: &Secrets) -> DjangoSqliteBuilder {
        Builder::new(path.as_ref().to_path_buf(), DjangoOptions::new(secrets))
    }

    /// Opens Django's database at `path`, whose `django_session` table Django's `migrate`
    /// created. See [`DjangoSqliteBuilder::open`] for the errors.
    pub async fn open(
        path: impl AsRef<Path>,
        secrets: &Secrets,
    ) -> Result<DjangoSqliteStore, StoreError> {
        DjangoSqliteStore::builder(path, secrets).open().await
    }

    /// Where the store lives: the database file.
    pub fn location(&self) -> &Path {
        &self.db.path
    }

    /// `t` as this store writes `expire_date`.
    fn text(&self, t: OffsetDateTime) -> String {
        text_time(&self.db.time, t)
    }

    /// Runs the statements of `f` on a pooled connection on a blocking thread; their
    /// errors are reported as `what` failing.
    async fn read<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Sql, &mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        self.run(move |sql, conn| f(sql, conn).map_err(|e| sql_error(&db.path, what, e)))
            .await
    }

    /// Runs `f` on a pooled connection on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Sql, &mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        blocking("sqlite task failed", move || {
            let mut conn = db.idle.take(|| connect(&db.path, Create::Never))?;
            let result = f(&db.sql, &mut conn);
            db.idle.give_back(conn);
            result
        })
        .await
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committed when `f` succeeds.
    async fn write<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Sql, &rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        self.run(move |sql, conn| {
            let _turn = db.write.lock().unwrap_or_else(|e| e.into_inner());
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| sql_error(&db.path, what, e))?;
            let out = f(sql, &tx).map_err(|e| sql_error(&db.path, what, e))?;
            tx.commit().map_err(|e| sql_error(&db.path, what, e))?;
            Ok(out)
        })
        .await
    }
}

/// Whether a live row has `key` at `now`.
fn is_live(sql: &Sql, conn: &Connection, key: &str, now: &str) -> rusqlite::Result<bool> {
    conn.prepare_cached(&sql.load)?
        .query_row(params![key, now], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
}

impl SessionStore for DjangoSqliteStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let k = *key;
        let now = self.text(now);
        let tz = self.db.time.clone();
        let row = self
            .read("load", move |sql, conn| {
                conn.prepare_cached(&sql.load).and_then(|mut stmt| {
                    stmt.query_row(params![k.as_str(), now], |r| {
                        Ok((r.get::<_, String>(0)?, parse_time(&tz, r.get(1)?)))
                    })
                    .optional()
                })
            })
            .await?;
        Ok(match row {
            Some((data, expires_at)) => self.codec.lookup(key, data, expires_at),
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
        let k = *key;
        let expires = self.text(record.expires_at);
        let now = self.text(now);
        let written = data.clone();
        let n = self
            .write("create", move |sql, tx| {
                tx.prepare_cached(&sql.create)?
                    .execute(params![k.as_str(), written, expires, now])
            })
            .await?;
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
        // A token this layout never issued matches no row; the check below still tells
        // Conflict from Missing.
        let old = shared::token_text(token).map(str::to_owned);
        let data = self.codec.encode(&record.data, now);
        let k = *key;
        let expires = self.text(record.expires_at);
        let now = self.text(now);
        let written = data.clone();
        let (saved, live) = self
            .write("save", move |sql, tx| {
                let saved = match old {
                    Some(old) => {
                        tx.prepare_cached(&sql.save)?.execute(params![
                            written,
                            expires,
                            k.as_str(),
                            old,
                            now
                        ])? > 0
                    }
                    None => false,
                };
                let live = saved || is_live(sql, tx, k.as_str(), &now)?;
                Ok((saved, live))
            })
            .await?;
        Ok(save_outcome(saved.then(|| shared::token(data)), live))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let k = *key;
        self.write("delete", move |sql, tx| {
            tx.prepare_cached(&sql.delete)?
                .execute([k.as_str()])
                .map(drop)
        })
        .await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let k = *key;
        let expires = self.text(expires_at);
        let now = self.text(now);
        let n = self
            .write("touch", move |sql, tx| {
                tx.prepare_cached(&sql.touch)?
                    .execute(params![expires, k.as_str(), now])
            })
            .await?;
        Ok(n > 0)
    }

    /// Deletes in batches of [`CLEAR_BATCH`] rows, one transaction each, and reports the
    /// running total after each batch that removed something (just `0` when nothing had
    /// expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let now = self.text(now);
        clear_in_batches(progress, || {
            let now = now.clone();
            self.write("clear_expired", move |sql, tx| {
                tx.prepare_cached(&sql.clear)?
                    .execute(params![now, CLEAR_BATCH as i64])
                    .map(|n| n as u64)
            })
        })
        .await
    }

    fn describe(&self) -> String {
        let custom = self.db.table != DEFAULT_TABLE;
        shared::describe(
            &format!("sqlite://{}", self.db.path.display()),
            custom.then_some(self.db.table.as_str()),
            &self.db.time,
        )
    }

    sessionkit_core::offers!(listing, user_index);
}

shared::django_store_common!(DjangoSqliteStore, "sqlite");

impl Scan for DjangoSqliteStore {
    async fn page(&self, p: Page<'_>) -> Result<Vec<Row>, StoreError> {
        let after = p.after.to_owned();
        let live_at = p.live_at.map(|t| self.text(t));
        let limit = p.limit_i64();
        let tz = self.db.time.clone();
        self.read("scan", move |sql, conn| match live_at {
            Some(now) => conn
                .prepare_cached(&sql.page_live)?
                .query_map(params![after, now, limit], |r| read_row(&tz, r))?
                .collect::<rusqlite::Result<Vec<_>>>(),
            None => conn
                .prepare_cached(&sql.page_all)?
                .query_map(params![after, limit], |r| read_row(&tz, r))?
                .collect(),
        })
        .await
    }

    async fn row(&self, key: &str) -> Result<Option<Row>, StoreError> {
        let key = key.to_owned();
        let tz = self.db.time.clone();
        self.read("scan", move |sql, conn| {
            conn.prepare_cached(&sql.row)
                .and_then(|mut stmt| stmt.query_row([key], |r| read_row(&tz, r)).optional())
        })
        .await
    }

    async fn delete_if(&self, key: &str, data: &str) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let data = data.to_owned();
        let n = self
            .write("revoke_user", move |sql, tx| {
                tx.prepare_cached(&sql.delete_if)?.execute([key, data])
            })
            .await?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use time::macros::datetime;

    #[test]
    fn times_as_django_writes_them() {
        let utc = &DjangoTime::default();
        assert_eq!(
            text_time(utc, datetime!(2026-01-15 00:00 UTC)),
            "2026-01-15 00:00:00"
        );
        assert_eq!(
            text_time(utc, datetime!(2026-01-15 02:00:00.123456789 +02:00)),
            "2026-01-15 00:00:00.123456"
        );
        assert_eq!(
            text_time(utc, datetime!(-0005-01-01 00:00 UTC)),
            "0001-01-01 00:00:00"
        );
        assert_eq!(
            parse_time(utc, SqlValue::Text("2026-01-15 00:00:00.123456".into())),
            Some(datetime!(2026-01-15 00:00:00.123456 UTC))
        );
        assert_eq!(parse_time(utc, SqlValue::Integer(5)), None);
        assert_eq!(parse_time(utc, SqlValue::Text("soon".into())), None);
        // USE_TZ = False: naive New York time.
        let ny = &DjangoTime::local("America/New_York").unwrap();
        assert_eq!(
            text_time(ny, datetime!(2026-01-15 17:00:00.5 UTC)),
            "2026-01-15 12:00:00.500000"
        );
        assert_eq!(
            parse_time(ny, SqlValue::Text("2026-07-15 12:00:00".into())),
            Some(datetime!(2026-07-15 16:00 UTC))
        );
        // An explicit offset wins over the zone.
        assert_eq!(
            parse_time(ny, SqlValue::Text("2026-07-15 12:00:00+00:00".into())),
            Some(datetime!(2026-07-15 12:00 UTC))
        );
    }
}
