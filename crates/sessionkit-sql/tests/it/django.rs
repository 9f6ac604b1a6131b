//! Checks shared by the Django-layout stores: Django's own rows (the `db.sqlite_row`
//! vectors, produced by running Django) are read, what the stores write is what Django
//! writes, unreadable rows are left alone, tokens compare byte for byte.

use sessionkit_core::store::Page;
use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey, SessionStore,
    StoreError, StoreErrorKind, Token, Value, json, pytime,
};
use sessionkit_sql::django::{DjangoTime, Secrets};
use time::OffsetDateTime;

/// The secret of the test stores.
pub(crate) const SECRET: &str = "sessionkit-sql-django-test-secret";

/// `SECRET_KEY` of the vectors.
pub(crate) const ANCHOR_SECRET: &str = "anchor-secret-key-for-vectors";

/// Django's `SESSION_COOKIE_AGE` default, as in the vectors.
const AGE: i64 = 1_209_600;

const VECTORS: &str = include_str!("../../../sessionkit-django/tests/data/django-vectors.json");

pub(crate) fn secrets() -> Secrets {
    Secrets::new(SECRET)
}

pub(crate) fn anchor() -> Secrets {
    Secrets::new(ANCHOR_SECRET)
}

/// One `db.sqlite_row` vector: what Django stored for a session saved at `now`.
#[derive(Debug, Clone)]
pub(crate) struct DjangoRow {
    /// The save time (`datetime.now()` in Django).
    pub(crate) now: OffsetDateTime,
    /// The session dict.
    pub(crate) data: Data,
    /// `session_data`, signed with [`ANCHOR_SECRET`].
    pub(crate) session_data: String,
    /// `expire_date` as SQLite holds it: `YYYY-MM-DD HH:MM:SS[.ffffff]`, naive UTC.
    pub(crate) expire_date: String,
}

impl DjangoRow {
    /// `expire_date` as an instant.
    pub(crate) fn expires_at(&self) -> OffsetDateTime {
        pytime::fromisoformat(&self.expire_date)
            .expect("vector date")
            .assume_utc()
    }
}

fn field<'a>(m: &'a Value, name: &str) -> &'a Value {
    match m {
        Value::Map(m) => m.get(name).unwrap_or_else(|| panic!("no {name} in {m:?}")),
        other => panic!("not a map: {other:?}"),
    }
}

fn string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => panic!("not a string: {other:?}"),
    }
}

fn records(name: &str) -> Vec<Value> {
    let Value::List(records) = field(&json::parse(VECTORS).expect("vectors"), "records").clone()
    else {
        panic!("records: not a list")
    };
    records
        .into_iter()
        .filter(|r| string(field(r, "backend_or_function")) == name)
        .collect()
}

/// The `db.sqlite_row` vectors (whole seconds, and microseconds).
pub(crate) fn django_rows() -> Vec<DjangoRow> {
    let rows: Vec<DjangoRow> = records("db.sqlite_row")
        .iter()
        .map(|r| {
            let inputs = field(r, "inputs");
            let out = field(r, "output");
            assert_eq!(string(field(out, "sqlite_type")), "text");
            DjangoRow {
                now: pytime::fromisoformat(&string(field(inputs, "now")))
                    .expect("now")
                    .assume_utc(),
                data: Data::from_json(json::to_string(field(inputs, "session")).into())
                    .expect("session"),
                session_data: string(field(out, "session_data")),
                expire_date: string(field(out, "expire_date")),
            }
        })
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().any(|r| r.expire_date.contains('.')));
    rows
}

/// The `db.sqlite_schema` vector: Django's DDL for SQLite.
pub(crate) fn sqlite_schema() -> Vec<String> {
    let r = records("db.sqlite_schema");
    let Value::List(stmts) = field(&r[0], "output") else {
        panic!("schema: not a list")
    };
    stmts.iter().map(string).collect()
}

/// A record expiring at `expires_at`, saying so in `_session_expiry` too.
pub(crate) fn record(json: &str, expires_at: OffsetDateTime) -> Record {
    let mut data = Data::from_json(json.into()).expect("test data is JSON");
    data.insert(
        sessionkit_core::EXPIRY_KEY,
        Value::String(pytime::isoformat(expires_at)),
    );
    Record {
        data,
        expires_at,
        meta: Metadata::default(),
    }
}

