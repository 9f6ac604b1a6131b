//! `sessionkit serve`: the tutorial's demo app.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /` | `Visit count: N` — reads `count` (default 0), adds 1, stores it |
//! | `GET /color/set?color=X` | stores the favorite color; `Color saved` |
//! | `GET /color/get` | `Favorite color: X`, or `unknown` (a read: a new visitor gets no session) |
//! | `GET /healthz` | `ok`; never touches the store |

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde::Deserialize;
use sessionkit_core::{Config, Engine, Session, SessionError, SystemClock};
use sessionkit_tower::SessionLayer;

use crate::store_url;

/// The demo app over an engine; tests drive it without a socket.
pub fn app(engine: Engine) -> Router {
    Router::new()
        .route("/", get(visit))
        .route("/color/set", get(set_color))
        .route("/color/get", get(get_color))
        .route("/healthz", get(|| async { "ok" }))
        .layer(SessionLayer::from_engine(engine))
}

async fn visit(session: Session) -> Result<String, SessionError> {
    let count: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", count)?;
    Ok(format!("Visit count: {count}"))
}

#[derive(Deserialize)]
struct ColorQuery {
    color: Option<String>,
}

async fn set_color(
    session: Session,
    Query(q): Query<ColorQuery>,
) -> Result<(axum::http::StatusCode, String), SessionError> {
    match q.color.filter(|c| !c.is_empty()) {
        Some(color) => {
            session.insert("favorite_color", color)?;
            Ok((axum::http::StatusCode::OK, "Color saved".to_owned()))
        }
        None => Ok((
            axum::http::StatusCode::BAD_REQUEST,
            "Missing color: use /color/set?color=blue".to_owned(),
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

/// Opens the store, binds the address and serves until Ctrl-C.
pub async fn run(listen: SocketAddr, store: &str) -> anyhow::Result<()> {
    let opened = store_url::open(store).await?;
    let engine = Engine::from_dyn(Arc::clone(&opened), Config::default());
    let cleanup = sessionkit_core::spawn_cleanup(
        sessionkit_core::BoxStore::from_arc(opened),
        Arc::new(SystemClock),
        Duration::from_secs(300),
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    tracing::info!(address = %local, store, "serving the sessionkit demo");
    println!("sessionkit demo on http://{local}/ (store: {store})");
    axum::serve(listener, app(engine))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("server error")?;
    cleanup.abort();
    Ok(())
}
