//! Store faults (docs/RELIABILITY.md): a server that is down, unresponsive, killed and
//! restarted under load; SQLite read-only, full or locked. Every test is named `fault_…`:
//! nextest runs them one at a time (the `faults` group in .config/nextest.toml), and they
//! hold [`fault_lock`] so that `cargo test`'s threads don't overlap either.
//!
//! Down and unresponsive servers are made with a [`Proxy`] between the app and the shared
//! local server (nothing shared is stopped); "restarted under load" kills and restarts a
//! [`Private`] server of the test's own, on a free port.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sessionkit_core::{Lookup, SessionKey};
use time::OffsetDateTime;

use crate::support::{
    App, Kind, Logs, Mode, Proxy, Reply, fault_config, fault_lock, host_port, mysql_url, open,
    postgres_url, private, redis_url, time_until, via,
};

/// The load and save timeouts of [`fault_config`].
const TIMEOUT: Duration = Duration::from_secs(1);
/// Scheduling slack on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_secs(2);
/// "Requests succeed again within about a second": asserted with a generous margin; the
/// measured time is printed (and recorded in docs/RELIABILITY.md).
const RECOVERY_LIMIT: Duration = Duration::from_secs(3);

async fn proxied(url: &str) -> Option<(Proxy, App)> {
    // The real server must answer first (SKIP or failure as for every service test).
    drop(open(url).await?);
    let proxy = Proxy::start(&host_port(url)).await;
    let mut through = via(url, proxy.addr);
    if through.starts_with("mysql://") {
        // mysql_async moves to the server's Unix socket when it runs on the same host,
        // which would bypass the proxy.
        through.push_str(if through.contains('?') { "&" } else { "?" });
        through.push_str("prefer_socket=false");
    }
    let opened = open(&through).await?;
    Some((proxy, App::new(opened.engine(fault_config()))))
}

