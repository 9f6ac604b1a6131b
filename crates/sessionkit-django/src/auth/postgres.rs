//! [`PostgresUserLoader`]: users from PostgreSQL (Django's `postgresql` backend).

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use time::OffsetDateTime;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

use super::table::{Dialect, UserTable};
use super::user::{LoaderError, LoaderFuture, User, UserLoader};

/// Django's users in PostgreSQL, over a `deadpool-postgres` pool (the application's, or
/// one made by [`connect`](PostgresUserLoader::connect)).
#[derive(Clone)]
pub struct PostgresUserLoader {
    pool: Pool,
    table: UserTable,
    by_id: String,
    by_username: String,
    last_login: Option<String>,
}

impl std::fmt::Debug for PostgresUserLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresUserLoader")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl PostgresUserLoader {
    /// A loader over an existing pool.
    pub fn new(pool: Pool, table: UserTable) -> PostgresUserLoader {
        PostgresUserLoader {
            pool,
            by_id: table.select_by_id(Dialect::Postgres),
            by_username: table.select_by_username(Dialect::Postgres),
            last_login: table.update_last_login(Dialect::Postgres),
            table,
        }
    }

    /// A loader over a new pool (at most 4 connections, no TLS) for a
    /// `postgres://user@host:port/db` URL. Connects lazily: a wrong URL shows at the
    /// first request, as a 503.
    pub fn connect(url: &str, table: UserTable) -> Result<PostgresUserLoader, LoaderError> {
        let cfg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| LoaderError::new(format!("invalid PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(4)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .build()
            .map_err(LoaderError::new)?;
        Ok(PostgresUserLoader::new(pool, table))
    }

    async fn one(
        &self,
        sql: &str,
        param: &(dyn ToSql + Sync),
    ) -> Result<Option<User>, LoaderError> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|e| LoaderError::new(format!("PostgreSQL: {e}")))?;
        let stmt = client
            .prepare_cached(sql)
            .await
            .map_err(|e| LoaderError::new(format!("PostgreSQL: {e}")))?;
        let row = client
            .query_opt(&stmt, &[param])
            .await
            .map_err(|e| LoaderError::new(format!("PostgreSQL: {e}")))?;
        row.map(|row| {
            Ok(User {
                id: row.try_get(0).map_err(LoaderError::new)?,
                username: row.try_get(1).map_err(LoaderError::new)?,
                password: row.try_get(2).map_err(LoaderError::new)?,
                is_active: row.try_get(3).map_err(LoaderError::new)?,
            })
        })
        .transpose()
    }
}

impl UserLoader for PostgresUserLoader {
    fn by_id<'a>(&'a self, id: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(async move {
            if self.table.integer_ids() {
                let Ok(n) = id.parse::<i64>() else {
                    tracing::warn!("session user id is not an integer; treated as no user");
                    return Ok(None);
                };
                self.one(&self.by_id, &n).await
            } else {
                self.one(&self.by_id, &id).await
            }
        })
    }

    fn by_username<'a>(&'a self, username: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(async move { self.one(&self.by_username, &username).await })
    }

    fn update_last_login<'a>(&'a self, id: &'a str, at: OffsetDateTime) -> LoaderFuture<'a, bool> {
        Box::pin(async move {
            let Some(sql) = &self.last_login else {
                return Ok(false);
            };
            let client = self
                .pool
                .get()
                .await
                .map_err(|e| LoaderError::new(format!("PostgreSQL: {e}")))?;
            let n = match id.parse::<i64>() {
                Ok(n) if self.table.integer_ids() => client.execute(sql.as_str(), &[&at, &n]).await,
                _ => client.execute(sql.as_str(), &[&at, &id]).await,
            }
            .map_err(|e| LoaderError::new(format!("PostgreSQL: {e}")))?;
            Ok(n > 0)
        })
    }
}
