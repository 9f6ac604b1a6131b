//! Integration tests of the Redis store against real servers: the conformance suite on a
//! standalone server (`SESSIONKIT_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`) and
//! on a cluster (`SESSIONKIT_TEST_REDIS_CLUSTER`, comma-separated `host:port` seeds, e.g.
//! from `.ci/redis-cluster.sh start`), plus what is specific to Redis: real TTLs, script
//! cache loss, unreadable data, dead servers, replica waits and a failover.
//!
//! With the `django` feature, the same for Django's `cache` and `cached_db` layouts
//! (`DjangoCacheStore`, `DjangoCachedDbStore` over Django's `db` layout on SQLite), checked
//! against the vectors Django produced.
//!
//! Without a server a test prints SKIP and passes, unless `SESSIONKIT_REQUIRE_SERVICES=1`.
//! The cluster tests share the cluster with the failover test, which kills a node: they
//! hold a shared file lock, it an exclusive one, so they never overlap — whatever the
//! runner (threads under `cargo test`, processes under nextest).

mod cache;
mod cluster;
mod common;
#[cfg(feature = "django")]
mod django_cache;
#[cfg(feature = "django")]
mod django_cached_db;
#[cfg(feature = "django")]
mod django_common;
mod formats;
mod standalone;
