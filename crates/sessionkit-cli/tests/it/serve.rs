use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http::{self, Jar};

const BIN: &str = env!("CARGO_BIN_EXE_sessionkit");

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn serve(dir: &Path, port: u16, store: Option<&str>) -> Server {
    serve_with(dir, port, store, &[], &[])
}

pub(crate) fn serve_with(
    dir: &Path,
    port: u16,
    store: Option<&str>,
    args: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(args)
        .env_remove("SESSIONKIT_SECRET_KEY")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(s) = store {
        cmd.args(["--store", s]);
    }
    let mut child = cmd.spawn().expect("start sessionkit serve");
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while http::get(&addr, "/healthz", None).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("sessionkit serve exited early: {status}");
        }
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server(child)
}

/// `serve --store memory://` with `args` on a free port: its address and the server.
fn serve_memory(dir: &Path, args: &[&str]) -> (String, Server) {
    let port = free_port();
    let server = serve_with(dir, port, Some("memory://"), args, &[]);
    (format!("127.0.0.1:{port}"), server)
}

#[test]
fn demo_counts_across_a_restart_on_the_default_store() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut jar = Jar::default();
    {
        let _server = serve(dir.path(), port, None);
        for n in 1..=3 {
            let res = jar.get(&addr, "/");
            assert_eq!(res.status, 200);
            assert_eq!(res.body, format!("Visit count: {n}"));
            assert!(
                res.header("content-type")
                    .unwrap()
                    .starts_with("text/plain")
            );
        }
        let res = http::get(&addr, "/", None).unwrap();
        assert_eq!(res.body, "Visit count: 1", "no cookie, new visitor");
    }
    assert!(
        dir.path().join("sessions.sqlite3").exists(),
        "default store file"
    );
    let _server = serve(dir.path(), port, None);
    assert_eq!(jar.get(&addr, "/").body, "Visit count: 4");
}

#[test]
fn favorite_color_and_reads_that_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _server = serve(dir.path(), port, Some("memory://"));
    // A new visitor only reading: no session, no cookie.
    let res = http::get(&addr, "/color/get", None).unwrap();
    assert_eq!(res.body, "Favorite color: unknown");
    assert!(res.set_cookies().is_empty());
    assert_eq!(res.header("vary"), Some("Cookie"));
    let mut jar = Jar::default();
    assert_eq!(jar.get(&addr, "/color/set?color=blue").body, "Color saved");
    assert_eq!(jar.get(&addr, "/color/get").body, "Favorite color: blue");
    assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
    let res = jar.get(&addr, "/color/set");
    assert_eq!(res.status, 400);
    let res = http::get(
        &addr,
        "/healthz",
        Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"),
    )
    .unwrap();
    assert_eq!(res.body, "ok");
    assert!(res.set_cookies().is_empty());
}

#[test]
fn a_forged_key_is_never_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _server = serve(dir.path(), port, None);
    let forged = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let res = http::get(&addr, "/", Some(forged)).unwrap();
    assert_eq!(res.body, "Visit count: 1");
    let set = res.set_cookies();
    assert_eq!(set.len(), 1);
    assert!(!set[0].starts_with(forged), "{set:?}");
    let res = http::get(&addr, "/", Some(forged)).unwrap();
    assert_eq!(
        res.body, "Visit count: 1",
        "the forged key still leads nowhere"
    );
}

pub(crate) fn run(args: &[&str], dir: &Path) -> (i32, String, String) {
    run_with(args, dir, &[])
}

