//! Integration tests of sessionkit-core: the engine's rules through its public API, and the
//! memory and cached stores against the conformance suite.

mod engine;

mod memory {
    use sessionkit_core::MemoryStore;
    use sessionkit_testkit::Profile;

    sessionkit_testkit::conformance_tests!(Profile::full(), async { Some(MemoryStore::new()) });
}

mod cached {
    use std::sync::Arc;
    use std::time::Duration;

    use sessionkit_core::store::{CachedStore, LocalCache, SessionCache};
    use sessionkit_core::{Clock, Config, Engine, ManualClock, MemoryStore, SessionStore};
    use sessionkit_testkit::Profile;

    sessionkit_testkit::conformance_tests!(Profile::full(), async {
        Some(CachedStore::new(LocalCache::new(1000), MemoryStore::new()))
    });

    /// Saves a new session holding `n` through `engine`; its cookie pair.
    async fn new_session(engine: &Engine, n: i64) -> String {
        let req = engine.begin(None);
        req.load().await.unwrap().insert("n", n).unwrap();
        crate::engine::pair(&req.finish(200).await.set_cookie[0])
    }

    #[tokio::test]
    async fn reads_are_served_from_the_cache() {
        let durable = MemoryStore::new();
        let store = Arc::new(CachedStore::new(LocalCache::new(100), durable.clone()));
        let clock = ManualClock::now_frozen();
        let engine = sessionkit_core::EngineBuilder::server(store.clone())
            .with_config(Config::default())
            .with_clock(Arc::new(clock.clone()))
            .build();
        let cookie = new_session(&engine, 1).await;
        let key = sessionkit_core::SessionKey::parse(&cookie["sessionid=".len()..]).unwrap();
        assert!(
            store
                .cache()
                .get(&key, clock.now())
                .await
                .unwrap()
                .is_some()
        );
        // Remove it behind the cache's back: the cache still answers (that is the point,
        // and the documented risk of an in-process cache on several nodes)...
        durable.delete(&key).await.unwrap();
        let s = engine.begin(Some(&cookie)).load().await.unwrap();
        assert_eq!(s.get::<i32>("n").unwrap(), Some(1));
        // ...for at most max_age.
        clock.advance(Duration::from_secs(6));
        let s = engine.begin(Some(&cookie)).load().await.unwrap();
        assert!(s.is_empty());
    }

    #[tokio::test]
    async fn a_conflict_drops_the_stale_entry_and_the_retry_lands() {
        let durable = MemoryStore::new();
        let a = Engine::new(
            CachedStore::new(LocalCache::new(100), durable.clone()),
            Config::default(),
        );
        let b = Engine::new(
            CachedStore::new(LocalCache::new(100), durable.clone()),
            Config::default(),
        );
        let cookie = new_session(&a, 0).await;
        // Node B writes, leaving node A's cache stale; then node A adds one too: its save
        // conflicts once and its retry lands.
        for node in [&b, &a] {
            let req = node.begin(Some(&cookie));
            req.load()
                .await
                .unwrap()
                .update_with("n", |n: Option<u64>| n.unwrap_or(0) + 1)
                .unwrap();
            assert!(req.finish(200).await.failure.is_none());
        }
        // Node A's save refreshed A's cache; B's own cache may lag by up to max_age (the
        // documented multi-node window), so read through A.
        let s = a.begin(Some(&cookie)).load().await.unwrap();
        assert_eq!(s.get::<u64>("n").unwrap(), Some(2));
        assert_eq!(a.stats().conflicts, 1);
    }

    #[tokio::test]
    async fn the_cache_is_bounded() {
        let store = Arc::new(CachedStore::new(LocalCache::new(64), MemoryStore::new()));
        let engine = Engine::from_dyn(store.clone(), Config::default());
        for _ in 0..500 {
            let req = engine.begin(None);
            req.load().await.unwrap().insert("x", 1).unwrap();
            req.finish(200).await;
        }
        assert!(store.cache().len() <= 64, "{}", store.cache().len());
        assert_eq!(store.store().len(), 500);
    }
}
