//! Django's `cached_db` engine with its cache on memcached: Django's `django_session`
//! table in a temp SQLite file (made by Django's `migrate`), Django's cache of it on
//! `PyMemcacheCache` over the two test servers, under a `KEY_PREFIX` of the test's own; on
//! the Rust side [`DjangoMemcachedCachedDbStore`] over [`DjangoSqliteStore`]. Memcached
//! cannot enumerate keys: a test's entries end by their TTL.
//!
//! Besides the shared scenarios: DJANGO.md hazard 3 (Django reads its cache before the
//! table) and "log out everywhere", which on memcached deletes the entry of each session
//! the table lists for the user.

use std::sync::Arc;

use sessionkit_core::value::Map;
use sessionkit_core::{Engine, Lookup, SaveOutcome, Session, SessionKey, SessionStore, Value};
use sessionkit_django::Secrets;
use sessionkit_django::pickle::pymemcache_decode;
use sessionkit_memcached::{DjangoMemcachedCachedDbStore, DjangoMemcachedStore};
use sessionkit_sql::django::DjangoSqliteStore;
use tempfile::TempDir;
use time::OffsetDateTime;

use crate::cache_memcached::servers;
use crate::cached_db::{django_read, rust};
use crate::db::namespace;
use crate::django::{Django, SECRET, text};
use crate::scenarios::{Pair, config};

struct Fixture {
    pair: Pair,
    /// The table alone, bypassing Django's cache (for the control of hazard 3).
    table: DjangoSqliteStore,
    store: DjangoMemcachedCachedDbStore<DjangoSqliteStore>,
    prefix: String,
}

async fn fixture() -> Option<Fixture> {
    let django = Django::new("cached_db")?;
    let servers = servers();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db.sqlite3");
    let prefix = namespace();
    let django = django
        .with("SK_DB", "sqlite")
        .with("SK_SQLITE_PATH", path.to_str().expect("UTF-8 temp path"))
        .with("SK_MEMCACHED_LOCATION", &servers.join(","))
        .with("SK_CACHE_KEY_PREFIX", &prefix);
    django.call(&["migrate"]);
    // The table is Django's: the store finds it, and creates nothing.
    let table = DjangoSqliteStore::open(&path, &Secrets::new(SECRET))
        .await
        .expect("open Django's database");
    let store = sessionkit_testkit::require_store(
        "memcached",
        DjangoMemcachedStore::builder(&format!("memcached://{}", servers.join(",")))
            .with_key_prefix(&prefix)
            .connect_cached_db(table.with_secrets(&Secrets::new(SECRET)))
            .await,
    )?;
    let (shared, db) = (store.clone(), table.with_secrets(&Secrets::new(SECRET)));
    let dir: Arc<TempDir> = Arc::new(dir);
    let make = Arc::new(move |secrets: &Secrets| {
        let _ = &dir;
        Engine::new(shared.with_db(db.with_secrets(secrets)), config())
    });
    Some(Fixture {
        pair: Pair {
            django,
            make,
            client_side: false,
        },
        table,
        store,
        prefix,
    })
}

async fn pair() -> Option<Pair> {
    fixture().await.map(|f| f.pair)
}

crate::scenarios!(@each
    django_writes_rust_updates,
    rust_writes_django_updates,
    expiry_both_ways,
    login_and_password_change,
    cycle_both_ways,
    fallback_keys
);

/// Django's cache entry as memcached holds it: the dict, the TTL (`-2`: no entry), the
/// server, the memcached key and the client flags; and whether the row exists.
struct Raw {
    value: Option<Map>,
    ttl: i64,
    server: String,
    key: String,
    flags: Option<i64>,
    row: bool,
}

fn django_raw(django: &Django, key: &str) -> Raw {
    let raw = django.call(&["raw", "--key", key]);
    let Some(Value::Map(cache)) = raw.get("cache") else {
        panic!("{raw:?}")
    };
    let flags = match cache.get("flags") {
        Some(Value::Int(f)) => Some(*f),
        _ => None,
    };
    let value = match cache.get("value_hex") {
        Some(Value::String(h)) => {
            let bytes: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect();
            let flags = u32::try_from(flags.expect("flags")).unwrap();
            Some(
                pymemcache_decode(&bytes, flags)
                    .expect("Django's pickle")
                    .to_map(),
            )
        }
        _ => None,
    };
    let Some(Value::Int(ttl)) = cache.get("ttl") else {
        panic!("{cache:?}")
    };
    Raw {
        value,
        ttl: *ttl,
        server: text(cache, "server"),
        key: text(cache, "key"),
        flags,
        row: matches!(raw.get("db"), Some(Value::Map(_))),
    }
}

/// What Rust writes is where Django looks: Django's key for `cached_db`, on the server
/// pymemcache's `HashClient` picks, with pymemcache's pickle flag and a TTL of the expiry
/// age (less memcached's clock tick); and Django reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_writes_djangos_key_server_flags_and_ttl() {
    let Some(f) = fixture().await else { return };
    let engine = (f.pair.make)(&Secrets::new(SECRET));
    let mut servers_seen = std::collections::BTreeSet::new();
    for n in 0..12 {
        let key = crate::cache::rust(&engine, None, |s| s.insert("n", n).unwrap())
            .await
            .expect("a new session");
        let session_key = SessionKey::parse(&key).unwrap();
        let raw = django_raw(&f.pair.django, &key);
        assert_eq!(
            raw.key,
            format!("{}:1:django.contrib.sessions.cached_db{key}", f.prefix)
        );
        assert_eq!(raw.key, f.store.item_key(&session_key));
        assert_eq!(raw.server, f.store.server_of(&session_key));
        servers_seen.insert(raw.server);
        assert_eq!(raw.flags, Some(1), "pymemcache's FLAG_PICKLE");
        assert!((1_209_590..=1_209_599).contains(&raw.ttl), "{}", raw.ttl);
        assert!(raw.row);
        assert_eq!(raw.value.unwrap().get("n"), Some(&Value::Int(n)));
        let seen = django_read(&f.pair.django, &key).expect("Django reads it");
        assert_eq!(seen.get("n"), Some(&Value::Int(n)));
    }
    assert_eq!(servers_seen.len(), 2, "keys spread over both servers");
}

