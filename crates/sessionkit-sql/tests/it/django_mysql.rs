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

use crate::django::{self, anchor, secrets};
use crate::mysql::{dropping, raw, sweep_stale, url};
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
fn six_digits(text: &str) -> String {
    if text.contains('.') {
        text.to_owned()
    } else {
        format!("{text}.000000")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_rows_django_wrote() {
    let Some(store) = fresh_with(&anchor()).await else {
        return;
    };
    let table = store.table().to_owned();
    django::reads_django_rows(&*store, async |key, row| {
        let mut conn = raw().await.expect("raw connection");
        // What Django sends: naive UTC.
        conn.exec_drop(
            format!(
                "INSERT INTO `{table}` (session_key, session_data, expire_date) VALUES (?, ?, ?)"
            ),
            (key.as_str(), &row.session_data, &row.expire_date),
        )
        .await
        .expect("insert");
        let _ = conn.disconnect().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_what_django_writes() {
    let Some(store) = fresh_with(&anchor()).await else {
        return;
    };
    let table = store.table().to_owned();
    django::writes_what_django_writes(&*store, async |key| raw_row(&table, key).await, six_digits)
        .await;
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

django::django_server_tests!(DjangoMySqlStore, "MySQL", table: |t: &str| t.to_owned());

#[tokio::test]
async fn a_missing_table_is_a_clear_config_error() {
    let table = table_name();
    let result = DjangoMySqlStore::builder(&url(), &secrets())
        .with_table(&table)
        .connect()
        .await;
    let Err(err) = result else {
        panic!("connected without a table")
    };
    if err.kind() == StoreErrorKind::Unavailable {
        sessionkit_testkit::require("MySQL", Err::<(), _>(err.report()));
        return;
    }
    assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("table {table} not found in mysql://"))
            && msg.contains(
                "run Django's `manage.py migrate`, or open with `create_table_if_missing`"
            ),
        "{msg}"
    );
    let mut conn = raw().await.expect("raw connection");
    let found: Option<Row> = conn
        .exec_first(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            (&table,),
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    assert!(found.is_none(), "nothing created");
}

#[tokio::test]
async fn tables_of_other_shapes_are_refused() {
    let Some(mut conn) = raw().await else {
        sessionkit_testkit::require("MySQL", Err::<(), _>("unreachable".into()));
        return;
    };
    let table = table_name();
    let _guard = dropping(&table);
    conn.query_drop(format!(
        "CREATE TABLE `{table}` (session_key varchar(40) PRIMARY KEY, data longtext)"
    ))
    .await
    .unwrap();
    let _ = conn.disconnect().await;
    let err = DjangoMySqlStore::builder(&url(), &secrets())
        .with_table(&table)
        .connect()
        .await
        .expect_err("not Django's table");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(
        err.to_string().contains("is not Django's session table"),
        "{err}"
    );
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
        Scoped::new((), move || {
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
async fn describe_shows_no_password() {
    let Some(store) = fresh().await else { return };
    let url = url();
    let with_password = match url.split_once("://").and_then(|(s, rest)| {
        let (user, host) = rest.split_once('@')?;
        (!user.contains(':')).then(|| format!("{s}://{user}:s3cret@{host}"))
    }) {
        Some(u) => u,
        None => url.clone(),
    };
    let Ok(again) = DjangoMySqlStore::builder(&with_password, &secrets())
        .with_table(store.table())
        .connect()
        .await
    else {
        // A server that checks passwords refuses the made-up one.
        return;
    };
    let described = again.describe();
    assert!(!described.contains("s3cret"), "{described}");
    assert!(
        described.starts_with("mysql://")
            && described.ends_with(&format!(" (django layout, table {})", store.table())),
        "{described}"
    );
}

#[tokio::test]
async fn use_tz_false_local_times() {
    sweep_stale().await;
    let table = table_name();
    let Some(store) = sessionkit_testkit::require_store(
        "MySQL",
        DjangoMySqlStore::builder(&url(), &secrets())
            .with_table(&table)
            .create_table_if_missing()
            .with_django_time(django::new_york())
            .connect()
            .await,
    ) else {
        return;
    };
    let _guard = dropping(&table);
    django::local_times(
        &store,
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
