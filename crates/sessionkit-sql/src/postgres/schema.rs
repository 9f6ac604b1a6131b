//! The native PostgreSQL layout, spelled out in one place.
//!
//! ```sql
//! CREATE TABLE sessionkit_schema (
//!     tbl     text PRIMARY KEY,         -- the session table this row describes
//!     version integer NOT NULL          -- its layout version (2)
//! );
//! CREATE TABLE "sessionkit_session" (
//!     session_key text COLLATE "C" PRIMARY KEY,  -- byte order, for listing pages
//!     data        text NOT NULL,                 -- the session dictionary as JSON
//!     version     bigint NOT NULL,               -- compare-and-set token
//!     expires_at  timestamptz NOT NULL,
//!     created_at  timestamptz NOT NULL,
//!     last_seen   timestamptz NOT NULL,
//!     user_id     text NULL,                     -- Django's _auth_user_id
//!     retired     boolean NOT NULL DEFAULT false, -- true: a rotation marker, no data
//!     client_ip   text NULL,                     -- device metadata (version 2): client IP,
//!     user_agent  text NULL,                     -- its user agent
//!     device      text NULL                      -- and the device label
//! );
//! CREATE INDEX "sessionkit_session_expires_at" ON "sessionkit_session" (expires_at);
//! CREATE INDEX "sessionkit_session_user_id" ON "sessionkit_session" (user_id)
//!     WHERE user_id IS NOT NULL;
//! CREATE TABLE "sessionkit_session_lease" (     -- lock-mode leases
//!     session_key text COLLATE "C" PRIMARY KEY,
//!     owner       text NOT NULL,
//!     expires_at  timestamptz NOT NULL          -- measured with the application's clock
//! );
//! ```
//!
//! Version 1 had no device-metadata columns; `migrate` (run when a store connects to
//! create what is missing, as `sessionkit serve` does) upgrades a version 1 table in
//! place, in its locked transaction, keeping its rows:
//!
//! ```sql
//! ALTER TABLE "sessionkit_session" ADD COLUMN IF NOT EXISTS client_ip text NULL,
//!     ADD COLUMN IF NOT EXISTS user_agent text NULL, ADD COLUMN IF NOT EXISTS device text NULL;
//! UPDATE sessionkit_schema SET version = 2 WHERE tbl = 'sessionkit_session' AND version = 1;
//! ```
//!
//! Table names are lower-cased (PostgreSQL folds unquoted names, so `Sessions` and
//! `sessions` would otherwise be two names for one table) and always quoted in statements.
//! The tables live in the connection's current schema (the first of `search_path`).

use deadpool_postgres::{Client, GenericClient};
use sessionkit_core::{StoreError, StoreErrorKind};

use super::{locked_transaction, pg_error};
use crate::shared::{
    CLIENT_COLUMNS_VERSION, NativeSql, UPGRADE_LOCK_WAIT_SECS, check_layout_version,
    table_not_found,
};

/// The default session table.
pub const DEFAULT_TABLE: &str = "sessionkit_session";

/// The layout version this build writes and reads.
pub const SCHEMA_VERSION: i32 = crate::shared::NATIVE_SCHEMA_VERSION as i32;

/// Serializes schema setup between processes starting at once (an arbitrary constant:
/// "sessionk" in ASCII).
const SCHEMA_LOCK: i64 = 0x7365_7373_696f_6e6b;

/// The table names a session table brings along.
pub(crate) fn lease_table(table: &str) -> String {
    format!("{table}_lease")
}

