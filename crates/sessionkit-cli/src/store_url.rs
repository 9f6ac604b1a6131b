//! Store URLs: how the command line names a store.
//!
//! | URL | store |
//! | --- | --- |
//! | `sqlite://sessions.sqlite3` | SQLite, path relative to the working directory |
//! | `sqlite:///var/lib/app/sessions.sqlite3` | SQLite, absolute path |
//! | `memory://` | in-process memory (lost on exit) |
//! | `postgres://user@host:5432/db` | PostgreSQL |
//! | `mysql://user@host:3306/db` | MySQL / MariaDB |
//! | `redis://host:6379/0` | Redis |
//! | `redis+cluster://host:7000,host:7001` | Redis Cluster (any nodes as seeds) |
//! | `memcached://host:11211,host2:11211` | memcached: one server or a pool (keys hashed as Django's `PyMemcacheCache` does) |
//! | `file:///var/lib/app/sessions` | one file per session in a directory |
//! | `cookie://` | the signed cookie (Django's `signed_cookies`; needs the secret key) |
//! | `encrypted-cookie://` | the encrypted cookie (needs `--cookie-key-file` or `SESSIONKIT_COOKIE_KEYS`) |
//! | `cached+<url>` | an in-process cache in front of `<url>` (one node; see `--cache-store` for many) |
//!
//! With `--layout django` the server-side stores use Django's layout and sign session data
//! with Django's secret key: the `django_session` table (`db` engine) on SQLite, PostgreSQL
//! and MySQL, Django's file names (`file`), Django's cache keys and pickled values on Redis
//! and memcached (`cache`, as `RedisCache` and `PyMemcacheCache` store them), and with
//! `--cache-store redis://...` (`redis+cluster://...`) or `--cache-store memcached://...`
//! in front of a database, Django's `cached_db` with its cache on that server.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use sessionkit_core::store::{CachedStore, Create, LocalCache};
use sessionkit_core::{
    BoxStore, ClientStore, Config, DynSessionStore, Engine, EngineBuilder, MemoryStore,
};
use sessionkit_django::{Secrets, SignedCookieStore};
use sessionkit_encrypted_cookie::{EncryptedCookieStore, KeyRing};
use sessionkit_file::{DjangoFileStore, FileStore};
use sessionkit_memcached::{DjangoMemcachedCachedDbStore, DjangoMemcachedStore, MemcachedStore};
use sessionkit_redis::{
    DjangoCacheStore, DjangoCachedDbStore, RecordFormat, RedisCache, RedisStore,
};
use sessionkit_sql::django::{
    DjangoMySqlStore, DjangoPostgresStore, DjangoSqliteStore, DjangoTime,
};
use sessionkit_sql::{MySqlStore, PostgresStore, SqliteStore};

mod checks;

pub use checks::{check_bind_user_agent, check_lock, check_redis_record_format};

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory://`
    Memory,
    /// `sqlite://PATH`
    Sqlite(PathBuf),
    /// `postgres://...` (the whole URL)
    Postgres(String),
    /// `mysql://...` (the whole URL)
    Mysql(String),
    /// `redis://...` (the whole URL)
    Redis(String),
    /// `redis+cluster://host:port,...` (the seeds)
    RedisCluster(Vec<String>),
    /// `memcached://host:port,...` (the whole URL)
    Memcached(String),
    /// `file:///DIR`
    File(PathBuf),
    /// `cookie://`
    Cookie,
    /// `encrypted-cookie://`
    EncryptedCookie,
    /// `cached+<url>`
    Cached(Box<StoreUrl>),
}

/// Which layout server-side stores use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Layout {
    /// sessionkit's own: JSON data plus version, expiry and metadata columns.
    #[default]
    Native,
    /// Django's: the `django_session` table, Django's files, signed session data.
    Django,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::Native => "native",
            Layout::Django => "django",
        })
    }
}

/// How the native layout's Redis store writes session records (`serve
/// --redis-record-format`; it reads both): [`RecordFormat`] on the command line. The
/// variants' docs are the help text of the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RedisRecordFormat {
    /// One string per session (the default).
    #[default]
    Packed,
    /// One hash per session, as builds before issue 21 wrote: the first step of a rolling
    /// upgrade from such a build, or a way back to one.
    Hash,
}

