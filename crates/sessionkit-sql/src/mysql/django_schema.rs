//! Django's layout in MySQL and MariaDB, spelled out in one place: the DDL Django's
//! `migrate` runs (see the [layout's docs](crate::django)) and the statements the store
//! runs.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use sessionkit_core::{StoreError, StoreErrorKind};

use super::my_error;
use crate::django::CLEAR_BATCH;
use crate::shared::django::{self as shared, Sql};

/// Whether the table exists in the connection's database.
pub(crate) async fn table_exists(conn: &mut Conn, table: &str) -> Result<bool, StoreError> {
    let row: Option<mysql_async::Row> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            (table,),
        )
        .await
        .map_err(|e| my_error("table check", e))?;
    Ok(row.is_some())
}

/// Django's DDL under a named lock, after a second look (DDL is not transactional in
/// MySQL; two processes starting at once take turns).
pub(crate) async fn create_table(conn: &mut Conn, table: &str) -> Result<(), StoreError> {
    let lock = "SELECT GET_LOCK(CONCAT('sessionkit_django.', DATABASE()), 10)";
    let got: Option<Option<i64>> = conn
        .query_first(lock)
        .await
        .map_err(|e| my_error("schema lock", e))?;
    if got.flatten() != Some(1) {
        return Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "timed out waiting for the table creation lock",
        ));
    }
    let result = async {
        if table_exists(conn, table).await? {
            return Ok(());
        }
        let index = shared::expire_index(table);
        for stmt in [
            format!(
                "CREATE TABLE `{table}` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL)"
            ),
            format!("CREATE INDEX `{index}` ON `{table}` (`expire_date`)"),
        ] {
            conn.query_drop(stmt)
                .await
                .map_err(|e| my_error("schema setup", e))?;
        }
        Ok(())
    }
    .await;
    // A failed release leaves the lock to the connection's reset.
    let _ = conn
        .query_drop("SELECT RELEASE_LOCK(CONCAT('sessionkit_django.', DATABASE()))")
        .await;
    result
}

/// The statements, with the table name filled in once.
pub(crate) fn sql(t: &str) -> Sql {
    // The key and the data compare as bytes: Django's columns have the database's
    // default collation, usually case-insensitive (and padding-insensitive).
    let key = "CAST(session_key AS BINARY)";
    let same_data = "CAST(session_data AS BINARY) = CAST(? AS BINARY)";
    Sql {
        columns: format!("SELECT session_key, session_data, expire_date FROM `{t}` LIMIT 0"),
        load: format!(
            "SELECT session_data, expire_date FROM `{t}` WHERE session_key = ? AND expire_date > ?"
        ),
        // Insert if absent; an expired row does not own its key. session_data is
        // assigned first: each IF() sees the assignments made before it. Affected
        // rows: 1 inserted, 2 took over an expired row, 0 a live row kept its values.
        create: format!(
            "INSERT INTO `{t}` (session_key, session_data, expire_date) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE
                 session_data = IF(expire_date <= ?, VALUES(session_data), session_data), expire_date = IF(expire_date <= ?, VALUES(expire_date), expire_date)"
        ),
        // Compare-and-set on the stored text; never inserts.
        save: format!(
            "UPDATE `{t}` SET session_data = ?, expire_date = ?
                 WHERE session_key = ? AND {same_data} AND expire_date > ?"
        ),
        delete: format!("DELETE FROM `{t}` WHERE session_key = ?"),
        touch: format!(
            "UPDATE `{t}` SET expire_date = ? WHERE session_key = ? AND expire_date > ?"
        ),
        clear: format!(
            "DELETE FROM `{t}` WHERE expire_date <= ? ORDER BY expire_date LIMIT {CLEAR_BATCH}"
        ),
        page_live: format!(
            "SELECT session_key, session_data, expire_date FROM `{t}`
                 WHERE {key} > CAST(? AS BINARY) AND expire_date > ?
                 ORDER BY {key} LIMIT ?"
        ),
        page_all: format!(
            "SELECT session_key, session_data, expire_date FROM `{t}`
                 WHERE {key} > CAST(? AS BINARY)
                 ORDER BY {key} LIMIT ?"
        ),
        row: format!(
            "SELECT session_key, session_data, expire_date FROM `{t}` WHERE session_key = ?"
        ),
        delete_if: format!("DELETE FROM `{t}` WHERE session_key = ? AND {same_data}"),
    }
}
