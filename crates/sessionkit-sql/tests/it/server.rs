//! Test namespaces for the server stores: every store a test gets works on its own
//! tables, named `sktest_<unix seconds>_<random>`, dropped when the store is dropped.
//! Tables that outlive their test (a killed process) are swept by the next run once they
//! are [`STALE_AFTER`] old, so a sweep never touches a table a running test still uses.

use sessionkit_core::store::Page;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessionkit_core::{CreateOutcome, Lookup, Record, SaveOutcome, SessionKey, SessionStore};
use sessionkit_core::{Data, Metadata};
use sessionkit_testkit::guard::Guarded;
use time::OffsetDateTime;
use time::macros::datetime;

/// Test tables older than this are left-overs.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh table name: `sktest_<unix seconds>_<10 random characters>`.
pub(crate) fn table_name() -> String {
    let random = SessionKey::generate();
    format!("sktest_{}_{}", unix_now(), &random.as_str()[..10])
}

/// Whether `name` is a test table (or a test table's lease table) created long ago.
pub(crate) fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("sktest_") else {
        return false;
    };
    let secs = rest.split('_').next().and_then(|s| s.parse::<u64>().ok());
    secs.is_some_and(|s| s + STALE_AFTER.as_secs() < unix_now())
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own: usable from
/// `Drop`, inside or outside an async test.
pub(crate) fn block_on_side<F>(f: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(f);
        }
    })
    .join();
}

/// A store that runs a cleanup (dropping its tables) when dropped: testkit's [`Guarded`]
/// store with an [`OnDrop`] guard.
pub(crate) type Scoped<S> = Guarded<S, OnDrop>;

/// `store`, running `cleanup` when it is dropped.
pub(crate) fn scoped<S>(store: S, cleanup: impl FnOnce() + Send + 'static) -> Scoped<S> {
    Guarded::new(store, OnDrop(Mutex::new(Some(Box::new(cleanup)))))
}

/// Runs its cleanup once, when dropped.
pub(crate) struct OnDrop(Mutex<Option<Box<dyn FnOnce() + Send>>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let cleanup = self.0.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(cleanup) = cleanup {
            cleanup();
        }
    }
}

#[test]
fn stale_test_table_names() {
    assert!(is_stale("sktest_1000_abc"));
    assert!(is_stale("sktest_1000_abc_lease"));
    assert!(!is_stale(&table_name()));
    assert!(!is_stale("sessionkit_session"));
    assert!(!is_stale("sktest_x_abc"));
}

// ---- checks shared by the server stores -------------------------------------------------

/// `url` with the made-up password `s3cret` (`scheme://user@host/db` becomes
/// `scheme://user:s3cret@host/db`; a URL that has a password, or no user, is kept).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn with_password(url: &str) -> String {
    url.split_once("://")
        .and_then(|(s, rest)| {
            let (user, host) = rest.split_once('@')?;
            (!user.contains(':')).then(|| format!("{s}://{user}:s3cret@{host}"))
        })
        .unwrap_or_else(|| url.to_owned())
}

/// An engine on `store` with `clock`, as the reconnection checks use it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn engine_on<S: SessionStore>(
    store: S,
    clock: &sessionkit_core::ManualClock,
) -> sessionkit_core::Engine {
    sessionkit_core::Engine::builder(store)
        .with_config(sessionkit_core::Config::default())
        .with_clock(std::sync::Arc::new(clock.clone()))
        .build()
}

/// A fixed "now" for the checks below.
pub(crate) const T0: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

pub(crate) fn at(secs: i64) -> OffsetDateTime {
    T0 + time::Duration::seconds(secs)
}

pub(crate) fn record(json: &str, expires_in: i64) -> Record {
    Record {
        data: Data::from_json(json.into()).expect("test data is JSON"),
        expires_at: at(expires_in),
        meta: Metadata {
            created_at: Some(T0),
            last_seen: Some(T0),
            user_id: None,
            client: None,
        },
    }
}

/// The data of the row a version 1 table is created with, by the tests of the upgrade.
pub(crate) const V1_DATA: &str = r#"{"kept":"from version 1"}"#;

