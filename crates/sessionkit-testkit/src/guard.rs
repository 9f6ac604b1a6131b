//! Keeping tests apart and resources alive: file locks shared across test processes, and
//! a store that holds a guard (a lock, a temp dir) as long as it lives.
//!
//! Several crates' tests share one server (the loopback Redis Cluster) or kill servers
//! that others use; they serialize through file locks in the temp dir, so the locking
//! works alike across `cargo test` threads and nextest processes, and across crates when
//! they name the same file ([`redis_cluster_lock`]).

use std::fs::File;

use sessionkit_core::{
    CreateOutcome, DynLeaseStore, DynSessionListing, DynUserIndex, Lookup, Record, SaveOutcome,
    SessionKey, SessionStore, StoreError, Token,
};
use time::OffsetDateTime;

/// Takes a lock on the file `name` in the temp dir: exclusive, or shared with others that
/// take it shared. Released when the returned file is dropped.
pub async fn lock_file(name: &str, exclusive: bool) -> File {
    let path = std::env::temp_dir().join(name);
    tokio::task::spawn_blocking(move || {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .expect("lock file");
        if exclusive {
            file.lock().expect("exclusive lock");
        } else {
            file.lock_shared().expect("shared lock");
        }
        file
    })
    .await
    .expect("lock task")
}

/// The lock on the loopback Redis Cluster, shared by the tests of every crate that use
/// it: shared for ordinary cluster tests, exclusive for one that stops nodes.
pub async fn redis_cluster_lock(exclusive: bool) -> File {
    lock_file("sessionkit-redis-cluster-tests.lock", exclusive).await
}

/// A store and something that must live as long as it (a lock, a temp dir). Every store
/// operation goes to `store`.
#[derive(Debug)]
pub struct Guarded<S, G> {
    /// The store.
    pub store: S,
    /// Dropped with the store, not before.
    pub guard: G,
}

impl<S, G> Guarded<S, G> {
    /// `store`, keeping `guard` alive with it.
    pub fn new(store: S, guard: G) -> Guarded<S, G> {
        Guarded { store, guard }
    }
}

impl<S, G> std::ops::Deref for Guarded<S, G> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.store
    }
}

impl<S: SessionStore, G: Send + Sync + 'static> SessionStore for Guarded<S, G> {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        self.store.load(key, now).await
    }
    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.store.create(key, record, now).await
    }
    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.store.save(key, record, token, now).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.store.delete(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.store.touch(key, expires_at, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.store.clear_expired(now).await
    }
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.store.clear_expired_with_progress(now, progress).await
    }
    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.store.retire(key, until).await
    }
    fn describe(&self) -> String {
        self.store.describe()
    }
    fn listing(&self) -> Option<&dyn DynSessionListing> {
        self.store.listing()
    }
    fn user_index(&self) -> Option<&dyn DynUserIndex> {
        self.store.user_index()
    }
    fn leases(&self) -> Option<&dyn DynLeaseStore> {
        self.store.leases()
    }
    fn python_values(&self) -> bool {
        self.store.python_values()
    }
}
