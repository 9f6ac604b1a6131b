//! The tutorial on actix-web with the SQLite store: a visit counter and a favorite color.
//!
//! Run: `cargo run -p sessionkit --features actix --example actix-basic` (listens on
//! 127.0.0.1:8080; another address with `-- --listen 127.0.0.1:8081`), then
//! `curl -b jar -c jar http://127.0.0.1:8080/` a few times. It prints the address once it
//! is listening; any failure is one line on stderr and exit code 1.

use std::process::ExitCode;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use sessionkit::actix::SessionMiddleware;
use sessionkit::{Config, Session, SessionError, SqliteStore};

#[path = "support/listen.rs"]
mod listen;

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
    q: web::Query<ColorQuery>,
) -> Result<HttpResponse, SessionError> {
    match q.into_inner().color.filter(|c| !c.is_empty()) {
        Some(color) => {
            session.insert("favorite_color", color)?;
            Ok(HttpResponse::Ok().body("Color saved"))
        }
        None => Ok(HttpResponse::BadRequest().body("Missing color: use /color/set?color=blue")),
    }
}

async fn get_color(session: Session) -> Result<String, SessionError> {
    let color: Option<String> = session.get("favorite_color")?;
    Ok(format!(
        "Favorite color: {}",
        color.as_deref().unwrap_or("unknown")
    ))
}

/// The routes, separate from `main` so tests can mount them without a socket.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(visit))
        .route("/color/set", web::get().to(set_color))
        .route("/color/get", web::get().to(get_color));
}

#[actix_web::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("actix-basic: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let addr = listen::listen_addr("127.0.0.1:8080")?;
    let store = SqliteStore::open("sessions.sqlite3")
        .await
        .map_err(|e| e.report())?;
    let sessions = SessionMiddleware::new(store, Config::default());
    let server = HttpServer::new(move || App::new().wrap(sessions.clone()).configure(routes))
        .bind(addr)
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    for local in server.addrs() {
        println!("listening on http://{local}/");
    }
    server.run().await.map_err(|e| format!("server error: {e}"))
}