/// `store` (signing with [`ANCHOR_SECRET`]) reads rows `insert` wrote in Django's exact
/// format, live until their `expire_date`.
pub(crate) async fn reads_django_rows<S: SessionStore>(
    store: &S,
    insert: impl AsyncFn(&SessionKey, &DjangoRow),
) {
    for row in django_rows() {
        let key = SessionKey::generate();
        insert(&key, &row).await;
        match store.load(&key, row.now).await.expect("load") {
            Lookup::Found { record, token } => {
                assert_eq!(record.data, row.data);
                assert_eq!(record.expires_at, row.expires_at(), "{}", row.expire_date);
                assert_eq!(token.as_bytes(), Some(row.session_data.as_bytes()));
                assert_eq!(record.meta.user_id, None);
            }
            other => panic!("Django's row not read: {other:?}"),
        }
        let just_before = row.expires_at() - time::Duration::microseconds(1);
        assert!(matches!(
            store.load(&key, just_before).await.expect("load"),
            Lookup::Found { .. }
        ));
        assert!(matches!(
            store.load(&key, row.expires_at()).await.expect("load"),
            Lookup::Missing
        ));
    }
}

/// What `store` (signing with [`ANCHOR_SECRET`]) writes is what Django writes: the same
/// `session_data`, and `expire_date` in the database's Django form. `raw` reads
/// `(session_data, expire_date)` back as the database's text, `expected` turns the SQLite
/// text form of the vector into that.
pub(crate) async fn writes_what_django_writes<S: SessionStore>(
    store: &S,
    raw: impl AsyncFn(&SessionKey) -> (String, String),
    expected: impl Fn(&str) -> String,
) {
    for row in django_rows() {
        let key = SessionKey::generate();
        let r = Record {
            data: row.data.clone(),
            expires_at: row.now + time::Duration::seconds(AGE),
            meta: Metadata::default(),
        };
        let CreateOutcome::Created(token) = store.create(&key, &r, row.now).await.expect("create")
        else {
            panic!("collision on a fresh key")
        };
        let (data, expire) = raw(&key).await;
        assert_eq!(data, row.session_data);
        assert_eq!(token.as_bytes(), Some(data.as_bytes()));
        assert_eq!(expire, expected(&row.expire_date));
        // A save writes the same forms.
        let SaveOutcome::Saved(_) = store.save(&key, &r, &token, row.now).await.expect("save")
        else {
            panic!("save with the current token failed")
        };
        assert_eq!(
            raw(&key).await,
            (row.session_data, expected(&row.expire_date))
        );
    }
}

/// A row signed with another secret is `Missing` (and not listed, not revoked) for
/// `other`, and stays in place for `store`.
pub(crate) async fn unreadable_rows_are_missing_and_left<S: SessionStore>(store: &S, other: &S) {
    let key = SessionKey::generate();
    let now = sessionkit_testkit::suite::NOW;
    let mut r = record(
        r#"{"_auth_user_id":"7","n":1}"#,
        now + time::Duration::hours(1),
    );
    r.meta.user_id = Some("7".into());
    store.create(&key, &r, now).await.expect("create");
    assert!(matches!(
        other.load(&key, now).await.expect("load"),
        Lookup::Missing
    ));
    assert_eq!(
        other.create(&key, &r, now).await.expect("create"),
        CreateOutcome::Collision,
        "an unreadable live row is never overwritten"
    );
    let listing = other.listing().expect("listing");
    assert!(
        !listing
            .list_boxed(Page::first(now, 100))
            .await
            .expect("list")
            .iter()
            .any(|i| i.key == key)
    );
    let index = other.user_index().expect("user index");
    assert!(
        index
            .sessions_of_boxed("7", now)
            .await
            .expect("of")
            .is_empty()
    );
    assert_eq!(index.revoke_user_boxed("7", None).await.expect("revoke"), 0);
    match store.load(&key, now).await.expect("load") {
        Lookup::Found { record, .. } => {
            assert_eq!(record.data.get("n"), Some(Value::Int(1)));
            assert_eq!(record.meta.user_id.as_deref(), Some("7"));
        }
        other => panic!("the row must stay: {other:?}"),
    }
}

