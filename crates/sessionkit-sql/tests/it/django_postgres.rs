//! The Django-layout PostgreSQL store against a real server (`SESSIONKIT_TEST_POSTGRES_URL`):
//! the conformance suite's Django profile on tables of its own (`sktest_*`, see
//! [`crate::server`]), plus Django's formats, schemas and the missing-table rule.

use std::sync::atomic::{AtomicBool, Ordering};

use sessionkit_core::{SessionKey, SessionStore, StoreErrorKind};
use sessionkit_sql::django::{DjangoPostgresStore, Secrets};
use sessionkit_testkit::Profile;

use crate::django::{self, DjangoRow, secrets};
use crate::postgres::{dropping, raw, raw_exec, server_up, sweep_stale, url};
use crate::server::{self, Scoped, block_on_side, is_stale, table_name};

/// `(session_data, expire_date)`, the date as naive UTC text (PostgreSQL prints a
/// `timestamp` as Python's `str(datetime)` does).
async fn raw_row(table: &str, key: &SessionKey) -> (String, String) {
    let client = raw().await.expect("raw connection");
    let row = client
        .query_one(
            &format!(
                "SELECT session_data, (expire_date AT TIME ZONE 'UTC')::text FROM {table} WHERE session_key = $1"
            ),
            &[&key.as_str()],
        )
        .await
        .expect("row");
    (row.get(0), row.get(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_compare_bytes() {
    let Some(store) = fresh().await else { return };
    django::tokens_compare_bytes(&*store).await;
}

django::django_server_tests!(
    DjangoPostgresStore, "PostgreSQL",
    table: |t: &str| t.trim_matches('"').to_owned(),
    scheme: "postgres://"
);

// ---- the hooks of `django_server_tests!` ------------------------------------------------

async fn insert_django_row(table: &str, key: &SessionKey, row: &DjangoRow) {
    let client = raw().await.expect("raw connection");
    // What Django sends: an aware UTC datetime.
    client
        .execute(
            &format!(
                r#"INSERT INTO "{table}" (session_key, session_data, expire_date)
                 VALUES ($1, $2, ($3::text)::timestamp AT TIME ZONE 'UTC')"#
            ),
            &[&key.as_str(), &row.session_data, &row.expire_date],
        )
        .await
        .expect("insert");
}

/// PostgreSQL prints a `timestamp` as the vectors' SQLite text.
fn expire_text(sqlite_text: &str) -> String {
    sqlite_text.to_owned()
}

async fn table_exists(table: &str) -> bool {
    let client = raw().await.expect("raw connection");
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

fn shown(table: &str) -> String {
    format!(r#""{table}""#)
}

/// Creates `table` as Django with `USE_TZ = False` would find it in a database made by other
/// means: `expire_date` a `timestamp without time zone` (naive local times).
async fn naive_table(table: &str) {
    raw_exec(&format!(
        r#"CREATE TABLE "{table}" (session_key varchar(40) PRIMARY KEY, session_data text NOT NULL, expire_date timestamp NOT NULL)"#
    ))
    .await;
}

#[tokio::test]
async fn a_naive_expiry_needs_use_tz_false() {
    if !server_up().await {
        sessionkit_testkit::require("PostgreSQL", Err::<(), _>("unreachable".into()));
        return;
    }
    let table = table_name();
    let _guard = dropping(&table);
    naive_table(&table).await;
    let err = DjangoPostgresStore::builder(&url(), &secrets())
        .with_table(&table)
        .connect()
        .await
        .expect_err("USE_TZ = False layout");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(err.to_string().contains("USE_TZ = False"), "{err}");
}

#[tokio::test]
async fn bad_schema_names_are_refused() {
    let err = DjangoPostgresStore::builder(&url(), &secrets())
        .with_schema("bad-schema")
        .connect()
        .await
        .expect_err("bad schema name");
    assert!(err.to_string().contains("invalid schema name"), "{err}");
}

async fn drop_schema(schema: &str) {
    if let Some(client) = raw().await {
        let _ = client
            .batch_execute(&format!(r#"DROP SCHEMA IF EXISTS "{schema}" CASCADE"#))
            .await;
    }
}

/// Drops the test schemas a killed run left behind (once per process).
async fn sweep_stale_schemas() {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let Some(client) = raw().await else { return };
    let rows = client
        .query(
            r"SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'sktest\_%'",
            &[],
        )
        .await
        .unwrap_or_default();
    for name in rows.iter().filter_map(|r| r.try_get::<_, String>(0).ok()) {
        if is_stale(&name) {
            drop_schema(&name).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_holds_djangos_table() {
    let Some(client) = raw().await else {
        sessionkit_testkit::require("PostgreSQL", Err::<(), _>("unreachable".into()));
        return;
    };
    sweep_stale_schemas().await;
    let schema = table_name();
    let missing = DjangoPostgresStore::builder(&url(), &secrets())
        .with_schema(&schema)
        .create_table_if_missing()
        .connect()
        .await
        .expect_err("no such schema");
    assert_eq!(missing.kind(), StoreErrorKind::Config);
    assert!(
        missing
            .to_string()
            .contains(&format!("schema {schema} not found")),
        "{missing}"
    );
    client
        .batch_execute(&format!(r#"CREATE SCHEMA "{schema}""#))
        .await
        .unwrap();
    let _guard = {
        let schema = schema.clone();
        crate::server::scoped((), move || {
            block_on_side(async move { drop_schema(&schema).await })
        })
    };
    let err = DjangoPostgresStore::builder(&url(), &secrets())
        .with_schema(&schema)
        .connect()
        .await
        .expect_err("no table in the schema");
    assert!(
        err.to_string()
            .contains(&format!("table \"{schema}\".\"django_session\" not found")),
        "{err}"
    );
    let store = DjangoPostgresStore::builder(&url(), &secrets())
        .with_schema(schema.to_ascii_uppercase())
        .create_table_if_missing()
        .connect()
        .await
        .expect("create in the schema");
    assert_eq!(store.table(), format!(r#""{schema}"."django_session""#));
    assert!(
        store.describe().ends_with(&format!(
            r#" (django layout, table "{schema}"."django_session")"#
        )),
        "{}",
        store.describe()
    );
    // Django's own index names, in the schema.
    let mut indexes: Vec<String> = client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'django_session'",
            &[&schema],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    indexes.sort();
    assert_eq!(
        indexes,
        [
            "django_session_expire_date_a5c62663",
            "django_session_pkey",
            "django_session_session_key_c0390e0f_like"
        ]
    );
    let now = sessionkit_testkit::suite::NOW;
    let key = SessionKey::generate();
    let r = django::record(r#"{"n":1}"#, now + time::Duration::hours(1));
    store.create(&key, &r, now).await.expect("create");
    let n: i64 = client
        .query_one(
            &format!(r#"SELECT count(*) FROM "{schema}".django_session WHERE session_key = $1"#),
            &[&key.as_str()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    // The URL's search_path (as Django's OPTIONS set it) finds the same table.
    let base = url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let by_path = DjangoPostgresStore::connect(
        &format!("{base}{sep}options=-c%20search_path%3D{schema}"),
        &secrets(),
    )
    .await
    .expect("search_path in the URL");
    assert_eq!(by_path.table(), r#""django_session""#);
    assert!(matches!(
        by_path.load(&key, now).await.expect("load"),
        sessionkit_core::Lookup::Found { .. }
    ));
}

/// A `timestamp without time zone` expiry holds naive local times: accepted with
/// `USE_TZ = False`, read and written in `TIME_ZONE`.
#[tokio::test]
async fn use_tz_false_local_times() {
    let Some(client) = raw().await else {
        sessionkit_testkit::require("PostgreSQL", Err::<(), _>("unreachable".into()));
        return;
    };
    sweep_stale().await;
    let table = table_name();
    let _guard = dropping(&table);
    naive_table(&table).await;
    let store = DjangoPostgresStore::builder(&url(), &secrets())
        .with_table(&table)
        .with_django_time(django::new_york())
        .connect()
        .await
        .expect("USE_TZ = False accepts a naive column");
    assert!(store.naive_expire_date());
    django::local_times(
        &store,
        async |key| {
            let row = client
                .query_one(
                    &format!(r#"SELECT expire_date::text FROM "{table}" WHERE session_key = $1"#),
                    &[&key.as_str()],
                )
                .await
                .expect("row");
            row.get::<_, String>(0)[..19].to_owned()
        },
        async |key, naive| {
            client
                .execute(
                    &format!(
                        r#"UPDATE "{table}" SET expire_date = $1::text::timestamp WHERE session_key = $2"#
                    ),
                    &[&naive, &key.as_str()],
                )
                .await
                .expect("update");
        },
    )
    .await;
}

/// Django's own PostgreSQL table is `timestamp with time zone` whatever `USE_TZ` says:
/// with `USE_TZ = False` configured the store still reads and writes instants.
#[tokio::test]
async fn use_tz_false_on_djangos_table_keeps_instants() {
    let Some(store) = fresh_with_time(&secrets(), django::new_york()).await else {
        return;
    };
    // Created as Django's migrate creates it, whatever USE_TZ says.
    assert!(!store.naive_expire_date());
    let table = store.table().to_owned();
    let key = SessionKey::generate();
    let now = sessionkit_testkit::suite::NOW;
    let r = django::record("{}", now + time::Duration::hours(1));
    store.create(&key, &r, now).await.expect("create");
    let (_, expire) = raw_row(&table, &key).await;
    assert_eq!(
        expire,
        sessionkit_core::pytime::naive_utc_str(now + time::Duration::hours(1))
    );
}
