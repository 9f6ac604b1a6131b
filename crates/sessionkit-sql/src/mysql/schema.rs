//! The native MySQL / MariaDB layout, spelled out in one place.
//!
//! ```sql
//! CREATE TABLE sessionkit_schema (
//!     tbl     varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
//!     version int NOT NULL                 -- the layout version of table `tbl` (2)
//! ) ENGINE=InnoDB;
//! CREATE TABLE `sessionkit_session` (
//!     session_key varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
//!     data        longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,  -- JSON
//!     version     bigint NOT NULL,         -- compare-and-set token
//!     expires_at  datetime(6) NOT NULL,    -- UTC
//!     created_at  datetime(6) NOT NULL,    -- UTC
//!     last_seen   datetime(6) NOT NULL,    -- UTC
//!     user_id     varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
//!     retired     tinyint(1) NOT NULL DEFAULT 0,  -- 1: a rotation marker, no data
//!     client_ip   varchar(45) CHARACTER SET ascii COLLATE ascii_bin NULL,  -- version 2:
//!     user_agent  varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL, -- device
//!     device      varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,  -- metadata
//!     KEY `sessionkit_session_expires_at` (expires_at),
//!     KEY `sessionkit_session_user_id` (user_id)
//! ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
//! CREATE TABLE `sessionkit_session_lease` (
//!     session_key varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
//!     owner       varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
//!     expires_at  datetime(6) NOT NULL     -- UTC, from the application's clock
//! ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
//! ```
//!
//! Version 1 had no device-metadata columns; `migrate` (run when a store connects to
//! create what is missing, as `sessionkit serve` does) upgrades a version 1 table in
//! place, under the schema lock, keeping its rows. MySQL's DDL is not transactional, so
//! the columns are added only when `information_schema` does not list them yet, in one
//! statement, before the version is recorded (an interrupted upgrade is finished by the
//! next one):
//!
//! ```sql
//! ALTER TABLE `sessionkit_session`
//!     ADD COLUMN client_ip varchar(45) CHARACTER SET ascii COLLATE ascii_bin NULL,
//!     ADD COLUMN user_agent varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
//!     ADD COLUMN device varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
//! UPDATE sessionkit_schema SET version = 2 WHERE tbl = 'sessionkit_session' AND version = 1;
//! ```
//!
//! Keys compare byte for byte (`ascii_bin`): `abc` and `ABC` are two keys, and listing
//! pages go in byte order. Times are naive UTC written by the store itself, never the
//! server's `NOW()` or its time zone. User ids are limited to 255 characters.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, Value};
use sessionkit_core::{StoreError, StoreErrorKind};

use super::my_error;
use crate::shared::{
    CLIENT_COLUMNS_VERSION, NativeSql, UPGRADE_LOCK_WAIT_SECS, check_layout_version,
    table_not_found,
};

/// The default session table.
pub const DEFAULT_TABLE: &str = "sessionkit_session";

/// The layout version this build writes and reads.
pub const SCHEMA_VERSION: i64 = crate::shared::NATIVE_SCHEMA_VERSION;

pub use crate::shared::CLEAR_BATCH;

/// The lease table of a session table.
pub(crate) fn lease_table(table: &str) -> String {
    format!("{table}_lease")
}

/// Creates the tables if missing, upgrades a version 1 table to version 2 and checks the
/// layout version. DDL is not transactional
/// in MySQL, so setup runs under a named lock (`GET_LOCK`) per database: two processes
/// starting at once take turns.
pub(crate) async fn migrate(conn: &mut Conn, table: &str) -> Result<(), StoreError> {
    let got: Option<Row> = conn
        .query_first("SELECT GET_LOCK(CONCAT('sessionkit_schema.', DATABASE()), 10)")
        .await
        .map_err(|e| my_error("schema lock", e))?;
    let got = got
        .and_then(|mut r| r.take::<Value, _>(0))
        .and_then(|v| mysql_async::from_value_opt::<i64>(v).ok());
    if got != Some(1) {
        return Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "timed out waiting for the sessionkit schema lock",
        ));
    }
    let result = migrate_locked(conn, table).await;
    // A failed release leaves the lock to the connection's reset (see the caller).
    let _ = conn
        .query_drop("SELECT RELEASE_LOCK(CONCAT('sessionkit_schema.', DATABASE()))")
        .await;
    result
}

