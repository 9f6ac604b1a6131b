//! Serializing the requests of one session.
//!
//! * **Lock mode** ([`Concurrency::Lock`](crate::Concurrency::Lock)): a request takes this
//!   node's lock on its session before the load ([`KeyLocks`]) and, when the store has
//!   leases, the store's lease across nodes; both are held until the response is finished
//!   (or the request dropped), with the lock timeout answering 503.
//! * **Optimistic mode** (the default): no lock around the request, but the
//!   compare-and-set loops of one session on this node run one after the other
//!   ([`SaveQueue`]), so a burst of concurrent writers queues instead of exhausting its
//!   retries.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;

use super::failure::{LoadError, LoadErrorKind};
use super::store_client::StoreClient;
use crate::config::Config;
use crate::key::SessionKey;

/// The per-session save queue of optimistic mode: striped locks, so that taking one costs
/// no allocation. Two sessions on one stripe merely save one after the other.
pub(crate) struct SaveQueue {
    stripes: Box<[Arc<tokio::sync::Mutex<()>>]>,
}

impl Default for SaveQueue {
    fn default() -> SaveQueue {
        SaveQueue {
            stripes: (0..1024)
                .map(|_| Arc::new(tokio::sync::Mutex::new(())))
                .collect(),
        }
    }
}

impl SaveQueue {
    /// Waits (at most `timeout`) for this session's turn; past it, no guard, and the
    /// caller goes on optimistically. The flag says whether it had to wait (the caller's
    /// earlier clock reading is then stale).
    pub(crate) async fn acquire(
        &self,
        key: &SessionKey,
        timeout: Duration,
    ) -> (Option<OwnedMutexGuard<()>>, bool) {
        let stripe = Arc::clone(&self.stripes[key.stripe(self.stripes.len())]);
        if let Ok(guard) = Arc::clone(&stripe).try_lock_owned() {
            return (Some(guard), false);
        }
        let guard = tokio::time::timeout(timeout, stripe.lock_owned())
            .await
            .ok();
        (guard, true)
    }
}

type LockMap = Arc<Mutex<HashMap<SessionKey, Arc<tokio::sync::Mutex<()>>>>>;

/// In-process per-session locks for lock mode.
#[derive(Default)]
pub(crate) struct KeyLocks {
    map: LockMap,
}

struct KeyLockGuard {
    key: SessionKey,
    map: LockMap,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for KeyLockGuard {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        drop(self.guard.take());
        if let Some(m) = map.get(&self.key) {
            // Only the map holds it: nobody waits, forget it.
            if Arc::strong_count(m) == 1 {
                map.remove(&self.key);
            }
        }
    }
}

impl KeyLocks {
    async fn acquire(&self, key: SessionKey, timeout: Duration) -> Option<KeyLockGuard> {
        let mutex = {
            let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(map.entry(key).or_default())
        };
        let guard = tokio::time::timeout(timeout, mutex.lock_owned())
            .await
            .ok()?;
        Some(KeyLockGuard {
            key,
            map: Arc::clone(&self.map),
            guard: Some(guard),
        })
    }

    /// Lock mode: takes this node's lock on the session, then (if the store has leases)
    /// the cross-node lease, all within the lock timeout.
    pub(crate) async fn lock_session(
        &self,
        client: &StoreClient,
        cfg: &Config,
        key: SessionKey,
    ) -> Result<HeldLock, LoadError> {
        let timeout = cfg.lock_timeout();
        let locked = || LoadError::new(LoadErrorKind::Locked(timeout), client.unavailable(), None);
        let started = tokio::time::Instant::now();
        let local = self.acquire(key, timeout).await.ok_or_else(locked)?;
        let mut held = HeldLock {
            _local: local,
            lease: None,
        };
        if client.has_leases() {
            let owner = SessionKey::generate().as_str().to_owned();
            let mut wait = Duration::from_millis(2);
            loop {
                match client.try_lease(&key, &owner, cfg.lock_lease()).await {
                    Ok(true) => {
                        held.lease = Some((client.clone(), key, owner));
                        break;
                    }
                    Ok(false) if started.elapsed() + wait < timeout => {
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(Duration::from_millis(50));
                    }
                    Ok(false) => return Err(locked()),
                    Err(e) => {
                        return Err(LoadError::new(
                            LoadErrorKind::Store,
                            client.unavailable(),
                            Some(e),
                        ));
                    }
                }
            }
        }
        Ok(held)
    }
}

/// What a request holds in lock mode: this node's lock, and the store's lease when the
/// store has leases (released when the request finishes; if the request is dropped first,
/// released by a spawned task, and in any case expiring by itself).
pub(crate) struct HeldLock {
    _local: KeyLockGuard,
    lease: Option<(StoreClient, SessionKey, String)>,
}

impl HeldLock {
    pub(crate) async fn release(mut self) {
        if let Some((client, key, owner)) = self.lease.take() {
            client.release_lease(&key, &owner).await;
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if let Some((client, key, owner)) = self.lease.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move { client.release_lease(&key, &owner).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn node_locks_are_forgotten_once_released() {
        let locks = KeyLocks::default();
        let key = SessionKey::generate();
        let first = locks.acquire(key, Duration::from_secs(1)).await.unwrap();
        // Taken: a second request waits and times out.
        assert!(
            locks
                .acquire(key, Duration::from_millis(20))
                .await
                .is_none()
        );
        drop(first);
        let again = locks.acquire(key, Duration::from_secs(1)).await.unwrap();
        drop(again);
        assert!(locks.map.lock().unwrap().is_empty(), "no entry left behind");
    }
}
