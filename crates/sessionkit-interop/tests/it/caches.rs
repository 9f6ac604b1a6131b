//! What the four cache-engine modules share (`cache`, `cache_memcached`, `cached_db`,
//! `cached_db_memcached`): Django's cache on Redis or on the two memcached servers under a
//! `KEY_PREFIX` of the test's own, Django's tables in a temp SQLite file, the driver's `raw`
//! view of a cache entry, and the `cached_db` tests that hold on either server.
//!
//! Why a trait per engine ([`CacheStore`], [`CachedDbStore`]) and the macros
//! ([`cache_tests!`], [`cached_db_tests!`]): the Rust stores differ in type and in how they
//! connect, the tests do not. The trait connects a store and names its server ([`Cache`]),
//! the fixtures and the shared tests are generic over it, and the macro writes a module's
//! `#[tokio::test]`s over its store, named as before. What only one server has
//! (memcached's two-server hashing and client flags, the unsigned Redis cache read after a
//! secret is removed) stays in that server's module.

use sessionkit_core::value::Map;
use sessionkit_core::{
    Engine, Lookup, SaveOutcome, Session, SessionKey, SessionStore, StoreError, Value,
};
use sessionkit_django::Secrets;
use sessionkit_django::pickle::{pymemcache_decode, redis_value_decode};
use sessionkit_memcached::{DjangoMemcachedCachedDbStore, DjangoMemcachedStore};
use sessionkit_redis::{DjangoCacheStore, DjangoCachedDbStore};
use sessionkit_sql::django::DjangoSqliteStore;
use tempfile::TempDir;
use time::OffsetDateTime;

use crate::db::{Teardown, namespace};
use crate::django::{Django, SECRET, text};
use crate::scenarios::{Pair, config, request};

/// The server Django's cache is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cache {
    /// Django's `RedisCache` (`SESSIONKIT_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`).
    /// The driver's `teardown` deletes the prefix's keys when the test ends; keys a killed
    /// run leaves behind expire by their TTL.
    Redis,
    /// Django's `PyMemcacheCache` over the two test servers (`SESSIONKIT_TEST_MEMCACHED_URL`
    /// and `SESSIONKIT_TEST_MEMCACHED_URL_2`), so that both sides must hash every key to the
    /// same server. Memcached cannot enumerate keys: a test's entries end by their TTL.
    Memcached,
}

impl Cache {
    /// The service's name, for `require_store`.
    fn service(self) -> &'static str {
        match self {
            Cache::Redis => "Redis",
            Cache::Memcached => "memcached",
        }
    }

    /// The URL the Rust stores connect to.
    fn url(self) -> String {
        match self {
            Cache::Redis => sessionkit_testkit::service_url(
                "SESSIONKIT_TEST_REDIS_URL",
                "redis://127.0.0.1:6379",
            ),
            Cache::Memcached => format!("memcached://{}", servers().join(",")),
        }
    }

    /// `django` with its cache on this server.
    fn configure(self, django: Django) -> Django {
        match self {
            Cache::Redis => django.with("SK_REDIS_URL", &self.url()),
            Cache::Memcached => django.with("SK_MEMCACHED_LOCATION", &servers().join(",")),
        }
    }

    /// The TTL of a `cached_db` entry just written, at the most: two weeks, less a second
    /// on memcached (its clock ticks once a second).
    fn full_ttl(self) -> i64 {
        match self {
            Cache::Redis => 1_209_600,
            Cache::Memcached => 1_209_599,
        }
    }
}

/// `host:port` of each memcached test server.
fn servers() -> Vec<String> {
    [
        (
            "SESSIONKIT_TEST_MEMCACHED_URL",
            "memcached://127.0.0.1:11211",
        ),
        (
            "SESSIONKIT_TEST_MEMCACHED_URL_2",
            "memcached://127.0.0.1:11212",
        ),
    ]
    .iter()
    .map(|(var, default)| {
        sessionkit_testkit::service_url(var, default)
            .trim_start_matches("memcached://")
            .trim_end_matches('/')
            .to_owned()
    })
    .collect()
}