/// Creates the tables if missing (in one transaction, under an advisory lock so that two
/// processes starting at once do not race on `CREATE TABLE IF NOT EXISTS`), upgrades a
/// version 1 table to version 2 and checks the layout version.
pub(crate) async fn migrate(client: &mut Client, table: &str) -> Result<(), StoreError> {
    let lease = lease_table(table);
    let tx = locked_transaction(client, SCHEMA_LOCK).await?;
    let found = schema_version(&tx, table).await?;
    if found.is_none() {
        tx.batch_execute(&format!(
            r#"CREATE TABLE IF NOT EXISTS sessionkit_schema (tbl text PRIMARY KEY, version integer NOT NULL);
            CREATE TABLE IF NOT EXISTS "{table}" (
                session_key text COLLATE "C" PRIMARY KEY,
                data text NOT NULL,
                version bigint NOT NULL,
                expires_at timestamptz NOT NULL,
                created_at timestamptz NOT NULL,
                last_seen timestamptz NOT NULL,
                user_id text NULL,
                retired boolean NOT NULL DEFAULT false,
                client_ip text NULL,
                user_agent text NULL,
                device text NULL
            );
            CREATE INDEX IF NOT EXISTS "{table}_expires_at" ON "{table}" (expires_at);
            CREATE INDEX IF NOT EXISTS "{table}_user_id" ON "{table}" (user_id) WHERE user_id IS NOT NULL;
            CREATE TABLE IF NOT EXISTS "{lease}" (
                session_key text COLLATE "C" PRIMARY KEY,
                owner text NOT NULL,
                expires_at timestamptz NOT NULL
            );
            INSERT INTO sessionkit_schema (tbl, version) VALUES ('{table}', {SCHEMA_VERSION})
                ON CONFLICT (tbl) DO NOTHING;"#
        ))
        .await
        .map_err(|e| pg_error("schema setup", e))?;
    }
    let version = match found {
        Some(1) => {
            tx.batch_execute(&format!(
                r#"SET LOCAL lock_timeout = '{UPGRADE_LOCK_WAIT_SECS}s';
                ALTER TABLE "{table}" ADD COLUMN IF NOT EXISTS client_ip text NULL,
                    ADD COLUMN IF NOT EXISTS user_agent text NULL,
                    ADD COLUMN IF NOT EXISTS device text NULL;
                UPDATE sessionkit_schema SET version = {CLIENT_COLUMNS_VERSION} WHERE tbl = '{table}' AND version = 1;"#
            ))
            .await
            .map_err(|e| pg_error("schema upgrade", e))?;
            CLIENT_COLUMNS_VERSION as i32
        }
        Some(v) => v,
        None => schema_version(&tx, table).await?.ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Config,
                format!("no layout version recorded for table {table} after creating it"),
            )
        })?,
    };
    tx.commit().await.map_err(|e| pg_error("schema setup", e))?;
    check_layout_version(table, i64::from(version), i64::from(SCHEMA_VERSION))
}

/// Checks, creating and writing nothing, that `table` exists in the connection's current
/// schema (`url`, for messages) with the layout version this build reads (connecting
/// with [`Create::Never`](sessionkit_core::store::Create::Never)).
pub(crate) async fn check<C: GenericClient>(
    client: &C,
    url: &str,
    table: &str,
) -> Result<(), StoreError> {
    let row = client
        .query_one("SELECT to_regclass(quote_ident($1)) IS NOT NULL", &[&table])
        .await
        .map_err(|e| pg_error("schema check", e))?;
    let exists: bool = row.try_get(0).map_err(|e| pg_error("schema check", e))?;
    if !exists {
        return Err(table_not_found(table, url));
    }
    match schema_version(client, table).await? {
        Some(v) => check_layout_version(table, i64::from(v), i64::from(SCHEMA_VERSION)),
        None => Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "table {table} in {url} has no recorded sessionkit layout version: it was not made by sessionkit; check the table name"
            ),
        )),
    }
}

/// The recorded layout version of `table`, if any.
async fn schema_version<C: GenericClient>(tx: &C, table: &str) -> Result<Option<i32>, StoreError> {
    let row = tx
        .query_one("SELECT to_regclass('sessionkit_schema') IS NOT NULL", &[])
        .await
        .map_err(|e| pg_error("schema check", e))?;
    let exists: bool = row.try_get(0).map_err(|e| pg_error("schema check", e))?;
    if !exists {
        return Ok(None);
    }
    let row = tx
        .query_opt(
            "SELECT version FROM sessionkit_schema WHERE tbl = $1",
            &[&table],
        )
        .await
        .map_err(|e| pg_error("schema check", e))?;
    row.map(|r| r.try_get::<_, i32>(0))
        .transpose()
        .map_err(|e| pg_error("schema check", e))
}

crate::shared::driver_sql! {
    acquire,
    release,
}

