//! [`MySqlUserLoader`]: users from MySQL / MariaDB (Django's `mysql` backend).

use mysql_async::prelude::Queryable;
use mysql_async::{Pool, Row, Value};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::table::{Dialect, UserTable};
use super::user::{LoaderError, LoaderFuture, User, UserLoader};

/// Django's users in MySQL or MariaDB, over a `mysql_async` pool (the application's, or
/// one made by [`connect`](MySqlUserLoader::connect)). `last_login` is written as
/// Django's `mysql` backend writes an aware datetime with `USE_TZ = True` (naive UTC).
#[derive(Clone)]
pub struct MySqlUserLoader {
    pool: Pool,
    table: UserTable,
    by_id: String,
    by_username: String,
    last_login: Option<String>,
}

impl std::fmt::Debug for MySqlUserLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlUserLoader")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

fn db_error(e: impl std::fmt::Display) -> LoaderError {
    LoaderError::new(format!("MySQL: {e}"))
}

impl MySqlUserLoader {
    /// A loader over an existing pool.
    pub fn new(pool: Pool, table: UserTable) -> MySqlUserLoader {
        MySqlUserLoader {
            pool,
            by_id: table.select_by_id(Dialect::MySql),
            by_username: table.select_by_username(Dialect::MySql),
            last_login: table.update_last_login(Dialect::MySql),
            table,
        }
    }

    /// A loader over a new pool for a `mysql://user@host:port/db` URL (connects lazily).
    pub fn connect(url: &str, table: UserTable) -> Result<MySqlUserLoader, LoaderError> {
        let opts = mysql_async::Opts::from_url(url)
            .map_err(|e| LoaderError::new(format!("invalid MySQL URL: {e}")))?;
        Ok(MySqlUserLoader::new(Pool::new(opts), table))
    }

    async fn one(&self, sql: &str, param: Value) -> Result<Option<User>, LoaderError> {
        let mut conn = self.pool.get_conn().await.map_err(db_error)?;
        let row: Option<Row> = conn.exec_first(sql, vec![param]).await.map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (id, username, password, active): (String, String, String, i64) =
            mysql_async::from_row_opt(row).map_err(db_error)?;
        Ok(Some(User {
            id,
            username,
            password,
            is_active: active != 0,
        }))
    }

    fn id_value(&self, id: &str) -> Option<Value> {
        if self.table.integer_ids() {
            id.parse::<i64>().ok().map(Value::Int)
        } else {
            Some(Value::from(id))
        }
    }
}

impl UserLoader for MySqlUserLoader {
    fn by_id<'a>(&'a self, id: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(async move {
            let Some(param) = self.id_value(id) else {
                tracing::warn!("session user id is not an integer; treated as no user");
                return Ok(None);
            };
            self.one(&self.by_id, param).await
        })
    }

    fn by_username<'a>(&'a self, username: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(async move { self.one(&self.by_username, Value::from(username)).await })
    }

    fn update_last_login<'a>(&'a self, id: &'a str, at: OffsetDateTime) -> LoaderFuture<'a, bool> {
        Box::pin(async move {
            let Some(sql) = &self.last_login else {
                return Ok(false);
            };
            let Some(id) = self.id_value(id) else {
                return Ok(false);
            };
            let at = at.to_offset(UtcOffset::UTC);
            let at = PrimitiveDateTime::new(at.date(), at.time());
            let mut conn = self.pool.get_conn().await.map_err(db_error)?;
            conn.exec_drop(sql.as_str(), vec![Value::from(at), id])
                .await
                .map_err(db_error)?;
            Ok(conn.affected_rows() > 0)
        })
    }
}
