//! Issue 15 (item 8): `sessionkit serve` withstands slow and oversized clients — header
//! timeout, keep-alive timeout, head and form-body limits — and shuts down gracefully on
//! SIGTERM and Ctrl-C. Each limit is set short by its flag, and each deadline is asserted
//! with a wide margin.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::http;
use crate::serve::{free_port, run};
use crate::support::{Mode, Proxy, host_port, redis_url};

const BIN: &str = env!("CARGO_BIN_EXE_sessionkit");

/// `sessionkit serve` with extra flags, its output kept for the test to read.
struct Served {
    child: Child,
    addr: String,
}

impl Served {
    fn start(dir: &Path, store: &str, flags: &[&str]) -> Served {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(BIN)
            .current_dir(dir)
            .args(["serve", "--listen", &addr, "--store", store])
            .args(flags)
            .env("SESSIONKIT_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sessionkit serve");
        let mut served = Served { child, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http::get(&served.addr, "/healthz", None).is_err() {
            if let Ok(Some(status)) = served.child.try_wait() {
                panic!("sessionkit serve exited early: {status}");
            }
            assert!(Instant::now() < deadline, "server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        served
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits (bounded) for the process to exit; its status and stdout + stderr.
    fn wait(mut self, within: Duration) -> (ExitStatus, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut text = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        (status, text)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads until the server closes the connection (or `limit` passes); how long that took,
/// and what came.
fn until_closed(s: &mut TcpStream, limit: Duration) -> (Option<Duration>, String) {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => {
                return (
                    Some(started.elapsed()),
                    String::from_utf8_lossy(&got).into(),
                );
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                return (
                    Some(started.elapsed()),
                    String::from_utf8_lossy(&got).into(),
                );
            }
        }
    }
    (None, String::from_utf8_lossy(&got).into())
}

#[test]
fn issue_15_a_half_sent_request_is_closed_by_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        "memory://",
        &["--header-timeout", "500ms", "--keep-alive-timeout", "10m"],
    );
    // Headers that never finish.
    let mut s = TcpStream::connect(&served.addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    let (closed, _) = until_closed(&mut s, Duration::from_secs(20));
    let closed = closed.expect("the half-sent request is still open after 20 s");
    assert!(
        closed >= Duration::from_millis(400),
        "closed too early: {closed:?}"
    );

    // A client that drips a byte every 100 ms: activity does not extend the deadline.
    let mut s = TcpStream::connect(&served.addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Drip: ")
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        if s.write_all(b"a").is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        s.set_nonblocking(true).unwrap();
        let r = s.read(&mut probe);
        s.set_nonblocking(false).unwrap();
        if matches!(r, Ok(0)) || matches!(&r, Err(e) if e.kind() != std::io::ErrorKind::WouldBlock)
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slow-drip request was held open for 20 s");

    // The server still answers.
    assert_eq!(
        http::get(&served.addr, "/healthz", None).unwrap().body,
        "ok"
    );
}

#[test]
fn issue_15_an_idle_keep_alive_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        "memory://",
        &["--keep-alive-timeout", "300ms", "--header-timeout", "10m"],
    );
    let mut s = TcpStream::connect(&served.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (closed, got) = until_closed(&mut s, Duration::from_secs(20));
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.ends_with("ok"), "{got}");
    assert!(
        closed.is_some(),
        "the idle connection is still open after 20 s"
    );

    // Two requests on one connection, within the timeout: keep-alive works.
    let mut s = TcpStream::connect(&served.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (_, got) = until_closed(&mut s, Duration::from_secs(20));
    assert_eq!(got.matches("HTTP/1.1 200").count(), 2, "{got}");

    // 0s: no keep-alive at all.
    let served = Served::start(dir.path(), "memory://", &["--keep-alive-timeout", "0s"]);
    let mut s = TcpStream::connect(&served.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (closed, got) = until_closed(&mut s, Duration::from_secs(20));
    assert!(closed.is_some());
    assert!(
        got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
}

#[test]
fn issue_15_oversized_heads_and_form_bodies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        "memory://",
        &["--max-header-bytes", "2KiB", "--max-body-bytes", "1KiB"],
    );
    // A head over 2 KiB: 431.
    let mut s = TcpStream::connect(&served.addr).unwrap();
    let big = "x".repeat(3000);
    s.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes())
        .unwrap();
    let (_, got) = until_closed(&mut s, Duration::from_secs(20));
    assert!(got.starts_with("HTTP/1.1 431"), "{got}");
    // Under the limit: served.
    let res = http::get(
        &served.addr,
        &format!("/color/get?x={}", "y".repeat(1500)),
        None,
    )
    .unwrap();
    assert_eq!(res.status, 200);

    // A form body over 1 KiB: 413 with a page that says why, before any CSRF check.
    let body = format!("color=teal&pad={}", "z".repeat(2000));
    let mut s = TcpStream::connect(&served.addr).unwrap();
    s.write_all(
        format!(
            "POST /color HTTP/1.1\r\nHost: {}\r\nOrigin: http://{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            served.addr,
            served.addr,
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    let (_, got) = until_closed(&mut s, Duration::from_secs(20));
    assert!(got.starts_with("HTTP/1.1 413"), "{got}");
    assert!(got.contains("--max-body-bytes"), "{got}");
}

#[test]
fn issue_15_serve_limits_are_checked_flags() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value, expected) in [
        ("--header-timeout", "0s", "1ms to 10m"),
        ("--header-timeout", "11m", "1ms to 10m"),
        ("--header-timeout", "soon", "not a duration"),
        ("--keep-alive-timeout", "-1s", "not a duration"),
        (
            "--shutdown-timeout",
            "18446744073709551615h",
            "out of range",
        ),
        ("--max-header-bytes", "10", "1024 to 1048576 bytes"),
        ("--max-body-bytes", "2MiB", "1024 to 1048576 bytes"),
        (
            "--max-body-bytes",
            "18446744073709551615MiB",
            "out of range",
        ),
    ] {
        let arg = format!("{flag}={value}");
        let (code, _, err) = run(&["serve", "--store", "memory://", &arg], dir.path());
        assert_eq!(code, 2, "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains(expected),
            "{flag} {value}: {err}"
        );
    }
    let (code, out, _) = run(&["serve", "--help"], dir.path());
    assert_eq!(code, 0);
    for documented in [
        "--header-timeout <DURATION>",
        "[default: 10s]",
        "--keep-alive-timeout <DURATION>",
        "[default: 5s]",
        "--max-header-bytes <BYTES>",
        "--max-body-bytes <BYTES>",
        "[default: 16KiB]",
        "--shutdown-timeout <DURATION>",
        "[default: 30s]",
    ] {
        assert!(out.contains(documented), "{documented}: {out}");
    }
}

/// SIGTERM while a request is saving: the listener closes at once (a new connection is
/// refused), the request finishes with its save, and the process exits 0. The save is held
/// up by a frozen proxy in front of Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_sigterm_finishes_the_request_in_progress_and_its_save() {
    let url = redis_url();
    if sessionkit_testkit::require(
        sessionkit_testkit::services::REDIS,
        TcpStream::connect(host_port(&url)).map_err(|e| e.to_string()),
    )
    .is_none()
    {
        return;
    }
    let proxy = Proxy::start(&host_port(&url)).await;
    let dir = tempfile::tempdir().unwrap();
    let via = format!("redis://{}", proxy.addr);
    let served = tokio::task::block_in_place(|| Served::start(dir.path(), &via, &[]));
    let addr = served.addr.clone();

    proxy.set(Mode::Frozen);
    let visit = std::thread::spawn({
        let addr = addr.clone();
        move || http::get(&addr, "/", None)
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    served.signal("TERM");
    // The listener is closed before the request finishes.
    let refused = tokio::task::block_in_place(|| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if TcpStream::connect(&addr).is_err() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    assert!(refused, "new connections are still accepted after SIGTERM");
    assert!(!visit.is_finished(), "the visit did not wait for its save");
    proxy.set(Mode::Up);

    let res = tokio::task::block_in_place(|| visit.join().unwrap().unwrap());
    assert_eq!(res.status, 200, "{res:?}");
    assert_eq!(res.body, "Visit count: 1");
    let cookie = res.set_cookies()[0].split(';').next().unwrap().to_owned();
    let key = cookie.strip_prefix("sessionid=").unwrap().to_owned();
    let (status, logs) = tokio::task::block_in_place(|| served.wait(Duration::from_secs(20)));
    assert!(status.success(), "{status}: {logs}");
    assert!(logs.contains("SIGTERM received"), "{logs}");
    assert!(logs.contains("sessionkit demo stopped"), "{logs}");

    // The save reached Redis.
    let (code, out, err) = run(&["inspect", "--store", &url, &key], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"count\":1"), "{out}");
}

#[test]
fn issue_15_ctrl_c_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path(), "memory://", &[]);
    // An idle keep-alive connection does not hold the shutdown up.
    let mut idle = TcpStream::connect(&served.addr).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    served.signal("INT");
    let (status, logs) = served.wait(Duration::from_secs(10));
    assert!(status.success(), "{status}: {logs}");
    assert!(logs.contains("Ctrl-C received"), "{logs}");
}