async fn migrate_locked(conn: &mut Conn, table: &str) -> Result<(), StoreError> {
    let lease = lease_table(table);
    let mut version = schema_version(conn, table).await?;
    if version.is_none() {
        let client_columns = CLIENT_COLUMNS.join(",\n                    ");
        let ddl = [
            "CREATE TABLE IF NOT EXISTS sessionkit_schema (
                tbl varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
                version int NOT NULL
            ) ENGINE=InnoDB"
                .to_owned(),
            format!(
                "CREATE TABLE IF NOT EXISTS `{table}` (
                    session_key varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
                    data longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                    version bigint NOT NULL,
                    expires_at datetime(6) NOT NULL,
                    created_at datetime(6) NOT NULL,
                    last_seen datetime(6) NOT NULL,
                    user_id varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
                    retired tinyint(1) NOT NULL DEFAULT 0,
                    {client_columns},
                    KEY `{table}_expires_at` (expires_at),
                    KEY `{table}_user_id` (user_id)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS `{lease}` (
                    session_key varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
                    owner varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                    expires_at datetime(6) NOT NULL
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
            ),
        ];
        for stmt in ddl {
            conn.query_drop(stmt)
                .await
                .map_err(|e| my_error("schema setup", e))?;
        }
        conn.exec_drop(
            "INSERT IGNORE INTO sessionkit_schema (tbl, version) VALUES (?, ?)",
            (table, SCHEMA_VERSION),
        )
        .await
        .map_err(|e| my_error("schema setup", e))?;
        version = schema_version(conn, table).await?;
    }
    if version == Some(1) {
        upgrade(conn, table).await?;
        version = schema_version(conn, table).await?;
    }
    match version {
        Some(v) => check_layout_version(table, v, SCHEMA_VERSION),
        None => Err(StoreError::new(
            StoreErrorKind::Config,
            format!("no layout version recorded for table {table} after creating it"),
        )),
    }
}

/// The device-metadata columns of layout version 2, one definition each: `CREATE TABLE`
/// lists them, the upgrade adds each (kept apart rather than split out of one text, so
/// neither depends on how the source's lines end).
const CLIENT_COLUMNS: [&str; 3] = [
    "client_ip varchar(45) CHARACTER SET ascii COLLATE ascii_bin NULL",
    "user_agent varchar(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL",
    "device varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL",
];

/// Under the schema lock: adds the device-metadata columns to a version 1 table (unless an
/// interrupted upgrade already did) and records version 2.
async fn upgrade(conn: &mut Conn, table: &str) -> Result<(), StoreError> {
    let has: Option<Row> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'client_ip'",
            (table,),
        )
        .await
        .map_err(|e| my_error("schema upgrade", e))?;
    if has.is_none() {
        let add = CLIENT_COLUMNS.map(|c| format!("ADD COLUMN {c}")).join(", ");
        // The ALTER waits for the table's metadata lock at most UPGRADE_LOCK_WAIT_SECS
        // (MySQL's default is a year); the session setting is put back on the pooled
        // connection whatever the ALTER did.
        conn.query_drop(format!(
            "SET SESSION lock_wait_timeout = {UPGRADE_LOCK_WAIT_SECS}"
        ))
        .await
        .map_err(|e| my_error("schema upgrade", e))?;
        let altered = conn
            .query_drop(format!("ALTER TABLE `{table}` {add}"))
            .await
            .map_err(|e| my_error("schema upgrade", e));
        conn.query_drop("SET SESSION lock_wait_timeout = DEFAULT")
            .await
            .map_err(|e| my_error("schema upgrade", e))?;
        altered?;
    }
    conn.exec_drop(
        "UPDATE sessionkit_schema SET version = ? WHERE tbl = ? AND version = 1",
        (CLIENT_COLUMNS_VERSION, table),
    )
    .await
    .map_err(|e| my_error("schema upgrade", e))
}

/// Checks, creating and writing nothing, that `table` exists in the connection's database
/// (`url`, for messages) with the layout version this build reads (opening with
/// [`Create::Never`](sessionkit_core::store::Create::Never)).
pub(crate) async fn check(conn: &mut Conn, url: &str, table: &str) -> Result<(), StoreError> {
    let exists: Option<Row> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            (table,),
        )
        .await
        .map_err(|e| my_error("schema check", e))?;
    let version = match exists {
        Some(_) => schema_version(conn, table).await?,
        None => return Err(table_not_found(table, url)),
    };
    match version {
        Some(v) => check_layout_version(table, v, SCHEMA_VERSION),
        None => Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "table {table} in {url} has no recorded sessionkit layout version: it was not made by sessionkit; check the table name"
            ),
        )),
    }
}

/// The recorded layout version of `table`, if any.
async fn schema_version(conn: &mut Conn, table: &str) -> Result<Option<i64>, StoreError> {
    let exists: Option<Row> = conn
        .query_first(
            "SELECT 1 FROM information_schema.tables
             WHERE table_schema = DATABASE() AND table_name = 'sessionkit_schema'",
        )
        .await
        .map_err(|e| my_error("schema check", e))?;
    if exists.is_none() {
        return Ok(None);
    }
    let row: Option<Row> = conn
        .exec_first(
            "SELECT version FROM sessionkit_schema WHERE tbl = ?",
            (table,),
        )
        .await
        .map_err(|e| my_error("schema check", e))?;
    Ok(row
        .and_then(|mut r| r.take::<Value, _>(0))
        .and_then(|v| mysql_async::from_value_opt::<i64>(v).ok()))
}

