//! The PostgreSQL store against a real server (`SESSIONKIT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Each store works on tables of its own; see
//! [`crate::server`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sessionkit_core::{Lookup, ManualClock, SessionKey, SessionStore, StoreErrorKind};
use sessionkit_sql::PostgresStore;
use sessionkit_testkit::Profile;
use tokio_postgres::NoTls;

use crate::server::{self, Scoped, T0, at, block_on_side, is_stale, record, table_name};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub(crate) fn url() -> String {
    sessionkit_testkit::service_url("SESSIONKIT_TEST_POSTGRES_URL", DEFAULT_URL)
}

/// A plain connection for setting up and inspecting what the store wrote.
pub(crate) async fn raw() -> Option<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(&url(), NoTls).await.ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(client)
}

async fn drop_tables(client: &tokio_postgres::Client, table: &str) {
    let _ = client
        .batch_execute(&format!(
            r#"DROP TABLE IF EXISTS "{table}", "{table}_lease""#
        ))
        .await;
    let _ = client
        .execute("DELETE FROM sessionkit_schema WHERE tbl = $1", &[&table])
        .await;
}

/// Drops the test tables a killed run left behind (once per process).
pub(crate) async fn sweep_stale() {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(client) = raw().await else { return };
    let tables = client
        .query(
            r"SELECT tablename::text FROM pg_tables
              WHERE schemaname = current_schema() AND tablename LIKE 'sktest\_%'",
            &[],
        )
        .await
        .unwrap_or_default();
    let rows = client
        .query(
            r"SELECT tbl FROM sessionkit_schema WHERE tbl LIKE 'sktest\_%'",
            &[],
        )
        .await
        .unwrap_or_default();
    let stale = tables
        .iter()
        .chain(&rows)
        .filter_map(|row| row.try_get::<_, String>(0).ok())
        .filter(|name| is_stale(name));
    for name in stale {
        drop_tables(&client, name.trim_end_matches("_lease")).await;
    }
}

/// A guard that drops `table` (and its lease table and schema row) when dropped.
pub(crate) fn dropping(table: &str) -> Scoped<()> {
    let table = table.to_owned();
    crate::server::scoped((), move || {
        block_on_side(async move {
            if let Some(client) = raw().await {
                drop_tables(&client, &table).await;
            }
        })
    })
}

server::native_server_tests!(
    PostgresStore, "PostgreSQL",
    dead: "postgres://postgres:pw@127.0.0.1:1/test",
    shown: "postgres://postgres@127.0.0.1:1/test",
    silent: "postgres://postgres@127.0.0.1:{port}/test",
    bad: "postgres://a@b:notaport/c"
);

// ---- the hooks of `native_server_tests!` ------------------------------------------------

pub(crate) async fn server_up() -> bool {
    raw().await.is_some()
}

/// Runs `sql` (statements without parameters) on a raw connection.
pub(crate) async fn raw_exec(sql: &str) {
    let client = raw().await.expect("raw connection");
    client.batch_execute(sql).await.expect(sql);
}

async fn exec(sql: &str, params: &[&(dyn tokio_postgres::types::ToSql + Sync)]) -> u64 {
    let client = raw().await.expect("raw connection");
    client.execute(sql, params).await.expect(sql)
}

/// The tables of layout version 1, with version 1's DDL, and one row under `key`.
async fn create_v1_table(table: &str, key: &SessionKey) {
    let data = server::V1_DATA;
    raw_exec(&format!(
        r#"CREATE TABLE IF NOT EXISTS sessionkit_schema (tbl text PRIMARY KEY, version integer NOT NULL);
        CREATE TABLE "{table}" (
            session_key text COLLATE "C" PRIMARY KEY,
            data text NOT NULL,
            version bigint NOT NULL,
            expires_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL,
            last_seen timestamptz NOT NULL,
            user_id text NULL,
            retired boolean NOT NULL DEFAULT false
        );
        CREATE INDEX "{table}_expires_at" ON "{table}" (expires_at);
        CREATE INDEX "{table}_user_id" ON "{table}" (user_id) WHERE user_id IS NOT NULL;
        CREATE TABLE "{table}_lease" (
            session_key text COLLATE "C" PRIMARY KEY,
            owner text NOT NULL,
            expires_at timestamptz NOT NULL
        );
        INSERT INTO sessionkit_schema (tbl, version) VALUES ('{table}', 1);
        INSERT INTO "{table}" VALUES ('{key}', '{data}', 1, '2026-01-01 01:00:00+00',
            '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00', 'u1', false);"#,
        key = key.as_str()
    ))
    .await;
}

