//! The concurrency guarantees, measured on the tutorial's counter against each real store:
//! a session with count 1, 50 concurrent requests with its cookie, one more; 52 means no
//! increment was lost.
//!
//! The in-process runs use the engine's test hook that delays every save, so that the
//! requests really overlap (a store answering in microseconds could serialize them by
//! luck), and they assert that conflicts and replays happened. The process runs drive
//! `sessionkit serve` over real HTTP with no hook.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use sessionkit_cli::serve::app;
use sessionkit_cli::store_url::{self, OpenOptions, Opened};
use sessionkit_core::{Concurrency, Config, Engine, Transport};
use tower::ServiceExt;

use crate::http::{self as client, Jar};
use crate::serve::{free_port, serve_with};

struct Probe {
    app: Router,
    engine: Engine,
    /// The session header, when the probe runs with `Transport::Header`.
    header: Option<&'static str>,
    /// For the Redis Cluster: the cluster tests' shared lock, so that no test kills a node
    /// meanwhile (`fault_redis_cluster_loses_a_primary`, sessionkit-redis's failover test).
    _cluster: Option<std::fs::File>,
}

/// A store named by URL, or `None` (SKIP / failure under SESSIONKIT_REQUIRE_SERVICES=1).
/// A store URL, optionally behind the shared Redis cache (`--cache-store`).
#[derive(Clone)]
struct Target {
    url: String,
    cache: Option<String>,
    /// Carry the session id in this header instead of the cookie.
    header: Option<&'static str>,
}

async fn open(t: &Target) -> Option<Opened> {
    let opts = OpenOptions {
        cache_store: t.cache.clone(),
        ..OpenOptions::default()
    };
    sessionkit_testkit::require(
        &sessionkit_testkit::services::labelled_url(&t.url),
        store_url::open(&t.url, &opts)
            .await
            .map_err(|e| format!("{e:#}")),
    )
}

async fn probe(t: &Target, concurrency: Concurrency, delay: Duration) -> Option<Probe> {
    let opened = open(t).await?;
    let mut config = Config::builder()
        .concurrency(concurrency)
        .lock_timeout(Duration::from_secs(30));
    if let Some(h) = t.header {
        config = config.transport(Transport::Header(h.to_owned()));
    }
    let config = config.build().unwrap();
    let engine = opened
        .engine_builder()
        .with_config(config)
        .with_save_delay(delay)
        .build();
    let cluster = if t.url.starts_with("redis+cluster://") {
        Some(crate::faults::cluster_lock(false).await)
    } else {
        None
    };
    Some(Probe {
        app: app(engine.clone()),
        engine,
        header: t.header,
        _cluster: cluster,
    })
}

impl Probe {
    /// The same app, engine and transport, for a concurrent task.
    fn sibling(&self) -> Probe {
        Probe {
            app: self.app.clone(),
            engine: self.engine.clone(),
            header: self.header,
            _cluster: None,
        }
    }

    /// One request carrying `cookie` (`sessionid=<id>`): the body, and the `Set-Cookie`
    /// values. In header mode the id travels in the session header instead, and the
    /// response's header is reported in the same shape (`sessionid=<id>`, or a
    /// `Max-Age=0` removal when it is empty), so every probe reads both modes alike.
    async fn get(&self, uri: &str, cookie: Option<&str>) -> (String, Vec<String>) {
        let mut req = Request::get(uri);
        if let Some(c) = cookie {
            req = match self.header {
                Some(h) => req.header(h, c.strip_prefix("sessionid=").unwrap_or(c)),
                None => req.header(header::COOKIE, c),
            };
        }
        let res = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let mut cookies: Vec<String> = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        if let Some(h) = self.header {
            assert!(
                cookies.is_empty(),
                "header mode sends no cookie: {cookies:?}"
            );
            if let Some(id) = res.headers().get(h) {
                cookies.push(match id.to_str().unwrap() {
                    "" => "sessionid=\"\"; Max-Age=0".to_owned(),
                    id => format!("sessionid={id}"),
                });
            }
        }
        let status = res.status();
        let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec())
            .unwrap();
        assert!(status.is_success() || status == 400, "{status}: {body}");
        (body, cookies)
    }

    /// count 1, then `n` concurrent requests to `uri`, then one more: the bodies of the
    /// concurrent ones and the last one.
    async fn burst(&self, uri: &'static str, n: usize) -> (Vec<String>, String) {
        let (first, cookies) = self.get(uri, None).await;
        assert_eq!(first, "Visit count: 1");
        let cookie = cookies[0].split(';').next().unwrap().to_owned();
        let mut tasks = Vec::new();
        for _ in 0..n {
            let p = self.sibling();
            let cookie = cookie.clone();
            tasks.push(tokio::spawn(
                async move { p.get(uri, Some(&cookie)).await.0 },
            ));
        }
        let mut bodies = Vec::new();
        for t in tasks {
            bodies.push(t.await.unwrap());
        }
        let (last, _) = self.get(uri, Some(&cookie)).await;
        (bodies, last)
    }
}

