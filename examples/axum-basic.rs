//! The tutorial's visit counter on axum with the SQLite store.
//!
//! Run: `cargo run -p sessionkit --example axum-basic` (listens on 127.0.0.1:3000; another
//! address with `-- --listen 127.0.0.1:3001`), then `curl -b jar -c jar
//! http://127.0.0.1:3000/` a few times. It prints the address once it is listening; any
//! failure is one line on stderr and exit code 1.

use std::process::ExitCode;

use axum::{Router, routing::get};
use sessionkit::{Config, Session, SessionError, SessionLayer, SqliteStore};

#[path = "support/listen.rs"]
mod listen;

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

async fn run() -> Result<(), String> {
    let addr = listen::listen_addr("127.0.0.1:3000")?;
    let store = SqliteStore::open("sessions.sqlite3")
        .await
        .map_err(|e| e.report())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{local}/");
    axum::serve(listener, app(store))
        .await
        .map_err(|e| format!("server error: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("axum-basic: {e}");
            ExitCode::FAILURE
        }
    }
}