crate::shared::driver_sql! {
    version,
    state,
    acquire,
    release,
}

impl Sql {
    pub(crate) fn new(t: &str) -> Sql {
        let l = lease_table(t);
        // "Is the existing row expired at `now`?" — each IF() of an ON DUPLICATE KEY
        // UPDATE sees the assignments made before it, so expires_at is assigned last.
        let expired = "expires_at <= ?";
        Sql {
            native: NativeSql {
                load: format!(
                    "SELECT data, version, expires_at, created_at, last_seen, user_id, retired,
                         client_ip, user_agent, device
                     FROM `{t}` WHERE session_key = ? AND expires_at > ?"
                ),
                // Insert if absent; an expired row does not own its key. Affected rows (the
                // store turns CLIENT_FOUND_ROWS off): 1 inserted, 2 took over an expired row
                // (its version goes on counting and is reported through LAST_INSERT_ID), 0 a
                // live row kept every value — a collision.
                create: format!(
                    "INSERT INTO `{t}` (session_key, data, version, expires_at, created_at, last_seen, user_id, retired,
                                       client_ip, user_agent, device)
                     VALUES (?, ?, 1, ?, ?, ?, ?, 0, ?, ?, ?)
                     ON DUPLICATE KEY UPDATE
                         data = IF({expired}, VALUES(data), data),
                         version = IF({expired}, LAST_INSERT_ID(version + 1), version),
                         created_at = IF({expired}, VALUES(created_at), created_at),
                         last_seen = IF({expired}, VALUES(last_seen), last_seen),
                         user_id = IF({expired}, VALUES(user_id), user_id),
                         retired = IF({expired}, 0, retired),
                         client_ip = IF({expired}, VALUES(client_ip), client_ip),
                         user_agent = IF({expired}, VALUES(user_agent), user_agent),
                         device = IF({expired}, VALUES(device), device),
                         expires_at = IF({expired}, VALUES(expires_at), expires_at)"
                ),
                // Compare-and-set; never inserts. The version always changes, so one
                // affected row means saved whatever CLIENT_FOUND_ROWS says.
                save: format!(
                    "UPDATE `{t}` SET data = ?, version = version + 1, expires_at = ?, last_seen = ?, user_id = ?,
                         client_ip = ?, user_agent = ?, device = ?
                     WHERE session_key = ? AND version = ? AND retired = 0 AND expires_at > ?"
                ),
                delete: format!("DELETE FROM `{t}` WHERE session_key = ?"),
                touch: format!(
                    "UPDATE `{t}` SET expires_at = ?, last_seen = ?
                     WHERE session_key = ? AND retired = 0 AND expires_at > ?"
                ),
                retire: format!(
                    "INSERT INTO `{t}` (session_key, data, version, expires_at, created_at, last_seen, user_id, retired)
                     VALUES (?, '', 1, ?, '1970-01-01 00:00:00', '1970-01-01 00:00:00', NULL, 1)
                     ON DUPLICATE KEY UPDATE
                         data = '', version = version + 1, user_id = NULL, retired = 1,
                         client_ip = NULL, user_agent = NULL, device = NULL,
                         expires_at = VALUES(expires_at)"
                ),
                clear: format!(
                    "DELETE FROM `{t}` WHERE expires_at <= ? ORDER BY expires_at LIMIT {CLEAR_BATCH}"
                ),
                list: format!(
                    "SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM `{t}`
                     WHERE retired = 0 AND expires_at > ? AND session_key > ?
                     ORDER BY session_key LIMIT ?"
                ),
                list_all: format!(
                    "SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM `{t}`
                     WHERE retired = 0 AND expires_at > ?
                     ORDER BY session_key LIMIT ?"
                ),
                of_user: format!(
                    "SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM `{t}`
                     WHERE user_id = ? AND retired = 0 AND expires_at > ?
                     ORDER BY session_key"
                ),
                revoke: format!("DELETE FROM `{t}` WHERE user_id = ? AND session_key <> ?"),
            },
            version: format!("SELECT version FROM `{t}` WHERE session_key = ?"),
            state: format!(
                "SELECT 1 FROM `{t}` WHERE session_key = ? AND retired = 0 AND expires_at > ?"
            ),
            // Take the lease if free or run out (owner first: it must see the old expiry).
            // Affected rows: 1 inserted, 2 taken over, 0 held by someone.
            acquire: format!(
                "INSERT INTO `{l}` (session_key, owner, expires_at) VALUES (?, ?, ?)
                 ON DUPLICATE KEY UPDATE
                     owner = IF({expired}, VALUES(owner), owner),
                     expires_at = IF({expired}, VALUES(expires_at), expires_at)"
            ),
            release: format!("DELETE FROM `{l}` WHERE session_key = ? AND owner = ?"),

        }
    }
}
