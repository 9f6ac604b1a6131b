//! Integration tests of the memcached store against real servers: the conformance suite
//! (`SESSIONKIT_TEST_MEMCACHED_URL`, default `memcached://127.0.0.1:11211`), a pool of two
//! servers (with `SESSIONKIT_TEST_MEMCACHED_URL_2`), a server of their own that goes down,
//! real TTLs and memcached's limits.
//!
//! Without a server a test prints SKIP and passes, unless `SESSIONKIT_REQUIRE_SERVICES=1`.

mod common;
#[cfg(feature = "django")]
mod django;
#[cfg(feature = "django")]
mod django_cached_db;
mod native;
