//! Issue 15 (items 3 and 4): the commands that read or act on existing sessions
//! (`inspect`, `list`, `revoke`, `clear-expired`) create nothing on any store: a missing
//! database, table or directory is a failure (exit 1) that names it; `memory://` is
//! refused; a table of another layout version is refused without being changed; SQLite
//! errors name the path, the cause and what to do. `serve` still creates its store.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use crate::http::Jar;
use crate::serve::{free_port, run, run_with, serve};
use crate::support::{mysql_url, postgres_url};

const BIN: &str = env!("CARGO_BIN_EXE_sessionkit");
const KEY: &str = "abcdefgh12345678";

/// Every store-only command, against `store`, with `extra` options.
fn commands<'a>(store: &'a str, extra: &[&'a str]) -> Vec<Vec<&'a str>> {
    let base: [&[&str]; 5] = [
        &["list"],
        &["inspect", KEY],
        &["clear-expired"],
        &["revoke", "--key", KEY],
        &["revoke", "--user", "alice"],
    ];
    base.iter()
        .map(|c| {
            let mut v = c.to_vec();
            v.extend(["--store", store]);
            v.extend(extra);
            v
        })
        .collect()
}

/// Every path under `dir`, recursively.
fn tree(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.insert(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() {
                todo.push(p);
            }
        }
    }
    out
}

/// Runs every store-only command against `store`; each must fail with exit 1 and a message
/// containing every one of `wants`, and leave `dir` as it was.
fn refused_everywhere(
    dir: &Path,
    store: &str,
    extra: &[&str],
    env: &[(&str, &str)],
    wants: &[&str],
) {
    let before = tree(dir);
    for args in commands(store, extra) {
        let (code, out, err) = run_with(&args, dir, env);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        for want in wants {
            assert!(err.contains(want), "{args:?}: wanted {want:?} in: {err}");
        }
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert_eq!(tree(dir), before, "{args:?} created something");
    }
}

#[test]
fn issue_15_a_missing_sqlite_file_or_directory_is_named_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let abs = dir.path().join("typo.sqlite3");
    let abs_url = format!("sqlite://{}", abs.display());
    for (store, wants) in [
        (
            "sqlite://typo.sqlite3",
            vec![
                "SQLite database typo.sqlite3 does not exist",
                "check the path",
            ],
        ),
        (
            abs_url.as_str(),
            vec![&*format!(
                "SQLite database {} does not exist",
                abs.display()
            )],
        ),
        (
            "sqlite://nodir/s.sqlite3",
            vec!["directory nodir does not exist"],
        ),
    ] {
        refused_everywhere(dir.path(), store, &[], &[], &wants);
    }
    assert!(tree(dir.path()).is_empty());
}

#[test]
fn issue_15_a_missing_file_store_directory_is_named_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("sessions");
    let url = format!("file://{}", missing.display());
    let wants = format!("session directory {} does not exist", missing.display());
    refused_everywhere(dir.path(), &url, &[], &[], &[&wants]);
    refused_everywhere(
        dir.path(),
        &url,
        &["--layout", "django"],
        &[("SESSIONKIT_SECRET_KEY", "readonly-test-secret")],
        &[&wants, "SESSION_FILE_PATH"],
    );
    assert!(tree(dir.path()).is_empty());
}

/// An existing file-store directory: reading creates not even the lock directory.
#[test]
fn issue_15_reading_a_file_store_creates_no_lock_directory() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    for args in [
        vec!["list", "--store", &url],
        vec!["inspect", "--store", &url, KEY],
    ] {
        let (code, _, err) = run(&args, dir.path());
        assert!(code <= 1, "{args:?}: {err}");
        assert!(!err.contains("does not exist"), "{args:?}: {err}");
    }
    assert!(tree(dir.path()).is_empty(), "{:?}", tree(dir.path()));
}

#[test]
fn issue_15_django_layout_on_a_missing_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    refused_everywhere(
        dir.path(),
        "sqlite://db.sqlite3",
        &["--layout", "django"],
        &[("SESSIONKIT_SECRET_KEY", "readonly-test-secret")],
        &["db.sqlite3 not found", "manage.py migrate"],
    );
}

