//! [`DjangoPostgresStore`]: Django's `django_session` table in PostgreSQL (see the
//! [layout's docs](crate::django)); its DDL is in `django_schema.rs`.

use std::fmt;
use std::sync::Arc;

use sessionkit_core::store::Create;
use sessionkit_core::{
    CreateOutcome, Lookup, Record, SaveOutcome, SessionKey, SessionStore, StoreError,
    StoreErrorKind, Token,
};
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio_postgres::types::ToSql;

use super::{Db, django_schema, pg_error, ts};
use crate::builder::Builder;
use crate::django::{DEFAULT_TABLE, DjangoOptions, DjangoTime, Secrets};
use crate::shared::django::{self as shared, Codec, Page, Row, Scan, Sql};
use crate::shared::{check_name, check_table_name, save_outcome};

/// Django's `db` engine layout in PostgreSQL: the `django_session` table, optionally in a
/// named schema. See the [module docs](super) for the semantics.
///
/// # Which table
///
/// Without [`with_schema`](DjangoPostgresBuilder::with_schema), statements name the table
/// unqualified and PostgreSQL finds it through the connection's `search_path`, as Django
/// does; a URL can set that path just as Django's `OPTIONS` do
/// (`postgres://app@db/app?options=-c%20search_path%3Dtenant`). With a schema, every
/// statement names `"schema"."django_session"`, whatever the `search_path` (also through
/// a connection pooler that drops startup options). Names are lower-cased, as PostgreSQL
/// folds unquoted names, and always quoted.
///
/// `expire_date` is `timestamp with time zone`: that is what Django's `migrate` creates on
/// PostgreSQL whatever `USE_TZ` says (with `USE_TZ = False` Django sets the connection's
/// time zone to `TIME_ZONE` and PostgreSQL turns its naive local times into instants), so
/// the store reads and writes instants and `USE_TZ` makes no difference to it. A
/// `timestamp without time zone` column (a table made by other means) holds naive local
/// times: the store accepts it only when `USE_TZ = False` is configured
/// ([`DjangoPostgresBuilder::with_django_time`]), and then reads and writes it in `TIME_ZONE`
/// as Django would; otherwise connecting fails with an error naming the setting.
///
/// Connections come from a `deadpool-postgres` pool ([`POOL_SIZE`](super::POOL_SIZE) connections), each
/// statement prepared once per connection. Cleanup batches lock their rows with
/// `FOR UPDATE SKIP LOCKED`, so several cleaners share the work. Clones share the pool.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_sql::django::{DjangoPostgresStore, Secrets};
///
/// let secrets = Secrets::new("django-insecure-...");
/// let store = DjangoPostgresStore::builder("postgres://app@db/app", &secrets)
///     .with_schema("tenant_a")
///     .connect()
///     .await?;
/// assert_eq!(store.table(), r#""tenant_a"."django_session""#);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DjangoPostgresStore {
    db: Arc<Django>,
    codec: Codec,
}

struct Django {
    db: Db,
    /// The table as statements name it: `"t"` or `"s"."t"`.
    table: String,
    sql: Sql,
    /// Django's settings, as configured.
    time: DjangoTime,
    /// Whether `expire_date` is `timestamp without time zone` (naive local times in
    /// `time`'s zone) rather than `timestamp with time zone`.
    naive: bool,
}

/// Options for connecting a [`DjangoPostgresStore`]; from
/// [`DjangoPostgresStore::builder`]. The setters every store has are [`Builder`]'s.
pub type DjangoPostgresBuilder = Builder<DjangoPostgresStore>;

crate::builder::target!(DjangoPostgresStore: String, DjangoOptions, DEFAULT_TABLE, Create::Never);

impl fmt::Debug for DjangoPostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (url, table) = (self.db.db.url(), &self.db.table);
        crate::shared::debug_store(f, "DjangoPostgresStore", url, table, true)
    }
}

impl DjangoPostgresBuilder {
    /// Uses the table in `schema` (e.g. the schema Django's `search_path` option names)
    /// instead of the one the connection's `search_path` finds. The schema must exist.
    pub fn with_schema(mut self, schema: impl Into<String>) -> DjangoPostgresBuilder {
        self.options.scope = Some(schema.into());
        self
    }

