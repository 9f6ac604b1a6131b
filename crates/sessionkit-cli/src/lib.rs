//! The `sessionkit` command: the demo server and store maintenance.
//!
//! ```text
//! sessionkit serve         [--listen 127.0.0.1:8000] [--store sqlite://sessions.sqlite3] [--layout native|django] [--lock]
//!                          [--trusted-proxy ADDR_OR_CIDR]... [--no-record-client-info] [--bind-user-agent]
//!                          [--cache-store URL] [--redis-record-format packed|hash]
//!                          [--header-timeout 10s] [--keep-alive-timeout 5s]
//!                          [--max-header-bytes 16KiB] [--max-body-bytes 16KiB] [--shutdown-timeout 30s]
//! sessionkit clear-expired --store URL [--progress-interval 5s]
//! sessionkit inspect       --store URL KEY
//! sessionkit list          --store URL [--user ID] [--limit N]
//! sessionkit revoke        --store URL (--user ID [--except KEY] | --key KEY) [--cache-store URL]
//! ```
//!
//! Every store command takes `--layout`, `--secret-key-file` (or `SESSIONKIT_SECRET_KEY`,
//! with fallbacks in `SESSIONKIT_SECRET_KEY_FALLBACKS`), `--cookie-key-file` (or
//! `SESSIONKIT_COOKIE_KEYS`, for `encrypted-cookie://`), `--cookie-name` and `--cookie-age`;
//! `--cache-store` only where a cache has an effect (`serve`, `revoke`). `serve` refuses at
//! startup the options its store cannot honour: `--lock` on Django's layouts on shared
//! servers (no leases), `--redis-record-format` without the native layout's Redis store,
//! `--bind-user-agent` on a store that records no client info (Django's layouts, the
//! cookie stores). `main` parses the arguments, runs the command and turns any error into a
//! one-line message on stderr and a non-zero exit code; nothing here panics on bad input.

pub mod secrets;
pub mod serve;
pub mod store_url;
pub mod units;

use sessionkit_core::store::Page;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use sessionkit_core::events::RevokeCause;
use sessionkit_core::store::Create;
use sessionkit_core::value::Map;
use sessionkit_core::{Lookup, SessionInfo, SessionKey, StoreErrorKind, Value, json, pytime};
use sessionkit_redis::RecordFormat;
use sessionkit_sql::django::DjangoTime;
use time::OffsetDateTime;

use crate::store_url::{Layout, OpenOptions, Opened};

/// What the exit status means, shown at the end of `sessionkit --help` (and in the
/// README).
pub const EXIT_CODES: &str = "\
Exit status:
  0  success (also for --help and --version)
  1  failure: the store is missing, unreachable or misconfigured, a session was not found,
     the server could not start; one line on stderr says what and why
  2  usage error: an unknown command or option, a missing or invalid value

inspect, list, revoke and clear-expired never create anything: a store that does not exist
(a missing SQLite file or directory, a missing table) is a failure that names it, and
memory:// (empty in every new process) is refused. serve creates what its store needs.";

/// Sessions for Rust web services, the Django way.
#[derive(Debug, Parser)]
#[command(name = "sessionkit", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How to reach a store (shared by every command).
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Where sessions live: sqlite://FILE (relative), sqlite:///ABS/PATH, postgres://...,
    /// mysql://..., redis://HOST:PORT/DB, redis+cluster://HOST:PORT,...,
    /// memcached://HOST:PORT,..., memory://, file:///DIR, cookie://, encrypted-cookie://,
    /// cached+URL.
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
    /// A file holding the encrypted cookie store's keys: base64 of 32 random bytes each, one
    /// per line (or comma-separated), the first one encrypting (else SESSIONKIT_COOKIE_KEYS).
    /// Needed by encrypted-cookie://.
    #[arg(long, value_name = "PATH")]
    pub cookie_key_file: Option<PathBuf>,
    /// The session cookie name (Django's SESSION_COOKIE_NAME; the Django file layout uses
    /// it as the file-name prefix).
    #[arg(long, default_value = "sessionid")]
    pub cookie_name: String,
    /// The session lifetime in seconds (Django's SESSION_COOKIE_AGE).
    #[arg(long, default_value_t = 1_209_600, allow_negative_numbers = true, value_parser = clap::value_parser!(i64).range(1..))]
    pub cookie_age: i64,
    /// Django's USE_TZ, for the Django layout's tables (SQLite, PostgreSQL, MySQL): with
    /// false, django_session.expire_date holds naive local time in --django-time-zone,
    /// as Django writes it then. true/false (also yes/no, 1/0).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub django_use_tz: bool,
    /// Django's TIME_ZONE, an IANA name (e.g. America/New_York): the zone of
    /// expire_date with --django-use-tz false. An unknown name is refused.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub django_time_zone: String,
}

