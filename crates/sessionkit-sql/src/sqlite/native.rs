//! [`SqliteStore`]: the native layout in SQLite (see the [driver docs](super)).

use sessionkit_core::store::Page;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use sessionkit_core::store::Create;
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionInfo, SessionKey, SessionListing,
    SessionStore, StoreError, Token, UserIndex,
};
use time::OffsetDateTime;

use super::writer::{self, Write, WriteStats, Writer};
use super::{CLEAR_BATCH, Idle, blocking, open_file, open_read_only, schema, sql_error};
use crate::builder::Builder;
use crate::shared::{ClientColumns, NativeRow, clear_in_batches, native_info, native_meta};
pub(crate) use sessionkit_core::store::{from_unix_micros_saturating, unix_micros};

/// How many idle read connections the store keeps.
const READERS: usize = 16;

/// Sessions in an SQLite database file. Clones share the connections and the writer
/// thread.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_sql::SqliteStore;
///
/// let store = SqliteStore::open("sessions.sqlite3").await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    table: String,
    readers: Idle,
    writer: Writer,
    sql: Arc<schema::Sql>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("table", &self.inner.table)
            .finish()
    }
}

/// The device-metadata columns (`client_ip`, `user_agent`, `device`) from `first` on.
fn client_columns(
    r: &rusqlite::Row<'_>,
    first: usize,
) -> rusqlite::Result<Option<sessionkit_core::ClientInfo>> {
    Ok(ClientColumns {
        ip: r.get(first)?,
        user_agent: r.get(first + 1)?,
        device: r.get(first + 2)?,
    }
    .into_client())
}

/// Options for opening a [`SqliteStore`]; from [`SqliteStore::builder`]. The setters are
/// [`Builder`]'s.
pub type SqliteBuilder = Builder<SqliteStore>;

crate::builder::target!(SqliteStore: PathBuf, (), schema::DEFAULT_TABLE, Create::IfMissing);

impl SqliteBuilder {
    /// Opens the database.
    ///
    /// Fails with [`StoreErrorKind::Config`](sessionkit_core::StoreErrorKind::Config) when the directory does not exist (it is
    /// never created), when the file or the table is missing under [`Create::Never`], when
    /// the file cannot be opened or written (the message names the cause: permission
    /// denied, a read-only file system, not an SQLite database, ...), or when the table has
    /// another layout version.
    pub async fn open(self) -> Result<SqliteStore, StoreError> {
        blocking("sqlite open task failed", move || {
            SqliteStore::open_blocking(self)
        })
        .await
    }
}

impl SqliteStore {
    /// Options for opening the database at `path`: the table, and whether to create what
    /// is missing.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sessionkit_core::StoreError> {
    /// use sessionkit_core::store::Create;
    /// use sessionkit_sql::SqliteStore;
    ///
    /// // An admin tool that must not create a database where a path has a typo.
    /// let store = SqliteStore::builder("sessions.sqlite3")
    ///     .with_create(Create::Never)
    ///     .open()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> SqliteBuilder {
        Builder::new(path.as_ref().to_path_buf(), ())
    }

    /// Opens (creating if needed) the database at `path` with the default table name
    /// `sessionkit_session`.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::builder(path).open().await
    }

    /// Opens (creating if needed) the database at `path` using `table` (letters, digits
    /// and `_`; lets several applications or tests share one file).
    pub async fn open_with_table(
        path: impl AsRef<Path>,
        table: &str,
    ) -> Result<SqliteStore, StoreError> {
        SqliteStore::builder(path).with_table(table).open().await
    }

    fn open_blocking(b: SqliteBuilder) -> Result<SqliteStore, StoreError> {
        let Builder {
            place: path,
            table,
            create,
            ..
        } = b;
        schema::check_table_name(&table)?;
        let conn = open_file(&path, create)?;
        match create {
            // Nothing is written before the table is known to be ours and current.
            Create::Never => {
                schema::check(&conn, &path, &table)?;
                schema::configure(&conn, &path, true)?;
            }
            _ => {
                schema::configure(&conn, &path, true)?;
                schema::migrate(&conn, &path, &table)?;
            }
        }
        let sql = Arc::new(schema::Sql::new(&table));
        let writer = Writer::spawn(conn, Arc::clone(&sql), path.clone())?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                table,
                readers: Idle::new(Vec::new(), READERS),
                writer,
                sql,
            }),
        })
    }

    /// Where the store lives: the database file.
    pub fn location(&self) -> &Path {
        &self.inner.path
    }

    /// Batch sizes of the writer thread so far.
    pub fn write_stats(&self) -> WriteStats {
        self.inner.writer.stats()
    }

    fn reader(&self) -> Result<Connection, StoreError> {
        self.inner.readers.take(|| {
            let conn = open_read_only(&self.inner.path)?;
            schema::configure(&conn, &self.inner.path, false)?;
            Ok(conn)
        })
    }

    fn give_back(&self, conn: Connection) {
        self.inner.readers.give_back(conn);
    }

    fn query_infos(
        &self,
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let conn = self.reader()?;
        let rows = {
            let mut stmt = conn
                .prepare_cached(sql)
                .map_err(|e| sql_error(self.location(), "list", e))?;
            let rows = stmt
                .query_map(params, |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        from_unix_micros_saturating(r.get(1)?),
                        native_meta(
                            from_unix_micros_saturating(r.get(2)?),
                            from_unix_micros_saturating(r.get(3)?),
                            r.get(4)?,
                            client_columns(r, 5)?,
                        ),
                    ))
                })
                .map_err(|e| sql_error(self.location(), "list", e))?;
            rows.collect::<Result<Vec<_>, _>>()
                .map_err(|e| sql_error(self.location(), "list", e))?
        };
        self.give_back(conn);
        Ok(rows
            .into_iter()
            .filter_map(|(key, expires_at, meta)| native_info(&key, expires_at, meta))
            .collect())
    }

    /// Reads a session (blocking).
    fn read_row(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let conn = self.reader()?;
        let row = {
            let mut stmt = conn
                .prepare_cached(&self.inner.sql.load)
                .map_err(|e| sql_error(self.location(), "load", e))?;
            stmt.query_row(params![key.as_str(), unix_micros(now)], |r| {
                Ok(NativeRow {
                    json: r.get::<_, String>(0)?.into_bytes(),
                    version: r.get(1)?,
                    expires_at: from_unix_micros_saturating(r.get(2)?),
                    meta: native_meta(
                        from_unix_micros_saturating(r.get(3)?),
                        from_unix_micros_saturating(r.get(4)?),
                        r.get(5)?,
                        client_columns(r, 7)?,
                    ),
                    retired: r.get(6)?,
                })
            })
            .optional()
            .map_err(|e| sql_error(self.location(), "load", e))?
        };
        self.give_back(conn);
        Ok(row.map_or(Lookup::Missing, |row| row.lookup(key, "SQLite")))
    }
}

