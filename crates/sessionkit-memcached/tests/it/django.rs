//! Django's `cache` layout on memcached (`DjangoMemcachedStore`): the conformance suite
//! and what is specific to it. Interoperation with live Django is in sessionkit-interop.

use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SessionKey, SessionStore, StoreErrorKind,
};
use sessionkit_memcached::DjangoMemcachedStore;
use sessionkit_testkit::{Profile, require_store};
use time::OffsetDateTime;

use crate::common::{assert_still_hello, plant_hello, unique_prefix, url};

async fn store() -> Option<DjangoMemcachedStore> {
    require_store(
        "memcached",
        DjangoMemcachedStore::builder(&url())
            .with_key_prefix(unique_prefix().trim_end_matches(':'))
            .connect()
            .await,
    )
}

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(
        Profile::django()
            .without_listing()
            .without_user_index()
            .without_clear_expired(),
        store()
    );
}

/// A value pymemcache stored as text (flags 16) is no session: missing, never
/// overwritten by create.
#[tokio::test]
async fn values_under_other_flags_are_left_alone() {
    let Some(store) = store().await else { return };
    let key = SessionKey::generate();
    let item = store.item_key(&key);
    plant_hello(&item, 16);
    let now = OffsetDateTime::now_utc();
    assert!(matches!(
        store.load(&key, now).await.unwrap(),
        Lookup::Missing
    ));
    let r = Record {
        data: Data::new(),
        expires_at: now + time::Duration::hours(1),
        meta: Metadata::default(),
    };
    assert_eq!(
        store.create(&key, &r, now).await.unwrap(),
        CreateOutcome::Collision
    );
    assert_still_hello(&item);
}

/// Django refuses keys over 250 characters (`InvalidCacheKey`); so does the store, when it
/// connects, for a KEY_PREFIX that would make them.
#[tokio::test]
async fn key_prefixes_that_make_invalid_keys_are_refused() {
    for bad in ["p".repeat(200), "has space".to_owned()] {
        let e = DjangoMemcachedStore::builder(&url())
            .with_key_prefix(bad)
            .connect()
            .await
            .unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Config, "{}", e.report());
    }
}
