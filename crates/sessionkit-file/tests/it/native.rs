//! sessionkit's own file layout: the conformance suite and the files on disk.

use sessionkit_file::FileStore;
use sessionkit_testkit::Profile;

async fn fresh() -> Option<FileStore> {
    let dir = tempfile::tempdir().expect("temp dir").keep();
    Some(FileStore::open(dir).expect("open"))
}

sessionkit_testkit::conformance_tests!(Profile::full(), fresh());

#[tokio::test]
async fn missing_directory_is_refused() {
    let err = FileStore::open("/nonexistent/sessions").unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
}

/// Issue 15: opened with `Create::Never`, the store makes nothing while reading (not
/// even its lock directory); the first write makes the lock directory.
#[tokio::test]
async fn create_never_makes_the_lock_directory_only_on_a_write() {
    use sessionkit_core::store::Create;
    use sessionkit_core::{Config, Engine, SessionKey, SessionStore};
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::builder(dir.path())
        .with_create(Create::Never)
        .open()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    store.load(&SessionKey::generate(), now).await.unwrap();
    store
        .listing()
        .unwrap()
        .list_boxed(now, None, 10)
        .await
        .unwrap();
    store
        .user_index()
        .unwrap()
        .sessions_of_boxed("u", now)
        .await
        .unwrap();
    store.clear_expired(now).await.unwrap();
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let engine = Engine::new(store, Config::default());
    let req = engine.begin(None);
    req.load().await.unwrap().insert("x", 1).unwrap();
    req.finish(200).await;
    assert!(dir.path().join(".locks").is_dir());
}

/// The whole contract holds on a store opened with `Create::Never` (its lock directory
/// made by the first write).
mod never {
    use sessionkit_core::store::Create;
    use sessionkit_file::FileStore;
    use sessionkit_testkit::Profile;

    async fn fresh() -> Option<FileStore> {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        Some(
            FileStore::builder(dir)
                .with_create(Create::Never)
                .open()
                .expect("open"),
        )
    }

    sessionkit_testkit::conformance_tests!(Profile::full(), fresh());
}

#[cfg(unix)]
#[tokio::test]
async fn files_are_private_and_no_temp_files_remain() {
    use std::os::unix::fs::PermissionsExt;

    use sessionkit_core::{Config, Engine};
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::new(FileStore::open(dir.path()).unwrap(), Config::default());
    for _ in 0..5 {
        let req = engine.begin(None);
        req.load().await.unwrap().insert("x", 1).unwrap();
        req.finish(200).await;
    }
    let mut n = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        assert!(!name.starts_with(".tmp"), "{name}");
        if name.starts_with("sk_") {
            n += 1;
            assert_eq!(e.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
    assert_eq!(n, 5);
}

#[test]
fn location_is_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    assert_eq!(store.location(), dir.path());
    #[allow(deprecated)]
    let old = store.dir();
    assert_eq!(old, dir.path());
}
