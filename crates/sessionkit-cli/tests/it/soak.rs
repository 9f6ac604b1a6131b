//! The soak (docs/RELIABILITY.md): `sessionkit serve` on each server store under a mixed
//! load for several minutes — reads, writes, `update_with` counters, logins (key
//! rotation), logouts — checking zero panics, zero 5xx (no fault is injected) and that
//! every acknowledged write is readable afterwards unless a later write or a logout
//! superseded it. Ignored in the normal run; run it with
//!
//! ```text
//! SESSIONKIT_SOAK_SECONDS=180 SESSIONKIT_SOAK_STORES=sqlite,postgres,mysql,redis \
//!   cargo test -p sessionkit-cli --test it soak -- --ignored --nocapture
//! ```
//!
//! (`cluster` adds the Redis Cluster from `SESSIONKIT_TEST_REDIS_CLUSTER`.)

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sessionkit_testkit::http::{Response, get};

use crate::serve::free_port;
use crate::support::{mysql_url, postgres_url, redis_url};

const BIN: &str = env!("CARGO_BIN_EXE_sessionkit");

struct Server {
    child: Child,
    addr: String,
    err: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path, store: &str) -> Server {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let err = dir.join(format!("soak-{port}.log"));
        let child = Command::new(BIN)
            .current_dir(dir)
            .args(["serve", "--listen", &addr, "--store", store])
            .env("SESSIONKIT_LOG", "info")
            .stdout(std::fs::File::create(dir.join("soak-stdout.log")).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(&addr, "/healthz", None).is_err() {
            assert!(
                Instant::now() < deadline,
                "{store}: the server did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Server { child, addr, err }
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    by_route: Mutex<BTreeMap<String, u64>>,
    by_status: Mutex<BTreeMap<u16, u64>>,
    latencies_us: Mutex<Vec<u64>>,
    failures: Mutex<Vec<String>>,
    checked_writes: AtomicU64,
}

impl Stats {
    fn record(&self, route: &str, status: u16, took: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        *self
            .by_route
            .lock()
            .unwrap()
            .entry(route.to_owned())
            .or_default() += 1;
        *self.by_status.lock().unwrap().entry(status).or_default() += 1;
        self.latencies_us
            .lock()
            .unwrap()
            .push(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
    }

    fn fail(&self, what: String) {
        let mut f = self.failures.lock().unwrap();
        if f.len() < 50 {
            f.push(what);
        }
    }
}

/// A visitor with a private session, and the model of what its session must hold.
struct Visitor {
    id: usize,
    cookie: Option<String>,
    /// The counter as the last acknowledged /atomic answered it (0: none yet).
    count: u64,
    /// The last acknowledged color.
    color: Option<String>,
    user: Option<String>,
    serial: u64,
    /// Keys rotated away: must never serve this visitor's data again.
    old: Vec<String>,
}

fn send(stats: &Stats, addr: &str, route: &str, path: &str, cookie: Option<&str>) -> Response {
    let started = Instant::now();
    let res = loop {
        match get(addr, path, cookie) {
            Ok(r) => break r,
            // A refused connection under load (the accept queue overflowing) is the
            // client's problem, not the server's: retry (counted apart).
            Err(e) if started.elapsed() < Duration::from_secs(10) => {
                *stats
                    .by_route
                    .lock()
                    .unwrap()
                    .entry(format!("client retry ({})", e.kind()))
                    .or_default() += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{path}: {e}"),
        }
    };
    stats.record(route, res.status, started.elapsed());
    if res.status >= 500 {
        stats.fail(format!("{} on {path}: {}", res.status, res.body));
    }
    res
}

impl Visitor {
    fn new(id: usize) -> Visitor {
        Visitor {
            id,
            cookie: None,
            count: 0,
            color: None,
            user: None,
            serial: 0,
            old: Vec::new(),
        }
    }

    /// Keeps the jar as a browser would.
    fn absorb(&mut self, res: &Response) {
        for c in res.set_cookies() {
            let pair = c.split(';').next().unwrap().to_owned();
            if c.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                if let Some(old) = self.cookie.take()
                    && old != pair
                {
                    self.old.push(old);
                }
                self.cookie = Some(pair);
            }
        }
    }

    fn step(&mut self, stats: &Stats, addr: &str, dice: u64) {
        let cookie = self.cookie.clone();
        let c = cookie.as_deref();
        match dice % 100 {
            0..=29 => {
                let res = send(stats, addr, "/atomic", "/atomic", c);
                if res.status == 200 {
                    let n = count_of(&res.body);
                    if n != self.count + 1 {
                        stats.fail(format!(
                            "visitor {}: /atomic answered {n} after {}",
                            self.id, self.count
                        ));
                    }
                    self.count = n;
                    self.absorb(&res);
                }
            }
            30..=49 => {
                self.serial += 1;
                let color = format!("v{}c{}", self.id, self.serial);
                let res = send(
                    stats,
                    addr,
                    "/color/set",
                    &format!("/color/set?color={color}"),
                    c,
                );
                if res.status == 200 {
                    self.color = Some(color);
                    self.absorb(&res);
                }
            }
            50..=74 => {
                let res = send(stats, addr, "/color/get", "/color/get", c);
                if res.status == 200 {
                    let want = format!(
                        "Favorite color: {}",
                        self.color.as_deref().unwrap_or("unknown")
                    );
                    if res.body != want {
                        stats.fail(format!(
                            "visitor {}: read {:?}, acknowledged {want:?}",
                            self.id, res.body
                        ));
                    } else {
                        stats.checked_writes.fetch_add(1, Ordering::Relaxed);
                    }
                    self.absorb(&res);
                }
            }
            75..=84 => {
                // Log in as ourselves (key rotated, data kept) or, now and then, as
                // someone else (Django flushes the session first).
                let user = if dice.is_multiple_of(7) || self.user.is_none() {
                    format!("u{}x{}", self.id, dice % 3)
                } else {
                    self.user.clone().unwrap()
                };
                let res = send(stats, addr, "/login", &format!("/login?user={user}"), c);
                if res.status == 200 {
                    if self.user.as_ref().is_some_and(|u| *u != user) {
                        self.count = 0;
                        self.color = None;
                    }
                    self.user = Some(user);
                    self.absorb(&res);
                }
            }
            85..=89 => {
                let res = send(stats, addr, "/logout", "/logout", c);
                if res.status == 200 {
                    self.count = 0;
                    self.color = None;
                    self.user = None;
                    if let Some(k) = self.cookie.take() {
                        self.old.push(k);
                    }
                    self.absorb(&res);
                }
            }
            90..=94 => {
                // A rotated-away or logged-out key serves nothing of ours.
                if let Some(old) = self.old.last().cloned() {
                    let res = send(
                        stats,
                        addr,
                        "/color/get (old key)",
                        "/color/get",
                        Some(&old),
                    );
                    if res.status == 200 && res.body != "Favorite color: unknown" {
                        stats.fail(format!(
                            "visitor {}: an old key still serves {:?}",
                            self.id, res.body
                        ));
                    }
                }
            }
            _ => {
                let res = send(stats, addr, "/healthz", "/healthz", c);
                if res.body != "ok" {
                    stats.fail(format!("/healthz: {}", res.body));
                }
            }
        }
    }

    /// The end: every acknowledged write is there.
    fn verify(&mut self, stats: &Stats, addr: &str) {
        let c = self.cookie.clone();
        let res = send(stats, addr, "/color/get", "/color/get", c.as_deref());
        let want = format!(
            "Favorite color: {}",
            self.color.as_deref().unwrap_or("unknown")
        );
        if res.body != want {
            stats.fail(format!(
                "visitor {} at the end: {:?}, acknowledged {want:?}",
                self.id, res.body
            ));
        }
        let res = send(stats, addr, "/atomic", "/atomic", c.as_deref());
        if count_of(&res.body) != self.count + 1 {
            stats.fail(format!(
                "visitor {} at the end: count {:?}, acknowledged {}",
                self.id, res.body, self.count
            ));
        }
        stats.checked_writes.fetch_add(2, Ordering::Relaxed);
    }
}

fn count_of(body: &str) -> u64 {
    body.strip_prefix("Visit count: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    Duration::from_micros(sorted[i])
}

/// One store: `visitors` private sessions and `sharers` threads hammering two shared
/// counters with `update_with`, for `secs` seconds.
fn soak_one(name: &str, store: &str, secs: u64) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), store);
    let addr = server.addr.clone();
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(secs);

    // Two counters shared by several threads: every acknowledged increment is distinct.
    let mut shared = Vec::new();
    for _ in 0..2 {
        let res = send(&stats, &addr, "/atomic", "/atomic", None);
        let pair = res.set_cookies()[0].split(';').next().unwrap().to_owned();
        shared.push((pair, Arc::new(Mutex::new(vec![count_of(&res.body)]))));
    }
    let mut threads = Vec::new();
    for t in 0..4 {
        let (pair, seen) = shared[t % 2].clone();
        let (stats, stop, addr) = (Arc::clone(&stats), Arc::clone(&stop), addr.clone());
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let res = send(&stats, &addr, "/atomic (shared)", "/atomic", Some(&pair));
                if res.status == 200 {
                    seen.lock().unwrap().push(count_of(&res.body));
                }
            }
        }));
    }
    for v in 0..10 {
        let (stats, stop, addr) = (Arc::clone(&stats), Arc::clone(&stop), addr.clone());
        threads.push(std::thread::spawn(move || {
            let mut visitor = Visitor::new(v);
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (v as u64 + 1);
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                visitor.step(&stats, &addr, x);
            }
            visitor.verify(&stats, &addr);
        }));
    }
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        if t.join().is_err() {
            stats.fail("a client thread panicked".to_owned());
        }
    }
    // `update_with` returns the value computed on the loaded session; a save that met a
    // conflict replays the closure on the fresh value and stores that one, so two answers
    // may show the same number (documented: "Returns the value computed now"). What must
    // hold is that no increment is lost: the counter ends at exactly one per
    // acknowledged request.
    let mut provisional = 0;
    for (pair, seen) in &shared {
        let seen = seen.lock().unwrap();
        let distinct: HashSet<u64> = seen.iter().copied().collect();
        provisional += seen.len() - distinct.len();
        let res = send(&stats, &addr, "/atomic", "/atomic", Some(pair));
        let last = count_of(&res.body);
        if last != seen.len() as u64 + 1 {
            stats.fail(format!(
                "a shared counter lost increments: {} acknowledged, now {last}",
                seen.len()
            ));
        }
        stats
            .checked_writes
            .fetch_add(seen.len() as u64, Ordering::Relaxed);
    }
    let log = server.stop();
    let panics = log.lines().filter(|l| l.contains("panicked")).count();
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    let mut lat = stats.latencies_us.lock().unwrap().clone();
    lat.sort_unstable();
    let requests = stats.requests.load(Ordering::Relaxed);
    let summary = format!(
        "{name}: {secs} s, {requests} requests ({:.0}/s), statuses {:?}, routes {:?}, \
         latency p50 {:?} p99 {:?} max {:?}, {} acknowledged writes checked, \
         {provisional} shared-counter answers replayed after a conflict, \
         {panics} panics, {} ERROR lines in the server log",
        requests as f64 / secs as f64,
        stats.by_status.lock().unwrap(),
        stats.by_route.lock().unwrap(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0),
        stats.checked_writes.load(Ordering::Relaxed),
        errors.len(),
    );
    let failures = stats.failures.lock().unwrap().clone();
    if failures.is_empty() && panics == 0 && errors.is_empty() {
        Ok(summary)
    } else {
        Err(format!(
            "{summary}\nfailures: {failures:#?}\nlog errors: {:#?}",
            &errors[..errors.len().min(20)]
        ))
    }
}

