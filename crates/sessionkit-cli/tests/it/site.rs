//! `/whoami`, `/flash` and `/messages` in both layouts, driven without a socket; the
//! Django layout's users from a SQLite `auth_user` table with Django's schema.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sessionkit_cli::serve::{Site, app, app_for};
use sessionkit_core::{Config, Engine, MemoryStore};
use sessionkit_django::Secrets;
use sessionkit_django::auth::hashers::make_pbkdf2_sha256;
use sessionkit_django::auth::{DjangoAuth, SqliteUserLoader, UserTable};

use crate::support::send_with_cookie;

/// One client of one app: its session cookie and the `messages` cookie.
struct Client {
    app: Router,
    cookie: Option<String>,
}

impl Client {
    fn new(app: Router) -> Client {
        Client { app, cookie: None }
    }

    async fn get(&mut self, path: &str) -> (StatusCode, String) {
        self.send(Request::get(path), Body::empty()).await
    }

    /// The HTML page at `path`.
    async fn page(&mut self, path: &str) -> (StatusCode, String) {
        let req = Request::get(path).header(header::ACCEPT, "text/html");
        self.send(req, Body::empty()).await
    }

    /// A same-origin form submission.
    async fn post(&mut self, path: &str, form: &str) -> (StatusCode, String) {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::ORIGIN, "http://127.0.0.1:8000");
        self.send(req, Body::from(form.to_owned())).await
    }

    async fn send(
        &mut self,
        req: axum::http::request::Builder,
        body: Body,
    ) -> (StatusCode, String) {
        let (status, headers, body) =
            send_with_cookie(&self.app, &mut self.cookie, req, body).await;
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            assert!(c.starts_with("sessionid="), "only the session cookie: {c}");
        }
        (status, body)
    }
}

fn engine() -> Engine {
    Engine::new(MemoryStore::new(), Config::default())
}

const SECRET: &str = "django-insecure-demo-secret";

/// The Django layout's app over `engine`, its users from `auth` (none: no users).
fn django_app(engine: Engine, secrets: &Secrets, auth: Option<DjangoAuth>) -> Router {
    app_for(engine, Site::django(secrets, auth), 16 * 1024)
}

#[tokio::test]
async fn native_whoami_follows_the_name_only_login() {
    let mut c = Client::new(app(engine()));
    assert_eq!(c.get("/whoami").await, (StatusCode::OK, "Anonymous".into()));
    assert!(c.cookie.is_none(), "/whoami alone starts no session");
    assert_eq!(c.get("/login?user=alice").await.0, StatusCode::OK);
    assert_eq!(
        c.get("/whoami").await,
        (StatusCode::OK, "User: alice".into())
    );
    assert_eq!(c.get("/logout").await.0, StatusCode::OK);
    assert_eq!(c.get("/whoami").await, (StatusCode::OK, "Anonymous".into()));
}

async fn messages_flow(app: Router) {
    let mut c = Client::new(app);
    assert_eq!(
        c.get("/messages").await,
        (StatusCode::OK, "Messages: none".into())
    );
    assert!(c.cookie.is_none(), "reading no messages starts no session");
    assert_eq!(
        c.get("/flash?msg=first").await,
        (StatusCode::OK, "Message added".into())
    );
    assert!(
        c.cookie.is_some(),
        "session storage: the message is in the session"
    );
    assert_eq!(c.get("/flash?msg=second%20one").await.1, "Message added");
    assert_eq!(
        c.get("/messages").await,
        (StatusCode::OK, "Messages: first | second one".into())
    );
    assert_eq!(
        c.get("/messages").await.1,
        "Messages: none",
        "consumed on read"
    );
    // Another client sees none of them.
    let mut other = Client::new(c.app.clone());
    c.get("/flash?msg=mine").await;
    assert_eq!(other.get("/messages").await.1, "Messages: none");
    assert_eq!(c.get("/messages").await.1, "Messages: mine");
}

#[tokio::test]
async fn native_flash_messages_are_shown_once() {
    messages_flow(app(engine())).await;
}

#[tokio::test]
async fn django_flash_messages_are_shown_once() {
    messages_flow(django_app(engine(), &Secrets::new(SECRET), None)).await;
}

