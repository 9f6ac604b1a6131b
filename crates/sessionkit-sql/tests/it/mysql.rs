//! The MySQL / MariaDB store against a real server (`SESSIONKIT_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`). Each store works on tables of its own; see
//! [`crate::server`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row};
use sessionkit_core::{
    Config, Engine, Lookup, ManualClock, SessionKey, SessionStore, StoreErrorKind,
};
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
    Scoped::new((), move || {
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
    silent: "mysql://root@127.0.0.1:{port}/test"
);

#[tokio::test]
async fn bad_urls_tables_and_databases_are_config_errors() {
    let err = MySqlStore::builder(&url())
        .with_table("bad name; drop")
        .connect()
        .await
        .expect_err("bad table name");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(err.to_string().contains("invalid table name"), "{err}");
    let err = MySqlStore::connect("mysql://a@b:notaport/c")
        .await
        .expect_err("bad URL");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    let err = MySqlStore::connect("mysql://root@127.0.0.1:3306")
        .await
        .expect_err("no database");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    // A database that does not exist (when the server is there to say so).
    let Some(conn) = raw().await else { return };
    let _ = conn.disconnect().await;
    let url = url();
    let Some((base, _db)) = url.split('?').next().and_then(|u| u.rsplit_once('/')) else {
        return;
    };
    let err = MySqlStore::connect(&format!("{base}/sessionkit_no_such_db"))
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
    store.disconnect().await.expect("disconnect");
    drop(store);
    let mut conn = raw().await.expect("raw connection");
    conn.exec_drop(
        "UPDATE sessionkit_schema SET version = 99 WHERE tbl = ?",
        (&table,),
    )
    .await
    .expect("update");
    let _ = conn.disconnect().await;
    let err = MySqlStore::builder(&url())
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
    let mut conn = raw().await.expect("raw connection");
    conn.query_drop(format!("ANALYZE TABLE `{}`", store.table()))
        .await
        .expect("analyze");
    let _ = conn.disconnect().await;
    let plan = store.explain_clear_expired(at(10)).await.expect("explain");
    eprintln!("{plan}");
    let index = format!("key={}_expires_at", store.table());
    assert!(
        plan.contains(&index),
        "the cleanup does not use the expiry index:\n{plan}"
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
    let mut conn = raw().await.expect("raw connection");
    conn.exec_drop(
        format!(
            "UPDATE `{}` SET data = 'not json {{' WHERE session_key = ?",
            store.table()
        ),
        (key.as_str(),),
    )
    .await
    .expect("corrupt");
    assert!(matches!(
        store.load(&key, T0).await.expect("load"),
        Lookup::Missing
    ));
    let row: Option<Row> = conn
        .exec_first(
            format!("SELECT data FROM `{}` WHERE session_key = ?", store.table()),
            (key.as_str(),),
        )
        .await
        .expect("select");
    let data: Option<String> = row.and_then(|mut r| r.take(0));
    assert_eq!(data.as_deref(), Some("not json {"));
    let _ = conn.disconnect().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_reconnecting() {
    let Some(store) = fresh().await else { return };
    let clock = ManualClock::new(T0);
    let engine = Engine::builder(MySqlStore::clone(&store))
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

/// Issue 15: `Create::Never` creates no table, and finds one that exists.
#[tokio::test]
async fn create_never_creates_nothing_and_finds_what_exists() {
    use sessionkit_core::store::Create;
    let table = table_name();
    let never = || {
        MySqlStore::builder(&url())
            .with_table(&table)
            .with_create(Create::Never)
            .connect()
    };
    let err = match never().await {
        Err(e) if e.kind() == StoreErrorKind::Unavailable => {
            sessionkit_testkit::require::<()>("MySQL", Err(e.report()));
            return;
        }
        Err(e) => e,
        Ok(_) => panic!("a missing table was found"),
    };
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    assert!(
        err.report()
            .contains(&format!("table {table} not found in mysql://")),
        "{}",
        err.report()
    );
    let mut conn = raw().await.expect("raw connection");
    let found: Option<i64> = conn
        .exec_first(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?, ?)",
            (&table, format!("{table}_lease")),
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    assert_eq!(found, Some(0), "created");
    let _guard = dropping(&table);
    drop(open(&table).await.expect("made by IfMissing"));
    let store = never().await.expect("found with Never");
    assert!(matches!(
        store.load(&SessionKey::generate(), T0).await.unwrap(),
        Lookup::Missing
    ));
    store.disconnect().await.unwrap();
}
