//! Redis as the shared cache in front of a durable store.

use sessionkit_core::store::CachedStore;
use sessionkit_core::{Config, Engine, MemoryStore};
use sessionkit_redis::RedisCache;
use sessionkit_testkit::Profile;

use crate::common::standalone;

async fn cached() -> Option<CachedStore<RedisCache, MemoryStore>> {
    let redis = standalone().await?;
    Some(CachedStore::new(
        RedisCache::from_store(&redis),
        MemoryStore::new(),
    ))
}

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::full(), cached());
}

/// Two nodes share the cache: a logout on one is seen by the other at once (what a
/// per-node cache cannot promise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_node_reaches_the_other() {
    let Some(redis) = standalone().await else {
        return;
    };
    let durable = MemoryStore::new();
    let a = Engine::new(
        CachedStore::new(RedisCache::from_store(&redis), durable.clone()),
        Config::default(),
    );
    let b = Engine::new(
        CachedStore::new(RedisCache::from_store(&redis), durable.clone()),
        Config::default(),
    );
    let req = a.begin(None);
    req.load().await.unwrap().insert("user", "alice").unwrap();
    let cookie = req.finish(200).await.set_cookie[0]
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // B reads it (through the shared cache).
    let s = b.begin(Some(&cookie)).load().await.unwrap();
    assert_eq!(s.get::<String>("user").unwrap().as_deref(), Some("alice"));
    // A logs out; B sees no session right away.
    let req = a.begin(Some(&cookie));
    req.load().await.unwrap().flush();
    req.finish(200).await;
    let s = b.begin(Some(&cookie)).load().await.unwrap();
    assert!(
        s.is_empty(),
        "B must not serve a revoked session from its cache"
    );
}

/// Issue 19: a cache hit keeps the client info; an entry of the previous build (no `k`
/// field, which is also what an entry without client info looks like) is a hit without
/// it, and so is one with garbage there.
#[tokio::test]
async fn a_cache_hit_keeps_the_client_info() {
    use sessionkit_core::store::SessionCache;
    use sessionkit_core::{ClientInfo, SessionKey, Token};

    use crate::common::{NOW, exec, raw_standalone, record, secs};

    let Some(redis) = standalone().await else {
        return;
    };
    let cache = RedisCache::from_store(&redis);
    let key = SessionKey::generate();
    let mut r = record("{\"n\":1}", NOW + secs(3600), Some("42"));
    let token = Token::version(4);
    cache.put(&key, &r, &token, NOW).await.unwrap();
    let (hit, t) = cache.get(&key, NOW).await.unwrap().expect("a hit");
    assert_eq!((hit.meta.client, t), (None, token.clone()));
    let info = ClientInfo::new(Some("2001:db8::2".parse().unwrap()), Some("curl/8.5.0"));
    r.meta.client = Some(info.clone());
    cache.put(&key, &r, &token, NOW).await.unwrap();
    let (hit, _) = cache.get(&key, NOW).await.unwrap().expect("a hit");
    assert_eq!(hit, r);
    let mut raw = raw_standalone().await;
    let name = format!("{}c:{{{}}}", redis.layout().prefix(), key.as_str());
    let _: i64 = exec(&mut raw, &["HSET", &name, "k", "garbage"]).await;
    let (hit, _) = cache.get(&key, NOW).await.unwrap().expect("a hit");
    assert_eq!(hit.meta.client, None);
    assert_eq!(hit.data, r.data);
}
