//! The HTTP error contract, framework-neutral: what a request gets when its session cannot
//! be loaded or saved.
//!
//! | cause | status | `Retry-After` | body |
//! | --- | --- | --- | --- |
//! | the store failed or timed out (load or save), retries exhausted, the lock not free | 503 | [`Config::retry_after_secs`] | [`UNAVAILABLE_MESSAGE`] |
//! | the session was deleted by a concurrent request (Django's `SessionInterrupted`) | 400 | — | [`INTERRUPTED_MESSAGE`] |
//! | the session cannot be written into its cookie (client-side stores) | 500 | — | [`INTERNAL_MESSAGE`] |
//!
//! Every failure is a [`Failure`]; a failed load is a [`LoadError`] carrying one. Each
//! framework renders a `Failure` in exactly one place (`Content-Type: text/plain;
//! charset=utf-8`, the status, `Retry-After` when set, `Vary: Cookie` when the session was
//! accessed), used by its middleware, its extractor and its `LoadError` conversion alike:
//! core's `extract_axum.rs` for http 1 / tower / axum, `extract_actix.rs` for actix-web.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::store::StoreError;

/// Django's `SessionInterrupted` message, sent with the 400.
pub const INTERRUPTED_MESSAGE: &str = "The request's session was deleted before the request completed. The user may have logged out in a concurrent request, for example.";

/// The body of a 503 caused by the session store.
pub const UNAVAILABLE_MESSAGE: &str = "The session store is unavailable. Please retry.";

/// The body of a 500: the session could not be written (e.g. into its cookie).
pub const INTERNAL_MESSAGE: &str = "The session could not be saved.";

/// A response that replaces the handler's: the session could not be loaded or saved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    /// 400 (session deleted concurrently), 500 (session cannot be encoded) or 503 (store
    /// failure, timeout, retries exhausted, lock not free).
    pub status: u16,
    /// Seconds for `Retry-After` (with 503).
    pub retry_after: Option<u64>,
    /// A plain-text body.
    pub message: &'static str,
}

impl Failure {
    /// 400: the session was deleted by a concurrent request.
    pub(crate) fn interrupted() -> Failure {
        Failure {
            status: 400,
            retry_after: None,
            message: INTERRUPTED_MESSAGE,
        }
    }

    /// 503 with the configured `Retry-After`.
    pub(crate) fn unavailable(cfg: &Config) -> Failure {
        Failure {
            status: 503,
            retry_after: Some(cfg.retry_after_secs()),
            message: UNAVAILABLE_MESSAGE,
        }
    }

    /// 503 for a service the request needs beside the store (a user loader, for
    /// example), with `message` as the body and `retry_after` seconds (usually
    /// [`Config::retry_after_secs`]), rendered by each framework's one renderer like a
    /// store outage.
    ///
    /// ```
    /// let f = sessionkit_core::Failure::unavailable_with(Some(5), "The user database is unavailable.");
    /// assert_eq!((f.status, f.retry_after), (503, Some(5)));
    /// ```
    pub fn unavailable_with(retry_after: Option<u64>, message: &'static str) -> Failure {
        Failure {
            status: 503,
            retry_after,
            message,
        }
    }

    /// 500: the session cannot be written.
    pub(crate) fn internal() -> Failure {
        Failure {
            status: 500,
            retry_after: None,
            message: INTERNAL_MESSAGE,
        }
    }
}

/// What the adapter does to the response.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// `Set-Cookie` header values to add.
    pub set_cookie: Vec<String>,
    /// The session header to set, with [`Transport::Header`](crate::Transport::Header) or
    /// `Both`: the new or rotated id, or an empty value when the session ended.
    pub session_header: Option<SessionHeader>,
    /// Whether to add `Cookie` to `Vary` (merged with any existing `Vary`).
    pub vary_cookie: bool,
    /// A header name to add to `Vary` (the session header, when the session was accessed).
    pub vary_header: Option<Arc<str>>,
    /// If set, the response is replaced by this error.
    pub failure: Option<Failure>,
}

/// A response header carrying the session id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionHeader {
    /// The header's name (`Config::session_header`).
    pub name: Arc<str>,
    /// The id, or empty when the session ended.
    pub value: String,
}

impl Outcome {
    /// The header names to add to `Vary`, in order (`Cookie`, then the session header).
    ///
    /// ```
    /// use sessionkit_core::Outcome;
    ///
    /// assert_eq!(Outcome::default().vary_names().count(), 0);
    /// ```
    pub fn vary_names(&self) -> impl Iterator<Item = &str> {
        self.vary_cookie
            .then_some("Cookie")
            .into_iter()
            .chain(self.vary_header.as_deref())
    }

    /// A failed request's outcome: the failure, and `Vary` as the session's use asks.
    pub(crate) fn failed(failure: Failure, vary: Vary) -> Outcome {
        let mut out = Outcome {
            failure: Some(failure),
            ..Outcome::default()
        };
        vary.apply(&mut out);
        out
    }
}

/// Whether a response varies with the session, and on which request headers: the cookie,
/// the session header, or both, as the transport says.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vary {
    cookie: bool,
    header: Option<Arc<str>>,
}

impl Vary {
    /// The response varies with the session (`accessed`), over `cfg`'s transport.
    pub(crate) fn of(cfg: &Config, accessed: bool) -> Vary {
        if !accessed {
            return Vary::default();
        }
        Vary {
            cookie: cfg.uses_cookie(),
            header: cfg.session_header_name().cloned(),
        }
    }

    pub(crate) fn apply(self, out: &mut Outcome) {
        out.vary_cookie = self.cookie;
        out.vary_header = self.header;
    }
}

/// Why a session could not be loaded. The extractors reject the request with its
/// [`failure`](LoadError::failure) (503 with the configured `Retry-After`), and so does a
/// handler that returns it (`rs.load().await?`).
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct LoadError {
    kind: LoadErrorKind,
    failure: Failure,
    #[source]
    source: Option<StoreError>,
}

/// The kinds of [`LoadError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The store failed.
    #[error("session store failed")]
    Store,
    /// The store did not answer within the load timeout.
    #[error("session store did not answer within {0:?}")]
    Timeout(Duration),
    /// In lock mode, the session's lock was not free within the lock timeout.
    #[error("session is locked by another request (waited {0:?})")]
    Locked(Duration),
}

impl LoadError {
    pub(crate) fn new(
        kind: LoadErrorKind,
        failure: Failure,
        source: Option<StoreError>,
    ) -> LoadError {
        LoadError {
            kind,
            failure,
            source,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> LoadErrorKind {
        self.kind
    }

    /// The response that replaces the handler's (a 503 with the configured
    /// `Retry-After`).
    pub fn failure(&self) -> &Failure {
        &self.failure
    }

    /// The HTTP status for this error (503).
    pub fn status(&self) -> u16 {
        self.failure.status
    }
}