/// A version 1 table was upgraded in place: its row (`key`, data [`V1_DATA`], user `u1`,
/// expiring an hour after [`T0`]) loads, with no client info.
pub(crate) async fn v1_row_kept<S: SessionStore>(store: &S, key: &SessionKey) {
    match store.load(key, T0).await.unwrap() {
        Lookup::Found { record, .. } => {
            assert_eq!(
                record.data.to_json(),
                Data::from_json(V1_DATA.into()).unwrap().to_json()
            );
            assert_eq!(record.meta.user_id.as_deref(), Some("u1"));
            assert_eq!(record.meta.client, None);
        }
        other => panic!("the version 1 row is gone: {other:?}"),
    }
}

/// Creates `n` sessions expiring `expires_in` seconds after [`T0`], from 8 tasks at once.
pub(crate) async fn fill<S: SessionStore + Clone>(store: &S, n: usize, expires_in: i64) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let count = n / 8 + usize::from(i < n % 8);
            tokio::spawn(async move {
                let r = record(r#"{"filler":true}"#, expires_in);
                for _ in 0..count {
                    let out = store
                        .create(&SessionKey::generate(), &r, T0)
                        .await
                        .expect("create");
                    assert!(matches!(out, CreateOutcome::Created(_)));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("filler task");
    }
}

/// How many live sessions the listing shows at `now`.
pub(crate) async fn live_count<S: SessionStore>(store: &S, now: OffsetDateTime) -> usize {
    let listing = store.listing().expect("listing");
    let mut n = 0;
    let mut after = None;
    loop {
        let page = listing
            .list_boxed(Page {
                now,
                after: after.as_ref(),
                limit: 500,
            })
            .await
            .expect("list");
        let Some(last) = page.last() else {
            return n;
        };
        n += page.len();
        after = Some(last.key);
    }
}

/// Two cleaners (two stores on one table, as on two nodes) over a few thousand expired
/// rows: both succeed, and their counts add up to exactly the expired rows.
pub(crate) async fn two_cleaners<S: SessionStore + Clone>(a: &S, b: &S) {
    let expired = 3000;
    fill(a, expired, 1).await;
    fill(a, 40, 3600).await;
    let (ra, rb) = tokio::join!(a.clear_expired(at(10)), b.clear_expired(at(10)));
    let (ra, rb) = (ra.expect("first cleaner"), rb.expect("second cleaner"));
    assert_eq!(
        ra + rb,
        expired as u64,
        "each expired row removed exactly once ({ra} + {rb})"
    );
    assert_eq!(a.clear_expired(at(10)).await.expect("clear again"), 0);
    assert_eq!(live_count(a, at(10)).await, 40, "live sessions untouched");
}

/// 50 concurrent saves from one loaded token: exactly one wins, 49 conflict, and the
/// winner's data and token are what a load sees.
pub(crate) async fn fifty_savers<S: SessionStore + Clone>(store: &S) {
    let key = SessionKey::generate();
    store
        .create(&key, &record(r#"{"n":0}"#, 3600), T0)
        .await
        .expect("create");
    let Lookup::Found { token, .. } = store.load(&key, T0).await.expect("load") else {
        panic!("created session not found");
    };
    let tasks: Vec<_> = (1..=50)
        .map(|i| {
            let store = store.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let out = store
                    .save(&key, &record(&format!(r#"{{"n":{i}}}"#), 3600), &token, T0)
                    .await
                    .expect("save");
                (i, out)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.expect("saver task") {
            (i, SaveOutcome::Saved(t)) => winners.push((i, t)),
            (_, SaveOutcome::Conflict) => {}
            (_, SaveOutcome::Missing) => panic!("the session exists"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one saver wins");
    let (i, won) = &winners[0];
    let Lookup::Found { record, token } = store.load(&key, T0).await.expect("load") else {
        panic!("saved session not found");
    };
    assert_eq!(&token, won);
    assert_eq!(record.data.get("n"), Some(sessionkit_core::Value::Int(*i)));
}

/// Creating over an expired row goes on counting its versions: the new session's token
/// is the one a load returns, and no token of the old session matches it.
pub(crate) async fn create_over_expired_continues_versions<S: SessionStore>(store: &S) {
    let key = SessionKey::generate();
    let CreateOutcome::Created(t1) = store
        .create(&key, &record(r#"{"v":1}"#, 10), T0)
        .await
        .expect("create")
    else {
        panic!("collision on a fresh key");
    };
    let SaveOutcome::Saved(t2) = store
        .save(&key, &record(r#"{"v":2}"#, 10), &t1, T0)
        .await
        .expect("save")
    else {
        panic!("save failed");
    };
    let later = at(20);
    let CreateOutcome::Created(t3) = store
        .create(&key, &record(r#"{"v":3}"#, 3600), later)
        .await
        .expect("create over expired")
    else {
        panic!("an expired row must not block create");
    };
    assert!(t3 != t1 && t3 != t2, "{t1:?} {t2:?} {t3:?}");
    let Lookup::Found { token, record: r } = store.load(&key, later).await.expect("load") else {
        panic!("new session not found");
    };
    assert_eq!(token, t3, "create reports the token load returns");
    assert_eq!(r.data.get("v"), Some(sessionkit_core::Value::Int(3)));
    for old in [&t1, &t2] {
        let out = store
            .save(&key, &record(r#"{"v":"stale"}"#, 3600), old, later)
            .await
            .expect("save");
        assert_eq!(out, SaveOutcome::Conflict);
    }
    let out = store
        .save(&key, &record(r#"{"v":4}"#, 3600), &t3, later)
        .await
        .expect("save");
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    // Touching with the values already stored still finds the live row.
    assert!(store.touch(&key, at(3600), later).await.expect("touch"));
    assert!(
        store
            .touch(&key, at(3600), later)
            .await
            .expect("touch again")
    );
}

/// Clearing 2500 rows that expired before `later` reports progress per batch of 1000, and
/// then just `0` when nothing is left.
pub(crate) async fn clears_in_batches_of_1000<S: SessionStore>(store: &S, later: OffsetDateTime) {
    let mut seen = Vec::new();
    let removed = store
        .clear_expired_with_progress(later, &mut |n| seen.push(n))
        .await
        .expect("clear");
    assert_eq!(removed, 2500);
    assert_eq!(seen, [1000, 2000, 2500]);
    let mut again = Vec::new();
    assert_eq!(
        store
            .clear_expired_with_progress(later, &mut |n| again.push(n))
            .await
            .expect("clear"),
        0
    );
    assert_eq!(again, [0], "one report when nothing expired");
}

/// What every native server store's tests share, written once: `open(table)` (a store on
/// `table`; `None`, a SKIP, when the server is unreachable), `fresh()` (a store on fresh
/// tables, dropped with it), the conformance suite, the concurrency checks, and connecting
/// to a dead and to a silent server, and the checks of the layout that only need a raw
/// connection to set up or look (a newer layout version, unreadable data, reconnecting,
/// `Create::Never`, bad URLs, the expiry index).
///
/// The module using it has `url()`, `sweep_stale()`, `dropping(table)` and these hooks on
/// a raw connection: `server_up()`, `set_layout_version(table, v)`,
/// `corrupt_data(table, key)` (sets `data` to `not json {`), `stored_data(table, key)`,
/// `tables_absent(table)` (neither the tables nor a schema row), `analyze(table)`,
/// `assert_uses_expiry_index(plan, table)`, `close(&store)` (lets go of the pool) and
/// `create_v1_table(table, key)` (the tables of layout version 1, made with its DDL, with
/// one row: see [`v1_row_kept`]).
/// `$dead` is a URL to port 1 with the password `pw`, shown as `$shown`, `$silent` the URL
/// format for a port that never answers, `$bad` a URL that does not parse.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! native_server_tests {
    ($store:ident, $name:literal, dead: $dead:literal, shown: $shown:literal, silent: $silent:literal, bad: $bad:literal) => {
        /// Connects on `table`: `None` (SKIP) when the server is unreachable, a panic for
        /// any other failure.
        async fn open(table: &str) -> Option<$store> {
            match $store::builder(&url()).with_table(table).connect().await {
                Ok(store) => Some(store),
                Err(e) if e.kind() == StoreErrorKind::Unavailable => {
                    sessionkit_testkit::require($name, Err(e.report()))
                }
                Err(e) => panic!("{} store could not start: {}", $name, e.report()),
            }
        }

        /// A store on fresh tables, dropped with the store.
        async fn fresh() -> Option<Scoped<$store>> {
            sweep_stale().await;
            let table = table_name();
            let store = open(&table).await?;
            let guard = dropping(&table);
            Some($crate::server::scoped(store, move || drop(guard)))
        }

        mod conformance {
            use super::*;
            sessionkit_testkit::conformance_tests!(Profile::full().with_leases(), fresh());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_cleaners_remove_each_row_once() {
            let Some(a) = fresh().await else { return };
            let b = open(a.table())
                .await
                .expect("second store on the same table");
            server::two_cleaners(&*a, &b).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn clear_expired_reports_progress() {
            let Some(store) = fresh().await else { return };
            server::fill(&*store, 2500, 1).await;
            server::clears_in_batches_of_1000(&*store, at(10)).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fifty_concurrent_savers_one_wins() {
            let Some(store) = fresh().await else { return };
            server::fifty_savers(&*store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn create_over_expired_continues_versions() {
            let Some(store) = fresh().await else { return };
            server::create_over_expired_continues_versions(&*store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn processes_starting_at_once_share_the_schema() {
            let table = table_name();
            let _guard = dropping(&table);
            let url = url();
            let results = tokio::join!(
                $store::builder(&url).with_table(&table).connect(),
                $store::builder(&url).with_table(&table).connect(),
                $store::builder(&url).with_table(&table).connect(),
                $store::builder(&url).with_table(&table).connect(),
            );
            for r in [results.0, results.1, results.2, results.3] {
                match r {
                    Ok(_) => {}
                    Err(e) if e.kind() == StoreErrorKind::Unavailable => {
                        sessionkit_testkit::require($name, Err::<(), _>(e.report()));
                        return;
                    }
                    Err(e) => panic!("concurrent schema setup failed: {}", e.report()),
                }
            }
        }

        #[tokio::test]
        async fn dead_server_fails_fast() {
            let started = Instant::now();
            let err = $store::connect($dead)
                .await
                .expect_err("nothing listens on port 1");
            assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{}", err.report());
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "{:?}",
                started.elapsed()
            );
            let report = err.report();
            assert!(report.contains($shown), "{report}");
            assert!(!report.contains("pw"), "no password in errors: {report}");
        }

        #[tokio::test]
        async fn silent_server_times_out() {
            // Accepts connections and never answers: connecting must give up, not hang.
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let port = listener.local_addr().expect("addr").port();
            let holder = tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((socket, _)) = listener.accept().await {
                    held.push(socket);
                }
            });
            let started = Instant::now();
            let err = $store::connect(&$silent.replace("{port}", &port.to_string()))
                .await
                .expect_err("a silent server");
            let took = started.elapsed();
            holder.abort();
            assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{}", err.report());
            assert!(took < Duration::from_secs(12), "took {took:?}");
        }

        #[tokio::test]
        async fn bad_urls_tables_and_databases_are_config_errors() {
            let err = $store::builder(&url())
                .with_table("bad name; drop")
                .connect()
                .await
                .expect_err("bad table name");
            assert_eq!(err.kind(), StoreErrorKind::Config);
            assert!(err.to_string().contains("invalid table name"), "{err}");
            let err = $store::connect($bad).await.expect_err("bad URL");
            assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
            // A database that does not exist (when the server is there to say so).
            if !server_up().await {
                return;
            }
            let url = url();
            let Some((base, _db)) = url.split('?').next().and_then(|u| u.rsplit_once('/')) else {
                return;
            };
            let err = $store::connect(&format!("{base}/sessionkit_no_such_db"))
                .await
                .expect_err("missing database");
            assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
        }

        /// Issue 19: a version 1 table made with the old DDL is upgraded to version 2 by
        /// connecting with `Create::IfMissing` (not by `Create::Never`, which refuses it
        /// and names the way), keeping its rows; connecting again changes nothing; the
        /// device-metadata columns are then written and read.
        /// The upgrade's `ALTER TABLE` waits for the table's lock at most
        /// `UPGRADE_LOCK_WAIT_SECS` (10 s): behind an older process's open transaction the
        /// connect fails (a generous margin: a stall is what this catches) instead of
        /// stalling the table; once the transaction ends, connecting upgrades.
        #[tokio::test]
        async fn the_upgrade_waits_for_the_tables_lock_only_so_long() {
            sweep_stale().await;
            let table = table_name();
            let _guard = dropping(&table);
            let key = SessionKey::generate();
            create_v1_table(&table, &key).await;
            let Some(reader) = begin_reader(&table).await else {
                return;
            };
            let started = std::time::Instant::now();
            let err = $store::builder(&url())
                .with_table(&table)
                .connect()
                .await
                .expect_err("the table is locked by a reader");
            let took = started.elapsed();
            assert!(took < std::time::Duration::from_secs(60), "took {took:?}");
            assert!(err.report().contains("schema upgrade"), "{}", err.report());
            end_reader(reader).await;
            let Some(store) = open(&table).await else {
                return;
            };
            server::v1_row_kept(&store, &key).await;
            close(&store).await;
        }

        #[tokio::test]
        async fn a_version_1_table_is_upgraded_keeping_its_rows() {
            sweep_stale().await;
            let table = table_name();
            let _guard = dropping(&table);
            let key = SessionKey::generate();
            create_v1_table(&table, &key).await;
            let err = $store::builder(&url())
                .with_table(&table)
                .with_create(sessionkit_core::store::Create::Never)
                .connect()
                .await
                .expect_err("a version 1 table under Create::Never");
            assert!(
                err.report().contains("Create::IfMissing"),
                "{}",
                err.report()
            );
            let Some(store) = open(&table).await else {
                return;
            };
            server::v1_row_kept(&store, &key).await;
            close(&store).await;
            drop(store);
            let store = open(&table).await.expect("second connect");
            server::v1_row_kept(&store, &key).await;
            sessionkit_testkit::suite::client_info_round_trips(&store, &Profile::full()).await;
            close(&store).await;
            drop(store);
            set_layout_version(&table, 3).await;
            let err = $store::builder(&url())
                .with_table(&table)
                .connect()
                .await
                .expect_err("a newer layout");
            assert!(
                err.report().contains("layout version 3"),
                "{}",
                err.report()
            );
        }

        #[tokio::test]
        async fn newer_layout_version_is_refused() {
            let table = table_name();
            let Some(store) = open(&table).await else {
                return;
            };
            let _guard = dropping(&table);
            close(&store).await;
            drop(store);
            set_layout_version(&table, 99).await;
            let err = $store::builder(&url())
                .with_table(&table)
                .connect()
                .await
                .expect_err("a newer layout");
            assert_eq!(err.kind(), StoreErrorKind::Config);
            assert!(
                err.report().contains("layout version 99"),
                "{}",
                err.report()
            );
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn cleanup_uses_the_expiry_index() {
            let Some(store) = fresh().await else { return };
            server::fill(&*store, 2000, 3600).await;
            server::fill(&*store, 20, 1).await;
            analyze(store.table()).await;
            let plan = store.explain_clear_expired(at(10)).await.expect("explain");
            eprintln!("{plan}");
            assert_uses_expiry_index(&plan, store.table());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn unreadable_data_is_missing_and_left_alone() {
            let Some(store) = fresh().await else { return };
            let key = SessionKey::generate();
            store
                .create(&key, &record(r#"{"a":1}"#, 3600), T0)
                .await
                .expect("create");
            corrupt_data(store.table(), &key).await;
            assert!(matches!(
                store.load(&key, T0).await.expect("load"),
                Lookup::Missing
            ));
            assert_eq!(
                stored_data(store.table(), &key).await.as_deref(),
                Some("not json {")
            );
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn sessions_survive_reconnecting() {
            let Some(store) = fresh().await else { return };
            let clock = ManualClock::new(T0);
            let engine = server::engine_on($store::clone(&store), &clock);
            let cookie = sessionkit_testkit::client::first_cookie(&engine, "count", 3).await;
            let again = open(store.table()).await.expect("reconnect");
            let engine = server::engine_on(again, &clock);
            let s = engine.begin(Some(&cookie)).load().await.expect("load");
            assert_eq!(s.get::<i32>("count").expect("get"), Some(3));
        }

        /// Issue 15: `Create::Never` creates no table, and finds one that exists.
        #[tokio::test]
        async fn create_never_creates_nothing_and_finds_what_exists() {
            use sessionkit_core::store::Create;
            let table = table_name();
            let never = || {
                $store::builder(&url())
                    .with_table(&table)
                    .with_create(Create::Never)
                    .connect()
            };
            let err = match never().await {
                Err(e) if e.kind() == StoreErrorKind::Unavailable => {
                    sessionkit_testkit::require::<()>($name, Err(e.report()));
                    return;
                }
                Err(e) => e,
                Ok(_) => panic!("a missing table was found"),
            };
            assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
            let scheme = $shown.split("://").next().expect("scheme");
            assert!(
                err.report()
                    .contains(&format!("table {table} not found in {scheme}://")),
                "{}",
                err.report()
            );
            assert!(tables_absent(&table).await, "created");
            let _guard = dropping(&table);
            drop(open(&table).await.expect("made by IfMissing"));
            let store = never().await.expect("found with Never");
            assert!(matches!(
                store.load(&SessionKey::generate(), T0).await.unwrap(),
                Lookup::Missing
            ));
            close(&store).await;
        }
    };
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use native_server_tests;
