//! `sessionkit serve`: the tutorial's demo app, and a small web app around it.
//!
//! The tutorial's plain-text routes (for curl and scripts; all GET):
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | `Visit count: N` — reads `count` (default 0), adds 1, stores it |
//! | `GET /atomic` | the same with `update_with`: no increment lost under concurrent requests |
//! | `GET /color/set?color=X` | stores the favorite color; `Color saved` |
//! | `GET /color/get` | `Favorite color: X`, or `unknown` (a read: a new visitor gets no session) |
//! | `GET /login?user=ID` | logs in as `ID` (rotates the key, records the user) |
//! | `GET /logout` | flushes the session |
//! | `GET /healthz` | `ok`; never touches the store |
//!
//! The HTML pages (server-rendered askama templates, no JavaScript). `GET /` answers HTML
//! only to clients whose `Accept` asks for `text/html` (browsers), with the same counter
//! plus a table of the session's visits; everything else still gets the plain text.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` (HTML) | the count and the last 20 visits as the server saw them (kept in the session) |
//! | `GET /color`, `POST /color` | the favorite-color form |
//! | `GET /account` | the login form, or the user's sessions across browsers |
//! | `POST /account/login`, `/account/logout` | Django's `login` (key rotated) and `logout` (cookie removed) |
//! | `POST /account/revoke`, `/account/revoke-others` | delete one other session, or all others |
//! | `GET /inspect` | the key's fingerprint, the data as JSON, the expiry, the store |
//!
//! Every form is a POST protected against CSRF (an origin check plus a token kept in the
//! session; see `csrf.rs`) and answered with a 303 redirect. A page without a form only
//! reads, so it never starts a session.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use serde::Deserialize;
use sessionkit_core::{
    Concurrency, Config, Engine, RequestSession, Session, SessionError, SystemClock,
};
use sessionkit_tower::SessionLayer;

use crate::StoreArgs;
use crate::store_url::Opened;

mod csrf;
mod pages;

/// `sessionkit serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", value_parser = crate::parse_listen)]
    pub listen: SocketAddr,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Lock mode: one request at a time per session (instead of compare-and-set with
    /// replay).
    #[arg(long)]
    pub lock: bool,
}

/// The demo app over an engine; tests drive it without a socket.
pub fn app(engine: Engine) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/atomic", get(atomic))
        .route("/color/set", get(set_color))
        .route("/color/get", get(get_color))
        .route("/login", get(login))
        .route("/logout", get(logout))
        .route("/healthz", get(|| async { "ok" }))
        .route("/color", get(pages::color_page).post(pages::save_color))
        .route("/account", get(pages::account))
        .route("/account/login", post(pages::login))
        .route("/account/logout", post(pages::logout))
        .route("/account/revoke", post(pages::revoke))
        .route("/account/revoke-others", post(pages::revoke_others))
        .route("/inspect", get(pages::inspect))
        .layer(SessionLayer::from_engine(engine))
}

/// `GET /`: the HTML page for browsers, the tutorial's plain text for everyone else.
async fn root(headers: HeaderMap, session: Session, rs: RequestSession) -> Response {
    let html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(pages::wants_html);
    let mut res = if html {
        pages::home(session, rs, &headers).await.into_response()
    } else {
        visit(session).await.into_response()
    };
    res.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept"));
    res
}

async fn visit(session: Session) -> Result<String, SessionError> {
    let count: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", count)?;
    Ok(format!("Visit count: {count}"))
}

async fn atomic(session: Session) -> Result<String, SessionError> {
    let count = session.update_with("count", |n: Option<u64>| n.unwrap_or(0) + 1)?;
    Ok(format!("Visit count: {count}"))
}

#[derive(Deserialize)]
struct ColorQuery {
    color: Option<String>,
}

async fn set_color(
    session: Session,
    Query(q): Query<ColorQuery>,
) -> Result<(StatusCode, &'static str), SessionError> {
    match q.color.filter(|c| !c.is_empty()) {
        Some(color) => {
            session.insert("favorite_color", color)?;
            Ok((StatusCode::OK, "Color saved"))
        }
        None => Ok((
            StatusCode::BAD_REQUEST,
            "Missing color: use /color/set?color=blue",
        )),
    }
}

async fn get_color(session: Session) -> Result<String, SessionError> {
    let color: Option<String> = session.get("favorite_color")?;
    Ok(format!(
        "Favorite color: {}",
        color.as_deref().unwrap_or("unknown")
    ))
}

#[derive(Deserialize)]
struct LoginQuery {
    user: Option<String>,
}

async fn login(session: Session, Query(q): Query<LoginQuery>) -> (StatusCode, String) {
    match q.user.filter(|u| !u.is_empty() && u.len() <= 150) {
        Some(user) => {
            session.login(&user);
            (StatusCode::OK, format!("Logged in as {user}"))
        }
        None => (
            StatusCode::BAD_REQUEST,
            "Missing user: use /login?user=alice".to_owned(),
        ),
    }
}

async fn logout(session: Session) -> &'static str {
    session.logout();
    "Logged out"
}

/// `GET /metrics`: the engine's counters and store latencies in Prometheus' text format
/// (no session involved). Installs the process-wide `metrics` recorder on first use.
pub fn metrics_route() -> Router {
    static HANDLE: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
        std::sync::OnceLock::new();
    let handle = HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .inspect_err(|e| tracing::warn!(error = %e, "metrics recorder not installed"))
                .ok()
        })
        .clone();
    Router::new().route(
        "/metrics",
        get(move || {
            let body = handle.as_ref().map(|h| h.render()).unwrap_or_default();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    body,
                )
            }
        }),
    )
}

/// Opens the store, binds the address and serves until Ctrl-C.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let opened = args.store.open().await?;
    let mut config = Config::builder()
        .cookie_name(args.store.cookie_name.clone())
        .cookie_age(args.store.cookie_age);
    if args.lock {
        config = config.concurrency(Concurrency::Lock);
    }
    let config = config.build().context("invalid session settings")?;
    let engine = opened.engine(config);
    let cleanup = match &opened {
        Opened::Server(store) => Some(sessionkit_core::spawn_cleanup(
            sessionkit_core::BoxStore::from_arc(Arc::clone(store)),
            Arc::new(SystemClock),
            Duration::from_secs(300),
        )),
        Opened::Client(_) => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let store = &crate::store_url::redact(&args.store.store);
    tracing::info!(address = %local, store, layout = %args.store.layout, lock = args.lock, "serving the sessionkit demo");
    println!("sessionkit demo on http://{local}/ (store: {store})");
    let app = app(engine).merge(metrics_route());
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("server error")?;
    if let Some(task) = cleanup {
        task.abort();
    }
    Ok(())
}
