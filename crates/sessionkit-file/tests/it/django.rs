//! Django's file layout: the conformance suite (Django profile) and the byte form.

use std::time::{Duration, SystemTime};

use sessionkit_core::{Lookup, SessionKey, SessionStore, Value};
use sessionkit_django::Secrets;
use sessionkit_file::DjangoFileStore;
use sessionkit_testkit::Profile;
use time::OffsetDateTime;

const SECRET: &str = "anchor-secret-key-for-vectors";

/// Sets the file time of `path` to `age` ago.
fn backdate(path: &std::path::Path, age: Duration) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

/// A store in a fresh temp dir whose `SESSION_COOKIE_AGE` is `age`.
fn store_with_cookie_age(age: i64) -> (tempfile::TempDir, DjangoFileStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = DjangoFileStore::builder(dir.path(), &Secrets::new(SECRET))
        .with_cookie_age(age)
        .open()
        .unwrap();
    (dir, store)
}

async fn fresh() -> Option<DjangoFileStore> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Some(DjangoFileStore::open(dir, &Secrets::new(SECRET)).expect("open"))
}

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::django(), fresh());
}

/// Issue 15: the whole contract on a store opened with `Create::Never`, which creates its
/// lock directory only on the first write.
mod never {
    use sessionkit_core::store::Create;

    use super::*;

    async fn fresh() -> Option<DjangoFileStore> {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Some(
            DjangoFileStore::builder(dir, &Secrets::new(SECRET))
                .with_create(Create::Never)
                .open()
                .expect("open"),
        )
    }

    sessionkit_testkit::conformance_tests!(Profile::django(), fresh());

    #[tokio::test]
    async fn reading_creates_nothing_and_a_missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("sessions");
        let err = DjangoFileStore::builder(&missing, &Secrets::new(SECRET))
            .with_create(Create::Never)
            .open()
            .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        assert!(!missing.exists());
        let store = DjangoFileStore::builder(dir.path(), &Secrets::new(SECRET))
            .with_create(Create::Never)
            .open()
            .unwrap();
        let now = OffsetDateTime::now_utc();
        store.load(&SessionKey::generate(), now).await.unwrap();
        store.clear_expired(now).await.unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

/// The `file.session_file` vector: a file Django wrote is read, and what we write Django
/// can read (same name, same content form, mode 0600, no newline).
#[tokio::test]
async fn reads_and_writes_djangos_file() {
    let dir = tempfile::tempdir().unwrap();
    let name = "sessionidabcdefghijklmnopqrstuvwxyz012345";
    let content = "eyJjb3VudCI6NCwiZmF2b3JpdGVfY29sb3IiOiJibHVlIn0:1vb66i:xT2qXHXjBEKdl9_htSvGeqznirHyU2P9bd5-Y6pxBVg";
    std::fs::write(dir.path().join(name), content).unwrap();
    let store = DjangoFileStore::open(dir.path(), &Secrets::new(SECRET)).unwrap();
    let key = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
    let now = OffsetDateTime::now_utc();
    let Lookup::Found { record, token } = store.load(&key, now).await.unwrap() else {
        panic!("Django's file must load");
    };
    assert_eq!(record.data.get("count"), Some(Value::Int(4)));
    assert_eq!(token.as_bytes(), Some(content.as_bytes()));
    // Expiry: mtime + cookie age.
    let age = (record.expires_at - now).whole_seconds();
    assert!((1_209_590..=1_209_600).contains(&age), "{age}");

    let mut r = record.clone();
    r.data.insert("count", Value::Int(5));
    assert!(matches!(
        store.save(&key, &r, &token, now).await.unwrap(),
        sessionkit_core::SaveOutcome::Saved(_)
    ));
    let written = std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert!(!written.ends_with('\n'));
    assert!(written.is_ascii());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let signer = sessionkit_django::session::signer(&Secrets::new(SECRET));
    let data = sessionkit_django::session::decode(&written, &signer).unwrap();
    assert_eq!(data.get("count"), Some(Value::Int(5)));
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("_out_")),
        "no temporary file left"
    );
}

#[tokio::test]
async fn file_time_and_relative_expiry() {
    let (dir, store) = store_with_cookie_age(100);
    let key = SessionKey::generate();
    let now = OffsetDateTime::now_utc();
    let mut data = sessionkit_core::Data::new();
    data.insert("_session_expiry", Value::Int(300));
    let rec = sessionkit_core::Record {
        data,
        expires_at: now,
        meta: sessionkit_core::Metadata::default(),
    };
    store.create(&key, &rec, now).await.unwrap();
    // A relative expiry counts from the file time (Django would never expire it).
    let path = dir.path().join(format!("sessionid{}", key.as_str()));
    backdate(&path, Duration::from_secs(301));
    assert!(matches!(
        store.load(&key, now).await.unwrap(),
        Lookup::Missing
    ));
    assert_eq!(store.clear_expired(now).await.unwrap(), 1);
    assert!(!path.exists());
}