/// A cache in front of the store, for the commands on which it has an effect (`serve`,
/// `revoke`).
#[derive(Debug, Clone, Default, Args)]
pub struct CacheArgs {
    /// A shared Redis cache in front of the store (redis://... or redis+cluster://...),
    /// for several nodes; `cached+URL` gives a per-process cache instead. With the Django
    /// layout in front of a database: Django's cached_db, its cache on Redis or on
    /// memcached (memcached://host:port,..., Django's PyMemcacheCache).
    #[arg(long, value_name = "URL")]
    pub cache_store: Option<String>,
}

impl StoreArgs {
    /// The session settings these options give (the same for the engine and the store,
    /// whichever command uses them).
    pub fn config(&self) -> anyhow::Result<sessionkit_core::Config> {
        self.config_builder()
            .build()
            .context("invalid session settings")
    }

    /// [`config`](StoreArgs::config) before `build()`, for `serve` to add its own.
    pub fn config_builder(&self) -> sessionkit_core::ConfigBuilder {
        sessionkit_core::Config::builder()
            .cookie_name(self.cookie_name.clone())
            .cookie_age(self.cookie_age)
    }

    /// Opens the store, creating what it needs and does not find (a database file, a
    /// table): what `serve` does.
    pub async fn open(&self) -> anyhow::Result<Opened> {
        self.open_cached(&CacheArgs::default()).await
    }

    /// [`open`](StoreArgs::open), behind the cache `cache` names, if any.
    pub async fn open_cached(&self, cache: &CacheArgs) -> anyhow::Result<Opened> {
        self.open_with(cache, Create::IfMissing).await
    }

    /// Opens a store that must exist, creating nothing: for the commands that read or act
    /// on existing sessions (`inspect`, `list`, `revoke`, `clear-expired`). A missing
    /// database, table or directory is an error naming it; `memory://` is refused.
    pub async fn open_existing(&self, cache: &CacheArgs) -> anyhow::Result<Opened> {
        self.open_with(cache, Create::Never).await
    }

    /// Django's `USE_TZ` and `TIME_ZONE` from `--django-use-tz` and
    /// `--django-time-zone`; an unknown zone, or `USE_TZ = False` without the Django
    /// layout, is an error.
    pub fn django_time(&self) -> anyhow::Result<DjangoTime> {
        let time = DjangoTime::new(self.django_use_tz, &self.django_time_zone)
            .map_err(|e| anyhow::anyhow!("--django-time-zone: {}", e.report()))?;
        if !time.use_tz() && self.layout != Layout::Django {
            bail!(
                "--django-use-tz false describes Django's tables: it needs --layout django (sessionkit's own layout stores instants)"
            );
        }
        Ok(time)
    }

    /// [`open_cached`](StoreArgs::open_cached), the native layout's Redis store writing its
    /// session records in `redis_record_format`: what `serve` does.
    pub async fn open_serving(
        &self,
        cache: &CacheArgs,
        redis_record_format: RecordFormat,
    ) -> anyhow::Result<Opened> {
        let opts = OpenOptions {
            redis_record_format,
            ..self.options(cache, Create::IfMissing)?
        };
        store_url::open(&self.store, &opts).await
    }

    async fn open_with(&self, cache: &CacheArgs, create: Create) -> anyhow::Result<Opened> {
        store_url::open(&self.store, &self.options(cache, create)?).await
    }

    /// What opening the store needs besides its URL, from these options.
    fn options(&self, cache: &CacheArgs, create: Create) -> anyhow::Result<OpenOptions> {
        let django_time = self.django_time()?;
        let secrets = secrets::load(self.secret_key_file.as_deref())?;
        let cookie_keys = secrets::load_cookie_keys(self.cookie_key_file.as_deref())?;
        Ok(OpenOptions {
            django_time,
            layout: self.layout,
            secrets,
            cookie_keys,
            config: self.config()?,
            cache_store: cache.cache_store.clone(),
            create,
            redis_record_format: RecordFormat::default(),
        })
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the demo app: a visit counter, a favorite color, login and the user's sessions,
    /// who is signed in (/whoami, Django's users with --layout django --django-auth-db) and
    /// flash messages (/flash, /messages); plain text for curl, HTML pages for browsers.
    Serve(serve::ServeArgs),
    /// Remove expired sessions from a store and print how many. On a terminal a running
    /// count shows the progress; otherwise (cron, a pipe) a progress line goes to stderr
    /// every --progress-interval.
    ClearExpired {
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
        /// How often a progress line is logged when stderr is not a terminal (e.g. 5s,
        /// 1m; 1ms to 1h).
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_progress_interval)]
        progress_interval: Duration,
        /// Lifecycle events (`expired`) to a file.
        #[command(flatten)]
        events: EventsArgs,
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
    /// Revoke sessions: all of a user's (log them out everywhere; all but one with
    /// --except), or one session by its key. Signed cookies (cookie://) cannot be revoked.
    #[command(group(clap::ArgGroup::new("whose").required(true).args(["user", "key"])))]
    Revoke {
        /// The store.
        #[command(flatten)]
        store: StoreArgs,
        /// The cache in front of the store: its entries for the revoked sessions are
        /// dropped too.
        #[command(flatten)]
        cache: CacheArgs,
        /// Every session of this user (Django's _auth_user_id).
        #[arg(long)]
        user: Option<String>,
        /// Keep this session of the user (e.g. the one they are using).
        #[arg(long, value_name = "KEY", requires = "user", conflicts_with = "key")]
        except: Option<String>,
        /// Only the session with this key (the session cookie's value).
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Lifecycle events (`revoked`) to a file.
        #[command(flatten)]
        events: EventsArgs,
    },
}