    /// Connects and checks the table.
    ///
    /// An unreachable server is [`StoreErrorKind::Unavailable`] (connecting gives up after
    /// [`CONNECT_TIMEOUT`](super::CONNECT_TIMEOUT) or the URL's `connect_timeout`); a bad URL, a refused login, a
    /// missing schema or table (unless
    /// [`create_table_if_missing`](Self::create_table_if_missing)), or a table without
    /// Django's columns is [`StoreErrorKind::Config`].
    pub async fn connect(self) -> Result<DjangoPostgresStore, StoreError> {
        check_table_name(&self.table)?;
        let table = self.table.to_ascii_lowercase();
        let schema = match self.scope() {
            Some(s) => {
                check_name("schema", s, 63)?;
                Some(s.to_ascii_lowercase())
            }
            None => None,
        };
        let qualified = match &schema {
            Some(s) => format!(r#""{s}"."{table}""#),
            None => format!(r#""{table}""#),
        };
        let db = Db::new(&self.place)?;
        let url = db.url();
        let mut client = db.client().await?;
        if let Some(s) = &schema {
            let row = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                    &[s],
                )
                .await
                .map_err(|e| pg_error("schema check", e))?;
            let exists: bool = row.try_get(0).map_err(|e| pg_error("schema check", e))?;
            if !exists {
                return Err(StoreError::new(
                    StoreErrorKind::Config,
                    format!(
                        "schema {s} not found in {url}: create it (Django's `migrate` does not) and run Django's `manage.py migrate` with it on the search_path"
                    ),
                ));
            }
        }
        if !django_schema::table_exists(&client, &qualified).await? {
            if self.create != Create::IfMissing {
                return Err(shared::table_missing(&qualified, &format!(" in {url}")));
            }
            django_schema::create_table(&mut client, &qualified, &table).await?;
        }
        let sql = django_schema::sql(&qualified);
        let naive =
            django_schema::check_columns(&client, &sql, &qualified, url, &self.options.time)
                .await?;
        drop(client);
        Ok(DjangoPostgresStore {
            codec: Codec::new(&self.options.secrets, "postgres"),
            db: Arc::new(Django {
                db,
                sql,
                table: qualified,
                time: self.options.time,
                naive,
            }),
        })
    }
}

impl DjangoPostgresStore {
    /// Options for connecting to the database at `url`
    /// (`postgres://user[:password]@host[:port]/db`, or the `key=value` form), signing
    /// with `secrets` (Django's `SECRET_KEY` and `SECRET_KEY_FALLBACKS`).
    pub fn builder(url: &str, secrets: &Secrets) -> DjangoPostgresBuilder {
        Builder::new(url.to_owned(), DjangoOptions::new(secrets))
    }

    /// Connects to the database at `url`, whose `django_session` table (found through the
    /// `search_path`) Django's `migrate` created. See
    /// [`DjangoPostgresBuilder::connect`] for the errors.
    pub async fn connect(url: &str, secrets: &Secrets) -> Result<DjangoPostgresStore, StoreError> {
        DjangoPostgresStore::builder(url, secrets).connect().await
    }

    /// The database URL without its password.
    pub fn location(&self) -> &str {
        self.db.db.url()
    }

    /// Whether `expire_date` is `timestamp without time zone`, holding naive local times
    /// in [`django_time`](Self::django_time)'s zone.
    pub fn naive_expire_date(&self) -> bool {
        self.db.naive
    }

    /// `t` as a parameter compared with or written to `expire_date`.
    fn at(&self, t: OffsetDateTime) -> Box<dyn ToSql + Sync + Send> {
        if self.db.naive {
            Box::new(self.db.time.to_column(t))
        } else {
            Box::new(ts(t))
        }
    }

    /// The `expire_date` in column `i` of `row` as an instant.
    fn expiry(
        &self,
        row: &tokio_postgres::Row,
        i: usize,
    ) -> Result<Option<OffsetDateTime>, tokio_postgres::Error> {
        if self.db.naive {
            Ok(row
                .try_get::<_, Option<PrimitiveDateTime>>(i)?
                .map(|t| self.db.time.from_column(t)))
        } else {
            row.try_get(i)
        }
    }
}

/// A scanned row (key, data, expiry), or `None` (logged) when it cannot be read.
fn read_row(store: &DjangoPostgresStore, r: &tokio_postgres::Row) -> Option<Row> {
    let read = || -> Result<Row, tokio_postgres::Error> {
        Ok(Row {
            key: r.try_get(0)?,
            data: r.try_get(1)?,
            expires_at: store.expiry(r, 2)?,
        })
    };
    match read() {
        Ok(row) => Some(row),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Django session row in PostgreSQL; skipped");
            None
        }
    }
}

