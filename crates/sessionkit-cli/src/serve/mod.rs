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
//! | `GET /login?user=ID` | logs in as `ID` (rotates the key, records the user); 400 under `--layout django` |
//! | `GET /logout` | flushes the session |
//! | `GET /whoami` | `User: ID` or `Anonymous` (see [`Users`]) |
//! | `GET /flash?msg=TEXT` | adds an INFO flash message (Django's session storage); `Message added` |
//! | `GET /messages` | `Messages: FIRST \| SECOND` (consumed), or `Messages: none` |
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
//! Every form is a POST protected against CSRF by the library's `CsrfLayer` (Django's
//! origin check plus a token kept in the session) behind the demo's `Sec-Fetch-Site` check
//! (see `form_guard.rs`), and answered with a 303 redirect. A page without a form only
//! reads, so it never starts a session.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Args;
use serde::Deserialize;
use sessionkit_core::{Concurrency, Engine, RequestSession, Session, SessionError, Transport};
use sessionkit_tower::{MessagesLayer, SessionLayer};

use crate::store_url::{Layout, Opened, RedisRecordFormat};
use crate::{CacheArgs, StoreArgs};

mod form_guard;
pub mod http;
mod pages;
mod site;

pub use site::{Site, Users};

/// `sessionkit serve` options.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8000", value_parser = crate::parse_listen)]
    pub listen: SocketAddr,
    /// The store.
    #[command(flatten)]
    pub store: StoreArgs,
    /// A cache in front of the store.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Lock mode: one request at a time per session (instead of compare-and-set with
    /// replay). Refused on Django's layouts on shared servers (PostgreSQL, MySQL, Redis,
    /// memcached), which have no leases.
    #[arg(long)]
    pub lock: bool,
    /// Carry session ids in this request/response header instead of the cookie (for API
    /// and mobile clients): a new or rotated id leaves in it, an ended session answers it
    /// empty, and no cookie is set.
    #[arg(long, value_name = "NAME")]
    pub session_header: Option<String>,
    /// With --session-header: keep the cookie as well. A request carrying both is read by
    /// the header; responses carry both.
    #[arg(long, requires = "session_header")]
    pub session_cookie_too: bool,
    /// At most N live sessions per user: a login beyond N revokes that user's least
    /// recently used sessions (event `revoked`, cause `cap`). Needs a store with a
    /// per-user index (refused at startup otherwise).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sessions_per_user: Option<u32>,
    /// Trust this proxy's X-Forwarded-For: an address (10.0.0.1, ::1) or a CIDR range
    /// (10.0.0.0/8, fd00::/8); repeatable. A request from a trusted proxy is recorded with
    /// the rightmost X-Forwarded-For entry that is not itself a trusted proxy; without
    /// this option the header is ignored and the connection's peer is the client.
    #[arg(long = "trusted-proxy", value_name = "ADDR_OR_CIDR", value_parser = parse_trusted_proxy)]
    pub trusted_proxies: Vec<String>,
    /// Record no client info (IP address, user agent, device label) with the sessions;
    /// what was recorded is erased at each session's next write. By default it is kept
    /// as long as the session.
    #[arg(long)]
    pub no_record_client_info: bool,
    /// Bind each session to its user agent: a request whose user agent differs from the
    /// one recorded gets the session flushed (a new, empty one) and a log line says why.
    /// Refused at startup on stores that record no client info (Django's layouts,
    /// cookie:// and encrypted-cookie://).
    #[arg(long, conflicts_with = "no_record_client_info")]
    pub bind_user_agent: bool,
    /// How the native layout's Redis store (a redis:// or redis+cluster:// --store, also
    /// behind cached+) writes session records: packed (one string per session, the
    /// default) or hash (as builds before issue 21 wrote). Both are read either way; hash
    /// is the first step of a rolling upgrade from a build that reads only hashes.
    /// Refused at startup without such a store (Django's layout, a Redis --cache-store
    /// alone: its entries keep their own format).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub redis_record_format: Option<RedisRecordFormat>,
    /// Lifecycle events to a file.
    #[command(flatten)]
    pub events: crate::EventsArgs,
    /// How long a client may take to send a request's headers, counted from when the
    /// server starts waiting for them; then the connection is closed (a stalled or
    /// slow-drip client cannot hold it). 1ms to 10m, e.g. 500ms, 10s.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_header_timeout)]
    pub header_timeout: Duration,
    /// How long an idle connection is kept open for a next request; 0s turns keep-alive
    /// off. 0s to 10m.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_keep_alive)]
    pub keep_alive_timeout: Duration,
    /// The largest request head (request line and headers) in bytes; a larger one gets
    /// 431. 1KiB to 1MiB.
    #[arg(long, value_name = "BYTES", default_value = "16KiB", value_parser = parse_header_bytes)]
    pub max_header_bytes: usize,
    /// The largest form body (the POST routes) in bytes; a larger one gets 413. 1KiB to
    /// 1MiB.
    #[arg(long, value_name = "BYTES", default_value = "16KiB", value_parser = parse_body_bytes)]
    pub max_body_bytes: usize,
    /// With --layout django: the database holding Django's users (its `auth_user` table),
    /// sqlite://FILE (relative), sqlite:///ABS/PATH, postgres://... or mysql://...;
    /// `/whoami` then answers by Django's `get_user()` rules (the password-derived session
    /// hash checked, a stale session flushed). Without it every session is anonymous under
    /// the Django layout.
    #[arg(long, value_name = "URL")]
    pub django_auth_db: Option<String>,
    /// On SIGTERM or Ctrl-C, how long requests in progress may take to finish before the
    /// server stops anyway. 1ms to 10m.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_shutdown_timeout)]
    pub shutdown_timeout: Duration,
}

