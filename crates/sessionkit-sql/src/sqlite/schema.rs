//! The native SQLite layout, spelled out in one place.
//!
//! ```sql
//! CREATE TABLE sessionkit_schema (
//!     tbl     TEXT PRIMARY KEY,    -- the session table this row describes
//!     version INTEGER NOT NULL     -- its layout version (2)
//! );
//! CREATE TABLE sessionkit_session (
//!     session_key TEXT PRIMARY KEY,
//!     data        TEXT NOT NULL,     -- the session dictionary as JSON
//!     version     INTEGER NOT NULL,  -- compare-and-set token
//!     expires_at  INTEGER NOT NULL,  -- Unix microseconds
//!     created_at  INTEGER NOT NULL,
//!     last_seen   INTEGER NOT NULL,
//!     user_id     TEXT,              -- Django's _auth_user_id, for the per-user index
//!     retired     INTEGER NOT NULL DEFAULT 0, -- 1: a rotation marker, no data
//!     client_ip   TEXT,              -- device metadata (version 2): the client's IP,
//!     user_agent  TEXT,              -- its user agent
//!     device      TEXT               -- and the device label ("Firefox on Linux")
//! ) WITHOUT ROWID;
//! CREATE INDEX sessionkit_session_expires_at ON sessionkit_session (expires_at);
//! CREATE INDEX sessionkit_session_user_id ON sessionkit_session (user_id) WHERE user_id IS NOT NULL;
//! ```
//!
//! Version 1 had no device-metadata columns; `migrate` (run when a store is opened to
//! create what is missing, as `sessionkit serve` does) upgrades a version 1 table in
//! place, in one transaction, keeping its rows:
//!
//! ```sql
//! ALTER TABLE sessionkit_session ADD COLUMN client_ip TEXT;
//! ALTER TABLE sessionkit_session ADD COLUMN user_agent TEXT;
//! ALTER TABLE sessionkit_session ADD COLUMN device TEXT;
//! UPDATE sessionkit_schema SET version = 2 WHERE tbl = 'sessionkit_session' AND version = 1;
//! ```

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use sessionkit_core::{StoreError, StoreErrorKind};

use super::sql_error;
use crate::shared::{CLIENT_COLUMNS_VERSION, NativeSql, check_layout_version, table_not_found};

/// How long a connection waits for another process's lock.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The writer's page cache, in KiB (at most this much memory).
const WRITER_CACHE_KIB: u32 = 16 * 1024;
/// Each reader connection's page cache, in KiB.
const READER_CACHE_KIB: u32 = 4 * 1024;

/// The default session table.
pub const DEFAULT_TABLE: &str = "sessionkit_session";

/// The layout version this build writes and reads.
pub const SCHEMA_VERSION: i64 = crate::shared::NATIVE_SCHEMA_VERSION;

pub(crate) use crate::shared::check_table_name;

/// Connection settings: WAL and NORMAL sync for the writer (which owns the file's mode),
/// a busy timeout for everyone.
pub(crate) fn configure(conn: &Connection, path: &Path, writer: bool) -> Result<(), StoreError> {
    let e = |e| sql_error(path, "configure", e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
    // Page cache (SQLite's default is 2 MiB per connection): with a million sessions the
    // table and its indexes are a few hundred MiB, and every visit walks two B-trees from
    // the root. A larger cache keeps their upper levels in memory for the writer, which
    // touches the most pages (row, expiry index), and a little more for the readers. (Its
    // effect on the 1,000 vs 1,000,000 benchmark was within the noise: docs/BENCHMARKS.md.)
    let cache_kib = if writer {
        WRITER_CACHE_KIB
    } else {
        READER_CACHE_KIB
    };
    conn.execute_batch(&format!("PRAGMA cache_size=-{cache_kib}"))
        .map_err(e)?;
    if writer {
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(e)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(mode, "SQLite did not switch to WAL mode");
        }
        conn.execute_batch("PRAGMA synchronous=NORMAL").map_err(e)?;
    }
    Ok(())
}

/// Creates the tables if missing, upgrades a version 1 table to version 2 and checks the
/// layout version.
pub(crate) fn migrate(conn: &Connection, path: &Path, table: &str) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         CREATE TABLE IF NOT EXISTS sessionkit_schema (tbl TEXT PRIMARY KEY, version INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS {table} (
             session_key TEXT PRIMARY KEY,
             data TEXT NOT NULL,
             version INTEGER NOT NULL,
             expires_at INTEGER NOT NULL,
             created_at INTEGER NOT NULL,
             last_seen INTEGER NOT NULL,
             user_id TEXT,
             retired INTEGER NOT NULL DEFAULT 0,
             client_ip TEXT,
             user_agent TEXT,
             device TEXT
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS {table}_expires_at ON {table} (expires_at);
         CREATE INDEX IF NOT EXISTS {table}_user_id ON {table} (user_id) WHERE user_id IS NOT NULL;
         INSERT OR IGNORE INTO sessionkit_schema (tbl, version) VALUES ('{table}', {SCHEMA_VERSION});"
    ))
    .and_then(|()| upgrade(conn, table))
    .and_then(|()| conn.execute_batch("COMMIT"))
    .map_err(|e| {
        let _ = conn.execute_batch("ROLLBACK");
        sql_error(path, "schema setup", e)
    })?;
    let version: i64 = conn
        .query_row(
            "SELECT version FROM sessionkit_schema WHERE tbl = ?1",
            [table],
            |r| r.get(0),
        )
        .map_err(|e| sql_error(path, "schema check", e))?;
    check_layout_version(table, version, SCHEMA_VERSION)
}

