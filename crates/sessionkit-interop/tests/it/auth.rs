//! The logged-in user shared with Django (issue 18.1): `DjangoAuth` behind the axum and
//! actix-web `DjangoUser` extractors, over Django's `django_session` and `auth_user`
//! tables, against Django's own `login`, `logout`, `get_user` and password changes (the
//! driver). Every scenario runs on both adapters and on each [`Backend`]: the `db` engine
//! over SQLite, PostgreSQL and MySQL, and `cached_db` over Redis ([`auth_matrix!`]).

use std::collections::HashMap;

use sessionkit_core::{Config, Engine, Session};
use sessionkit_django::Secrets;
use sessionkit_django::auth::{
    CurrentUser, DjangoAuth, MySqlUserLoader, PostgresUserLoader, SqliteUserLoader, UserTable,
};
use sessionkit_redis::DjangoCachedDbStore;
use sessionkit_sql::django::{DjangoMySqlStore, DjangoPostgresStore, DjangoSqliteStore};
use sessionkit_testkit::http::Response;

use crate::django::{Django, SECRET, text};

const OLD_SECRET: &str = "sessionkit-interop-old-secret";

fn answer(user: &CurrentUser) -> String {
    match user {
        CurrentUser::User { user, .. } => format!("User: {}", user.id),
        CurrentUser::Anonymous => "Anonymous".to_owned(),
    }
}

pub(crate) use crate::support::Rust;

mod axum_app {
    use std::collections::HashMap;

    use axum::Router;
    use axum::extract::{Extension, Query};
    use axum::http::StatusCode;
    use axum::routing::get;
    use sessionkit_core::{Engine, Session};
    use sessionkit_django::auth::DjangoAuth;
    use sessionkit_tower::DjangoUser;

    pub(super) async fn serve(engine: Engine, auth: DjangoAuth) -> super::Rust {
        let app = Router::new()
            .route(
                "/whoami",
                get(|DjangoUser(user): DjangoUser| async move { super::answer(&user) }),
            )
            .route(
                "/login",
                get(
                    |Extension(auth): Extension<DjangoAuth>,
                     session: Session,
                     Query(q): Query<HashMap<String, String>>| async move {
                        super::login(&auth, &session, &q)
                            .await
                            .map_err(|e| (StatusCode::FORBIDDEN, e))
                    },
                ),
            )
            .route(
                "/logout",
                get(
                    |Extension(auth): Extension<DjangoAuth>, session: Session| async move {
                        auth.logout(&session);
                        "Logged out"
                    },
                ),
            )
            .layer(Extension(auth));
        crate::support::serve_axum_session(engine, app).await
    }
}

mod actix_app {
    use std::collections::HashMap;

    use actix_web::{App, HttpResponse, web};
    use sessionkit_actix::DjangoUser;
    use sessionkit_core::{Engine, Session};
    use sessionkit_django::auth::DjangoAuth;

    async fn whoami(DjangoUser(user): DjangoUser) -> String {
        super::answer(&user)
    }

    async fn login(
        auth: web::Data<DjangoAuth>,
        session: Session,
        q: web::Query<HashMap<String, String>>,
    ) -> HttpResponse {
        match super::login(&auth, &session, &q).await {
            Ok(body) => HttpResponse::Ok().body(body),
            Err(body) => HttpResponse::Forbidden().body(body),
        }
    }

    async fn logout(auth: web::Data<DjangoAuth>, session: Session) -> &'static str {
        auth.logout(&session);
        "Logged out"
    }

    pub(super) fn serve(engine: Engine, auth: DjangoAuth) -> super::Rust {
        let data = web::Data::new(auth);
        crate::support::serve_actix_session!(engine, move || {
            App::new()
                .app_data(data.clone())
                .route("/whoami", web::get().to(whoami))
                .route("/login", web::get().to(login))
                .route("/logout", web::get().to(logout))
        })
    }
}

