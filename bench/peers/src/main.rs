//! `peer-server`: the visit counter (`GET /` → `Visit count: N`) on the peers.
//!
//! | `--server` | what |
//! | --- | --- |
//! | `tower-memory` | axum + tower-sessions 0.14 `MemoryStore` |
//! | `tower-sqlite` | axum + tower-sessions-sqlx-store `SqliteStore` (WAL, synchronous=NORMAL) |
//! | `tower-postgres` | axum + tower-sessions-sqlx-store `PostgresStore` |
//! | `tower-redis` | axum + tower-sessions-redis-store (fred pool) |
//! | `actix-session-cookie` | actix-web + actix-session 0.11 `CookieSessionStore`, signed |
//! | `actix-session-redis` | actix-web + actix-session 0.11 `RedisSessionStore`, signed cookie |
//!
//! Settings matched to sessionkit's servers: `--workers N` worker threads, no logging,
//! cookie `sessionid`, not `Secure`, `HttpOnly`, `SameSite=Lax`, a persistent cookie of two
//! weeks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr as _;

use anyhow::{Context, bail};
use clap::Parser;

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "peer-server",
    about = "Peer benchmark server (the visit counter)"
)]
struct Args {
    /// tower-{memory,sqlite,postgres,redis} or actix-session-{cookie,redis}.
    #[arg(long)]
    server: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    /// Runtime worker threads.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// The SQLite database file.
    #[arg(long, default_value = "bench.sqlite3")]
    sqlite_path: PathBuf,
    /// The PostgreSQL database.
    #[arg(
        long,
        default_value = "postgres://postgres@127.0.0.1:5432/sessionkit_bench"
    )]
    postgres_url: String,
    /// The Redis database.
    #[arg(long, default_value = "redis://127.0.0.1:6379/9")]
    redis_url: String,
    /// sqlx pool size for SQLite (sqlx's default: 10).
    #[arg(long, default_value_t = 10)]
    sqlite_pool: u32,
    /// sqlx pool size for PostgreSQL (16, as sessionkit's PostgresStore).
    #[arg(long, default_value_t = 16)]
    postgres_pool: u32,
    /// fred pool size for tower-sessions-redis-store (6, as its documentation's example).
    #[arg(long, default_value_t = 6)]
    redis_pool: usize,
}

const TWO_WEEKS: time::Duration = time::Duration::weeks(2);

mod tower {
    use axum::http::StatusCode;
    use tower_sessions::Session;

    /// The tutorial view on tower-sessions.
    pub(crate) async fn visit(session: Session) -> Result<String, (StatusCode, String)> {
        let e500 =
            |e: tower_sessions::session::Error| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        let count: u64 = session.get("count").await.map_err(e500)?.unwrap_or(0) + 1;
        session.insert("count", count).await.map_err(e500)?;
        Ok(format!("Visit count: {count}"))
    }
}

mod actix {
    /// The tutorial view on actix-session.
    pub(crate) async fn visit(session: actix_session::Session) -> actix_web::Result<String> {
        let count: u64 = session.get::<u64>("count")?.unwrap_or(0) + 1;
        session.insert("count", count)?;
        Ok(format!("Visit count: {count}"))
    }
}