impl SessionStore for DjangoPostgresStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let row = self
            .db
            .db
            .query_opt("load", &self.db.sql.load, &[&key.as_str(), &*self.at(now)])
            .await?;
        let Some(row) = row else {
            return Ok(Lookup::Missing);
        };
        let read = || -> Result<(String, Option<OffsetDateTime>), tokio_postgres::Error> {
            Ok((row.try_get(0)?, self.expiry(&row, 1)?))
        };
        match read() {
            Ok((data, expires_at)) => Ok(self.codec.lookup(key, data, expires_at)),
            Err(e) => {
                tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable Django session row in PostgreSQL; treating as no session");
                Ok(Lookup::Missing)
            }
        }
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let data = self.codec.encode(&record.data, now);
        let row = self
            .db
            .db
            .query_opt(
                "create",
                &self.db.sql.create,
                &[
                    &key.as_str(),
                    &data,
                    &*self.at(record.expires_at),
                    &*self.at(now),
                ],
            )
            .await?;
        Ok(match row {
            Some(_) => CreateOutcome::Created(shared::token(data)),
            None => CreateOutcome::Collision,
        })
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        // A token this layout never issued is no stored text (NULL matches nothing); the
        // statement still tells Conflict from Missing.
        let old = shared::token_text(token);
        let data = self.codec.encode(&record.data, now);
        let row = self
            .db
            .db
            .query_opt(
                "save",
                &self.db.sql.save,
                &[
                    &key.as_str(),
                    &data,
                    &*self.at(record.expires_at),
                    &old,
                    &*self.at(now),
                ],
            )
            .await?;
        let Some(row) = row else {
            return Ok(SaveOutcome::Missing);
        };
        let read = || -> Result<(bool, bool), tokio_postgres::Error> {
            Ok((row.try_get(0)?, row.try_get(1)?))
        };
        let (saved, live) = read().map_err(|e| pg_error("save", e))?;
        Ok(save_outcome(saved.then(|| shared::token(data)), live))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.db.db.delete(&self.db.sql.delete, key).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // `expire_date` only: the data, and so the token, stay as they are.
        let (expires_at, now) = (self.at(expires_at), self.at(now));
        let sql = &self.db.sql.touch;
        let moved = self.db.db.touch(sql, key, &*expires_at, &*now).await?;
        Ok(moved)
    }

    /// Deletes in batches of [`CLEAR_BATCH`](crate::CLEAR_BATCH) rows, each its own statement, and reports
    /// the running total after each batch that removed something (just `0` when nothing
    /// had expired).
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let now = self.at(now);
        self.db
            .db
            .clear_expired(&self.db.sql.clear, &*now, progress)
            .await
    }

    fn describe(&self) -> String {
        let custom = self.db.table != format!(r#""{DEFAULT_TABLE}""#);
        shared::describe(
            self.db.db.url(),
            custom.then_some(self.db.table.as_str()),
            &self.db.time,
        )
    }

    sessionkit_core::offers!(listing, user_index);
}

shared::django_store_common!(DjangoPostgresStore, "postgres");

impl Scan for DjangoPostgresStore {
    async fn page(&self, p: Page<'_>) -> Result<Vec<Row>, StoreError> {
        let (after, limit) = (p.after, p.limit_i64());
        let rows = match p.live_at {
            Some(now) => {
                self.db
                    .db
                    .query(
                        "scan",
                        &self.db.sql.page_live,
                        &[&after, &*self.at(now), &limit],
                    )
                    .await?
            }
            None => {
                self.db
                    .db
                    .query("scan", &self.db.sql.page_all, &[&after, &limit])
                    .await?
            }
        };
        Ok(rows.iter().filter_map(|r| read_row(self, r)).collect())
    }

    async fn row(&self, key: &str) -> Result<Option<Row>, StoreError> {
        let row = self
            .db
            .db
            .query_opt("scan", &self.db.sql.row, &[&key])
            .await?;
        Ok(row.as_ref().and_then(|r| read_row(self, r)))
    }

    async fn delete_if(&self, key: &str, data: &str) -> Result<bool, StoreError> {
        let n = self
            .db
            .db
            .execute("revoke_user", &self.db.sql.delete_if, &[&key, &data])
            .await?;
        Ok(n > 0)
    }
}