/// A session with count 2 (two /atomic requests), its cookie.
async fn counted(app: &App) -> String {
    let r = app.get("/atomic", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    let cookie = r.cookie().unwrap();
    let r = app.get("/atomic", Some(&cookie)).await;
    assert_eq!(r.count(), Some(2), "{r:?}");
    cookie
}

fn assert_unavailable(r: &Reply, what: &str) {
    assert_eq!(r.status, 503, "{what}: {r:?}");
    // Retry-After: present, whole seconds. (Load failures send 1 whatever the configured
    // `retry_after` says: see `load_failures_send_the_configured_retry_after`.)
    assert!(
        r.retry_after
            .as_deref()
            .is_some_and(|v| v.parse::<u64>().is_ok_and(|n| n >= 1)),
        "{what}: {r:?}"
    );
    assert_eq!(
        r.body,
        sessionkit_core::UNAVAILABLE_MESSAGE,
        "{what}: the handler's answer is not reported"
    );
    assert!(
        r.set_cookie.iter().all(|c| c.contains("Max-Age=0")),
        "{what}: no session cookie for work that was not saved: {r:?}"
    );
}

/// Waits until the session's /atomic answers 200 again; returns how long that took and
/// the count it answered.
async fn recovery(app: &App, cookie: &str) -> (Duration, u64) {
    let started = Instant::now();
    loop {
        let r = app.get("/atomic", Some(cookie)).await;
        assert!(matches!(r.status, 200 | 503), "{r:?}");
        if r.status == 200 {
            return (started.elapsed(), r.count().unwrap());
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the store never came back"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The store goes down (connections cut, new ones closed at once): loads and saves are
/// prompt 503s with Retry-After and a logged cause, routes without the session keep
/// answering, and once it is back requests succeed again without a restart of the app,
/// with the session as it was.
async fn down_and_back(name: &str, url: &str) {
    let _lock = fault_lock().await;
    let Some((proxy, app)) = proxied(url).await else {
        return;
    };
    let cookie = counted(&app).await;
    let logs = Logs::mark();
    proxy.set(Mode::Down);

    let r = app.get("/", Some(&cookie)).await;
    assert_unavailable(&r, "load while down");
    assert!(r.took < TIMEOUT + MARGIN, "never a hang: {:?}", r.took);
    let r = app.get("/healthz", Some(&cookie)).await;
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    assert!(r.took < Duration::from_millis(500), "{:?}", r.took);
    // A new visitor: the load needs no store; the save fails.
    let r = app.get("/color/set?color=red", None).await;
    assert_unavailable(&r, "save while down");
    assert!(r.took < TIMEOUT + MARGIN, "never a hang: {:?}", r.took);
    let errors = logs.lines("ERROR").join("\n");
    assert!(
        errors.contains("session load failed") || errors.contains("session load timed out"),
        "{errors}"
    );
    assert!(
        errors.contains("session store failed") && errors.contains("operation=\"create\""),
        "the failed save is logged with its cause: {errors}"
    );

    proxy.set(Mode::Up);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("{name}: down -> back: requests succeed again after {took:?}");
    assert!(took < RECOVERY_LIMIT, "{name}: back after {took:?}");
    assert_eq!(
        count, 3,
        "{name}: the session is as it was before the outage"
    );
}

/// The store stops answering (connections stay open, nothing comes back): loads answer
/// 503 after the load timeout, saves after the save timeout, other routes are not held
/// up, and when the store answers again (delivering what it held) requests succeed.
async fn frozen_and_back(name: &str, url: &str) {
    let _lock = fault_lock().await;
    let Some((proxy, app)) = proxied(url).await else {
        return;
    };
    let cookie = counted(&app).await;
    let logs = Logs::mark();
    proxy.set(Mode::Frozen);

    let load = {
        let app = app.clone();
        let cookie = cookie.clone();
        tokio::spawn(async move { app.get("/", Some(&cookie)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = app.get("/healthz", Some(&cookie)).await;
    assert_eq!(r.status, 200);
    assert!(r.took < Duration::from_millis(500), "{:?}", r.took);
    let r = load.await.unwrap();
    assert_unavailable(&r, "load while frozen");
    assert!(
        r.took >= TIMEOUT - Duration::from_millis(50) && r.took < TIMEOUT + MARGIN,
        "503 after the load timeout: {:?}",
        r.took
    );
    let r = app.get("/color/set?color=red", None).await;
    assert_unavailable(&r, "save while frozen");
    assert!(r.took < TIMEOUT + MARGIN, "{:?}", r.took);
    let text = logs.text();
    assert!(text.contains("session load timed out"), "{text}");
    assert!(
        text.contains("session store failed") && text.contains("no answer within 1s"),
        "{text}"
    );

    proxy.set(Mode::Up);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("{name}: frozen -> answering: requests succeed again after {took:?}");
    assert!(took < RECOVERY_LIMIT, "{name}: back after {took:?}");
    assert_eq!(
        count, 3,
        "{name}: the session is as it was before the stall"
    );
    // And it stays consistent: a few more increments count one by one.
    for n in 4..=6 {
        let r = app.get("/atomic", Some(&cookie)).await;
        assert_eq!(r.count(), Some(n), "{name}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_postgres_down_then_back() {
    down_and_back("postgres", &postgres_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_postgres_unresponsive_then_back() {
    frozen_and_back("postgres", &postgres_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_mysql_down_then_back() {
    down_and_back("mariadb", &mysql_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_mysql_unresponsive_then_back() {
    frozen_and_back("mariadb", &mysql_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_redis_down_then_back() {
    down_and_back("redis", &redis_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_redis_unresponsive_then_back() {
    frozen_and_back("redis", &redis_url()).await;
}

/// `Config::retry_after` (2 s in [`fault_config`]) is the `Retry-After` of every 503 the
/// store causes. Saves honour it; load failures, answered by the extractor's rejection,
/// always send `1` (`extract_axum.rs` and `extract_actix.rs` hard-code it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_failures_send_the_configured_retry_after() {
    let Some((proxy, app)) = proxied(&redis_url()).await else {
        return;
    };
    let cookie = counted(&app).await;
    proxy.set(Mode::Down);
    let save = app.get("/color/set?color=red", None).await;
    assert_eq!(save.retry_after.as_deref(), Some("2"), "{save:?}");
    let load = app.get("/", Some(&cookie)).await;
    assert_eq!(load.retry_after.as_deref(), Some("2"), "{load:?}");
}

// ---------------------------------------------------------------------------------------
// Killed and restarted under load

#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    unavailable: u64,
    /// The last count a 200 acknowledged.
    acked: u64,
    /// 503s after which the write may still have landed (the answer was lost).
    uncertain: u64,
    /// Acknowledged increments that a later answer showed lost (only allowed in lossy
    /// mode: a failover without replica waits).
    lost: u64,
    slowest: Duration,
}

/// Clients that each hit /atomic on their own session in a loop, tallying answers.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<(String, tokio::task::JoinHandle<Tally>)>,
    tallies: Arc<std::sync::Mutex<HashMap<String, (u64, u64)>>>,
}

impl Load {
    /// `lossy`: a count that did not grow is tallied as lost instead of failing the test.
    async fn start(app: &App, clients: usize, lossy: bool) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tallies = Arc::new(std::sync::Mutex::new(HashMap::new()));
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let r = app.get("/atomic", None).await;
            assert_eq!(r.count(), Some(1), "{r:?}");
            let cookie = r.cookie().unwrap();
            let (app, stop, tallies, c) = (
                app.clone(),
                Arc::clone(&stop),
                Arc::clone(&tallies),
                cookie.clone(),
            );
            tasks.push((
                cookie,
                tokio::spawn(async move {
                    let mut t = Tally {
                        acked: 1,
                        ..Tally::default()
                    };
                    while !stop.load(Ordering::Relaxed) {
                        let r = app.get("/atomic", Some(&c)).await;
                        t.slowest = t.slowest.max(r.took);
                        match r.status {
                            200 => {
                                let n = r.count().unwrap();
                                if lossy && n <= t.acked {
                                    t.lost += t.acked + 1 - n;
                                    t.acked = n - 1;
                                }
                                assert!(n > t.acked, "count went from {} to {n}", t.acked);
                                assert!(
                                    n <= t.acked + 1 + t.uncertain,
                                    "count jumped from {} to {n} with {} uncertain",
                                    t.acked,
                                    t.uncertain
                                );
                                t.acked = n;
                                t.uncertain = 0;
                                t.ok += 1;
                            }
                            503 => {
                                assert!(r.retry_after.is_some(), "{r:?}");
                                t.unavailable += 1;
                                t.uncertain += 1;
                            }
                            other => panic!("unexpected {other}: {r:?}"),
                        }
                        tallies
                            .lock()
                            .unwrap()
                            .insert(c.clone(), (t.ok, t.unavailable));
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    t
                }),
            ));
        }
        Load {
            stop,
            tasks,
            tallies,
        }
    }

    /// (successes, 503s) so far, over all clients.
    fn totals(&self) -> (u64, u64) {
        self.tallies
            .lock()
            .unwrap()
            .values()
            .fold((0, 0), |(a, b), (x, y)| (a + x, b + y))
    }

    /// Per client: successes so far.
    fn successes(&self) -> HashMap<String, u64> {
        self.tallies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, (ok, _))| (k.clone(), *ok))
            .collect()
    }

    async fn finish(self) -> Vec<(String, Tally)> {
        self.stop.store(true, Ordering::Relaxed);
        let mut out = Vec::new();
        for (cookie, t) in self.tasks {
            out.push((cookie, t.await.expect("a client panicked")));
        }
        out
    }
}

/// A private server under load from 6 clients: killed with SIGKILL (requests answer 503,
/// promptly), restarted on the same port and data (requests succeed again within about a
/// second, no app restart), and afterwards every acknowledged count is in the store.
async fn restart_under_load(kind: Kind) {
    let _lock = fault_lock().await;
    let Some(mut server) = tokio::task::block_in_place(|| private(kind)) else {
        return;
    };
    let opened = open(&server.url()).await.expect("the private server");
    let app = App::new(opened.engine(fault_config()));
    let logs = Logs::mark();
    let load = Load::start(&app, 6, false).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok, unavailable) = load.totals();
    assert!(ok > 20, "{kind:?}: {ok} successes in a second");
    assert_eq!(unavailable, 0, "{kind:?}: no 5xx without a fault");

    tokio::task::block_in_place(|| server.kill());
    let killed = load.totals();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = load.totals();
    assert!(
        during.1 > killed.1,
        "{kind:?}: 503s while the server is dead: {killed:?} -> {during:?}"
    );

    tokio::task::block_in_place(|| server.restart()).expect("restart");
    let before = load.successes();
    let took = time_until(Duration::from_secs(20), || {
        let now = load.successes();
        let all = before
            .iter()
            .all(|(c, n)| now.get(c).is_some_and(|m| m > n));
        async move { all }
    })
    .await
    .unwrap_or_else(|| panic!("{kind:?}: not every client recovered"));
    eprintln!(
        "{kind:?}: every client succeeds again {took:?} after the server accepts connections"
    );
    assert!(took < RECOVERY_LIMIT, "{kind:?}: {took:?}");
    // Requests sent before the recovery may still end in a 503 (within the timeout); from
    // then on, none.
    tokio::time::sleep(TIMEOUT + Duration::from_millis(200)).await;
    let after = load.totals();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = load.totals();
    assert_eq!(
        settled.1, after.1,
        "{kind:?}: no 5xx once recovered: {after:?} -> {settled:?}"
    );
    let tallies = load.finish().await;
    eprintln!("{kind:?}: {:?}", load_summary(&tallies));

    // Every acknowledged write is in the store (a write whose answer was lost to the
    // kill may have landed too).
    let store = app.engine.store().unwrap();
    for (cookie, t) in &tallies {
        assert!(
            t.slowest < TIMEOUT + MARGIN,
            "{kind:?}: a request took {:?}",
            t.slowest
        );
        let key = SessionKey::parse(cookie.split_once('=').unwrap().1).unwrap();
        let Lookup::Found { record, .. } = store
            .load_boxed(&key, OffsetDateTime::now_utc())
            .await
            .unwrap()
        else {
            panic!("{kind:?}: a session with acknowledged writes is gone")
        };
        let stored = u64::try_from(record.data.get("count").unwrap().as_i64().unwrap()).unwrap();
        assert!(
            stored >= t.acked && stored <= t.acked + t.uncertain,
            "{kind:?}: stored {stored}, acknowledged {}, {} uncertain",
            t.acked,
            t.uncertain
        );
    }
    let errors = logs.lines("ERROR");
    assert!(!errors.is_empty(), "{kind:?}: the outage is logged");
}

fn load_summary(tallies: &[(String, Tally)]) -> String {
    let ok: u64 = tallies.iter().map(|(_, t)| t.ok).sum();
    let unavailable: u64 = tallies.iter().map(|(_, t)| t.unavailable).sum();
    let lost: u64 = tallies.iter().map(|(_, t)| t.lost).sum();
    let slowest = tallies.iter().map(|(_, t)| t.slowest).max().unwrap();
    format!(
        "{ok} x 200, {unavailable} x 503, {lost} acknowledged increments lost, slowest request {slowest:?}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_postgres_restarted_under_load() {
    restart_under_load(Kind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_mariadb_restarted_under_load() {
    restart_under_load(Kind::MariaDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_redis_restarted_under_load() {
    restart_under_load(Kind::Redis).await;
}

// ---------------------------------------------------------------------------------------
// The Redis Cluster loses a primary

fn redis_cli(port: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", port])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

/// Brings the cluster back whole (restarting the killed node) when dropped, even on
/// failure.
struct RepairCluster;

impl RepairCluster {
    fn run() -> Result<(), String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/redis-cluster.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg("start")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for RepairCluster {
    fn drop(&mut self) {
        if let Err(e) = RepairCluster::run() {
            eprintln!("repairing the cluster failed: {e}");
        }
    }
}

/// The cluster tests' lock file, shared with sessionkit-redis's cluster tests: shared by
/// every test that uses the cluster, exclusive for one that kills a node.
pub(crate) async fn cluster_lock(exclusive: bool) -> std::fs::File {
    let path = std::env::temp_dir().join("sessionkit-redis-cluster-tests.lock");
    tokio::task::spawn_blocking(move || {
        let f = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .unwrap();
        if exclusive {
            f.lock().unwrap();
        } else {
            f.lock_shared().unwrap();
        }
        f
    })
    .await
    .unwrap()
}

/// A primary of the Redis Cluster is killed (SIGKILL) under load: requests on its slots
/// answer 503 promptly until its replica is promoted; then they succeed again without an
/// app restart. The killed node is restarted afterwards (it rejoins as a replica).
///
/// The CLI's cluster store does not wait for replicas (no `WAIT`), so a write
/// acknowledged just before the kill may be lost in the failover: the test reports how
/// many, and asserts only what replication guarantees (nothing that was acknowledged
/// long before the kill is lost).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_redis_cluster_loses_a_primary() {
    let _lock = fault_lock().await;
    let Some(seeds) = sessionkit_testkit::require(
        "Redis Cluster",
        std::env::var("SESSIONKIT_TEST_REDIS_CLUSTER")
            .map_err(|_| "SESSIONKIT_TEST_REDIS_CLUSTER is not set".to_owned()),
    ) else {
        return;
    };
    let _cluster = cluster_lock(true).await;
    let seed_port = seeds
        .split(',')
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let dir_prefix = std::env::var("SESSIONKIT_REDIS_CLUSTER_DIR")
        .unwrap_or_else(|_| "/tmp/sessionkit-redis-cluster".to_owned());
    // A primary with slots, not the first seed, started by .ci/redis-cluster.sh.
    let nodes = redis_cli(&seed_port, &["cluster", "nodes"]);
    let victim = nodes
        .lines()
        .filter(|l| l.contains("master") && !l.contains("fail"))
        .filter(|l| l.split_whitespace().count() > 8)
        .map(|l| {
            let addr = l.split_whitespace().nth(1).unwrap();
            addr.split('@')
                .next()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .to_owned()
        })
        .find(|port| {
            *port != seed_port
                && redis_cli(port, &["config", "get", "dir"])
                    .lines()
                    .nth(1)
                    .is_some_and(|d| d.starts_with(&dir_prefix))
        });
    let Some(victim) = sessionkit_testkit::require(
        sessionkit_testkit::services::REDIS_CLUSTER,
        victim.ok_or_else(|| "no primary of .ci/redis-cluster.sh to kill".to_owned()),
    ) else {
        return;
    };
    let opened = open(&format!("redis+cluster://{seeds}")).await.unwrap();
    let app = App::new(opened.engine(fault_config()));
    let load = Load::start(&app, 8, true).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok, unavailable) = load.totals();
    assert!(ok > 20 && unavailable == 0, "{ok} / {unavailable}");

    let _repair = RepairCluster;
    let pid = redis_cli(&victim, &["info", "server"])
        .lines()
        .find_map(|l| l.strip_prefix("process_id:").map(str::to_owned))
        .expect("process_id");
    let killed = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    // Promotion: the cluster is ok again without the victim.
    let promoted = loop {
        let info = redis_cli(&seed_port, &["cluster", "info"]);
        let nodes = redis_cli(&seed_port, &["cluster", "nodes"]);
        let victim_failed = nodes
            .lines()
            .any(|l| l.contains(&format!(":{victim}@")) && l.contains("fail"));
        if victim_failed && info.contains("cluster_state:ok") {
            break killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "no promotion");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let before = load.successes();
    let took = time_until(Duration::from_secs(20), || {
        let now = load.successes();
        let all = before
            .iter()
            .all(|(c, n)| now.get(c).is_some_and(|m| m > n));
        async move { all }
    })
    .await
    .expect("not every client recovered after the promotion");
    let during = load.totals();
    eprintln!(
        "cluster: replica promoted {promoted:?} after the kill; every client succeeds again \
         {took:?} after that; {} x 503 meanwhile",
        during.1
    );
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    // Requests sent before the recovery may still end in a 503 (within the timeout); from
    // then on, none.
    tokio::time::sleep(TIMEOUT + Duration::from_millis(200)).await;
    let recovered = load.totals();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let settled = load.totals();
    assert_eq!(settled.1, recovered.1, "no 5xx once recovered");
    let tallies = load.finish().await;
    eprintln!("cluster: {}", load_summary(&tallies));
    for (_, t) in &tallies {
        assert!(
            t.slowest < TIMEOUT + MARGIN,
            "a request took {:?}",
            t.slowest
        );
    }
}

// ---------------------------------------------------------------------------------------
// SQLite: read-only, full, locked

async fn sqlite_app(path: &Path) -> App {
    let url = format!("sqlite://{}", path.display());
    App::new(open(&url).await.unwrap().engine(fault_config()))
}

fn integrity(path: &Path) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// Makes files immutable (`chattr +i`: even root cannot write them) until dropped.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(files: &[PathBuf]) -> Result<Immutable, String> {
        let mut done = Immutable(Vec::new());
        for f in files {
            let out = Command::new("chattr")
                .arg("+i")
                .arg(f)
                .output()
                .map_err(|e| format!("chattr: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "chattr +i {}: {}",
                    f.display(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            done.0.push(f.clone());
        }
        Ok(done)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = Command::new("chattr").arg("-i").arg(f).status();
        }
    }
}

/// The database file and its WAL become read-only while the app runs (the -shm file is
/// left alone: it is memory-mapped, and a write to an immutable mapping is SIGBUS).
/// Reads go on; saves are 503s with the cause logged; nothing is corrupted; once the file
/// is writable again, saves succeed without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_read_only_file() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    let r = app.get("/color/set?color=blue", Some(&cookie)).await;
    assert_eq!(r.status, 200);
    let logs = Logs::mark();
    let wal = dir.path().join("s.sqlite3-wal");
    let Some(guard) = sessionkit_testkit::require(
        "root (chattr +i in an ext4-like temp directory)",
        Immutable::set(&[path.clone(), wal]),
    ) else {
        return;
    };
    let r = app.get("/color/get", Some(&cookie)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "Favorite color: blue"),
        "reads go on"
    );
    let r = app.get("/atomic", Some(&cookie)).await;
    assert_unavailable(&r, "save to a read-only file");
    let r = app.get("/atomic", None).await;
    assert_unavailable(&r, "create in a read-only file");
    let errors = logs.lines("ERROR").join("\n");
    eprintln!("read-only: logged\n{errors}");
    assert!(
        errors.contains("SQLite write transaction") && errors.contains("sqlite"),
        "{errors}"
    );
    drop(guard);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("sqlite read-only -> writable: saves succeed again after {took:?}");
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    assert_eq!(count, 3);
    assert_eq!(integrity(&path), "ok");
}

/// Starting on a database file that cannot be written: a clear error naming the file.
#[test]
fn fault_sqlite_read_only_file_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.sqlite3");
    let (code, _, err) = crate::serve::run(
        &[
            "clear-expired",
            "--store",
            &format!("sqlite://{}", path.display()),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let Some(_guard) = sessionkit_testkit::require(
        "root (chattr +i in an ext4-like temp directory)",
        Immutable::set(std::slice::from_ref(&path)),
    ) else {
        return;
    };
    let (code, _, err) = crate::serve::run(
        &[
            "clear-expired",
            "--store",
            &format!("sqlite://{}", path.display()),
        ],
        dir.path(),
    );
    assert_ne!(code, 0);
    assert!(err.contains("ro.sqlite3"), "names the file: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A small tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|e| format!("mount: {e}"))?;
        if out.status.success() {
            Ok(Tmpfs(at.to_owned()))
        } else {
            Err(format!(
                "mount -t tmpfs: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: the store's files may still be open.
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// The disk fills up: saves are 503s with "disk is full" logged, sessions saved before
/// are intact, the database passes `PRAGMA integrity_check`, and once space is freed
/// saves succeed again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_disk_full() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    let Some(fs) = sessionkit_testkit::require("root (mount -t tmpfs)", Tmpfs::mount(&mnt, "1m"))
    else {
        return;
    };
    let path = mnt.join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    // Fill the rest of the disk.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let mut written = 0u64;
        while f.write_all(&[0u8; 4096]).is_ok() {
            written += 4096;
        }
        // Leave a little room, so that some sessions fit before the disk is full.
        f.set_len(written.saturating_sub(64 * 1024)).unwrap();
        let _ = f.sync_all();
    }
    let logs = Logs::mark();
    let mut saved = Vec::new();
    let mut full = None;
    for i in 0..500 {
        let color = format!("{i}-{}", "x".repeat(2000));
        let r = app.get(&format!("/color/set?color={color}"), None).await;
        match r.status {
            200 => saved.push((r.cookie().unwrap(), color)),
            503 => {
                assert_unavailable(&r, "save on a full disk");
                full = Some(r);
                break;
            }
            other => panic!("{other}: {r:?}"),
        }
    }
    assert!(
        full.is_some(),
        "the disk never filled ({} saves)",
        saved.len()
    );
    assert!(!saved.is_empty(), "nothing fitted before the disk was full");
    let errors = logs.lines("ERROR").join("\n");
    eprintln!("disk full: logged\n{errors}");
    assert!(errors.contains("full"), "the cause is logged: {errors}");
    // Sessions saved before are intact.
    for (cookie, color) in &saved {
        let r = app.get("/color/get", Some(cookie)).await;
        assert_eq!(r.body, format!("Favorite color: {color}"));
    }
    let r = app.get("/atomic", Some(&cookie)).await;
    assert!(matches!(r.status, 200 | 503), "{r:?}");
    let acked = if r.status == 200 { 3 } else { 2 };
    std::fs::remove_file(&filler).unwrap();
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!(
        "sqlite disk full ({} saves fitted) -> space freed: saves succeed again after {took:?}",
        saved.len()
    );
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    assert_eq!(count, acked + 1);
    assert_eq!(integrity(&path), "ok");
    drop(app);
    drop(fs);
}

/// Another process holding a lock on the database, until dropped.
struct Locker(Child);

impl Locker {
    /// `BEGIN EXCLUSIVE` on a connection of another process: in WAL mode that keeps
    /// writers out, not readers.
    fn begin_exclusive(path: &Path) -> Result<Locker, String> {
        Locker::run(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n\
             c.execute('BEGIN EXCLUSIVE')\n\
             c.execute('SELECT count(*) FROM sessionkit_session').fetchone()\n\
             print('locked', flush=True)\n\
             sys.stdin.read()\n",
            path,
        )
    }

    /// Every WAL lock (write, checkpoint, recovery and the five read marks: bytes 120 to
    /// 127 of the -shm file) held by another process, as by a process stuck in the middle
    /// of SQLite's locking: writers and readers alike wait.
    fn wal_locks(path: &Path) -> Result<Locker, String> {
        Locker::run(
            "import fcntl, os, sys\n\
             fd = os.open(sys.argv[1] + '-shm', os.O_RDWR)\n\
             fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120)\n\
             print('locked', flush=True)\n\
             sys.stdin.read()\n",
            path,
        )
    }

    fn run(script: &str, path: &Path) -> Result<Locker, String> {
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("python3: {e}"))?;
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
            &mut line,
        )
        .map_err(|e| e.to_string())?;
        if line.trim() != "locked" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the locking process said {line:?}"));
        }
        Ok(Locker(child))
    }
}

impl Drop for Locker {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// Another process holds `BEGIN EXCLUSIVE`: reads go on, saves are 503s (the save timeout
/// expires while SQLite waits for the lock) with the cause logged; when the lock goes,
/// saves succeed again; nothing is corrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_locked_by_another_process() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    let r = app.get("/color/set?color=green", Some(&cookie)).await;
    assert_eq!(r.status, 200);
    let logs = Logs::mark();
    let Some(locker) = sessionkit_testkit::require(
        "python3 (with its sqlite3 module)",
        tokio::task::block_in_place(|| Locker::begin_exclusive(&path)),
    ) else {
        return;
    };
    let r = app.get("/color/get", Some(&cookie)).await;
    assert_eq!(r.body, "Favorite color: green", "reads go on");
    assert!(r.took < Duration::from_millis(500), "{:?}", r.took);
    let r = app.get("/atomic", Some(&cookie)).await;
    assert_unavailable(&r, "save while locked");
    assert!(r.took < TIMEOUT + MARGIN, "{:?}", r.took);
    let r = app.get("/healthz", None).await;
    assert_eq!(r.status, 200);
    let text = logs.text();
    assert!(text.contains("session store failed"), "{text}");
    drop(locker);
    let (took, count) = recovery(&app, &cookie).await;
    eprintln!("sqlite locked -> released: saves succeed again after {took:?}");
    // SQLite's busy timeout (5 s) may hold the writer thread on the lock a little
    // longer than the request waited.
    assert!(took < Duration::from_secs(5) + RECOVERY_LIMIT, "{took:?}");
    assert!((3..=4).contains(&count), "{count}");
    assert_eq!(integrity(&path), "ok");
}

/// Another process holds SQLite's WAL locks ([`Locker::wal_locks`]), which keeps readers
/// out too: loads must answer 503 after the load timeout, and routes without the session
/// must keep answering meanwhile.
///
/// They don't: the SQLite store reads inline on the request's task (`read_row` is a
/// blocking call inside `async fn load`), so the load timeout cannot fire, the request
/// waits for SQLite's own retry limit (about 10 s, then "locking protocol"), and each
/// such request blocks a runtime worker thread: of 4 loads on 2 workers, two answer
/// after 10 s and two after 20 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_sqlite_locked_loads_time_out() {
    let _lock = fault_lock().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let app = sqlite_app(&path).await;
    let cookie = counted(&app).await;
    let Some(locker) = sessionkit_testkit::require(
        "python3",
        tokio::task::block_in_place(|| Locker::wal_locks(&path)),
    ) else {
        return;
    };
    // Each answer's time counts from the spawn (a task that waits for a free worker
    // thread waits too).
    let loads: Vec<_> = (0..4)
        .map(|_| {
            let app = app.clone();
            let cookie = cookie.clone();
            let started = Instant::now();
            tokio::spawn(async move {
                let mut r = app.get("/color/get", Some(&cookie)).await;
                r.took = started.elapsed();
                r
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // On a worker thread, as a server runs it (the test's own task runs elsewhere).
    let health = {
        let app = app.clone();
        let started = Instant::now();
        tokio::spawn(async move {
            let r = tokio::time::timeout(Duration::from_secs(3), app.get("/healthz", None)).await;
            (r, started.elapsed())
        })
    };
    let (health, health_took) = health.await.unwrap();
    let mut answers = Vec::new();
    for l in loads {
        answers.push(l.await.unwrap());
    }
    drop(locker);
    eprintln!(
        "loads took {:?}; /healthz took {health_took:?}",
        answers.iter().map(|r| r.took).collect::<Vec<_>>()
    );
    for r in &answers {
        assert_unavailable(r, "load while locked");
        assert!(
            r.took < TIMEOUT + MARGIN,
            "503 after the load timeout, not after SQLite gives up: {:?}",
            r.took
        );
    }
    assert!(
        health.is_ok() && health_took < Duration::from_millis(500),
        "/healthz waited {health_took:?} behind blocked loads"
    );
    let (took, _) = recovery(&app, &cookie).await;
    assert!(took < RECOVERY_LIMIT, "{took:?}");
    assert_eq!(integrity(&path), "ok");
}
