//! Which services the tests may find missing, and the record of the tests that skipped.
//!
//! A test that needs a server calls [`require`](crate::require) with the service's name
//! (one of the constants below, optionally followed by a detail in parentheses:
//! `"Django 6.0 (target/django-6.0)"`) and what it found. Three settings decide what an
//! absence does:
//!
//! | environment | an unreachable service |
//! | --- | --- |
//! | nothing | a `SKIP` line, and the test passes |
//! | `SESSIONKIT_REQUIRE_SERVICES=1` | the test fails |
//! | `…=1` and the service named in `SESSIONKIT_UNAVAILABLE_SERVICES` | a `SKIP` line (the test command could not bring that service up) |
//!
//! `SESSIONKIT_UNAVAILABLE_SERVICES` is a comma-separated list of service names, compared
//! case-insensitively with the name before any ` (`. Every skip is also appended to the
//! file named by `SESSIONKIT_SKIP_LOG`, one line per skip (`service<TAB>test<TAB>why`),
//! which `scripts/test` counts for its closing lines: a skip never hides inside "passed".

use std::io::Write;

/// PostgreSQL (`SESSIONKIT_TEST_POSTGRES_URL`).
pub const POSTGRES: &str = "PostgreSQL";
/// MySQL or MariaDB (`SESSIONKIT_TEST_MYSQL_URL`).
pub const MYSQL: &str = "MySQL";
/// A standalone Redis (`SESSIONKIT_TEST_REDIS_URL`).
pub const REDIS: &str = "Redis";
/// The loopback Redis Cluster of `.ci/redis-cluster.sh` (`SESSIONKIT_TEST_REDIS_CLUSTER`).
pub const REDIS_CLUSTER: &str = "Redis Cluster";
/// The `redis-server` binary, for tests that start private servers.
pub const REDIS_SERVER: &str = "redis-server";
/// Memcached (`SESSIONKIT_TEST_MEMCACHED_URL`, `SESSIONKIT_TEST_MEMCACHED_URL_2`).
pub const MEMCACHED: &str = "Memcached";
/// Headless Chromium and ChromeDriver (`.ci/browser-setup.sh`).
pub const BROWSER: &str = "Chromium and ChromeDriver";
/// A `python3` on PATH (with its `sqlite3` module), for tests that lock SQLite files from
/// another process.
pub const PYTHON: &str = "python3";
/// Root's powers on this machine (mounting a tmpfs, immutable files).
pub const ROOT: &str = "root";

/// The service a store URL needs (by its scheme; `cached+URL` by the inner URL), or `None`
/// for stores that need no server (`memory://`, `sqlite://`, `file://`, `cookie://`).
pub fn for_url(url: &str) -> Option<&'static str> {
    let url = url.strip_prefix("cached+").unwrap_or(url);
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => Some(POSTGRES),
        "mysql" | "mariadb" => Some(MYSQL),
        "redis" | "rediss" => Some(REDIS),
        "redis+cluster" | "rediss+cluster" => Some(REDIS_CLUSTER),
        "memcached" => Some(MEMCACHED),
        _ => None,
    }
}

/// A `require` label for a store URL: its service and the URL, e.g.
/// `Redis Cluster (redis+cluster://127.0.0.1:7000)`. A URL that needs no server is
/// labelled `local store (URL)`, which no setup declares unavailable: its failure to open
/// fails the test under `SESSIONKIT_REQUIRE_SERVICES=1`.
pub fn labelled_url(url: &str) -> String {
    format!("{} ({url})", for_url(url).unwrap_or("local store"))
}

/// The service name a `require` label stands for: the text before any ` (`.
fn service_of(what: &str) -> &str {
    what.split(" (").next().unwrap_or(what).trim()
}

/// Whether `what` is listed in `SESSIONKIT_UNAVAILABLE_SERVICES`.
pub fn declared_unavailable(what: &str) -> bool {
    let Ok(list) = std::env::var("SESSIONKIT_UNAVAILABLE_SERVICES") else {
        return false;
    };
    let name = service_of(what);
    list.split(',')
        .map(str::trim)
        .any(|s| !s.is_empty() && s.eq_ignore_ascii_case(name))
}

/// The running test's name: libtest names each test's thread after it.
fn test_name() -> String {
    let thread = std::thread::current();
    let name = thread.name().unwrap_or("main");
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    format!("{binary} {name}")
}

/// Prints the `SKIP` line and appends the skip to `SESSIONKIT_SKIP_LOG`.
pub(crate) fn record_skip(what: &str, why: &str) {
    eprintln!(
        "SKIP: {what} unavailable ({why}); set SESSIONKIT_REQUIRE_SERVICES=1 to fail instead"
    );
    let Some(path) = std::env::var_os("SESSIONKIT_SKIP_LOG") else {
        return;
    };
    let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
    let line = format!(
        "{}\t{}\t{}\n",
        clean(service_of(what)),
        clean(&test_name()),
        clean(why)
    );
    // One write of a short line to a file opened for appending: lines of concurrent test
    // processes do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot record the skip in {}: {e}", path.to_string_lossy());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_names_its_service_before_the_parenthesis() {
        assert_eq!(service_of("Django 6.0 (target/django-6.0)"), "Django 6.0");
        assert_eq!(service_of("Redis Cluster"), "Redis Cluster");
        assert_eq!(service_of(" Redis "), "Redis");
        assert_eq!(
            service_of(&labelled_url("cached+redis+cluster://127.0.0.1:7000")),
            REDIS_CLUSTER
        );
        assert_eq!(for_url("postgres://u@h/db"), Some(POSTGRES));
        assert_eq!(for_url("memcached://127.0.0.1:11211"), Some(MEMCACHED));
        assert_eq!(for_url("sqlite://s.sqlite3"), None);
    }
}
