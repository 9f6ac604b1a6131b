//! [`StoreError`]: what a store reports when it cannot answer, and how its chain of causes
//! is shown.

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
    /// The store does not offer the operation (e.g. `clear_expired` on memcached, which
    /// cannot enumerate its keys).
    #[error("not supported by the store")]
    Unsupported,
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
    /// several callers without repeating the kind). Each cause appears once: drivers
    /// often repeat their source's text in their own (`Input/output error: Connection
    /// refused` over `Connection refused`), so each cause contributes only the text it adds
    /// to its source's; a text already shown is left out, and a text that contains the
    /// previous cause's replaces it (`Error code 13: database or disk is full` under
    /// `database or disk is full`).
    pub fn detail(&self) -> String {
        let mut texts = Vec::new();
        let mut cur = StdError::source(self);
        while let Some(e) = cur {
            texts.push(e.to_string());
            cur = e.source();
        }
        let mut parts: Vec<&str> = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let own = own_text(text, texts.get(i + 1).map(String::as_str));
            if own.is_empty() {
                continue;
            }
            if let Some(last) = parts.last_mut()
                && own.contains(*last)
            {
                *last = own;
                continue;
            }
            if self.message.contains(own) || parts.iter().any(|p| p.contains(own)) {
                continue;
            }
            parts.push(own);
        }
        let mut s = self.message.clone();
        for part in parts {
            s.push_str(": ");
            s.push_str(part);
        }
        s
    }
}

/// What a cause's text adds to its source's: the text without the source's text at its end
/// (and the separator before it), or all of it when it does not end so.
fn own_text<'a>(text: &'a str, source: Option<&str>) -> &'a str {
    let text = text.trim();
    match source.map(str::trim) {
        Some(source) if !source.is_empty() => match text.strip_suffix(source) {
            Some(head) => head.trim_end_matches([':', '-', ',', ' ']),
            None => text,
        },
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A driver error that repeats its source's text, as mysql_async's and redis's do.
    #[derive(Debug)]
    struct Wrapping(&'static str, Box<dyn StdError + Send + Sync>);

    impl std::fmt::Display for Wrapping {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}: {}", self.0, self.1)
        }
    }

    impl StdError for Wrapping {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.1)
        }
    }

    fn refused() -> Box<dyn StdError + Send + Sync> {
        Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        ))
    }

    /// An error that shows its source's text as its own (`#[error(transparent)]`-like).
    #[derive(Debug)]
    struct Same(Box<dyn StdError + Send + Sync>);

    impl std::fmt::Display for Same {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    impl StdError for Same {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.0)
        }
    }

    #[test]
    fn issue_15_each_cause_is_shown_once() {
        // A refused MySQL connection: the driver's error, its I/O error variant showing
        // the same text, and the OS error under both.
        let e = StoreError::with_source(
            StoreErrorKind::Unavailable,
            "cannot connect to mysql://root@127.0.0.1:1/test",
            Same(Box::new(Wrapping("Input/output error", refused()))),
        );
        assert_eq!(
            e.report(),
            "store unavailable: cannot connect to mysql://root@127.0.0.1:1/test: \
             Input/output error: Connection refused (os error 111)"
        );
        // mysql_async's shape: `Error::Io` shows "Input/output error: {IoError}", and
        // `IoError::Io` shows "Input/output error: {io::Error}".
        let e = StoreError::with_source(
            StoreErrorKind::Unavailable,
            "cannot connect",
            Wrapping(
                "Input/output error",
                Box::new(Wrapping("Input/output error", refused())),
            ),
        );
        assert_eq!(
            e.detail(),
            "cannot connect: Input/output error: Connection refused (os error 111)"
        );
    }

    #[test]
    fn issue_15_a_cause_already_in_the_message_is_not_repeated() {
        let e = StoreError::with_source(
            StoreErrorKind::Unavailable,
            "redis://127.0.0.1:1: Connection refused (os error 111)",
            refused(),
        );
        assert_eq!(
            e.detail(),
            "redis://127.0.0.1:1: Connection refused (os error 111)"
        );
    }

    /// rusqlite's shape: the error shows SQLite's message, its source the same message
    /// after the code.
    #[test]
    fn issue_15_a_cause_that_details_the_previous_one_replaces_it() {
        let ffi = std::io::Error::other("Error code 13: database or disk is full");
        let e = StoreError::with_source(
            StoreErrorKind::Unavailable,
            "sqlite commit failed",
            Wrapping0("database or disk is full", Box::new(ffi)),
        );
        assert_eq!(
            e.detail(),
            "sqlite commit failed: Error code 13: database or disk is full"
        );
    }

    /// An error that shows only its own text, with a source.
    #[derive(Debug)]
    struct Wrapping0(&'static str, Box<dyn StdError + Send + Sync>);

    impl std::fmt::Display for Wrapping0 {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Wrapping0 {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&*self.1)
        }
    }

    #[test]
    fn distinct_causes_are_all_kept_in_order() {
        let e = StoreError::with_source(
            StoreErrorKind::Other,
            "saving failed",
            Wrapping(
                "statement failed",
                Box::new(std::io::Error::other("disk full")),
            ),
        );
        assert_eq!(e.detail(), "saving failed: statement failed: disk full");
        let plain = StoreError::new(StoreErrorKind::Config, "no table");
        assert_eq!(plain.report(), "store misconfigured: no table");
    }
}
