//! The `sessionkit` command: the demo server and store maintenance.
//!
//! ```text
//! sessionkit serve         [--listen 127.0.0.1:8000] [--store sqlite://sessions.sqlite3] [--layout native|django] [--lock]
//! sessionkit clear-expired --store URL
//! sessionkit inspect       --store URL KEY
//! sessionkit list          --store URL [--user ID] [--limit N]
//! sessionkit revoke        --store URL --user ID [--except KEY]
//! ```
//!
//! Every store command takes `--layout`, `--secret-key-file` (or `SESSIONKIT_SECRET_KEY`,
//! with fallbacks in `SESSIONKIT_SECRET_KEY_FALLBACKS`) and `--cookie-name`. `main` parses
//! the arguments, runs the command and turns any error into a one-line message on stderr
//! and a non-zero exit code; nothing here panics on bad input.

pub mod secrets;
pub mod serve;
pub mod store_url;
pub mod units;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use sessionkit_core::value::Map;
use sessionkit_core::{Lookup, SessionInfo, SessionKey, Value, json, pytime};
use time::OffsetDateTime;

use crate::store_url::{Layout, OpenOptions, Opened};

/// Sessions for Rust web services, the Django way.
#[derive(Debug, Parser)]
#[command(name = "sessionkit", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach a store (shared by every command).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where sessions live: sqlite://FILE (relative), sqlite:///ABS/PATH, postgres://...,
    /// mysql://..., redis://HOST:PORT/DB, redis+cluster://HOST:PORT,..., memory://,
    /// file:///DIR, cookie://, cached+URL.
    #[arg(long, default_value = "sqlite://sessions.sqlite3")]
    pub store: String,
    /// The layout of server-side stores: sessionkit's own, or Django's (shared with a
    /// Django app).
    #[arg(long, value_enum, default_value_t = Layout::Native)]
    pub layout: Layout,
    /// A file holding Django's SECRET_KEY (else SESSIONKIT_SECRET_KEY). Needed by
    /// cookie:// and the Django layout.
    #[arg(long, value_name = "PATH")]
    pub secret_key_file: Option<PathBuf>,
    /// The session cookie name (Django's SESSION_COOKIE_NAME; the Django file layout uses
    /// it as the file-name prefix).
    #[arg(long, default_value = "sessionid")]
    pub cookie_name: String,
    /// The session lifetime in seconds (Django's SESSION_COOKIE_AGE).
    #[arg(long, default_value_t = 1_209_600, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub cookie_age: i64,
    /// A shared Redis cache in front of the store (redis://... or redis+cluster://...),
    /// for several nodes; `cached+URL` gives a per-process cache instead.
    #[arg(long, value_name = "URL")]
    pub cache_store: Option<String>,
}

impl StoreArgs {
    /// Opens the store.
    pub async fn open(&self) -> anyhow::Result<Opened> {
        let secrets = secrets::load(self.secret_key_file.as_deref())?;
        let opts = OpenOptions {
            layout: self.layout,
            secrets,
            cookie_name: self.cookie_name.clone(),
            cookie_age: self.cookie_age,
            cache_store: self.cache_store.clone(),
        };
        store_url::open(&self.store, &opts).await
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the demo app: a visit counter, a favorite color, login and the user's sessions;
    /// plain text for curl, HTML pages for browsers.
    Serve(serve::ServeArgs),
    /// Remove expired sessions from a store and print how many.
    ClearExpired {
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print one session as JSON: its data, expiry and metadata.
    Inspect {
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
        /// The session key (for cookie://, the cookie value).
        key: String,
    },
    /// List live sessions (all, or one user's), one JSON object per line.
    List {
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
        /// Only this user's sessions (Django's _auth_user_id).
        #[arg(long)]
        user: Option<String>,
        /// At most this many sessions.
        #[arg(long, default_value_t = 1000, allow_negative_numbers = true, value_parser = parse_limit)]
        limit: usize,
    },
    /// Log a user out everywhere: delete all their sessions (but one, with --except).
    Revoke {
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
        /// The user (Django's _auth_user_id).
        #[arg(long)]
        user: String,
        /// Keep this session (e.g. the one the user is using).
        #[arg(long, value_name = "KEY")]
        except: Option<String>,
    },
}

fn parse_limit(s: &str) -> Result<usize, String> {
    s.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
        format!("{s:?} is not a number of sessions: expected a whole number, 1 or more")
    })
}

/// `HOST:PORT`, with a message that says so.
pub(crate) fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an address to listen on: expected HOST:PORT with an IP address, e.g. 127.0.0.1:8000"))
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; usage errors to stderr.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sessionkit: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sessionkit: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SESSIONKIT_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::ClearExpired { store } => clear_expired(&store).await,
        Command::Inspect { store, key } => inspect(&store, &key).await,
        Command::List { store, user, limit } => list(&store, user.as_deref(), limit).await,
        Command::Revoke {
            store,
            user,
            except,
        } => revoke(&store, &user, except.as_deref()).await,
    }
}

