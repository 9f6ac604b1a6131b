//! The Django-layout MySQL / MariaDB store against a real server
//! (`SESSIONKIT_TEST_MYSQL_URL`): the conformance suite's Django profile on tables of its
//! own (`sktest_*`, see [`crate::server`]), plus Django's formats, a database of its own
//! and the missing-table rule.

use std::sync::atomic::{AtomicBool, Ordering};

use mysql_async::Row;
use mysql_async::prelude::Queryable;
use sessionkit_core::{Lookup, SessionKey, SessionStore, StoreErrorKind};
use sessionkit_sql::django::{DjangoMySqlStore, Secrets};
use sessionkit_testkit::Profile;

use crate::django::{self, DjangoRow, secrets};
use crate::mysql::{dropping, raw, raw_exec, server_up, sweep_stale, url};
use crate::server::{self, Scoped, block_on_side, is_stale, table_name};

/// `(session_data, expire_date)` as the server prints them.
async fn raw_row(table: &str, key: &SessionKey) -> (String, String) {
    let mut conn = raw().await.expect("raw connection");
    let row: Option<(String, String)> = conn
        .exec_first(
            format!("SELECT session_data, CAST(expire_date AS CHAR) FROM `{table}` WHERE session_key = ?"),
            (key.as_str(),),
        )
        .await
        .expect("select");
    let _ = conn.disconnect().await;
    row.expect("row")
}

/// The vector's SQLite text as `CAST(datetime(6) AS CHAR)` prints it: always six digits.
fn expire_text(text: &str) -> String {
    if text.contains('.') {
        text.to_owned()
    } else {
        format!("{text}.000000")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_compare_bytes_under_a_case_insensitive_collation() {
    let Some(store) = fresh().await else { return };
    let mut conn = raw().await.expect("raw connection");
    let collation: Option<String> = conn
        .exec_first(
            "SELECT collation_name FROM information_schema.columns
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'session_data'",
            (store.table(),),
        )
        .await
        .expect("collation");
    let _ = conn.disconnect().await;
    eprintln!("session_data collation: {collation:?}");
    django::tokens_compare_bytes(&*store).await;
}

django::django_server_tests!(
    DjangoMySqlStore, "MySQL",
    table: |t: &str| t.to_owned(),
    scheme: "mysql://"
);

// ---- the hooks of `django_server_tests!` ------------------------------------------------

async fn insert_django_row(table: &str, key: &SessionKey, row: &DjangoRow) {
    let mut conn = raw().await.expect("raw connection");
    // What Django sends: naive UTC.
    conn.exec_drop(
        format!("INSERT INTO `{table}` (session_key, session_data, expire_date) VALUES (?, ?, ?)"),
        (key.as_str(), &row.session_data, &row.expire_date),
    )
    .await
    .expect("insert");
    let _ = conn.disconnect().await;
}

async fn table_exists(table: &str) -> bool {
    let mut conn = raw().await.expect("raw connection");
    let found: Option<Row> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            (table,),
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    found.is_some()
}

fn shown(table: &str) -> String {
    table.to_owned()
}

async fn drop_database(name: &str) {
    if let Some(mut conn) = raw().await {
        let _ = conn
            .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .await;
        let _ = conn.disconnect().await;
    }
}

/// Drops the test databases a killed run left behind (once per process).
async fn sweep_stale_databases() {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(mut conn) = raw().await else { return };
    let names: Vec<String> = conn
        .query(
            r"SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata
              WHERE schema_name LIKE 'sktest\\_%'",
        )
        .await
        .unwrap_or_default();
    let _ = conn.disconnect().await;
    for name in names {
        if is_stale(&name) {
            drop_database(&name).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_of_its_own() {
    let Some(mut conn) = raw().await else {
        sessionkit_testkit::require("MySQL", Err::<(), _>("unreachable".into()));
        return;
    };
    sweep_stale_databases().await;
    let name = table_name();
    let err = DjangoMySqlStore::builder(&url(), &secrets())
        .with_database(&name)
        .create_table_if_missing()
        .connect()
        .await
        .expect_err("no such database");
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    // As Django's test harness makes it.
    conn.query_drop(format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        .await
        .unwrap();
    let _guard = {
        let name = name.clone();
        crate::server::scoped((), move || {
            block_on_side(async move { drop_database(&name).await })
        })
    };
    let err = DjangoMySqlStore::builder(&url(), &secrets())
        .with_database(&name)
        .connect()
        .await
        .expect_err("no table yet");
    assert!(
        err.to_string()
            .contains("table django_session not found in mysql://")
            && err.to_string().contains(&format!("/{name}:")),
        "{err}"
    );
    let store = DjangoMySqlStore::builder(&url(), &secrets())
        .with_database(&name)
        .create_table_if_missing()
        .connect()
        .await
        .expect("create in the database");
    assert!(
        store
            .describe()
            .ends_with(&format!("/{name} (django layout)")),
        "{}",
        store.describe()
    );
    let ddl: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE `{name}`.`django_session`"))
        .await
        .unwrap();
    let ddl = ddl.expect("table").1;
    for part in [
        "`session_key` varchar(40) NOT NULL",
        "`session_data` longtext NOT NULL",
        "`expire_date` datetime(6) NOT NULL",
        "PRIMARY KEY (`session_key`)",
        "KEY `django_session_expire_date_a5c62663` (`expire_date`)",
    ] {
        assert!(ddl.contains(part), "{part} missing from {ddl}");
    }
    let now = sessionkit_testkit::suite::NOW;
    let key = SessionKey::generate();
    let r = django::record(r#"{"n":1}"#, now + time::Duration::hours(1));
    store.create(&key, &r, now).await.expect("create");
    let n: Option<i64> = conn
        .exec_first(
            format!("SELECT count(*) FROM `{name}`.django_session WHERE session_key = ?"),
            (key.as_str(),),
        )
        .await
        .unwrap();
    assert_eq!(n, Some(1));
    assert!(matches!(
        store.load(&key, now).await.expect("load"),
        Lookup::Found { .. }
    ));
    let _ = conn.disconnect().await;
    store.disconnect().await.expect("disconnect");
}

#[tokio::test]
async fn use_tz_false_local_times() {
    let Some(store) = fresh_with_time(&secrets(), django::new_york()).await else {
        return;
    };
    let table = store.table().to_owned();
    django::local_times(
        &*store,
        async |key| raw_row(&table, key).await.1[..19].to_owned(),
        async |key, naive| {
            let mut conn = raw().await.expect("raw connection");
            conn.exec_drop(
                format!("UPDATE `{table}` SET expire_date = ? WHERE session_key = ?"),
                (naive, key.as_str()),
            )
            .await
            .expect("update");
            let _ = conn.disconnect().await;
        },
    )
    .await;
}
