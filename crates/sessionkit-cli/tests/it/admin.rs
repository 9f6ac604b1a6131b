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
        // Opening it as `serve` does (creating the table on a fresh database, which the
        // store-only commands never do) tells whether the service is there.
        let opened = tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(crate::support::open(&url));
        if opened.is_some() {
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

/// Issue 15 (item 10): `revoke --key` revokes one session; the user's other sessions stay.
#[test]
fn issue_15_revoke_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = "sqlite://s.sqlite3";
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let (mut a1, mut a2) = (Jar::default(), Jar::default());
    {
        let _server = serve(dir.path(), port, Some(url));
        a1.get(&addr, "/login?user=alice");
        a2.get(&addr, "/login?user=alice");
        assert_eq!(a1.get(&addr, "/").body, "Visit count: 1");
    }
    let (code, out, err) = run(
        &["revoke", "--store", url, "--key", &key_of(&a1)],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1 session revoked");
    let (_, out, _) = run(&["list", "--store", url, "--user", "alice"], dir.path());
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains(&key_of(&a2)), "{out}");
    // Again: nothing left to revoke, not an error.
    let (code, out, err) = run(
        &["revoke", "--store", url, "--key", &key_of(&a1)],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "0 sessions revoked: no live session with this key"
    );
    // Not a key at all.
    let (code, _, err) = run(
        &["revoke", "--store", url, "--key", "NOT A KEY"],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("8 to 40 characters of a-z and 0-9"), "{err}");
}

/// Issue 15 (item 10): with `--cache-store`, `revoke --key` drops the cache's copy too: a
/// server reading through the same cache no longer finds the session.
#[test]
fn issue_15_revoke_by_key_drops_the_cache_entry() {
    let redis = crate::support::redis_url();
    if sessionkit_testkit::require(
        sessionkit_testkit::services::REDIS,
        std::net::TcpStream::connect(crate::support::host_port(&redis)).map_err(|e| e.to_string()),
    )
    .is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let url = "sqlite://s.sqlite3";
    let cached = ["--cache-store", redis.as_str()];
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut jar = Jar::default();
    {
        let _server = serve_with(dir.path(), port, Some(url), &cached, &[]);
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 2");
    }
    let key = key_of(&jar);
    let mut args = vec!["revoke", "--store", url, "--key", &key];
    args.extend(cached);
    let (code, out, err) = run(&args, dir.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1 session revoked");
    let _server = serve_with(dir.path(), port, Some(url), &cached, &[]);
    assert_eq!(jar.get(&addr, "/").body, "Visit count: 1", "a new session");
    assert_ne!(key_of(&jar), key);
}

/// Issue 21: `serve --redis-record-format hash` keeps writing the hash records of the
/// builds before issue 21 (the first step of a rolling upgrade), also behind `cached+`;
/// the default and `packed` write one string per session. A session written as a hash is
/// read by a default server, which continues it and saves it packed.
#[test]
fn issue_21_serve_writes_the_redis_record_format_asked_for() {
    let redis = crate::support::redis_url();
    if sessionkit_testkit::require(
        sessionkit_testkit::services::REDIS,
        std::net::TcpStream::connect(crate::support::host_port(&redis)).map_err(|e| e.to_string()),
    )
    .is_none()
    {
        return;
    }
    let cached = format!("cached+{redis}");
    let record_type = |jar: &Jar| {
        let name = format!("sessionkit:s:{{{}}}", key_of(jar));
        crate::support::redis_cli(&redis, &["TYPE", &name])
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    for (store, args, want) in [
        (&redis, &["--redis-record-format", "hash"][..], "hash"),
        (&cached, &["--redis-record-format", "hash"][..], "hash"),
        (&redis, &["--redis-record-format", "packed"][..], "string"),
        (&redis, &[][..], "string"),
    ] {
        let _server = serve_with(dir.path(), port, Some(store.as_str()), args, &[]);
        let mut jar = Jar::default();
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
        assert_eq!(record_type(&jar), want, "{store} {args:?}, created");
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 2");
        assert_eq!(record_type(&jar), want, "{store} {args:?}, saved");
    }
    // Written as a hash, continued by a default server: saved packed.
    let mut jar = Jar::default();
    {
        let hash = ["--redis-record-format", "hash"];
        let _server = serve_with(dir.path(), port, Some(redis.as_str()), &hash, &[]);
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
    }
    assert_eq!(record_type(&jar), "hash");
    let _server = serve_with(dir.path(), port, Some(redis.as_str()), &[], &[]);
    assert_eq!(jar.get(&addr, "/").body, "Visit count: 2");
    assert_eq!(record_type(&jar), "string");
}

/// Issue 15 (item 10): revoking a signed cookie is refused with the reason and what to do
/// instead; the options of `revoke` exclude each other as documented.
#[test]
fn issue_15_revoke_refuses_cookies_and_bad_combinations() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SESSIONKIT_SECRET_KEY", "revoke-test-secret")];
    for whose in [["--key", "abcdefgh12345678"], ["--user", "alice"]] {
        let mut args = vec!["revoke", "--store", "cookie://"];
        args.extend(whose);
        let (code, _, err) = run_with(&args, dir.path(), &env);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("cookie:// sessions cannot be revoked"),
            "{err}"
        );
        assert!(err.contains("change the secret key"), "{err}");
    }
    for bad in [
        &["revoke", "--store", "memory://"][..],
        &[
            "revoke",
            "--store",
            "memory://",
            "--user",
            "a",
            "--key",
            "abcdefgh1234",
        ][..],
        &[
            "revoke",
            "--store",
            "memory://",
            "--key",
            "abcdefgh1234",
            "--except",
            "abcdefgh5678",
        ][..],
    ] {
        let (code, _, err) = run(bad, dir.path());
        assert_eq!(code, 2, "{bad:?}: {err}");
        assert!(
            err.contains("--user") || err.contains("--key"),
            "{bad:?}: {err}"
        );
    }
}

