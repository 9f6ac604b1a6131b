//! Django's `cached_db` engine: Django's `django_session` table in a temp SQLite file
//! (made by Django's `migrate`), Django's cache of it in Redis under a `KEY_PREFIX` of the
//! test's own; on the Rust side [`DjangoCachedDbStore`] over [`DjangoSqliteStore`]. The
//! driver's `teardown` deletes the prefix's keys when the test ends.
//!
//! Besides the shared scenarios: DJANGO.md hazard 3 — Django reads its cache before the
//! table, so a Rust write or logout that touched only the table would go unseen.

use std::sync::Arc;

use sessionkit_core::value::Map;
use sessionkit_core::{Engine, Lookup, SaveOutcome, Session, SessionKey, SessionStore, Value};
use sessionkit_django::Secrets;
use sessionkit_django::pickle::redis_value_decode;
use sessionkit_redis::DjangoCachedDbStore;
use sessionkit_sql::django::DjangoSqliteStore;
use tempfile::TempDir;
use time::OffsetDateTime;

use crate::db::{Teardown, namespace};
use crate::django::{Django, SECRET, text};
use crate::scenarios::{Pair, config};

fn redis_url() -> String {
    sessionkit_testkit::service_url("SESSIONKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// Dropped in this order: the Redis keys (driver `teardown`), then the database file.
struct Guards {
    _teardown: Teardown,
    _dir: TempDir,
}

struct Fixture {
    pair: Pair,
    /// The table alone, bypassing Django's cache (for the control of hazard 3).
    table: DjangoSqliteStore,
    store: DjangoCachedDbStore<DjangoSqliteStore>,
}

async fn fixture() -> Option<Fixture> {
    let django = Django::new("cached_db")?;
    let url = redis_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db.sqlite3");
    let prefix = namespace();
    let django = django
        .with("SK_DB", "sqlite")
        .with("SK_SQLITE_PATH", path.to_str().expect("UTF-8 temp path"))
        .with("SK_REDIS_URL", &url)
        .with("SK_CACHE_KEY_PREFIX", &prefix);
    django.call(&["migrate"]);
    // The table is Django's: the store finds it, and creates nothing.
    let table = DjangoSqliteStore::open(&path, &Secrets::new(SECRET))
        .await
        .expect("open Django's database");
    let guards = Guards {
        _teardown: Teardown(django.clone()),
        _dir: dir,
    };
    let store = sessionkit_testkit::require_store(
        "Redis",
        DjangoCachedDbStore::connect(table.with_secrets(&Secrets::new(SECRET)), &url).await,
    )?
    .with_key_prefix(&prefix);
    let (shared, db) = (store.clone(), table.with_secrets(&Secrets::new(SECRET)));
    let make = Arc::new(move |secrets: &Secrets| {
        let _ = &guards;
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

/// The shared `removed_secrets_read_nothing`, as Django's `cached_db` has it: the cache is
/// not signed, so a session Django wrote under a secret since removed is still read from
/// the cache — by Django and by Rust alike; only the row carries the signature, and once
/// the entry is gone neither side reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removed_secrets_read_only_the_unsigned_cache() {
    let Some(f) = fixture().await else { return };
    let django = &f.pair.django;
    let old = django.clone().with("SK_SECRET_KEY", "the-old-secret");
    let key = text(&old.call(&["create", "--data", r#"{"n": 9}"#]), "key");
    let n = |m: Option<Map>| m.and_then(|m| m.get("n").cloned());
    assert_eq!(n(django_read(django, &key)), Some(Value::Int(9)));
    let engine = f.pair.engine();
    assert_eq!(
        n(f.pair.rust_read(&engine, &key).await),
        Some(Value::Int(9))
    );
    // A touch drops the entry (Django refills it from the row on its next read).
    let session_key = SessionKey::parse(&key).unwrap();
    let now = OffsetDateTime::now_utc();
    assert!(
        f.store
            .touch(&session_key, now + time::Duration::hours(1), now)
            .await
            .unwrap()
    );
    assert_eq!(f.pair.rust_read(&engine, &key).await, None);
}

/// A Rust request on `key`; `f` runs on the loaded session.
pub(crate) async fn rust(engine: &Engine, key: &str, f: impl FnOnce(&Session)) {
    let cookie = format!("sessionid={key}");
    let req = engine.begin(Some(&cookie));
    let session = req.load().await.expect("load");
    f(&session);
    let out = req.finish(200).await;
    assert!(out.failure.is_none(), "{:?}", out.failure);
}

/// Django's `read`: the data, or `None` for no session.
pub(crate) fn django_read(django: &Django, key: &str) -> Option<Map> {
    let r = django.call(&["read", "--key", key]);
    match (r.get("exists"), r.get("data")) {
        (Some(Value::Bool(true)), Some(Value::Map(m))) => Some(m.clone()),
        _ => None,
    }
}

/// The driver's `raw` for `key`: Django's cache entry (the dict, the TTL) and whether the
/// row exists.
fn django_raw(django: &Django, key: &str) -> (Option<Map>, i64, bool) {
    let raw = django.call(&["raw", "--key", key]);
    let Some(Value::Map(cache)) = raw.get("cache") else {
        panic!("{raw:?}")
    };
    let value = match cache.get("value_hex") {
        Some(Value::String(h)) => {
            let bytes: Vec<u8> = (0..h.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
                .collect();
            Some(
                redis_value_decode(&bytes)
                    .expect("Django's pickle")
                    .to_map(),
            )
        }
        _ => None,
    };
    let Some(Value::Int(ttl)) = cache.get("ttl") else {
        panic!("{cache:?}")
    };
    let row = matches!(raw.get("db"), Some(Value::Map(_)));
    (value, *ttl, row)
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
    let (cached, _, row) = django_raw(django, &key);
    assert!(row);
    assert_eq!(cached.unwrap().get("count"), Some(&Value::Int(1)));

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
    let (cached, ttl, _) = django_raw(django, &key);
    assert_eq!(cached.unwrap().get("count"), Some(&Value::Int(101)));
    assert!((1_209_590..=1_209_600).contains(&ttl), "{ttl}");

    // A Rust logout: Django sees no session, in the cache or the table.
    rust(&engine, &key, Session::flush).await;
    assert_eq!(django_read(django, &key), None);
    let (cached, ttl, row) = django_raw(django, &key);
    assert_eq!((cached, ttl, row), (None, -2, false));
}

/// Django's `test_exists_searches_cache_first`, on the Rust side: a session Django wrote
/// is read from Django's cache — with its row gone behind both sides' backs, the Rust
/// side still serves it, as Django does. A write on it finds the row gone: nothing is
/// written back, and neither side sees the session afterwards.
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
    let (cached, _, row) = django_raw(django, &key);
    assert!(!row && cached.is_some(), "only the cache entry is left");

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
    let (cached, ttl, row) = django_raw(django, &key);
    assert_eq!((cached, ttl, row), (None, -2, false));
}

/// "Log out everywhere" on the Rust side: Django's cached copies of the user's sessions go
/// too, so Django sees the user logged out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_user_in_rust_logs_them_out_in_django() {
    let Some(f) = fixture().await else { return };
    let django = &f.pair.django;
    let user = format!("user{}", SessionKey::generate().as_str());
    let a = django.call(&["login", "--new", "--user", &user]);
    let b = django.call(&["login", "--new", "--user", &user]);
    let user_id = text(&a, "user_id");
    let (ka, kb) = (text(&a, "key"), text(&b, "key"));
    for k in [&ka, &kb] {
        let who = django.call(&["whoami", "--key", k]);
        assert_eq!(who.get("user"), Some(&Value::from(user.as_str())));
        assert!(
            django_raw(django, k).0.is_some(),
            "Django cached the session"
        );
    }
    let index = f.store.user_index().expect("the table's index");
    let revoked = index.revoke_user_boxed(&user_id, None).await.unwrap();
    assert_eq!(revoked, 2);
    for k in [&ka, &kb] {
        let (cached, ttl, row) = django_raw(django, k);
        assert_eq!((cached, ttl, row), (None, -2, false));
        let who = django.call(&["whoami", "--key", k]);
        assert_eq!(who.get("user"), Some(&Value::Null));
    }
}
