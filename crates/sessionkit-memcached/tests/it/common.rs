//! Factories, raw server access, private servers.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sessionkit_core::SessionKey;
use sessionkit_memcached::MemcachedStore;
use sessionkit_testkit::{require_store, service_url};

pub(crate) fn url() -> String {
    service_url(
        "SESSIONKIT_TEST_MEMCACHED_URL",
        "memcached://127.0.0.1:11211",
    )
}

pub(crate) fn url_2() -> String {
    service_url(
        "SESSIONKIT_TEST_MEMCACHED_URL_2",
        "memcached://127.0.0.1:11212",
    )
}

/// `host:port` of a one-server URL.
pub(crate) fn addr(url: &str) -> String {
    url.trim_start_matches("memcached://")
        .trim_end_matches('/')
        .to_owned()
}

/// A fresh namespace, so that parallel tests never see each other's keys.
pub(crate) fn unique_prefix() -> String {
    format!("sktest:{}:", SessionKey::generate().as_str())
}

/// A store on the first server in its own namespace, or `None` (SKIP).
pub(crate) async fn store() -> Option<MemcachedStore> {
    require_store(
        "memcached",
        MemcachedStore::builder(&url())
            .with_prefix(unique_prefix())
            .connect()
            .await,
    )
}

/// Sends raw text-protocol bytes to a server and returns what it answered up to `end`.
pub(crate) fn raw(addr: &str, request: &[u8], end: &[u8]) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(addr).expect("raw connection");
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.ends_with(end) {
        let n = s.read(&mut buf).expect("raw reply");
        assert!(n > 0, "connection closed: {out:?}");
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Stores the text `hello` under `item` with client `flags` (60 s), as another client of
/// the first server would.
pub(crate) fn plant_hello(item: &str, flags: u32) {
    raw(
        &addr(&url()),
        format!("set {item} {flags} 60 5\r\nhello\r\n").as_bytes(),
        b"\r\n",
    );
}

/// Asserts that `item` on the first server still holds what [`plant_hello`] stored.
pub(crate) fn assert_still_hello(item: &str) {
    let got = raw(
        &addr(&url()),
        format!("get {item}\r\n").as_bytes(),
        b"END\r\n",
    );
    assert!(got.windows(5).any(|w| w == b"hello"));
}

/// Whether the server holds `key` (`mg key` answers `HD`).
pub(crate) fn holds(addr: &str, key: &str) -> bool {
    let reply = raw(addr, format!("mg {key}\r\n").as_bytes(), b"\r\n");
    reply.starts_with(b"HD")
}

pub(crate) fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A private memcached on a free port, killed when dropped.
pub(crate) struct Private {
    child: Child,
    pub(crate) port: u16,
}

impl Private {
    pub(crate) fn start(extra: &[&str]) -> Result<Private, String> {
        let port = unused_port();
        let mut cmd = Command::new("memcached");
        cmd.args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "0",
            "-m",
            "16",
        ]);
        // memcached refuses to run as root without -u.
        if is_root() {
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run memcached: {e}"))?;
        let server = Private { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(server.addr()).is_ok() {
                return Ok(server);
            }
            if Instant::now() > deadline {
                return Err("memcached did not start".to_owned());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
    })
}

impl Drop for Private {
    fn drop(&mut self) {
        self.stop();
    }
}
