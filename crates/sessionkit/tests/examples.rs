//! The examples' routes, mounted without a socket: the tutorial flow with a cookie jar.

use actix_web::{App, test};
use sessionkit::actix::SessionMiddleware;
use sessionkit::{Config, SqliteStore};

#[allow(dead_code, unreachable_pub)]
#[path = "../../../examples/actix-basic.rs"]
mod actix_basic;

#[actix_web::test]
async fn actix_basic_runs_the_tutorial() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.sqlite3"))
        .await
        .unwrap();
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(store, Config::default()))
            .configure(actix_basic::routes),
    )
    .await;
    let mut cookie: Option<String> = None;
    for (uri, want) in [
        ("/", "Visit count: 1"),
        ("/", "Visit count: 2"),
        ("/", "Visit count: 3"),
        ("/color/get", "Favorite color: unknown"),
        ("/color/set?color=blue", "Color saved"),
        ("/color/get", "Favorite color: blue"),
    ] {
        let mut req = test::TestRequest::get().uri(uri);
        if let Some(c) = &cookie {
            req = req.insert_header(("cookie", c.clone()));
        }
        let res = test::call_service(&app, req.to_request()).await;
        if let Some(sc) = res.headers().get("set-cookie") {
            cookie = Some(sc.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert_eq!(body, want, "{uri}");
    }
}

// ---- Issue 15 (item 7): both examples take `--listen ADDR`, print the address once
// bound, and fail with one Display line and exit code 1.

/// The example's binary, built beside the tests (`cargo test` builds examples).
fn example_bin(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap();
    let bin = deps
        .parent()
        .and_then(std::path::Path::parent)
        .unwrap()
        .join("examples")
        .join(name);
    assert!(
        bin.exists(),
        "{} not built; `cargo test -p sessionkit --all-features` builds the examples",
        bin.display()
    );
    bin
}

fn example(name: &str, args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(example_bin(name))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[core::prelude::v1::test]
fn issue_15_examples_report_a_taken_port_and_a_bad_address_plainly() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for name in ["axum-basic", "actix-basic"] {
        let out = example(name, &["--listen", &addr], dir.path());
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stdout, "", "{name}: nothing printed before the bind failed");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("{name}: cannot listen on {addr}: ")),
            "{name}: {stderr}"
        );
        assert!(stderr.contains("in use"), "{name}: {stderr}");
        assert!(
            !stderr.contains("Os {"),
            "{name}: Debug formatting: {stderr}"
        );

        for args in [
            &["--listen", "nonsense"][..],
            &["--port", "1"][..],
            &["--listen"][..],
        ] {
            let out = example(name, args, dir.path());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{name} {args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{name} {args:?}: {stderr}");
            assert!(
                stderr.contains("--listen") || stderr.contains("IP:PORT"),
                "{stderr}"
            );
        }
    }
}

#[core::prelude::v1::test]
fn issue_15_examples_print_the_bound_address() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    for name in ["axum-basic", "actix-basic"] {
        let mut child = std::process::Command::new(example_bin(name))
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("{name}: {line:?}"))
            .to_owned();
        assert!(
            !addr.ends_with(":0"),
            "{name}: the real port, not 0: {addr}"
        );
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut res = String::new();
        s.read_to_string(&mut res).unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(res.ends_with("Visit count: 1"), "{name}: {res}");
    }
}