fn count(body: &str) -> u64 {
    body.strip_prefix("Visit count: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected body {body:?}"))
}

/// The default mode: `/atomic` (`update_with`) loses nothing, and the conflicts were real.
async fn atomic_loses_nothing(t: &Target) {
    let url = &t.url;
    let Some(p) = probe(t, Concurrency::Optimistic, Duration::from_millis(20)).await else {
        return;
    };
    let (_, last) = p.burst("/atomic", 50).await;
    assert_eq!(last, "Visit count: 52", "{url}");
    let stats = p.engine.stats();
    assert!(
        stats.conflicts > 0,
        "{url}: no conflict happened: {stats:?}"
    );
    assert!(stats.replays > 0, "{url}: {stats:?}");
    assert_eq!(stats.exhausted, 0, "{url}: {stats:?}");
}

/// Lock mode: the plain read-then-write of `/` loses nothing, and the 51 responses show 51
/// distinct counts (the requests ran one at a time).
async fn lock_mode_serializes(t: &Target) {
    let url = &t.url;
    let Some(p) = probe(t, Concurrency::Lock, Duration::from_millis(2)).await else {
        return;
    };
    let (bodies, last) = p.burst("/", 50).await;
    assert_eq!(last, "Visit count: 52", "{url}");
    let mut counts: BTreeSet<u64> = bodies.iter().map(|b| count(b)).collect();
    counts.insert(count(&last));
    assert_eq!(counts.len(), 51, "{url}: {counts:?}");
    assert_eq!(p.engine.stats().conflicts, 0, "{url}");
}

