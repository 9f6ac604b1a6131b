//! A standalone server's connections: one multiplexed connection per thread that sends
//! commands, made on that thread's first command and driven by a task on its runtime.
//!
//! # Why per thread
//!
//! The `redis` crate's multiplexed connection runs a connection task: each command goes to
//! it through a channel and its reply comes back through another. With one connection for
//! the process, that task runs wherever it was spawned — under actix-web, on the main
//! thread while requests run on the workers — so every command crossed threads twice, and
//! on two busy cores each crossing is a wake-up and often a context switch. With one
//! connection per thread, a worker's requests and its connection task share the thread:
//! `bench/run.sh compare` measured the actix server's CPU per returning Redis visit at
//! 34 µs against 47 µs with the single connection (docs/BENCHMARKS.md, issue 21's fourth
//! round). Commands of one thread still share one socket, so concurrent requests' commands
//! are still written and answered in batches (a pool of exclusive connections, one command
//! each, was measured slower: it loses that batching).
//!
//! # What it keeps
//!
//! Redis orders commands across connections as it receives them, so a command sent after
//! another's reply arrived sees its effect whichever connections carry them: the store's
//! guarantees (compare-and-set, a read seeing the last acknowledged write) do not depend on
//! the connection. A script and its `WAIT` go in one pipeline, so on one connection.
//!
//! # Lifetimes
//!
//! An entry belongs to a thread and a runtime. It is replaced when that runtime has shut
//! down (a guard task spawned on it clears a flag when the runtime drops its tasks: a
//! connection task of a dead runtime would never answer), and removed when its thread has
//! exited; dropping the store closes every connection. The connection made by `connect` is
//! the connecting thread's entry.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, Weak};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError};
use tokio::runtime::Handle;

/// A standalone server's per-thread connections (see the module docs).
pub(crate) struct Standalone {
    client: redis::Client,
    config: ConnectionManagerConfig,
    threads: RwLock<Vec<ThreadConn>>,
}

/// One thread's connection, on one runtime.
struct ThreadConn {
    /// The thread's marker: dead once the thread has exited.
    thread: Weak<()>,
    runtime: tokio::runtime::Id,
    /// Cleared when the runtime drops its tasks (it shut down).
    live: Arc<AtomicBool>,
    manager: ConnectionManager,
}

thread_local! {
    /// This thread's marker, compared by address (a `Weak` keeps the address taken).
    static THREAD: Arc<()> = Arc::new(());
}

/// Clears its flag when dropped: spawned on a runtime, when that runtime shuts down.
struct RuntimeGuard(Arc<AtomicBool>);

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Standalone {
    /// The server behind `client`, with `first` (already connected, on the current thread
    /// and runtime) as this thread's connection.
    pub(crate) fn new(
        client: redis::Client,
        config: ConnectionManagerConfig,
        first: ConnectionManager,
    ) -> Standalone {
        let standalone = Standalone {
            client,
            config,
            threads: RwLock::new(Vec::new()),
        };
        if let Ok(runtime) = Handle::try_current() {
            let entry = Standalone::entry(&runtime, first);
            standalone.write().push(entry);
        }
        standalone
    }

    /// This thread's connection on the current runtime, made now if it has none.
    pub(crate) fn manager(&self) -> Result<ConnectionManager, RedisError> {
        let runtime = Handle::try_current().map_err(|_| {
            RedisError::from((
                ErrorKind::Io,
                "a Redis command was sent outside a Tokio runtime",
            ))
        })?;
        let me = THREAD.with(Arc::as_ptr);
        let id = runtime.id();
        let mine = |c: &ThreadConn| {
            c.thread.as_ptr() == me && c.runtime == id && c.live.load(Ordering::Acquire)
        };
        if let Some(c) = self.read().iter().find(|c| mine(c)) {
            return Ok(c.manager.clone());
        }
        let mut threads = self.write();
        if let Some(c) = threads.iter().find(|c| mine(c)) {
            return Ok(c.manager.clone());
        }
        // Entries of exited threads and shut-down runtimes go (their connections close);
        // so does this thread's entry of an earlier runtime.
        threads.retain(|c| {
            c.thread.strong_count() > 0 && c.live.load(Ordering::Acquire) && c.thread.as_ptr() != me
        });
        let manager =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())?;
        threads.push(Standalone::entry(&runtime, manager.clone()));
        Ok(manager)
    }

    /// How many threads have a connection (for tests).
    #[cfg(test)]
    fn connections(&self) -> usize {
        self.read().len()
    }

    fn entry(runtime: &Handle, manager: ConnectionManager) -> ThreadConn {
        let live = Arc::new(AtomicBool::new(true));
        let guard = RuntimeGuard(Arc::clone(&live));
        runtime.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        ThreadConn {
            thread: THREAD.with(Arc::downgrade),
            runtime: runtime.id(),
            live,
            manager,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ThreadConn>> {
        self.threads.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<ThreadConn>> {
        self.threads.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> redis::Client {
        // Lazy managers connect on first use: none of these tests sends a command.
        redis::Client::open("redis://127.0.0.1:1/").unwrap()
    }

    fn standalone() -> Standalone {
        Standalone {
            client: client(),
            config: ConnectionManagerConfig::new(),
            threads: RwLock::new(Vec::new()),
        }
    }

    #[test]
    fn one_connection_per_thread_and_runtime() {
        let s = Arc::new(standalone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            s.manager().unwrap();
            s.manager().unwrap();
        });
        assert_eq!(s.connections(), 1, "the same thread reuses its connection");
        let other = Arc::clone(&s);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async { other.manager().unwrap() });
        })
        .join()
        .unwrap();
        assert_eq!(s.connections(), 2, "another thread gets its own");
        rt.block_on(async { s.manager().unwrap() });
        assert_eq!(
            s.connections(),
            2,
            "an exited thread's entry stays until a new connection is made"
        );
        let later = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        later.block_on(async { s.manager().unwrap() });
        assert_eq!(
            s.connections(),
            1,
            "a new connection drops the exited thread's and this thread's earlier one"
        );
    }

    #[test]
    fn a_shut_down_runtime_connection_is_replaced() {
        let s = standalone();
        let first = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        first.block_on(async { s.manager().unwrap() });
        let live = Arc::clone(&s.read()[0].live);
        drop(first);
        assert!(
            !live.load(Ordering::Acquire),
            "the guard saw the runtime go"
        );
        let second = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        second.block_on(async { s.manager().unwrap() });
        assert_eq!(s.connections(), 1, "replaced, not added");
        assert!(s.read()[0].live.load(Ordering::Acquire));
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        assert!(standalone().manager().is_err());
    }
}
