//! Helpers for the fault, bad-input, security and soak tests: the demo app in process with
//! a chosen configuration, a TCP proxy that can cut or freeze the path to a server,
//! private database servers that a test may kill and restart, a log capture, and a lock
//! that keeps fault tests from overlapping.

use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use http_body_util::BodyExt;
use sessionkit_cli::store_url::{self, OpenOptions, Opened};
use sessionkit_core::{Config, Engine};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------
// Service URLs

pub(crate) fn postgres_url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

pub(crate) fn mysql_url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
    )
}

pub(crate) fn redis_url() -> String {
    sessionkit_testkit::service_url("SESSIONKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// `redis-cli --raw ARGS` on the server (and database) `url` names: its output without the
/// final newline.
pub(crate) fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-u", url, "--raw"])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(
        out.status.success(),
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("redis-cli output is UTF-8");
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

/// The `host:port` of a URL (`scheme://[user@]host:port[/...]`).
pub(crate) fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest).to_owned()
}

/// The same URL pointing at `addr` instead of its own host and port.
pub(crate) fn via(url: &str, addr: SocketAddr) -> String {
    url.replacen(&host_port(url), &addr.to_string(), 1)
}

/// Opens a store URL, or `None` (SKIP; a failure with SESSIONKIT_REQUIRE_SERVICES=1).
pub(crate) async fn open(url: &str) -> Option<Opened> {
    // Django's defaults: cookie "sessionid", two weeks.
    let opts = OpenOptions::default();
    sessionkit_testkit::require(
        &sessionkit_testkit::services::labelled_url(url),
        store_url::open(url, &opts)
            .await
            .map_err(|e| format!("{e:#}")),
    )
}

/// Short timeouts, so that fault tests are quick: 1 s to load, 1 s to save.
pub(crate) fn fault_config() -> Config {
    Config::builder()
        .load_timeout(Duration::from_secs(1))
        .save_timeout(Duration::from_secs(1))
        .retry_after(Duration::from_secs(2))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// The demo app in process

/// The demo app (`sessionkit serve`'s routes) over an engine, driven without a socket.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) router: Router,
    pub(crate) engine: Engine,
}

#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) set_cookie: Vec<String>,
    pub(crate) retry_after: Option<String>,
    pub(crate) body: String,
    pub(crate) took: Duration,
}

impl Reply {
    /// The `name=value` of the first Set-Cookie, unless it removes the cookie.
    pub(crate) fn cookie(&self) -> Option<String> {
        self.set_cookie
            .iter()
            .find(|c| !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_owned())
    }

    /// `N` of a `Visit count: N` body.
    pub(crate) fn count(&self) -> Option<u64> {
        self.body.strip_prefix("Visit count: ")?.parse().ok()
    }
}

impl App {
    pub(crate) fn new(engine: Engine) -> App {
        App {
            router: sessionkit_cli::serve::app(engine.clone()),
            engine,
        }
    }

    pub(crate) async fn get(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(uri);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    pub(crate) async fn send(&self, req: Request<Body>) -> Reply {
        let started = Instant::now();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status().as_u16();
        let set_cookie = res
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let retry_after = res
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            set_cookie,
            retry_after,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            took: started.elapsed(),
        }
    }
}

/// Sends `req` with `body` to `app` as a browser with one session cookie would: with the
/// `cookie` it holds, which each `Set-Cookie` then replaces (or removes, on `Max-Age=0`).
/// Returns the status, the headers and the body as text.
pub(crate) async fn send_with_cookie(
    app: &Router,
    cookie: &mut Option<String>,
    mut req: axum::http::request::Builder,
    body: Body,
) -> (axum::http::StatusCode, axum::http::HeaderMap, String) {
    if let Some(c) = cookie.as_deref() {
        req = req.header(header::COOKIE, c);
    }
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    for c in res.headers().get_all(header::SET_COOKIE) {
        let c = c.to_str().unwrap();
        *cookie = if c.contains("Max-Age=0") {
            None
        } else {
            c.split(';').next().map(str::to_owned)
        };
    }
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8(bytes.to_vec()).unwrap())
}

// ---------------------------------------------------------------------------------------
// A TCP proxy between the app and a server

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Forwards both ways.
    Up,
    /// Accepts connections and reads, but forwards nothing until `Up` again: an
    /// unresponsive server (held bytes are delivered on resume, as after a stall).
    Frozen,
    /// Closes every connection and every new one at once: a server that is down.
    Down,
}

/// A loopback TCP forwarder in front of a server. Dropping it stops it.
pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(Mode::Up);
        let upstream = upstream.to_owned();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if *rx.borrow() == Mode::Down {
                    drop(client);
                    continue;
                }
                let rx = rx.clone();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    // Either direction ending (or Down) ends both.
                    tokio::select! {
                        () = pipe(cr, sw, rx.clone()) => {}
                        () = pipe(sr, cw, rx) => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            mode: tx,
            task,
        }
    }

    pub(crate) fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.mode.send_replace(Mode::Down);
        self.task.abort();
    }
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = mode.wait_for(|m| *m == Mode::Down) => return,
        };
        loop {
            let m = *mode.borrow_and_update();
            match m {
                Mode::Up => break,
                Mode::Down => return,
                Mode::Frozen => {
                    if mode.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

pub(crate) use sessionkit_testkit::logs::Logs;

// ---------------------------------------------------------------------------------------
// Keeping fault tests apart

/// An exclusive lock (a file lock, so it works across `cargo test` threads and nextest
/// processes alike) held by every test that kills servers or measures recovery times.
pub(crate) async fn fault_lock() -> File {
    sessionkit_testkit::guard::lock_file("sessionkit-fault-tests.lock", true).await
}

// ---------------------------------------------------------------------------------------
// Private servers: real processes a test may kill and restart without touching the
// machine's shared services.

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn wait_tcp(port: u16, within: Duration) -> Result<(), String> {
    let deadline = Instant::now() + within;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on port {port} after {within:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Which server software.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Postgres,
    MariaDb,
    Redis,
}

/// A server of its own on a free port with its data in a temporary directory: started,
/// killed (SIGKILL: no clean shutdown) and restarted on the same port and data by the
/// test; stopped and removed when dropped, even when the test fails.
pub(crate) struct Private {
    pub(crate) kind: Kind,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

fn postgres_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| e.to_string())?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| "no postgres user".to_owned())
    };
    Ok((id("-u")?, id("-g")?))
}

fn pg_bin(name: &str) -> Option<PathBuf> {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join(name))
        .find(|p| p.exists())
}