/// Issue 15 (item 10): each command's help lists only the options that affect it.
#[test]
fn issue_15_each_command_shows_only_its_options() {
    let dir = tempfile::tempdir().unwrap();
    let help = |cmd: &str| {
        let (code, out, err) = run(&[cmd, "--help"], dir.path());
        assert_eq!(code, 0, "{err}");
        out
    };
    let everywhere = [
        "--store",
        "--layout",
        "--secret-key-file",
        "--cookie-name",
        "--cookie-age",
        "--django-use-tz",
        "--django-time-zone",
    ];
    for (cmd, has, lacks) in [
        (
            "serve",
            &["--cache-store", "--listen", "--lock", "--header-timeout"][..],
            &["--progress-interval", "--user", "--key"][..],
        ),
        (
            "revoke",
            &["--cache-store", "--user", "--except", "--key"][..],
            &[
                "--listen",
                "--lock",
                "--progress-interval",
                "--header-timeout",
            ][..],
        ),
        (
            "clear-expired",
            &["--progress-interval"][..],
            &[
                "--cache-store",
                "--listen",
                "--lock",
                "--user",
                "--header-timeout",
            ][..],
        ),
        (
            "inspect",
            &[][..],
            &[
                "--cache-store",
                "--listen",
                "--lock",
                "--progress-interval",
                "--user",
                "--limit",
            ][..],
        ),
        (
            "list",
            &["--user", "--limit"][..],
            &[
                "--cache-store",
                "--listen",
                "--lock",
                "--progress-interval",
                "--except",
            ][..],
        ),
    ] {
        let out = help(cmd);
        for flag in everywhere.iter().chain(has) {
            assert!(
                out.contains(&format!("{flag} ")) || out.contains(&format!("{flag}\n")),
                "{cmd} --help lacks {flag}: {out}"
            );
        }
        for flag in lacks {
            assert!(!out.contains(flag), "{cmd} --help shows {flag}: {out}");
        }
    }
}

/// Issue 15 (item 11): off a terminal, `clear-expired` logs a progress line now and then
/// (every `--progress-interval`), so a cron job's log shows it; the total goes to stdout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_clear_expired_logs_progress_off_a_terminal() {
    use sessionkit_core::{Data, Metadata, Record, SessionKey, SessionStore};
    let dir = tempfile::tempdir().unwrap();
    let store = sessionkit_sql::SqliteStore::open(dir.path().join("s.sqlite3"))
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let past = now - time::Duration::hours(2);
    for _ in 0..2500 {
        let record = Record {
            data: Data::default(),
            expires_at: now - time::Duration::hours(1),
            meta: Metadata::default(),
        };
        store
            .create(&SessionKey::generate(), &record, past)
            .await
            .unwrap();
    }
    drop(store);
    let (code, out, err) = tokio::task::block_in_place(|| {
        run(
            &[
                "clear-expired",
                "--store",
                "sqlite://s.sqlite3",
                "--progress-interval",
                "1ms",
            ],
            dir.path(),
        )
    });
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "2500 expired session(s) removed");
    let counts: Vec<u64> = err
        .lines()
        .filter_map(|l| l.strip_prefix("clear-expired: "))
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(!counts.is_empty(), "no progress line: {err}");
    assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
    assert!(counts.iter().all(|&n| n <= 2500), "{counts:?}");
    assert!(!err.contains('\r'), "no terminal redraws in a log: {err:?}");
}

