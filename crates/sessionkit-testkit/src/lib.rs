//! The conformance suites of sessionkit, public so that third-party stores and framework
//! adapters can run them too:
//!
//! * [`conformance_tests!`] — the store contract, for every server-side store;
//! * [`client`] — the client-side profile, for stores that keep the session in the cookie;
//! * [`adapter_conformance_tests!`] — every middleware rule through real HTTP requests, for
//!   framework adapters ([`adapter`]);
//! * [`fakes`] — stores that fail, hang or count, for tests of engines, adapters and
//!   applications;
//! * [`corpus`] — replays a committed fuzzing corpus through its target's check;
//! * [`guard`] — file locks that keep tests of several processes and crates apart, and a
//!   store that keeps a guard (a lock, a temp dir) alive;
//! * [`app`] — for applications' tests: [`SessionJar`](app::SessionJar) keeps a client's
//!   session id across requests (cookie or header), `force_login`, sessions holding given
//!   data, and the session read back after a request.
//!
//! The store suite:
//!
//! Every store runs the same checks of the contract in
//! [`sessionkit_core::store`]: insert-if-absent creates, compare-and-set saves that never
//! upsert, expiry against the time the store is given, idempotent deletes, touches that
//! keep the token, batched cleanup that is safe with several cleaners, concurrent
//! collisions. Each check gets a fresh store from your factory, in its own namespace.
//!
//! ```no_run
//! use sessionkit_core::MemoryStore;
//!
//! // In tests/it/main.rs of a store crate: one #[tokio::test] per check.
//! sessionkit_testkit::conformance_tests!(
//!     sessionkit_testkit::Profile::full(),
//!     async { Some(MemoryStore::new()) }
//! );
//! ```
//!
//! The factory returns `None` when the store's server is unreachable: the check prints
//! `SKIP` and passes — unless `SESSIONKIT_REQUIRE_SERVICES=1`, in which case use
//! [`require`] to turn the absence into a failure. [`services`] says how a skip is recorded
//! and counted.

pub mod adapter;
pub mod app;
pub mod client;
pub mod corpus;
pub mod fakes;
pub mod guard;
pub mod http;
pub mod logs;
pub mod services;
pub mod suite;

pub use sessionkit_core::ManualClock;
pub use suite::Profile;

/// Whether tests must fail (instead of skipping) when a service they need is unreachable:
/// `SESSIONKIT_REQUIRE_SERVICES=1`, as `.ci/run` sets it.
pub fn services_required() -> bool {
    std::env::var("SESSIONKIT_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// A service URL from the environment (names in ARCHITECTURE.md §7), with its default.
pub fn service_url(env: &str, default: &str) -> String {
    std::env::var(env).unwrap_or_else(|_| default.to_owned())
}

/// Turns "the service is unreachable" into a visible, recorded skip, or into a panic when
/// services are required (and `what` is not declared unavailable). `what` names the
/// service, as the constants of [`services`] do, optionally followed by a detail in
/// parentheses.
pub fn require<T>(what: &str, found: Result<T, String>) -> Option<T> {
    match found {
        Ok(t) => Some(t),
        Err(why) if services_required() && !services::declared_unavailable(what) => {
            panic!("{what} is required (SESSIONKIT_REQUIRE_SERVICES=1) but unavailable: {why}")
        }
        Err(why) => {
            services::record_skip(what, &why);
            None
        }
    }
}

/// Like [`require`] for opening a store: only an unreachable server
/// ([`StoreErrorKind::Unavailable`](sessionkit_core::StoreErrorKind::Unavailable)) is a
/// skip; any other error (bad configuration, a bug) fails the test at once.
pub fn require_store<S>(what: &str, opened: Result<S, sessionkit_core::StoreError>) -> Option<S> {
    match opened {
        Ok(s) => Some(s),
        Err(e) if e.kind() == sessionkit_core::StoreErrorKind::Unavailable => {
            require(what, Err(e.report()))
        }
        Err(e) => panic!("{what}: {}", e.report()),
    }
}

/// Generates one `#[tokio::test]` per conformance check. `$profile` is a
/// [`Profile`]; `$make` an async block evaluating to `Option<impl SessionStore>`, called
/// once per check (each must get a fresh namespace).
#[macro_export]
macro_rules! conformance_tests {
    ($profile:expr, $make:expr) => {
        $crate::conformance_tests!(@each $profile, $make;
            load_of_unknown_key_is_missing,
            create_then_load_round_trips,
            create_never_overwrites,
            create_over_an_expired_record,
            save_is_compare_and_set,
            save_never_upserts,
            save_of_an_expired_record_is_missing,
            delete_is_idempotent,
            touch_moves_expiry_and_keeps_the_token,
            expiry_is_checked_against_the_given_time,
            clear_expired_removes_only_expired,
            concurrent_cleaners,
            concurrent_creates_one_wins,
            concurrent_saves_one_wins,
            retire_leaves_a_marker_or_nothing,
            large_and_unusual_data_round_trip,
            keys_are_independent,
            listing_pages_through_live_sessions,
            user_index_lists_and_revokes,
            client_info_round_trips,
            leases_exclude_and_expire
        );
    };
    (@each $profile:expr, $make:expr; $($name:ident),*) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(store) = $make.await else { return };
            $crate::suite::$name(&store, &$profile).await;
        }
    )*};
}
