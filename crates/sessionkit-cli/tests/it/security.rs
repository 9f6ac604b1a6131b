//! Security properties end to end (docs/SECURITY.md): what the logs contain, expired
//! records a store still returns, issued keys, keys hashed at rest, cookie attributes,
//! reads that must create nothing. The properties already pinned elsewhere are listed in
//! the doc with their tests.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use sessionkit_core::{
    Config, CreateOutcome, Data, Engine, Lookup, MemoryStore, Metadata, Record, SameSite,
    SaveOutcome, Session, SessionError, SessionKey, SessionStore, StoreError, Token, Value,
};
use sessionkit_sql::SqliteStore;
use sessionkit_tower::SessionLayer;
use time::OffsetDateTime;

use crate::http::{self, Jar};
use crate::serve::free_port;
use crate::support::{App, open};

const BIN: &str = env!("CARGO_BIN_EXE_sessionkit");
const SECRET: &str = "s3cr3t-Signing-Key-for-the-log-test-9f8e7d6c";

/// `sessionkit serve` with `SESSIONKIT_LOG=trace`, its stdout and stderr in files.
struct Logged {
    child: Child,
    addr: String,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Logged {
    fn start(dir: &Path, store: &str, args: &[&str]) -> Logged {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let out = dir.join(format!("stdout-{port}.txt"));
        let err = dir.join(format!("stderr-{port}.txt"));
        let child = Command::new(BIN)
            .current_dir(dir)
            .args(["serve", "--listen", &addr, "--store", store])
            .args(args)
            .env("SESSIONKIT_SECRET_KEY", SECRET)
            .env("SESSIONKIT_LOG", "trace")
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http::get(&addr, "/healthz", None).is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        Logged {
            child,
            addr,
            out,
            err,
        }
    }

    /// Stops the server; everything it printed.
    fn finish(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.out).unwrap() + &std::fs::read_to_string(&self.err).unwrap()
    }
}

/// Every cookie value the server set, and the values a client sent, in a flow with
/// visits, logins (key rotation), logouts, forged and garbage cookies.
fn exercise(addr: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let remember = |seen: &mut HashSet<String>, res: &sessionkit_testkit::http::Response| {
        for c in res.set_cookies() {
            let v = c.split(';').next().unwrap().split_once('=').unwrap().1;
            if v.len() >= 8 && v != "\"\"" {
                seen.insert(v.to_owned());
            }
        }
    };
    for round in 0..3 {
        let mut jar = Jar::default();
        for path in [
            "/",
            "/atomic",
            "/color/set?color=blue",
            &format!("/login?user=user{round}"),
            "/color/get",
            "/",
            "/logout",
            "/",
        ] {
            let res = jar.get(addr, path);
            remember(&mut seen, &res);
            if let Some(c) = &jar.0 {
                seen.insert(c.split_once('=').unwrap().1.to_owned());
            }
        }
    }
    let forged = [
        "abcdefghijklmnopqrstuvwxyz012345",
        "forgedforgedforgedforgedforged99",
        "NOT-A-KEY-AT-ALL-BUT-LONG-ENOUGH",
        "eyJjb3VudCI6MX0:1vb66i:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "short",
    ];
    for f in forged {
        for path in ["/", "/color/get", "/logout"] {
            let res = http::get(addr, path, Some(&format!("sessionid={f}"))).unwrap();
            remember(&mut seen, &res);
        }
        if f.len() >= 8 {
            seen.insert(f.to_owned());
        }
    }
    seen
}

fn assert_clean(what: &str, logs: &str, cookies: &HashSet<String>) {
    assert!(
        logs.contains("serving the sessionkit demo"),
        "{what}: the log was captured"
    );
    if what != "signed cookies" {
        assert!(
            logs.contains("DEBUG") || logs.contains("TRACE"),
            "{what}: the log is at trace level"
        );
    }
    assert!(
        !logs.contains(SECRET),
        "{what}: the secret key is in the log"
    );
    for c in cookies {
        assert!(
            !logs.contains(c.as_str()),
            "{what}: a session cookie value is in the log: {c}"
        );
    }
    // Nor any 32-character run that is a session key (hashed-at-rest keys included).
    for word in logs.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.len() == 32 && SessionKey::parse(word).is_some() {
            assert!(!cookies.contains(word), "{what}: {word}");
        }
    }
}

