//! [`StoreError`]: a store could not answer.

use std::error::Error as StdError;

/// A store failure: the store could not answer. (Unreadable records are not failures;
/// they are `Missing` plus a warning.)
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// The kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or failed to answer (connection, I/O).
    #[error("store unavailable")]
    Unavailable,
    /// The store answered too slowly.
    #[error("store timed out")]
    Timeout,
    /// The store is full (a bounded memory store).
    #[error("store full")]
    Full,
    /// A record could not be encoded for the store (e.g. a signed cookie over 4096 bytes).
    #[error("session cannot be stored")]
    Encode,
    /// The store is misconfigured (bad URL, missing table, wrong schema version).
    #[error("store misconfigured")]
    Config,
    /// Anything else.
    #[error("store error")]
    Other,
}

impl StoreError {
    /// A new error of `kind`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A new error of `kind` caused by `source` (kept, not stringified).
    pub fn with_source(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error and its chain of causes on one line, for logs.
    pub fn report(&self) -> String {
        format!("{}: {}", self.kind, self.detail())
    }

    /// The message and its chain of causes, without the kind (to pass a failure on to
    /// several callers without repeating the kind).
    pub fn detail(&self) -> String {
        let mut s = self.message.clone();
        let mut cur = StdError::source(self);
        while let Some(e) = cur {
            s.push_str(": ");
            s.push_str(&e.to_string());
            cur = e.source();
        }
        s
    }
}
