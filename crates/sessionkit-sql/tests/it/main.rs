//! Integration tests of the SQL stores: the conformance suite on each, plus what is
//! specific to each store.

#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server;

#[cfg(feature = "postgres")]
mod postgres;

#[cfg(feature = "mysql")]
mod mysql;
