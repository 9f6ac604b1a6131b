//! SQL session stores for sessionkit.
//!
//! | store | feature | notes |
//! | --- | --- | --- |
//! | [`SqliteStore`] | `sqlite` (default) | the embedded default: one file, WAL, one writer thread with group commit |
//! | [`PostgresStore`] | `postgres` | tokio-postgres with a deadpool pool, cached prepared statements, one statement per operation, `SKIP LOCKED` cleanup batches |
//! | [`MySqlStore`] | `mysql` | MySQL 5.7+ and MariaDB 10.2+ (tested on MariaDB 10.11) through mysql_async's pool and statement cache |
//!
//! Every store implements [`sessionkit_core::SessionStore`] and passes the conformance
//! suite of `sessionkit-testkit`: creates are insert-if-absent, saves are compare-and-set
//! on a version column and never upsert, expiry is an indexed column compared against the
//! engine's clock, `clear_expired` deletes in batches. The server stores also offer
//! listing, the per-user index and lock-mode leases.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod common;

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;

#[cfg(feature = "mysql")]
pub mod mysql;

#[cfg(feature = "mysql")]
pub use mysql::MySqlStore;
