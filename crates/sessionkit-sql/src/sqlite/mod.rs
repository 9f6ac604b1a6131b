//! [`SqliteStore`]: sessions in an SQLite file, the embedded default.
//!
//! # Layout
//!
//! One table (native layout, schema version 2; see [`schema`]): the key, the data as
//! plain JSON, a version number for compare-and-set, the expiry (indexed), created-at,
//! last-seen, the user id (indexed), a rotation-marker flag and the client (IP, user
//! agent, device label). Times are Unix microseconds, so expiry comparisons are integer
//! comparisons. Opening with `Create::IfMissing` upgrades a version 1 table in place.
//!
//! # Concurrency
//!
//! The database runs in WAL mode with `synchronous=NORMAL` (durable across application
//! crashes; the last transactions may be lost on power failure — the usual trade-off for
//! session data, stated in the docs). Reads run on tokio's blocking pool, on a small pool of
//! read connections: a primary-key lookup in WAL mode takes microseconds and never waits
//! for our writer, but when another process holds the file's locks SQLite may wait for
//! seconds inside the read, and that must stall neither the runtime nor the engine's load
//! timeout (an earlier version read on the calling task; the fault tests caught it). Writes go to **one writer
//! thread** that takes every write queued at that moment and commits them in **one
//! transaction** (group commit): under concurrency many sessions share one commit.
//! [`SqliteStore::write_stats`] reports the batch sizes.
//!
//! # Files
//!
//! This folder holds everything SQLite: this module what both layouts share (opening the
//! file, with errors that say what to do, in `file.rs`; the idle-connection pool; running
//! blocking work off the runtime); `native.rs` the native layout ([`SqliteStore`]) with
//! its writer thread (`writer.rs`) and [`schema`] its DDL and pragmas; `django.rs`
//! Django's layout ([`DjangoSqliteStore`], feature
//! `django`) and `django_schema.rs` its DDL.

#[cfg(feature = "django")]
mod django;
#[cfg(feature = "django")]
mod django_schema;
mod file;
mod native;
pub mod schema;
mod writer;

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;
use sessionkit_core::{StoreError, StoreErrorKind};

pub use crate::shared::CLEAR_BATCH;

#[cfg(feature = "django")]
pub use self::django::{DjangoSqliteBuilder, DjangoSqliteStore, SQLITE_BUSY_TIMEOUT};
pub use self::native::{SqliteBuilder, SqliteStore};
pub use self::writer::WriteStats;

pub(crate) use file::{open as open_file, open_read_only};

/// An SQLite error on the database at `path` during `what`: the path, the cause and what
/// to do (see [`file::error`]).
pub(crate) fn sql_error(path: &Path, what: &str, e: rusqlite::Error) -> StoreError {
    file::error(path, what, e)
}

/// Runs `f` on Tokio's blocking threads: SQLite may wait for another process's locks
/// inside a statement, and that must stall neither the runtime nor the engine's timeouts.
/// `what` names the task when it fails (it panicked).
pub(crate) async fn blocking<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::with_source(StoreErrorKind::Other, what, e))?
}

/// Idle connections kept for reuse, at most `max` of them.
pub(crate) struct Idle {
    conns: Mutex<Vec<Connection>>,
    max: usize,
}

impl Idle {
    /// A pool holding `conns`, keeping at most `max`.
    pub(crate) fn new(conns: Vec<Connection>, max: usize) -> Idle {
        Idle {
            conns: Mutex::new(conns),
            max,
        }
    }

    /// An idle connection, or a new one from `open`.
    pub(crate) fn take(
        &self,
        open: impl FnOnce() -> Result<Connection, StoreError>,
    ) -> Result<Connection, StoreError> {
        let idle = self.conns.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(c) => Ok(c),
            None => open(),
        }
    }

    /// Keeps `conn` for reuse, unless the pool is full or `conn` was left inside a
    /// transaction (a failed rollback).
    pub(crate) fn give_back(&self, conn: Connection) {
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < self.max {
            idle.push(conn);
        }
    }
}