pub(crate) fn run_with(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .env_remove("SESSIONKIT_SECRET_KEY")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_gets_a_clear_message_and_a_failure_code() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["serve", "--store", "bogus://x"],
            "unsupported store \"bogus\"",
        ),
        (&["serve", "--store", "sessions.db"], "invalid store URL"),
        (
            &["serve", "--store", "sqlite:///nonexistent-dir/x.db"],
            "does not exist",
        ),
        (
            &["serve", "--listen", "not-an-address"],
            "invalid value 'not-an-address'",
        ),
        (
            &["clear-expired", "--store", "ftp://x"],
            "unsupported store",
        ),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, want) in cases {
        let (code, _, err) = run(args, dir.path());
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // A read-only location.
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let mut perm = std::fs::metadata(&ro).unwrap().permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(&ro, perm).unwrap();
    let is_root = std::fs::write(ro.join("probe"), b"x").is_ok();
    if !is_root {
        let (code, _, err) = run(&["serve", "--store", "sqlite://ro/s.db"], dir.path());
        assert_ne!(code, 0);
        assert!(err.contains("ro/s.db"), "{err}");
    }
}

#[test]
fn port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, _, err) = run(
        &[
            "serve",
            "--store",
            "memory://",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{err}"
    );
}

#[test]
fn clear_expired_reports_a_count() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The store exists once served (clear-expired creates nothing).
        let _server = serve(dir.path(), free_port(), Some("sqlite://s.sqlite3"));
    }
    let (code, out, err) = run(
        &["clear-expired", "--store", "sqlite://s.sqlite3"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "0 expired session(s) removed");
}

/// Issue 20: `serve --session-header NAME` carries the session id in that header: no
/// cookie, the count follows the header, logout answers it empty, and a bad header name
/// is refused at startup.
#[test]
fn session_ids_travel_in_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _server) = serve_memory(dir.path(), &["--session-header", "X-Session-Id"]);
    let get = |path: &str, id: Option<&str>| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let headers: Vec<(&str, &str)> = id.map(|id| ("X-Session-Id", id)).into_iter().collect();
        rt.block_on(sessionkit_testkit::http::send(&addr, path, &headers))
    };
    let res = get("/", None);
    assert_eq!(res.body, "Visit count: 1");
    assert!(res.set_cookies().is_empty(), "{res:?}");
    let id = res.header("X-Session-Id").unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(get("/", Some(&id)).body, "Visit count: 2");
    let res = get("/logout", Some(&id));
    assert_eq!(res.header("X-Session-Id"), Some(""));
    assert_eq!(get("/", Some(&id)).body, "Visit count: 1");

    let (code, _, err) = run(
        &[
            "serve",
            "--store",
            "memory://",
            "--session-header",
            "Set-Cookie",
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("cannot carry the session id"), "{err}");
}

/// Issue 19: `serve --max-sessions-per-user N`: a third login of one user with N = 2 logs
/// the least recently used browser out; the setting is refused at startup on a store
/// without a per-user index (the signed cookie), and 0 is refused.
#[test]
fn the_per_user_limit_logs_out_the_least_recently_used_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, _server) = serve_memory(dir.path(), &["--max-sessions-per-user", "2"]);
    let mut browsers: Vec<Jar> = (0..3).map(|_| Jar::default()).collect();
    for b in &mut browsers {
        assert_eq!(b.get(&addr, "/login?user=alice").status, 200);
        std::thread::sleep(Duration::from_millis(20));
    }
    let signed_in = |b: &mut Jar| {
        b.get(&addr, "/account")
            .body
            .contains("Signed in as <strong>alice</strong>")
    };
    assert!(!signed_in(&mut browsers[0]), "the oldest login is out");
    assert!(signed_in(&mut browsers[1]));
    assert!(signed_in(&mut browsers[2]));

    let secret = dir.path().join("secret");
    std::fs::write(&secret, "a-secret-key-for-the-limit-test").unwrap();
    let (code, _, err) = run(
        &[
            "serve",
            "--store",
            "cookie://",
            "--secret-key-file",
            secret.to_str().unwrap(),
            "--max-sessions-per-user",
            "2",
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("per-user index"), "{err}");
    let (code, _, err) = run(
        &[
            "serve",
            "--store",
            "memory://",
            "--max-sessions-per-user",
            "0",
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("max-sessions-per-user"), "{err}");
}
