//! The store commands (inspect, list, revoke) and the stores the CLI names.

use crate::http::{self, Jar};
use crate::serve::{free_port, run, run_with, serve, serve_with};

fn key_of(jar: &Jar) -> String {
    jar.0
        .as_deref()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned()
}

#[test]
fn list_inspect_and_revoke_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    std::fs::create_dir(&sessions).unwrap();
    let url = format!("file://{}", sessions.display());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (mut a1, mut a2, mut b) = (Jar::default(), Jar::default(), Jar::default());
    {
        let _server = serve(dir.path(), port, Some(&url));
        assert_eq!(
            a1.get(&addr, "/login?user=alice").body,
            "Logged in as alice"
        );
        assert_eq!(a1.get(&addr, "/").body, "Visit count: 1");
        a2.get(&addr, "/login?user=alice");
        b.get(&addr, "/login?user=bob");
    }
    let (code, out, err) = run(&["list", "--store", &url], dir.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let (_, out, _) = run(&["list", "--store", &url, "--user", "alice"], dir.path());
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(r#""user_id":"alice""#));

    let (code, out, err) = run(&["inspect", "--store", &url, &key_of(&a1)], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""count":1"#), "{out}");
    assert!(out.contains(r#""_auth_user_id":"alice""#), "{out}");
    assert!(out.contains(r#""expires_at":"#), "{out}");

    let (code, out, err) = run(
        &[
            "revoke",
            "--store",
            &url,
            "--user",
            "alice",
            "--except",
            &key_of(&a1),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), r#"1 session(s) of user "alice" revoked"#);
    let (_, out, _) = run(&["list", "--store", &url, "--user", "alice"], dir.path());
    assert_eq!(out.lines().count(), 1);
    let (code, _, err) = run(&["inspect", "--store", &url, &key_of(&a2)], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("no live session"), "{err}");
    let (code, _, err) = run(&["inspect", "--store", &url, "NOT-A-KEY"], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("not a session key"), "{err}");
}

#[test]
fn signed_cookie_store_needs_a_secret_and_survives_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["serve", "--store", "cookie://"], dir.path());
    assert_ne!(code, 0);
    assert!(err.contains("SESSIONKIT_SECRET_KEY"), "{err}");
    assert!(err.contains("--secret-key-file"), "{err}");

    let secret = dir.path().join("secret");
    std::fs::write(&secret, "a-test-secret-key\n").unwrap();
    let secret_arg = secret.to_str().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut jar = Jar::default();
    {
        let _s = serve_with(
            dir.path(),
            port,
            Some("cookie://"),
            &["--secret-key-file", secret_arg],
            &[],
        );
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 2");
    }
    {
        // The same secret from the environment: the cookie still counts.
        let _s = serve_with(
            dir.path(),
            port,
            Some("cookie://"),
            &[],
            &[("SESSIONKIT_SECRET_KEY", "a-test-secret-key")],
        );
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 3");
        let (code, out, err) = run_with(
            &["inspect", "--store", "cookie://", &key_of(&jar)],
            dir.path(),
            &[("SESSIONKIT_SECRET_KEY", "a-test-secret-key")],
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(r#""count":3"#), "{out}");
    }
    {
        // Another secret: the old cookie is worthless.
        let _s = serve_with(
            dir.path(),
            port,
            Some("cookie://"),
            &[],
            &[("SESSIONKIT_SECRET_KEY", "another-secret")],
        );
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
        // A rotated secret with the old one as a fallback still reads it.
    }
    let mut old = Jar::default();
    {
        let _s = serve_with(
            dir.path(),
            port,
            Some("cookie://"),
            &[],
            &[("SESSIONKIT_SECRET_KEY", "k1")],
        );
        old.get(&addr, "/");
    }
    let _s = serve_with(
        dir.path(),
        port,
        Some("cookie://"),
        &[],
        &[
            ("SESSIONKIT_SECRET_KEY", "k2"),
            ("SESSIONKIT_SECRET_KEY_FALLBACKS", "k1"),
        ],
    );
    assert_eq!(old.get(&addr, "/").body, "Visit count: 2");
}

#[test]
fn cached_sqlite_and_django_file_layout_serve_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    {
        let _s = serve(dir.path(), port, Some("cached+sqlite://c.sqlite3"));
        let mut jar = Jar::default();
        for n in 1..=3 {
            assert_eq!(jar.get(&addr, "/").body, format!("Visit count: {n}"));
        }
    }
    let sessions = dir.path().join("django-sessions");
    std::fs::create_dir(&sessions).unwrap();
    let url = format!("file://{}", sessions.display());
    let _s = serve_with(
        dir.path(),
        port,
        Some(&url),
        &["--layout", "django"],
        &[("SESSIONKIT_SECRET_KEY", "django-insecure-test")],
    );
    let mut jar = Jar::default();
    assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
    let file = sessions.join(format!("sessionid{}", key_of(&jar)));
    assert!(file.exists(), "Django's file name");
    let content = std::fs::read_to_string(file).unwrap();
    assert_eq!(content.split(':').count(), 3, "signed data: {content}");
    assert_eq!(jar.get(&addr, "/").body, "Visit count: 2");
    let res = http::get(&addr, "/healthz", None).unwrap();
    assert_eq!(res.body, "ok");
}

#[test]
fn metrics_are_exposed_in_prometheus_format() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _s = serve(dir.path(), port, Some("memory://"));
    let mut jar = Jar::default();
    jar.get(&addr, "/");
    jar.get(&addr, "/");
    let res = http::get(&addr, "/metrics", None).unwrap();
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    for want in [
        r#"sessionkit_events_total{event="created"} 1"#,
        r#"sessionkit_events_total{event="saved"} 1"#,
        r#"sessionkit_store_operations_total{op="load",outcome="ok"} 1"#,
        "sessionkit_store_duration_seconds_count",
    ] {
        assert!(
            res.body.contains(want),
            "{want} missing from:\n{}",
            res.body
        );
    }
    assert!(res.set_cookies().is_empty(), "/metrics touches no session");
}

/// Every store but `memory://` keeps counting across a restart of `sessionkit serve`
/// (the signed cookie given the same secret).
#[test]
fn every_store_keeps_counting_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir(&files).unwrap();
    let mut stores = vec![
        ("sqlite", "sqlite://s.sqlite3".to_owned()),
        ("file", format!("file://{}", files.display())),
        ("cached sqlite", "cached+sqlite://c.sqlite3".to_owned()),
        ("cookie", "cookie://".to_owned()),
    ];
    for (name, env, default) in [
        (
            "postgres",
            "SESSIONKIT_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        (
            "mysql",
            "SESSIONKIT_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/test",
        ),
        (
            "redis",
            "SESSIONKIT_TEST_REDIS_URL",
            "redis://127.0.0.1:6379",
        ),
    ] {
        let url = sessionkit_testkit::service_url(env, default);
        let probe = run(&["clear-expired", "--store", &url], dir.path());
        let what = sessionkit_testkit::services::labelled_url(&url);
        if sessionkit_testkit::require(&what, if probe.0 == 0 { Ok(()) } else { Err(probe.2) })
            .is_some()
        {
            stores.push((name, url));
        }
    }
    if let Ok(seeds) = std::env::var("SESSIONKIT_TEST_REDIS_CLUSTER") {
        stores.push(("redis cluster", format!("redis+cluster://{seeds}")));
    } else {
        sessionkit_testkit::require::<()>(
            "Redis Cluster",
            Err("SESSIONKIT_TEST_REDIS_CLUSTER is not set".into()),
        );
    }
    let env = [("SESSIONKIT_SECRET_KEY", "restart-test-secret")];
    // The cluster tests' shared lock: no failover test kills a node meanwhile.
    let _cluster = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(std::env::temp_dir().join("sessionkit-redis-cluster-tests.lock"))
        .and_then(|f| f.lock_shared().map(|()| f));
    for (name, url) in stores {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut jar = Jar::default();
        {
            let _s = serve_with(dir.path(), port, Some(&url), &[], &env);
            for n in 1..=3 {
                assert_eq!(
                    jar.get(&addr, "/").body,
                    format!("Visit count: {n}"),
                    "{name}"
                );
            }
        }
        let _s = serve_with(dir.path(), port, Some(&url), &[], &env);
        assert_eq!(
            jar.get(&addr, "/").body,
            "Visit count: 4",
            "{name} after a restart"
        );
    }
}