/// What must live as long as the pair, dropped in this order: the Redis keys (driver
/// `teardown`), then the directory of the database.
struct Guards {
    _teardown: Option<Teardown>,
    _dir: TempDir,
}

/// Django (`engine`: `cache` or `cached_db`) with its cache on `cache` under a prefix of
/// the test's own (`SK_CACHE_KEY_PREFIX`), and its tables in a temp SQLite file.
struct CacheSite {
    django: Django,
    prefix: String,
    db: std::path::PathBuf,
    guards: Guards,
}

impl CacheSite {
    fn new(engine: &str, cache: Cache) -> Option<CacheSite> {
        let prefix = namespace();
        let site = crate::support::sqlite_django(engine, |django| {
            cache.configure(django).with("SK_CACHE_KEY_PREFIX", &prefix)
        })?;
        let teardown = (cache == Cache::Redis).then(|| Teardown(site.django.clone()));
        Some(CacheSite {
            django: site.django,
            prefix,
            db: site.db,
            guards: Guards {
                _teardown: teardown,
                _dir: site.dir,
            },
        })
    }
}

/// Django and the store on one cache namespace.
pub(crate) struct Fixture<S> {
    pub(crate) pair: Pair,
    pub(crate) store: S,
    pub(crate) prefix: String,
    /// The table alone, bypassing Django's cache (the `cached_db` engine; for the control
    /// of hazard 3).
    pub(crate) table: Option<DjangoSqliteStore>,
}

/// A Rust store of Django's `cache` engine.
pub(crate) trait CacheStore: SessionStore + Clone {
    /// Where Django's cache is.
    const CACHE: Cache;

    /// The store on [`Self::CACHE`] under `prefix`.
    async fn connect(prefix: &str) -> Result<Self, StoreError>;
}

/// The [`CacheStore`] impl of a store whose builder (`builder(url)`, `with_key_prefix`,
/// `connect`) reaches Django's cache on `$cache`: the Redis and memcached stores' builders
/// have the same shape but no common trait.
macro_rules! cache_store {
    ($($store:ident on $cache:expr),*) => {$(
        impl CacheStore for $store {
            const CACHE: Cache = $cache;

            async fn connect(prefix: &str) -> Result<Self, StoreError> {
                $store::builder(&Self::CACHE.url())
                    .with_key_prefix(prefix)
                    .connect()
                    .await
            }
        }
    )*};
}

cache_store!(DjangoCacheStore on Cache::Redis, DjangoMemcachedStore on Cache::Memcached);

/// Django's `cache` engine and `S` on one namespace (Django's auth tables in the SQLite
/// file).
pub(crate) async fn cache_fixture<S: CacheStore>() -> Option<Fixture<S>> {
    let site = CacheSite::new("cache", S::CACHE)?;
    let store =
        sessionkit_testkit::require_store(S::CACHE.service(), S::connect(&site.prefix).await)?;
    let shared = store.clone();
    // The cache engine signs nothing: the secrets make no difference.
    let pair = Pair::new(site.django, site.guards, move |_| {
        Engine::new(shared.clone(), config())
    });
    Some(Fixture {
        pair,
        store,
        prefix: site.prefix,
        table: None,
    })
}

/// A Rust store of Django's `cached_db` engine over Django's table on SQLite.
pub(crate) trait CachedDbStore: SessionStore + Clone {
    /// Where Django's cache is.
    const CACHE: Cache;

    /// The store over `table`, its cache on [`Self::CACHE`] under `prefix`.
    async fn connect(table: DjangoSqliteStore, prefix: &str) -> Result<Self, StoreError>;

    /// The same cache over `table` (other secrets).
    fn with_table(&self, table: DjangoSqliteStore) -> Self;
}

impl CachedDbStore for DjangoCachedDbStore<DjangoSqliteStore> {
    const CACHE: Cache = Cache::Redis;

