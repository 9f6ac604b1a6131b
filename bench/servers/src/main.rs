//! `sk-server`: the tutorial's visit counter (`GET /` → `Visit count: N`) for the
//! benchmarks, on sessionkit through either adapter and any store, or with no sessions at
//! all (the ceiling).
//!
//! `--server FRAMEWORK-STORE` picks it: the framework is `axum` (the tower
//! `SessionLayer`) or `actix` (the actix-web `SessionMiddleware`); the store is `memory`,
//! `sqlite`, `postgres`, `redis`, `memcached`, `cookie` (Django's signed cookie), or `none` (no
//! session: the count lives in a plain, unsigned `count` cookie — the ceiling), or `hello`
//! (a fixed `Hello, world!` body, no cookie at all: the framework's own floor, for `wrk`
//! only, since it is no visit counter; it shows what the ceiling's cookie work costs).
//!
//! Every server: `--workers N` runtime worker threads (tokio's multi-threaded runtime for
//! axum, actix-web's worker count for actix), no logging, `Config::default()` (Django's
//! defaults). SQLite runs in WAL mode with `synchronous=NORMAL` (the store's own setting),
//! PostgreSQL with the server's `synchronous_commit` (default `on`).
//!
//! `--prepopulate N` inserts N sessions (the counter's payload) through the store's API
//! before listening; `--populate-only` exits after that (to prepare a database once).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use sessionkit_core::store::BoxStore;
use sessionkit_core::{
    Concurrency, Config, CreateOutcome, Data, DynSessionStore, Engine, Lookup, MemoryStore,
    Metadata, Record, SaveOutcome, Session, SessionError, SessionKey, SessionStore, StoreError,
    Token, Value,
};
use sessionkit_django::{Secrets, SignedCookieStore};
use sessionkit_memcached::MemcachedStore;
use sessionkit_redis::RedisStore;
use sessionkit_sql::{PostgresStore, SqliteStore};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "sk-server",
    about = "sessionkit benchmark server (the visit counter)"
)]
struct Args {
    /// FRAMEWORK-STORE: axum-{hello,none,memory,sqlite,postgres,redis,memcached,cookie} or
    /// actix-{hello,none,memory,sqlite,postgres,redis,memcached,cookie}.
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
    /// The Redis database (a dedicated database number: the runner flushes it).
    #[arg(long, default_value = "redis://127.0.0.1:6379/9")]
    redis_url: String,
    /// The memcached servers.
    #[arg(long, default_value = "memcached://127.0.0.1:11211")]
    memcached_url: String,
    /// Django's SECRET_KEY for the signed cookie.
    #[arg(
        long,
        default_value = "sessionkit-benchmark-secret-key-not-for-production"
    )]
    secret: String,
    /// Insert this many sessions (the counter's payload) before listening.
    #[arg(long, default_value_t = 0)]
    prepopulate: u64,
    /// Exit after `--prepopulate` instead of serving.
    #[arg(long)]
    populate_only: bool,
    /// Concurrency control: `optimistic` (compare-and-set with replay, the default), `lock`
    /// (one request per session at a time), or `blind` (no control: every save overwrites,
    /// last writer wins — the baseline for measuring what the other two cost).
    #[arg(long, value_enum, default_value_t = Control::Optimistic)]
    concurrency: Control,
}

/// `--concurrency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Control {
    Optimistic,
    Lock,
    Blind,
}

/// A store without concurrency control, for the baseline: a save that meets a newer
/// version overwrites it anyway (it re-reads the current token and saves again).
struct Blind(BoxStore);