/// Where lifecycle events go.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EventsArgs {
    /// Append lifecycle events (created, rotated, logged_in, logged_out, flushed, revoked,
    /// expired, interrupted, replayed) to FILE as JSON lines: `event`, `time` and the
    /// event's fields — key fingerprints, never keys. Created if missing.
    #[arg(long, value_name = "FILE")]
    pub events_log: Option<std::path::PathBuf>,
}

impl EventsArgs {
    /// The listener writing to `--events-log`, if given.
    pub fn listener(
        &self,
    ) -> anyhow::Result<Option<sessionkit_core::events::JsonLines<std::fs::File>>> {
        let Some(path) = &self.events_log else {
            return Ok(None);
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the events log {}", path.display()))?;
        Ok(Some(sessionkit_core::events::JsonLines::new(file)))
    }
}

fn parse_progress_interval(s: &str) -> Result<Duration, String> {
    units::parse_duration(s, Duration::from_millis(1), Duration::from_secs(3600))
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
        Command::ClearExpired {
            store,
            progress_interval,
            events,
        } => clear_expired(&store, progress_interval, &events).await,
        Command::Inspect { store, key } => inspect(&store, &key).await,
        Command::List { store, user, limit } => list(&store, user.as_deref(), limit).await,
        Command::Revoke {
            store,
            cache,
            user,
            except,
            key,
            events,
        } => match (user, key) {
            (Some(user), None) => {
                revoke_user(&store, &cache, &user, except.as_deref(), &events).await
            }
            (None, Some(key)) => revoke_key(&store, &cache, &key, &events).await,
            // clap's group allows exactly one of them.
            _ => bail!("give exactly one of --user and --key"),
        },
    }
}

fn report(e: sessionkit_core::StoreError) -> anyhow::Error {
    anyhow::anyhow!(e.report())
}

/// An engine over `opened` for a store-only command, sending events to `--events-log`.
fn command_engine(
    opened: &Opened,
    args: &StoreArgs,
    events: &EventsArgs,
) -> anyhow::Result<sessionkit_core::Engine> {
    let mut b = opened.engine_builder().with_config(args.config()?);
    if let Some(listener) = events.listener()? {
        b = b.with_events(listener);
    }
    Ok(b.build())
}

async fn clear_expired(
    args: &StoreArgs,
    interval: Duration,
    events: &EventsArgs,
) -> anyhow::Result<()> {
    let opened = args.open_existing(&CacheArgs::default()).await?;
    if matches!(opened, Opened::Client(_)) {
        println!(
            "0 expired session(s) removed ({} sessions expire in the browser)",
            opened.describe()
        );
        return Ok(());
    }
    let engine = command_engine(&opened, args, events)?;
    let terminal = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_line = started;
    let mut progress = move |n: u64| {
        if terminal {
            eprint!("\rremoving expired sessions: {n}");
            let _ = std::io::stderr().flush();
        } else if last_line.elapsed() >= interval {
            // Not a terminal (cron, a pipe): a whole line now and then, for the log.
            last_line = Instant::now();
            eprintln!(
                "clear-expired: {n} expired session(s) removed so far ({}s)",
                started.elapsed().as_secs()
            );
        }
    };
    let removed = engine
        .clear_expired_with_progress(&mut progress)
        .await
        .map_err(|e| match e.kind() {
            // "... is not supported on memcached: ...", as it is.
            StoreErrorKind::Unsupported => anyhow::anyhow!("{}", e.message()),
            _ => anyhow::anyhow!("clearing expired sessions failed: {}", e.report()),
        })?;
    engine.flush_events();
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
    // Device metadata (issue 19): null where the store keeps none, or recorded none.
    let client = info.meta.client.as_ref();
    m.insert(
        "ip".into(),
        client.and_then(|c| c.ip()).map(|ip| ip.to_string()).into(),
    );
    m.insert(
        "user_agent".into(),
        client
            .and_then(|c| c.user_agent())
            .map(str::to_owned)
            .into(),
    );
    m.insert(
        "device".into(),
        client.map(|c| c.device().to_owned()).into(),
    );
    m
}

