//! Store URLs: how the command line names a store.
//!
//! | URL | store |
//! | --- | --- |
//! | `sqlite://sessions.sqlite3` | SQLite, path relative to the working directory |
//! | `sqlite:///var/lib/app/sessions.sqlite3` | SQLite, absolute path |
//! | `memory://` | in-process memory (lost on exit) |

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use sessionkit_core::{DynSessionStore, MemoryStore};
use sessionkit_sql::SqliteStore;

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `memory://`
    Memory,
    /// `sqlite://PATH`
    Sqlite(PathBuf),
}

/// The forms accepted, for error messages.
pub const ACCEPTED: &str = "sqlite://FILE, sqlite:///ABSOLUTE/PATH or memory://";

/// Parses a store URL.
pub fn parse(url: &str) -> anyhow::Result<StoreUrl> {
    let Some((scheme, rest)) = url.split_once("://") else {
        bail!("invalid store URL {url:?}: expected {ACCEPTED}");
    };
    match scheme {
        "memory" if rest.is_empty() => Ok(StoreUrl::Memory),
        "memory" => bail!("invalid store URL {url:?}: memory:// takes no path"),
        "sqlite" => {
            if rest.is_empty() {
                bail!(
                    "invalid store URL {url:?}: sqlite:// needs a file path, e.g. sqlite://sessions.sqlite3"
                );
            }
            Ok(StoreUrl::Sqlite(PathBuf::from(rest)))
        }
        other => bail!("unsupported store {other:?} in {url:?}: expected {ACCEPTED}"),
    }
}

/// Opens the store a URL names.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn DynSessionStore>> {
    Ok(match parse(url)? {
        StoreUrl::Memory => Arc::new(MemoryStore::new()),
        StoreUrl::Sqlite(path) => Arc::new(
            SqliteStore::open(&path)
                .await
                .map_err(|e| anyhow::anyhow!(e.report()))
                .with_context(|| format!("cannot open store {url}"))?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse("memory://").unwrap(), StoreUrl::Memory);
        assert_eq!(
            parse("sqlite://sessions.sqlite3").unwrap(),
            StoreUrl::Sqlite("sessions.sqlite3".into())
        );
        assert_eq!(
            parse("sqlite:///var/x.db").unwrap(),
            StoreUrl::Sqlite("/var/x.db".into())
        );
        for bad in ["", "sessions.sqlite3", "sqlite://", "memory://x", "ftp://x"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("store"), "{bad}: {err}");
        }
    }
}
