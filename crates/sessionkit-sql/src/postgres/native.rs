//! [`PostgresStore`]: the native layout in PostgreSQL (see the [driver docs](super)).

use sessionkit_core::store::Page;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::store::{Create, LeaseStore};
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionInfo, SessionKey, SessionListing,
    SessionStore, StoreError, Token, UserIndex,
};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::{CLEAR_BATCH, Db, lease_end, pg_error, schema, ts};
use crate::builder::Builder;
use crate::shared::{
    ClientColumns, NativeRow, check_table_name, native_info, native_meta, save_outcome,
    token_version,
};

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
    db: Db,
    table: String,
    sql: schema::Sql,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (url, table) = (self.inner.db.url(), &self.inner.table);
        crate::shared::debug_store(f, "PostgresStore", url, table, false)
    }
}

/// Options for connecting a [`PostgresStore`]; from [`PostgresStore::builder`]. The setters are
/// [`Builder`]'s.
pub type PostgresBuilder = Builder<PostgresStore>;

crate::builder::target!(PostgresStore: String, (), schema::DEFAULT_TABLE, Create::IfMissing);

impl PostgresBuilder {
    /// Connects and checks (or, under [`Create::IfMissing`], creates) the tables.
    pub async fn connect(self) -> Result<PostgresStore, StoreError> {
        let Builder {
            place: url,
            table,
            create,
            ..
        } = self;
        let (url, table) = (url.as_str(), table.as_str());
        check_table_name(table)?;
        let table = table.to_ascii_lowercase();
        let db = Db::new(url)?;
        let mut client = db.client().await?;
        match create {
            Create::Never => schema::check(&client, db.url(), &table).await?,
            _ => schema::migrate(&mut client, &table).await?,
        }
        drop(client);
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                db,
                sql: schema::Sql::new(&table),
                table,
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
    ///     .with_create(Create::Never)
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: &str) -> PostgresBuilder {
        Builder::new(url.to_owned(), ())
    }

    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db`,
    /// or the `key=value` form) with the default table name `sessionkit_session`,
    /// creating the tables if they are missing.
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        PostgresStore::builder(url).connect().await
    }

    /// The session table (lower-cased).
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The database URL without its password, as [`describe`](SessionStore::describe)
    /// shows it.
    pub fn location(&self) -> &str {
        self.inner.db.url()
    }

    /// The query plan of one cleanup batch (`EXPLAIN`), for checking that it uses the
    /// expiry index.
    pub async fn explain_clear_expired(&self, now: OffsetDateTime) -> Result<String, StoreError> {
        let rows = self
            .inner
            .db
            .client()
            .await?
            .query(
                &format!("EXPLAIN {}", self.inner.sql.clear),
                &[&ts(now), &(CLEAR_BATCH as i64)],
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

    async fn infos(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let rows = self.inner.db.query(what, sql, params).await?;
        Ok(rows.iter().filter_map(info).collect())
    }
}

/// The device-metadata columns (`client_ip`, `user_agent`, `device`) from `first` on.
fn client(
    r: &Row,
    first: usize,
) -> Result<Option<sessionkit_core::ClientInfo>, tokio_postgres::Error> {
    Ok(ClientColumns {
        ip: r.try_get(first)?,
        user_agent: r.try_get(first + 1)?,
        device: r.try_get(first + 2)?,
    }
    .into_client())
}

/// A listing row, or `None` (logged) when it cannot be read.
fn info(r: &Row) -> Option<SessionInfo> {
    let read = || -> Result<_, tokio_postgres::Error> {
        Ok((
            r.try_get::<_, &str>(0)?,
            r.try_get::<_, OffsetDateTime>(1)?,
            native_meta(r.try_get(2)?, r.try_get(3)?, r.try_get(4)?, client(r, 5)?),
        ))
    };
    match read() {
        Ok((key, expires_at, meta)) => native_info(key, expires_at, meta),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable session row in PostgreSQL; not listed");
            None
        }
    }
}

/// A loaded row as a [`Lookup`]; unreadable rows are `Missing` plus a warning.
fn lookup(key: &SessionKey, r: &Row) -> Lookup {
    let read = || -> Result<_, tokio_postgres::Error> {
        Ok(NativeRow {
            json: r.try_get::<_, String>(0)?.into_bytes(),
            version: r.try_get(1)?,
            expires_at: r.try_get(2)?,
            meta: native_meta(r.try_get(3)?, r.try_get(4)?, r.try_get(5)?, client(r, 7)?),
            retired: r.try_get(6)?,
        })
    };
    match read() {
        Ok(row) => row.lookup(key, "PostgreSQL"),
        Err(e) => {
            tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session row in PostgreSQL; treating as no session");
            Lookup::Missing
        }
    }
}

impl SessionStore for PostgresStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let row = self
            .inner
            .db
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
        let client = ClientColumns::of(&record.meta);
        let row = self
            .inner
            .db
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
                    &client.ip,
                    &client.user_agent,
                    &client.device,
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
        let version = token_version(token);
        let data = record.data.to_json();
        let client = ClientColumns::of(&record.meta);
        let row = self
            .inner
            .db
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
                    &client.ip,
                    &client.user_agent,
                    &client.device,
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(SaveOutcome::Missing);
        };
        let read = || -> Result<(Option<i64>, bool), tokio_postgres::Error> {
            Ok((row.try_get(0)?, row.try_get(1)?))
        };
        let (saved, live) = read().map_err(|e| pg_error("save", e))?;
        Ok(save_outcome(saved.map(|v| Token::version(v as u64)), live))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.inner.db.delete(&self.inner.sql.delete, key).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (expires_at, now) = (ts(expires_at), ts(now));
        self.inner
            .db
            .touch(&self.inner.sql.touch, key, &expires_at, &now)
            .await
    }

    /// Reports the running total after each batch that removed something (just `0`
    /// when nothing had expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.inner
            .db
            .clear_expired(&self.inner.sql.clear, &ts(now), progress)
            .await
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.inner
            .db
            .execute(
                "retire",
                &self.inner.sql.retire,
                &[&key.as_str(), &ts(until)],
            )
            .await
            .map(|_| ())
    }

    fn describe(&self) -> String {
        self.inner.db.url().to_owned()
    }

    sessionkit_core::offers!(listing, user_index, leases);
}

impl SessionListing for PostgresStore {
    async fn list(&self, page: Page<'_>) -> Result<Vec<SessionInfo>, StoreError> {
        let Page { now, after, limit } = page;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
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
    }
}

impl UserIndex for PostgresStore {
    async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.infos(
            "sessions_of",
            &self.inner.sql.of_user,
            &[&user_id, &ts(now)],
        )
        .await
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let keep = keep.map_or("", SessionKey::as_str);
        self.inner
            .db
            .execute("revoke_user", &self.inner.sql.revoke, &[&user_id, &keep])
            .await
    }
}

impl LeaseStore for PostgresStore {
    /// Takes the lease if nobody holds it, or the holder's lease ran out. Lease times are
    /// the application's system clock (`now_utc`), not the database server's.
    async fn try_acquire(
        &self,
        key: &SessionKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = OffsetDateTime::now_utc();
        let row = self
            .inner
            .db
            .query_opt(
                "lease",
                &self.inner.sql.acquire,
                &[&key.as_str(), &owner, &ts(lease_end(now, ttl)), &ts(now)],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn release(&self, key: &SessionKey, owner: &str) -> Result<(), StoreError> {
        self.inner
            .db
            .execute(
                "lease release",
                &self.inner.sql.release,
                &[&key.as_str(), &owner],
            )
            .await
            .map(|_| ())
    }
}