#[tokio::test]
async fn unreadable_files_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = DjangoFileStore::open(dir.path(), &Secrets::new("another-secret")).unwrap();
    let name = "sessionidabcdefghijklmnopqrstuvwxyz012345";
    std::fs::write(
        dir.path().join(name),
        "eyJjb3VudCI6MX0:1vb66i:JJNgHSKKg3wnHodyqXp7GUIHuJ_OJH0rr8B2yIKOsrk",
    )
    .unwrap();
    let key = SessionKey::parse("abcdefghijklmnopqrstuvwxyz012345").unwrap();
    assert!(matches!(
        store.load(&key, OffsetDateTime::now_utc()).await.unwrap(),
        Lookup::Missing
    ));
    assert_eq!(
        store
            .clear_expired(OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    assert!(dir.path().join(name).exists(), "left for inspection");
    assert!(DjangoFileStore::open("/nonexistent/dir", &Secrets::new("x")).is_err());
}

/// Django's `FileSessionTests.test_clearsessions_command` (`SESSION_COOKIE_AGE = 0`): of a
/// session with a relative expiry in the future, one in the past and one without an
/// expiry, the cleanup removes the two whose file time plus age has passed.
#[tokio::test]
async fn clearsessions_with_a_cookie_age_of_zero() {
    let (dir, store) = store_with_cookie_age(0);
    let now = OffsetDateTime::now_utc();
    // Django counts the files named with the cookie-name prefix.
    let count = || {
        std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("sessionid")
            })
            .count()
    };
    assert_eq!(count(), 0);
    for expiry in [Some(3600), Some(-3600), None] {
        let mut data = sessionkit_core::Data::new();
        data.insert("foo", Value::from("bar"));
        if let Some(seconds) = expiry {
            data.insert("_session_expiry", Value::Int(seconds));
        }
        let rec = sessionkit_core::Record {
            data,
            expires_at: now,
            meta: sessionkit_core::Metadata::default(),
        };
        store
            .create(&SessionKey::generate(), &rec, now)
            .await
            .unwrap();
    }
    assert_eq!(count(), 3);
    let later = now + time::Duration::seconds(1);
    assert_eq!(store.clear_expired(later).await.unwrap(), 2);
    assert_eq!(count(), 1, "the session with an hour to go is left");
}

/// Django's file cleanup deletes a file it cannot decode once its file time plus
/// `SESSION_COOKIE_AGE` has passed (the corrupted data reads as `{}`, which expires by the
/// file time). sessionkit never deletes data it cannot read: such a file is "no session"
/// plus a warning, and stays for inspection however old it is — a documented deviation
/// (docs/CONFORMANCE.md, item 61).
#[tokio::test]
async fn unreadable_files_are_left_alone_even_when_old() {
    let dir = tempfile::tempdir().unwrap();
    let store = DjangoFileStore::builder(dir.path(), &Secrets::new("another-secret"))
        .with_cookie_age(60)
        .open()
        .unwrap();
    let name = "sessionidabcdefghijklmnopqrstuvwxyz012345";
    let path = dir.path().join(name);
    std::fs::write(&path, "not a signed session").unwrap();
    backdate(&path, Duration::from_secs(30 * 24 * 3600));
    assert_eq!(
        store
            .clear_expired(OffsetDateTime::now_utc())
            .await
            .unwrap(),
        0
    );
    assert!(path.exists(), "left for inspection");
}

/// Issue 14: the file prefix and the cookie age come from the engine's `Config`, the
/// directory is the store's `location`.
#[tokio::test]
async fn settings_come_from_the_engines_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = sessionkit_core::Config::builder()
        .cookie_name("appsession")
        .cookie_age(100)
        .build()
        .unwrap();
    let store = DjangoFileStore::builder(dir.path(), &Secrets::new(SECRET))
        .with_config(&config)
        .open()
        .unwrap();
    assert_eq!(store.location(), dir.path());
    let key = SessionKey::generate();
    let now = OffsetDateTime::now_utc();
    let rec = sessionkit_core::Record {
        data: sessionkit_core::Data::new(),
        expires_at: now,
        meta: sessionkit_core::Metadata::default(),
    };
    store.create(&key, &rec, now).await.unwrap();
    assert!(
        dir.path()
            .join(format!("appsession{}", key.as_str()))
            .exists()
    );
    let Lookup::Found { record, .. } = store.load(&key, now).await.unwrap() else {
        panic!("the session must load");
    };
    let age = (record.expires_at - now).whole_seconds();
    assert!((90..=100).contains(&age), "{age}");
}
