//! [`spawn_cleanup`]: the periodic removal of expired sessions.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::clock::Clock;
use crate::store::{SessionStore, StoreError, StoreErrorKind};

/// The shortest period [`spawn_cleanup`] runs at; a shorter one (including zero) is raised
/// to it, with a warning.
pub const MIN_CLEANUP_PERIOD: Duration = Duration::from_secs(1);

/// Runs [`SessionStore::clear_expired`] every `every` (at least [`MIN_CLEANUP_PERIOD`]),
/// logging what it removed, until the returned handle is aborted or dropped with the
/// runtime — or at once, with an info line, on a store that answers
/// [`StoreErrorKind::Unsupported`] (memcached, whose TTLs evict expired sessions).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sessionkit_core::{spawn_cleanup, MemoryStore, SystemClock};
///
/// let task = spawn_cleanup(MemoryStore::new(), Arc::new(SystemClock), Duration::from_secs(60));
/// task.abort();
/// # }
/// ```
pub fn spawn_cleanup<S: SessionStore>(
    store: S,
    clock: Arc<dyn Clock>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    let store = Arc::new(store);
    spawn_every(every, move || {
        let (store, now) = (Arc::clone(&store), clock.now());
        async move { store.clear_expired(now).await }
    })
}

/// The one cleanup loop: `clear` every `every` (raised to [`MIN_CLEANUP_PERIOD`]), logging
/// what it removed; stops on a store that cannot clear.
fn spawn_every<F, Fut>(every: Duration, mut clear: F) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<u64, StoreError>> + Send,
{
    let every = period(every);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match clear().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "expired sessions removed"),
                Err(e) if e.kind() == StoreErrorKind::Unsupported => return stop(&e),
                Err(e) => tracing::warn!(error = %e.report(), "clearing expired sessions failed"),
            }
        }
    })
}

/// Ends a cleanup task on a store that cannot clear expired sessions (its own expiry
/// removes them: memcached's TTLs).
fn stop(e: &StoreError) {
    tracing::info!(reason = %e.message(), "no periodic cleanup for this store");
}

/// The period, raised to [`MIN_CLEANUP_PERIOD`] (with a warning) when shorter.
fn period(every: Duration) -> Duration {
    if every < MIN_CLEANUP_PERIOD {
        tracing::warn!(requested = ?every, used = ?MIN_CLEANUP_PERIOD, "cleanup period too short; raised");
        MIN_CLEANUP_PERIOD
    } else {
        every
    }
}

/// [`Engine::spawn_cleanup`]: through the engine, so each cleanup that removed something is
/// an `expired` event.
pub(super) fn spawn_engine_cleanup(engine: Engine, every: Duration) -> tokio::task::JoinHandle<()> {
    spawn_every(every, move || {
        let engine = engine.clone();
        async move { engine.clear_expired().await }
    })
}
