//! Django's `cached_db` engine with its cache on memcached (`DjangoMemcachedCachedDbStore`
//! over Django's `db` layout on SQLite): the conformance suite, Django's entry as memcached
//! holds it, and what memcached changes in the rules (no scan: revocation per listed
//! session; compare-and-delete on the CAS value). The rules themselves are tested on Redis
//! too (sessionkit-redis), and against live Django in sessionkit-interop.

use sessionkit_core::{
    Data, Lookup, Metadata, Record, SaveOutcome, SessionKey, SessionStore, Value,
};
use sessionkit_django::Secrets;
use sessionkit_django::pickle::{pymemcache_decode, pymemcache_encode};
use sessionkit_memcached::{DjangoMemcachedCachedDbStore, DjangoMemcachedStore};
use sessionkit_sql::django::DjangoSqliteStore;
use sessionkit_testkit::{Profile, require_store};
use time::OffsetDateTime;

use crate::common::{addr, raw, unique_prefix, url};

/// Django's `db` table in a SQLite file under the tests' target dir (kept: the store
/// outlives any guard the suite could hold), Django's cache on the first server under a
/// `KEY_PREFIX` of its own.
async fn store() -> Option<DjangoMemcachedCachedDbStore<DjangoSqliteStore>> {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("temp dir")
        .keep();
    let db = DjangoSqliteStore::builder(dir.join("db.sqlite3"), &Secrets::new("s3cret"))
        .create_table_if_missing()
        .open()
        .await
        .expect("SQLite");
    require_store(
        "memcached",
        DjangoMemcachedStore::builder(&url())
            .with_key_prefix(unique_prefix().trim_end_matches(':'))
            .connect_cached_db(db)
            .await,
    )
}

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::django(), store());
}

fn record(user: Option<&str>, n: i64, now: OffsetDateTime) -> Record {
    let mut data = Data::new();
    data.insert("n", Value::Int(n));
    if let Some(user) = user {
        data.insert("_auth_user_id", Value::from(user));
    }
    Record {
        meta: Metadata::from_data(&data),
        data,
        expires_at: now + time::Duration::hours(1),
    }
}

/// `mg` of an item on the first server: the value, client flags and TTL.
fn entry(item: &str) -> Option<(Vec<u8>, u32, i64)> {
    // `mn` after it marks the end of the reply, whatever its packets.
    let reply = raw(
        &addr(&url()),
        format!("mg {item} v f t\r\nmn\r\n").as_bytes(),
        b"MN\r\n",
    );
    if reply.starts_with(b"EN") {
        return None;
    }
    let head_end = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    let head = std::str::from_utf8(&reply[..head_end]).unwrap();
    let mut parts = head.split(' ');
    assert_eq!(parts.next(), Some("VA"), "{head}");
    let size: usize = parts.next().unwrap().parse().unwrap();
    let (mut flags, mut ttl) = (0, -1);
    for p in parts {
        match p.split_at(1) {
            ("f", v) => flags = v.parse().unwrap(),
            ("t", v) => ttl = v.parse().unwrap(),
            _ => {}
        }
    }
    let value = reply[head_end + 2..head_end + 2 + size].to_vec();
    Some((value, flags, ttl))
}

/// What a write leaves in memcached is Django's entry: its key, pymemcache's pickle flag,
/// a TTL one second short of the expiry age; a delete removes it.
#[tokio::test]
async fn the_cache_entry_is_djangos() {
    let Some(store) = store().await else { return };
    let key = SessionKey::generate();
    let now = OffsetDateTime::now_utc();
    let r = record(None, 1, now);
    store.create(&key, &r, now).await.unwrap();
    let item = store.item_key(&key);
    assert!(
        item.ends_with(&format!(
            ":1:django.contrib.sessions.cached_db{}",
            key.as_str()
        )),
        "{item}"
    );
    let (value, flags, ttl) = entry(&item).expect("Django's entry");
    assert_eq!(flags, 1);
    assert!((3597..=3599).contains(&ttl), "{ttl}");
    assert_eq!(pymemcache_decode(&value, flags).unwrap(), r.data);
    store.delete(&key).await.unwrap();
    assert!(entry(&item).is_none());
    assert!(matches!(
        store.db().load(&key, now).await.unwrap(),
        Lookup::Missing
    ));
}

