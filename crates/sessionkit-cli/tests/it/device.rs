//! Issue 19, device metadata through the binary: `serve` records each session's client
//! (IP, user agent, device label) in the SQLite store, `list` and the account page show
//! it; `X-Forwarded-For` counts only from a `--trusted-proxy`; `--no-record-client-info`
//! records nothing; `--bind-user-agent` flushes a session whose user agent changed; a bad
//! `--trusted-proxy` is a usage error naming the option.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::serve::{Server, free_port, run, serve_with};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
const CURL: &str = "curl/8.5.0";

/// One `GET path` with these extra headers and the session cookie, if any: the body and
/// the session cookie (`name=value`) the response set, if it set one.
fn get(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    cookie: Option<&str>,
) -> (String, Option<String>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("accept"))
    {
        req.push_str("Accept: text/plain\r\n");
    }
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let cookie = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.trim().split(';').next().unwrap_or("").to_owned())
        .find(|c| c.starts_with("sessionid=") && c.len() > "sessionid=".len());
    (body.to_owned(), cookie)
}

/// Serves the demo on a fresh SQLite file in `dir` with `args`.
fn start(dir: &Path, args: &[&str]) -> (Server, String) {
    let port = free_port();
    let server = serve_with(dir, port, Some("sqlite://s.sqlite3"), args, &[]);
    (server, format!("127.0.0.1:{port}"))
}

/// `sessionkit list` on the SQLite file: one JSON line per session.
fn list(dir: &Path) -> Vec<String> {
    let (code, out, err) = run(&["list", "--store", "sqlite://s.sqlite3"], dir);
    assert_eq!(code, 0, "{err}");
    out.lines().map(str::to_owned).collect()
}

#[test]
fn list_and_the_account_page_show_device_and_ip() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start(dir.path(), &[]);
    let (_, cookie) = get(&addr, "/", &[("User-Agent", FIREFOX)], None);
    let cookie = cookie.expect("a session cookie");
    let lines = list(dir.path());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(r#""device":"Firefox on Linux""#),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains(r#""ip":"127.0.0.1""#), "{}", lines[0]);
    assert!(
        lines[0].contains(r#""user_agent":"Mozilla/5.0"#),
        "{}",
        lines[0]
    );
    // Signed in, the account page lists the user's sessions with their device and IP.
    let (_, rotated) = get(
        &addr,
        "/login?user=alice",
        &[("User-Agent", FIREFOX)],
        Some(&cookie),
    );
    let cookie = rotated.unwrap_or(cookie);
    let (page, _) = get(
        &addr,
        "/account",
        &[("User-Agent", FIREFOX), ("Accept", "text/html")],
        Some(&cookie),
    );
    assert!(page.contains("Firefox on Linux"), "{page}");
    assert!(page.contains("127.0.0.1"), "{page}");
}

#[test]
fn forwarded_for_counts_only_from_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_server, addr) = start(dir.path(), &[]);
        get(
            &addr,
            "/",
            &[("User-Agent", CURL), ("X-Forwarded-For", "203.0.113.9")],
            None,
        );
        let lines = list(dir.path());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].contains(r#""ip":"127.0.0.1""#),
            "spoofed header recorded: {}",
            lines[0]
        );
        assert!(!lines[0].contains("203.0.113.9"), "{}", lines[0]);
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start(dir.path(), &["--trusted-proxy", "127.0.0.1"]);
    get(
        &addr,
        "/",
        &[
            ("User-Agent", CURL),
            ("X-Forwarded-For", "198.51.100.1, 203.0.113.9"),
        ],
        None,
    );
    let lines = list(dir.path());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(r#""ip":"203.0.113.9""#), "{}", lines[0]);
    assert!(lines[0].contains(r#""device":"curl""#), "{}", lines[0]);
}

#[test]
fn no_record_client_info_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start(dir.path(), &["--no-record-client-info"]);
    get(&addr, "/", &[("User-Agent", FIREFOX)], None);
    let lines = list(dir.path());
    assert_eq!(lines.len(), 1, "{lines:?}");
    for field in [r#""ip":null"#, r#""user_agent":null"#, r#""device":null"#] {
        assert!(lines[0].contains(field), "{field} in {}", lines[0]);
    }
}

#[test]
fn bind_user_agent_flushes_on_a_changed_user_agent() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start(dir.path(), &["--bind-user-agent"]);
    let (body, cookie) = get(&addr, "/", &[("User-Agent", FIREFOX)], None);
    assert!(body.contains("Visit count: 1"), "{body}");
    let cookie = cookie.expect("a session cookie");
    let (body, _) = get(&addr, "/", &[("User-Agent", FIREFOX)], Some(&cookie));
    assert!(body.contains("Visit count: 2"), "{body}");
    // Another user agent with the same cookie: the session is flushed, the count starts
    // again in a new session.
    let (body, fresh) = get(&addr, "/", &[("User-Agent", CURL)], Some(&cookie));
    assert!(body.contains("Visit count: 1"), "{body}");
    let fresh = fresh.expect("a new session cookie");
    assert_ne!(fresh, cookie);
    // Without the option, the same change keeps the session.
    let dir = tempfile::tempdir().unwrap();
    let (_server, addr) = start(dir.path(), &[]);
    let (_, cookie) = get(&addr, "/", &[("User-Agent", FIREFOX)], None);
    let (body, _) = get(&addr, "/", &[("User-Agent", CURL)], cookie.as_deref());
    assert!(body.contains("Visit count: 2"), "{body}");
}

#[test]
fn a_bad_trusted_proxy_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["serve", "--trusted-proxy", "10.0.0.0/33"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--trusted-proxy") && err.contains("10.0.0.0/33"),
        "{err}"
    );
    let (code, _, err) = run(
        &["serve", "--no-record-client-info", "--bind-user-agent"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
}
