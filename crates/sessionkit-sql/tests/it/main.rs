//! Integration tests of the SQL stores: the conformance suite on each, plus what is
//! specific to each store.

#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(any(
    feature = "postgres",
    feature = "mysql",
    all(feature = "django", feature = "sqlite")
))]
mod server;

#[cfg(feature = "postgres")]
mod postgres;

#[cfg(feature = "mysql")]
mod mysql;

#[cfg(all(
    feature = "django",
    any(feature = "sqlite", feature = "postgres", feature = "mysql")
))]
mod django;

#[cfg(all(feature = "django", feature = "sqlite"))]
mod django_sqlite;

#[cfg(all(feature = "django", feature = "postgres"))]
mod django_postgres;

#[cfg(all(feature = "django", feature = "mysql"))]
mod django_mysql;