impl SessionStore for Blind {
    async fn load(
        &self,
        key: &SessionKey,
        now: time::OffsetDateTime,
    ) -> Result<Lookup, StoreError> {
        self.0.load(key, now).await
    }
    async fn create(
        &self,
        key: &SessionKey,
        r: &Record,
        now: time::OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.0.create(key, r, now).await
    }
    async fn save(
        &self,
        key: &SessionKey,
        r: &Record,
        token: &Token,
        now: time::OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let mut token = token.clone();
        loop {
            match self.0.save(key, r, &token, now).await? {
                SaveOutcome::Conflict => match self.0.load(key, now).await? {
                    Lookup::Found { token: t, .. } => token = t,
                    _ => return Ok(SaveOutcome::Missing),
                },
                other => return Ok(other),
            }
        }
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.0.delete(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        e: time::OffsetDateTime,
        now: time::OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.0.touch(key, e, now).await
    }
    async fn clear_expired_with_progress(
        &self,
        now: time::OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.0.clear_expired_with_progress(now, progress).await
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framework {
    Axum,
    Actix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreKind {
    Hello,
    None,
    Memory,
    Sqlite,
    Postgres,
    Redis,
    Memcached,
    Cookie,
}

fn parse_server(s: &str) -> anyhow::Result<(Framework, StoreKind)> {
    let Some((fw, store)) = s.split_once('-') else {
        bail!("--server must be FRAMEWORK-STORE, e.g. axum-memory, not {s:?}");
    };
    let fw = match fw {
        "axum" => Framework::Axum,
        "actix" => Framework::Actix,
        other => bail!("unknown framework {other:?}: axum or actix"),
    };
    let store = match store {
        "hello" => StoreKind::Hello,
        "none" => StoreKind::None,
        "memory" => StoreKind::Memory,
        "sqlite" => StoreKind::Sqlite,
        "postgres" => StoreKind::Postgres,
        "redis" => StoreKind::Redis,
        "memcached" => StoreKind::Memcached,
        "cookie" => StoreKind::Cookie,
        other => bail!(
            "unknown store {other:?}: hello, none, memory, sqlite, postgres, redis, memcached or cookie"
        ),
    };
    Ok((fw, store))
}

/// The tutorial view.
async fn visit(session: Session) -> Result<String, SessionError> {
    let count: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", count)?;
    Ok(format!("Visit count: {count}"))
}

/// The ceiling's counter: a plain `count` cookie, no session machinery.
fn plain_count(header: Option<&str>) -> u64 {
    header
        .into_iter()
        .flat_map(|h| h.split(';'))
        .filter_map(|c| c.trim().strip_prefix("count="))
        .filter_map(|v| v.parse::<u64>().ok())
        .next_back()
        .unwrap_or(0)
        + 1
}

async fn axum_ceiling(
    headers: axum::http::HeaderMap,
) -> ([(axum::http::header::HeaderName, String); 1], String) {
    let n = plain_count(
        headers
            .get(axum::http::header::COOKIE)
            .and_then(|v| v.to_str().ok()),
    );
    (
        [(axum::http::header::SET_COOKIE, format!("count={n}; Path=/"))],
        format!("Visit count: {n}"),
    )
}

async fn actix_ceiling(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    let n = plain_count(
        req.headers()
            .get(actix_web::http::header::COOKIE)
            .and_then(|v| v.to_str().ok()),
    );
    actix_web::HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::SET_COOKIE,
            format!("count={n}; Path=/"),
        ))
        .content_type("text/plain; charset=utf-8")
        .body(format!("Visit count: {n}"))
}

/// Opens the store; `None` for the ceiling.
async fn open(args: &Args, kind: StoreKind) -> anyhow::Result<Option<Engine>> {
    let config = match args.concurrency {
        Control::Lock => Config::builder().concurrency(Concurrency::Lock).build()?,
        Control::Optimistic | Control::Blind => Config::default(),
    };
    let server: Arc<dyn DynSessionStore> = match kind {
        StoreKind::Hello | StoreKind::None => return Ok(None),
        StoreKind::Cookie => {
            let store = SignedCookieStore::new(&Secrets::new(args.secret.clone()));
            return Ok(Some(Engine::client_side(store, config)));
        }
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Sqlite => Arc::new(
            SqliteStore::open(&args.sqlite_path)
                .await
                .map_err(|e| anyhow::anyhow!(e.report()))?,
        ),
        StoreKind::Postgres => Arc::new(
            PostgresStore::connect(&args.postgres_url)
                .await
                .map_err(|e| anyhow::anyhow!(e.report()))?,
        ),
        StoreKind::Redis => Arc::new(
            RedisStore::connect(&args.redis_url)
                .await
                .map_err(|e| anyhow::anyhow!(e.report()))?,
        ),
        StoreKind::Memcached => Arc::new(
            MemcachedStore::connect(&args.memcached_url)
                .await
                .map_err(|e| anyhow::anyhow!(e.report()))?,
        ),
    };
    if args.prepopulate > 0 {
        prepopulate(BoxStore::from_arc(Arc::clone(&server)), args.prepopulate).await?;
    }
    let server: Arc<dyn DynSessionStore> = if args.concurrency == Control::Blind {
        Arc::new(Blind(BoxStore::from_arc(server)))
    } else {
        server
    };
    Ok(Some(Engine::from_dyn(server, config)))
}

/// Inserts `n` sessions holding `{"count": 1}` through the store's API, 64 at a time.
async fn prepopulate(store: BoxStore, n: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let now = time::OffsetDateTime::now_utc();
    let mut data = Data::new();
    data.insert("count", Value::Int(1));
    let record = Record {
        data,
        expires_at: now + time::Duration::weeks(2),
        meta: Metadata {
            created_at: Some(now),
            last_seen: Some(now),
            user_id: None,
            client: None,
        },
    };
    let mut done = 0u64;
    let mut results = futures_util::stream::iter(0..n)
        .map(|_| {
            let (store, record) = (store.clone(), &record);
            async move { store.create(&SessionKey::generate(), record, now).await }
        })
        .buffer_unordered(64);
    while let Some(r) = results.next().await {
        r.map_err(|e| anyhow::anyhow!(e.report()))?;
        done += 1;
        if done.is_multiple_of(100_000) {
            eprintln!("prepopulated {done}/{n} ({:.0?})", started.elapsed());
        }
    }
    eprintln!("prepopulated {n} sessions in {:.1?}", started.elapsed());
    Ok(())
}

fn serve_axum(args: &Args, kind: StoreKind) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let engine = open(args, kind).await?;
        if args.populate_only {
            return Ok(());
        }
        let app = match engine {
            None if matches!(kind, StoreKind::Hello) => {
                axum::Router::new().route("/", axum::routing::get(async || "Hello, world!"))
            }
            None => axum::Router::new().route("/", axum::routing::get(axum_ceiling)),
            Some(engine) => axum::Router::new()
                .route("/", axum::routing::get(visit))
                .layer(sessionkit_tower::SessionLayer::from_engine(engine)),
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("sk-server {} listening on {}", args.server, args.listen);
        axum::serve(listener, app).await.context("server error")
    })
}

