//! A Rust service beside a Django site (docs/DJANGO.md, "Beside a Django site"): Django's
//! logged-in user, Django's flash messages and Django's CSRF protection, on the Django
//! project's own SQLite database (`django_session` and `auth_user`, made by Django's
//! `migrate`) and Django's `SECRET_KEY`.
//!
//! Run:
//!
//! ```sh
//! SESSIONKIT_SECRET_KEY='<the site's SECRET_KEY>' cargo run -p sessionkit --features django \
//!     --example django-site -- --db /srv/site/db.sqlite3 [--listen 127.0.0.1:3000]
//! ```
//!
//! The Django site sets `CSRF_USE_SESSIONS = True` (the CSRF secret in the session) and
//! serves the same host (one `sessionid` cookie for both). Then:
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /whoami` | `User: <id> (<username>)` or `Anonymous`, by Django's `get_user()` rules |
//! | `GET /` | the user, the flash messages waiting (consumed: Django's and ours), a sign-in or sign-out form and a note form, each with a CSRF token |
//! | `POST /login` | Django's `authenticate()` then `login()` (the session Django reads as logged in) |
//! | `POST /logout` | Django's `logout()` (both sides logged out) |
//! | `POST /note` | adds a success message, shown by the next page, Django's or ours |
//!
//! Every POST is CSRF-checked by [`CsrfLayer`] with Django's rules: a token rendered by
//! Django is accepted here, and one rendered here by Django.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use axum::Router;
use axum::extract::{Extension, Form};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sessionkit::django::Secrets;
use sessionkit::django::auth::{
    AuthError, CurrentUser, DjangoAuth, LOADER_UNAVAILABLE_MESSAGE, SqliteUserLoader, UserTable,
};
use sessionkit::django::axum::{CsrfLayer, CsrfToken, DjangoUser, Messages, MessagesLayer};
use sessionkit::django::csrf::CsrfConfig;
use sessionkit::django::messages::MessagesConfig;
use sessionkit::django::sql::DjangoSqliteStore;
use sessionkit::{Config, Session, SessionLayer};

/// `GET /whoami`
async fn whoami(DjangoUser(user): DjangoUser) -> String {
    match user {
        CurrentUser::User { user, .. } => format!("User: {} ({})", user.id, user.username),
        CurrentUser::Anonymous => "Anonymous".to_owned(),
    }
}

/// HTML-escapes a text (message texts marked safe by Django are shown as they are).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
}

/// `GET /`: who is signed in, the messages (read, so consumed), and the forms.
async fn home(
    DjangoUser(user): DjangoUser,
    Messages(messages): Messages,
    CsrfToken(token): CsrfToken,
) -> Html<String> {
    let field = format!(r#"<input type="hidden" name="csrfmiddlewaretoken" value="{token}">"#);
    let shown: String = messages
        .consume()
        .iter()
        .map(|m| {
            let text = if m.safe {
                m.message.clone()
            } else {
                escape(&m.message)
            };
            format!("<li>{text}</li>")
        })
        .collect();
    let account = match &user {
        CurrentUser::User { user, .. } => format!(
            r#"<p>Signed in as {}.</p><form method="post" action="/logout">{field}<button>Sign out</button></form>"#,
            escape(&user.username)
        ),
        CurrentUser::Anonymous => format!(
            r#"<form method="post" action="/login">{field}<input name="username" placeholder="username"> <input name="password" type="password" placeholder="password"> <button>Sign in</button></form>"#
        ),
    };
    Html(format!(
        r#"<!doctype html><title>Beside Django</title><ul>{shown}</ul>{account}<form method="post" action="/note">{field}<input name="text" placeholder="a note"> <button>Add a message</button></form>"#
    ))
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

/// An auth failure as a response: the user database down is a 503 (retry), never a silent
/// failure to sign in; a session that refused the write is a 500.
fn failed(e: AuthError) -> Response {
    match e {
        AuthError::Loader(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            LOADER_UNAVAILABLE_MESSAGE,
        )
            .into_response(),
        other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()).into_response(),
    }
}

/// `POST /login`: Django's `authenticate()`, then `login()` (a new key, the three auth
/// keys, a new CSRF secret, `last_login`).
async fn login(
    Extension(auth): Extension<DjangoAuth>,
    session: Session,
    Messages(messages): Messages,
    Form(form): Form<Login>,
) -> Response {
    match auth.authenticate(&form.username, &form.password).await {
        Ok(Some(user)) => match auth.login(&session, &user).await {
            Ok(()) => {
                messages.success(format!("Welcome, {}.", user.username));
            }
            Err(e) => return failed(e),
        },
        Ok(None) => {
            messages.error("Wrong username or password.");
        }
        Err(e) => return failed(e.into()),
    }
    Redirect::to("/").into_response()
}

/// `POST /logout`: Django's `logout()` (the session flushed: Django's side is out too).
async fn logout(Extension(auth): Extension<DjangoAuth>, session: Session) -> Redirect {
    auth.logout(&session);
    Redirect::to("/")
}

#[derive(Deserialize)]
struct Note {
    text: String,
}

/// `POST /note`: a success message for the next page, Django's or ours.
async fn note(Messages(messages): Messages, Form(note): Form<Note>) -> Redirect {
    messages.success(note.text);
    Redirect::to("/")
}

/// The app over Django's session store and users; separate from `main` so that tests can
/// drive it without a socket.
pub fn app(store: DjangoSqliteStore, auth: DjangoAuth, secrets: &Secrets) -> Router {
    let config = Config::default(); // cookie `sessionid`, two weeks: Django's defaults
    let messages = MessagesConfig::new(secrets).with_session_cookie(&config);
    Router::new()
        .route("/", get(home))
        .route("/whoami", get(whoami))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/note", post(note))
        // Inside the session layer, as Django's CsrfViewMiddleware and MessageMiddleware
        // come after its SessionMiddleware.
        .layer(CsrfLayer::new(CsrfConfig::new()))
        .layer(MessagesLayer::new(messages))
        .layer(Extension(auth))
        .layer(SessionLayer::new(store, config))
}

/// `--db PATH` (required) and `--listen ADDR` (default 127.0.0.1:3000).
fn options() -> Result<(PathBuf, SocketAddr), String> {
    let (mut db, mut listen) = (None, "127.0.0.1:3000".to_owned());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--db" => db = Some(args.next().ok_or("--db needs a path")?),
            "--listen" => listen = args.next().ok_or("--listen needs an address")?,
            _ => {
                return Err(format!(
                    "unexpected argument {arg:?}; the options are --db PATH and --listen ADDR"
                ));
            }
        }
    }
    let db = db.ok_or("--db PATH names the Django project's SQLite database")?;
    let addr = listen
        .parse()
        .map_err(|_| format!("{listen:?} is not an address to listen on, e.g. 127.0.0.1:3000"))?;
    Ok((PathBuf::from(db), addr))
}

async fn run() -> Result<(), String> {
    let (db, addr) = options()?;
    let key = std::env::var("SESSIONKIT_SECRET_KEY")
        .map_err(|_| "set SESSIONKIT_SECRET_KEY to the Django site's SECRET_KEY".to_owned())?;
    let secrets = Secrets::new(&key);
    let store = DjangoSqliteStore::open(&db, &secrets)
        .await
        .map_err(|e| e.report())?;
    let users = SqliteUserLoader::open(&db, UserTable::django()).map_err(|e| e.to_string())?;
    let auth = DjangoAuth::new(&secrets, users);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{local}/");
    axum::serve(listener, app(store, auth, &secrets))
        .await
        .map_err(|e| format!("server error: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("django-site: {e}");
            ExitCode::FAILURE
        }
    }
}
