//! What the tests of Django's layouts share: factories (each store in a namespace of its
//! own: a unique `KEY_PREFIX`, a temp SQLite file), Django's vectors, raw Redis access.

use std::fs::File;

use redis::aio::MultiplexedConnection;
use sessionkit_core::value::Map;
use sessionkit_core::{SessionKey, Value, json};
use sessionkit_redis::{DjangoCacheBuilder, DjangoCacheStore, DjangoCachedDbStore};
use sessionkit_sql::django::{DjangoSqliteStore, Secrets};
use sessionkit_testkit::{require, require_store};
use tempfile::TempDir;

use crate::common::{Guarded, cluster_lock, cluster_seeds, redis_url};

/// Django's vectors (made by running Django; see `shared/django/DJANGO.md` §4).
const VECTORS: &str = include_str!("../../../sessionkit-django/tests/data/django-vectors.json");

/// The secret of the SQLite side.
pub(crate) const SECRET: &str = "sessionkit-redis-django-tests";

/// Session data from JSON text.
pub(crate) fn json_data(text: &str) -> sessionkit_core::Data {
    sessionkit_core::Data::from_json(text.into()).unwrap()
}

/// The session the `*redis_raw_after_save` and `*redis_ttl_with_set_expiry` vectors
/// save, with a relative expiry of `age` seconds when given, and the seconds it lives
/// (Django's default two weeks without one).
pub(crate) fn vector_session(age: Option<i64>) -> (sessionkit_core::Data, i64) {
    let mut data = json_data(r#"{"count": 4, "favorite_color": "blue"}"#);
    if let Some(age) = age {
        data.insert(sessionkit_core::EXPIRY_KEY, Value::Int(age));
    }
    (data, age.unwrap_or(1_209_600))
}

/// A fresh cache `KEY_PREFIX`, so that parallel tests never see each other's keys.
pub(crate) fn unique_key_prefix() -> String {
    format!("sktest-{}", SessionKey::generate().as_str())
}

/// Django's cache engine on the standalone server, or `None` (SKIP).
pub(crate) async fn cache_store() -> Option<DjangoCacheStore> {
    cache_store_with(|b| b).await
}

/// [`cache_store`] with more options.
pub(crate) async fn cache_store_with(
    options: impl FnOnce(DjangoCacheBuilder) -> DjangoCacheBuilder,
) -> Option<DjangoCacheStore> {
    let builder = DjangoCacheStore::builder(&redis_url()).with_key_prefix(unique_key_prefix());
    require_store("Redis", options(builder).connect().await)
}

/// Django's cache engine on the cluster, holding the shared cluster lock, or `None`.
pub(crate) async fn cache_cluster() -> Option<Guarded<DjangoCacheStore, File>> {
    let seeds = require("Redis Cluster", cluster_seeds())?;
    let lock = cluster_lock(false).await;
    let refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let store = require_store(
        "Redis Cluster",
        DjangoCacheStore::cluster_builder(&refs)
            .with_key_prefix(unique_key_prefix())
            .connect()
            .await,
    )?;
    Some(Guarded::new(store, lock))
}

/// Django's `django_session` table in a fresh SQLite file under `dir`.
pub(crate) async fn sqlite(dir: &TempDir) -> DjangoSqliteStore {
    DjangoSqliteStore::builder(dir.path().join("db.sqlite3"), &Secrets::new(SECRET))
        .create_table_if_missing()
        .open()
        .await
        .expect("SQLite")
}

/// Django's `cached_db` engine: SQLite in a temp dir, the cache on the standalone server.
pub(crate) async fn cached_db() -> Option<Guarded<DjangoCachedDbStore<DjangoSqliteStore>, TempDir>>
{
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(&dir).await;
    let store = require_store(
        "Redis",
        DjangoCachedDbStore::connect(db, &redis_url()).await,
    )?;
    Some(Guarded::new(
        store.with_key_prefix(unique_key_prefix()),
        dir,
    ))
}

/// Django's `cached_db` engine with its cache on the cluster.
pub(crate) async fn cached_db_cluster()
-> Option<Guarded<DjangoCachedDbStore<DjangoSqliteStore>, (File, TempDir)>> {
    let seeds = require("Redis Cluster", cluster_seeds())?;
    let lock = cluster_lock(false).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(&dir).await;
    let refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
    let store = require_store(
        "Redis Cluster",
        DjangoCachedDbStore::connect_cluster(db, &refs).await,
    )?;
    Some(Guarded::new(
        store.with_key_prefix(unique_key_prefix()),
        (lock, dir),
    ))
}

/// The vector records of one function, in file order.
pub(crate) fn records(function: &str) -> Vec<Map> {
    let Ok(Value::Map(top)) = json::parse(VECTORS) else {
        panic!("vectors: not an object");
    };
    let Some(Value::List(records)) = top.get("records") else {
        panic!("vectors: no records");
    };
    let found: Vec<Map> = records
        .iter()
        .filter_map(|r| match r {
            Value::Map(m) if m.get("backend_or_function") == Some(&Value::from(function)) => {
                Some(m.clone())
            }
            _ => None,
        })
        .collect();
    assert!(!found.is_empty(), "no vectors for {function}");
    found
}

/// A field of a map.
pub(crate) fn field<'a>(m: &'a Map, name: &str) -> &'a Value {
    m.get(name)
        .unwrap_or_else(|| panic!("no field {name} in {m:?}"))
}

/// A map field.
pub(crate) fn map<'a>(m: &'a Map, name: &str) -> &'a Map {
    match field(m, name) {
        Value::Map(inner) => inner,
        other => panic!("{name}: not a map: {other:?}"),
    }
}

/// A string field.
pub(crate) fn text<'a>(m: &'a Map, name: &str) -> &'a str {
    match field(m, name) {
        Value::String(s) => s,
        other => panic!("{name}: not a string: {other:?}"),
    }
}

/// An integer field.
pub(crate) fn int(m: &Map, name: &str) -> i64 {
    match field(m, name) {
        Value::Int(i) => *i,
        other => panic!("{name}: not an integer: {other:?}"),
    }
}

pub(crate) fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `GET` of a raw key.
pub(crate) async fn raw_get(conn: &mut MultiplexedConnection, name: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(name)
        .query_async(conn)
        .await
        .expect("GET")
}

/// `TTL` of a raw key (`-2`: absent, `-1`: none).
pub(crate) async fn raw_ttl(conn: &mut MultiplexedConnection, name: &str) -> i64 {
    redis::cmd("TTL")
        .arg(name)
        .query_async(conn)
        .await
        .expect("TTL")
}

/// `SET name value [PX ms]`, as another writer (Django) would.
pub(crate) async fn raw_set(
    conn: &mut MultiplexedConnection,
    name: &str,
    value: &[u8],
    px: Option<i64>,
) {
    let mut cmd = redis::cmd("SET");
    cmd.arg(name).arg(value);
    if let Some(ms) = px {
        cmd.arg("PX").arg(ms);
    }
    cmd.query_async::<()>(conn).await.expect("SET");
}