impl From<RedisRecordFormat> for RecordFormat {
    fn from(format: RedisRecordFormat) -> RecordFormat {
        match format {
            RedisRecordFormat::Packed => RecordFormat::Packed,
            RedisRecordFormat::Hash => RecordFormat::Hash,
        }
    }
}

/// A URL with any password replaced by `***`, for messages and logs
/// (`postgres://app:secret@host/db` → `postgres://app:***@host/db`).
///
/// ```
/// use sessionkit_cli::store_url::redact;
///
/// assert_eq!(redact("postgres://app:pw@h:5432/db"), "postgres://app:***@h:5432/db");
/// assert_eq!(redact("redis://:pw@h"), "redis://:***@h");
/// assert_eq!(redact("sqlite://s.db"), "sqlite://s.db");
/// ```
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    // The authority ends at the first '/', '?' or '#'; credentials end at its last '@'.
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let (userinfo, host) = authority.split_at(at);
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{host}{tail}"),
        None => url.to_owned(),
    }
}

/// The forms accepted, for error messages.
pub const ACCEPTED: &str = "sqlite://FILE, sqlite:///ABSOLUTE/PATH, postgres://..., mysql://..., redis://HOST:PORT/DB, redis+cluster://HOST:PORT,..., memcached://HOST:PORT,..., memory://, file:///DIR, cookie://, encrypted-cookie:// or cached+<url>";

/// Parses a store URL.
pub fn parse(url: &str) -> anyhow::Result<StoreUrl> {
    let shown = redact(url);
    if let Some(inner) = url.strip_prefix("cached+") {
        let inner = parse(inner)?;
        if matches!(
            inner,
            StoreUrl::Cookie | StoreUrl::EncryptedCookie | StoreUrl::Memory | StoreUrl::Cached(_)
        ) {
            bail!(
                "invalid store URL {shown:?}: a cache only makes sense in front of a server-side store"
            );
        }
        return Ok(StoreUrl::Cached(Box::new(inner)));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("invalid store URL {shown:?}: expected {ACCEPTED}");
    };
    match scheme {
        "memory" if rest.is_empty() => Ok(StoreUrl::Memory),
        "memory" => bail!("invalid store URL {shown:?}: memory:// takes no path"),
        "cookie" if rest.is_empty() => Ok(StoreUrl::Cookie),
        "cookie" => bail!(
            "invalid store URL {shown:?}: cookie:// takes no path (the secret comes from --secret-key-file or SESSIONKIT_SECRET_KEY)"
        ),
        "encrypted-cookie" if rest.is_empty() => Ok(StoreUrl::EncryptedCookie),
        "encrypted-cookie" => bail!(
            "invalid store URL {shown:?}: encrypted-cookie:// takes no path (the keys come from --cookie-key-file or SESSIONKIT_COOKIE_KEYS)"
        ),
        "sqlite" => {
            if rest.is_empty() {
                bail!(
                    "invalid store URL {shown:?}: sqlite:// needs a file path, e.g. sqlite://sessions.sqlite3"
                );
            }
            Ok(StoreUrl::Sqlite(PathBuf::from(rest)))
        }
        "postgres" | "postgresql" => Ok(StoreUrl::Postgres(url.to_owned())),
        "redis" | "rediss" => Ok(StoreUrl::Redis(url.to_owned())),
        "redis+cluster" => {
            let seeds: Vec<String> = rest
                .trim_end_matches('/')
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if seeds.is_empty() {
                bail!(
                    "invalid store URL {shown:?}: redis+cluster:// needs seed nodes, e.g. redis+cluster://127.0.0.1:7000,127.0.0.1:7001"
                );
            }
            Ok(StoreUrl::RedisCluster(seeds))
        }
        "mysql" | "mariadb" => Ok(StoreUrl::Mysql(format!("mysql://{rest}"))),
        "memcached" => {
            if rest.trim_matches(['/', ',']).is_empty() {
                bail!(
                    "invalid store URL {shown:?}: memcached:// needs servers, e.g. memcached://127.0.0.1:11211,127.0.0.1:11212"
                );
            }
            Ok(StoreUrl::Memcached(url.to_owned()))
        }
        "file" => {
            if !rest.starts_with('/') {
                bail!(
                    "invalid store URL {shown:?}: file:// needs an absolute directory, e.g. file:///var/lib/app/sessions"
                );
            }
            Ok(StoreUrl::File(PathBuf::from(rest)))
        }
        other => bail!("unsupported store {other:?} in {shown:?}: expected {ACCEPTED}"),
    }
}

