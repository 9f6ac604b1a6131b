//! The servers of a `memcached://` URL, and which one holds a key.

use std::fmt;
use std::sync::Arc;

use sessionkit_core::{StoreError, StoreErrorKind};

use crate::conn::{Cmd, Reply, Server, Settings};
use crate::ring;

/// Memcached's longest key, in bytes.
pub(crate) const MAX_KEY_LEN: usize = 250;

/// One server as a `memcached://` URL names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerSpec {
    /// What to connect to: `host:port` (IPv6 in brackets).
    pub(crate) addr: String,
    /// The name pymemcache's `HashClient` hashes: `{host}:{port}`, brackets removed.
    pub(crate) name: String,
}

/// Parses `memcached://host[:port][,host[:port]...]` (`;` also separates, as in Django's
/// `LOCATION`; the port defaults to 11211, as pymemcache's).
pub(crate) fn parse_url(url: &str) -> Result<Vec<ServerSpec>, StoreError> {
    let bad = |why: &str| {
        StoreError::new(
            StoreErrorKind::Config,
            // The URL itself is not repeated: it could hold a password by mistake.
            format!("invalid memcached URL: {why}; expected memcached://HOST:PORT[,HOST:PORT...]"),
        )
    };
    let rest = url
        .strip_prefix("memcached://")
        .ok_or_else(|| bad("it must start with memcached://"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@']) {
        return Err(bad(
            "a memcached URL names servers only (no path, options or credentials)",
        ));
    }
    let mut specs = Vec::new();
    for part in rest
        .split([',', ';'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let spec = parse_server(part).ok_or_else(|| bad(&format!("bad server {part:?}")))?;
        if specs.iter().any(|s: &ServerSpec| s.name == spec.name) {
            return Err(bad(&format!("server {part:?} is listed twice")));
        }
        specs.push(spec);
    }
    if specs.is_empty() {
        return Err(bad("no server"));
    }
    Ok(specs)
}

/// pymemcache's `normalize_server_spec` for `host[:port]`.
fn parse_server(s: &str) -> Option<ServerSpec> {
    let (host, port) = if !s.contains(':') || s.ends_with(']') {
        (s, 11211)
    } else {
        let (h, p) = s.rsplit_once(':')?;
        (h, p.parse::<u16>().ok()?)
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains(['[', ']', ' ']) {
        return None;
    }
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Some(ServerSpec {
        addr,
        name: format!("{host}:{port}"),
    })
}

/// Whether memcached takes `key` as it is: 1 to 250 bytes, no spaces or control
/// characters (Django's `memcache_key_warnings`).
pub(crate) fn valid_key(key: &[u8]) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.iter().all(|&b| b > 0x20 && b != 0x7f)
}

/// What pymemcache hashes for a key: the low byte of each character of the Python
/// string (the key itself when it is ASCII; a UTF-8 key, e.g. under a non-ASCII
/// `KEY_PREFIX`, is hashed by characters as pymemcache does).
fn hash_input(key: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match std::str::from_utf8(key) {
        Ok(s) if !s.is_ascii() => s.chars().map(|c| (u32::from(c) & 0xff) as u8).collect(),
        _ => std::borrow::Cow::Borrowed(key),
    }
}

/// The servers, each with its pool.
#[derive(Clone)]
pub(crate) struct Pool {
    servers: Arc<[Arc<Server>]>,
    names: Arc<[String]>,
    description: String,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

impl Pool {
    /// The pool of `specs`; `connect` checks that at least one server answers (and warns
    /// about each one that does not).
    pub(crate) async fn connect(
        specs: Vec<ServerSpec>,
        settings: Settings,
    ) -> Result<Pool, StoreError> {
        let description = format!(
            "memcached://{}",
            specs
                .iter()
                .map(|s| s.addr.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        let names: Arc<[String]> = specs.iter().map(|s| s.name.clone()).collect();
        let servers: Arc<[Arc<Server>]> = specs
            .into_iter()
            .map(|s| Arc::new(Server::new(s.addr, settings)))
            .collect();
        let pool = Pool {
            servers,
            names,
            description,
        };
        let mut first_error = None;
        let mut up = 0;
        for server in pool.servers.iter() {
            match server.call(&Cmd::noop()).await {
                Ok(Reply::Noop) => up += 1,
                Ok(other) => {
                    return Err(StoreError::new(
                        StoreErrorKind::Config,
                        format!(
                            "{} does not speak memcached's meta protocol (mn answered {other:?}); memcached 1.6 or later is needed",
                            server.addr()
                        ),
                    ));
                }
                Err(e) => {
                    tracing::warn!(server = server.addr(), error = %e.report(), "memcached server down at startup; its keys are unavailable until it answers");
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) if up == 0 => Err(e),
            _ => Ok(pool),
        }
    }

    /// `memcached://host:port,...`.
    pub(crate) fn description(&self) -> &str {
        &self.description
    }

    fn index_for(&self, key: &[u8]) -> usize {
        ring::pick(&self.names, &hash_input(key)).unwrap_or(0)
    }

    /// The server that holds `key`.
    pub(crate) fn server_for(&self, key: &[u8]) -> &Arc<Server> {
        &self.servers[self.index_for(key)]
    }

    /// Sends `cmd` to the server of its key.
    pub(crate) async fn call(&self, key: &[u8], cmd: &Cmd<'_>) -> Result<Reply, StoreError> {
        self.server_for(key).call(cmd).await
    }

    /// The hashing name of the server that holds `key` (`host:port`).
    pub(crate) fn name_for(&self, key: &[u8]) -> &str {
        &self.names[self.index_for(key)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_servers_as_pymemcache_does() {
        let specs =
            parse_url("memcached://127.0.0.1:11211,cache.local;[::1]:11300,[::2]/").unwrap();
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        let addrs: Vec<&str> = specs.iter().map(|s| s.addr.as_str()).collect();
        assert_eq!(
            names,
            [
                "127.0.0.1:11211",
                "cache.local:11211",
                "::1:11300",
                "::2:11211"
            ]
        );
        assert_eq!(
            addrs,
            [
                "127.0.0.1:11211",
                "cache.local:11211",
                "[::1]:11300",
                "[::2]:11211"
            ]
        );
    }

    #[test]
    fn bad_urls_are_configuration_errors() {
        for bad in [
            "redis://h:1",
            "memcached://",
            "memcached://h:port",
            "memcached://h:1/0",
            "memcached://user:pw@h:1",
            "memcached://h:1?timeout=3",
            "memcached://h:1,h:1",
            "memcached://h:70000",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::Config, "{bad}");
            assert!(!e.message().contains("pw"), "{bad}");
        }
    }

    #[test]
    fn non_ascii_keys_hash_by_characters() {
        assert_eq!(&*hash_input(b"abc"), b"abc");
        assert_eq!(&*hash_input("é:1:x".as_bytes()), b"\xe9:1:x");
        assert_eq!(&*hash_input("€".as_bytes()), b"\xac");
    }

    #[test]
    fn keys_follow_memcached_rules() {
        assert!(valid_key(b":1:django.contrib.sessions.cacheabc"));
        assert!(valid_key(&[b'k'; 250]));
        for bad in [&b""[..], &[b'k'; 251], b"a b", b"a\nb", b"a\x7f"] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }
}