fn report(e: sessionkit_core::StoreError) -> anyhow::Error {
    anyhow::anyhow!(e.report())
}

async fn clear_expired(args: &StoreArgs) -> anyhow::Result<()> {
    let opened = args.open().await?;
    let Opened::Server(store) = opened else {
        println!("0 expired session(s) removed (cookie:// sessions expire in the browser)");
        return Ok(());
    };
    let terminal = std::io::stderr().is_terminal();
    let mut progress = move |n: u64| {
        if terminal {
            eprint!("\rremoving expired sessions: {n}");
            let _ = std::io::stderr().flush();
        }
    };
    let removed = store
        .clear_expired_with_progress_boxed(OffsetDateTime::now_utc(), &mut progress)
        .await
        .map_err(|e| anyhow::anyhow!("clearing expired sessions failed: {}", e.report()))?;
    if terminal {
        eprintln!();
    }
    println!("{removed} expired session(s) removed");
    Ok(())
}

fn time_value(t: Option<OffsetDateTime>) -> Value {
    t.map_or(Value::Null, |t| Value::String(pytime::isoformat(t)))
}

fn info_json(info: &SessionInfo) -> Map {
    let mut m = Map::new();
    m.insert("key".into(), Value::from(info.key.as_str()));
    m.insert("expires_at".into(), time_value(Some(info.expires_at)));
    m.insert("created_at".into(), time_value(info.meta.created_at));
    m.insert("last_seen".into(), time_value(info.meta.last_seen));
    m.insert("user_id".into(), info.meta.user_id.clone().into());
    m
}

fn parse_key(key: &str) -> anyhow::Result<SessionKey> {
    SessionKey::parse(key).with_context(|| {
        format!("{key:?} is not a session key: keys are 8 to 40 characters of a-z and 0-9")
    })
}

async fn inspect(args: &StoreArgs, key: &str) -> anyhow::Result<()> {
    let opened = args.open().await?;
    let now = OffsetDateTime::now_utc();
    let mut out = Map::new();
    out.insert("store".into(), Value::from(opened.describe()));
    match &opened {
        Opened::Server(store) => {
            let k = parse_key(key)?;
            match store.load_boxed(&k, now).await.map_err(report)? {
                Lookup::Found { record, .. } => {
                    let info = SessionInfo {
                        key: k,
                        expires_at: record.expires_at,
                        meta: record.meta,
                    };
                    out.extend(info_json(&info));
                    out.insert("data".into(), Value::Map(record.data.to_map()));
                }
                Lookup::Retired { until } => bail!(
                    "no live session with this key: it was rotated to a new key (grace window until {})",
                    pytime::isoformat(until)
                ),
                Lookup::Missing => bail!("no live session with this key (unknown or expired)"),
            }
        }
        Opened::Client(store) => {
            let Some(contents) = store.decode(key, now) else {
                bail!(
                    "the cookie value is not a valid signed session (bad signature, expired or garbage)"
                );
            };
            out.insert("signed_at".into(), time_value(Some(contents.issued_at)));
            out.insert("data".into(), Value::Map(contents.data.to_map()));
        }
    }
    println!("{}", json::to_string(&Value::Map(out)));
    Ok(())
}

async fn list(args: &StoreArgs, user: Option<&str>, limit: usize) -> anyhow::Result<()> {
    let opened = args.open().await?;
    let store = opened.server("list")?;
    let now = OffsetDateTime::now_utc();
    let infos = match user {
        Some(user) => {
            let index = store
                .user_index_dyn()
                .with_context(|| format!("{} has no per-user index", store.describe_dyn()))?;
            let mut all = index.sessions_of(user, now).await.map_err(report)?;
            all.truncate(limit);
            all
        }
        None => {
            let listing = store
                .listing_dyn()
                .with_context(|| format!("{} cannot list sessions", store.describe_dyn()))?;
            let mut all = Vec::new();
            let mut after: Option<SessionKey> = None;
            while all.len() < limit {
                let page = listing
                    .list(now, after.as_ref(), (limit - all.len()).min(500))
                    .await
                    .map_err(report)?;
                let Some(last) = page.last().map(|i| i.key) else {
                    break;
                };
                after = Some(last);
                all.extend(page);
            }
            all
        }
    };
    let mut stdout = std::io::stdout().lock();
    for info in &infos {
        writeln!(stdout, "{}", json::to_string(&Value::Map(info_json(info))))?;
    }
    Ok(())
}

async fn revoke(args: &StoreArgs, user: &str, except: Option<&str>) -> anyhow::Result<()> {
    let opened = args.open().await?;
    let store = opened.server("revoke")?;
    let keep = except.map(parse_key).transpose()?;
    let index = store
        .user_index_dyn()
        .with_context(|| format!("{} has no per-user index", store.describe_dyn()))?;
    let n = index
        .revoke_user(user, keep.as_ref())
        .await
        .map_err(report)?;
    println!("{n} session(s) of user {user:?} revoked");
    Ok(())
}
