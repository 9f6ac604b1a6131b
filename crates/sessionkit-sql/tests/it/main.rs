//! Integration tests of the SQL stores: the conformance suite on each, plus what is
//! specific to each store.

mod sqlite;
