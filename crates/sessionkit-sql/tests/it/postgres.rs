//! The PostgreSQL store against a real server (`SESSIONKIT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`). Each store works on tables of its own; see
//! [`crate::server`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sessionkit_core::{
    Config, Engine, Lookup, ManualClock, SessionKey, SessionStore, StoreErrorKind,
};
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
    Scoped::new((), move || {
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
    silent: "postgres://postgres@127.0.0.1:{port}/test"
);

#[tokio::test]
async fn bad_urls_tables_and_databases_are_config_errors() {
    let err = PostgresStore::builder(&url())
        .with_table("bad name; drop")
        .connect()
        .await
        .expect_err("bad table name");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(err.to_string().contains("invalid table name"), "{err}");
    let err = PostgresStore::connect("postgres://a@b:notaport/c")
        .await
        .expect_err("bad URL");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    // A database that does not exist (when the server is there to say so).
    if raw().await.is_none() {
        return;
    }
    let url = url();
    let Some((base, _db)) = url.split('?').next().and_then(|u| u.rsplit_once('/')) else {
        return;
    };
    let err = PostgresStore::connect(&format!("{base}/sessionkit_no_such_db"))
        .await
        .expect_err("missing database");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
}

#[tokio::test]
async fn newer_layout_version_is_refused() {
    let table = table_name();
    let Some(store) = open(&table).await else {
        return;
    };
    let _guard = dropping(&table);
    drop(store);
    let client = raw().await.expect("raw connection");
    client
        .execute(
            "UPDATE sessionkit_schema SET version = 99 WHERE tbl = $1",
            &[&table],
        )
        .await
        .expect("update");
    let err = PostgresStore::builder(&url())
        .with_table(&table)
        .connect()
        .await
        .expect_err("a newer layout");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(
        err.report().contains("layout version 99"),
        "{}",
        err.report()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_uses_the_expiry_index() {
    let Some(store) = fresh().await else { return };
    server::fill(&*store, 2000, 3600).await;
    server::fill(&*store, 20, 1).await;
    let client = raw().await.expect("raw connection");
    client
        .batch_execute(&format!(r#"ANALYZE "{}""#, store.table()))
        .await
        .expect("analyze");
    let plan = store.explain_clear_expired(at(10)).await.expect("explain");
    eprintln!("{plan}");
    let index = format!("{}_expires_at", store.table());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_data_is_missing_and_left_alone() {
    let Some(store) = fresh().await else { return };
    let key = SessionKey::generate();
    store
        .create(&key, &record(r#"{"a":1}"#, 3600), T0)
        .await
        .expect("create");
    let client = raw().await.expect("raw connection");
    client
        .execute(
            &format!(
                r#"UPDATE "{}" SET data = 'not json {{' WHERE session_key = $1"#,
                store.table()
            ),
            &[&key.as_str()],
        )
        .await
        .expect("corrupt");
    assert!(matches!(
        store.load(&key, T0).await.expect("load"),
        Lookup::Missing
    ));
    let row = client
        .query_one(
            &format!(
                r#"SELECT data FROM "{}" WHERE session_key = $1"#,
                store.table()
            ),
            &[&key.as_str()],
        )
        .await
        .expect("still there");
    assert_eq!(row.get::<_, String>(0), "not json {");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_reconnecting() {
    let Some(store) = fresh().await else { return };
    let clock = ManualClock::new(T0);
    let engine = Engine::builder(PostgresStore::clone(&store))
        .with_config(Config::default())
        .with_clock(Arc::new(clock.clone()))
        .build();
    let req = engine.begin(None);
    req.load()
        .await
        .expect("load")
        .insert("count", 3)
        .expect("insert");
    let out = req.finish(200).await;
    assert!(out.failure.is_none());
    let cookie = out.set_cookie[0]
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    let again = open(store.table()).await.expect("reconnect");
    let engine = Engine::builder(again)
        .with_config(Config::default())
        .with_clock(Arc::new(clock))
        .build();
    let s = engine.begin(Some(&cookie)).load().await.expect("load");
    assert_eq!(s.get::<i32>("count").expect("get"), Some(3));
}

#[tokio::test]
async fn describe_shows_no_password() {
    let url = url();
    // postgres://user@host/db → postgres://user:secret@host/db (trust auth ignores it).
    let with_password = match url.split_once("://").and_then(|(s, rest)| {
        let (user, host) = rest.split_once('@')?;
        (!user.contains(':')).then(|| format!("{s}://{user}:s3cret@{host}"))
    }) {
        Some(u) => u,
        None => url.clone(),
    };
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

/// Issue 15: `Create::Never` creates no table, and finds one that exists.
#[tokio::test]
async fn create_never_creates_nothing_and_finds_what_exists() {
    use sessionkit_core::store::Create;
    let table = table_name();
    let never = || {
        PostgresStore::builder(&url())
            .with_table(&table)
            .with_create(Create::Never)
            .connect()
    };
    let err = match never().await {
        Err(e) if e.kind() == StoreErrorKind::Unavailable => {
            sessionkit_testkit::require::<()>("PostgreSQL", Err(e.report()));
            return;
        }
        Err(e) => e,
        Ok(_) => panic!("a missing table was found"),
    };
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    assert!(
        err.report()
            .contains(&format!("table {table} not found in postgres://")),
        "{}",
        err.report()
    );
    let client = raw().await.expect("raw connection");
    let row = client
        .query_one(
            "SELECT to_regclass(quote_ident($1)) IS NULL, NOT EXISTS (SELECT 1 FROM sessionkit_schema WHERE tbl = $1)",
            &[&table],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1), "created");
    let _guard = dropping(&table);
    drop(open(&table).await.expect("made by IfMissing"));
    let store = never().await.expect("found with Never");
    assert!(matches!(
        store.load(&SessionKey::generate(), T0).await.unwrap(),
        Lookup::Missing
    ));
}