/// Within `migrate`'s transaction: adds the device-metadata columns to a version 1 table
/// and records version 2. Nothing happens at any other version, so running it again (or
/// in a second process after the first committed) changes nothing.
fn upgrade(conn: &Connection, table: &str) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row(
        "SELECT version FROM sessionkit_schema WHERE tbl = ?1",
        [table],
        |r| r.get(0),
    )?;
    if version != 1 {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "ALTER TABLE {table} ADD COLUMN client_ip TEXT;
         ALTER TABLE {table} ADD COLUMN user_agent TEXT;
         ALTER TABLE {table} ADD COLUMN device TEXT;
         UPDATE sessionkit_schema SET version = {CLIENT_COLUMNS_VERSION} WHERE tbl = '{table}' AND version = 1;"
    ))
}

/// Checks, writing nothing, that `table` exists with the layout version this build reads
/// (opening with [`Create::Never`](sessionkit_core::store::Create::Never)).
pub(crate) fn check(conn: &Connection, path: &Path, table: &str) -> Result<(), StoreError> {
    let e = |e| sql_error(path, "schema check", e);
    let exists = |name: &str| -> Result<bool, StoreError> {
        conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE)",
            [name],
            |r| r.get(0),
        )
        .map_err(e)
    };
    if !exists(table)? {
        return Err(table_not_found(
            table,
            &format!("SQLite database {}", path.display()),
        ));
    }
    let version: Option<i64> = if exists("sessionkit_schema")? {
        conn.query_row(
            "SELECT version FROM sessionkit_schema WHERE tbl = ?1",
            [table],
            |r| r.get(0),
        )
        .optional()
        .map_err(e)?
    } else {
        None
    };
    let Some(version) = version else {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "table {table} in SQLite database {} has no recorded sessionkit layout version: it was not made by sessionkit; check the table name",
                path.display()
            ),
        ));
    };
    check_layout_version(table, version, SCHEMA_VERSION)
}

crate::shared::driver_sql! {
    state,
}

impl Sql {
    pub(crate) fn new(t: &str) -> Sql {
        Sql {
            native: NativeSql {
                load: format!(
                    "SELECT data, version, expires_at, created_at, last_seen, user_id, retired,
                         client_ip, user_agent, device
                     FROM {t} WHERE session_key = ?1 AND expires_at > ?2"
                ),
                // Insert if absent; an expired row does not own its key.
                create: format!(
                    "INSERT INTO {t} (session_key, data, version, expires_at, created_at, last_seen, user_id, retired,
                                     client_ip, user_agent, device)
                     VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, 0, ?8, ?9, ?10)
                     ON CONFLICT (session_key) DO UPDATE SET
                         data = excluded.data, version = {t}.version + 1, expires_at = excluded.expires_at,
                         created_at = excluded.created_at, last_seen = excluded.last_seen,
                         user_id = excluded.user_id, retired = 0, client_ip = excluded.client_ip,
                         user_agent = excluded.user_agent, device = excluded.device
                     WHERE {t}.expires_at <= ?7
                     RETURNING version"
                ),
                // Compare-and-set; never inserts.
                save: format!(
                    "UPDATE {t} SET data = ?2, version = version + 1, expires_at = ?3, last_seen = ?4, user_id = ?5,
                         client_ip = ?8, user_agent = ?9, device = ?10
                     WHERE session_key = ?1 AND version = ?6 AND retired = 0 AND expires_at > ?7
                     RETURNING version"
                ),
                delete: format!("DELETE FROM {t} WHERE session_key = ?1"),
                touch: format!(
                    "UPDATE {t} SET expires_at = ?2, last_seen = ?3
                     WHERE session_key = ?1 AND retired = 0 AND expires_at > ?3"
                ),
                retire: format!(
                    "INSERT INTO {t} (session_key, data, version, expires_at, created_at, last_seen, user_id, retired)
                     VALUES (?1, '', 1, ?2, 0, 0, NULL, 1)
                     ON CONFLICT (session_key) DO UPDATE SET
                         data = '', version = {t}.version + 1, expires_at = excluded.expires_at,
                         user_id = NULL, retired = 1, client_ip = NULL, user_agent = NULL, device = NULL"
                ),
                clear: format!(
                    "DELETE FROM {t} WHERE session_key IN
                     (SELECT session_key FROM {t} WHERE expires_at <= ?1 LIMIT ?2)"
                ),
                list: format!(
                    "SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM {t}
                     WHERE retired = 0 AND expires_at > ?1 AND session_key > ?2
                     ORDER BY session_key LIMIT ?3"
                ),
                list_all: format!(
                    "SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM {t}
                     WHERE retired = 0 AND expires_at > ?1
                     ORDER BY session_key LIMIT ?2"
                ),
                of_user: format!(
                    "SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM {t}
                     WHERE user_id = ?1 AND retired = 0 AND expires_at > ?2
                     ORDER BY session_key"
                ),
                revoke: format!(
                    "DELETE FROM {t} WHERE user_id = ?1 AND session_key <> ?2"
                ),

            },
            state: format!(
                "SELECT 1 FROM {t} WHERE session_key = ?1 AND retired = 0 AND expires_at > ?2"
            ),
        }
    }
}
