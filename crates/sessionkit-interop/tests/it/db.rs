//! What the `db` engine modules share: a namespace per test (a PostgreSQL schema, a MySQL
//! database), removed by the driver's `teardown` when the test ends, and a sweep of the
//! namespaces a killed run left behind; the setup of a test on a database server, written
//! once over a [`Server`]; and the checks of Django's `USE_TZ = False` times.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessionkit_core::{
    CreateOutcome, Data, Engine, Lookup, Metadata, Record, SessionKey, SessionStore, StoreError,
    Value, pytime,
};
use sessionkit_django::Secrets;
use sessionkit_sql::django::DjangoTime;
use time::OffsetDateTime;

use crate::django::Django;
use crate::scenarios::{Pair, config};

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

/// A database server Django's `db` engine runs on in these tests, with a namespace (a
/// PostgreSQL schema, a MySQL database) per test. The modules differ in how they reach the
/// server and name the namespace; [`server_site`] and [`server_pair`], the same for both,
/// take it as a parameter.
pub(crate) trait Server: 'static {
    /// The service's name, for `require`.
    const SERVICE: &'static str;
    /// A plain connection.
    type Conn;
    /// The Rust store of Django's table.
    type Store: SessionStore + Clone;

    /// A plain connection: `Err` when the server is unreachable.
    async fn raw() -> Result<Self::Conn, String>;

    /// Every namespace on the server named like these tests' (`sk_interop_…`).
    async fn namespaces(conn: &mut Self::Conn) -> Vec<String>;

    /// Drops the namespace `name` (errors ignored).
    async fn drop_namespace(conn: &mut Self::Conn, name: &str);

    /// Closes the connection.
    async fn close(conn: Self::Conn) {
        drop(conn);
    }

    /// Django's settings for this server: `SK_DB`'s value, then the names of the settings
    /// of the [`url`](Server::url) and of the namespace.
    const SETTINGS: [&'static str; 3];

    /// The server's URL.
    fn url() -> String;

    /// The store on Django's table in `namespace`, with the time settings `time`.
    async fn connect(namespace: &str, time: DjangoTime) -> Result<Self::Store, StoreError>;

    /// `store` under other secrets.
    fn with_secrets(store: &Self::Store, secrets: &Secrets) -> Self::Store;
}

/// Django migrated in a namespace of the test's own on `S`'s server, and the store on its
/// table (`local`: Django's [`local_time`]); the namespace is dropped with the
/// [`Teardown`]. First, once per process and server, the namespaces a killed run left
/// behind are dropped.
pub(crate) async fn server_site<S: Server>(local: bool) -> Option<(Django, S::Store, Teardown)> {
    static SWEPT: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    let django = Django::new("db")?;
    let mut conn = sessionkit_testkit::require(S::SERVICE, S::raw().await)?;
    let first = {
        let mut swept = SWEPT.lock().unwrap();
        let first = !swept.contains(&S::SERVICE);
        if first {
            swept.push(S::SERVICE);
        }
        first
    };
    if first {
        for name in S::namespaces(&mut conn).await {
            if is_stale(&name) {
                S::drop_namespace(&mut conn, &name).await;
            }
        }
    }
    S::close(conn).await;
    let name = namespace();
    let [db, url, namespace] = S::SETTINGS;
    let django = with_time(django, local)
        .with("SK_DB", db)
        .with(url, &S::url())
        .with(namespace, &name);
    let teardown = Teardown(django.clone());
    django.call(&["migrate"]);
    let store =
        sessionkit_testkit::require_store(S::SERVICE, S::connect(&name, django_time(local)).await)?;
    Some((django, store, teardown))
}

