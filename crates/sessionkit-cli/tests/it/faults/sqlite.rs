//! SQLite: a read-only file, a full disk, a database locked by another process.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{App, Logs, fault_config, fault_lock, open};

use super::fixtures::{Immutable, Locker, Tmpfs};
use super::{MARGIN, RECOVERY_LIMIT, TIMEOUT, assert_unavailable, counted, recovery};

async fn sqlite_app(path: &Path) -> App {
    let url = format!("sqlite://{}", path.display());
    App::new(open(&url).await.unwrap().engine(fault_config()))
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// The database file and its WAL become read-only while the app runs (the -shm file is
/// left alone: it is memory-mapped, and a write to an immutable mapping is SIGBUS).
/// Reads go on; saves are 503s with the cause logged; nothing is corrupted; once the file
/// is writable again, saves succeed without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_read_only_file() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    let r = app.get("/color/set?color=blue", Some(&cookie)).await;
    assert_eq!(r.status, 200);
    let logs = Logs::mark();
    let wal = dir.path().join("s.sqlite3-wal");
    let Some(guard) = sessionkit_testkit::require(
        "root (chattr +i in an ext4-like temp directory)",
        Immutable::set(&[path.clone(), wal]),
    ) else {
        return;
    };
    let r = app.get("/color/get", Some(&cookie)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "Favorite color: blue"),
        "reads go on"
    );
    let r = app.get("/atomic", Some(&cookie)).await;
    assert_unavailable(&r, "save to a read-only file");
    let r = app.get("/atomic", None).await;
    assert_unavailable(&r, "create in a read-only file");
    let errors = logs.lines("ERROR").join("\n");
    eprintln!("read-only: logged\n{errors}");
    assert!(
        errors.contains("SQLite write transaction") && errors.contains("sqlite"),
        "{errors}"
    );
    drop(guard);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("sqlite read-only -> writable: saves succeed again after {took:?}");
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    assert_eq!(count, 3);
    assert_eq!(integrity(&path), "ok");
}

/// Starting on a database file that cannot be written: a clear error naming the file.
#[test]
fn fault_sqlite_read_only_file_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.sqlite3");
    let url = format!("sqlite://{}", path.display());
    {
        // The store exists once served (clear-expired creates nothing).
        let port = crate::serve::free_port();
        let _server = crate::serve::serve(dir.path(), port, Some(&url));
    }
    let (code, _, err) = crate::serve::run(&["clear-expired", "--store", &url], dir.path());
    assert_eq!(code, 0, "{err}");
    let Some(_guard) = sessionkit_testkit::require(
        "root (chattr +i in an ext4-like temp directory)",
        Immutable::set(std::slice::from_ref(&path)),
    ) else {
        return;
    };
    let (code, _, err) = crate::serve::run(
        &[
            "clear-expired",
            "--store",
            &format!("sqlite://{}", path.display()),
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("ro.sqlite3"), "names the file: {err}");
    assert!(!err.contains("panicked"), "{err}");
    // Issue 15 (item 4): the cause and the fix.
    assert!(err.contains("chattr -i"), "{err}");
}

/// The disk fills up: saves are 503s with "disk is full" logged, sessions saved before
/// are intact, the database passes `PRAGMA integrity_check`, and once space is freed
/// saves succeed again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_disk_full() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let Some(fs) = sessionkit_testkit::require("root (mount -t tmpfs)", Tmpfs::mount(&mnt, "1m"))
    else {
        return;
    };
    let path = mnt.join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    // Fill the rest of the disk.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let mut written = 0u64;
        while f.write_all(&[0u8; 4096]).is_ok() {
            written += 4096;
        }
        // Leave a little room, so that some sessions fit before the disk is full.
        f.set_len(written.saturating_sub(64 * 1024)).unwrap();
        let _ = f.sync_all();
    }
    let logs = Logs::mark();
    let mut saved = Vec::new();
    let mut full = None;
    // Colors as long as the demo's rule allows (40 characters): each save still commits
    // a WAL frame of a whole page, so the little room left fills within a few dozen saves.
    for i in 0..5000 {
        let color = format!("{i:04}-{}", "x".repeat(35));
        let r = app.get(&format!("/color/set?color={color}"), None).await;
        match r.status {
            200 => saved.push((r.cookie().unwrap(), color)),
            503 => {
                assert_unavailable(&r, "save on a full disk");
                full = Some(r);
                break;
            }
            other => panic!("{other}: {r:?}"),
        }
    }
    assert!(
        full.is_some(),
        "the disk never filled ({} saves)",
        saved.len()
    );
    assert!(!saved.is_empty(), "nothing fitted before the disk was full");
    let errors = logs.lines("ERROR").join("\n");
    eprintln!("disk full: logged\n{errors}");
    assert!(errors.contains("full"), "the cause is logged: {errors}");
    // Sessions saved before are intact.
    for (cookie, color) in &saved {
        let r = app.get("/color/get", Some(cookie)).await;
        assert_eq!(r.body, format!("Favorite color: {color}"));
    }
    let r = app.get("/atomic", Some(&cookie)).await;
    assert!(matches!(r.status, 200 | 503), "{r:?}");
    let acked = if r.status == 200 { 3 } else { 2 };
    std::fs::remove_file(&filler).unwrap();
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!(
        "sqlite disk full ({} saves fitted) -> space freed: saves succeed again after {took:?}",
        saved.len()
    );
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    assert_eq!(count, acked + 1);
    assert_eq!(integrity(&path), "ok");
    drop(app);
    drop(fs);
}

