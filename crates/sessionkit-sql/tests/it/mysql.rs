//! The MySQL / MariaDB store against a real server (`SESSIONKIT_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`). Each store works on tables of its own; see
//! [`crate::server`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row};
use sessionkit_core::{Lookup, ManualClock, SessionKey, SessionStore, StoreErrorKind};
use sessionkit_sql::MySqlStore;
use sessionkit_testkit::Profile;

use crate::server::{self, Scoped, T0, at, block_on_side, is_stale, record, table_name};

const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";

pub(crate) fn url() -> String {
    sessionkit_testkit::service_url("SESSIONKIT_TEST_MYSQL_URL", DEFAULT_URL)
}

/// A plain connection for setting up and inspecting what the store wrote.
pub(crate) async fn raw() -> Option<Conn> {
    let opts = Opts::from_url(&url()).ok()?;
    tokio::time::timeout(Duration::from_secs(5), Conn::new(opts))
        .await
        .ok()?
        .ok()
}

async fn drop_tables(conn: &mut Conn, table: &str) {
    let _ = conn
        .query_drop(format!("DROP TABLE IF EXISTS `{table}`, `{table}_lease`"))
        .await;
    let _ = conn
        .exec_drop("DELETE FROM sessionkit_schema WHERE tbl = ?", (table,))
        .await;
}

/// Drops the test tables a killed run left behind (once per process).
pub(crate) async fn sweep_stale() {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(mut conn) = raw().await else { return };
    let mut names: Vec<String> = conn
        .query(
            r"SELECT CAST(table_name AS CHAR) FROM information_schema.tables
              WHERE table_schema = DATABASE() AND table_name LIKE 'sktest\\_%'",
        )
        .await
        .unwrap_or_default();
    let rows: Vec<String> = conn
        .query(r"SELECT tbl FROM sessionkit_schema WHERE tbl LIKE 'sktest\\_%'")
        .await
        .unwrap_or_default();
    names.extend(rows);
    for name in names {
        if is_stale(&name) {
            drop_tables(&mut conn, name.trim_end_matches("_lease")).await;
        }
    }
    let _ = conn.disconnect().await;
}

/// A guard that drops `table` (and its lease table and schema row) when dropped.
pub(crate) fn dropping(table: &str) -> Scoped<()> {
    let table = table.to_owned();
    crate::server::scoped((), move || {
        block_on_side(async move {
            if let Some(mut conn) = raw().await {
                drop_tables(&mut conn, &table).await;
                let _ = conn.disconnect().await;
            }
        })
    })
}

server::native_server_tests!(
    MySqlStore, "MySQL",
    dead: "mysql://root:pw@127.0.0.1:1/test",
    shown: "mysql://root@127.0.0.1:1/test",
    silent: "mysql://root@127.0.0.1:{port}/test",
    bad: "mysql://a@b:notaport/c"
);

#[tokio::test]
async fn a_url_without_a_database_is_a_config_error() {
    let err = MySqlStore::connect("mysql://root@127.0.0.1:3306")
        .await
        .expect_err("no database");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
}

// ---- the hooks of `native_server_tests!` ------------------------------------------------

pub(crate) async fn server_up() -> bool {
    let Some(conn) = raw().await else {
        return false;
    };
    let _ = conn.disconnect().await;
    true
}

async fn exec(sql: &str, params: mysql_async::Params) {
    let mut conn = raw().await.expect("raw connection");
    conn.exec_drop(sql, params).await.expect(sql);
    let _ = conn.disconnect().await;
}

/// The tables of layout version 1, with version 1's DDL, and one row under `key`.
async fn create_v1_table(table: &str, key: &SessionKey) {
    let data = server::V1_DATA;
    raw_exec(
        "CREATE TABLE IF NOT EXISTS sessionkit_schema (
            tbl varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
            version int NOT NULL
        ) ENGINE=InnoDB",
    )
    .await;
    raw_exec(&format!(
        "CREATE TABLE `{table}` (
            session_key varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
            data longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
            version bigint NOT NULL,
            expires_at datetime(6) NOT NULL,
            created_at datetime(6) NOT NULL,
            last_seen datetime(6) NOT NULL,
            user_id varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
            retired tinyint(1) NOT NULL DEFAULT 0,
            KEY `{table}_expires_at` (expires_at),
            KEY `{table}_user_id` (user_id)
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    ))
    .await;
    raw_exec(&format!(
        "CREATE TABLE `{table}_lease` (
            session_key varchar(40) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
            owner varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
            expires_at datetime(6) NOT NULL
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    ))
    .await;
    raw_exec(&format!(
        "INSERT INTO sessionkit_schema (tbl, version) VALUES ('{table}', 1)"
    ))
    .await;
    raw_exec(&format!(
        "INSERT INTO `{table}` VALUES ('{key}', '{data}', 1, '2026-01-01 01:00:00',
            '2026-01-01 00:00:00', '2026-01-01 00:00:00', 'u1', 0)",
        key = key.as_str()
    ))
    .await;
}

async fn set_layout_version(table: &str, version: i32) {
    let sql = format!("UPDATE sessionkit_schema SET version = {version} WHERE tbl = ?");
    exec(&sql, (table,).into()).await;
}

