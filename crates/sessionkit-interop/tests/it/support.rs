//! What the modules share beyond the scenarios: Django on a migrated temp SQLite database
//! ([`sqlite_django`]), a Rust app served on a real port by axum or actix-web behind the
//! session middleware ([`serve_axum_session`], [`serve_actix_session!`]), and a GET to it
//! from a blocking client ([`get`]).
//!
//! Each adapter module (`auth`, `csrf`, `messages`) still builds its own routes: they
//! differ. What was the same in each (binding a port, running actix-web on a thread of its
//! own, stopping the server on drop, the session middleware around the app) is here, or,
//! for actix-web, in `sessionkit_actix::testing::serve`, which the adapter's own tests use
//! too. The adapter × backend matrix is `auth`'s ([`crate::auth_matrix!`]).

use std::path::PathBuf;

use sessionkit_core::Engine;
use sessionkit_testkit::http::Response;
use tempfile::TempDir;

use crate::django::Django;

pub(crate) use sessionkit_actix::testing::serve as serve_actix;
/// A running Rust server (its `addr`); stopped on drop.
pub(crate) use sessionkit_testkit::adapter::Server as Rust;

/// Serves `app` on `127.0.0.1` (a free port) on the test's runtime; aborted on drop.
pub(crate) async fn serve_axum(app: axum::Router) -> Rust {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Rust {
        addr,
        guard: Box::new(Abort(task)),
    }
}

/// [`serve_axum`] with the session layer over `engine` around `app` (the outermost layer).
pub(crate) async fn serve_axum_session(engine: Engine, app: axum::Router) -> Rust {
    serve_axum(app.layer(sessionkit_tower::SessionLayer::from_engine(engine))).await
}

/// [`serve_actix`] with the session middleware over `engine` around the apps `app` makes
/// (the outermost middleware: registered last). A macro, so that the app's type need not be
/// spelled out again: `serve_actix`'s bounds say it.
macro_rules! serve_actix_session {
    ($engine:expr, $app:expr) => {{
        let session = sessionkit_actix::SessionMiddleware::from_engine($engine);
        let app = $app;
        $crate::support::serve_actix(move || app().wrap(session.clone()))
    }};
}
pub(crate) use serve_actix_session;

struct Abort(tokio::task::JoinHandle<std::io::Result<()>>);

impl Drop for Abort {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A GET of `path` on `addr` with `cookie` as the `Cookie` header, from a blocking thread.
pub(crate) async fn get(addr: &str, path: &str, cookie: Option<String>) -> Response {
    let (addr, path) = (addr.to_owned(), path.to_owned());
    tokio::task::spawn_blocking(move || {
        sessionkit_testkit::http::get(&addr, &path, cookie.as_deref()).expect("request")
    })
    .await
    .unwrap()
}

/// Django on a temp SQLite database, migrated: the file (`db`) lives as long as `dir`.
pub(crate) struct SqliteDjango {
    pub(crate) django: Django,
    pub(crate) db: PathBuf,
    pub(crate) dir: TempDir,
}

/// Django with `engine` (`db`, `cache`, `cached_db`) on a temp SQLite database, set up by
/// `configure`, then migrated; `None` when the Django venv is missing.
pub(crate) fn sqlite_django(
    engine: &str,
    configure: impl FnOnce(Django) -> Django,
) -> Option<SqliteDjango> {
    let django = Django::new(engine)?;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("db.sqlite3");
    let django = configure(django)
        .with("SK_DB", "sqlite")
        .with("SK_SQLITE_PATH", db.to_str().expect("UTF-8 temp path"));
    django.call(&["migrate"]);
    Some(SqliteDjango { django, db, dir })
}