/// `/login?user=U&password=P` on the Rust side: `authenticate`, then `login`.
async fn login(
    auth: &DjangoAuth,
    session: &Session,
    q: &HashMap<String, String>,
) -> Result<String, String> {
    let (Some(name), Some(password)) = (q.get("user"), q.get("password")) else {
        return Err("missing user or password".into());
    };
    match auth.authenticate(name, password).await {
        Ok(Some(user)) => {
            auth.login(session, &user)
                .await
                .map_err(|e| e.to_string())?;
            Ok(format!("Logged in: {}", user.id))
        }
        Ok(None) => Err("Bad credentials".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The adapter a scenario runs on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Adapter {
    Axum,
    Actix,
}

/// Where Django keeps its sessions and users in a scenario: the `db` engine over SQLite
/// (a temp file), PostgreSQL (a schema of the test's own) or MySQL (a database of the
/// test's own), or `cached_db` over SQLite with its cache in Redis (a key prefix of the
/// test's own). The Rust side opens the matching Django-layout store and user loader.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    MySql,
    CachedDbRedis,
}

fn postgres_url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

fn mysql_url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
    )
}

fn redis_url() -> String {
    sessionkit_testkit::service_url("SESSIONKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// Django migrated on a [`Backend`], and the Rust side's engine and auth over the same
/// sessions and users. The namespace (schema, database, key prefix) is dropped, then the
/// temp dir removed, when the site drops.
pub(crate) struct Site {
    pub(crate) django: Django,
    backend: Backend,
    db: std::path::PathBuf,
    /// The PostgreSQL schema, MySQL database or Redis key prefix.
    namespace: String,
    _teardown: Option<crate::db::Teardown>,
    _dir: tempfile::TempDir,
}

impl Site {
    /// Django on `backend`, migrated; `None` (a visible skip, a failure under
    /// `SESSIONKIT_REQUIRE_SERVICES=1`) when Django or the service is missing.
    pub(crate) fn on(backend: Backend) -> Option<Site> {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("db.sqlite3");
        let sqlite = db.to_str().expect("UTF-8 temp path").to_owned();
        let namespace = crate::db::namespace();
        let (django, service) = match backend {
            Backend::Sqlite => (
                Django::new("db")?
                    .with("SK_DB", "sqlite")
                    .with("SK_SQLITE_PATH", &sqlite),
                None,
            ),
            Backend::Postgres => (
                Django::new("db")?
                    .with("SK_DB", "postgres")
                    .with("SK_PG_URL", &postgres_url())
                    .with("SK_PG_SCHEMA", &namespace),
                Some("PostgreSQL"),
            ),
            Backend::MySql => (
                Django::new("db")?
                    .with("SK_DB", "mysql")
                    .with("SK_MYSQL_URL", &mysql_url())
                    .with("SK_MYSQL_DB", &namespace),
                Some("MySQL"),
            ),
            Backend::CachedDbRedis => (
                Django::new("cached_db")?
                    .with("SK_DB", "sqlite")
                    .with("SK_SQLITE_PATH", &sqlite)
                    .with("SK_REDIS_URL", &redis_url())
                    .with("SK_CACHE_KEY_PREFIX", &namespace),
                Some("Redis"),
            ),
        };
        let teardown = service.map(|_| crate::db::Teardown(django.clone()));
        if let Err(e) = django.try_call(&["migrate"]) {
            match service {
                Some(name) => {
                    let _ = sessionkit_testkit::require::<()>(name, Err(e));
                    return None;
                }
                None => panic!("driver migrate failed: {e}"),
            }
        }
        Some(Site {
            django,
            backend,
            db,
            namespace,
            _teardown: teardown,
            _dir: dir,
        })
    }

    /// Django's `auth_user`, named as the loader reaches it on this backend.
    fn users(&self) -> UserTable {
        match self.backend {
            Backend::Sqlite | Backend::CachedDbRedis => UserTable::django(),
            Backend::Postgres | Backend::MySql => UserTable::custom(
                &format!("{}.auth_user", self.namespace),
                "id",
                "username",
                "password",
            )
            .expect("a valid table name"),
        }
    }

    pub(crate) async fn rust(
        &self,
        adapter: Adapter,
        secrets: &Secrets,
        configure: impl FnOnce(DjangoAuth) -> DjangoAuth,
    ) -> Rust {
        self.rust_with_table(adapter, secrets, self.users(), configure)
            .await
    }

    async fn rust_with_table(
        &self,
        adapter: Adapter,
        secrets: &Secrets,
        table: UserTable,
        configure: impl FnOnce(DjangoAuth) -> DjangoAuth,
    ) -> Rust {
        let engine = self.engine(secrets).await;
        let auth = configure(self.auth(secrets, table));
        match adapter {
            Adapter::Axum => axum_app::serve(engine, auth).await,
            Adapter::Actix => actix_app::serve(engine, auth),
        }
    }

    /// The Rust side's engine on Django's sessions: the Django-layout store of the
    /// backend, with `secrets`.
    pub(crate) async fn engine(&self, secrets: &Secrets) -> Engine {
        self.engine_with(secrets, Config::default()).await
    }

    /// [`Site::engine`] with `config`.
    pub(crate) async fn engine_with(&self, secrets: &Secrets, config: Config) -> Engine {
        match self.backend {
            Backend::Sqlite => {
                let store = DjangoSqliteStore::open(&self.db, secrets)
                    .await
                    .expect("open Django's db");
                Engine::new(store, config)
            }
            Backend::Postgres => {
                let store = DjangoPostgresStore::builder(&postgres_url(), secrets)
                    .with_schema(&self.namespace)
                    .connect()
                    .await
                    .expect("connect to Django's PostgreSQL schema");
                Engine::new(store, config)
            }
            Backend::MySql => {
                let store = DjangoMySqlStore::builder(&mysql_url(), secrets)
                    .with_database(&self.namespace)
                    .connect()
                    .await
                    .expect("connect to Django's MySQL database");
                Engine::new(store, config)
            }
            Backend::CachedDbRedis => {
                let db = DjangoSqliteStore::open(&self.db, secrets)
                    .await
                    .expect("open Django's db");
                let store = DjangoCachedDbStore::connect(db, &redis_url())
                    .await
                    .expect("connect to Redis")
                    .with_key_prefix(&self.namespace);
                Engine::new(store, config)
            }
        }
    }

    /// `DjangoAuth` over the backend's users in `table`.
    fn auth(&self, secrets: &Secrets, table: UserTable) -> DjangoAuth {
        match self.backend {
            Backend::Sqlite | Backend::CachedDbRedis => DjangoAuth::new(
                secrets,
                SqliteUserLoader::open(&self.db, table).expect("open the users"),
            ),
            Backend::Postgres => DjangoAuth::new(
                secrets,
                PostgresUserLoader::connect(&postgres_url(), table).expect("the users"),
            ),
            Backend::MySql => DjangoAuth::new(
                secrets,
                MySqlUserLoader::connect(&mysql_url(), table).expect("the users"),
            ),
        }
    }
}

pub(crate) async fn get(rust: &Rust, path: &str, key: Option<&str>) -> Response {
    let cookie = key.map(|k| format!("sessionid={k}"));
    crate::support::get(&rust.addr, path, cookie).await
}

/// The session key a response set (`None` when it removed the cookie or set none).
pub(crate) fn new_key(res: &Response) -> Option<String> {
    res.set_cookies().iter().find_map(|c| {
        let value = c.strip_prefix("sessionid=")?.split(';').next()?;
        (!value.is_empty() && !value.starts_with('"')).then(|| value.to_owned())
    })
}

pub(crate) fn exists(django: &Django, key: &str) -> bool {
    matches!(
        django.call(&["read", "--key", key]).get("exists"),
        Some(sessionkit_core::Value::Bool(true))
    )
}

pub(crate) fn django_user(django: &Django, key: &str) -> Option<String> {
    match django.call(&["whoami", "--key", key]).get("user") {
        Some(sessionkit_core::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

async fn django_login_then_password_change(adapter: Adapter, backend: Backend) {
    let Some(site) = Site::on(backend) else {
        return;
    };
    let rust = site.rust(adapter, &Secrets::new(SECRET), |a| a).await;
    let login = site.django.call(&["login", "--new", "--user", "alice"]);
    let key = text(&login, "key");
    let id = text(&login, "user_id");

    let res = get(&rust, "/whoami", Some(&key)).await;
    assert_eq!(
        (res.status, res.body.trim()),
        (200, format!("User: {id}").as_str())
    );

    // Inactive in Django: anonymous, the session kept.
    site.django
        .call(&["set-active", "--user", "alice", "--active", "0"]);
    assert_eq!(
        get(&rust, "/whoami", Some(&key)).await.body.trim(),
        "Anonymous"
    );
    assert!(exists(&site.django, &key));
    site.django
        .call(&["set-active", "--user", "alice", "--active", "1"]);
    assert_eq!(
        get(&rust, "/whoami", Some(&key)).await.body.trim(),
        format!("User: {id}")
    );

    // The password changes in Django: anonymous, and the session is gone.
    site.django
        .call(&["set-password", "--user", "alice", "--password", "changed"]);
    let res = get(&rust, "/whoami", Some(&key)).await;
    assert_eq!(res.body.trim(), "Anonymous");
    assert!(!exists(&site.django, &key), "the session was flushed");
}

async fn rust_login_is_a_django_login(adapter: Adapter, backend: Backend) {
    let Some(site) = Site::on(backend) else {
        return;
    };
    let rust = site.rust(adapter, &Secrets::new(SECRET), |a| a).await;
    site.django.call(&["login", "--new", "--user", "bob"]);
    let set = site.django.call(&[
        "set-password",
        "--user",
        "bob",
        "--password",
        "pw-1",
        "--iterations",
        "1000",
    ]);
    let id = text(&set, "user_id");

    let refused = get(&rust, "/login?user=bob&password=wrong", None).await;
    assert_eq!(refused.status, 403);
    let res = get(&rust, "/login?user=bob&password=pw-1", None).await;
    assert_eq!(
        (res.status, res.body.trim()),
        (200, format!("Logged in: {id}").as_str())
    );
    let key = new_key(&res).expect("a session cookie");
    assert_eq!(django_user(&site.django, &key).as_deref(), Some("bob"));
    let raw = site.django.call(&["read", "--key", &key]);
    let data = match raw.get("data") {
        Some(sessionkit_core::Value::Map(m)) => m.clone(),
        other => panic!("{other:?}"),
    };
    let csrf = match data.get("_csrftoken") {
        Some(sessionkit_core::Value::String(s)) => s.clone(),
        other => panic!("no CSRF secret: {other:?}"),
    };
    assert!(sessionkit_django::csrf::is_valid_secret(&csrf));
    let last = site.django.call(&["last-login", "--user", "bob"]);
    assert!(
        matches!(
            last.get("last_login"),
            Some(sessionkit_core::Value::String(_))
        ),
        "{last:?}"
    );

    // Logout on the Rust side logs out Django too.
    let out = get(&rust, "/logout", Some(&key)).await;
    assert_eq!(out.status, 200);
    assert_eq!(django_user(&site.django, &key), None);
    assert!(!exists(&site.django, &key));

    // Logout on Django's side logs out the Rust side.
    let key = new_key(&get(&rust, "/login?user=bob&password=pw-1", None).await).unwrap();
    site.django.call(&["logout", "--key", &key]);
    assert_eq!(
        get(&rust, "/whoami", Some(&key)).await.body.trim(),
        "Anonymous"
    );
}

async fn fallback_key_backend_hash_and_loader_failure(adapter: Adapter, backend: Backend) {
    let Some(site) = Site::on(backend) else {
        return;
    };
    // A login made while Django's SECRET_KEY was OLD_SECRET.
    let old = site.django.clone().with("SK_SECRET_KEY", OLD_SECRET);
    let login = old.call(&["login", "--new", "--user", "carol"]);
    let (key, id) = (text(&login, "key"), text(&login, "user_id"));
    let rotated = Secrets::new(SECRET).with_fallback(OLD_SECRET);
    let rust = site.rust(adapter, &rotated, |a| a).await;
    let res = get(&rust, "/whoami", Some(&key)).await;
    assert_eq!(res.body.trim(), format!("User: {id}"));
    let cycled = new_key(&res).expect("the key was cycled");
    assert_ne!(cycled, key);
    let now = site
        .django
        .clone()
        .with("SK_SECRET_KEY_FALLBACKS", OLD_SECRET);
    assert_eq!(django_user(&now, &cycled).as_deref(), Some("carol"));
    // The stored hash is now the current key's: Django without the fallback agrees.
    assert_eq!(django_user(&site.django, &cycled).as_deref(), Some("carol"));
    drop(rust);

    // A backend not in the list: anonymous, the session kept.
    let login = site.django.call(&["login", "--new", "--user", "dave"]);
    let key = text(&login, "key");
    let other = site
        .rust(adapter, &Secrets::new(SECRET), |a| {
            a.with_backends(["myapp.backends.Other"])
        })
        .await;
    assert_eq!(
        get(&other, "/whoami", Some(&key)).await.body.trim(),
        "Anonymous"
    );
    assert!(exists(&site.django, &key));
    drop(other);

    // A missing hash: flushed.
    let rust = site.rust(adapter, &Secrets::new(SECRET), |a| a).await;
    site.django
        .call(&["update", "--key", &key, "--delete", "_auth_user_hash"]);
    assert_eq!(
        get(&rust, "/whoami", Some(&key)).await.body.trim(),
        "Anonymous"
    );
    assert!(!exists(&site.django, &key));
    drop(rust);

    // A loader that fails (its table does not exist): 503, nothing decided.
    let login = site.django.call(&["login", "--new", "--user", "erin"]);
    let key = text(&login, "key");
    let broken = UserTable::custom("no_such_table", "id", "username", "password").unwrap();
    let rust = site
        .rust_with_table(adapter, &Secrets::new(SECRET), broken, |a| a)
        .await;
    let res = get(&rust, "/whoami", Some(&key)).await;
    assert_eq!(res.status, 503, "{res:?}");
    assert_eq!(
        res.body.trim(),
        sessionkit_django::auth::LOADER_UNAVAILABLE_MESSAGE
    );
    assert_eq!(res.header("retry-after"), Some("1"));
    assert_eq!(django_user(&site.django, &key).as_deref(), Some("erin"));
}

/// Tests of `scenario(adapter, backend)` functions of the invoking module: one per
/// adapter (`axum`, `actix`) and backend (`sqlite`, `postgres`, `mysql`,
/// `cached_db_redis`), e.g. `auth::axum::postgres::rust_login_is_a_django_login`.
#[macro_export]
macro_rules! auth_matrix {
    ($($name:ident),* $(,)?) => {
        mod axum {
            $crate::auth_matrix!(@backends Axum; $($name),*);
        }
        mod actix {
            $crate::auth_matrix!(@backends Actix; $($name),*);
        }
    };
    (@backends $adapter:ident; $($name:ident),*) => {
        mod sqlite {
            $crate::auth_matrix!(@tests $adapter, Sqlite; $($name),*);
        }
        mod postgres {
            $crate::auth_matrix!(@tests $adapter, Postgres; $($name),*);
        }
        mod mysql {
            $crate::auth_matrix!(@tests $adapter, MySql; $($name),*);
        }
        mod cached_db_redis {
            $crate::auth_matrix!(@tests $adapter, CachedDbRedis; $($name),*);
        }
    };
    (@tests $adapter:ident, $backend:ident; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::super::$name(
                    $crate::auth::Adapter::$adapter,
                    $crate::auth::Backend::$backend,
                )
                .await;
            }
        )*
    };
}

crate::auth_matrix!(
    django_login_then_password_change,
    rust_login_is_a_django_login,
    fallback_key_backend_hash_and_loader_failure
);

/// The PostgreSQL and MySQL loaders against Django's own `auth_user` (made by `migrate`
/// in a schema / database of the test's own): the user Django logged in, `authenticate`
/// with a PBKDF2 hash Django made, `is_active`, and `last_login` as Django reads it.
async fn loader_against_django(django: &Django, auth: DjangoAuth) {
    let login = django.call(&["login", "--new", "--user", "frank"]);
    let id = text(&login, "user_id");
    django.call(&[
        "set-password",
        "--user",
        "frank",
        "--password",
        "pw-2",
        "--iterations",
        "1000",
    ]);
    let user = auth.loader().by_id(&id).await.unwrap().expect("frank");
    assert_eq!((user.username.as_str(), user.is_active), ("frank", true));
    assert!(auth.loader().by_id("999999").await.unwrap().is_none());
    assert!(auth.loader().by_id("frank").await.unwrap().is_none());
    assert!(auth.authenticate("frank", "nope").await.unwrap().is_none());
    let user = auth
        .authenticate("frank", "pw-2")
        .await
        .unwrap()
        .expect("right password");

    // A Rust login: Django's get_user agrees, and last_login was set.
    let session = Session::detached();
    auth.login(&session, &user).await.unwrap();
    assert!(auth.get_user(&session).await.unwrap().is_authenticated());
    let last = django.call(&["last-login", "--user", "frank"]);
    assert!(
        matches!(
            last.get("last_login"),
            Some(sessionkit_core::Value::String(_))
        ),
        "{last:?}"
    );
    django.call(&["set-active", "--user", "frank", "--active", "0"]);
    assert!(!auth.loader().by_id(&id).await.unwrap().unwrap().is_active);
    assert!(auth.authenticate("frank", "pw-2").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_loader() {
    let Some(django) = Django::new("db") else {
        return;
    };
    let url = sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let schema = crate::db::namespace();
    let django = django
        .with("SK_DB", "postgres")
        .with("SK_PG_URL", &url)
        .with("SK_PG_SCHEMA", &schema);
    let _teardown = crate::db::Teardown(django.clone());
    if django.try_call(&["migrate"]).is_err() {
        let _ = sessionkit_testkit::require::<()>("PostgreSQL", Err("unreachable".into()));
        return;
    }
    let table =
        UserTable::custom(&format!("{schema}.auth_user"), "id", "username", "password").unwrap();
    let loader = sessionkit_django::auth::PostgresUserLoader::connect(&url, table).unwrap();
    loader_against_django(&django, DjangoAuth::new(&Secrets::new(SECRET), loader)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_loader() {
    let Some(django) = Django::new("db") else {
        return;
    };
    let url = sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
    );
    let database = crate::db::namespace();
    let django = django
        .with("SK_DB", "mysql")
        .with("SK_MYSQL_URL", &url)
        .with("SK_MYSQL_DB", &database);
    let _teardown = crate::db::Teardown(django.clone());
    if django.try_call(&["migrate"]).is_err() {
        let _ = sessionkit_testkit::require::<()>("MySQL", Err("unreachable".into()));
        return;
    }
    let table = UserTable::custom(
        &format!("{database}.auth_user"),
        "id",
        "username",
        "password",
    )
    .unwrap();
    let loader = sessionkit_django::auth::MySqlUserLoader::connect(&url, table).unwrap();
    loader_against_django(&django, DjangoAuth::new(&Secrets::new(SECRET), loader)).await;
}