/// Hazard 3: Django reads its cache first. Writing the table alone leaves Django on the
/// old data (the control); a write through the store is seen at once, and so is a logout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_reads_its_cache_first_and_sees_every_rust_write() {
    let Some(f) = fixture().await else { return };
    let django = &f.pair.django;
    let engine = (f.pair.make)(&Secrets::new(SECRET));
    let key = text(
        &django.call(&["create", "--data", r#"{"count": 1}"#]),
        "key",
    );
    let raw = django_raw(django, &key);
    assert!(raw.row);
    assert_eq!(raw.value.unwrap().get("count"), Some(&Value::Int(1)));

    // The control: the table alone changes, Django still serves its cached copy.
    let session_key = SessionKey::parse(&key).unwrap();
    let now = OffsetDateTime::now_utc();
    let Lookup::Found { mut record, token } = f.table.load(&session_key, now).await.unwrap() else {
        panic!("Django's row");
    };
    record.data.insert("count", Value::Int(100));
    assert!(matches!(
        f.table
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
    let raw = django_raw(django, &key);
    assert_eq!(raw.value.unwrap().get("count"), Some(&Value::Int(101)));
    assert!((1_209_590..=1_209_599).contains(&raw.ttl), "{}", raw.ttl);

    // A Rust logout: Django sees no session, in the cache or the table.
    rust(&engine, &key, Session::flush).await;
    assert_eq!(django_read(django, &key), None);
    let raw = django_raw(django, &key);
    assert_eq!((raw.value, raw.ttl, raw.row), (None, -2, false));
}

/// Django's `test_exists_searches_cache_first`, on the Rust side: a session Django wrote
/// is read from Django's cache — with its row gone behind both sides' backs, the Rust side
/// still serves it, as Django does. A write on it finds the row gone: nothing is written
/// back, and neither side sees the session afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_reads_djangos_cache_first() {
    let Some(f) = fixture().await else { return };
    let django = &f.pair.django;
    let engine = (f.pair.make)(&Secrets::new(SECRET));
    let key = text(
        &django.call(&["create", "--data", r#"{"count": 7}"#]),
        "key",
    );
    let session_key = SessionKey::parse(&key).unwrap();
    f.table.delete(&session_key).await.unwrap();
    let raw = django_raw(django, &key);
    assert!(
        !raw.row && raw.value.is_some(),
        "only the cache entry is left"
    );

    let mut seen = None;
    rust(&engine, &key, |s| seen = s.get::<i64>("count").unwrap()).await;
    assert_eq!(seen, Some(7), "served from Django's cache");

    // A write: the row is gone, so the save writes nothing and drops the entry.
    let req = engine.begin(Some(&format!("sessionid={key}")));
    let session = req.load().await.expect("load");
    session.insert("count", 8).unwrap();
    let _ = req.finish(200).await;
    assert_eq!(django_read(django, &key), None);
    let raw = django_raw(django, &key);
    assert_eq!((raw.value, raw.ttl, raw.row), (None, -2, false));
}

/// "Log out everywhere" on the Rust side: memcached cannot be scanned, so the store deletes
/// the entry of each session the table lists for the user — Django sees the user logged
/// out everywhere but in the session kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_user_in_rust_logs_them_out_in_django() {
    let Some(f) = fixture().await else { return };
    let django = &f.pair.django;
    let user = format!("user{}", SessionKey::generate().as_str());
    let a = django.call(&["login", "--new", "--user", &user]);
    let b = django.call(&["login", "--new", "--user", &user]);
    let c = django.call(&["login", "--new", "--user", &user]);
    let user_id = text(&a, "user_id");
    let (ka, kb, kc) = (text(&a, "key"), text(&b, "key"), text(&c, "key"));
    for k in [&ka, &kb, &kc] {
        let who = django.call(&["whoami", "--key", k]);
        assert_eq!(who.get("user"), Some(&Value::from(user.as_str())));
        assert!(
            django_raw(django, k).value.is_some(),
            "Django cached the session"
        );
    }
    let index = f.store.user_index().expect("the table's index");
    let keep = SessionKey::parse(&kc).unwrap();
    let revoked = index
        .revoke_user_boxed(&user_id, Some(&keep))
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    for k in [&ka, &kb] {
        let raw = django_raw(django, k);
        assert_eq!((raw.value, raw.ttl, raw.row), (None, -2, false));
        let who = django.call(&["whoami", "--key", k]);
        assert_eq!(who.get("user"), Some(&Value::Null));
    }
    let who = django.call(&["whoami", "--key", &kc]);
    assert_eq!(who.get("user"), Some(&Value::from(user.as_str())));
    assert!(django_raw(django, &kc).value.is_some(), "the kept session");
}