impl StoreUrl {
    /// Whether the sessions live in the browser (the store holds no keys to look up).
    pub fn is_client_side(&self) -> bool {
        match self {
            StoreUrl::Cookie | StoreUrl::EncryptedCookie => true,
            StoreUrl::Memory
            | StoreUrl::Sqlite(_)
            | StoreUrl::Postgres(_)
            | StoreUrl::Mysql(_)
            | StoreUrl::Redis(_)
            | StoreUrl::RedisCluster(_)
            | StoreUrl::Memcached(_)
            | StoreUrl::File(_)
            | StoreUrl::Cached(_) => false,
        }
    }

    /// Whether opening it needs the secret key.
    pub fn needs_secret(&self, layout: Layout) -> bool {
        match self {
            StoreUrl::Cookie => true,
            StoreUrl::Cached(inner) => inner.needs_secret(layout),
            StoreUrl::Memory | StoreUrl::EncryptedCookie => false,
            StoreUrl::Sqlite(_)
            | StoreUrl::File(_)
            | StoreUrl::Postgres(_)
            | StoreUrl::Mysql(_) => layout == Layout::Django,
            // Django's cache engine stores the pickled dict, unsigned.
            StoreUrl::Redis(_) | StoreUrl::RedisCluster(_) | StoreUrl::Memcached(_) => false,
        }
    }

    /// Whether the store keeps each session's client info (IP address, user agent, device
    /// label) and returns it on load: the native layouts of the server-side stores do;
    /// Django's layouts have no room for it, and the cookie stores carry none.
    pub fn records_client_info(&self, layout: Layout) -> bool {
        match self {
            StoreUrl::Cookie | StoreUrl::EncryptedCookie => false,
            StoreUrl::Cached(inner) => inner.records_client_info(layout),
            StoreUrl::Memory
            | StoreUrl::Sqlite(_)
            | StoreUrl::Postgres(_)
            | StoreUrl::Mysql(_)
            | StoreUrl::Redis(_)
            | StoreUrl::RedisCluster(_)
            | StoreUrl::Memcached(_)
            | StoreUrl::File(_) => layout == Layout::Native,
        }
    }

    /// Whether the native layout opens a [`RedisStore`] for this URL (`redis://`,
    /// `redis+cluster://`, or either behind `cached+`).
    fn is_redis(&self) -> bool {
        match self {
            StoreUrl::Redis(_) | StoreUrl::RedisCluster(_) => true,
            StoreUrl::Cached(inner) => inner.is_redis(),
            _ => false,
        }
    }
}

