//! [`MySqlStore`]: the native layout in MySQL or MariaDB (see the [driver docs](super)).

use sessionkit_core::store::Page;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mysql_async::{Row, Value};
use sessionkit_core::store::{Create, LeaseStore};
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionInfo, SessionKey, SessionListing,
    SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use time::OffsetDateTime;

use super::{Db, dt, from_dt, lease_end, retrying, schema, text};
use crate::builder::Builder;
use crate::shared::{
    ClientColumns, NativeRow, check_table_name, native_info, native_meta, save_outcome,
    token_version,
};

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
    db: Db,
    table: String,
    sql: schema::Sql,
}

impl fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (url, table) = (self.inner.db.url(), &self.inner.table);
        crate::shared::debug_store(f, "MySqlStore", url, table, false)
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

/// Options for connecting a [`MySqlStore`]; from [`MySqlStore::builder`]. The setters are
/// [`Builder`]'s.
pub type MySqlBuilder = Builder<MySqlStore>;

crate::builder::target!(MySqlStore: String, (), schema::DEFAULT_TABLE, Create::IfMissing);

impl MySqlBuilder {
    /// Connects and checks (or, under [`Create::IfMissing`], creates) the tables.
    pub async fn connect(self) -> Result<MySqlStore, StoreError> {
        let Builder {
            place: url,
            table,
            create,
            ..
        } = self;
        let (url, table) = (url.as_str(), table.as_str());
        check_table_name(table)?;
        let store = MySqlStore {
            inner: Arc::new(Inner {
                db: Db::new(url, None)?,
                sql: schema::Sql::new(table),
                table: table.to_owned(),
            }),
        };
        let mut conn = store.inner.db.conn().await?;
        // Reset this connection when it goes back to the pool: it may hold a named lock.
        conn.reset_connection(true);
        match create {
            Create::Never => schema::check(&mut conn, store.inner.db.url(), table).await?,
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
    ///     .with_create(Create::Never)
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(url: &str) -> MySqlBuilder {
        Builder::new(url.to_owned(), ())
    }

    /// Connects to the database at `url` (`mysql://user[:password]@host[:port]/db`) with
    /// the default table name `sessionkit_session`, creating the tables if they are
    /// missing.
    pub async fn connect(url: &str) -> Result<MySqlStore, StoreError> {
        MySqlStore::builder(url).connect().await
    }

    /// The session table.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The database URL without its password, as [`describe`](SessionStore::describe)
    /// shows it.
    pub fn location(&self) -> &str {
        self.inner.db.url()
    }

    /// Closes the pool's connections (waiting for those in use to come back). Dropping
    /// the last clone closes them too, without waiting.
    pub async fn disconnect(&self) -> Result<(), StoreError> {
        self.inner.db.disconnect().await
    }

    /// The query plan of one cleanup batch (`EXPLAIN`), one line per row of the plan as
    /// `column=value` pairs, for checking that it uses the expiry index.
    pub async fn explain_clear_expired(&self, now: OffsetDateTime) -> Result<String, StoreError> {
        let rows = self
            .inner
            .db
            .query(
                "explain",
                &format!("EXPLAIN {}", self.inner.sql.clear),
                vec![dt(now)],
            )
            .await?;
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

    /// Whether a live, non-marker row has `key` at `now`.
    async fn is_live(
        &self,
        what: &str,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let row = self
            .inner
            .db
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
        let rows = self.inner.db.query(what, sql, params).await?;
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
        params.extend(client_params(record));
        // One `now` for each IF() of the ON DUPLICATE KEY UPDATE.
        params.extend(std::iter::repeat_n(dt(now), 10));
        let (affected, insert_id) = self
            .inner
            .db
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
                    .inner
                    .db
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
        let mut params = vec![
            text(data),
            dt(record.expires_at),
            dt(record.meta.last_seen.unwrap_or(now)),
            opt_text(record.meta.user_id.as_deref()),
        ];
        params.extend(client_params(record));
        params.extend([text(key.as_str()), Value::Int(version), dt(now)]);
        let (n, _) = self
            .inner
            .db
            .execute_info("save", &self.inner.sql.save, params)
            .await?;
        let saved = (n > 0).then(|| Token::version(version as u64 + 1));
        let live = saved.is_some() || self.is_live("save", key, now).await?;
        Ok(save_outcome(saved, live))
    }
}

/// The device-metadata columns (`client_ip`, `user_agent`, `device`) a record writes.
fn client_params(record: &Record) -> [Value; 3] {
    let c = ClientColumns::of(&record.meta);
    [
        opt_text(c.ip.as_deref()),
        opt_text(c.user_agent.as_deref()),
        opt_text(c.device.as_deref()),
    ]
}

/// The device-metadata columns from `first` on; `None` when they cannot be read.
fn client(r: &mut Row, first: usize) -> Option<ClientColumns> {
    Some(ClientColumns {
        ip: col::<Option<String>>(r, first)?,
        user_agent: col::<Option<String>>(r, first + 1)?,
        device: col::<Option<String>>(r, first + 2)?,
    })
}

/// A listing row, or `None` (logged) when it cannot be read.
fn info(mut r: Row) -> Option<SessionInfo> {
    let read = (|| {
        Some((
            col::<String>(&mut r, 0)?,
            col_dt(&mut r, 1)?,
            native_meta(
                col_dt(&mut r, 2)?,
                col_dt(&mut r, 3)?,
                col::<Option<String>>(&mut r, 4)?,
                client(&mut r, 5)?.into_client(),
            ),
        ))
    })();
    let Some((key, expires_at, meta)) = read else {
        tracing::warn!("unreadable session row in MySQL; not listed");
        return None;
    };
    native_info(&key, expires_at, meta)
}

/// A loaded row as a [`Lookup`]; unreadable rows are `Missing` plus a warning.
fn lookup(key: &SessionKey, mut r: Row) -> Lookup {
    let read = (|| {
        Some(NativeRow {
            json: col::<Vec<u8>>(&mut r, 0)?,
            version: col::<i64>(&mut r, 1)?,
            expires_at: col_dt(&mut r, 2)?,
            meta: native_meta(
                col_dt(&mut r, 3)?,
                col_dt(&mut r, 4)?,
                col::<Option<String>>(&mut r, 5)?,
                client(&mut r, 7)?.into_client(),
            ),
            retired: col::<bool>(&mut r, 6)?,
        })
    })();
    match read {
        Some(row) => row.lookup(key, "MySQL"),
        None => {
            tracing::warn!(key = %key.fingerprint(), "unreadable session row in MySQL; treating as no session");
            Lookup::Missing
        }
    }
}

impl SessionStore for MySqlStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let row = self
            .inner
            .db
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
        let version = token_version(token);
        check_id("user id", record.meta.user_id.as_deref())?;
        let data = record.data.to_json();
        retrying(|| self.save_once(key, record, &data, version, now)).await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.inner
            .db
            .delete(&self.inner.sql.delete, key.as_str())
            .await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let params = vec![dt(expires_at), dt(now), text(key.as_str()), dt(now)];
        let sql = &self.inner.sql.touch;
        // No affected row also when the values did not change: ask.
        Ok(self.inner.db.changed("touch", sql, params).await?
            || self.is_live("touch", key, now).await?)
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
            .clear_expired(&self.inner.sql.clear, dt(now), progress)
            .await
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.inner
            .db
            .execute(
                "retire",
                &self.inner.sql.retire,
                vec![text(key.as_str()), dt(until)],
            )
            .await
            .map(|_| ())
    }

    fn describe(&self) -> String {
        self.inner.db.url().to_owned()
    }

    sessionkit_core::offers!(listing, user_index, leases);
}

impl SessionListing for MySqlStore {
    async fn list(&self, page: Page<'_>) -> Result<Vec<SessionInfo>, StoreError> {
        let Page { now, after, limit } = page;
        let limit = Value::UInt(u64::try_from(limit).unwrap_or(u64::MAX));
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
    }
}

impl UserIndex for MySqlStore {
    async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.infos(
            "sessions_of",
            &self.inner.sql.of_user,
            vec![text(user_id), dt(now)],
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
            .execute(
                "revoke_user",
                &self.inner.sql.revoke,
                vec![text(user_id), text(keep)],
            )
            .await
    }
}

impl LeaseStore for MySqlStore {
    /// Takes the lease if nobody holds it, or the holder's lease ran out. Lease times are
    /// the application's system clock (`now_utc`), not the database server's.
    async fn try_acquire(
        &self,
        key: &SessionKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        check_id("lease owner", Some(owner))?;
        let now = OffsetDateTime::now_utc();
        let n = self
            .inner
            .db
            .execute(
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
            .await?;
        Ok(n > 0)
    }

    async fn release(&self, key: &SessionKey, owner: &str) -> Result<(), StoreError> {
        self.inner
            .db
            .execute(
                "lease release",
                &self.inner.sql.release,
                vec![text(key.as_str()), text(owner)],
            )
            .await
            .map(|_| ())
    }
}