fn serve_actix(args: &Args, kind: StoreKind) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async {
        let engine = open(args, kind).await?;
        if args.populate_only {
            return Ok(());
        }
        let server = match engine {
            None if matches!(kind, StoreKind::Hello) => actix_web::HttpServer::new(|| {
                actix_web::App::new().route("/", actix_web::web::get().to(async || "Hello, world!"))
            })
            .workers(args.workers.max(1))
            .bind(args.listen)?
            .run(),
            None => actix_web::HttpServer::new(|| {
                actix_web::App::new().route("/", actix_web::web::get().to(actix_ceiling))
            })
            .workers(args.workers.max(1))
            .bind(args.listen)?
            .run(),
            Some(engine) => {
                let middleware = sessionkit_actix::SessionMiddleware::from_engine(engine);
                actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .wrap(middleware.clone())
                        .route("/", actix_web::web::get().to(visit))
                })
                .workers(args.workers.max(1))
                .bind(args.listen)?
                .run()
            }
        };
        eprintln!("sk-server {} listening on {}", args.server, args.listen);
        server.await.context("server error")
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (framework, kind) = parse_server(&args.server)?;
    if (args.prepopulate > 0 || args.populate_only)
        && matches!(kind, StoreKind::Hello | StoreKind::None | StoreKind::Cookie)
    {
        bail!("--prepopulate needs a server-side store");
    }
    match framework {
        Framework::Axum => serve_axum(&args, kind),
        Framework::Actix => serve_actix(&args, kind),
    }
}
