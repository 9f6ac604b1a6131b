//! What the `db` engine modules share: a namespace per test (a PostgreSQL schema, a MySQL
//! database), removed by the driver's `teardown` when the test ends, and a sweep of the
//! namespaces a killed run left behind.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SessionKey, SessionStore, Value, pytime,
};
use time::OffsetDateTime;

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
pub(crate) fn local_django_time() -> sessionkit_sql::django::DjangoTime {
    sessionkit_sql::django::DjangoTime::local(LOCAL_ZONE).expect("the zone database has it")
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
