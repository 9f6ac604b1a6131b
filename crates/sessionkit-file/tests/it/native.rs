//! sessionkit's own file layout: the conformance suite and the files on disk.

use sessionkit_core::store::Page;
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
        .list_boxed(Page::first(now, 10))
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

/// Issue 19: a file written by the previous build (no `"k"` in its header) loads and
/// lists without client info; a file whose `"k"` is garbage loads too, without client
/// info, and a warning says so; what this build writes reads back.
#[tokio::test]
async fn client_info_compatibility() {
    use sessionkit_core::{ClientInfo, Lookup, SessionKey, SessionStore};
    use sessionkit_testkit::logs::Logs;

    let logs = Logs::mark();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(dir.path()).unwrap();
    let now = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
    let header = |extra: &str| {
        format!(
            r#"{{"v":3,"e":1767229200000000,"c":1767225000000000,"s":1767225600000000,"u":"42","r":false{extra}}}"#
        ) + "\n{\"n\":1}"
    };
    let client_of = |key: SessionKey| {
        let store = store.clone();
        async move {
            match store.load(&key, now).await.unwrap() {
                Lookup::Found { record, token } => {
                    assert_eq!(record.meta.user_id.as_deref(), Some("42"));
                    assert_eq!(token, sessionkit_core::Token::version(3));
                    record.meta.client
                }
                other => panic!("{other:?}"),
            }
        }
    };
    let info = ClientInfo::new(Some("198.51.100.4".parse().unwrap()), Some("curl/8.5.0"));
    let cases = [
        (header(""), None),
        (header(r#","k":"not an ip\t\tx""#), None),
        (header(r#","k":17"#), None),
        (
            header(r#","k":"198.51.100.4\tcurl/8.5.0\tcurl""#),
            Some(info),
        ),
    ];
    let mut keys = Vec::new();
    for (text, want) in cases {
        let key = SessionKey::generate();
        std::fs::write(dir.path().join(format!("sk_{}", key.as_str())), text).unwrap();
        assert_eq!(client_of(key).await, want);
        keys.push((key, want));
    }
    assert_eq!(
        logs.lines("WARN")
            .iter()
            .filter(|l| l.contains("unreadable client info"))
            .count(),
        2
    );
    let listed = store
        .listing()
        .unwrap()
        .list_boxed(Page::first(now, 10))
        .await
        .unwrap();
    assert_eq!(listed.len(), 4);
    for info in listed {
        let want = &keys.iter().find(|(k, _)| *k == info.key).unwrap().1;
        assert_eq!(&info.meta.client, want);
    }
}