/// At `SESSIONKIT_LOG=trace`, across logins, logouts, rotations, forged and garbage
/// cookies, on a native store, Django's file layout (signed with the secret key) and the
/// signed-cookie store: neither the secret key nor any session key or cookie value
/// appears in the server's output (keys show as 8-hex-digit fingerprints at most).
#[test]
fn secrets_and_session_keys_never_appear_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("django-files");
    std::fs::create_dir(&files).unwrap();
    let files_url = format!("file://{}", files.display());
    let setups: Vec<(&str, Vec<&str>, &str)> = vec![
        ("sqlite://s.sqlite3", vec![], "sqlite, native"),
        (
            files_url.as_str(),
            vec!["--layout", "django"],
            "Django file layout",
        ),
        ("cookie://", vec![], "signed cookies"),
        ("memory://", vec!["--lock"], "memory, lock mode"),
    ];
    for (store, args, what) in setups {
        let server = Logged::start(dir.path(), store, &args);
        let cookies = exercise(&server.addr);
        assert!(cookies.len() > 5, "{what}: {cookies:?}");
        let logs = server.finish();
        assert_clean(what, &logs, &cookies);
    }
}

/// A database password in a store URL is a secret too: the server prints its store at
/// start (log line and banner) and in every error about it, with the password.
#[test]
fn database_passwords_never_appear_in_output() {
    let dir = tempfile::tempdir().unwrap();
    // A refused connection: the error message.
    let (code, out, err) = crate::serve::run(
        &[
            "serve",
            "--store",
            "postgres://app:hunter2pw@127.0.0.1:1/app",
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(!(out + &err).contains("hunter2pw"), "{err}");
    let (_, out, err) = crate::serve::run(
        &[
            "serve",
            "--store",
            "memory://",
            "--cache-store",
            "redis://:hunter2pw@127.0.0.1:1",
        ],
        dir.path(),
    );
    assert!(!(out + &err).contains("hunter2pw"), "{err}");
    // A server that starts (trust authentication ignores the password): banner and log.
    let url = crate::support::postgres_url().replacen("postgres@", "postgres:hunter2pw@", 1);
    if sessionkit_testkit::require(
        "PostgreSQL",
        std::net::TcpStream::connect(crate::support::host_port(&url)).map_err(|e| e.to_string()),
    )
    .is_none()
    {
        return;
    }
    let server = Logged::start(dir.path(), &url, &[]);
    let logs = server.finish();
    assert!(!logs.contains("hunter2pw"), "{logs}");
}

// ---------------------------------------------------------------------------------------
// Stores that serve what they should not

/// A store whose records are all past their expiry (or their idle or absolute timeout),
/// yet returned as found: as a store with a longer TTL of its own, a clock skew, or a
/// bug would. The engine serves none of them.
#[derive(Clone)]
struct Stale {
    expires_in: time::Duration,
    created_ago: time::Duration,
    seen_ago: time::Duration,
}

impl SessionStore for Stale {
    async fn load(&self, _: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let mut data = Data::new();
        data.insert("favorite_color", Value::from("stale"));
        Ok(Lookup::Found {
            record: Record {
                data,
                expires_at: now + self.expires_in,
                meta: Metadata {
                    created_at: Some(now - self.created_ago),
                    last_seen: Some(now - self.seen_ago),
                    user_id: None,
                    client: None,
                },
            },
            token: Token::version(1),
        })
    }
    async fn create(
        &self,
        _: &SessionKey,
        _: &Record,
        _: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        Ok(CreateOutcome::Created(Token::version(1)))
    }
    async fn save(
        &self,
        _: &SessionKey,
        _: &Record,
        _: &Token,
        _: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        panic!("a stale session must never be saved")
    }
    async fn delete(&self, _: &SessionKey) -> Result<(), StoreError> {
        Ok(())
    }
    async fn touch(
        &self,
        _: &SessionKey,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        panic!("a stale session must never be touched")
    }
    async fn clear_expired_with_progress(
        &self,
        _: OffsetDateTime,
        _: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        Ok(0)
    }
}

#[tokio::test]
async fn an_expired_session_is_never_served_whatever_the_store_says() {
    let day = time::Duration::days(1);
    let config = Config::builder()
        .idle_timeout(Duration::from_secs(3600))
        .absolute_timeout(Duration::from_secs(86_400))
        .build()
        .unwrap();
    let cases = [
        (
            Stale {
                expires_in: time::Duration::seconds(-1),
                created_ago: time::Duration::minutes(1),
                seen_ago: time::Duration::seconds(1),
            },
            "expired a second ago",
        ),
        (
            Stale {
                expires_in: time::Duration::ZERO,
                created_ago: time::Duration::minutes(1),
                seen_ago: time::Duration::seconds(1),
            },
            "expiring right now",
        ),
        (
            Stale {
                expires_in: day,
                created_ago: time::Duration::hours(2),
                seen_ago: time::Duration::hours(1),
            },
            "idle for the whole idle timeout",
        ),
        (
            Stale {
                expires_in: day,
                created_ago: day,
                seen_ago: time::Duration::seconds(1),
            },
            "as old as the absolute timeout",
        ),
    ];
    for (store, what) in cases {
        let app = App::new(Engine::new(store, config.clone()));
        let cookie = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
        let r = app.get("/color/get", Some(cookie)).await;
        assert_eq!(r.body, "Favorite color: unknown", "{what}");
        let r = app.get("/color/set?color=red", Some(cookie)).await;
        assert_eq!(r.status, 200, "{what}");
        assert!(
            !r.set_cookie[0].starts_with(cookie),
            "{what}: a new key, never the stale one"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Keys

/// Keys the server hands out: 32 characters of `[a-z0-9]`, all different, none of them
/// the value a client proposed.
#[tokio::test]
async fn issued_keys_are_32_characters_of_a_z_0_9_and_never_repeat() {
    let app = App::new(Engine::new(MemoryStore::new(), Config::default()));
    let mut keys = HashSet::new();
    for i in 0..500 {
        let proposed = format!("sessionid=proposedkey{i:011}");
        let r = app.get("/", Some(&proposed)).await;
        let pair = r.cookie().unwrap();
        let key = pair.strip_prefix("sessionid=").unwrap();
        assert_eq!(key.len(), 32, "{key}");
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_ne!(pair, proposed);
        assert!(keys.insert(key.to_owned()), "a repeated key");
    }
}

/// With `hash_keys_at_rest`, a copy of the database holds no usable cookie: no issued
/// key is in the file, and presenting any stored key as a cookie finds no session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaked_sqlite_file_yields_no_usable_cookie_when_keys_are_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let store = SqliteStore::open(&path).await.unwrap();
    let config = Config::builder().hash_keys_at_rest(true).build().unwrap();
    let app = App::new(Engine::new(store, config));
    let mut issued = Vec::new();
    for i in 0..20 {
        let r = app.get("/", None).await;
        let mut pair = r.cookie().unwrap();
        if i % 2 == 0 {
            let r = app.get("/login?user=alice", Some(&pair)).await;
            pair = r.cookie().unwrap();
        }
        issued.push(pair);
    }
    // Everything still works through the cookie.
    for pair in &issued {
        assert_eq!(app.get("/", Some(pair)).await.body, "Visit count: 2");
    }
    let stored: Vec<String> = {
        let c = rusqlite::Connection::open(&path).unwrap();
        let mut st = c
            .prepare("SELECT session_key FROM sessionkit_session")
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(stored.len() >= 20);
    let file = std::fs::read(&path).unwrap();
    let wal = std::fs::read(dir.path().join("s.sqlite3-wal")).unwrap_or_default();
    for pair in &issued {
        let key = pair.strip_prefix("sessionid=").unwrap();
        assert!(!stored.contains(&key.to_owned()));
        for bytes in [&file, &wal] {
            assert!(
                !bytes.windows(key.len()).any(|w| w == key.as_bytes()),
                "an issued key is in the database file"
            );
        }
    }
    for key in &stored {
        let r = app
            .get("/color/get", Some(&format!("sessionid={key}")))
            .await;
        assert_eq!(
            r.body, "Favorite color: unknown",
            "a stored key works as a cookie"
        );
    }
}

/// Anonymous requests that only read create no record and get no cookie, whatever
/// cookie they carry; only a write creates one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_reads_create_nothing_in_a_real_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let app = App::new(
        open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap()
            .engine(Config::default()),
    );
    let rows = || -> i64 {
        rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM sessionkit_session", [], |r| r.get(0))
            .unwrap()
    };
    for cookie in [
        None,
        Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"),
        Some("sessionid=NOT-A-KEY-12345"),
    ] {
        for _ in 0..10 {
            let r = app.get("/color/get", cookie).await;
            assert_eq!(r.body, "Favorite color: unknown");
            assert!(r.cookie().is_none(), "{r:?}");
        }
    }
    assert_eq!(rows(), 0);
    let r = app.get("/color/set?color=red", None).await;
    assert!(r.cookie().is_some());
    assert_eq!(rows(), 1);
}

// ---------------------------------------------------------------------------------------
// Cookie attributes on the wire

async fn visit(session: Session) -> Result<String, SessionError> {
    let n: u64 = session.get("n")?.unwrap_or(0) + 1;
    session.insert("n", n)?;
    Ok(n.to_string())
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

/// What `build()` accepts is what goes on the wire: a `__Host-` cookie is Secure, Path=/
/// and has no Domain; SameSite=None is Secure, on the removal cookie too. (`build()`'s
/// refusals are pinned in `sessionkit-core`'s config tests.)
#[tokio::test]
async fn cookie_attributes_on_the_wire_follow_the_prefix_and_samesite_rules() {
    let configs = [
        Config::builder()
            .cookie_name("__Host-sid")
            .cookie_secure(true)
            .build()
            .unwrap(),
        Config::builder()
            .cookie_name("__Secure-sid")
            .cookie_secure(true)
            .cookie_domain("example.test")
            .build()
            .unwrap(),
        Config::builder()
            .cookie_samesite(Some(SameSite::None))
            .cookie_secure(true)
            .build()
            .unwrap(),
    ];
    for config in configs {
        let name = config.cookie_name().to_owned();
        let router = Router::new()
            .route("/", get(visit))
            .route("/logout", get(logout))
            .layer(SessionLayer::new(MemoryStore::new(), config.clone()));
        let app = App {
            router,
            engine: Engine::new(MemoryStore::new(), config.clone()),
        };
        let r = app.get("/", None).await;
        let set = &r.set_cookie[0];
        let attrs: Vec<&str> = set.split("; ").collect();
        assert!(attrs.contains(&"Secure"), "{set}");
        assert!(attrs.contains(&"HttpOnly"), "{set}");
        if name.starts_with("__Host-") {
            assert!(attrs.contains(&"Path=/"), "{set}");
            assert!(!set.contains("Domain="), "{set}");
        }
        let pair = set.split(';').next().unwrap().to_owned();
        let r = app.get("/logout", Some(&pair)).await;
        let removal = &r.set_cookie[0];
        assert!(removal.contains("Max-Age=0"), "{removal}");
        assert!(
            removal.split("; ").any(|a| a == "Secure"),
            "the removal cookie must match: {removal}"
        );
    }
    // And the unsafe ones never build.
    for bad in [
        Config::builder().cookie_name("__Host-sid"),
        Config::builder().cookie_name("__Secure-sid"),
        Config::builder().cookie_samesite(Some(SameSite::None)),
        Config::builder()
            .cookie_name("__Host-sid")
            .cookie_secure(true)
            .cookie_domain("example.test"),
        Config::builder()
            .cookie_name("__Host-sid")
            .cookie_secure(true)
            .cookie_path("/app"),
    ] {
        let err = bad.build().unwrap_err();
        assert!(!err.reason().is_empty());
    }
}
