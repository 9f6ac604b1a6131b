//! Issue 19: `--events-log FILE` on `serve`, `revoke` and `clear-expired`: JSON lines with
//! the event and its fields, session fingerprints and never session keys; the demo's
//! account page shows the signed-in user's recent events.

use std::time::Duration;

use crate::http::Jar;
use crate::serve::{free_port, run, serve_with};

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The events log lags the responses by at most the event thread's latency.
fn wait_for(path: &std::path::Path, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let l = lines(path);
        if l.len() >= n {
            return l;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    lines(path)
}

#[test]
fn serve_logs_login_rotation_and_logout_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _server = serve_with(
        dir.path(),
        port,
        Some("sqlite://s.sqlite3"),
        &["--events-log", log.to_str().unwrap()],
        &[],
    );
    let mut jar = Jar::default();
    let mut keys = Vec::new();
    jar.get(&addr, "/");
    keys.push(jar.0.clone().unwrap());
    jar.get(&addr, "/login?user=alice");
    keys.push(jar.0.clone().unwrap());
    // Events reach their listeners on the event thread, after the response: the account
    // page can show the login once the log (written after the page's record) has it.
    wait_for(&log, 3);
    let page = jar.get(&addr, "/account").body;
    jar.get(&addr, "/logout");
    let events = wait_for(&log, 4);
    let names: Vec<&str> = events
        .iter()
        .map(|l| {
            let start = l.find(r#""event":""#).unwrap() + 9;
            &l[start..start + l[start..].find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        names,
        ["created", "rotated", "logged_in", "logged_out"],
        "{events:#?}"
    );
    assert!(events[2].contains(r#""user":"alice""#), "{}", events[2]);
    assert!(events.iter().all(|l| l.contains(r#""time":""#)));
    let text = events.join("\n");
    for k in &keys {
        let key = k.split_once('=').unwrap().1;
        assert!(
            !text.contains(key),
            "a session key in the events log: {key}"
        );
    }
    // The account page listed alice's events (newest first).
    assert!(page.contains("Recent events"), "{page}");
    assert!(page.contains("logged_in"), "{page}");
}

#[test]
fn revoke_and_clear_expired_log_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    let log_arg = log.to_str().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut key = None;
    {
        let _server = serve_with(dir.path(), port, Some("sqlite://s.sqlite3"), &[], &[]);
        for _ in 0..2 {
            let mut jar = Jar::default();
            jar.get(&addr, "/login?user=bob");
            key = jar.0.clone();
        }
    }
    let key = key.unwrap();
    let key = key.split_once('=').unwrap().1;
    let (code, out, err) = run(
        &[
            "revoke",
            "--store",
            "sqlite://s.sqlite3",
            "--key",
            key,
            "--events-log",
            log_arg,
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = run(
        &[
            "revoke",
            "--store",
            "sqlite://s.sqlite3",
            "--user",
            "bob",
            "--events-log",
            log_arg,
        ],
        dir.path(),
    );
    assert_eq!(
        (code, out.trim()),
        (0, r#"1 session(s) of user "bob" revoked"#),
        "{err}"
    );
    let (code, out, err) = run(
        &[
            "clear-expired",
            "--store",
            "sqlite://s.sqlite3",
            "--events-log",
            log_arg,
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    let events = lines(&log);
    assert_eq!(
        events.len(),
        2,
        "nothing expired, so no expired event: {events:#?}"
    );
    assert!(
        events[0].contains(r#""event":"revoked","#) && events[0].contains(r#""cause":"admin""#)
    );
    assert!(events[0].contains(r#""count":1"#), "{}", events[0]);
    assert!(events[1].contains(r#""user":"bob""#) && events[1].contains(r#""count":1"#));
    assert!(
        !events.join("\n").contains(key),
        "a session key in the events log"
    );
}
