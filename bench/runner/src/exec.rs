//! Starting servers, waiting for them, running the load generator, resetting stores.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sessionkit_loadgen::Report;
use sessionkit_loadgen::cpu;
use sessionkit_loadgen::report::{Cpu, Errors, Latency};
use sessionkit_loadgen::units::format_duration;

use crate::servers::{Binary, Server};

/// Where things are and how servers are configured.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    /// Release binaries of this workspace (`sk-server`, `loadgen`, `sk-memsize`).
    pub(crate) bin_dir: PathBuf,
    /// The load generator (`bin_dir/loadgen` unless a comparison points elsewhere).
    pub(crate) loadgen: PathBuf,
    /// Release binaries of `bench/peers` (`peer-server`, `peer-memsize`).
    pub(crate) peer_bin_dir: PathBuf,
    /// SQLite files and server logs.
    pub(crate) state_dir: PathBuf,
    /// PostgreSQL server URL without a database (`postgres://postgres@127.0.0.1:5432`).
    pub(crate) postgres: String,
    /// Redis server URL without a database (`redis://127.0.0.1:6379`).
    pub(crate) redis: String,
    /// Worker threads of every server.
    pub(crate) workers: usize,
}

/// Where one server keeps its sessions.
#[derive(Debug, Clone)]
pub(crate) struct Placement {
    /// SQLite file.
    pub(crate) sqlite_path: PathBuf,
    /// PostgreSQL database name.
    pub(crate) postgres_db: String,
    /// Redis database number.
    pub(crate) redis_db: u32,
    /// Sessions to insert before listening.
    pub(crate) prepopulate: u64,
}

/// How to load a server.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// `returning` or `new`.
    pub(crate) mode: String,
    /// Connections.
    pub(crate) connections: usize,
    /// Warm-up.
    pub(crate) warmup: Duration,
    /// Measured window.
    pub(crate) duration: Duration,
    /// Load generator threads.
    pub(crate) threads: usize,
    /// The store's process (CPU sampled with its direct children), if it has one.
    pub(crate) store_pid: Option<u32>,
}

/// What sends the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Generator {
    /// This workspace's `loadgen`: a virtual browser per connection with its own cookie
    /// jar, every visit count checked.
    Loadgen,
    /// Debian's `wrk` (`-t1`) with `bench/wrk/visits.lua`: eight session cookies per
    /// connection, replayed round-robin; statuses checked, counts not.
    Wrk,
}

impl Generator {
    /// For the report's method line.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Generator::Loadgen => "`loadgen` (every visit count checked)",
            Generator::Wrk => {
                "`wrk -t1` with `bench/wrk/visits.lua` (statuses checked, counts not)"
            }
        }
    }
}

/// A running server; killed (SIGKILL, by its PID) and reaped on drop.
#[derive(Debug)]
pub(crate) struct Running {
    child: Child,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
    /// Its log (stdout and stderr).
    pub(crate) log: PathBuf,
}

impl Running {
    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1 (bound and released: another process could take it first,
/// which the readiness check would then report).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(l.local_addr()?.port())
}

/// The last `n` bytes of a file, for error messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(n)..]).into_owned()
}

impl Env {
    fn binary(&self, b: Binary) -> PathBuf {
        match b {
            Binary::Ours => self.bin_dir.join("sk-server"),
            Binary::Peer => self.peer_bin_dir.join("peer-server"),
        }
    }

    /// The PostgreSQL URL of database `db`.
    pub(crate) fn postgres_url(&self, db: &str) -> String {
        format!("{}/{db}", self.postgres.trim_end_matches('/'))
    }

    /// The Redis URL of database `db`.
    pub(crate) fn redis_url(&self, db: u32) -> String {
        format!("{}/{db}", self.redis.trim_end_matches('/'))
    }

    /// The command line that starts `server`.
    pub(crate) fn server_command(&self, server: &Server, port: u16, at: &Placement) -> Command {
        let mut cmd = Command::new(self.binary(server.binary));
        cmd.arg("--server")
            .arg(server.id)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--workers")
            .arg(self.workers.to_string())
            .arg("--sqlite-path")
            .arg(&at.sqlite_path)
            .arg("--postgres-url")
            .arg(self.postgres_url(&at.postgres_db))
            .arg("--redis-url")
            .arg(self.redis_url(at.redis_db));
        if at.prepopulate > 0 {
            cmd.arg("--prepopulate").arg(at.prepopulate.to_string());
        }
        cmd
    }