/// An opened store: server-side, or client-side (the signed cookie).
#[derive(Clone)]
pub enum Opened {
    /// A server-side store.
    Server(Arc<dyn DynSessionStore>),
    /// A client-side store.
    Client(Arc<dyn ClientStore>),
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Opened {
    /// The store's description.
    pub fn describe(&self) -> String {
        match self {
            Opened::Server(s) => s.describe_dyn(),
            Opened::Client(c) => c.describe(),
        }
    }

    /// An engine over this store.
    pub fn engine(&self, config: Config) -> Engine {
        self.engine_builder().with_config(config).build()
    }

    /// A builder of an engine over this store (to set a clock or a test hook).
    pub fn engine_builder(&self) -> EngineBuilder {
        match self {
            Opened::Server(s) => EngineBuilder::server(Arc::clone(s)),
            Opened::Client(c) => EngineBuilder::client(Arc::clone(c)),
        }
    }

    /// The server-side store, or an error naming the command that needs one.
    pub fn server(&self, what: &str) -> anyhow::Result<&Arc<dyn DynSessionStore>> {
        match self {
            Opened::Server(s) => Ok(s),
            Opened::Client(_) => bail!(
                "{what} needs a server-side store: {} keeps sessions in the browser, where no server can list or revoke them",
                self.describe()
            ),
        }
    }
}

/// What opening a store needs besides its URL.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The layout of server-side stores.
    pub layout: Layout,
    /// Django's secret key and fallbacks, when the store signs.
    pub secrets: Option<Secrets>,
    /// The encrypted cookie store's keys (`--cookie-key-file`, `SESSIONKIT_COOKIE_KEYS`).
    pub cookie_keys: Option<KeyRing>,
    /// The session settings, the same the engine gets: stores that need one (the cookie
    /// age for layouts that derive expiry from it, the cookie name Django's file layout
    /// uses as its file prefix) take it from here, so each is set once.
    pub config: Config,
    /// A shared cache in front of the store (`--cache-store`): Redis, or with the Django
    /// layout Redis or memcached (Django's `cached_db`).
    pub cache_store: Option<String>,
    /// Whether opening may create what the store needs (`serve`) or must find it (the
    /// commands that read or act on existing sessions: a missing database, table or
    /// directory is then an error naming it, and `memory://`, a new empty store in every
    /// process, is refused). The Django layout's tables are never created either way:
    /// they are Django's.
    pub create: Create,
    /// Django's `USE_TZ` and `TIME_ZONE`, for the Django layout's SQL tables.
    pub django_time: DjangoTime,
    /// How the native layout's Redis store writes session records (`serve
    /// --redis-record-format`; default packed). The shared Redis cache's entries have a
    /// format of their own, which this does not change.
    pub redis_record_format: RecordFormat,
}

fn report(e: sessionkit_core::StoreError) -> anyhow::Error {
    anyhow::anyhow!(e.report())
}

/// "cannot open WHAT URL: ERROR", unless the error already names the URL (store errors
/// do): the URL is shown once.
fn naming(e: anyhow::Error, what: &str, shown: &str) -> anyhow::Error {
    if format!("{e:#}").contains(shown) {
        e
    } else {
        e.context(format!("cannot open {what} {shown}"))
    }
}

/// Opens the store a URL names.
pub async fn open(url: &str, opts: &OpenOptions) -> anyhow::Result<Opened> {
    let parsed = parse(url)?;
    let shown = redact(url);
    if parsed.needs_secret(opts.layout) && opts.secrets.is_none() {
        bail!(
            "store {shown} with the {} layout signs session data and needs Django's secret key: pass --secret-key-file PATH or set SESSIONKIT_SECRET_KEY",
            opts.layout
        );
    }
    if parsed == StoreUrl::EncryptedCookie && opts.cookie_keys.is_none() {
        bail!(
            "store {shown} encrypts session data and needs its keys: pass --cookie-key-file PATH or set SESSIONKIT_COOKIE_KEYS (base64 keys of 32 random bytes, comma-separated, the first one encrypting)"
        );
    }
    let opened = open_parsed(&parsed, opts)
        .await
        .map_err(|e| naming(e, "store", &shown))?;
    let Some(cache_url) = &opts.cache_store else {
        return Ok(opened);
    };
    let Opened::Server(store) = opened else {
        bail!("--cache-store needs a server-side store behind it, not {shown}");
    };
    if opts.layout == Layout::Django {
        // Django's cached_db: the db layout behind Django's cache keys and pickled values.
        let db = BoxStore::from_arc(store);
        let cached: Arc<dyn DynSessionStore> = match parse(cache_url)? {
            StoreUrl::Redis(u) => DjangoCachedDbStore::connect(db, &u)
                .await
                .map(|s| Arc::new(s) as Arc<dyn DynSessionStore>),
            StoreUrl::RedisCluster(seeds) => {
                let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
                DjangoCachedDbStore::connect_cluster(db, &seeds)
                    .await
                    .map(|s| Arc::new(s) as Arc<dyn DynSessionStore>)
            }
            StoreUrl::Memcached(u) => DjangoMemcachedCachedDbStore::connect(db, &u)
                .await
                .map(|s| Arc::new(s) as Arc<dyn DynSessionStore>),
            _ => bail!(
                "--cache-store must be a redis://, redis+cluster:// or (with --layout django) memcached:// URL, not {:?}",
                redact(cache_url)
            ),
        }
        .map_err(|e| naming(report(e), "the cache", &redact(cache_url)))?;
        return Ok(Opened::Server(cached));
    }
    let cache = match parse(cache_url)? {
        redis @ (StoreUrl::Redis(_) | StoreUrl::RedisCluster(_)) => {
            connect_redis(&redis, opts).await
        }
        StoreUrl::Memcached(_) => bail!(
            "--cache-store memcached://... is Django's cached_db engine, with --layout django; the native layout's shared cache is Redis (redis:// or redis+cluster://)"
        ),
        _ => bail!(
            "--cache-store must be a redis://, redis+cluster:// or (with --layout django) memcached:// URL, not {:?}",
            redact(cache_url)
        ),
    }
    .map_err(|e| naming(e, "the cache", &redact(cache_url)))?;
    Ok(Opened::Server(Arc::new(CachedStore::new(
        RedisCache::from_store(&cache),
        BoxStore::from_arc(store),
    ))))
}