impl Private {
    /// Creates and starts one, or explains why it cannot.
    pub(crate) fn start(kind: Kind) -> Result<Private, String> {
        let dir = tempfile::Builder::new()
            .prefix("sessionkit-private-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let port = free_port();
        let data = dir.path().join("data");
        match kind {
            Kind::Postgres => {
                let initdb = pg_bin("initdb").ok_or("PostgreSQL's initdb is not installed")?;
                // PostgreSQL refuses to run as root: the data belongs to `postgres`.
                run(Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(dir.path()))?;
                run(Command::new("runuser")
                    .args(["-u", "postgres", "--"])
                    .arg(initdb)
                    .arg("-D")
                    .arg(&data)
                    .args(["-A", "trust", "-U", "postgres", "-N"]))?;
            }
            Kind::MariaDb => {
                run(Command::new("mariadb-install-db")
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .args([
                        "--user=root",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                        "--skip-name-resolve",
                    ]))?;
            }
            Kind::Redis => {
                std::fs::create_dir(&data).map_err(|e| e.to_string())?;
            }
        }
        let mut p = Private {
            kind,
            port,
            dir,
            child: None,
        };
        p.launch()?;
        if kind == Kind::MariaDb {
            run(Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-P", &port.to_string(), "-u", "root"])
                .args(["-e", "CREATE DATABASE IF NOT EXISTS test"]))?;
        }
        if kind == Kind::Postgres {
            run(Command::new("psql")
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .args(["-c", "CREATE DATABASE test", "postgres"]))?;
        }
        Ok(p)
    }

    pub(crate) fn url(&self) -> String {
        match self.kind {
            Kind::Postgres => format!("postgres://postgres@127.0.0.1:{}/test", self.port),
            Kind::MariaDb => format!("mysql://root@127.0.0.1:{}/test", self.port),
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        let data = self.dir.path().join("data");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .map_err(|e| e.to_string())?;
        let port = self.port.to_string();
        let mut cmd = match self.kind {
            Kind::Postgres => {
                let postgres = pg_bin("postgres").ok_or("postgres is not installed")?;
                let (uid, gid) = postgres_ids()?;
                let mut c = Command::new(postgres);
                c.uid(uid)
                    .gid(gid)
                    .arg("-D")
                    .arg(&data)
                    .args(["-p", &port, "-k"])
                    .arg(self.dir.path())
                    .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]);
                c
            }
            Kind::MariaDb => {
                let mut c = Command::new("mariadbd");
                c.arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--port={port}"))
                    .arg(format!(
                        "--socket={}",
                        self.dir.path().join("mysqld.sock").display()
                    ))
                    .args([
                        "--bind-address=127.0.0.1",
                        "--user=root",
                        "--innodb-buffer-pool-size=32M",
                        "--skip-log-bin",
                    ]);
                c
            }
            Kind::Redis => {
                // Append-only with fsync on every write: acknowledged writes survive the
                // kill, so the test can check them.
                let mut c = Command::new("redis-server");
                c.args(["--port", &port, "--bind", "127.0.0.1", "--save", ""])
                    .args(["--appendonly", "yes", "--appendfsync", "always"])
                    .arg("--dir")
                    .arg(&data);
                c
            }
        };
        // Its own process group, so that a kill takes its worker processes too.
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start {:?}: {e}", self.kind))?;
        self.child = Some(child);
        wait_tcp(self.port, Duration::from_secs(30))
    }

    /// SIGKILL to the server's process group: it dies mid-whatever, connections drop,
    /// nothing is flushed.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            // The group this test created (its id is the server's pid), and nothing else.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.kill();
            let _ = c.wait();
        }
        // The port is free again once the process is gone.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port and data; returns when it accepts connections.
    pub(crate) fn restart(&mut self) -> Result<(), String> {
        if self.kind == Kind::Postgres {
            // A killed postmaster leaves its pid file; a stale one blocks the start only
            // if that pid is alive, which it is not.
            let _ = std::fs::remove_file(self.dir.path().join("data/postmaster.pid"));
        }
        self.launch()
    }
}

impl Drop for Private {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `Private::start`, or SKIP (a failure with SESSIONKIT_REQUIRE_SERVICES=1).
pub(crate) fn private(kind: Kind) -> Option<Private> {
    let service = match kind {
        Kind::Postgres => sessionkit_testkit::services::POSTGRES,
        Kind::MariaDb => sessionkit_testkit::services::MYSQL,
        Kind::Redis => sessionkit_testkit::services::REDIS,
    };
    sessionkit_testkit::require(
        &format!("{service} (a private server)"),
        Private::start(kind),
    )
}

/// Polls `f` every 10 ms until it returns `true`; returns how long that took, or `None`
/// past `limit`.
pub(crate) async fn time_until<F, Fut>(limit: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if f().await {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
