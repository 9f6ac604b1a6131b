//! What the `db` engine modules share: a namespace per test (a PostgreSQL schema, a MySQL
//! database), removed by the driver's `teardown` when the test ends, and a sweep of the
//! namespaces a killed run left behind.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessionkit_core::SessionKey;

use crate::django::Django;

/// Prefix of every namespace these tests create.
const PREFIX: &str = "sk_interop_";

/// Namespaces older than this are left-overs of a killed run.
const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh schema / database name, `sk_interop_<unix seconds>_<10 random [a-z0-9]>`: what
/// the driver accepts (`[a-z0-9_]+`) and PostgreSQL does not fold.
pub(crate) fn namespace() -> String {
    let random = SessionKey::generate();
    format!("{PREFIX}{}_{}", unix_now(), &random.as_str()[..10])
}

/// Whether `name` is one of these tests' namespaces, created long ago.
pub(crate) fn is_stale(name: &str) -> bool {
    name.strip_prefix(PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|s| s + STALE_AFTER.as_secs() < unix_now())
}

/// Runs the driver's `teardown` (drop `SK_PG_SCHEMA` / `SK_MYSQL_DB`) when dropped, also
/// when the test panics.
pub(crate) struct Teardown(pub(crate) Django);

impl Drop for Teardown {
    fn drop(&mut self) {
        if let Err(e) = self.0.try_call(&["teardown"]) {
            eprintln!("driver teardown failed: {e}");
        }
    }
}

#[test]
fn namespaces() {
    let n = namespace();
    assert!(
        n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "{n}"
    );
    assert!(!is_stale(&n));
    assert!(is_stale("sk_interop_1000_abc"));
    assert!(!is_stale("public"));
    assert!(!is_stale("sk_interop_x_abc"));
}