async fn corrupt_data(table: &str, key: &SessionKey) {
    let sql = format!("UPDATE `{table}` SET data = 'not json {{' WHERE session_key = ?");
    exec(&sql, (key.as_str(),).into()).await;
}

async fn stored_data(table: &str, key: &SessionKey) -> Option<String> {
    let mut conn = raw().await.expect("raw connection");
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT data FROM `{table}` WHERE session_key = ?"),
            (key.as_str(),),
        )
        .await
        .expect("select");
    let _ = conn.disconnect().await;
    row.and_then(|mut r| r.take(0))
}

async fn tables_absent(table: &str) -> bool {
    let mut conn = raw().await.expect("raw connection");
    let found: Option<i64> = conn
        .exec_first(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?, ?)",
            (table, format!("{table}_lease")),
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    found == Some(0)
}

/// Runs `sql` (statements without parameters) on a raw connection.
pub(crate) async fn raw_exec(sql: &str) {
    let mut conn = raw().await.expect("raw connection");
    conn.query_drop(sql).await.expect(sql);
    let _ = conn.disconnect().await;
}

async fn analyze(table: &str) {
    raw_exec(&format!("ANALYZE TABLE `{table}`")).await;
}

fn assert_uses_expiry_index(plan: &str, table: &str) {
    let index = format!("key={table}_expires_at");
    assert!(
        plan.contains(&index),
        "the cleanup does not use the expiry index:\n{plan}"
    );
}

/// Closes the store's pool, so that nothing holds the table.
/// A connection inside a transaction that has read `table` (holding its metadata lock,
/// which an `ALTER TABLE` must wait for) until [`end_reader`].
async fn begin_reader(table: &str) -> Option<Conn> {
    let mut conn = raw().await?;
    conn.query_drop("START TRANSACTION").await.expect("begin");
    conn.query_drop(format!("SELECT COUNT(*) FROM `{table}`"))
        .await
        .expect("a reading transaction");
    Some(conn)
}

async fn end_reader(mut conn: Conn) {
    conn.query_drop("ROLLBACK").await.expect("rollback");
    let _ = conn.disconnect().await;
}

async fn close(store: &MySqlStore) {
    store.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_compare_case_sensitively() {
    let Some(store) = fresh().await else { return };
    // SessionKey only makes lowercase keys; write an uppercase twin directly and check
    // that it is a different row.
    let key = SessionKey::generate();
    store
        .create(&key, &record(r#"{"who":"lower"}"#, 3600), T0)
        .await
        .expect("create");
    let mut conn = raw().await.expect("raw connection");
    conn.exec_drop(
        format!(
            "INSERT INTO `{}` (session_key, data, version, expires_at, created_at, last_seen, retired)
             SELECT UPPER(session_key), data, 1, expires_at, created_at, last_seen, 0
             FROM `{}` WHERE session_key = ?",
            store.table(),
            store.table()
        ),
        (key.as_str(),),
    )
    .await
    .expect("a key differing only in case is a distinct row");
    let _ = conn.disconnect().await;
    assert!(matches!(
        store.load(&key, T0).await.expect("load"),
        Lookup::Found { .. }
    ));
}

#[tokio::test]
async fn describe_shows_no_password() {
    let Some(store) = fresh().await else { return };
    let described = store.describe();
    let userinfo = described
        .strip_prefix("mysql://")
        .and_then(|rest| rest.split_once('@'))
        .map(|(user, _)| user);
    assert!(userinfo.is_some_and(|u| !u.contains(':')), "{described}");
    if url() == DEFAULT_URL {
        assert_eq!(described, "mysql://root@127.0.0.1:3306/test");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstorable_records_are_encode_errors() {
    let Some(store) = fresh().await else { return };
    let mut r = record("{}", 3600);
    r.meta.user_id = Some("u".repeat(300));
    let err = store
        .create(&SessionKey::generate(), &r, T0)
        .await
        .expect_err("a user id the column would truncate");
    assert_eq!(err.kind(), StoreErrorKind::Encode, "{}", err.report());
    // 255 characters (not bytes) fit.
    r.meta.user_id = Some("é".repeat(255));
    let key = SessionKey::generate();
    store.create(&key, &r, T0).await.expect("create");
    let Lookup::Found { record: got, .. } = store.load(&key, T0).await.expect("load") else {
        panic!("not found");
    };
    assert_eq!(got.meta.user_id, r.meta.user_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_found_rows_in_the_url_changes_nothing() {
    let table = table_name();
    let _guard = dropping(&table);
    let url = url();
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = match MySqlStore::builder(&format!("{url}{sep}client_found_rows=true"))
        .with_table(&table)
        .connect()
        .await
    {
        Ok(s) => s,
        Err(e) if e.kind() == StoreErrorKind::Unavailable => {
            sessionkit_testkit::require("MySQL", Err::<(), _>(e.report()));
            return;
        }
        Err(e) => panic!("{}", e.report()),
    };
    let key = SessionKey::generate();
    let first = store
        .create(&key, &record(r#"{"n":1}"#, 3600), T0)
        .await
        .expect("create");
    assert!(matches!(first, sessionkit_core::CreateOutcome::Created(_)));
    let again = store
        .create(&key, &record(r#"{"n":2}"#, 3600), T0)
        .await
        .expect("create");
    assert_eq!(again, sessionkit_core::CreateOutcome::Collision);
    server::create_over_expired_continues_versions(&store).await;
}
