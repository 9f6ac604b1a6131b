//! The one way the engine calls a server-side store. Every call:
//!
//! * maps the client's key to the key at rest (its hash with
//!   [`Config::hash_keys_at_rest`](crate::Config::hash_keys_at_rest));
//! * runs under a timeout (the load timeout for the request's load, the save timeout for
//!   everything after the handler) — a store that answers at once arms no timer;
//! * runs inside a `tracing` span (`sessionkit.store`, with the operation) and records
//!   its latency (`sessionkit_store_duration_seconds`) and outcome
//!   (`sessionkit_store_operations_total`);
//! * turns a store error into the request's answer: logged once with its cause, counted,
//!   and mapped to a [`LoadError`] (the load) or a [`Failure`] (a 503, everything else).

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::failure::{Failure, LoadError, LoadErrorKind};
use super::stats::{Ev, Stats};
use crate::config::Config;
use crate::key::SessionKey;
use crate::store::{
    CreateOutcome, DynSessionStore, Lookup, Record, SaveOutcome, StoreError, StoreErrorKind, Token,
};

/// The engine's handle on its server-side store. Cloning is cheap (reference counts).
#[derive(Clone)]
pub(crate) struct StoreClient {
    store: Arc<dyn DynSessionStore>,
    stats: Arc<Stats>,
    hash_keys: bool,
    load_timeout: Duration,
    save_timeout: Duration,
    /// The 503 every failed call answers with (the configured `Retry-After`).
    unavailable: Failure,
}

