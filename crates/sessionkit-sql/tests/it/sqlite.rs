use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::{Clock, Config, Engine, ManualClock, SessionStore};
use sessionkit_sql::SqliteStore;
use sessionkit_testkit::Profile;

async fn fresh() -> Option<SqliteStore> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.keep().join("sessions.sqlite3");
    Some(SqliteStore::open(&path).await.expect("open"))
}

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::full(), fresh());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_transactions() {
    let store = fresh().await.unwrap();
    let engine = Engine::new(store.clone(), Config::default());
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let engine = engine.clone();
        tasks.push(tokio::spawn(async move {
            let req = engine.begin(None);
            req.load().await.unwrap().insert("count", 1).unwrap();
            req.finish(200).await
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap().failure.is_none());
    }
    let stats = store.write_stats();
    assert_eq!(stats.writes, 200);
    assert!(stats.max_batch > 1, "no batching happened: {stats:?}");
    assert!(stats.batches < 200, "{stats:?}");
}

#[tokio::test]
async fn sessions_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let clock = ManualClock::now_frozen();
    let cookie = {
        let store = SqliteStore::open(&path).await.unwrap();
        let engine = Engine::builder(store)
            .with_config(Config::default())
            .with_clock(Arc::new(clock.clone()))
            .build();
        let req = engine.begin(None);
        req.load().await.unwrap().insert("count", 3).unwrap();
        let out = req.finish(200).await;
        out.set_cookie[0].split(';').next().unwrap().to_owned()
    };
    let store = SqliteStore::open(&path).await.unwrap();
    let engine = Engine::builder(store)
        .with_config(Config::default())
        .with_clock(Arc::new(clock))
        .build();
    let s = engine.begin(Some(&cookie)).load().await.unwrap();
    assert_eq!(s.get::<i32>("count").unwrap(), Some(3));
}

#[tokio::test]
async fn clear_expired_works_in_batches() {
    let store = fresh().await.unwrap();
    let clock = ManualClock::now_frozen();
    let engine = Engine::builder(store.clone())
        .with_config(Config::builder().cookie_age(10).build().unwrap())
        .with_clock(Arc::new(clock.clone()))
        .build();
    for _ in 0..2500 {
        let req = engine.begin(None);
        req.load().await.unwrap().insert("x", 1).unwrap();
        req.finish(200).await;
    }
    clock.advance(Duration::from_secs(11));
    let batches_before = store.write_stats().batches;
    assert_eq!(store.clear_expired(clock.now()).await.unwrap(), 2500);
    assert!(
        store.write_stats().batches - batches_before >= 3,
        "one transaction per 1000 rows"
    );
}

#[tokio::test]
async fn clear_errors_for_bad_paths_and_names() {
    let err = SqliteStore::open("/nonexistent-dir/x/s.sqlite3")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteStore::open_with_table(dir.path().join("a.db"), "bad name; drop")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid table name"), "{err}");
    // A file that is not a database.
    let junk = junk_database(dir.path());
    let err = SqliteStore::open(&junk).await.unwrap_err();
    assert!(err.report().contains("junk.db"), "{}", err.report());
}