/// A logout racing 20 concurrent writes leaves the session gone.
async fn logout_is_never_undone(t: &Target) {
    let url = &t.url;
    let Some(p) = probe(t, Concurrency::Optimistic, Duration::from_millis(30)).await else {
        return;
    };
    let (_, cookies) = p.get("/login?user=alice", None).await;
    let cookie = cookies[0].split(';').next().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..21 {
        let p = p.sibling();
        let cookie = cookie.clone();
        tasks.push(tokio::spawn(async move {
            if i == 10 {
                // The logout lands while the writers' saves are still pending.
                tokio::time::sleep(Duration::from_millis(5)).await;
                p.get("/logout", Some(&cookie)).await
            } else {
                p.get("/atomic", Some(&cookie)).await
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (body, _) = p.get("/color/get", Some(&cookie)).await;
    assert_eq!(body, "Favorite color: unknown");
    let (body, _) = p.get("/atomic", Some(&cookie)).await;
    assert_eq!(body, "Visit count: 1", "{url}: the old session came back");
}

/// A rotation under 20 concurrent requests carrying the old cookie: none of them is sent a
/// removal cookie that would overwrite the new one.
async fn rotation_sends_no_removal_cookie(t: &Target) {
    let url = &t.url;
    let Some(p) = probe(t, Concurrency::Optimistic, Duration::ZERO).await else {
        return;
    };
    let (_, cookies) = p.get("/atomic", None).await;
    let old = cookies[0].split(';').next().unwrap().to_owned();
    let (_, cookies) = p.get("/login?user=bob", Some(&old)).await;
    let new = cookies[0].split(';').next().unwrap().to_owned();
    assert_ne!(new, old);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let p = p.sibling();
        let old = old.clone();
        tasks.push(tokio::spawn(async move {
            let uri = if i % 2 == 0 { "/color/get" } else { "/atomic" };
            p.get(uri, Some(&old)).await.1
        }));
    }
    for t in tasks {
        let set = t.await.unwrap();
        assert!(
            set.iter().all(|c| !c.contains("Max-Age=0")),
            "{url}: removal cookie {set:?}"
        );
        assert!(
            set.is_empty(),
            "{url}: the old key must not get a cookie: {set:?}"
        );
    }
    let (body, _) = p.get("/atomic", Some(&new)).await;
    assert_eq!(
        body, "Visit count: 2",
        "{url}: the new session kept its data"
    );
}

macro_rules! per_store {
    ($($store:ident => $url:expr, $cache:expr $(, header: $header:expr)?);* $(;)?) => {$(
        mod $store {
            use super::*;

            fn url() -> Target {
                Target { url: $url, cache: $cache, header: None $(.or(Some($header)))? }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn atomic_counter_reaches_52() {
                atomic_loses_nothing(&url()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn lock_mode_counter_reaches_52_with_51_distinct_counts() {
                lock_mode_serializes(&url()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn logout_racing_20_writes_stays() {
                logout_is_never_undone(&url()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn rotation_under_20_requests_sends_no_removal_cookie() {
                rotation_sends_no_removal_cookie(&url()).await;
            }
        }
    )*};
}

fn temp_sqlite() -> String {
    let dir = tempfile::tempdir().unwrap().keep();
    format!("sqlite://{}", dir.join("s.sqlite3").display())
}

fn redis_url() -> String {
    sessionkit_testkit::service_url("SESSIONKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

fn postgres_url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

per_store! {
    memory => "memory://".to_owned(), None;
    sqlite => temp_sqlite(), None;
    postgres => postgres_url(), None;
    mysql => sessionkit_testkit::service_url("SESSIONKIT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"), None;
    redis => redis_url(), None;
    redis_cluster => cluster_url(), None;
    memcached_pool => memcached_pool_url(), None;
    postgres_behind_redis_cache => postgres_url(), Some(redis_url());
    sqlite_behind_local_cache => format!("cached+{}", temp_sqlite()), None;
    // The session id in a header (`Transport::Header`): the same guarantees.
    memory_with_session_header => "memory://".to_owned(), None, header: "X-Session-Id";
    sqlite_with_session_header => temp_sqlite(), None, header: "X-Session-Id";
    redis_with_session_header => redis_url(), None, header: "X-Session-Id";
}

/// `memcached://` on both test servers (`SESSIONKIT_TEST_MEMCACHED_URL` and `_2`).
fn memcached_pool_url() -> String {
    let server = |var, default| {
        sessionkit_testkit::service_url(var, default)
            .trim_start_matches("memcached://")
            .trim_end_matches('/')
            .to_owned()
    };
    format!(
        "memcached://{},{}",
        server(
            "SESSIONKIT_TEST_MEMCACHED_URL",
            "memcached://127.0.0.1:11211"
        ),
        server(
            "SESSIONKIT_TEST_MEMCACHED_URL_2",
            "memcached://127.0.0.1:11212"
        )
    )
}

/// `redis+cluster://` with the seeds of `SESSIONKIT_TEST_REDIS_CLUSTER`, default those of
/// `.ci/redis-cluster.sh`.
fn cluster_url() -> String {
    let seeds = sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_REDIS_CLUSTER",
        "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
    );
    format!("redis+cluster://{seeds}")
}

/// The same probe against `sessionkit serve` over real HTTP, no test hook: `/atomic`
/// reaches 52; under `--lock`, `/` reaches 52 with 51 distinct counts.
#[test]
fn served_counter_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (store, lock, uri) in [
        ("sqlite://s.sqlite3", false, "/atomic"),
        ("sqlite://s.sqlite3", true, "/"),
        ("memory://", false, "/atomic"),
    ] {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let args: &[&str] = if lock { &["--lock"] } else { &[] };
        let _server = serve_with(dir.path(), port, Some(store), args, &[]);
        let mut jar = Jar::default();
        assert_eq!(jar.get(&addr, uri).body, "Visit count: 1");
        let cookie = Arc::new(jar.0.clone().unwrap());
        let threads: Vec<_> = (0..50)
            .map(|_| {
                let (addr, cookie) = (addr.clone(), Arc::clone(&cookie));
                std::thread::spawn(move || client::get(&addr, uri, Some(&cookie)).unwrap().body)
            })
            .collect();
        let mut counts = BTreeSet::new();
        for t in threads {
            counts.insert(count(&t.join().unwrap()));
        }
        let last = jar.get(&addr, uri).body;
        assert_eq!(last, "Visit count: 52", "{store} {uri} lock={lock}");
        counts.insert(count(&last));
        if lock {
            assert_eq!(counts.len(), 51, "{counts:?}");
        }
    }
}