    async fn connect(table: DjangoSqliteStore, prefix: &str) -> Result<Self, StoreError> {
        Ok(DjangoCachedDbStore::connect(table, &Self::CACHE.url())
            .await?
            .with_key_prefix(prefix))
    }

    fn with_table(&self, table: DjangoSqliteStore) -> Self {
        self.with_db(table)
    }
}

impl CachedDbStore for DjangoMemcachedCachedDbStore<DjangoSqliteStore> {
    const CACHE: Cache = Cache::Memcached;

    async fn connect(table: DjangoSqliteStore, prefix: &str) -> Result<Self, StoreError> {
        DjangoMemcachedStore::builder(&Self::CACHE.url())
            .with_key_prefix(prefix)
            .connect_cached_db(table)
            .await
    }

    fn with_table(&self, table: DjangoSqliteStore) -> Self {
        self.with_db(table)
    }
}

/// Django's `cached_db` engine: its `django_session` table in the SQLite file (made by
/// Django's `migrate`; the store finds it, and creates nothing), its cache and `S` on one
/// namespace.
pub(crate) async fn cached_db_fixture<S: CachedDbStore>() -> Option<Fixture<S>> {
    let site = CacheSite::new("cached_db", S::CACHE)?;
    let secrets = Secrets::new(SECRET);
    let table = DjangoSqliteStore::open(&site.db, &secrets)
        .await
        .expect("open Django's database");
    let store = sessionkit_testkit::require_store(
        S::CACHE.service(),
        S::connect(table.with_secrets(&secrets), &site.prefix).await,
    )?;
    let (shared, db) = (store.clone(), table.with_secrets(&secrets));
    let pair = Pair::new(site.django, site.guards, move |secrets| {
        Engine::new(shared.with_table(db.with_secrets(secrets)), config())
    });
    Some(Fixture {
        pair,
        store,
        prefix: site.prefix,
        table: Some(table),
    })
}

/// Django's cache entry for a session key, as the driver's `raw` shows it, and whether
/// the row exists.
#[derive(Debug)]
pub(crate) struct Raw {
    /// The session dict (`None`: no entry).
    pub(crate) value: Option<Map>,
    /// The entry's TTL (`-2`: no entry).
    pub(crate) ttl: i64,
    /// The cache key (`redis_key` on Redis).
    pub(crate) key: Option<String>,
    /// The memcached server holding the entry.
    pub(crate) server: Option<String>,
    /// The memcached client flags.
    pub(crate) flags: Option<i64>,
    /// Whether the row exists (the `cached_db` engine).
    pub(crate) row: bool,
}

/// The driver's `raw` for `key`, Django's cache on `cache`.
pub(crate) fn django_raw(django: &Django, key: &str, cache: Cache) -> Raw {
    let raw = django.call(&["raw", "--key", key]);
    let Some(Value::Map(entry)) = raw.get("cache") else {
        panic!("{raw:?}")
    };
    let string = |field: &str| match entry.get(field) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let flags = match entry.get("flags") {
        Some(Value::Int(f)) => Some(*f),
        _ => None,
    };
    let value = string("value_hex").map(|hex| {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let data = match cache {
            Cache::Redis => redis_value_decode(&bytes),
            Cache::Memcached => {
                pymemcache_decode(&bytes, u32::try_from(flags.expect("flags")).unwrap())
            }
        };
        data.expect("Django's pickle").to_map()
    });
    let Some(Value::Int(ttl)) = entry.get("ttl") else {
        panic!("{entry:?}")
    };
    Raw {
        value,
        ttl: *ttl,
        key: string(match cache {
            Cache::Redis => "redis_key",
            Cache::Memcached => "key",
        }),
        server: string("server"),
        flags,
        row: matches!(raw.get("db"), Some(Value::Map(_))),
    }
}

