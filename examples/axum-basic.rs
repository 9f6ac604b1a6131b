//! The tutorial's visit counter on axum with the SQLite store.
//!
//! Run: `cargo run -p sessionkit --example axum-basic`, then
//! `curl -b jar -c jar http://127.0.0.1:3000/` a few times.

use axum::{Router, routing::get};
use sessionkit::{Config, Session, SessionError, SessionLayer, SqliteStore};

async fn visit(session: Session) -> Result<String, SessionError> {
    let count: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", count)?;
    Ok(format!("Visit count: {count}"))
}

/// The app, separate from `main` so that tests can drive it without a socket.
fn app(store: SqliteStore) -> Router {
    Router::new()
        .route("/", get(visit))
        .layer(SessionLayer::new(store, Config::default()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let store = SqliteStore::open("sessions.sqlite3").await?;
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}/");
    axum::serve(listener, app(store)).await?;
    Ok(())
}