    /// Starts `server` and waits (up to `ready_within`) until it accepts connections.
    pub(crate) fn start(
        &self,
        server: &Server,
        at: &Placement,
        ready_within: Duration,
    ) -> anyhow::Result<Running> {
        let port = free_port()?;
        fs::create_dir_all(&self.state_dir)?;
        let log = self.state_dir.join(format!("{}.log", server.id));
        let out = fs::File::create(&log)?;
        let mut cmd = self.server_command(server, port, at);
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        let mut running = Running { child, port, log };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + ready_within;
        loop {
            if let Some(status) = running.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before listening:\n{}",
                    server.id,
                    tail(&running.log, 2000)
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(running);
            }
            if Instant::now() > deadline {
                let log = tail(&running.log, 2000);
                drop(running);
                bail!(
                    "{} did not listen within {ready_within:?}:\n{log}",
                    server.id
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `server` once with `--populate-only` (prepares a database for the scale runs).
    pub(crate) fn populate(&self, server: &Server, at: &Placement) -> anyhow::Result<()> {
        let mut cmd = self.server_command(server, 0, at);
        cmd.arg("--populate-only").stdin(Stdio::null());
        let status = cmd
            .status()
            .with_context(|| format!("cannot start {:?}", cmd.get_program()))?;
        if !status.success() {
            bail!("populating for {} failed ({status})", server.id);
        }
        Ok(())
    }

    /// Runs the load generator against a running server.
    pub(crate) fn loadgen(&self, running: &Running, load: &Load) -> anyhow::Result<Report> {
        let output = Command::new(&self.loadgen)
            .arg("--url")
            .arg(format!("http://127.0.0.1:{}/", running.port))
            .arg("--connections")
            .arg(load.connections.to_string())
            .arg("--warmup")
            .arg(format_duration(load.warmup))
            .arg("--duration")
            .arg(format_duration(load.duration))
            .arg("--mode")
            .arg(&load.mode)
            .arg("--threads")
            .arg(load.threads.to_string())
            .arg("--server-pid")
            .arg(running.pid().to_string())
            .args(
                load.store_pid
                    .map(|pid| ["--store-pid".to_owned(), pid.to_string()])
                    .into_iter()
                    .flatten(),
            )
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run loadgen")?;
        if !output.status.success() {
            bail!("loadgen failed ({})", output.status);
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().last().unwrap_or_default();
        serde_json::from_str(line).with_context(|| format!("unreadable loadgen output {line:?}"))
    }
}

/// The wrk script (`bench/wrk/visits.lua`), written next to the server logs for each run.
const WRK_SCRIPT: &str = include_str!("../../wrk/visits.lua");

/// Sessions per connection for `wrk`'s returning visitors. wrk cannot tell which
/// connection a request goes out on, so the script hands the cookies out round-robin; with
/// one per connection a session was now and then in two requests at once (when a request
/// was still in flight as its slot came round again), and about 5–7 % of sessionkit's saves
/// met a conflict and replayed, a cost the peers' blind saves do not pay (they lose the
/// update instead). With eight per connection, a slot comes round again only after
/// 8 × connections requests, so the same session is practically never in flight twice,
/// as with loadgen's one browser per connection.
const WRK_SESSIONS_PER_CONNECTION: usize = 8;

/// What `visits.lua`'s `done` prints.
#[derive(Debug, serde::Deserialize)]
struct WrkSummary {
    requests: u64,
    duration_us: u64,
    connect: u64,
    read: u64,
    write: u64,
    status: u64,
    timeout: u64,
    p50: u64,
    p90: u64,
    p99: u64,
    p999: u64,
    max: u64,
    mean: f64,
}

impl Env {
    /// The store's process, for its CPU: Redis's and memcached's as they report it,
    /// PostgreSQL's postmaster (its backends are children), MariaDB's `mariadbd`. `None`
    /// for in-process stores (and when it cannot be found: the column then says n/a).
    pub(crate) fn store_pid(&self, store: &str) -> Option<u32> {
        match store {
            "redis" => {
                let client = redis::Client::open(self.redis.as_str()).ok()?;
                let mut conn = client.get_connection().ok()?;
                let info: String = redis::cmd("INFO").arg("server").query(&mut conn).ok()?;
                info_field(&info, "process_id")?.parse().ok()
            }
            "memcached" => {
                use std::io::{Read as _, Write as _};
                let mut s = TcpStream::connect("127.0.0.1:11211").ok()?;
                s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
                s.write_all(b"stats\r\nquit\r\n").ok()?;
                let mut text = String::new();
                s.read_to_string(&mut text).ok()?;
                text.lines()
                    .find_map(|l| l.strip_prefix("STAT pid "))?
                    .trim()
                    .parse()
                    .ok()
            }
            "postgres" => {
                let url = self.postgres_url("postgres");
                let backend: i32 = block_on(async move {
                    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                        .await
                        .ok()?;
                    let driver = tokio::spawn(conn);
                    let row = client.query_one("SELECT pg_backend_pid()", &[]).await.ok();
                    drop(client);
                    let _ = driver.await;
                    row.map(|r| r.get(0))
                })
                .ok()??;
                cpu::parent_pid(u32::try_from(backend).ok()?)
            }
            "mysql" => {
                let out = Command::new("pidof").arg("mariadbd").output().ok()?;
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            }
            _ => None,
        }
    }

    /// Loads a running server with `wrk` (`-t1`, `bench/wrk/visits.lua`): a warm-up run,
    /// then the measured run, with the server's, the store's and wrk's CPU sampled around
    /// it. Returning visitors replay [`WRK_SESSIONS_PER_CONNECTION`] sessions per
    /// connection, created first.
    pub(crate) fn wrk(&self, running: &Running, load: &Load) -> anyhow::Result<Report> {
        let url = format!("http://127.0.0.1:{}/", running.port);
        let script = self.state_dir.join("visits.lua");
        fs::write(&script, WRK_SCRIPT)?;
        let cookies = self.state_dir.join("wrk-cookies.txt");
        let mut jar = String::new();
        if load.mode == "returning" {
            for _ in 0..load.connections.saturating_mul(WRK_SESSIONS_PER_CONNECTION) {
                jar.push_str(&first_visit(running.port)?);
                jar.push('\n');
            }
        }
        fs::write(&cookies, jar)?;
        let run = |d: Duration| -> anyhow::Result<std::process::Output> {
            let out = Command::new("wrk")
                .arg("-t1")
                .arg(format!("-c{}", load.connections))
                // wrk takes whole seconds (no `ms` unit): rounded up.
                .arg(format!("-d{}s", d.as_millis().div_ceil(1000).max(1)))
                .arg("--timeout")
                .arg("5s")
                .arg("-s")
                .arg(&script)
                .arg(&url)
                .arg("--")
                .arg(&cookies)
                .stdin(Stdio::null())
                .output()
                .context("cannot run wrk (Debian package `wrk`)")?;
            if !out.status.success() {
                bail!(
                    "wrk failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(out)
        };
        if !load.warmup.is_zero() {
            run(load.warmup)?;
        }
        let ticks = cpu::clock_ticks();
        let sample = || {
            (
                cpu::of_pid(running.pid(), ticks),
                load.store_pid.and_then(|p| cpu::of_tree(p, ticks)),
                cpu::children().ok(),
            )
        };
        let before = sample();
        let started = Instant::now();
        let out = run(load.duration)?;
        let window = started.elapsed();
        let after = sample();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .with_context(|| format!("no summary in wrk's output:\n{text}"))?;
        let w: WrkSummary = serde_json::from_str(line)
            .with_context(|| format!("unreadable wrk summary {line:?}"))?;
        let counted = w.requests.saturating_sub(w.status);
        let wrk_window = Duration::from_micros(w.duration_us);
        Ok(Report {
            url,
            mode: load.mode.clone(),
            connections: load.connections,
            threads: 1,
            warmup_s: load.warmup.as_secs_f64(),
            duration_s: wrk_window.as_secs_f64(),
            requests: counted,
            rps: if w.duration_us == 0 {
                0.0
            } else {
                counted as f64 / wrk_window.as_secs_f64()
            },
            errors: Errors {
                io: w.connect + w.read + w.write,
                timeout: w.timeout,
                status: w.status,
                ..Errors::default()
            },
            warmup_errors: 0,
            first_error: (w.status + w.connect + w.read + w.write + w.timeout > 0).then(|| {
                format!(
                    "wrk: {} non-2xx/3xx, socket errors connect {} read {} write {} timeout {}",
                    w.status, w.connect, w.read, w.write, w.timeout
                )
            }),
            latency_us: Latency {
                p50: w.p50,
                p90: w.p90,
                p99: w.p99,
                p999: w.p999,
                max: w.max,
                mean: w.mean,
            },
            loadgen_cpu: Cpu::between(before.2, after.2, window, counted).unwrap_or_default(),
            server_cpu: Cpu::between(before.0, after.0, window, counted),
            store_cpu: Cpu::between(before.1, after.1, window, counted),
            generator: "wrk".into(),
        })
    }
}

/// A `key: value` line of Redis's `INFO`.
fn info_field<'a>(info: &'a str, key: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// One first visit (`GET /`, no cookie): the session cookie it sets (`name=value`).
fn first_visit(port: u16) -> anyhow::Result<String> {
    use std::io::{Read as _, Write as _};
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    head.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim().eq_ignore_ascii_case("set-cookie").then(|| {
                value
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        })
        .with_context(|| format!("the first visit set no cookie:\n{head}"))
}

/// Removes an SQLite database and its WAL files.
pub(crate) fn remove_sqlite(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
}

/// Copies an SQLite database and its WAL (not the shared-memory index, which SQLite
/// rebuilds).
pub(crate) fn copy_sqlite(from: &Path, to: &Path) -> anyhow::Result<()> {
    remove_sqlite(to);
    fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    let (mut wal_from, mut wal_to) = (from.as_os_str().to_owned(), to.as_os_str().to_owned());
    wal_from.push("-wal");
    wal_to.push("-wal");
    if Path::new(&wal_from).exists() {
        fs::copy(&wal_from, &wal_to)?;
    }
    Ok(())
}

fn block_on<F: std::future::Future>(f: F) -> anyhow::Result<F::Output> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}

/// Runs SQL statements on the `postgres` maintenance database of the server.
fn postgres_admin(env: &Env, statements: &[String]) -> anyhow::Result<()> {
    let url = env.postgres_url("postgres");
    block_on(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        let driver = tokio::spawn(conn);
        for s in statements {
            client
                .batch_execute(s)
                .await
                .with_context(|| format!("PostgreSQL: {s}"))?;
        }
        drop(client);
        let _ = driver.await;
        anyhow::Ok(())
    })?
}

/// Drops (forcibly: closes its sessions) and creates database `db`: an empty store.
pub(crate) fn recreate_postgres(env: &Env, db: &str) -> anyhow::Result<()> {
    check_ident(db)?;
    postgres_admin(
        env,
        &[
            format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
            format!("CREATE DATABASE {db}"),
        ],
    )
}

/// Drops database `db`.
pub(crate) fn drop_postgres(env: &Env, db: &str) -> anyhow::Result<()> {
    check_ident(db)?;
    postgres_admin(env, &[format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")])
}

/// PostgreSQL's server version (`SHOW server_version`).
pub(crate) fn postgres_version(env: &Env) -> Option<String> {
    let url = env.postgres_url("postgres");
    block_on(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .ok()?;
        tokio::spawn(conn);
        let row = client.query_one("SHOW server_version", &[]).await.ok()?;
        let sync = client
            .query_one("SHOW synchronous_commit", &[])
            .await
            .ok()?;
        let fsync = client.query_one("SHOW fsync", &[]).await.ok()?;
        Some(format!(
            "{} (synchronous_commit={}, fsync={})",
            row.get::<_, String>(0),
            sync.get::<_, String>(0),
            fsync.get::<_, String>(0)
        ))
    })
    .ok()
    .flatten()
}

fn check_ident(db: &str) -> anyhow::Result<()> {
    if db.is_empty()
        || !db
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        bail!("unsafe database name {db:?}");
    }
    Ok(())
}

/// Empties Redis database `db` (`FLUSHDB`): only the benchmark's own database numbers.
pub(crate) fn flush_redis(env: &Env, db: u32) -> anyhow::Result<()> {
    let url = env.redis_url(db);
    let client =
        redis::Client::open(url.as_str()).with_context(|| format!("bad Redis URL {url}"))?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(3))
        .with_context(|| format!("cannot connect to {url}"))?;
    redis::cmd("FLUSHDB")
        .query::<()>(&mut conn)
        .with_context(|| format!("FLUSHDB on {url}"))?;
    Ok(())
}

/// Redis's version (`INFO server`).
pub(crate) fn redis_version(env: &Env) -> Option<String> {
    let client = redis::Client::open(env.redis_url(0)).ok()?;
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(3))
        .ok()?;
    let info: String = redis::cmd("INFO").arg("server").query(&mut conn).ok()?;
    let persistence: String = redis::cmd("INFO")
        .arg("persistence")
        .query(&mut conn)
        .ok()?;
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .map(|v| v.trim().to_owned())
    };
    Some(format!(
        "{} (appendonly={})",
        field(&info, "redis_version")?,
        match field(&persistence, "aof_enabled").as_deref() {
            Some("1") => "yes",
            Some(_) => "no",
            None => "?",
        }
    ))
}