/// An SQLite file without sessionkit's table (another application's database): named,
/// and the file is left exactly as it was — no table, no journal-mode switch.
#[test]
fn issue_15_an_sqlite_file_without_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite3");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (x)")
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    refused_everywhere(
        dir.path(),
        "sqlite://app.sqlite3",
        &[],
        &[],
        &[
            "table sessionkit_session not found in SQLite database app.sqlite3",
            "nothing was created",
            "sessionkit serve",
        ],
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "the file changed");
}

/// Asserts that the command `args` failed (exit code 1) with an error naming each of `wants`.
#[track_caller]
fn assert_refused(args: &[&str], code: i32, err: &str, wants: &[&str]) {
    assert_eq!(code, 1, "{args:?}: {err}");
    for want in wants {
        assert!(err.contains(want), "{args:?}: wanted {want:?} in: {err}");
    }
}

/// Runs `sessionkit serve` on `store` in `dir` (which creates the store), signs alice in
/// when given a `jar`, and stops the server again.
fn serve_once(dir: &Path, store: &str, jar: Option<&mut Jar>) {
    let port = free_port();
    let _server = serve(dir, port, Some(store));
    if let Some(jar) = jar {
        jar.get(&format!("127.0.0.1:{port}"), "/login?user=alice");
    }
}

/// A table whose recorded layout version is not this build's: refused with the reason,
/// never migrated (the version row and the file stay as they were).
#[test]
fn issue_15_another_layout_version_is_refused_not_migrated() {
    let dir = tempfile::tempdir().unwrap();
    // A real store, made by `serve`.
    serve_once(dir.path(), "sqlite://s.sqlite3", None);
    let path = dir.path().join("s.sqlite3");
    // Version 1 (before issue 19's device-metadata columns) is upgraded only by `serve`:
    // the store commands refuse it, say how, and leave it alone.
    for (version, wants) in [
        (0, ["layout version 0", "no upgrade"]),
        (1, ["layout version 1", "Create::IfMissing"]),
        (3, ["layout version 3", "newer sessionkit"]),
    ] {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE sessionkit_schema SET version = ?1 WHERE tbl = 'sessionkit_session'",
            [version],
        )
        .unwrap();
        drop(conn);
        for args in commands("sqlite://s.sqlite3", &[]) {
            let (code, _, err) = run(&args, dir.path());
            assert_refused(&args, code, &err, &wants);
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        let found: i64 = conn
            .query_row(
                "SELECT version FROM sessionkit_schema WHERE tbl = 'sessionkit_session'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, version, "the version row was changed");
    }
}

#[test]
fn issue_15_memory_is_refused_by_store_commands() {
    let dir = tempfile::tempdir().unwrap();
    refused_everywhere(
        dir.path(),
        "memory://",
        &[],
        &[],
        &["memory://", "new, empty store in every process"],
    );
}

/// `serve` creates its store (Create::IfMissing): the SQLite file and table, and the file
/// store's lock directory; the read commands then find them.
#[test]
fn issue_15_serve_still_creates() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    std::fs::create_dir(&sessions).unwrap();
    let file_url = format!("file://{}", sessions.display());
    for store in ["sqlite://new.sqlite3", file_url.as_str()] {
        serve_once(dir.path(), store, Some(&mut Jar::default()));
        let (code, out, err) = run(&["list", "--store", store], dir.path());
        assert_eq!(code, 0, "{store}: {err}");
        assert_eq!(out.lines().count(), 1, "{store}: {out}");
    }
    assert!(dir.path().join("new.sqlite3").is_file());
    assert!(sessions.join(".locks").is_dir());
}

/// A server database without sessionkit's tables (`scheme`: how the error names the server):
/// every store command names the missing table and creates nothing.
fn refused_without_the_table(url: &str, scheme: &str) {
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("table sessionkit_session not found in {scheme}://");
    refused_everywhere(
        dir.path(),
        url,
        &[],
        &[],
        &[&missing, "nothing was created"],
    );
}