/// The longest any of `serve`'s timeouts may be.
const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// A `--trusted-proxy` value: checked here, so that a bad one is a usage error naming the
/// option.
fn parse_trusted_proxy(s: &str) -> Result<String, String> {
    s.parse::<sessionkit_core::device::ProxyRange>()
        .map(|_| s.to_owned())
        .map_err(|e| e.to_string())
}

fn parse_header_timeout(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration(s, Duration::from_millis(1), MAX_TIMEOUT)
}

fn parse_keep_alive(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration(s, Duration::ZERO, MAX_TIMEOUT)
}

fn parse_shutdown_timeout(s: &str) -> Result<Duration, String> {
    crate::units::parse_duration(s, Duration::from_millis(1), MAX_TIMEOUT)
}

fn parse_header_bytes(s: &str) -> Result<usize, String> {
    crate::units::parse_bytes(s, 1024, 1 << 20)
}

fn parse_body_bytes(s: &str) -> Result<usize, String> {
    crate::units::parse_bytes(s, 1024, 1 << 20)
}

/// The demo app over an engine, with the default form body limit; tests drive it without
/// a socket.
pub fn app(engine: Engine) -> Router {
    app_with_body_limit(engine, 16 * 1024)
}

/// The demo app whose form routes refuse bodies over `max_body_bytes` (413).
pub fn app_with_body_limit(engine: Engine, max_body_bytes: usize) -> Router {
    app_for(engine, Site::native(), max_body_bytes)
}