/// A stale entry (another dict than the row's, as a writer that died between its two
/// writes leaves) is served, but a save of it is a conflict that deletes it; the replay,
/// reading the row, then saves.
#[tokio::test]
async fn a_stale_entry_is_evicted_by_the_save_that_read_it() {
    let Some(store) = store().await else { return };
    let key = SessionKey::generate();
    let now = OffsetDateTime::now_utc();
    store
        .create(&key, &record(None, 1, now), now)
        .await
        .unwrap();
    let item = store.item_key(&key);
    let (stale, flags) = pymemcache_encode(&record(None, 99, now).data);
    let mut set = format!("ms {item} {} F{flags} T600\r\n", stale.len()).into_bytes();
    set.extend_from_slice(&stale);
    set.extend_from_slice(b"\r\n");
    raw(&addr(&url()), &set, b"\r\n");
    let Lookup::Found {
        record: seen,
        token,
    } = store.load(&key, now).await.unwrap()
    else {
        panic!("served from the cache");
    };
    assert_eq!(seen.data.get("n"), Some(Value::Int(99)));
    let mut next = seen.clone();
    next.data.insert("n", Value::Int(100));
    assert_eq!(
        store.save(&key, &next, &token, now).await.unwrap(),
        SaveOutcome::Conflict
    );
    assert!(entry(&item).is_none(), "the stale entry is gone");
    let Lookup::Found { record: row, token } = store.load(&key, now).await.unwrap() else {
        panic!("the row");
    };
    assert_eq!(row.data.get("n"), Some(Value::Int(1)));
    let mut next = row.clone();
    next.data.insert("n", Value::Int(2));
    assert!(matches!(
        store.save(&key, &next, &token, now).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    let (value, flags, _) = entry(&item).expect("refilled");
    assert_eq!(
        pymemcache_decode(&value, flags).unwrap().get("n"),
        Some(Value::Int(2))
    );
}

/// Memcached cannot be scanned: "log out everywhere" deletes the entry of each session
/// the database lists for the user, but the one kept; other users' entries stay.
#[tokio::test]
async fn revoking_a_user_deletes_the_entries_of_their_listed_sessions() {
    let Some(store) = store().await else { return };
    let now = OffsetDateTime::now_utc();
    let user = format!("u{}", SessionKey::generate().as_str());
    let theirs: Vec<SessionKey> = (0..3).map(|_| SessionKey::generate()).collect();
    let other = SessionKey::generate();
    for (n, key) in (0..).zip(&theirs) {
        store
            .create(key, &record(Some(&user), n, now), now)
            .await
            .unwrap();
    }
    store
        .create(&other, &record(Some("someone-else"), 9, now), now)
        .await
        .unwrap();
    let index = store.user_index().expect("the table's index");
    let revoked = index
        .revoke_user_boxed(&user, Some(&theirs[2]))
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    for key in &theirs[..2] {
        assert!(entry(&store.item_key(key)).is_none());
        assert!(matches!(
            store.load(key, now).await.unwrap(),
            Lookup::Missing
        ));
    }
    assert!(entry(&store.item_key(&theirs[2])).is_some(), "kept");
    assert!(entry(&store.item_key(&other)).is_some(), "another user's");
}

/// `clear_expired` is the database's: memcached's TTLs end the entries.
#[tokio::test]
async fn clear_expired_is_the_databases() {
    let Some(store) = store().await else { return };
    let now = OffsetDateTime::now_utc();
    let key = SessionKey::generate();
    store
        .create(&key, &record(None, 1, now), now)
        .await
        .unwrap();
    let later = now + time::Duration::hours(2);
    assert_eq!(store.clear_expired(later).await.unwrap(), 1);
    assert!(
        store
            .describe()
            .contains("django cached_db cache on memcached://")
    );
}