#[test]
#[ignore = "the soak: minutes per store; run it explicitly (see the module docs)"]
fn soak() {
    let secs: u64 = std::env::var("SESSIONKIT_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let wanted = std::env::var("SESSIONKIT_SOAK_STORES")
        .unwrap_or_else(|_| "sqlite,postgres,mysql,redis".to_owned());
    let mut results = Vec::new();
    let mut failed = false;
    for name in wanted.split(',').map(str::trim) {
        let store = match name {
            "sqlite" => "sqlite://soak.sqlite3".to_owned(),
            "postgres" => postgres_url(),
            "mysql" => mysql_url(),
            "redis" => redis_url(),
            "cluster" => format!(
                "redis+cluster://{}",
                std::env::var("SESSIONKIT_TEST_REDIS_CLUSTER")
                    .expect("SESSIONKIT_TEST_REDIS_CLUSTER for the cluster soak")
            ),
            other => panic!("unknown store {other:?} (sqlite, postgres, mysql, redis, cluster)"),
        };
        let outcome = soak_one(name, &store, secs);
        match &outcome {
            Ok(s) => eprintln!("SOAK OK   {s}"),
            Err(s) => {
                eprintln!("SOAK FAIL {s}");
                failed = true;
            }
        }
        results.push(outcome);
    }
    assert!(!failed, "{results:#?}");
}
