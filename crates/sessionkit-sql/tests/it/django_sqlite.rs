//! The Django-layout SQLite store: the conformance suite's Django profile on a temp file,
//! plus Django's formats, the journal mode and the missing-table rule.

use sessionkit_core::store::Page;
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use sessionkit_core::{SessionKey, SessionStore, StoreErrorKind};
use sessionkit_sql::django::{DjangoSqliteStore, Secrets};
use sessionkit_testkit::Profile;
use sessionkit_testkit::suite::NOW;

use crate::django::{self, anchor, secrets};
use crate::server::Scoped;

/// A fresh database file in a temp dir (removed with the store), Django's table created
/// by the store.
async fn fresh_with(secrets: &Secrets) -> Option<Scoped<DjangoSqliteStore>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = DjangoSqliteStore::builder(dir.path().join("db.sqlite3"), secrets)
        .create_table_if_missing()
        .open()
        .await
        .expect("open");
    Some(crate::server::scoped(store, move || drop(dir)))
}

async fn fresh() -> Option<Scoped<DjangoSqliteStore>> {
    fresh_with(&secrets()).await
}

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::django(), fresh());
}

fn conn(path: &Path) -> Connection {
    Connection::open(path).expect("raw connection")
}

/// `(session_data, expire_date)` exactly as stored, checking the date is TEXT.
fn raw(path: &Path, table: &str, key: &SessionKey) -> (String, String) {
    conn(path)
        .query_row(
            &format!(
                r#"SELECT session_data, expire_date, typeof(expire_date) FROM "{table}" WHERE session_key = ?1"#
            ),
            [key.as_str()],
            |r| {
                assert_eq!(r.get::<_, String>(2)?, "text");
                Ok((r.get(0)?, r.get(1)?))
            },
        )
        .expect("row")
}

/// A database made the way Django's `migrate` makes it (the vectors' DDL), in the
/// default rollback-journal mode.
fn django_database(dir: &Path) -> PathBuf {
    let path = dir.join("django.sqlite3");
    let c = conn(&path);
    for stmt in django::sqlite_schema() {
        c.execute(&stmt, []).expect("Django's DDL");
    }
    path
}

#[tokio::test]
async fn reads_rows_django_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = django_database(dir.path());
    let store = DjangoSqliteStore::open(&path, &anchor())
        .await
        .expect("open");
    django::reads_django_rows(&store, async |key, row| {
        conn(&path)
            .execute(
                "INSERT INTO django_session (session_key, session_data, expire_date) VALUES (?1, ?2, ?3)",
                [key.as_str(), &row.session_data, &row.expire_date],
            )
            .expect("insert");
    })
    .await;
}

#[tokio::test]
async fn writes_what_django_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = django_database(dir.path());
    let store = DjangoSqliteStore::open(&path, &anchor())
        .await
        .expect("open");
    django::writes_what_django_writes(
        &store,
        async |key| raw(&path, "django_session", key),
        str::to_owned,
    )
    .await;
}

#[tokio::test]
async fn creates_exactly_djangos_table_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    // No file: nothing is created.
    let err = DjangoSqliteStore::open(&path, &secrets())
        .await
        .expect_err("no database");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(
        err.to_string()
            .contains("run Django's `manage.py migrate`, or open with `create_table_if_missing`"),
        "{err}"
    );
    assert!(!path.exists(), "opening must not create the file");
    // A database without the table (another Django app's, say).
    conn(&path)
        .execute_batch("CREATE TABLE auth_user (id integer PRIMARY KEY)")
        .unwrap();
    let err = DjangoSqliteStore::open(&path, &secrets())
        .await
        .expect_err("no table");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(
        err.to_string()
            .contains("table django_session not found in ")
            && err.to_string().contains(
                "run Django's `manage.py migrate`, or open with `create_table_if_missing`"
            ),
        "{err}"
    );
    // Asked to: exactly Django's DDL.
    let store = DjangoSqliteStore::builder(&path, &secrets())
        .create_table_if_missing()
        .open()
        .await
        .expect("create");
    let ddl: Vec<String> = conn(&path)
        .prepare("SELECT sql FROM sqlite_master WHERE tbl_name = 'django_session' AND sql IS NOT NULL ORDER BY type DESC")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ddl, django::sqlite_schema());
    drop(store);
    // Opening again (table present) works without the option, and the option is idempotent.
    DjangoSqliteStore::open(&path, &secrets())
        .await
        .expect("reopen");
    DjangoSqliteStore::builder(&path, &secrets())
        .create_table_if_missing()
        .open()
        .await
        .expect("reopen with the option");
}

