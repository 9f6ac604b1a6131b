//! A standalone server's connections: one multiplexed connection per Tokio runtime that
//! sends commands, made on its first command and driven by a task on that runtime.
//!
//! # Why per runtime
//!
//! The `redis` crate's multiplexed connection runs a connection task: each command goes to
//! it through a channel and its reply comes back through another. With one connection for
//! the process, that task runs on the runtime that connected. actix-web runs each worker
//! on a runtime of its own, on its own thread, and the store usually connects on the main
//! thread's: every command then crossed threads twice, and on two busy cores each crossing
//! is a wake-up and often a context switch. With one connection per runtime, a worker's
//! requests and its connection task share the worker's thread: `bench/run.sh compare`
//! measured the actix server's CPU per returning Redis visit at 36 µs against 47.5 µs with
//! the single connection (docs/BENCHMARKS.md, issue 21's fourth round). It also means no
//! runtime's commands wait on another runtime's connection task: before, a store connected
//! on a `current_thread` runtime that then stopped being driven (between two `block_on`s)
//! left every other runtime's commands unanswered. A multi-threaded
//! runtime (axum's usual) has one connection for all its workers, as before: its scheduler
//! already runs the connection task on the workers, and one connection per worker
//! thread measured no faster there (fewer commands per batch). Commands of one runtime
//! share one socket, so concurrent requests' commands are still written and answered in
//! batches (a pool of exclusive connections, one command each, measured slower: it loses
//! that batching).
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
//! A runtime's connection closes when that runtime shuts down (its connection task goes
//! with the runtime's tasks). A guard task spawned beside it, waiting on a oneshot channel
//! whose sender the entry holds, goes too: the sender then reads closed, which marks the
//! entry dead, so that a later runtime that happens to get the same id makes a connection
//! of its own rather than fail its first command on the closed one. Dead entries are
//! dropped when the next connection is made; dropping an entry ends its guard task, and
//! dropping the store closes every connection. The connection made by `connect` is the connecting
//! runtime's, so under actix-web there are as many connections as workers, plus the main
//! thread's, idle; a program that makes a short-lived runtime per call pays a connection
//! per runtime.

use std::sync::RwLock;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A standalone server's per-runtime connections (see the module docs).
pub(crate) struct Standalone {
    client: redis::Client,
    config: ConnectionManagerConfig,
    runtimes: RwLock<Vec<RuntimeConn>>,
}

/// One runtime's connection.
struct RuntimeConn {
    runtime: tokio::runtime::Id,
    manager: ConnectionManager,
    /// Paired with a guard task on the runtime that waits for it: closed once the runtime
    /// dropped that task (it shut down), and dropping it ends the task. Runtime ids may be
    /// reused once a runtime is gone: a closed entry never matches.
    guard: oneshot::Sender<()>,
}

impl RuntimeConn {
    fn live(&self) -> bool {
        !self.guard.is_closed()
    }
}

impl Standalone {
    /// The server behind `client`, with `first` (already connected, on the current
    /// runtime) as this runtime's connection.
    pub(crate) fn new(
        client: redis::Client,
        config: ConnectionManagerConfig,
        first: ConnectionManager,
    ) -> Standalone {
        let standalone = Standalone {
            client,
            config,
            runtimes: RwLock::new(Vec::new()),
        };
        if let Ok(runtime) = Handle::try_current() {
            standalone.write().push(Standalone::entry(&runtime, first));
        }
        standalone
    }

    /// The current runtime's connection, made now if it has none.
    pub(crate) fn manager(&self) -> Result<ConnectionManager, RedisError> {
        let runtime = Handle::try_current().map_err(|_| {
            RedisError::from((
                ErrorKind::Client,
                "a Redis command was sent outside a Tokio runtime",
            ))
        })?;
        let id = runtime.id();
        let mine = |c: &RuntimeConn| c.runtime == id && c.live();
        if let Some(c) = self.read().iter().find(|c| mine(c)) {
            return Ok(c.manager.clone());
        }
        let mut runtimes = self.write();
        if let Some(c) = runtimes.iter().find(|c| mine(c)) {
            return Ok(c.manager.clone());
        }
        // The entries of runtimes that shut down go (their connections close).
        runtimes.retain(RuntimeConn::live);
        let manager =
            ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())?;
        runtimes.push(Standalone::entry(&runtime, manager.clone()));
        Ok(manager)
    }

    /// How many runtimes have a connection (for tests).
    #[cfg(test)]
    fn connections(&self) -> usize {
        self.read().len()
    }

    fn entry(runtime: &Handle, manager: ConnectionManager) -> RuntimeConn {
        let (guard, ended) = oneshot::channel::<()>();
        // Until the entry goes (the sender is dropped) or the runtime shuts down.
        runtime.spawn(async move {
            let _ = ended.await;
        });
        RuntimeConn {
            runtime: runtime.id(),
            manager,
            guard,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<RuntimeConn>> {
        self.runtimes.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<RuntimeConn>> {
        self.runtimes.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn standalone() -> Standalone {
        Standalone {
            // Lazy connections connect on first use: none of these tests sends a command.
            client: redis::Client::open("redis://127.0.0.1:1/").unwrap(),
            config: ConnectionManagerConfig::new(),
            runtimes: RwLock::new(Vec::new()),
        }
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn one_connection_per_runtime_shared_by_its_threads() {
        let s = Arc::new(standalone());
        let rt = current_thread();
        rt.block_on(async {
            s.manager().unwrap();
            s.manager().unwrap();
        });
        assert_eq!(s.connections(), 1, "the same runtime reuses its connection");
        let other = Arc::clone(&s);
        std::thread::spawn(move || current_thread().block_on(async { other.manager().unwrap() }))
            .join()
            .unwrap();
        assert_eq!(s.connections(), 2, "another runtime gets its own");
        let multi = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::clone(&s);
        let threads = multi.block_on(async move {
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let s = Arc::clone(&shared);
                    tokio::spawn(async move {
                        // Blocking a little makes the other worker take tasks too.
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        s.manager().unwrap();
                        std::thread::current().id()
                    })
                })
                .collect();
            let mut threads = Vec::new();
            for t in tasks {
                threads.push(t.await.unwrap());
            }
            threads.sort_unstable_by_key(|t| format!("{t:?}"));
            threads.dedup();
            threads.len()
        });
        assert!(threads >= 2, "the tasks ran on {threads} worker thread(s)");
        assert_eq!(
            s.connections(),
            2,
            "the other thread's runtime shut down and its entry went; one for all the \
             multi-threaded runtime's workers"
        );
        // The runtime's guard ends with its entry.
        drop(s);
        multi.block_on(async {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks()
                > 0
                && std::time::Instant::now() < deadline
            {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            assert_eq!(
                tokio::runtime::Handle::current()
                    .metrics()
                    .num_alive_tasks(),
                0,
                "no task left behind by a dropped store"
            );
        });
    }

    #[test]
    fn a_shut_down_runtime_connection_is_replaced() {
        let s = standalone();
        let first = current_thread();
        first.block_on(async { s.manager().unwrap() });
        drop(first);
        assert!(!s.read()[0].live(), "the guard saw the runtime go");
        let second = current_thread();
        second.block_on(async { s.manager().unwrap() });
        assert_eq!(s.connections(), 1, "replaced, not added");
        assert!(s.read()[0].live());
    }

    #[test]
    fn outside_a_runtime_is_an_error_not_a_panic() {
        assert!(standalone().manager().is_err());
    }
}
