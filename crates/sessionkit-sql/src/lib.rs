//! SQL session stores for sessionkit.
//!
//! | store | feature | notes |
//! | --- | --- | --- |
//! | [`SqliteStore`] | `sqlite` (default) | the embedded default: one file, WAL, one writer thread with group commit |
//! | [`PostgresStore`] | `postgres` | tokio-postgres with a deadpool pool, cached prepared statements, one statement per operation, `SKIP LOCKED` cleanup batches |
//! | [`MySqlStore`] | `mysql` | MySQL 5.7+ and MariaDB 10.2+ (tested on MariaDB 10.11) through mysql_async's pool and statement cache |
//! | [`DjangoSqliteStore`](django::DjangoSqliteStore) | `sqlite` + `django` | Django's `db` engine table (`django_session`) in Django's SQLite database: rollback journal left as it is, `expire_date` as Django's naive-UTC text |
//! | [`DjangoPostgresStore`](django::DjangoPostgresStore) | `postgres` + `django` | Django's `django_session` in PostgreSQL (`timestamptz`), optionally in a named schema |
//! | [`DjangoMySqlStore`](django::DjangoMySqlStore) | `mysql` + `django` | Django's `django_session` in MySQL/MariaDB (`datetime(6)`, naive UTC) |
//!
//! Every store implements [`sessionkit_core::SessionStore`] and passes the conformance
//! suite of `sessionkit-testkit`: creates are insert-if-absent, saves are compare-and-set
//! and never upsert, expiry is an indexed column compared against the engine's clock,
//! `clear_expired` deletes in batches. The native stores compare a version column, keep
//! metadata and rotation markers, and offer listing, the per-user index and (the server
//! stores) lock-mode leases. The Django stores (module [`django`]) share sessions with a
//! Django application: the token is the stored `session_data` itself, the table is
//! Django's and is never created behind its migrations' back, and listing and the per-user
//! index are scans.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
mod common;

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteBuilder, SqliteStore};

#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(feature = "postgres")]
pub use postgres::{PostgresBuilder, PostgresStore};

#[cfg(feature = "mysql")]
pub mod mysql;

#[cfg(feature = "mysql")]
pub use mysql::{MySqlBuilder, MySqlStore};

#[cfg(feature = "django")]
pub mod django;