/// Issue 17: memcached cannot enumerate its keys; `list`, `list --user`, `revoke --user`
/// and `clear-expired` say so instead of answering nothing, while `inspect` and
/// `revoke --key` work on a session `serve` made.
#[test]
fn issue_17_memcached_refuses_what_needs_enumeration() {
    let url = sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_MEMCACHED_URL",
        "memcached://127.0.0.1:11211",
    );
    let addr = url.trim_start_matches("memcached://").trim_end_matches('/');
    if sessionkit_testkit::require(
        "memcached",
        std::net::TcpStream::connect(addr).map_err(|e| e.to_string()),
    )
    .is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["list", "--store", &url][..],
        &["list", "--store", &url, "--user", "alice"][..],
        &["revoke", "--store", &url, "--user", "alice"][..],
        &["clear-expired", "--store", &url][..],
    ] {
        let (code, out, err) = run(args, dir.path());
        assert_eq!(code, 1, "{args:?}: {out} {err}");
        assert!(
            err.contains("not supported on memcached"),
            "{args:?}: {err}"
        );
    }

    let port = free_port();
    let mut jar = Jar::default();
    {
        let _server = serve(dir.path(), port, Some(&url));
        assert_eq!(
            jar.get(&format!("127.0.0.1:{port}"), "/").body,
            "Visit count: 1"
        );
    }
    let key = key_of(&jar);
    let (code, out, err) = run(&["inspect", "--store", &url, &key], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""count":1"#), "{out}");
    let (code, _, err) = run(&["revoke", "--store", &url, "--key", &key], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&["inspect", "--store", &url, &key], dir.path());
    assert_ne!(code, 0, "revoked");
    assert!(err.contains("no live session"), "{err}");
}

/// Issue 16 (part 2): with `--django-use-tz false --django-time-zone ZONE`, the admin
/// commands read Django's naive local `expire_date` in that zone: `clear-expired` removes
/// only what has expired and `list` shows the live session with its real expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_16_django_local_times_on_the_command_line() {
    use sessionkit_core::{Data, Metadata, Record, SessionKey, SessionStore};
    use sessionkit_sql::django::{DjangoSqliteStore, DjangoTime, Secrets};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret"), "cli-local-time-secret").unwrap();
    let ny = DjangoTime::local("America/New_York").unwrap();
    let store = DjangoSqliteStore::builder(
        dir.path().join("db.sqlite3"),
        &Secrets::new("cli-local-time-secret"),
    )
    .create_table_if_missing()
    .with_django_time(ny)
    .open()
    .await
    .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let live = SessionKey::generate();
    // Both within New York's offset of now: read as UTC, both would be expired.
    for (key, expires_at) in [
        (live, now + time::Duration::minutes(30)),
        (SessionKey::generate(), now - time::Duration::minutes(30)),
    ] {
        let record = Record {
            data: Data::default(),
            expires_at,
            meta: Metadata::default(),
        };
        store
            .create(&key, &record, now - time::Duration::hours(1))
            .await
            .unwrap();
    }
    drop(store);
    let args = |cmd: &'static str| {
        vec![
            cmd,
            "--store",
            "sqlite://db.sqlite3",
            "--layout",
            "django",
            "--secret-key-file",
            "secret",
            "--django-use-tz",
            "false",
            "--django-time-zone",
            "America/New_York",
        ]
    };
    let (code, out, err) = tokio::task::block_in_place(|| run(&args("clear-expired"), dir.path()));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "1 expired session(s) removed");
    let (code, out, err) = tokio::task::block_in_place(|| run(&args("list"), dir.path()));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].contains(live.as_str()), "{out}");
}
