//! [`RedisBuilder`]: a [`RedisStore`]'s options, then `connect`.

use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::StoreError;

use crate::conn::{self, MAX_REPLICA_WAIT, ReplicaWait};
use crate::keys::{KeyLayout, RecordFormat};
use crate::scripts::SCRIPTS;
use crate::{Inner, RedisStore};

/// Options for a [`RedisStore`], from [`RedisStore::builder`] or
/// [`RedisStore::cluster_builder`]; [`connect`](RedisBuilder::connect) ends it.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use std::time::Duration;
/// use sessionkit_redis::RedisStore;
///
/// let store = RedisStore::builder("redis://127.0.0.1:6379")
///     .with_prefix("shop:")
///     .with_replica_wait(1, Duration::from_millis(500))
///     .connect()
///     .await?;
/// assert_eq!(store.layout().prefix(), "shop:");
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `connect`"]
pub struct RedisBuilder {
    pub(crate) target: conn::Target,
    pub(crate) layout: KeyLayout,
    pub(crate) replica_wait: Option<ReplicaWait>,
    pub(crate) format: RecordFormat,
}

impl RedisBuilder {
    /// Puts every key under `prefix` instead of [`DEFAULT_PREFIX`](crate::DEFAULT_PREFIX), so that several
    /// applications (or tests) share one Redis. End it with `:`; avoid `{` and `}` (see
    /// [`keys`](crate::keys)).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> RedisBuilder {
        self.layout = KeyLayout::new(prefix);
        self
    }

    /// After every write, waits until `replicas` replicas acknowledged it, at most
    /// `timeout` (capped at 2 s); fewer acknowledgements make the write return
    /// [`StoreErrorKind::Unavailable`](sessionkit_core::StoreErrorKind::Unavailable). `replicas == 0` turns waiting off (the default).
    /// What this guarantees, and what it does not, is in the
    /// [crate docs](crate#durability-and-failover).
    pub fn with_replica_wait(mut self, replicas: u32, timeout: Duration) -> RedisBuilder {
        self.replica_wait = replica_wait(replicas, timeout);
        self
    }

    /// Writes session records in `format` (default [`RecordFormat::Packed`]); records of
    /// either format are read whatever this says. [`RecordFormat::Hash`] is for the first
    /// step of an upgrade from a build that wrote hashes (it keeps writing what such
    /// processes can read), or for going back to one: see [`RecordFormat`].
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sessionkit_core::StoreError> {
    /// use sessionkit_redis::{RecordFormat, RedisStore};
    ///
    /// // Step 1 of the upgrade, while processes of the earlier build still run:
    /// let store = RedisStore::builder("redis://127.0.0.1:6379")
    ///     .with_record_format(RecordFormat::Hash)
    ///     .connect()
    ///     .await?;
    /// assert_eq!(store.record_format(), RecordFormat::Hash);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_record_format(mut self, format: RecordFormat) -> RedisBuilder {
        self.format = format;
        self
    }

    /// Connects and loads the session scripts. Fails with [`StoreErrorKind::Config`](sessionkit_core::StoreErrorKind::Config) for a
    /// bad URL or no seed, and [`StoreErrorKind::Unavailable`](sessionkit_core::StoreErrorKind::Unavailable) within a few seconds when
    /// the server does not answer.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let (conn, description) = self.target.connect().await?;
        conn.preload(&SCRIPTS.all()).await?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                conn,
                layout: self.layout,
                description,
                replica_wait: self.replica_wait,
                format: self.format,
            }),
        })
    }
}

pub(crate) fn replica_wait(replicas: u32, timeout: Duration) -> Option<ReplicaWait> {
    (replicas > 0).then(|| ReplicaWait {
        replicas,
        timeout: timeout.min(MAX_REPLICA_WAIT),
    })
}
