//! A small memcached client over the meta protocol (`mg`, `ms`, `md`, `mn`): one pool of
//! connections per server, every request under a timeout.
//!
//! Each request takes an idle connection of its server (or opens one, at most
//! `pool_size` at a time), writes one command, reads one reply and gives the connection
//! back. A connection that failed, timed out or got an error reply is dropped, never
//! reused: after a timeout the reply may still be on its way, and after a client error the
//! stream may be out of step.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sessionkit_core::{StoreError, StoreErrorKind};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The longest reply line read (a meta reply line is a few dozen bytes).
const MAX_LINE: usize = 1024;
/// The largest value read back: memcached's item size can be raised to 1 GB, but a
/// session over 16 MiB is not one this store wrote.
const MAX_VALUE: usize = 16 << 20;

/// Timeouts and pool size of every server.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) pool_size: usize,
}

/// One server's address and pool.
pub(crate) struct Server {
    /// What to connect to (`host:port`, IPv6 in brackets).
    addr: String,
    idle: Mutex<Vec<BufStream<TcpStream>>>,
    slots: Semaphore,
    settings: Settings,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

/// A meta command: `mg`, `ms` (with its data) or `md`, or `mn`.
#[derive(Debug)]
pub(crate) struct Cmd<'a> {
    verb: &'static str,
    key: &'a [u8],
    flags: Vec<String>,
    data: Option<&'a [u8]>,
}

impl<'a> Cmd<'a> {
    /// `mg key flags...`
    pub(crate) fn get(key: &'a [u8]) -> Cmd<'a> {
        Cmd {
            verb: "mg",
            key,
            flags: Vec::new(),
            data: None,
        }
    }

    /// `ms key <len> flags...` followed by `data`.
    pub(crate) fn set(key: &'a [u8], data: &'a [u8]) -> Cmd<'a> {
        Cmd {
            verb: "ms",
            key,
            flags: Vec::new(),
            data: Some(data),
        }
    }

    /// `md key flags...`
    pub(crate) fn delete(key: &'a [u8]) -> Cmd<'a> {
        Cmd {
            verb: "md",
            key,
            flags: Vec::new(),
            data: None,
        }
    }

    /// `mn`: a no-op, answered `MN` (to check a server answers).
    pub(crate) fn noop() -> Cmd<'static> {
        Cmd {
            verb: "mn",
            key: b"",
            flags: Vec::new(),
            data: None,
        }
    }

    /// Adds a flag (`v`, `c`, `T60`, `C123`, `ME`, ...).
    #[must_use]
    pub(crate) fn flag(mut self, flag: impl Into<String>) -> Cmd<'a> {
        self.flags.push(flag.into());
        self
    }

    fn encode(&self) -> Vec<u8> {
        let data_len = self.data.map_or(0, <[u8]>::len);
        let mut out = Vec::with_capacity(32 + self.key.len() + data_len);
        out.extend_from_slice(self.verb.as_bytes());
        if self.verb != "mn" {
            out.push(b' ');
            out.extend_from_slice(self.key);
        }
        if let Some(data) = self.data {
            out.push(b' ');
            out.extend_from_slice(data.len().to_string().as_bytes());
        }
        for f in &self.flags {
            out.push(b' ');
            out.extend_from_slice(f.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        if let Some(data) = self.data {
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out
    }
}

/// A reply, with its return flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// `HD`: done (stored, deleted, touched, or a hit without value).
    Done(RetFlags),
    /// `VA`: a hit with its value.
    Value(Vec<u8>, RetFlags),
    /// `EN`: a miss (`mg`).
    Miss,
    /// `NS`: not stored (`ms` in add mode on a taken key).
    NotStored,
    /// `EX`: the compare-and-set token did not match.
    Exists,
    /// `NF`: not found (`ms` with a CAS, `md`).
    NotFound,
    /// `MN`: the answer to `mn`.
    Noop,
}

/// The return flags of a reply that this client asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RetFlags {
    /// `c`: the item's CAS value.
    pub(crate) cas: Option<u64>,
    /// `f`: the client flags.
    pub(crate) flags: Option<u32>,
    /// `t`: the remaining TTL in seconds (`-1`: none).
    pub(crate) ttl: Option<i64>,
}

impl RetFlags {
    fn parse(tokens: &[&str]) -> RetFlags {
        let mut r = RetFlags::default();
        for t in tokens {
            let (flag, value) = t.split_at(t.len().min(1));
            match flag {
                "c" => r.cas = value.parse().ok(),
                "f" => r.flags = value.parse().ok(),
                "t" => r.ttl = value.parse().ok(),
                _ => {}
            }
        }
        r
    }
}

impl Server {
    pub(crate) fn new(addr: String, settings: Settings) -> Server {
        Server {
            addr,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(settings.pool_size.max(1)),
            settings,
        }
    }