/// The demo app for `site` (the native layout's users, or Django's), its form routes
/// refusing bodies over `max_body_bytes` (413).
pub fn app_for(engine: Engine, site: Site, max_body_bytes: usize) -> Router {
    // The name-only login exists in the native layout alone.
    let (login_route, account_login, whoami) = match &site.users {
        Users::Native => (get(login), post(pages::login), get(site::whoami_native)),
        Users::Django(None) => (
            get(site::login_refused),
            post(site::login_refused),
            get(site::whoami_unverifiable),
        ),
        Users::Django(Some(_)) => (
            get(site::login_refused),
            post(pages::django_login),
            get(site::whoami_django),
        ),
    };
    let forms = Router::new()
        .route("/color", get(pages::color_page).post(pages::save_color))
        .route("/account/login", account_login)
        .route("/account/logout", post(pages::logout))
        .route("/account/revoke", post(pages::revoke))
        .route("/account/revoke-others", post(pages::revoke_others))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(form_guard::csrf_layer())
        .layer(axum::middleware::from_fn_with_state(
            form_guard::Guard::new(max_body_bytes),
            form_guard::guard,
        ));
    let app = Router::new()
        .route("/", get(root))
        .route("/atomic", get(atomic))
        .route("/color/set", get(set_color))
        .route("/color/get", get(get_color))
        .route("/login", login_route)
        .route("/logout", get(logout))
        .route("/whoami", whoami)
        .route("/flash", get(site::flash))
        .route("/messages", get(site::show_messages))
        .route("/healthz", get(|| async { "ok" }))
        .route("/account", get(pages::account))
        .route("/inspect", get(pages::inspect))
        .merge(forms);
    let app = match &site.users {
        Users::Django(Some(auth)) => app.layer(axum::Extension(auth.clone())),
        _ => app,
    }
    .layer(axum::Extension(site.users));
    app.layer(MessagesLayer::new(site.messages))
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

/// The one rule for a favorite color, on every route that sets one: 1 to 40 characters
/// once surrounding spaces are trimmed, none of them a control character. `None` when
/// `raw` breaks it.
fn favorite_color(raw: &str) -> Option<String> {
    let color = raw.trim();
    ((1..=MAX_COLOR_CHARS).contains(&color.chars().count()) && !color.chars().any(char::is_control))
        .then(|| color.to_owned())
}

/// The longest favorite color, in characters.
const MAX_COLOR_CHARS: usize = 40;

async fn set_color(
    session: Session,
    Query(q): Query<ColorQuery>,
) -> Result<(StatusCode, &'static str), SessionError> {
    let Some(raw) = q.color.filter(|c| !c.is_empty()) else {
        return Ok((
            StatusCode::BAD_REQUEST,
            "Missing color: use /color/set?color=blue",
        ));
    };
    match favorite_color(&raw) {
        Some(color) => {
            session.insert("favorite_color", color)?;
            Ok((StatusCode::OK, "Color saved"))
        }
        None => Ok((
            StatusCode::BAD_REQUEST,
            "Invalid color: 1 to 40 characters, no control characters (e.g. /color/set?color=blue)",
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

/// `--django-auth-db` names Django's users: refused without the Django layout (checked
/// before the store is opened, so that nothing is created).
fn check_django_auth_db(args: &ServeArgs) -> anyhow::Result<()> {
    if args.store.layout != Layout::Django && args.django_auth_db.is_some() {
        anyhow::bail!("--django-auth-db names Django's users: it needs --layout django");
    }
    Ok(())
}

/// The demo's [`Site`] for these options: the native layout's, or Django's with its users
/// from `--django-auth-db`.
fn site(args: &ServeArgs) -> anyhow::Result<Site> {
    if args.store.layout != Layout::Django {
        return Ok(Site::native());
    }
    let secrets = crate::secrets::load(args.store.secret_key_file.as_deref())?.context(
        "the Django layout needs Django's SECRET_KEY: pass --secret-key-file PATH or set SESSIONKIT_SECRET_KEY",
    )?;
    let auth = match &args.django_auth_db {
        Some(url) => Some(site::django_auth(url, &secrets)?),
        None => {
            tracing::warn!(
                "no --django-auth-db: /whoami answers Anonymous for every session (a user whose password hash cannot be checked is not a user)"
            );
            None
        }
    };
    Ok(Site::django(&secrets, auth))
}

/// Opens the store, binds the address and serves until SIGTERM or Ctrl-C.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    check_django_auth_db(&args)?;
    if args.lock {
        crate::store_url::check_lock(&args.store.store, args.store.layout)?;
    }
    if args.bind_user_agent {
        crate::store_url::check_bind_user_agent(&args.store.store, args.store.layout)?;
    }
    if args.redis_record_format.is_some() {
        crate::store_url::check_redis_record_format(
            &args.store.store,
            args.cache.cache_store.as_deref(),
            args.store.layout,
        )?;
    }
    let redis_record_format = args.redis_record_format.unwrap_or_default().into();
    let opened = args
        .store
        .open_serving(&args.cache, redis_record_format)
        .await?;
    let site = site(&args)?;
    let mut config = args.store.config_builder();
    if args.lock {
        config = config.concurrency(Concurrency::Lock);
    }
    if let Some(name) = &args.session_header {
        config = config.transport(if args.session_cookie_too {
            Transport::Both(name.clone())
        } else {
            Transport::Header(name.clone())
        });
    }
    if let Some(limit) = args.max_sessions_per_user {
        config = config.max_sessions_per_user(limit);
    }
    config = config
        .trusted_proxies(args.trusted_proxies.iter().cloned())
        .record_client_info(!args.no_record_client_info)
        .bind_user_agent(args.bind_user_agent);
    let config = config.build().context("invalid session settings")?;
    // Events go to the demo's account page and, with --events-log, to a file.
    let recent = pages::RecentEvents::default();
    let builder = opened.engine_builder().with_config(config);
    let engine = match args.events.listener()? {
        Some(log) => builder.with_events((recent.clone(), log)),
        None => builder.with_events(recent.clone()),
    }
    .try_build()
    .context("invalid session settings for this store")?;
    let cleanup = match &opened {
        Opened::Server(_) => Some(engine.spawn_cleanup(Duration::from_secs(300))),
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
    let app = app_for(engine, site, args.max_body_bytes)
        .layer(axum::Extension(recent))
        .merge(metrics_route());
    let limits = http::Limits {
        header_timeout: args.header_timeout,
        keep_alive_timeout: args.keep_alive_timeout,
        max_header_bytes: args.max_header_bytes,
        shutdown_timeout: args.shutdown_timeout,
    };
    http::serve(listener, app, limits, http::shutdown_signal()).await;
    if let Some(task) = cleanup {
        task.abort();
    }
    println!("sessionkit demo stopped");
    Ok(())
}