impl StoreClient {
    pub(crate) fn new(store: Arc<dyn DynSessionStore>, cfg: &Config, stats: Arc<Stats>) -> Self {
        StoreClient {
            store,
            stats,
            hash_keys: cfg.hash_keys_at_rest(),
            load_timeout: cfg.load_timeout(),
            save_timeout: cfg.save_timeout(),
            unavailable: Failure::unavailable(cfg),
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn DynSessionStore> {
        &self.store
    }

    /// The 503 a failed write answers with.
    pub(crate) fn unavailable(&self) -> Failure {
        self.unavailable.clone()
    }

    fn at_rest(&self, key: &SessionKey) -> SessionKey {
        if self.hash_keys { key.hashed() } else { *key }
    }

    /// The request's load, under the load timeout.
    pub(crate) async fn load(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<Lookup, LoadError> {
        self.stats.add(Ev::Loads);
        let k = self.at_rest(key);
        observe(self.load_timeout, Op::Load, self.store.load_boxed(&k, now))
            .await
            .map_err(|e| {
                self.stats.add(Ev::StoreErrors);
                if e.kind() == StoreErrorKind::Timeout {
                    tracing::warn!(key = %key.fingerprint(), timeout = ?self.load_timeout, "session load timed out");
                    LoadError::new(LoadErrorKind::Timeout(self.load_timeout), self.unavailable(), None)
                } else {
                    tracing::error!(key = %key.fingerprint(), error = %e.report(), "session load failed");
                    LoadError::new(LoadErrorKind::Store, self.unavailable(), Some(e))
                }
            })
    }

    /// A reload after a compare-and-set conflict.
    pub(crate) async fn reload(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<Lookup, Failure> {
        let k = self.at_rest(key);
        let fut = self.store.load_boxed(&k, now);
        self.write_path(Op::Reload, key, fut).await
    }

    pub(crate) async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, Failure> {
        let k = self.at_rest(key);
        let fut = self.store.create_boxed(&k, record, now);
        self.write_path(Op::Create, key, fut).await
    }

    pub(crate) async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, Failure> {
        let k = self.at_rest(key);
        let fut = self.store.save_boxed(&k, record, token, now);
        self.write_path(Op::Save, key, fut).await
    }

    pub(crate) async fn delete(&self, key: &SessionKey) -> Result<(), Failure> {
        let k = self.at_rest(key);
        let fut = self.store.delete_boxed(&k);
        self.write_path(Op::Delete, key, fut).await
    }

    pub(crate) async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, Failure> {
        let k = self.at_rest(key);
        let fut = self.store.touch_boxed(&k, expires_at, now);
        self.write_path(Op::Touch, key, fut).await
    }

    pub(crate) async fn retire(
        &self,
        key: &SessionKey,
        until: OffsetDateTime,
    ) -> Result<(), Failure> {
        let k = self.at_rest(key);
        let fut = self.store.retire_boxed(&k, until);
        self.write_path(Op::Retire, key, fut).await
    }

    /// Whether the store has leases (lock mode across nodes).
    pub(crate) fn has_leases(&self) -> bool {
        self.store.leases_dyn().is_some()
    }

    /// Takes the store's lease on the session for `owner`: `Ok(true)` when taken,
    /// `Ok(false)` when someone else holds it (or the store has no leases).
    pub(crate) async fn try_lease(
        &self,
        key: &SessionKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let Some(leases) = self.store.leases_dyn() else {
            return Ok(false);
        };
        let k = self.at_rest(key);
        observe(
            self.load_timeout,
            Op::Lease,
            leases.try_acquire_boxed(&k, owner, ttl),
        )
        .await
        .inspect_err(|e| {
            self.stats.add(Ev::StoreErrors);
            tracing::error!(key = %key.fingerprint(), error = %e.report(), "session lease failed");
        })
    }

    /// Releases the lease if `owner` still holds it; a failure only logs (the lease
    /// expires by itself).
    pub(crate) async fn release_lease(&self, key: &SessionKey, owner: &str) {
        let Some(leases) = self.store.leases_dyn() else {
            return;
        };
        let k = self.at_rest(key);
        if let Err(e) = observe(
            self.save_timeout,
            Op::Release,
            leases.release_boxed(&k, owner),
        )
        .await
        {
            tracing::warn!(error = %e.report(), "session lease release failed; it expires by itself");
        }
    }

    /// Removes expired sessions (no timeout: a large cleanup takes as long as it takes).
    pub(crate) async fn clear_expired(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let fut = self.store.clear_expired_with_progress_boxed(now, progress);
        observe(Duration::MAX, Op::ClearExpired, fut).await
    }

    /// A call after the handler: under the save timeout; an error is logged, counted and
    /// answered with a 503.
    async fn write_path<T>(
        &self,
        op: Op,
        key: &SessionKey,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, Failure> {
        observe(self.save_timeout, op, fut).await.map_err(|e| {
            self.stats.add(Ev::StoreErrors);
            tracing::error!(operation = op.name(), key = %key.fingerprint(), error = %e.report(), "session store failed");
            self.unavailable()
        })
    }
}

/// Runs one store call with a timeout, inside a `tracing` span, recording its latency and
/// outcome.
async fn observe<T>(
    timeout: Duration,
    op: Op,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    use tracing::Instrument as _;
    let span = tracing::debug_span!("sessionkit.store", op = op.name());
    // A span no subscriber wants is replaced by the empty one, which entering costs
    // nothing: with `tracing`'s `log` feature (which actix-http, under actix-web, turns
    // on), a disabled span would still go through the `log` bridge at every poll and at
    // its drop. A `log` logger then sees the span's creation line, not its enter and
    // exit lines, as in a build without that feature.
    let span = if span.is_disabled() {
        tracing::Span::none()
    } else {
        span
    };
    let started = std::time::Instant::now();
    let mut fut = std::pin::pin!(fut.instrument(span));
    // A store that answers at once (the memory store, a cache hit) needs no timer: poll
    // once, and arm the timeout only if the answer is not there yet.
    let first = std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await;
    let result = match first {
        std::task::Poll::Ready(r) => r,
        std::task::Poll::Pending => match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::new(
                StoreErrorKind::Timeout,
                format!("no answer within {timeout:?}"),
            )),
        },
    };
    op.record(result.is_ok(), started.elapsed().as_secs_f64());
    result
}

/// Writes the store operations, their names and their metrics from one list. Each metric
/// key is spelled with literals, so it is a `static` built at compile time: recording
/// costs no key building or allocation (nor anything but a look at the recorder when
/// none is installed).
macro_rules! ops {
    ($( $variant:ident = $name:literal; )*) => {
        /// A store operation, as spans, logs and metrics name it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Op {
            $( $variant, )*
        }

        impl Op {
            /// The `op` label and span field.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $( Op::$variant => $name, )*
                }
            }

            /// `sessionkit_store_duration_seconds{op}` and
            /// `sessionkit_store_operations_total{op, outcome}`.
            fn record(self, ok: bool, seconds: f64) {
                match self {
                    $( Op::$variant => {
                        metrics::histogram!("sessionkit_store_duration_seconds", "op" => $name)
                            .record(seconds);
                        if ok {
                            metrics::counter!("sessionkit_store_operations_total", "op" => $name, "outcome" => "ok")
                                .increment(1);
                        } else {
                            metrics::counter!("sessionkit_store_operations_total", "op" => $name, "outcome" => "error")
                                .increment(1);
                        }
                    } )*
                }
            }
        }
    };
}

ops! {
    Load = "load";
    Reload = "reload";
    Create = "create";
    Save = "save";
    Delete = "delete";
    Touch = "touch";
    Retire = "retire";
    Lease = "lease";
    Release = "release";
    ClearExpired = "clear_expired";
}