/// Another process holds `BEGIN EXCLUSIVE`: reads go on, saves are 503s (the save timeout
/// expires while SQLite waits for the lock) with the cause logged; when the lock goes,
/// saves succeed again; nothing is corrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_locked_by_another_process() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    let r = app.get("/color/set?color=green", Some(&cookie)).await;
    assert_eq!(r.status, 200);
    let logs = Logs::mark();
    let Some(locker) = sessionkit_testkit::require(
        "python3 (with its sqlite3 module)",
        tokio::task::block_in_place(|| Locker::begin_exclusive(&path)),
    ) else {
        return;
    };
    let r = app.get("/color/get", Some(&cookie)).await;
    assert_eq!(r.body, "Favorite color: green", "reads go on");
    assert!(r.took < Duration::from_millis(500), "{:?}", r.took);
    let r = app.get("/atomic", Some(&cookie)).await;
    assert_unavailable(&r, "save while locked");
    assert!(r.took < TIMEOUT + MARGIN, "{:?}", r.took);
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    let text = logs.text();
    assert!(text.contains("session store failed"), "{text}");
    drop(locker);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("sqlite locked -> released: saves succeed again after {took:?}");
    // SQLite's busy timeout (5 s) may hold the writer thread on the lock a little
    // longer than the request waited.
    assert!(took < Duration::from_secs(5) + RECOVERY_LIMIT, "{took:?}");
    assert!((3..=4).contains(&count), "{count}");
    assert_eq!(integrity(&path), "ok");
}

/// Another process holds SQLite's WAL locks ([`Locker::wal_locks`]), which keeps readers
/// out too: loads must answer 503 after the load timeout, and routes without the session
/// must keep answering meanwhile.
///
/// They don't: the SQLite store reads inline on the request's task (`read_row` is a
/// blocking call inside `async fn load`), so the load timeout cannot fire, the request
/// waits for SQLite's own retry limit (about 10 s, then "locking protocol"), and each
/// such request blocks a runtime worker thread: of 4 loads on 2 workers, two answer
/// after 10 s and two after 20 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_locked_loads_time_out() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    let Some(locker) = sessionkit_testkit::require(
        "python3",
        tokio::task::block_in_place(|| Locker::wal_locks(&path)),
    ) else {
        return;
    };
    // Each answer's time counts from the spawn (a task that waits for a free worker
    // thread waits too).
    let loads: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            let cookie = cookie.clone();
            let started = Instant::now();
            tokio::spawn(async move {
                let mut r = app.get("/color/get", Some(&cookie)).await;
                r.took = started.elapsed();
                r
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // On a worker thread, as a server runs it (the test's own task runs elsewhere).
    let health = {
        let app = app.clone();
        let started = Instant::now();
        tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(3), app.get("/healthz", None)).await;
            (r, started.elapsed())
        })
    };
    let (health, health_took) = health.await.unwrap();
    let mut answers = Vec::new();
    for l in loads {
        answers.push(l.await.unwrap());
    }
    drop(locker);
    eprintln!(
        "loads took {:?}; /healthz took {health_took:?}",
        answers.iter().map(|r| r.took).collect::<Vec<_>>()
    );
    for r in &answers {
        assert_unavailable(r, "load while locked");
        assert!(
            r.took < TIMEOUT + MARGIN,
            "503 after the load timeout, not after SQLite gives up: {:?}",
            r.took
        );
    }
    assert!(
        health.is_ok() && health_took < Duration::from_millis(500),
        "/healthz waited {health_took:?} behind blocked loads"
    );
    let (took, _) = recovery(&app, &cookie).await;
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    assert_eq!(integrity(&path), "ok");
}