async fn set_layout_version(table: &str, version: i32) {
    let sql = format!("UPDATE sessionkit_schema SET version = {version} WHERE tbl = $1");
    exec(&sql, &[&table]).await;
}

async fn corrupt_data(table: &str, key: &SessionKey) {
    let sql = format!(r#"UPDATE "{table}" SET data = 'not json {{' WHERE session_key = $1"#);
    exec(&sql, &[&key.as_str()]).await;
}

async fn stored_data(table: &str, key: &SessionKey) -> Option<String> {
    let client = raw().await.expect("raw connection");
    let sql = format!(r#"SELECT data FROM "{table}" WHERE session_key = $1"#);
    let row = client
        .query_opt(&sql, &[&key.as_str()])
        .await
        .expect("select");
    row.map(|r| r.get(0))
}

async fn tables_absent(table: &str) -> bool {
    let client = raw().await.expect("raw connection");
    let row = client
        .query_one(
            "SELECT to_regclass(quote_ident($1)) IS NULL, NOT EXISTS (SELECT 1 FROM sessionkit_schema WHERE tbl = $1)",
            &[&table],
        )
        .await
        .unwrap();
    row.get::<_, bool>(0) && row.get::<_, bool>(1)
}

async fn analyze(table: &str) {
    raw_exec(&format!(r#"ANALYZE "{table}""#)).await;
}

fn assert_uses_expiry_index(plan: &str, table: &str) {
    let index = format!("{table}_expires_at");
    assert!(
        plan.contains(&format!("Index Scan using {index}"))
            || plan.contains(&format!("Bitmap Index Scan on {index}")),
        "the cleanup does not use the expiry index:\n{plan}"
    );
    assert!(
        !plan.contains("Seq Scan"),
        "the cleanup scans the table:\n{plan}"
    );
}

/// Nothing to close: the pool goes with the store.
async fn close(_store: &PostgresStore) {}

/// A connection inside a transaction that has read `table` (holding its ACCESS SHARE lock,
/// which an `ALTER TABLE` must wait for) until [`end_reader`].
async fn begin_reader(table: &str) -> Option<tokio_postgres::Client> {
    let client = raw().await?;
    client
        .batch_execute(&format!(r#"BEGIN; SELECT count(*) FROM "{table}";"#))
        .await
        .expect("a reading transaction");
    Some(client)
}

async fn end_reader(client: tokio_postgres::Client) {
    client.batch_execute("ROLLBACK").await.expect("rollback");
}

#[tokio::test]
async fn describe_shows_no_password() {
    let url = url();
    // postgres://user@host/db → postgres://user:secret@host/db (trust auth ignores it).
    let with_password = server::with_password(&url);
    let table = table_name();
    let _guard = dropping(&table);
    let store = match PostgresStore::builder(&with_password)
        .with_table(&table)
        .connect()
        .await
    {
        Ok(s) => s,
        Err(e) if e.kind() == StoreErrorKind::Unavailable => {
            sessionkit_testkit::require("PostgreSQL", Err::<(), _>(e.report()));
            return;
        }
        // A server that checks passwords refuses the made-up one: nothing to show.
        Err(_) => return,
    };
    let described = store.describe();
    assert!(!described.contains("s3cret"), "{described}");
    if url == DEFAULT_URL {
        assert_eq!(described, "postgres://postgres@127.0.0.1:5432/test");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unstorable_records_are_encode_errors() {
    let Some(store) = fresh().await else { return };
    let mut r = record("{}", 3600);
    r.meta.user_id = Some("nul\0inside".into());
    let err = store
        .create(&SessionKey::generate(), &r, T0)
        .await
        .expect_err("text cannot hold NUL");
    assert_eq!(err.kind(), StoreErrorKind::Encode, "{}", err.report());
}
