//! `sessionkit serve`: the tutorial's demo app.
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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use clap::Args;
use serde::Deserialize;
use sessionkit_core::{Concurrency, Config, Engine, Session, SessionError, SystemClock};
use sessionkit_tower::SessionLayer;

use crate::StoreArgs;
use crate::store_url::Opened;

/// `sessionkit serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
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
        .route("/", get(visit))
        .route("/atomic", get(atomic))
        .route("/color/set", get(set_color))
        .route("/color/get", get(get_color))
        .route("/login", get(login))
        .route("/logout", get(logout))
        .route("/healthz", get(|| async { "ok" }))
        .layer(SessionLayer::from_engine(engine))
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
    let store = &args.store.store;
    tracing::info!(address = %local, store, layout = %args.store.layout, lock = args.lock, "serving the sessionkit demo");
    println!("sessionkit demo on http://{local}/ (store: {store})");
    axum::serve(listener, app(engine))
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
