//! Stores that misbehave on purpose, for tests of the engine, the adapters and
//! applications: a store that is down, one that never answers, one that counts what it is
//! asked, and a trivial client-side store.
//!
//! ```
//! use sessionkit_core::{Config, Engine, LoadErrorKind};
//! use sessionkit_testkit::fakes::Down;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let engine = Engine::new(Down, Config::default());
//! let req = engine.begin(Some("sessionid=abcdefghijklmnopqrstuvwxyz012345"));
//! let err = req.load().await.unwrap_err();
//! assert_eq!(err.kind(), LoadErrorKind::Store);
//! assert_eq!(err.failure().status, 503);
//! # }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sessionkit_core::{
    ClientStore, CookieContents, CreateOutcome, Data, Lookup, MemoryStore, Record, SaveOutcome,
    SessionKey, SessionStore, StoreError, StoreErrorKind, Token,
};
use time::OffsetDateTime;

/// A store whose server is down: every operation fails with
/// [`StoreErrorKind::Unavailable`] ("connection refused").
#[derive(Clone, Copy, Debug, Default)]
pub struct Down;

fn refused() -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, "connection refused")
}

impl SessionStore for Down {
    async fn load(&self, _: &SessionKey, _: OffsetDateTime) -> Result<Lookup, StoreError> {
        Err(refused())
    }
    async fn create(
        &self,
        _: &SessionKey,
        _: &Record,
        _: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        Err(refused())
    }
    async fn save(
        &self,
        _: &SessionKey,
        _: &Record,
        _: &Token,
        _: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        Err(refused())
    }
    async fn delete(&self, _: &SessionKey) -> Result<(), StoreError> {
        Err(refused())
    }
    async fn touch(
        &self,
        _: &SessionKey,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Err(refused())
    }
    async fn clear_expired_with_progress(
        &self,
        _: OffsetDateTime,
        _: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        Err(refused())
    }
}

/// A store that never answers a load (an unresponsive server); its writes succeed as a
/// store without sessions would answer them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hang;

impl SessionStore for Hang {
    async fn load(&self, _: &SessionKey, _: OffsetDateTime) -> Result<Lookup, StoreError> {
        tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
        Ok(Lookup::Missing)
    }
    async fn create(
        &self,
        _: &SessionKey,
        _: &Record,
        _: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        Ok(CreateOutcome::Collision)
    }
    async fn save(
        &self,
        _: &SessionKey,
        _: &Record,
        _: &Token,
        _: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        Ok(SaveOutcome::Missing)
    }
    async fn delete(&self, _: &SessionKey) -> Result<(), StoreError> {
        Ok(())
    }
    async fn touch(
        &self,
        _: &SessionKey,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn clear_expired_with_progress(
        &self,
        _: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        progress(0);
        Ok(0)
    }
}

/// How many times each operation reached a [`Counting`] store.
#[derive(Debug, Default)]
pub struct Counts {
    loads: AtomicU64,
    creates: AtomicU64,
    saves: AtomicU64,
    deletes: AtomicU64,
    touches: AtomicU64,
}

impl Counts {
    /// Loads so far.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::SeqCst)
    }
    /// Creates so far.
    pub fn creates(&self) -> u64 {
        self.creates.load(Ordering::SeqCst)
    }
    /// Saves so far.
    pub fn saves(&self) -> u64 {
        self.saves.load(Ordering::SeqCst)
    }
    /// Deletes so far.
    pub fn deletes(&self) -> u64 {
        self.deletes.load(Ordering::SeqCst)
    }
    /// Touches so far.
    pub fn touches(&self) -> u64 {
        self.touches.load(Ordering::SeqCst)
    }
    /// Every operation so far.
    pub fn total(&self) -> u64 {
        self.loads() + self.creates() + self.saves() + self.deletes() + self.touches()
    }
}

/// A store that counts the operations it is asked for and forwards them to another
/// (by default a fresh [`MemoryStore`]). Clones share the counts.
#[derive(Clone, Debug)]
pub struct Counting<S = MemoryStore> {
    inner: S,
    counts: Arc<Counts>,
}

impl Default for Counting<MemoryStore> {
    fn default() -> Self {
        Counting::new(MemoryStore::new())
    }
}

impl<S> Counting<S> {
    /// Counts the calls that reach `inner`.
    pub fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            counts: Arc::default(),
        }
    }

    /// The counts (shared by every clone).
    pub fn counts(&self) -> Arc<Counts> {
        Arc::clone(&self.counts)
    }

    /// The store it forwards to.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: SessionStore> SessionStore for Counting<S> {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        self.counts.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key, now).await
    }
    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.counts.creates.fetch_add(1, Ordering::SeqCst);
        self.inner.create(key, record, now).await
    }
    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.counts.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(key, record, token, now).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.counts.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.counts.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(key, expires_at, now).await
    }
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.inner.clear_expired_with_progress(now, progress).await
    }
    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.inner.retire(key, until).await
    }
    fn describe(&self) -> String {
        format!("counting {}", self.inner.describe())
    }
    fn listing(&self) -> Option<&dyn sessionkit_core::DynSessionListing> {
        self.inner.listing()
    }
    fn user_index(&self) -> Option<&dyn sessionkit_core::DynUserIndex> {
        self.inner.user_index()
    }
    fn leases(&self) -> Option<&dyn sessionkit_core::DynLeaseStore> {
        self.inner.leases()
    }
    fn python_values(&self) -> bool {
        self.inner.python_values()
    }
}

/// A client-side store for tests: the cookie value is `<unix seconds>.<hex of the JSON>`,
/// signed by nothing (never use it outside tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainCookie;

impl ClientStore for PlainCookie {
    fn decode(&self, value: &str, _now: OffsetDateTime) -> Option<CookieContents> {
        let (ts, hex) = value.split_once('.')?;
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect();
        let data = Data::from_json(String::from_utf8(bytes?).ok()?.into()).ok()?;
        let issued_at = OffsetDateTime::from_unix_timestamp(ts.parse().ok()?).ok()?;
        Some(CookieContents { data, issued_at })
    }

    fn encode(&self, data: &Data, now: OffsetDateTime) -> Result<String, StoreError> {
        let hex: String = data.to_json().bytes().map(|b| format!("{b:02x}")).collect();
        Ok(format!("{}.{hex}", now.unix_timestamp()))
    }

    fn describe(&self) -> String {
        "plain cookie (tests only)".to_owned()
    }
}