/// A Rust request on `key`; `f` runs on the loaded session.
pub(crate) async fn rust(engine: &Engine, key: &str, f: impl FnOnce(&Session)) {
    request(engine, Some(key), f).await;
}

/// Django's `read`: the data, or `None` for no session.
pub(crate) fn django_read(django: &Django, key: &str) -> Option<Map> {
    crate::scenarios::django_read(django, key, false)
}

/// The `cached_db` fixture over `S`, a Rust engine on it, and the key of a session Django
/// made with `{"count": count}`.
async fn django_session<S: CachedDbStore>(count: i64) -> Option<(Fixture<S>, Engine, String)> {
    let f = cached_db_fixture::<S>().await?;
    let engine = (f.pair.make)(&Secrets::new(SECRET));
    let data = format!(r#"{{"count": {count}}}"#);
    let key = text(&f.pair.django.call(&["create", "--data", &data]), "key");
    Some((f, engine, key))
}

/// Hazard 3: Django reads its cache first. Writing the table alone leaves Django on the
/// old data (the control); a write through the store is seen at once, and so is a logout.
pub(crate) async fn django_reads_its_cache_first_and_sees_every_rust_write<S: CachedDbStore>() {
    let Some((f, engine, key)) = django_session::<S>(1).await else {
        return;
    };
    let table = f.table.as_ref().expect("the table");
    let django = &f.pair.django;
    let raw = django_raw(django, &key, S::CACHE);
    assert!(raw.row);
    assert_eq!(raw.value.unwrap().get("count"), Some(&Value::Int(1)));

    // The control: the table alone changes, Django still serves its cached copy.
    let session_key = SessionKey::parse(&key).unwrap();
    let now = OffsetDateTime::now_utc();
    let Lookup::Found { mut record, token } = table.load(&session_key, now).await.unwrap() else {
        panic!("Django's row");
    };
    record.data.insert("count", Value::Int(100));
    assert!(matches!(
        table
            .save(&session_key, &record, &token, now)
            .await
            .unwrap(),
        SaveOutcome::Saved(_)
    ));
    let seen = django_read(django, &key).expect("a session");
    assert_eq!(
        seen.get("count"),
        Some(&Value::Int(1)),
        "Django reads its cache first: the table-only write is not seen (hazard 3)"
    );

    // Through the store: Django sees the update at once.
    rust(&engine, &key, |s| {
        s.update_with("count", |n: Option<i64>| n.unwrap_or(0) + 1)
            .unwrap();
    })
    .await;
    let seen = django_read(django, &key).expect("a session");
    assert_eq!(seen.get("count"), Some(&Value::Int(101)));
    let raw = django_raw(django, &key, S::CACHE);
    assert_eq!(raw.value.unwrap().get("count"), Some(&Value::Int(101)));
    assert!(
        (1_209_590..=S::CACHE.full_ttl()).contains(&raw.ttl),
        "{}",
        raw.ttl
    );

    // A Rust logout: Django sees no session, in the cache or the table.
    rust(&engine, &key, Session::flush).await;
    assert_eq!(django_read(django, &key), None);
    let raw = django_raw(django, &key, S::CACHE);
    assert_eq!((raw.value, raw.ttl, raw.row), (None, -2, false));
}

/// Django's `test_exists_searches_cache_first`, on the Rust side: a session Django wrote
/// is read from Django's cache — with its row gone behind both sides' backs, the Rust side
/// still serves it, as Django does. A write on it finds the row gone: nothing is written
/// back, and neither side sees the session afterwards.
pub(crate) async fn rust_reads_djangos_cache_first<S: CachedDbStore>() {
    let Some((f, engine, key)) = django_session::<S>(7).await else {
        return;
    };
    let django = &f.pair.django;
    let session_key = SessionKey::parse(&key).unwrap();
    let table = f.table.as_ref().expect("the table");
    table.delete(&session_key).await.unwrap();
    let raw = django_raw(django, &key, S::CACHE);
    assert!(
        !raw.row && raw.value.is_some(),
        "only the cache entry is left"
    );

    let mut seen = None;
    rust(&engine, &key, |s| seen = s.get::<i64>("count").unwrap()).await;
    assert_eq!(seen, Some(7), "served from Django's cache");
    assert!(matches!(
        f.store
            .load(&session_key, OffsetDateTime::now_utc())
            .await
            .unwrap(),
        Lookup::Found { .. }
    ));

    // A write: the row is gone, so the save writes nothing and drops the entry.
    let req = engine.begin(Some(&format!("sessionid={key}")));
    let session = req.load().await.expect("load");
    session.insert("count", 8).unwrap();
    let _ = req.finish(200).await;
    assert_eq!(django_read(django, &key), None);
    let raw = django_raw(django, &key, S::CACHE);
    assert_eq!((raw.value, raw.ttl, raw.row), (None, -2, false));
}

/// "Log out everywhere" on the Rust side: Django's cached copies of the user's sessions go
/// too, so Django sees the user logged out. On memcached, which cannot be scanned, the
/// store deletes the entry of each session the table lists for the user: checked with one
/// session kept, which Django still serves.
pub(crate) async fn revoking_a_user_in_rust_logs_them_out_in_django<S: CachedDbStore>() {
    let Some(f) = cached_db_fixture::<S>().await else {
        return;
    };
    let keep_one = S::CACHE == Cache::Memcached;
    let django = &f.pair.django;
    let user = format!("user{}", SessionKey::generate().as_str());
    let a = django.call(&["login", "--new", "--user", &user]);
    let b = django.call(&["login", "--new", "--user", &user]);
    let kept = keep_one.then(|| text(&django.call(&["login", "--new", "--user", &user]), "key"));
    let user_id = text(&a, "user_id");
    let (ka, kb) = (text(&a, "key"), text(&b, "key"));
    for k in [&ka, &kb].into_iter().chain(&kept) {
        let who = django.call(&["whoami", "--key", k]);
        assert_eq!(who.get("user"), Some(&Value::from(user.as_str())));
        assert!(
            django_raw(django, k, S::CACHE).value.is_some(),
            "Django cached the session"
        );
    }
    let index = f.store.user_index().expect("the table's index");
    let keep = kept.as_deref().map(|k| SessionKey::parse(k).unwrap());
    let revoked = index
        .revoke_user_boxed(&user_id, keep.as_ref())
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    for k in [&ka, &kb] {
        let raw = django_raw(django, k, S::CACHE);
        assert_eq!((raw.value, raw.ttl, raw.row), (None, -2, false));
        let who = django.call(&["whoami", "--key", k]);
        assert_eq!(who.get("user"), Some(&Value::Null));
    }
    if let Some(kc) = &kept {
        let who = django.call(&["whoami", "--key", kc]);
        assert_eq!(who.get("user"), Some(&Value::from(user.as_str())));
        assert!(
            django_raw(django, kc, S::CACHE).value.is_some(),
            "the kept session"
        );
    }
}

/// A memcached store: where it puts a session's entry.
pub(crate) trait Hashed {
    /// The memcached key of `key`'s entry.
    fn item_key(&self, key: &SessionKey) -> String;
    /// The server (`host:port`) holding it.
    fn server_of(&self, key: &SessionKey) -> &str;
}

impl Hashed for DjangoMemcachedStore {
    fn item_key(&self, key: &SessionKey) -> String {
        DjangoMemcachedStore::item_key(self, key)
    }

    fn server_of(&self, key: &SessionKey) -> &str {
        DjangoMemcachedStore::server_of(self, key)
    }
}

impl<D: SessionStore> Hashed for DjangoMemcachedCachedDbStore<D> {
    fn item_key(&self, key: &SessionKey) -> String {
        DjangoMemcachedCachedDbStore::item_key(self, key)
    }

    fn server_of(&self, key: &SessionKey) -> &str {
        DjangoMemcachedCachedDbStore::server_of(self, key)
    }
}

/// What Rust writes on memcached is where Django looks: Django's key for its engine
/// (`cache` or, with a table, `cached_db`), on the server pymemcache's `HashClient` picks
/// (twelve sessions: both servers), with pymemcache's pickle flag and a TTL of the expiry
/// age (less memcached's clock tick for `cached_db`); Django reads it, and for `cached_db`
/// the row is written too.
pub(crate) async fn rust_writes_on_the_hashed_server<S: Hashed>(f: &Fixture<S>) {
    let (engine_name, max_ttl) = match f.table {
        Some(_) => ("cached_db", Cache::Memcached.full_ttl()),
        None => ("cache", Cache::Redis.full_ttl()),
    };
    let engine = (f.pair.make)(&Secrets::new(SECRET));
    let mut servers_seen = std::collections::BTreeSet::new();
    for n in 0..12 {
        let key = crate::cache::rust(&engine, None, |s| s.insert("n", n).unwrap())
            .await
            .expect("a new session");
        let session_key = SessionKey::parse(&key).unwrap();
        let raw = django_raw(&f.pair.django, &key, Cache::Memcached);
        assert_eq!(
            raw.key,
            Some(format!(
                "{}:1:django.contrib.sessions.{engine_name}{key}",
                f.prefix
            ))
        );
        assert_eq!(raw.key, Some(f.store.item_key(&session_key)));
        assert_eq!(raw.server.as_deref(), Some(f.store.server_of(&session_key)));
        servers_seen.insert(raw.server);
        assert_eq!(raw.flags, Some(1), "pymemcache's FLAG_PICKLE");
        assert!((1_209_590..=max_ttl).contains(&raw.ttl), "{}", raw.ttl);
        assert_eq!(raw.row, f.table.is_some());
        assert_eq!(raw.value.unwrap().get("n"), Some(&Value::Int(n)));
        let seen = django_read(&f.pair.django, &key).expect("Django reads it");
        assert_eq!(seen.get("n"), Some(&Value::Int(n)));
    }
    assert_eq!(servers_seen.len(), 2, "keys spread over both servers");
}

/// The `cache` engine's tests of a module over the store `$store`: its `pair()` and the
/// shared scenarios that apply (`fallback_keys` does not: the cache engine signs nothing,
/// the value is the pickled dict).
macro_rules! cache_tests {
    ($store:ty) => {
        $crate::caches::cache_tests!(@pair cache_fixture, $store;);
    };
    (@pair $fixture:ident, $store:ty; $($more:ident),*) => {
        async fn pair() -> Option<$crate::scenarios::Pair> {
            $crate::caches::$fixture::<$store>().await.map(|f| f.pair)
        }

        $crate::scenarios!(@each
            django_writes_rust_updates,
            rust_writes_django_updates,
            expiry_both_ways,
            login_and_password_change,
            cycle_both_ways
            $(, $more)*
        );
    };
}
pub(crate) use cache_tests;

/// The `cached_db` engine's tests of a module over the store `$store`: its `pair()`, the
/// shared scenarios that apply (those of [`cache_tests!`] and `fallback_keys`; the module
/// has its own `removed_secrets_read_nothing`: the cache is not signed), and the tests
/// above, one `#[tokio::test]` each.
macro_rules! cached_db_tests {
    ($store:ty) => {
        $crate::caches::cache_tests!(@pair cached_db_fixture, $store; fallback_keys);

        $crate::tokio_tests!(
            django_reads_its_cache_first_and_sees_every_rust_write =>
                $crate::caches::django_reads_its_cache_first_and_sees_every_rust_write::<$store>(),
            rust_reads_djangos_cache_first =>
                $crate::caches::rust_reads_djangos_cache_first::<$store>(),
            revoking_a_user_in_rust_logs_them_out_in_django =>
                $crate::caches::revoking_a_user_in_rust_logs_them_out_in_django::<$store>(),
        );
    };
}
pub(crate) use cached_db_tests;
