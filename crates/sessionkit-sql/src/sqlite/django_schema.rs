//! Django's layout in SQLite, spelled out in one place: the DDL Django's `migrate` runs
//! (see the [layout's docs](crate::django)) and the statements the store runs.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};
use sessionkit_core::StoreError;

use super::sql_error;
use crate::shared::django::{self as shared, Sql};

/// Whether the table exists (names compare as SQLite compares them, ignoring case).
pub(crate) fn table_exists(
    conn: &Connection,
    path: &Path,
    table: &str,
) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE)",
        [table],
        |r| r.get(0),
    )
    .map_err(|e| sql_error(path, "table check", e))
}

/// Django's DDL, in one `BEGIN IMMEDIATE` transaction that checks again first (another
/// process may have created it meanwhile).
pub(crate) fn create_table(
    conn: &mut Connection,
    path: &Path,
    table: &str,
) -> Result<(), StoreError> {
    let e = |e| sql_error(path, "schema setup", e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(e)?;
    if !table_exists(&tx, path, table)? {
        let index = shared::expire_index(table);
        tx.execute_batch(&format!(
            r#"CREATE TABLE "{table}" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL);
            CREATE INDEX "{index}" ON "{table}" ("expire_date");"#
        ))
        .map_err(e)?;
    }
    tx.commit().map_err(e)
}

/// The statements, with the table name filled in once.
pub(crate) fn sql(t: &str) -> Sql {
    Sql {
        columns: format!(r#"SELECT session_key, session_data, expire_date FROM "{t}" LIMIT 0"#),
        load: format!(
            r#"SELECT session_data, expire_date FROM "{t}" WHERE session_key = ?1 AND expire_date > ?2"#
        ),
        // Insert if absent; an expired row does not own its key.
        create: format!(
            r#"INSERT INTO "{t}" (session_key, session_data, expire_date) VALUES (?1, ?2, ?3)
                 ON CONFLICT (session_key) DO UPDATE SET
                     session_data = excluded.session_data, expire_date = excluded.expire_date
                 WHERE "{t}".expire_date <= ?4"#
        ),
        // Compare-and-set on the stored text; never inserts.
        save: format!(
            r#"UPDATE "{t}" SET session_data = ?1, expire_date = ?2
                 WHERE session_key = ?3 AND session_data = ?4 AND expire_date > ?5"#
        ),
        delete: format!(r#"DELETE FROM "{t}" WHERE session_key = ?1"#),
        touch: format!(
            r#"UPDATE "{t}" SET expire_date = ?1 WHERE session_key = ?2 AND expire_date > ?3"#
        ),
        clear: format!(
            r#"DELETE FROM "{t}" WHERE session_key IN
                 (SELECT session_key FROM "{t}" WHERE expire_date <= ?1 LIMIT ?2)"#
        ),
        // Django's key column has SQLite's default BINARY collation: byte order.
        page_live: format!(
            r#"SELECT session_key, session_data, expire_date FROM "{t}"
                 WHERE session_key > ?1 AND expire_date > ?2 ORDER BY session_key LIMIT ?3"#
        ),
        page_all: format!(
            r#"SELECT session_key, session_data, expire_date FROM "{t}"
                 WHERE session_key > ?1 ORDER BY session_key LIMIT ?2"#
        ),
        row: format!(
            r#"SELECT session_key, session_data, expire_date FROM "{t}" WHERE session_key = ?1"#
        ),
        delete_if: format!(r#"DELETE FROM "{t}" WHERE session_key = ?1 AND session_data = ?2"#),
    }
}
