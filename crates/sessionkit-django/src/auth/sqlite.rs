//! [`SqliteUserLoader`]: users from a SQLite database (Django's `sqlite3` backend).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::table::{Dialect, UserTable};
use super::user::{LoaderError, LoaderFuture, User, UserLoader};

/// Django's users in a SQLite file: one connection, used from the blocking pool, waiting
/// up to 5 s for a lock Django holds. `last_login` is written as Django's `sqlite3`
/// backend writes an aware datetime with `USE_TZ = True` (UTC, `YYYY-MM-DD HH:MM:SS.ffffff`).
#[derive(Debug, Clone)]
pub struct SqliteUserLoader {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    conn: Mutex<Connection>,
    table: UserTable,
    by_id: String,
    by_username: String,
    last_login: Option<String>,
}

impl SqliteUserLoader {
    /// Opens the database file at `path` (it must exist: Django's migrations made it).
    pub fn open(path: impl AsRef<Path>, table: UserTable) -> Result<SqliteUserLoader, LoaderError> {
        let conn = Connection::open_with_flags(
            path.as_ref(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| LoaderError::new(format!("cannot open {}: {e}", path.as_ref().display())))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(LoaderError::new)?;
        Ok(SqliteUserLoader {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                by_id: table.select_by_id(Dialect::Sqlite),
                by_username: table.select_by_username(Dialect::Sqlite),
                last_login: table.update_last_login(Dialect::Sqlite),
                table,
            }),
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Inner, &Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, LoaderError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let conn = inner
                .conn
                .lock()
                .map_err(|_| LoaderError::new("the SQLite connection is poisoned"))?;
            f(&inner, &conn).map_err(|e| LoaderError::new(format!("SQLite: {e}")))
        })
        .await
        .map_err(|e| LoaderError::new(format!("SQLite task failed: {e}")))?
    }

    async fn one(&self, by_id: bool, key: String) -> Result<Option<User>, LoaderError> {
        if by_id && self.inner.table.integer_ids() {
            let Ok(id) = key.parse::<i64>() else {
                tracing::warn!("session user id is not an integer; treated as no user");
                return Ok(None);
            };
            return self
                .run(move |inner, conn| {
                    conn.prepare_cached(&inner.by_id)?
                        .query_row(params![id], row_user)
                        .optional()
                })
                .await;
        }
        self.run(move |inner, conn| {
            let sql = if by_id {
                &inner.by_id
            } else {
                &inner.by_username
            };
            conn.prepare_cached(sql)?
                .query_row(params![key], row_user)
                .optional()
        })
        .await
    }
}

fn row_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        password: row.get(2)?,
        is_active: row.get::<_, i64>(3)? != 0,
    })
}

/// Django's `sqlite3` text form of a UTC datetime.
fn sqlite_datetime(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

impl UserLoader for SqliteUserLoader {
    fn by_id<'a>(&'a self, id: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(self.one(true, id.to_owned()))
    }

    fn by_username<'a>(&'a self, username: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(self.one(false, username.to_owned()))
    }

    fn update_last_login<'a>(&'a self, id: &'a str, at: OffsetDateTime) -> LoaderFuture<'a, bool> {
        let id = id.to_owned();
        Box::pin(async move {
            if !self.inner.table.has_last_login() {
                return Ok(false);
            }
            let integer = self.inner.table.integer_ids();
            self.run(move |inner, conn| {
                let Some(sql) = &inner.last_login else {
                    return Ok(false);
                };
                let at = sqlite_datetime(at);
                let mut stmt = conn.prepare_cached(sql)?;
                let n = match id.parse::<i64>() {
                    Ok(n) if integer => stmt.execute(params![at, n])?,
                    _ => stmt.execute(params![at, id])?,
                };
                Ok(n > 0)
            })
            .await
        })
    }
}
