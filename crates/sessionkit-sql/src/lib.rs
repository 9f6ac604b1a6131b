//! SQL session stores for sessionkit.
//!
//! | store | feature | notes |
//! | --- | --- | --- |
//! | [`SqliteStore`] | `sqlite` (default) | the embedded default: one file, WAL, one writer thread with group commit |
//! | [`PostgresStore`] | `postgres` | tokio-postgres with a deadpool pool, cached prepared statements, one statement per operation, `SKIP LOCKED` cleanup batches |
//! | [`MySqlStore`] | `mysql` | MySQL 5.7+ and MariaDB 10.2+ (tested on MariaDB 10.11) through mysql_async's pool and statement cache |
//! | [`DjangoSqliteStore`] | `sqlite` + `django` | Django's `db` engine table (`django_session`) in Django's SQLite database: rollback journal left as it is, `expire_date` as Django's naive-UTC text |
//! | [`DjangoPostgresStore`] | `postgres` + `django` | Django's `django_session` in PostgreSQL (`timestamptz`), optionally in a named schema |
//! | [`DjangoMySqlStore`] | `mysql` + `django` | Django's `django_session` in MySQL/MariaDB (`datetime(6)`, naive UTC) |
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
//!
//! # Layout of the crate
//!
//! The crate is cut by driver, not by layout: one folder per database, each holding its
//! connection handling once and both layouts beside each other.
//!
//! | file | holds |
//! | --- | --- |
//! | `sqlite/mod.rs`, `postgres/mod.rs`, `mysql/mod.rs` | the driver: connecting, the pool, error classification, statement helpers, the column's time range |
//! | `<driver>/native.rs` | the native store ([`SqliteStore`], [`PostgresStore`], [`MySqlStore`]) |
//! | `<driver>/schema.rs` | the native layout's DDL, its layout-version check and its statements (public: [`sqlite::schema`], ...) |
//! | `<driver>/django.rs` | the Django-layout store ([`DjangoSqliteStore`], ...) |
//! | `<driver>/django_schema.rs` | the Django layout's DDL, table checks and statements in that driver's dialect |
//! | `sqlite/file.rs`, `sqlite/writer.rs` | opening an SQLite file with errors that say what to do; the native store's group-commit writer thread |
//! | `shared/mod.rs` | what every store shares: name rules, layout versions, [`CLEAR_BATCH`] and batched cleanup with progress, save outcomes, time clamping, the native row shapes |
//! | `shared/django.rs`, `shared/tz.rs` | the Django layout's driver-independent half: the `session_data` codec, tokens, the scans behind listing and the per-user index; [`DjangoTime`](django::DjangoTime) |
//! | `builder.rs` | [`Builder`], the one builder type of every store (see [`builder`] for why) |
//! | `django.rs` | the public [`django`] module: the Django layout's documentation and names, and the Django builders' setters |
//!
//! So a change to how one database is reached is made once for both layouts, and a rule
//! of a layout (how a save decides, how cleanup reports) once for every database.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports)
)]

pub mod builder;
mod shared;

pub use builder::Builder;
pub use shared::CLEAR_BATCH;

#[cfg(feature = "sqlite")]
pub mod sqlite;

#[cfg(all(feature = "sqlite", feature = "django"))]
pub use sqlite::{DjangoSqliteBuilder, DjangoSqliteStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteBuilder, SqliteStore};

#[cfg(feature = "postgres")]
pub mod postgres;

#[cfg(all(feature = "postgres", feature = "django"))]
pub use postgres::{DjangoPostgresBuilder, DjangoPostgresStore};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresBuilder, PostgresStore};

#[cfg(feature = "mysql")]
pub mod mysql;

#[cfg(all(feature = "mysql", feature = "django"))]
pub use mysql::{DjangoMySqlBuilder, DjangoMySqlStore};
#[cfg(feature = "mysql")]
pub use mysql::{MySqlBuilder, MySqlStore};

#[cfg(feature = "django")]
pub mod django;