/// The pair of [`server_site`] with Django's default times: the namespace lives (and is
/// dropped) with the pair.
pub(crate) async fn server_pair<S: Server>() -> Option<Pair> {
    let (django, store, teardown) = server_site::<S>(false).await?;
    Some(Pair::new(django, teardown, move |secrets| {
        Engine::new(S::with_secrets(&store, secrets), config())
    }))
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

/// Django's `TIME_ZONE` in the `USE_TZ = False` tests: five hours behind UTC in winter,
/// four in summer.
pub(crate) const LOCAL_ZONE: &str = "America/New_York";

/// `SESSION_COOKIE_AGE` in those tests: shorter than the zone's offset, so that reading
/// local times as UTC would take Django's live sessions for expired ones.
const LOCAL_AGE: i64 = 3600;

/// `django` with `USE_TZ = False`, `TIME_ZONE = "America/New_York"` and an hour-long
/// session age.
pub(crate) fn local_time(django: Django) -> Django {
    django
        .with("SK_USE_TZ", "0")
        .with("SK_TIME_ZONE", LOCAL_ZONE)
        .with("SK_COOKIE_AGE", &LOCAL_AGE.to_string())
}

/// The store's setting for [`local_time`] Django.
pub(crate) fn local_django_time() -> DjangoTime {
    DjangoTime::local(LOCAL_ZONE).expect("the zone database has it")
}

/// `django` with [`local_time`] when `local`, else as it is (`USE_TZ = True`).
pub(crate) fn with_time(django: Django, local: bool) -> Django {
    if local { local_time(django) } else { django }
}

/// The store's setting for [`with_time`] Django.
pub(crate) fn django_time(local: bool) -> DjangoTime {
    if local {
        local_django_time()
    } else {
        DjangoTime::default()
    }
}

/// When the row under `key` expires, as Django reads it (`make_aware` of the naive local
/// value); `None` without a row.
fn django_expiry(django: &Django, key: &str) -> Option<OffsetDateTime> {
    let raw = django.call(&["raw", "--key", key]);
    let Some(Value::Map(db)) = raw.get("db") else {
        return None;
    };
    let text = crate::django::text(db, "expire_instant");
    match pytime::fromisoformat(&text) {
        Some(pytime::IsoDateTime::Aware(t)) => Some(t),
        other => panic!("expire_instant {text:?}: {other:?}"),
    }
}

fn exists(django: &Django, key: &str) -> bool {
    let read = django.call(&["read", "--key", key]);
    matches!(read.get("exists"), Some(Value::Bool(true)))
}

fn rust_record(from: &str, expires_at: OffsetDateTime) -> Record {
    Record {
        data: Data::from_json(format!(r#"{{"from":"{from}"}}"#).into()).expect("JSON"),
        expires_at,
        meta: Metadata::default(),
    }
}

/// Django with `USE_TZ = False` in New York (migrated) and `store` (opened with
/// [`local_django_time`]) on the same table agree on every expiry: Rust reads Django's
/// sessions with the instant Django means, Django reads Rust's as live or expired at the
/// right instant, and Rust's `clear_expired` leaves Django's live sessions alone.
pub(crate) async fn local_time_checks<S: SessionStore>(django: &Django, store: &S) {
    let hour = time::Duration::seconds(LOCAL_AGE);
    let now = OffsetDateTime::now_utc();
    // Django writes: Rust reads the instant Django means, about an hour from now.
    let k1 = crate::django::text(
        &django.call(&["create", "--data", r#"{"from":"django"}"#]),
        "key",
    );
    let key1 = SessionKey::parse(&k1).expect("Django's key");
    let at = django_expiry(django, &k1).expect("Django's row");
    assert!(
        (at - (now + hour)).abs() < time::Duration::minutes(5),
        "Django's expiry {at}, now {now}"
    );
    match store.load(&key1, now).await.expect("load") {
        Lookup::Found { record, .. } => {
            assert_eq!(record.expires_at, at);
            assert_eq!(
                record.data.get("from"),
                Some(Value::String("django".into()))
            );
        }
        other => panic!("Rust does not read Django's live session: {other:?}"),
    }
    let micro = time::Duration::microseconds(1);
    assert!(matches!(
        store.load(&key1, at - micro).await.expect("load"),
        Lookup::Found { .. }
    ));
    assert!(matches!(
        store.load(&key1, at).await.expect("load"),
        Lookup::Missing
    ));

    // Rust writes a live session: Django reads it, expiring at the instant written.
    let key2 = SessionKey::generate();
    let expires = now + hour;
    let CreateOutcome::Created(_) = store
        .create(&key2, &rust_record("rust", expires), now)
        .await
        .expect("create")
    else {
        panic!("collision on a fresh key")
    };
    assert!(
        exists(django, key2.as_str()),
        "Django misses Rust's live session"
    );
    assert_eq!(
        django_expiry(django, key2.as_str()),
        Some(pytime::to_micros(expires))
    );
    // And an expired one: Django finds nothing (read as UTC it would be live for hours).
    let key3 = SessionKey::generate();
    let CreateOutcome::Created(_) = store
        .create(
            &key3,
            &rust_record("old", now - time::Duration::minutes(10)),
            now - time::Duration::minutes(20),
        )
        .await
        .expect("create")
    else {
        panic!("collision on a fresh key")
    };
    assert!(
        !exists(django, key3.as_str()),
        "Django reads an expired session"
    );

    // Rust's cleanup removes only the expired row.
    let removed = store
        .clear_expired(OffsetDateTime::now_utc())
        .await
        .expect("clear_expired");
    assert_eq!(removed, 1);
    assert!(
        exists(django, &k1),
        "Rust's cleanup removed Django's live session"
    );
    assert!(exists(django, key2.as_str()));
    assert_eq!(django_expiry(django, key3.as_str()), None);
    // Django's cleanup leaves Rust's live row alone too.
    django.call(&["clear-expired"]);
    assert!(exists(django, key2.as_str()));
}