impl Sql {
    pub(crate) fn new(t: &str) -> Sql {
        let l = lease_table(t);
        Sql {
            native: NativeSql {
                load: format!(
                    r#"SELECT data, version, expires_at, created_at, last_seen, user_id, retired,
                         client_ip, user_agent, device
                     FROM "{t}" WHERE session_key = $1 AND expires_at > $2"#
                ),
                // Insert if absent; an expired row does not own its key (its version goes on
                // counting, so a token of the old session can never match the new one).
                create: format!(
                    r#"INSERT INTO "{t}" AS s (session_key, data, version, expires_at, created_at, last_seen, user_id, retired,
                                          client_ip, user_agent, device)
                     VALUES ($1, $2, 1, $3, $4, $5, $6, false, $8, $9, $10)
                     ON CONFLICT (session_key) DO UPDATE SET
                         data = EXCLUDED.data, version = s.version + 1, expires_at = EXCLUDED.expires_at,
                         created_at = EXCLUDED.created_at, last_seen = EXCLUDED.last_seen,
                         user_id = EXCLUDED.user_id, retired = false, client_ip = EXCLUDED.client_ip,
                         user_agent = EXCLUDED.user_agent, device = EXCLUDED.device
                     WHERE s.expires_at <= $7
                     RETURNING version"#
                ),
                // Compare-and-set that never inserts, and tells Conflict from Missing in the
                // same round trip: the outer SELECT sees the table as it was before the
                // UPDATE (one snapshot for the whole statement). A row deleted by a concurrent
                // transaction while this one waited for its lock reads as Conflict; the
                // engine's reload then finds it missing.
                save: format!(
                    r#"WITH upd AS (
                         UPDATE "{t}" SET data = $2, version = version + 1, expires_at = $3, last_seen = $4, user_id = $5,
                             client_ip = $8, user_agent = $9, device = $10
                         WHERE session_key = $1 AND version = $6 AND NOT retired AND expires_at > $7
                         RETURNING version
                     )
                     SELECT (SELECT version FROM upd),
                            EXISTS (SELECT 1 FROM "{t}" WHERE session_key = $1 AND NOT retired AND expires_at > $7)"#
                ),
                delete: format!(r#"DELETE FROM "{t}" WHERE session_key = $1"#),
                touch: format!(
                    r#"UPDATE "{t}" SET expires_at = $2, last_seen = $3
                     WHERE session_key = $1 AND NOT retired AND expires_at > $3"#
                ),
                retire: format!(
                    r#"INSERT INTO "{t}" AS s (session_key, data, version, expires_at, created_at, last_seen, user_id, retired)
                     VALUES ($1, '', 1, $2, to_timestamp(0), to_timestamp(0), NULL, true)
                     ON CONFLICT (session_key) DO UPDATE SET
                         data = '', version = s.version + 1, expires_at = EXCLUDED.expires_at,
                         user_id = NULL, retired = true, client_ip = NULL, user_agent = NULL, device = NULL"#
                ),
                // One batch: the oldest expired rows nobody else is deleting right now, found
                // through the expiry index, then deleted through the primary key (an array,
                // so the plan never turns into a scan of the whole table).
                clear: format!(
                    r#"DELETE FROM "{t}" WHERE session_key = ANY(ARRAY(
                         SELECT session_key FROM "{t}" WHERE expires_at <= $1
                         ORDER BY expires_at LIMIT $2
                         FOR UPDATE SKIP LOCKED
                     ))"#
                ),
                list: format!(
                    r#"SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM "{t}"
                     WHERE NOT retired AND expires_at > $1 AND session_key > $2
                     ORDER BY session_key LIMIT $3"#
                ),
                list_all: format!(
                    r#"SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM "{t}"
                     WHERE NOT retired AND expires_at > $1
                     ORDER BY session_key LIMIT $2"#
                ),
                of_user: format!(
                    r#"SELECT session_key, expires_at, created_at, last_seen, user_id, client_ip, user_agent, device FROM "{t}"
                     WHERE user_id = $1 AND NOT retired AND expires_at > $2
                     ORDER BY session_key"#
                ),
                revoke: format!(r#"DELETE FROM "{t}" WHERE user_id = $1 AND session_key <> $2"#),
            },
            // Take the lease if free or run out; a live lease is never taken over, not
            // even by its own owner.
            acquire: format!(
                r#"INSERT INTO "{l}" AS l (session_key, owner, expires_at) VALUES ($1, $2, $3)
                 ON CONFLICT (session_key) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
                 WHERE l.expires_at <= $4
                 RETURNING 1"#
            ),
            release: format!(r#"DELETE FROM "{l}" WHERE session_key = $1 AND owner = $2"#),
        }
    }
}