#[tokio::test]
async fn bad_flash_messages_are_refused() {
    let mut c = Client::new(app(engine()));
    for path in [
        "/flash",
        "/flash?msg=",
        "/flash?msg=%20",
        "/flash?msg=a%0Ab",
    ] {
        assert_eq!(c.get(path).await.0, StatusCode::BAD_REQUEST, "{path}");
    }
    let long = format!("/flash?msg={}", "x".repeat(501));
    assert_eq!(c.get(&long).await.0, StatusCode::BAD_REQUEST);
    assert!(c.cookie.is_none(), "a refused message starts no session");
    assert_eq!(c.get("/messages").await.1, "Messages: none");
}

#[tokio::test]
async fn django_layout_without_users_is_anonymous_and_refuses_name_only_login() {
    let mut c = Client::new(django_app(engine(), &Secrets::new(SECRET), None));
    let (status, body) = c.get("/login?user=alice").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("Django username and password"), "{body}");
    assert!(c.cookie.is_none(), "nobody was logged in");
}

#[tokio::test]
async fn django_layout_without_users_is_anonymous_even_for_a_django_login() {
    let engine = engine();
    let mut c = Client::new(django_app(engine.clone(), &Secrets::new(SECRET), None));
    // A session as Django's login leaves it: nothing here can check its hash.
    let rs = engine.begin(None);
    let session = rs.load().await.unwrap();
    session.insert("_auth_user_id", "1").unwrap();
    session
        .insert(
            "_auth_user_backend",
            "django.contrib.auth.backends.ModelBackend",
        )
        .unwrap();
    session.insert("_auth_user_hash", "0123abcd").unwrap();
    let set = rs.finish(200).await.set_cookie;
    c.cookie = set[0].split(';').next().map(str::to_owned);
    assert_eq!(c.get("/whoami").await, (StatusCode::OK, "Anonymous".into()));
    assert!(c.cookie.is_some(), "the session is left alone");
}

const BIN: &str = env!("CARGO_BIN_EXE_sessionkit");

/// `sessionkit serve ARGS` in `dir` with the Django secret in a file, expected to fail at
/// startup: its stderr.
fn refused(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(BIN)
        .current_dir(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("SESSIONKIT_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} started");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn bad_django_auth_db_options_are_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), SECRET).unwrap();
    let err = refused(dir.path(), &["--django-auth-db", "sqlite://users.db"]);
    assert!(err.contains("needs --layout django"), "{err}");
    assert!(
        !dir.path().join("sessions.sqlite3").exists(),
        "refused before the store is created"
    );
    let sessions = dir.path().join("sessions");
    std::fs::create_dir(&sessions).unwrap();
    let store = format!("file://{}", sessions.display());
    let django = [
        "--store",
        &store,
        "--layout",
        "django",
        "--secret-key-file",
        "key",
        "--django-auth-db",
    ];
    let err = refused(dir.path(), &[&django[..], &["ftp://x"]].concat());
    assert!(
        err.contains("expected sqlite://, postgres:// or mysql://"),
        "{err}"
    );
    let err = refused(
        dir.path(),
        &[&django[..], &["sqlite://missing.db"]].concat(),
    );
    assert!(
        err.contains("--django-auth-db sqlite://missing.db"),
        "{err}"
    );
}

/// The binary in the Django layout (Django's file sessions): startup says, once, why every
/// session is anonymous without `--django-auth-db`.
#[test]
fn django_layout_serve_logs_why_users_are_anonymous() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), SECRET).unwrap();
    let sessions = dir.path().join("sessions");
    std::fs::create_dir(&sessions).unwrap();
    let store = format!("file://{}", sessions.display());
    let port = crate::support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(BIN)
        .current_dir(dir.path())
        .args([
            "serve",
            "--listen",
            &addr,
            "--layout",
            "django",
            "--secret-key-file",
            "key",
        ])
        .args(["--store", &store])
        .env_remove("SESSIONKIT_SECRET_KEY")
        .env("SESSIONKIT_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while crate::http::get(&addr, "/healthz", None).is_err() {
        assert!(child.try_wait().unwrap().is_none(), "serve exited early");
        assert!(
            std::time::Instant::now() < deadline,
            "server did not come up"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        crate::http::get(&addr, "/whoami", None).unwrap().body,
        "Anonymous"
    );
    assert_eq!(
        crate::http::get(&addr, "/login?user=alice", None)
            .unwrap()
            .status,
        400
    );
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let why: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("--django-auth-db"))
        .collect();
    assert_eq!(why.len(), 1, "{err}");
    assert!(why[0].contains("Anonymous for every session"), "{err}");
}

