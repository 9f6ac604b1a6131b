//! The tutorial on actix-web with the SQLite store: a visit counter and a favorite color.
//!
//! Run: `cargo run -p sessionkit --features actix --example actix-basic` (listens on
//! `127.0.0.1:$PORT`, default 8080, or `--listen ADDR`), then
//! `curl -b jar -c jar http://127.0.0.1:8080/` a few times.

use actix_web::{App, HttpResponse, HttpServer, web};
use serde::Deserialize;
use sessionkit::actix::SessionMiddleware;
use sessionkit::{Config, Session, SessionError, SqliteStore};

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

/// `--listen ADDR`, else `127.0.0.1:$PORT` (default 8080).
fn listen_addr() -> String {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--listen")
        && let Some(addr) = args.get(i + 1)
    {
        return addr.clone();
    }
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    format!("127.0.0.1:{port}")
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let store = SqliteStore::open("sessions.sqlite3")
        .await
        .map_err(|e| std::io::Error::other(e.report()))?;
    let sessions = SessionMiddleware::new(store, Config::default());
    let addr = listen_addr();
    println!("listening on http://{addr}/");
    HttpServer::new(move || App::new().wrap(sessions.clone()).configure(routes))
        .bind(&addr)?
        .run()
        .await
}