/// PostgreSQL: a schema of its own (on the search path) without sessionkit's tables.
#[test]
fn issue_15_a_missing_postgres_table_is_named_and_not_created() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(client) = rt.block_on(async {
        let found = tokio_postgres::connect(&postgres_url(), tokio_postgres::NoTls)
            .await
            .map_err(|e| e.to_string());
        let (client, conn) =
            sessionkit_testkit::require(sessionkit_testkit::services::POSTGRES, found)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Some(client)
    }) else {
        return;
    };
    let schema = format!("sk_readonly_{}", std::process::id());
    rt.block_on(client.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    )))
    .unwrap();
    let sep = if postgres_url().contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{}{sep}options=-csearch_path%3D{schema}", postgres_url());
    refused_without_the_table(&url, "postgres");
    let tables: i64 = rt
        .block_on(client.query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        ))
        .unwrap()
        .get(0);
    rt.block_on(client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")))
        .unwrap();
    assert_eq!(tables, 0, "tables were created in {schema}");
}

/// MySQL: a database of its own without sessionkit's tables.
#[test]
fn issue_15_a_missing_mysql_table_is_named_and_not_created() {
    use mysql_async::prelude::Queryable;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let base = mysql_url();
    let Some(mut conn) = rt.block_on(async {
        let found = mysql_async::Conn::from_url(&base)
            .await
            .map_err(|e| e.to_string());
        sessionkit_testkit::require(sessionkit_testkit::services::MYSQL, found)
    }) else {
        return;
    };
    let db = format!("sk_readonly_{}", std::process::id());
    rt.block_on(conn.query_drop(format!("DROP DATABASE IF EXISTS {db}")))
        .unwrap();
    rt.block_on(conn.query_drop(format!("CREATE DATABASE {db}")))
        .unwrap();
    let url = format!("{}/{db}", base.rsplit_once('/').unwrap().0);
    refused_without_the_table(&url, "mysql");
    let tables: Option<i64> = rt
        .block_on(conn.exec_first(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = ?",
            (db.as_str(),),
        ))
        .unwrap();
    rt.block_on(conn.query_drop(format!("DROP DATABASE {db}")))
        .unwrap();
    rt.block_on(conn.disconnect()).unwrap();
    assert_eq!(tables, Some(0), "tables were created in {db}");
}

// ---------------------------------------------------------------------------------------
// Item 4: SQLite errors that name the path, the cause and what to do.

#[test]
fn issue_15_a_file_that_is_not_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "x".repeat(4096)).unwrap();
    for args in commands("sqlite://notes.txt", &[]) {
        let (code, _, err) = run(&args, dir.path());
        assert_refused(
            &args,
            code,
            &err,
            &["notes.txt is not an SQLite database", "check the path"],
        );
    }
}

/// A database locked by another process's open exclusive transaction: a write command
/// waits the busy timeout (5 s), then says who is in the way and what to do.
#[test]
fn issue_15_a_database_locked_by_another_process() {
    let dir = tempfile::tempdir().unwrap();
    serve_once(dir.path(), "sqlite://s.sqlite3", None);
    let holder = rusqlite::Connection::open(dir.path().join("s.sqlite3")).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    holder
        .execute_batch("DELETE FROM sessionkit_session")
        .unwrap();
    let args = ["revoke", "--store", "sqlite://s.sqlite3", "--key", KEY];
    let (code, _, err) = run(&args, dir.path());
    holder.execute_batch("ROLLBACK").unwrap();
    assert_refused(
        &args,
        code,
        &err,
        &[
            "SQLite database s.sqlite3 is locked by another process",
            "retry",
        ],
    );
}

/// Permission denied, for real: as root (which ignores file permissions) the command runs
/// as `nobody` on a database root owns; as another user, on a file made read-only.
#[test]
fn issue_15_permission_denied_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    serve_once(dir.path(), "sqlite://s.sqlite3", Some(&mut Jar::default()));
    let db = dir.path().join("s.sqlite3");
    let is_root = std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    });
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir.path()).args([
        "revoke",
        "--store",
        "sqlite://s.sqlite3",
        "--user",
        "alice",
    ]);
    if is_root {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        cmd.uid(65534).gid(65534);
    } else {
        for f in ["s.sqlite3", "s.sqlite3-wal", "s.sqlite3-shm"] {
            let p = dir.path().join(f);
            if p.exists() {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
            }
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let out = cmd.output().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("permission denied"), "{err}");
    assert!(err.contains("may not read and write s.sqlite3"), "{err}");
    assert!(err.contains("chmod"), "{err}");
    assert!(db.exists());
}