fn serve_tower(args: &Args, store: &str) -> anyhow::Result<()> {
    use tower_sessions::{Expiry, SessionManagerLayer, cookie::SameSite};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        fn app<S: tower_sessions::SessionStore + Clone>(store: S) -> axum::Router {
            let layer = SessionManagerLayer::new(store)
                .with_name("sessionid")
                .with_secure(false)
                .with_http_only(true)
                .with_same_site(SameSite::Lax)
                .with_expiry(Expiry::OnInactivity(TWO_WEEKS));
            axum::Router::new()
                .route("/", axum::routing::get(tower::visit))
                .layer(layer)
        }
        let app = match store {
            "memory" => app(tower_sessions::MemoryStore::default()),
            "sqlite" => {
                use sqlx::sqlite::{
                    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
                };
                let options = SqliteConnectOptions::from_str(&format!(
                    "sqlite://{}",
                    args.sqlite_path.display()
                ))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
                let pool = SqlitePoolOptions::new()
                    .max_connections(args.sqlite_pool)
                    .connect_with(options)
                    .await
                    .context("cannot open the SQLite database")?;
                let store = tower_sessions_sqlx_store::SqliteStore::new(pool);
                store.migrate().await?;
                app(store)
            }
            "postgres" => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(args.postgres_pool)
                    .connect(&args.postgres_url)
                    .await
                    .context("cannot connect to PostgreSQL")?;
                let store = tower_sessions_sqlx_store::PostgresStore::new(pool);
                store.migrate().await?;
                app(store)
            }
            "redis" => {
                use tower_sessions_redis_store::fred::prelude::{ClientLike as _, Config, Pool};
                let config = Config::from_url(&args.redis_url)?;
                let pool = Pool::new(config, None, None, None, args.redis_pool.max(1))?;
                // The connection tasks run until the process exits.
                let _tasks = pool.connect();
                pool.wait_for_connect().await?;
                app(tower_sessions_redis_store::RedisStore::new(pool))
            }
            other => bail!("unknown tower-sessions store {other:?}"),
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("peer-server {} listening on {}", args.server, args.listen);
        axum::serve(listener, app).await.context("server error")
    })
}

fn serve_actix(args: &Args, store: &str) -> anyhow::Result<()> {
    use actix_session::SessionMiddleware;
    use actix_session::config::{CookieContentSecurity, PersistentSession};
    use actix_session::storage::{CookieSessionStore, RedisSessionStore};
    use actix_web::cookie::{Key, SameSite};

    // A fixed 64-byte key: the signing key of the cookie (the session key's, for Redis).
    let key = Key::from(&[0x5a; 64]);
    let lifecycle =
        PersistentSession::default().session_ttl(actix_web::cookie::time::Duration::weeks(2));
    let workers = args.workers.max(1);
    actix_web::rt::System::new().block_on(async {
        let server = match store {
            "cookie" => actix_web::HttpServer::new(move || {
                let mw = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                    .cookie_name("sessionid".to_owned())
                    .cookie_secure(false)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .cookie_content_security(CookieContentSecurity::Signed)
                    .session_lifecycle(lifecycle.clone())
                    .build();
                actix_web::App::new()
                    .wrap(mw)
                    .route("/", actix_web::web::get().to(actix::visit))
            })
            .workers(workers)
            .bind(args.listen)?
            .run(),
            "redis" => {
                let redis = RedisSessionStore::new(args.redis_url.clone())
                    .await
                    .context("cannot connect to Redis")?;
                actix_web::HttpServer::new(move || {
                    let mw = SessionMiddleware::builder(redis.clone(), key.clone())
                        .cookie_name("sessionid".to_owned())
                        .cookie_secure(false)
                        .cookie_http_only(true)
                        .cookie_same_site(SameSite::Lax)
                        .cookie_content_security(CookieContentSecurity::Signed)
                        .session_lifecycle(lifecycle.clone())
                        .build();
                    actix_web::App::new()
                        .wrap(mw)
                        .route("/", actix_web::web::get().to(actix::visit))
                })
                .workers(workers)
                .bind(args.listen)?
                .run()
            }
            other => bail!("unknown actix-session store {other:?}"),
        };
        eprintln!("peer-server {} listening on {}", args.server, args.listen);
        server.await.context("server error")
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(store) = args.server.strip_prefix("tower-") {
        let store = store.to_owned();
        serve_tower(&args, &store)
    } else if let Some(store) = args.server.strip_prefix("actix-session-") {
        let store = store.to_owned();
        serve_actix(&args, &store)
    } else {
        bail!(
            "unknown server {:?}: tower-STORE or actix-session-STORE",
            args.server
        )
    }
}