/// Django's `auth_user` as its SQLite migrations create it, with one user.
fn auth_db(dir: &std::path::Path, password: &str) -> std::path::PathBuf {
    let path = dir.join("users.sqlite3");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        r#"CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "password" varchar(128) NOT NULL, "last_login" datetime NULL, "is_superuser" bool NOT NULL, "username" varchar(150) NOT NULL UNIQUE, "last_name" varchar(150) NOT NULL, "email" varchar(254) NOT NULL, "is_staff" bool NOT NULL, "is_active" bool NOT NULL, "date_joined" datetime NOT NULL, "first_name" varchar(150) NOT NULL);"#,
    )
    .unwrap();
    conn.execute(
        r#"INSERT INTO auth_user (password, is_superuser, username, last_name, email, is_staff, is_active, date_joined, first_name) VALUES (?1, 0, 'alice', '', '', 0, 1, '2026-01-01 00:00:00', '')"#,
        [make_pbkdf2_sha256(password, "demosalt", 1000)],
    )
    .unwrap();
    path
}

/// Django's users from an [`auth_db`] in `dir` (alice, password `s3cret`), under [`SECRET`]:
/// the database's path, the secrets and the users.
fn alice_auth(dir: &std::path::Path) -> (std::path::PathBuf, Secrets, DjangoAuth) {
    let db = auth_db(dir, "s3cret");
    let secrets = Secrets::new(SECRET);
    let auth = DjangoAuth::new(
        &secrets,
        SqliteUserLoader::open(&db, UserTable::django()).unwrap(),
    );
    (db, secrets, auth)
}

#[tokio::test]
async fn django_layout_whoami_checks_the_users_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (db, secrets, auth) = alice_auth(dir.path());
    let engine = engine();
    let mut c = Client::new(django_app(engine.clone(), &secrets, Some(auth.clone())));
    assert_eq!(c.get("/whoami").await.1, "Anonymous");
    assert_eq!(c.get("/login?user=alice").await.0, StatusCode::BAD_REQUEST);

    // A login as Django makes it (here through the library, as the Django site would).
    let user = auth
        .authenticate("alice", "s3cret")
        .await
        .unwrap()
        .expect("alice");
    let rs = engine.begin(None);
    auth.login(&rs.load().await.unwrap(), &user).await.unwrap();
    let set = rs.finish(200).await.set_cookie;
    c.cookie = set[0].split(';').next().map(str::to_owned);
    assert_eq!(c.get("/whoami").await, (StatusCode::OK, "User: 1".into()));

    // The password changes: the session's hash no longer matches, Django flushes it.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE auth_user SET password = ?1",
            [make_pbkdf2_sha256("other", "demosalt", 1000)],
        )
        .unwrap();
    assert_eq!(c.get("/whoami").await, (StatusCode::OK, "Anonymous".into()));
    assert!(
        c.cookie.is_none(),
        "the flushed session's cookie is removed"
    );
}

/// The value of a page's hidden CSRF field.
fn token(page: &str) -> String {
    let marker = r#"name="csrfmiddlewaretoken" value=""#;
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn django_sign_in_form_is_djangos_authenticate_and_login() {
    let dir = tempfile::tempdir().unwrap();
    let (_, secrets, auth) = alice_auth(dir.path());
    let mut c = Client::new(django_app(engine(), &secrets, Some(auth)));
    let (status, page) = c.page("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"name="password""#), "{page}");
    assert!(
        !page.contains(r#"name="user""#),
        "no name-only field: {page}"
    );
    let csrf = token(&page);

    let (status, body) = c
        .post(
            "/account/login",
            &format!("csrfmiddlewaretoken={csrf}&username=alice&password=wrong"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(c.get("/whoami").await.1, "Anonymous");
    let (status, _) = c
        .post(
            "/account/login",
            &format!("csrfmiddlewaretoken={csrf}&user=alice"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a name alone signs nobody in"
    );
    let (status, _) = c
        .post("/account/login", "username=alice&password=s3cret")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "CSRF still checked");

    let (status, _) = c
        .post(
            "/account/login",
            &format!("csrfmiddlewaretoken={csrf}&username=alice&password=s3cret"),
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/whoami").await, (StatusCode::OK, "User: 1".into()));
}

#[tokio::test]
async fn django_layout_without_users_has_no_sign_in_form() {
    let mut c = Client::new(django_app(engine(), &Secrets::new(SECRET), None));
    let (status, page) = c.page("/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Sign in on the Django site"), "{page}");
    assert!(!page.contains(r#"id="login-form""#), "{page}");
    assert!(
        c.cookie.is_none(),
        "a page without a form starts no session"
    );
}