/// The token is the stored text, compared byte for byte: a token differing only in
/// letter case (equal under a case-insensitive collation) conflicts.
pub(crate) async fn tokens_compare_bytes<S: SessionStore>(store: &S) {
    let now = sessionkit_testkit::suite::NOW;
    let key = SessionKey::generate();
    let r = record(r#"{"n":1}"#, now + time::Duration::hours(1));
    let CreateOutcome::Created(token) = store.create(&key, &r, now).await.expect("create") else {
        panic!("collision on a fresh key")
    };
    let swapped: Vec<u8> = token
        .as_bytes()
        .expect("byte token")
        .iter()
        .map(|b| {
            if b.is_ascii_lowercase() {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            }
        })
        .collect();
    let mut padded = token.as_bytes().expect("byte token").to_vec();
    padded.push(b' ');
    // Other data than stored: a wrong token must not write it.
    let r2 = record(r#"{"n":2}"#, now + time::Duration::hours(1));
    for bad in [
        Token::bytes(swapped),
        Token::bytes(padded),
        Token::version(1),
    ] {
        assert_eq!(
            store.save(&key, &r2, &bad, now).await.expect("save"),
            SaveOutcome::Conflict,
            "{bad:?}"
        );
    }
    assert!(matches!(
        store.save(&key, &r2, &token, now).await.expect("save"),
        SaveOutcome::Saved(_)
    ));
    // Saving exactly what is stored again (same data, same second) still succeeds and
    // keeps the token.
    let Lookup::Found { token, .. } = store.load(&key, now).await.expect("load") else {
        panic!("saved session not found")
    };
    assert_eq!(
        store.save(&key, &r2, &token, now).await.expect("save"),
        SaveOutcome::Saved(token)
    );
}

/// `touch` moves `expire_date` and nothing else.
pub(crate) async fn touch_moves_only_the_expiry<S: SessionStore>(
    store: &S,
    raw: impl AsyncFn(&SessionKey) -> (String, String),
) {
    let now = sessionkit_testkit::suite::NOW;
    let key = SessionKey::generate();
    let r = record(r#"{"n":1}"#, now + time::Duration::hours(1));
    store.create(&key, &r, now).await.expect("create");
    let (data, expire) = raw(&key).await;
    let later = now + time::Duration::hours(5);
    assert!(store.touch(&key, later, now).await.expect("touch"));
    let (data2, expire2) = raw(&key).await;
    assert_eq!(data, data2);
    assert_ne!(expire, expire2);
    match store
        .load(&key, now + time::Duration::hours(2))
        .await
        .expect("load")
    {
        Lookup::Found { record, .. } => assert_eq!(record.expires_at, later),
        other => panic!("touched session not found: {other:?}"),
    }
}

/// Clearing reports progress per batch of 1000.
pub(crate) async fn clear_reports_progress<S: SessionStore>(store: &S) {
    let now = sessionkit_testkit::suite::NOW;
    let r = record("{}", now + time::Duration::seconds(1));
    for _ in 0..2500 {
        store
            .create(&SessionKey::generate(), &r, now)
            .await
            .expect("create");
    }
    crate::server::clears_in_batches_of_1000(store, now + time::Duration::seconds(10)).await;
}

/// Opening a store on a table without Django's columns failed, saying so.
pub(crate) fn refused_as_not_djangos<S: std::fmt::Debug>(opened: Result<S, StoreError>) {
    let err = opened.expect_err("not Django's table");
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(
        err.to_string().contains("is not Django's session table"),
        "{err}"
    );
}

/// The tests of the Django layout on a server, written once for PostgreSQL and MySQL, with
/// `open(table, secrets)` (creating the table if missing; `None`, a SKIP, when the server is
/// unreachable), `fresh_with(secrets)` and `fresh()` (a store on a fresh table, dropped with
/// it), the conformance suite's Django profile, and the checks of Django's formats and
/// tables that only need a raw connection to set up or look.
///
/// The module using it has `url()`, `sweep_stale()`, `dropping(table)`, and these hooks
/// on a raw connection: `raw_row(table, key)` (`(session_data, expire_date)` as the
/// server prints them), `insert_django_row(table, key, row)` (as Django writes it),
/// `expire_text(sqlite_text)` (a vector's date as `raw_row` prints it),
/// `table_exists(table)`, `raw_exec(sql)` and `shown(table)` (the table as errors and
/// descriptions name it). `$table` turns a store's `table()` into the name `open` takes,
/// `$scheme` is the URLs' scheme (`postgres://`).
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! django_server_tests {
    ($store:ident, $name:literal, table: $table:expr, scheme: $scheme:literal) => {
        /// Connects on `table` (created if missing) with Django's `time` settings:
        /// `None` (SKIP) when the server is unreachable.
        async fn open_with_time(
            table: &str,
            secrets: &Secrets,
            time: sessionkit_sql::django::DjangoTime,
        ) -> Option<$store> {
            sessionkit_testkit::require_store(
                $name,
                $store::builder(&url(), secrets)
                    .with_table(table)
                    .create_table_if_missing()
                    .with_django_time(time)
                    .connect()
                    .await,
            )
        }

        /// [`open_with_time`] with `USE_TZ = True`.
        async fn open(table: &str, secrets: &Secrets) -> Option<$store> {
            open_with_time(table, secrets, Default::default()).await
        }

        /// A store with Django's `time` settings on a fresh table, dropped with the store.
        async fn fresh_with_time(
            secrets: &Secrets,
            time: sessionkit_sql::django::DjangoTime,
        ) -> Option<Scoped<$store>> {
            sweep_stale().await;
            let table = table_name();
            let store = open_with_time(&table, secrets, time).await?;
            let guard = dropping(&table);
            Some(crate::server::scoped(store, move || drop(guard)))
        }

        /// A store on a fresh table, dropped with the store.
        async fn fresh_with(secrets: &Secrets) -> Option<Scoped<$store>> {
            fresh_with_time(secrets, Default::default()).await
        }

        async fn fresh() -> Option<Scoped<$store>> {
            fresh_with(&secrets()).await
        }

        mod conformance {
            use super::*;
            sessionkit_testkit::conformance_tests!(Profile::django(), fresh());
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn unreadable_rows_are_missing_and_left_in_place() {
            let Some(store) = fresh().await else { return };
            let other = store.with_secrets(&Secrets::new("another-secret"));
            django::unreadable_rows_are_missing_and_left(&*store, &other).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn touch_moves_only_the_expiry() {
            let Some(store) = fresh().await else { return };
            let table = store.table().to_owned();
            django::touch_moves_only_the_expiry(&*store, async |key| raw_row(&table, key).await)
                .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn clear_expired_reports_progress() {
            let Some(store) = fresh().await else { return };
            django::clear_reports_progress(&*store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn two_cleaners_remove_each_row_once() {
            let Some(a) = fresh().await else { return };
            let b = open(&($table)(a.table()), &secrets())
                .await
                .expect("a second store on the same table");
            server::two_cleaners(&*a, &b).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fifty_concurrent_savers_one_wins() {
            let Some(store) = fresh().await else { return };
            server::fifty_savers(&*store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn create_over_expired_gets_a_new_token() {
            let Some(store) = fresh().await else { return };
            server::create_over_expired_continues_versions(&*store).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn reads_rows_django_wrote() {
            let Some(store) = fresh_with(&django::anchor()).await else {
                return;
            };
            let table = ($table)(store.table());
            django::reads_django_rows(&*store, async |key, row| {
                insert_django_row(&table, key, row).await
            })
            .await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn writes_what_django_writes() {
            let Some(store) = fresh_with(&django::anchor()).await else {
                return;
            };
            let table = ($table)(store.table());
            django::writes_what_django_writes(
                &*store,
                async |key| raw_row(&table, key).await,
                expire_text,
            )
            .await;
        }

        #[tokio::test]
        async fn a_missing_table_is_a_clear_config_error() {
            let table = table_name();
            let result = $store::builder(&url(), &secrets())
                .with_table(&table)
                .connect()
                .await;
            let Err(err) = result else {
                panic!("connected without a table")
            };
            if err.kind() == StoreErrorKind::Unavailable {
                sessionkit_testkit::require($name, Err::<(), _>(err.report()));
                return;
            }
            assert_eq!(err.kind(), StoreErrorKind::Config, "{}", err.report());
            let msg = err.to_string();
            assert!(
                msg.contains(&format!("table {} not found in {}", shown(&table), $scheme))
                    && msg.contains(
                        "run Django's `manage.py migrate`, or open with `create_table_if_missing`"
                    ),
                "{msg}"
            );
            assert!(!table_exists(&table).await, "nothing created");
        }

        #[tokio::test]
        async fn tables_of_other_shapes_are_refused() {
            if !server_up().await {
                sessionkit_testkit::require($name, Err::<(), _>("unreachable".into()));
                return;
            }
            let table = table_name();
            let _guard = dropping(&table);
            raw_exec(&format!(
                "CREATE TABLE {table} (session_key varchar(40) PRIMARY KEY, data text)"
            ))
            .await;
            let opened = $store::builder(&url(), &secrets())
                .with_table(&table)
                .connect()
                .await;
            django::refused_as_not_djangos(opened);
        }

        #[tokio::test]
        async fn describe_shows_no_password() {
            let Some(store) = fresh().await else { return };
            let table = ($table)(store.table());
            let Ok(again) = $store::builder(&server::with_password(&url()), &secrets())
                .with_table(&table)
                .connect()
                .await
            else {
                // A server that checks passwords refuses the made-up one.
                return;
            };
            let described = again.describe();
            assert!(!described.contains("s3cret"), "{described}");
            assert!(
                described.starts_with($scheme)
                    && described.ends_with(&format!(" (django layout, table {})", shown(&table))),
                "{described}"
            );
        }
    };
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use django_server_tests;

#[test]
fn the_vectors_are_there() {
    let rows = django_rows();
    let signer = sessionkit_django::session::signer(&anchor());
    for r in rows {
        assert_eq!(
            sessionkit_django::session::decode(&r.session_data, &signer),
            Some(r.data.clone())
        );
    }
    assert_eq!(sqlite_schema().len(), 2);
}

/// `USE_TZ = False, TIME_ZONE = "America/New_York"`, as the stores of the time-zone tests
/// are opened with.
pub(crate) fn new_york() -> DjangoTime {
    DjangoTime::local("America/New_York").expect("the zone database has New York")
}

/// `store` (opened with [`new_york`]) writes `expire_date` as naive New York time, reads
/// naive New York times as the instants they name, and cleans at those instants. `raw`
/// reads a row's `expire_date` as text (`YYYY-MM-DD HH:MM:SS`, any fraction cut), `set`
/// writes one as Django with `USE_TZ = False` would.
pub(crate) async fn local_times<S: SessionStore>(
    store: &S,
    raw: impl AsyncFn(&SessionKey) -> String,
    set: impl AsyncFn(&SessionKey, &str),
) {
    use time::macros::datetime;
    let winter = datetime!(2026-01-15 17:00 UTC);
    // Written by the Rust side: local time, EST (UTC-5).
    let a = SessionKey::generate();
    let r = record(r#"{"n":1}"#, winter + time::Duration::hours(1));
    let CreateOutcome::Created(_) = store.create(&a, &r, winter).await.expect("create") else {
        panic!("collision on a fresh key")
    };
    assert_eq!(raw(&a).await, "2026-01-15 13:00:00");
    match store.load(&a, winter).await.expect("load") {
        Lookup::Found { record, .. } => {
            assert_eq!(record.expires_at, datetime!(2026-01-15 18:00 UTC));
        }
        other => panic!("not read back: {other:?}"),
    }
    // Live until 18:00 UTC, not until 13:00 UTC.
    let live =
        |t| async move { matches!(store.load(&a, t).await.expect("load"), Lookup::Found { .. }) };
    assert!(live(datetime!(2026-01-15 17:59:59 UTC)).await);
    assert!(!live(datetime!(2026-01-15 18:00 UTC)).await);
    // A touch and a save write local time too.
    assert!(
        store
            .touch(&a, datetime!(2026-01-15 20:00 UTC), winter)
            .await
            .expect("touch")
    );
    assert_eq!(raw(&a).await, "2026-01-15 15:00:00");

    // Written by Django in summer: EDT (UTC-4). 12:00 local is 16:00 UTC.
    set(&a, "2026-07-15 12:00:00").await;
    let b = SessionKey::generate();
    let summer = datetime!(2026-07-15 13:00 UTC);
    let CreateOutcome::Created(_) = store
        .create(
            &b,
            &record(r#"{"n":2}"#, summer + time::Duration::hours(1)),
            summer,
        )
        .await
        .expect("create")
    else {
        panic!("collision on a fresh key")
    };
    assert_eq!(raw(&b).await, "2026-07-15 10:00:00");
    match store.load(&a, summer).await.expect("load") {
        Lookup::Found { record, .. } => {
            assert_eq!(record.expires_at, datetime!(2026-07-15 16:00 UTC));
        }
        other => panic!("Django's local row not read: {other:?}"),
    }
    assert!(live(datetime!(2026-07-15 15:59:59 UTC)).await);
    assert!(!live(datetime!(2026-07-15 16:00:00 UTC)).await);
    // Listing reads local times too.
    let listing = store.listing().expect("the Django layout lists");
    let listed = listing
        .list_boxed(Page::first(datetime!(2026-07-15 14:30 UTC), 10))
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, a);
    assert_eq!(listed[0].expires_at, datetime!(2026-07-15 16:00 UTC));

    // Cleaning at 14:30 UTC (10:30 local): b (10:00 local) is gone, a (12:00 local,
    // which a UTC reading would take for expired) stays.
    assert_eq!(
        store
            .clear_expired(datetime!(2026-07-15 14:30 UTC))
            .await
            .expect("clear"),
        1
    );
    assert!(live(datetime!(2026-07-15 14:30 UTC)).await);
    assert!(matches!(
        store.load(&b, summer).await.expect("load"),
        Lookup::Missing
    ));
    assert_eq!(
        store
            .clear_expired(datetime!(2026-07-15 16:00 UTC))
            .await
            .expect("clear"),
        1
    );
}