fn parse_key(key: &str) -> anyhow::Result<SessionKey> {
    SessionKey::parse(key).with_context(|| {
        format!("{key:?} is not a session key: keys are 8 to 40 characters of a-z and 0-9")
    })
}

async fn inspect(args: &StoreArgs, key: &str) -> anyhow::Result<()> {
    // A server-side store's key is checked before the store is opened (cookie:// takes
    // the cookie value instead).
    let server_key = if store_url::parse(&args.store)?.is_client_side() {
        None
    } else {
        Some(parse_key(key)?)
    };
    let opened = args.open_existing(&CacheArgs::default()).await?;
    let now = OffsetDateTime::now_utc();
    let mut out = Map::new();
    out.insert("store".into(), Value::from(opened.describe()));
    match &opened {
        Opened::Server(store) => {
            let k = match server_key {
                Some(k) => k,
                None => parse_key(key)?,
            };
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
                    "the cookie value is not a valid session for {} (forged, under another key, or garbage)",
                    store.describe()
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
    let opened = args.open_existing(&CacheArgs::default()).await?;
    let store = opened.server("list")?;
    let now = OffsetDateTime::now_utc();
    let infos = match user {
        Some(user) => {
            let index = store.user_index_dyn().with_context(|| {
                format!(
                    "listing a user's sessions is not supported on {} (it has no per-user index)",
                    store.describe_dyn()
                )
            })?;
            let mut all = index.sessions_of_boxed(user, now).await.map_err(report)?;
            all.truncate(limit);
            all
        }
        None => {
            let listing = store.listing_dyn().with_context(|| {
                format!(
                    "listing sessions is not supported on {}",
                    store.describe_dyn()
                )
            })?;
            let mut all = Vec::new();
            let mut after: Option<SessionKey> = None;
            while all.len() < limit {
                let page = listing
                    .list_boxed(Page {
                        now,
                        after: after.as_ref(),
                        limit: (limit - all.len()).min(500),
                    })
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

/// The error for revoking on a client-side store (`cookie://`, `encrypted-cookie://`).
fn cookies_cannot_be_revoked(opened: &Opened) -> anyhow::Error {
    let store = opened.describe();
    let instead = if store == "encrypted-cookie://" {
        "remove its key from SESSIONKIT_COOKIE_KEYS (or the --cookie-key-file) after putting a new key first"
    } else {
        "change the secret key (and keep the old one out of SESSIONKIT_SECRET_KEY_FALLBACKS)"
    };
    anyhow::anyhow!(
        "{store} sessions cannot be revoked: the session lives in the browser's cookie and stays valid until it expires; to invalidate every such cookie at once, {instead}"
    )
}

async fn revoke_key(
    args: &StoreArgs,
    cache: &CacheArgs,
    key: &str,
    events: &EventsArgs,
) -> anyhow::Result<()> {
    let k = parse_key(key)?;
    let opened = args.open_existing(cache).await?;
    if matches!(opened, Opened::Client(_)) {
        return Err(cookies_cannot_be_revoked(&opened));
    }
    let engine = command_engine(&opened, args, events)?;
    // Deleted whatever is stored: a stale cache entry or a rotation marker goes too.
    let live = engine
        .revoke_key(&k, RevokeCause::Admin)
        .await
        .map_err(report)?;
    engine.flush_events();
    if live {
        println!("1 session revoked");
    } else {
        println!("0 sessions revoked: no live session with this key");
    }
    Ok(())
}

async fn revoke_user(
    args: &StoreArgs,
    cache: &CacheArgs,
    user: &str,
    except: Option<&str>,
    events: &EventsArgs,
) -> anyhow::Result<()> {
    let keep = except.map(parse_key).transpose()?;
    let opened = args.open_existing(cache).await?;
    let Opened::Server(store) = &opened else {
        return Err(cookies_cannot_be_revoked(&opened));
    };
    if store.user_index_dyn().is_none() {
        bail!(
            "revoking a user's sessions is not supported on {} (it has no per-user index)",
            store.describe_dyn()
        );
    }
    let engine = command_engine(&opened, args, events)?;
    let n = engine
        .revoke_user(user, keep.as_ref(), RevokeCause::Admin)
        .await
        .map_err(report)?;
    engine.flush_events();
    println!("{n} session(s) of user {user:?} revoked");
    Ok(())
}