/// Connects the native layout's [`RedisStore`] on `url` (`redis://` or
/// `redis+cluster://`), the store itself or the connection of the shared cache in front of
/// another (`--cache-store`), with the options that apply to it (the record format, which
/// the cache's own entries do not use): the one place that connects one.
async fn connect_redis(url: &StoreUrl, opts: &OpenOptions) -> anyhow::Result<RedisStore> {
    let builder = match url {
        StoreUrl::Redis(u) => RedisStore::builder(u),
        StoreUrl::RedisCluster(seeds) => {
            let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
            RedisStore::cluster_builder(&seeds)
        }
        _ => bail!("not a Redis URL"),
    };
    builder
        .with_record_format(opts.redis_record_format)
        .connect()
        .await
        .map_err(report)
}

async fn open_parsed(url: &StoreUrl, opts: &OpenOptions) -> anyhow::Result<Opened> {
    let secrets = || {
        opts.secrets
            .as_ref()
            .context("this store needs the secret key")
    };
    Ok(match (url, opts.layout) {
        (StoreUrl::Memory, _) if opts.create == Create::Never => bail!(
            "memory:// cannot be read from another process: it is a new, empty store in every process (the sessions of a `sessionkit serve --store memory://` live and die inside that server); name a store that keeps sessions, e.g. sqlite://sessions.sqlite3"
        ),
        (StoreUrl::Memory, Layout::Native) => Opened::Server(Arc::new(MemoryStore::new())),
        (StoreUrl::Memory, Layout::Django) => {
            bail!("memory:// has no Django layout (Django has no in-memory engine)")
        }
        (StoreUrl::Sqlite(path), Layout::Native) => Opened::Server(Arc::new(
            SqliteStore::builder(path)
                .with_create(opts.create)
                .open()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::Sqlite(path), Layout::Django) => Opened::Server(Arc::new(
            DjangoSqliteStore::builder(path, secrets()?)
                .with_django_time(opts.django_time.clone())
                .open()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::Postgres(url), Layout::Native) => Opened::Server(Arc::new(
            PostgresStore::builder(url)
                .with_create(opts.create)
                .connect()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::Mysql(url), Layout::Native) => Opened::Server(Arc::new(
            MySqlStore::builder(url)
                .with_create(opts.create)
                .connect()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::Postgres(url), Layout::Django) => Opened::Server(Arc::new(
            DjangoPostgresStore::builder(url, secrets()?)
                .with_django_time(opts.django_time.clone())
                .connect()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::Mysql(url), Layout::Django) => Opened::Server(Arc::new(
            DjangoMySqlStore::builder(url, secrets()?)
                .with_django_time(opts.django_time.clone())
                .connect()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::Redis(_) | StoreUrl::RedisCluster(_), Layout::Native) => {
            Opened::Server(Arc::new(connect_redis(url, opts).await?))
        }
        (StoreUrl::Redis(url), Layout::Django) => Opened::Server(Arc::new(
            DjangoCacheStore::builder(url)
                .with_config(&opts.config)
                .connect()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::RedisCluster(seeds), Layout::Django) => {
            let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
            Opened::Server(Arc::new(
                DjangoCacheStore::cluster_builder(&seeds)
                    .with_config(&opts.config)
                    .connect()
                    .await
                    .map_err(report)?,
            ))
        }
        (StoreUrl::Memcached(url), Layout::Native) => Opened::Server(Arc::new(
            MemcachedStore::connect(url).await.map_err(report)?,
        )),
        (StoreUrl::Memcached(url), Layout::Django) => Opened::Server(Arc::new(
            DjangoMemcachedStore::builder(url)
                .with_config(&opts.config)
                .connect()
                .await
                .map_err(report)?,
        )),
        (StoreUrl::File(dir), Layout::Native) => Opened::Server(Arc::new(
            FileStore::builder(dir)
                .with_create(opts.create)
                .open()
                .map_err(report)?,
        )),
        (StoreUrl::File(dir), Layout::Django) => Opened::Server(Arc::new(
            DjangoFileStore::builder(dir, secrets()?)
                .with_create(opts.create)
                .with_config(&opts.config)
                .open()
                .map_err(report)?,
        )),
        (StoreUrl::Cookie, _) => Opened::Client(Arc::new(SignedCookieStore::new(secrets()?))),
        (StoreUrl::EncryptedCookie, _) => Opened::Client(Arc::new(EncryptedCookieStore::new(
            opts.cookie_keys
                .clone()
                .context("this store needs the cookie keys")?,
        ))),
        (StoreUrl::Cached(inner), _) => {
            let Opened::Server(store) = Box::pin(open_parsed(inner, opts)).await? else {
                bail!("a cache only makes sense in front of a server-side store");
            };
            Opened::Server(Arc::new(CachedStore::new(
                LocalCache::new(100_000),
                BoxStore::from_arc(store),
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse("memory://").unwrap(), StoreUrl::Memory);
        assert_eq!(
            parse("sqlite://sessions.sqlite3").unwrap(),
            StoreUrl::Sqlite("sessions.sqlite3".into())
        );
        assert_eq!(
            parse("sqlite:///var/x.db").unwrap(),
            StoreUrl::Sqlite("/var/x.db".into())
        );
        assert_eq!(
            parse("file:///tmp/s").unwrap(),
            StoreUrl::File("/tmp/s".into())
        );
        assert_eq!(parse("cookie://").unwrap(), StoreUrl::Cookie);
        assert_eq!(
            parse("encrypted-cookie://").unwrap(),
            StoreUrl::EncryptedCookie
        );
        assert_eq!(
            parse("postgres://u@h/db").unwrap(),
            StoreUrl::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            parse("redis+cluster://a:1,b:2").unwrap(),
            StoreUrl::RedisCluster(vec!["a:1".into(), "b:2".into()])
        );
        assert!(parse("redis+cluster://").is_err());
        assert_eq!(
            parse("memcached://a:1,b:2").unwrap(),
            StoreUrl::Memcached("memcached://a:1,b:2".into())
        );
        assert!(
            !parse("memcached://a:1")
                .unwrap()
                .needs_secret(Layout::Django)
        );
        assert_eq!(
            parse("mariadb://root@h/db").unwrap(),
            StoreUrl::Mysql("mysql://root@h/db".into())
        );
        assert_eq!(
            parse("cached+sqlite://s.db").unwrap(),
            StoreUrl::Cached(Box::new(StoreUrl::Sqlite("s.db".into())))
        );
        for bad in [
            "",
            "sessions.sqlite3",
            "sqlite://",
            "memory://x",
            "ftp://x",
            "file://relative",
            "cookie://x",
            "memcached://",
            "cached+cookie://",
            "encrypted-cookie://x",
            "cached+encrypted-cookie://",
            "cached+cached+memory://",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("store") || err.contains("cache"),
                "{bad}: {err}"
            );
        }
        assert!(parse("cookie://").unwrap().needs_secret(Layout::Native));
        assert!(parse("sqlite://x").unwrap().needs_secret(Layout::Django));
        assert!(!parse("sqlite://x").unwrap().needs_secret(Layout::Native));
        assert!(
            !parse("encrypted-cookie://")
                .unwrap()
                .needs_secret(Layout::Django)
        );
    }
}
