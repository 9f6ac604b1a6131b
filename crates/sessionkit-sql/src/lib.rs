//! SQL session stores for sessionkit.
//!
//! | store | feature | notes |
//! | --- | --- | --- |
//! | [`SqliteStore`] | `sqlite` (default) | the embedded default: one file, WAL, one writer thread with group commit |
//!
//! Every store implements [`sessionkit_core::SessionStore`] and passes the conformance
//! suite of `sessionkit-testkit`: creates are insert-if-absent, saves are compare-and-set
//! on a version column and never upsert, expiry is an indexed column compared against the
//! engine's clock, `clear_expired` deletes in batches.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
