//! Issue 14: the facade names every store under its feature, so an application depends on
//! `sessionkit` alone.

fn named<T>() -> &'static str {
    std::any::type_name::<T>()
}

#[test]
fn every_store_is_reachable_from_the_facade() {
    let mut stores = vec![
        named::<sessionkit::MemoryStore>(),
        named::<sessionkit::LocalCache>(),
        named::<sessionkit::CachedStore<sessionkit::LocalCache, sessionkit::MemoryStore>>(),
    ];
    #[cfg(feature = "file")]
    stores.push(named::<sessionkit::FileStore>());
    #[cfg(feature = "sqlite")]
    stores.push(named::<sessionkit::SqliteStore>());
    #[cfg(feature = "postgres")]
    stores.push(named::<sessionkit::PostgresStore>());
    #[cfg(feature = "mysql")]
    stores.push(named::<sessionkit::MySqlStore>());
    #[cfg(feature = "redis")]
    stores.extend([
        named::<sessionkit::RedisStore>(),
        named::<sessionkit::RedisCache>(),
    ]);
    #[cfg(feature = "django")]
    stores.push(named::<sessionkit::django::SignedCookieStore>());
    #[cfg(all(feature = "django", feature = "file"))]
    stores.push(named::<sessionkit::django::DjangoFileStore>());
    #[cfg(all(feature = "django", feature = "sqlite"))]
    stores.push(named::<sessionkit::django::sql::DjangoSqliteStore>());
    #[cfg(all(feature = "django", feature = "postgres"))]
    stores.push(named::<sessionkit::django::sql::DjangoPostgresStore>());
    #[cfg(all(feature = "django", feature = "mysql"))]
    stores.push(named::<sessionkit::django::sql::DjangoMySqlStore>());
    #[cfg(all(feature = "django", feature = "memcached"))]
    stores.extend([
        named::<sessionkit::django::memcached::DjangoMemcachedStore>(),
        named::<sessionkit::django::memcached::DjangoMemcachedCachedDbStore<sessionkit::MemoryStore>>(),
    ]);
    #[cfg(all(feature = "django", feature = "redis"))]
    stores.extend([
        named::<sessionkit::django::DjangoCacheStore>(),
        named::<sessionkit::django::DjangoCachedDbStore<sessionkit::MemoryStore>>(),
    ]);
    assert!(
        stores
            .iter()
            .all(|n| n.contains("Store") || n.contains("Cache"))
    );
    #[cfg(all(
        feature = "file",
        feature = "sqlite",
        feature = "postgres",
        feature = "mysql",
        feature = "redis",
        feature = "django"
    ))]
    assert_eq!(
        stores.len(),
        if cfg!(feature = "memcached") { 18 } else { 16 },
        "{stores:#?}"
    );
}