#[tokio::test]
async fn newer_layout_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    drop(SqliteStore::open(&path).await.unwrap());
    let conn = rusqlite_conn(&path);
    conn.execute("UPDATE sessionkit_schema SET version = 99", [])
        .unwrap();
    drop(conn);
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        err.report().contains("layout version 99"),
        "{}",
        err.report()
    );
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// Issue 15: `Create::Never` creates no file and no table, and finds what exists.
#[tokio::test]
async fn create_never_creates_nothing_and_finds_what_exists() {
    use sessionkit_core::store::Create;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let never = || {
        SqliteStore::builder(&path)
            .with_create(Create::Never)
            .open()
    };
    let err = never().await.unwrap_err();
    assert_eq!(err.kind(), sessionkit_core::StoreErrorKind::Config);
    assert!(err.report().contains("does not exist"), "{}", err.report());
    assert!(!path.exists());
    // A database of someone else: no table is added, the journal mode is not switched.
    rusqlite_conn(&path)
        .execute_batch("CREATE TABLE notes (x)")
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = never().await.unwrap_err();
    assert!(
        err.report().contains("table sessionkit_session not found"),
        "{}",
        err.report()
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // Made by the default (IfMissing), then opened with Never: the same sessions.
    let made = SqliteStore::builder(&path)
        .with_table("t1")
        .open()
        .await
        .unwrap();
    let key = sessionkit_core::SessionKey::generate();
    let now = time::OffsetDateTime::now_utc();
    let record = sessionkit_core::Record {
        data: sessionkit_core::Data::default(),
        expires_at: now + time::Duration::hours(1),
        meta: sessionkit_core::Metadata::default(),
    };
    made.create(&key, &record, now).await.unwrap();
    drop(made);
    let found = SqliteStore::builder(&path)
        .with_table("t1")
        .with_create(Create::Never)
        .open()
        .await
        .unwrap();
    assert!(matches!(
        found.load(&key, now).await.unwrap(),
        sessionkit_core::Lookup::Found { .. }
    ));
}

/// Issue 15: an older layout version is refused by both ways of opening, and the version
/// row is left alone (no migration, on a read or otherwise: version 1 is the first).
#[tokio::test]
async fn older_layout_version_is_refused_not_migrated() {
    use sessionkit_core::store::Create;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    drop(SqliteStore::open(&path).await.unwrap());
    rusqlite_conn(&path)
        .execute("UPDATE sessionkit_schema SET version = 0", [])
        .unwrap();
    for create in [Create::Never, Create::IfMissing] {
        let err = SqliteStore::builder(&path)
            .with_create(create)
            .open()
            .await
            .unwrap_err();
        assert!(err.report().contains("no upgrade"), "{}", err.report());
    }
    let v: i64 = rusqlite_conn(&path)
        .query_row("SELECT version FROM sessionkit_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 0);
}

/// A file named `junk.db` in `dir` that is not an SQLite database.
pub(crate) fn junk_database(dir: &std::path::Path) -> std::path::PathBuf {
    let junk = dir.join("junk.db");
    std::fs::write(
        &junk,
        b"this is not an sqlite database, not at all, no no no",
    )
    .unwrap();
    junk
}

/// Issue 19: a version 1 table made with the old DDL is upgraded to version 2 by opening
/// with `Create::IfMissing` (not by `Create::Never`, which refuses it and names the way),
/// keeping its rows; opening again changes nothing; the device-metadata columns are then
/// written and read; a newer version is still refused. (The shared checks live in
/// `server`, compiled with the `django` feature.)
#[cfg(feature = "django")]
#[tokio::test]
async fn a_version_1_table_is_upgraded_keeping_its_rows() {
    use sessionkit_core::SessionKey;
    use sessionkit_core::store::Create;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let key = SessionKey::generate();
    rusqlite_conn(&path)
        .execute_batch(&format!(
            "CREATE TABLE sessionkit_schema (tbl TEXT PRIMARY KEY, version INTEGER NOT NULL);
             CREATE TABLE sessionkit_session (
                 session_key TEXT PRIMARY KEY,
                 data TEXT NOT NULL,
                 version INTEGER NOT NULL,
                 expires_at INTEGER NOT NULL,
                 created_at INTEGER NOT NULL,
                 last_seen INTEGER NOT NULL,
                 user_id TEXT,
                 retired INTEGER NOT NULL DEFAULT 0
             ) WITHOUT ROWID;
             CREATE INDEX sessionkit_session_expires_at ON sessionkit_session (expires_at);
             CREATE INDEX sessionkit_session_user_id ON sessionkit_session (user_id) WHERE user_id IS NOT NULL;
             INSERT INTO sessionkit_schema (tbl, version) VALUES ('sessionkit_session', 1);
             INSERT INTO sessionkit_session VALUES ('{key}', '{data}', 1, {exp}, {t0}, {t0}, 'u1', 0);",
            key = key.as_str(),
            data = crate::server::V1_DATA,
            t0 = crate::server::T0.unix_timestamp() * 1_000_000,
            exp = (crate::server::T0.unix_timestamp() + 3600) * 1_000_000,
        ))
        .unwrap();
    let err = SqliteStore::builder(&path)
        .with_create(Create::Never)
        .open()
        .await
        .unwrap_err();
    assert!(
        err.report().contains("Create::IfMissing"),
        "{}",
        err.report()
    );
    let store = SqliteStore::open(&path).await.unwrap();
    crate::server::v1_row_kept(&store, &key).await;
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    crate::server::v1_row_kept(&store, &key).await;
    sessionkit_testkit::suite::client_info_round_trips(&store, &Profile::full()).await;
    drop(store);
    let version: i64 = rusqlite_conn(&path)
        .query_row("SELECT version FROM sessionkit_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    rusqlite_conn(&path)
        .execute("UPDATE sessionkit_schema SET version = 3", [])
        .unwrap();
    let err = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        err.report().contains("layout version 3"),
        "{}",
        err.report()
    );
}