    /// The address, for messages.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `cmd` and reads its reply, all within the timeout.
    pub(crate) async fn call(self: &Arc<Server>, cmd: &Cmd<'_>) -> Result<Reply, StoreError> {
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout, self.call_inner(cmd)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                format!(
                    "memcached server {} did not answer {} within {timeout:?}",
                    self.addr, cmd.verb
                ),
            )),
        }
    }

    async fn call_inner(&self, cmd: &Cmd<'_>) -> Result<Reply, StoreError> {
        let _slot = self.slots.acquire().await.map_err(|e| {
            StoreError::with_source(StoreErrorKind::Other, "connection pool closed", e)
        })?;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => self.open().await?,
        };
        let bytes = cmd.encode();
        let io = |e: std::io::Error| {
            StoreError::with_source(
                StoreErrorKind::Unavailable,
                format!("memcached server {}: {}", self.addr, cmd.verb),
                e,
            )
        };
        conn.write_all(&bytes).await.map_err(io)?;
        conn.flush().await.map_err(io)?;
        let reply = read_reply(&mut conn).await.map_err(|e| match e {
            ReadError::Io(e) => io(e),
            ReadError::Server(line) => server_error(&self.addr, cmd.verb, &line),
        })?;
        // Only a connection whose reply was read whole goes back to the pool.
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        Ok(reply)
    }

    async fn open(&self) -> Result<BufStream<TcpStream>, StoreError> {
        let connect = TcpStream::connect(&self.addr);
        let stream = match tokio::time::timeout(self.settings.connect_timeout, connect).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(StoreError::with_source(
                    StoreErrorKind::Unavailable,
                    format!("cannot connect to memcached server {}", self.addr),
                    e,
                ));
            }
            Err(_) => {
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    format!(
                        "connecting to memcached server {} timed out after {:?}",
                        self.addr, self.settings.connect_timeout
                    ),
                ));
            }
        };
        // Requests are small and answered one at a time: no Nagle delay.
        let _ = stream.set_nodelay(true);
        Ok(BufStream::new(stream))
    }
}

enum ReadError {
    Io(std::io::Error),
    /// An error line (`SERVER_ERROR ...`, `CLIENT_ERROR ...`, `ERROR`) or an unknown reply.
    Server(String),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

fn server_error(addr: &str, verb: &str, line: &str) -> StoreError {
    let kind = if line.contains("too large") {
        StoreErrorKind::Encode
    } else if line.contains("out of memory") {
        StoreErrorKind::Full
    } else {
        StoreErrorKind::Other
    };
    StoreError::new(
        kind,
        format!("memcached server {addr} refused {verb}: {line}"),
    )
}

async fn read_line(conn: &mut BufStream<TcpStream>) -> Result<String, ReadError> {
    let mut line = Vec::with_capacity(64);
    let n = (&mut *conn)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 {
        return Err(ReadError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    if !line.ends_with(b"\r\n") {
        return Err(ReadError::Server("reply line too long or cut".to_owned()));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| ReadError::Server("reply line is not text".to_owned()))
}

async fn read_reply(conn: &mut BufStream<TcpStream>) -> Result<Reply, ReadError> {
    let line = read_line(conn).await?;
    let tokens: Vec<&str> = line.split(' ').filter(|t| !t.is_empty()).collect();
    let Some((&code, rest)) = tokens.split_first() else {
        return Err(ReadError::Server("empty reply".to_owned()));
    };
    Ok(match code {
        "HD" => Reply::Done(RetFlags::parse(rest)),
        "VA" => {
            let size = rest
                .first()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&s| s <= MAX_VALUE)
                .ok_or_else(|| ReadError::Server(format!("bad value size in {line:?}")))?;
            let mut value = vec![0u8; size + 2];
            conn.read_exact(&mut value).await?;
            if !value.ends_with(b"\r\n") {
                return Err(ReadError::Server("value not followed by CRLF".to_owned()));
            }
            value.truncate(size);
            Reply::Value(value, RetFlags::parse(&rest[1..]))
        }
        "EN" => Reply::Miss,
        "NS" => Reply::NotStored,
        "EX" => Reply::Exists,
        "NF" => Reply::NotFound,
        "MN" => Reply::Noop,
        _ => return Err(ReadError::Server(line)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_the_meta_protocol() {
        let cmd = Cmd::set(b"k1", b"hello").flag("T60").flag("ME");
        assert_eq!(cmd.encode(), b"ms k1 5 T60 ME\r\nhello\r\n");
        assert_eq!(
            Cmd::get(b"k1").flag("v").flag("c").encode(),
            b"mg k1 v c\r\n"
        );
        assert_eq!(Cmd::delete(b"k1").flag("C9").encode(), b"md k1 C9\r\n");
        assert_eq!(Cmd::noop().encode(), b"mn\r\n");
    }

    #[test]
    fn return_flags_parse_and_unknown_ones_are_ignored() {
        let r = RetFlags::parse(&["c42", "f1", "t-1", "kfoo", "b"]);
        assert_eq!(
            r,
            RetFlags {
                cas: Some(42),
                flags: Some(1),
                ttl: Some(-1)
            }
        );
        assert_eq!(RetFlags::parse(&["cx"]).cas, None);
    }

    #[test]
    fn error_lines_map_to_kinds() {
        assert_eq!(
            server_error("h:1", "ms", "SERVER_ERROR object too large for cache").kind(),
            StoreErrorKind::Encode
        );
        assert_eq!(
            server_error("h:1", "ms", "SERVER_ERROR out of memory storing object").kind(),
            StoreErrorKind::Full
        );
        assert_eq!(
            server_error("h:1", "ms", "CLIENT_ERROR bad data chunk").kind(),
            StoreErrorKind::Other
        );
    }
}