impl SessionStore for SqliteStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        // Reads run on the blocking pool. A primary-key read in WAL mode takes microseconds,
        // but when another process holds the database's locks SQLite can wait for seconds
        // inside the read (its WAL retry loop ignores the busy timeout); on a blocking thread
        // that wait stalls neither the runtime nor the engine's load timeout.
        let (this, key) = (self.clone(), *key);
        blocking("sqlite read task failed", move || this.read_row(&key, now)).await
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.inner
            .writer
            .send(Write::Create {
                key: *key,
                row: writer::Row::from_record(record, now),
                now: unix_micros(now),
            })
            .await
            .map(|r| match r {
                writer::Reply::Version(v) => CreateOutcome::Created(Token::version(v)),
                _ => CreateOutcome::Collision,
            })
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let Some(version) = token.as_version() else {
            return Ok(SaveOutcome::Conflict);
        };
        self.inner
            .writer
            .send(Write::Save {
                key: *key,
                row: writer::Row::from_record(record, now),
                version: version as i64,
                now: unix_micros(now),
            })
            .await
            .map(|r| match r {
                writer::Reply::Version(v) => SaveOutcome::Saved(Token::version(v)),
                writer::Reply::Conflict => SaveOutcome::Conflict,
                _ => SaveOutcome::Missing,
            })
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.inner
            .writer
            .send(Write::Delete { key: *key })
            .await
            .map(|_| ())
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner
            .writer
            .send(Write::Touch {
                key: *key,
                expires_at: unix_micros(expires_at),
                now: unix_micros(now),
            })
            .await
            .map(|r| matches!(r, writer::Reply::Changed(n) if n > 0))
    }

    /// Deletes in batches of [`CLEAR_BATCH`] rows, one transaction each, and reports the
    /// running total after each batch that removed something (just `0` when nothing had
    /// expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let now = unix_micros(now);
        clear_in_batches(progress, || async move {
            let r = self
                .inner
                .writer
                .send(Write::ClearExpired {
                    now,
                    limit: CLEAR_BATCH as i64,
                })
                .await?;
            Ok(match r {
                writer::Reply::Changed(n) => n,
                _ => 0,
            })
        })
        .await
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.inner
            .writer
            .send(Write::Retire {
                key: *key,
                until: unix_micros(until),
            })
            .await
            .map(|_| ())
    }

    fn describe(&self) -> String {
        format!("sqlite://{}", self.inner.path.display())
    }

    sessionkit_core::offers!(listing, user_index);
}

impl SessionListing for SqliteStore {
    async fn list(&self, page: Page<'_>) -> Result<Vec<SessionInfo>, StoreError> {
        let Page { now, after, limit } = page;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match after {
            Some(a) => self.query_infos(
                &self.inner.sql.list,
                &[&unix_micros(now), &a.as_str(), &limit],
            ),
            None => self.query_infos(&self.inner.sql.list_all, &[&unix_micros(now), &limit]),
        }
    }
}

impl UserIndex for SqliteStore {
    async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.query_infos(&self.inner.sql.of_user, &[&user_id, &unix_micros(now)])
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let r = self
            .inner
            .writer
            .send(Write::RevokeUser {
                user_id: user_id.to_owned(),
                keep: keep.copied(),
            })
            .await?;
        Ok(match r {
            writer::Reply::Changed(n) => n,
            _ => 0,
        })
    }
}
