//! Django's layout in PostgreSQL, spelled out in one place: the DDL Django's `migrate`
//! runs (see the [layout's docs](crate::django)), the checks on an existing table, and the
//! statements the store runs.

use deadpool_postgres::GenericClient;
use sessionkit_core::{StoreError, StoreErrorKind};

use super::{locked_transaction, pg_error};
use crate::django::DjangoTime;
use crate::shared::django::{self as shared, Sql};

/// Serializes table creation between processes starting at once (an arbitrary constant:
/// "djsessio" in ASCII).
const SCHEMA_LOCK: i64 = 0x646a_7365_7373_696f;

/// Whether the (quoted, maybe schema-qualified) table exists.
pub(crate) async fn table_exists<C: GenericClient>(
    client: &C,
    qualified: &str,
) -> Result<bool, StoreError> {
    let row = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&qualified])
        .await
        .map_err(|e| pg_error("table check", e))?;
    row.try_get(0).map_err(|e| pg_error("table check", e))
}

/// Django's DDL in one transaction, under an advisory lock and after a second look (two
/// processes starting at once).
pub(crate) async fn create_table(
    client: &mut deadpool_postgres::Client,
    qualified: &str,
    table: &str,
) -> Result<(), StoreError> {
    let tx = locked_transaction(client, SCHEMA_LOCK).await?;
    if !table_exists(&tx, qualified).await? {
        let like = shared::like_index(table);
        let expire = shared::expire_index(table);
        tx.batch_execute(&format!(
            r#"CREATE TABLE {qualified} ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL);
            CREATE INDEX "{like}" ON {qualified} ("session_key" varchar_pattern_ops);
            CREATE INDEX "{expire}" ON {qualified} ("expire_date");"#
        ))
        .await
        .map_err(|e| pg_error("schema setup", e))?;
    }
    tx.commit().await.map_err(|e| pg_error("schema setup", e))
}

/// Refuses a table without Django's columns, or a `timestamp without time zone` expiry
/// unless `USE_TZ = False` is configured; whether `expire_date` is naive.
pub(crate) async fn check_columns<C: GenericClient>(
    client: &C,
    sql: &Sql,
    qualified: &str,
    url: &str,
    time: &DjangoTime,
) -> Result<bool, StoreError> {
    let not_django = |e: tokio_postgres::Error| shared::not_django(qualified, url, e);
    client
        .execute(&sql.columns, &[])
        .await
        .map_err(not_django)?;
    let row = client
        .query_one(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attname = 'expire_date' AND NOT attisdropped",
            &[&qualified],
        )
        .await
        .map_err(not_django)?;
    let kind: String = row.try_get(0).map_err(not_django)?;
    match kind.as_str() {
        "timestamp with time zone" => Ok(false),
        "timestamp without time zone" if !time.use_tz() => Ok(true),
        "timestamp without time zone" => Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "{qualified}.expire_date is timestamp without time zone, which holds naive local times (Django's USE_TZ = False): configure USE_TZ = False and Django's TIME_ZONE (DjangoTime::local, or --django-use-tz false --django-time-zone NAME)"
            ),
        )),
        _ => Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "{qualified}.expire_date is {kind}, not a timestamp: this is not Django's session table"
            ),
        )),
    }
}

/// The statements, with the (quoted, maybe schema-qualified) table filled in once.
pub(crate) fn sql(t: &str) -> Sql {
    Sql {
        columns: format!("SELECT session_key, session_data, expire_date FROM {t} LIMIT 0"),
        load: format!(
            "SELECT session_data, expire_date FROM {t} WHERE session_key = $1 AND expire_date > $2"
        ),
        // Insert if absent; an expired row does not own its key.
        create: format!(
            "INSERT INTO {t} AS s (session_key, session_data, expire_date) VALUES ($1, $2, $3)
                 ON CONFLICT (session_key) DO UPDATE SET
                     session_data = EXCLUDED.session_data, expire_date = EXCLUDED.expire_date
                 WHERE s.expire_date <= $4
                 RETURNING 1"
        ),
        // Compare-and-set on the stored text (byte-wise: COLLATE "C"); never inserts.
        // The outer SELECT sees the table as it was before the UPDATE, so it tells
        // a conflict (live row, other data) from a missing row in the same round trip.
        save: format!(
            r#"WITH upd AS (
                     UPDATE {t} SET session_data = $2, expire_date = $3
                     WHERE session_key = $1 AND session_data COLLATE "C" = $4 AND expire_date > $5
                     RETURNING 1
                 )
                 SELECT EXISTS (SELECT 1 FROM upd),
                        EXISTS (SELECT 1 FROM {t} WHERE session_key = $1 AND expire_date > $5)"#
        ),
        delete: format!("DELETE FROM {t} WHERE session_key = $1"),
        touch: format!(
            "UPDATE {t} SET expire_date = $2 WHERE session_key = $1 AND expire_date > $3"
        ),
        // One batch: the oldest expired rows nobody else is deleting right now, found
        // through the expiry index, deleted through the primary key.
        clear: format!(
            "DELETE FROM {t} WHERE session_key = ANY(ARRAY(
                     SELECT session_key FROM {t} WHERE expire_date <= $1
                     ORDER BY expire_date LIMIT $2
                     FOR UPDATE SKIP LOCKED
                 ))"
        ),
        // Byte order of the key, whatever the database's collation.
        page_live: format!(
            r#"SELECT session_key, session_data, expire_date FROM {t}
                 WHERE session_key COLLATE "C" > $1 AND expire_date > $2
                 ORDER BY session_key COLLATE "C" LIMIT $3"#
        ),
        page_all: format!(
            r#"SELECT session_key, session_data, expire_date FROM {t}
                 WHERE session_key COLLATE "C" > $1
                 ORDER BY session_key COLLATE "C" LIMIT $2"#
        ),
        row: format!(
            "SELECT session_key, session_data, expire_date FROM {t} WHERE session_key = $1"
        ),
        delete_if: format!(
            r#"DELETE FROM {t} WHERE session_key = $1 AND session_data COLLATE "C" = $2"#
        ),
    }
}