#[tokio::test]
async fn other_tables_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite3");
    conn(&path)
        .execute_batch("CREATE TABLE django_session (session_key text PRIMARY KEY, data text)")
        .unwrap();
    django::refused_as_not_djangos(DjangoSqliteStore::open(&path, &secrets()).await);
    let err = DjangoSqliteStore::builder(dir.path().join("x.db"), &secrets())
        .with_table("bad name; drop")
        .create_table_if_missing()
        .open()
        .await
        .expect_err("bad table name");
    assert!(err.to_string().contains("invalid table name"), "{err}");
    let junk = crate::sqlite::junk_database(dir.path());
    let err = DjangoSqliteStore::open(&junk, &secrets())
        .await
        .expect_err("not a database");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(err.report().contains("junk.db"), "{}", err.report());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_mode_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = django_database(dir.path());
    let mode = |p: &Path| -> String {
        conn(p)
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(mode(&path), "delete", "Django's default rollback journal");
    let store = DjangoSqliteStore::open(&path, &secrets())
        .await
        .expect("open");
    let r = django::record(r#"{"n":1}"#, NOW + time::Duration::hours(1));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let store = store.clone();
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            let key = SessionKey::generate();
            store.create(&key, &r, NOW).await.expect("create");
            store.load(&key, NOW).await.expect("load");
            store.delete(&key).await.expect("delete");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    store.clear_expired(NOW).await.expect("clear");
    drop(store);
    assert_eq!(mode(&path), "delete");
    assert!(!dir.path().join("django.sqlite3-wal").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_rows_are_missing_and_left_in_place() {
    let store = fresh().await.unwrap();
    let other = store.with_secrets(&Secrets::new("another-secret"));
    django::unreadable_rows_are_missing_and_left(&*store, &other).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_compare_bytes() {
    let store = fresh().await.unwrap();
    django::tokens_compare_bytes(&*store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn touch_moves_only_the_expiry() {
    let store = fresh().await.unwrap();
    let path = store.location().to_owned();
    django::touch_moves_only_the_expiry(&*store, async |key| raw(&path, "django_session", key))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_expired_reports_progress() {
    let store = fresh().await.unwrap();
    django::clear_reports_progress(&*store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_clean_each_row_once() {
    let a = fresh().await.unwrap();
    let b = DjangoSqliteStore::open(a.location(), &secrets())
        .await
        .expect("second store");
    let r = django::record("{}", NOW + time::Duration::seconds(1));
    for _ in 0..2100 {
        a.create(&SessionKey::generate(), &r, NOW)
            .await
            .expect("create");
    }
    let live = django::record("{}", NOW + time::Duration::hours(1));
    for _ in 0..5 {
        b.create(&SessionKey::generate(), &live, NOW)
            .await
            .expect("create");
    }
    let later = NOW + time::Duration::seconds(10);
    let (ra, rb) = tokio::join!(a.clear_expired(later), b.clear_expired(later));
    assert_eq!(ra.expect("first") + rb.expect("second"), 2100);
    let listed = b
        .listing()
        .unwrap()
        .list_boxed(Page::first(later, 100))
        .await
        .unwrap();
    assert_eq!(listed.len(), 5);
}

#[tokio::test]
async fn describe_names_the_file_and_layout() {
    let store = fresh().await.unwrap();
    assert_eq!(
        store.describe(),
        format!("sqlite://{} (django layout)", store.location().display())
    );
    assert_eq!(store.table(), "django_session");
}

#[tokio::test]
async fn use_tz_false_local_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = django_database(dir.path());
    let store = DjangoSqliteStore::builder(&path, &secrets())
        .with_django_time(django::new_york())
        .open()
        .await
        .expect("open");
    assert_eq!(store.django_time().time_zone(), "America/New_York");
    assert!(
        store
            .describe()
            .ends_with(r#"(django layout, USE_TZ = False, TIME_ZONE = "America/New_York")"#),
        "{}",
        store.describe()
    );
    django::local_times(
        &store,
        async |key| raw(&path, "django_session", key).1[..19].to_owned(),
        async |key, naive| {
            conn(&path)
                .execute(
                    "UPDATE django_session SET expire_date = ?1 WHERE session_key = ?2",
                    [naive, key.as_str()],
                )
                .expect("update");
        },
    )
    .await;
}
