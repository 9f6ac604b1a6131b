//! Django's `cached_db` engine ([`DjangoCachedDbStore`] over Django's `db` layout on
//! SQLite): the conformance suite (cache on a standalone server and on a cluster), that
//! every write keeps Django's cache in step — Django reads that cache first (DJANGO.md
//! hazard 3) —, and that reads are served from that cache too without giving up a
//! guarantee.

use std::sync::atomic::{AtomicBool, Ordering};

use sessionkit_core::EXPIRY_KEY;
use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey, SessionStore,
    StoreError, Token, Value, pytime,
};
use sessionkit_django::pickle::{redis_value_decode, redis_value_encode};
use sessionkit_redis::DjangoCachedDbStore;
use sessionkit_sql::django::DjangoSqliteStore;
use sessionkit_testkit::fakes::Counting;
use sessionkit_testkit::logs::Logs;
use sessionkit_testkit::{Profile, require, require_store};
use time::OffsetDateTime;

use crate::common::{NOW, Server, raw, raw_standalone, redis_url, secs, unused_port};
use crate::django_common::{
    cached_db, cached_db_cluster, hex, int, json_data, map, raw_get, raw_set, raw_ttl, records,
    sqlite, text, unique_key_prefix, vector_session,
};

mod conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::django(), cached_db());
}

mod cluster_conformance {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::django(), cached_db_cluster());
}

/// A record whose data carries its expiry as an absolute `_session_expiry`.
fn record(text: &str, expires_at: OffsetDateTime) -> Record {
    let mut data = json_data(text);
    data.insert(EXPIRY_KEY, Value::String(pytime::isoformat(expires_at)));
    Record {
        data,
        expires_at,
        meta: Metadata::default(),
    }
}

/// `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cached_db<key>`, spelled out.
fn cache_name(prefix: &str, key: &SessionKey) -> String {
    format!(
        "{prefix}:1:django.contrib.sessions.cached_db{}",
        key.as_str()
    )
}

fn prefix_of<S: SessionStore>(store: &DjangoCachedDbStore<S>) -> String {
    let key = SessionKey::parse("abcdefgh").unwrap();
    store
        .redis_key(&key)
        .strip_suffix(":1:django.contrib.sessions.cached_dbabcdefgh")
        .expect("version 1")
        .to_owned()
}

/// The dict in Django's cache entry, if any.
async fn cached(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> Option<Data> {
    raw_get(conn, name)
        .await
        .map(|v| redis_value_decode(&v).expect("Django's pickle"))
}

async fn created<S: SessionStore>(store: &S, key: &SessionKey, r: &Record, now: OffsetDateTime) {
    let out = store.create(key, r, now).await.unwrap();
    assert!(matches!(out, CreateOutcome::Created(_)), "{out:?}");
}

async fn token<S: SessionStore>(store: &S, key: &SessionKey, now: OffsetDateTime) -> Token {
    match store.load(key, now).await.unwrap() {
        Lookup::Found { token, .. } => token,
        other => panic!("{other:?}"),
    }
}

/// The vectors: Django's key, Django's bytes, a TTL of the expiry age.
#[tokio::test]
async fn the_cache_entry_is_djangos() {
    let Some(guarded) = cached_db().await else {
        return;
    };
    let store = &guarded.store;
    let prefix = prefix_of(store);
    let mut raw = raw_standalone().await;
    for name in [
        "cached_db.redis_key (default KEY_PREFIX='' VERSION=1)",
        "cached_db.redis_key (KEY_PREFIX='myapp' VERSION=3)",
    ] {
        for r in records(name) {
            let inputs = map(&r, "inputs");
            let key = SessionKey::parse(text(inputs, "session_key")).unwrap();
            let other = store
                .clone()
                .with_key_prefix(text(inputs, "KEY_PREFIX"))
                .with_version(int(inputs, "VERSION"));
            assert_eq!(other.redis_key(&key), text(&r, "output"), "{name}");
        }
    }
    for (name, age) in [
        ("cached_db.redis_raw_after_save", None),
        ("cached_db.redis_ttl_with_set_expiry", Some(600)),
    ] {
        let r = &records(name)[0];
        let output = map(r, "output");
        let (data, age) = vector_session(age);
        let now = OffsetDateTime::now_utc();
        let key = SessionKey::generate();
        let r = Record {
            data,
            expires_at: now + secs(age),
            meta: Metadata::default(),
        };
        created(store, &key, &r, now).await;
        let entry = cache_name(&prefix, &key);
        let value = raw_get(&mut raw, &entry).await.expect("cached");
        assert_eq!(hex(&value), text(output, "value_hex"), "{name}");
        assert_eq!(raw_ttl(&mut raw, &entry).await, int(output, "ttl_seconds"));
    }
}

/// Create and save write the entry (TTL = expiry age, rounded down), touch drops it,
/// delete and retire drop it; loads read the database whatever the cache holds.
#[tokio::test]
async fn every_write_keeps_djangos_cache_in_step() {
    let Some(guarded) = cached_db().await else {
        return;
    };
    let store = &guarded.store;
    let prefix = prefix_of(store);
    let mut raw = raw_standalone().await;
    let key = SessionKey::generate();
    let entry = cache_name(&prefix, &key);

    let r1 = record(r#"{"n": 1}"#, NOW + secs(300));
    created(store, &key, &r1, NOW).await;
    assert_eq!(cached(&mut raw, &entry).await, Some(r1.data.clone()));
    let ttl = raw_ttl(&mut raw, &entry).await;
    assert!((299..=300).contains(&ttl), "{ttl}");

    let t1 = token(store, &key, NOW).await;
    let r2 = record(r#"{"n": 2}"#, NOW + secs(900));
    let out = store.save(&key, &r2, &t1, NOW + secs(100)).await.unwrap();
    let SaveOutcome::Saved(t2) = out else {
        panic!("{out:?}")
    };
    assert_eq!(cached(&mut raw, &entry).await, Some(r2.data.clone()));
    let ttl = raw_ttl(&mut raw, &entry).await;
    assert!((799..=800).contains(&ttl), "{ttl}");

    // A conflicting save changes nothing, in the database or the cache.
    let out = store
        .save(&key, &record(r#"{"n": 3}"#, NOW + secs(900)), &t1, NOW)
        .await
        .unwrap();
    assert_eq!(out, SaveOutcome::Conflict);
    assert_eq!(cached(&mut raw, &entry).await, Some(r2.data.clone()));

    // Loads read the cache first, as Django's do: a stale entry (a writer that died
    // between its two writes) is what a load sees...
    raw_set(
        &mut raw,
        &entry,
        &redis_value_encode(&json_data(r#"{"n": 99}"#)),
        Some(60_000),
    )
    .await;
    let Lookup::Found {
        record: got,
        token: stale,
    } = store.load(&key, NOW).await.unwrap()
    else {
        panic!("live");
    };
    assert_eq!(got.data, json_data(r#"{"n": 99}"#));
    // ...but its save is checked against the row: a conflict, and the entry is gone, so
    // the replay reads the row.
    let out = store
        .save(&key, &record(r#"{"n": 100}"#, NOW + secs(900)), &stale, NOW)
        .await
        .unwrap();
    assert_eq!(out, SaveOutcome::Conflict);
    assert_eq!(raw_ttl(&mut raw, &entry).await, -2);
    let Lookup::Found { record: got, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("live");
    };
    assert_eq!(got.data, r2.data);
    // The read of the row filled the cache again.
    assert_eq!(cached(&mut raw, &entry).await, Some(r2.data.clone()));

    // Touch: the row's expiry moves; Django refills the entry from the row.
    assert!(store.touch(&key, NOW + secs(2000), NOW).await.unwrap());
    assert_eq!(raw_ttl(&mut raw, &entry).await, -2);

    // Save again: back in the cache.
    let r4 = record(r#"{"n": 4}"#, NOW + secs(900));
    assert!(matches!(
        store.save(&key, &r4, &t2, NOW).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    assert_eq!(cached(&mut raw, &entry).await, Some(r4.data.clone()));

    // Delete: gone from both.
    store.delete(&key).await.unwrap();
    assert_eq!(raw_ttl(&mut raw, &entry).await, -2);
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));

    // Retire (a key rotation): the same.
    let key = SessionKey::generate();
    let entry = cache_name(&prefix, &key);
    created(store, &key, &record("{}", NOW + secs(300)), NOW).await;
    assert!(raw_get(&mut raw, &entry).await.is_some());
    store.retire(&key, NOW + secs(30)).await.unwrap();
    assert_eq!(raw_ttl(&mut raw, &entry).await, -2);

    // A save that finds no row drops a stale entry (Django's, say).
    raw_set(
        &mut raw,
        &entry,
        &redis_value_encode(&json_data("{}")),
        Some(60_000),
    )
    .await;
    let out = store
        .save(&key, &record("{}", NOW + secs(300)), &t2, NOW)
        .await
        .unwrap();
    assert_eq!(out, SaveOutcome::Missing);
    assert_eq!(raw_ttl(&mut raw, &entry).await, -2);

    // A record written already expired is not cached.
    let key = SessionKey::generate();
    let entry = cache_name(&prefix, &key);
    created(store, &key, &record("{}", NOW + secs(10)), NOW + secs(10)).await;
    assert_eq!(raw_ttl(&mut raw, &entry).await, -2);
}

/// A database store that lets a "concurrent logout" land right after its create or save,
/// before the caller writes the cache: the race the read-back closes.
struct LogoutAfterWrite {
    db: DjangoSqliteStore,
    armed: AtomicBool,
}

impl LogoutAfterWrite {
    async fn maybe_logout(&self, key: &SessionKey) -> Result<(), StoreError> {
        if self.armed.swap(false, Ordering::SeqCst) {
            self.db.delete(key).await?;
        }
        Ok(())
    }
}

impl SessionStore for LogoutAfterWrite {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        self.db.load(key, now).await
    }
    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let out = self.db.create(key, record, now).await?;
        self.maybe_logout(key).await?;
        Ok(out)
    }
    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let out = self.db.save(key, record, token, now).await?;
        self.maybe_logout(key).await?;
        Ok(out)
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.db.delete(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.db.touch(key, expires_at, now).await
    }
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.db.clear_expired_with_progress(now, progress).await
    }
}

#[tokio::test]
async fn a_logout_between_the_database_and_the_cache_write_is_not_undone() {
    let Some(guarded) = cached_db().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let racy = guarded.store.with_db(LogoutAfterWrite {
        db: sqlite(&dir).await,
        armed: AtomicBool::new(false),
    });
    let prefix = prefix_of(&racy);
    let mut raw = raw_standalone().await;

    let key = SessionKey::generate();
    created(&racy, &key, &record(r#"{"n": 1}"#, NOW + secs(300)), NOW).await;
    let t = token(&racy, &key, NOW).await;
    racy.db().armed.store(true, Ordering::SeqCst);
    let out = racy
        .save(&key, &record(r#"{"n": 2}"#, NOW + secs(300)), &t, NOW)
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    assert!(matches!(
        racy.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
    assert_eq!(
        raw_ttl(&mut raw, &cache_name(&prefix, &key)).await,
        -2,
        "the logged-out session must not survive in Django's cache"
    );

    let key = SessionKey::generate();
    racy.db().armed.store(true, Ordering::SeqCst);
    created(&racy, &key, &record(r#"{"n": 1}"#, NOW + secs(300)), NOW).await;
    assert_eq!(raw_ttl(&mut raw, &cache_name(&prefix, &key)).await, -2);
}

/// `clear_expired`: the database's count; the cache loses the entries of expired rows,
/// entries without a row, and entries that differ from their row.
#[tokio::test]
async fn clear_expired_sweeps_the_cache() {
    let Some(guarded) = cached_db().await else {
        return;
    };
    let store = &guarded.store;
    let prefix = prefix_of(store);
    let mut raw = raw_standalone().await;
    let expired = SessionKey::generate();
    created(store, &expired, &record(r#"{"a": 1}"#, NOW + secs(10)), NOW).await;
    let live = SessionKey::generate();
    created(store, &live, &record(r#"{"b": 1}"#, NOW + secs(3600)), NOW).await;
    let differs = SessionKey::generate();
    created(
        store,
        &differs,
        &record(r#"{"d": 1}"#, NOW + secs(3600)),
        NOW,
    )
    .await;
    raw_set(
        &mut raw,
        &cache_name(&prefix, &differs),
        &redis_value_encode(&json_data(r#"{"d": 0}"#)),
        Some(60_000),
    )
    .await;
    let orphan = SessionKey::generate();
    raw_set(
        &mut raw,
        &cache_name(&prefix, &orphan),
        &redis_value_encode(&json_data("{}")),
        Some(60_000),
    )
    .await;
    assert!(
        raw_get(&mut raw, &cache_name(&prefix, &expired))
            .await
            .is_some()
    );

    let mut steps = Vec::new();
    let removed = store
        .clear_expired_with_progress(NOW + secs(100), &mut |n| steps.push(n))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(steps.last(), Some(&1));
    for gone in [&expired, &differs, &orphan] {
        assert_eq!(raw_ttl(&mut raw, &cache_name(&prefix, gone)).await, -2);
    }
    assert!(
        raw_get(&mut raw, &cache_name(&prefix, &live))
            .await
            .is_some()
    );
}

/// `revoke_user` logs the user out in Django too: their cache entries go.
#[tokio::test]
async fn revoking_a_user_clears_their_cache_entries() {
    let Some(guarded) = cached_db().await else {
        return;
    };
    let store = &guarded.store;
    let prefix = prefix_of(store);
    let mut raw = raw_standalone().await;
    let mine: Vec<SessionKey> = (0..3).map(|_| SessionKey::generate()).collect();
    for k in &mine {
        let mut r = record(r#"{"_auth_user_id": "42"}"#, NOW + secs(3600));
        r.meta.user_id = Some("42".into());
        created(store, k, &r, NOW).await;
    }
    let theirs = SessionKey::generate();
    let mut r = record(r#"{"_auth_user_id": "7"}"#, NOW + secs(3600));
    r.meta.user_id = Some("7".into());
    created(store, &theirs, &r, NOW).await;
    // An entry of the user whose row is already gone (Django's stale copy).
    let stale = SessionKey::generate();
    raw_set(
        &mut raw,
        &cache_name(&prefix, &stale),
        &redis_value_encode(&json_data(r#"{"_auth_user_id": "42"}"#)),
        Some(60_000),
    )
    .await;

    let index = store.user_index().expect("the database's index");
    let revoked = index.revoke_user_boxed("42", Some(&mine[0])).await.unwrap();
    assert_eq!(revoked, 2);
    assert!(
        raw_get(&mut raw, &cache_name(&prefix, &mine[0]))
            .await
            .is_some()
    );
    for k in [&mine[1], &mine[2], &stale] {
        assert_eq!(raw_ttl(&mut raw, &cache_name(&prefix, k)).await, -2);
    }
    assert!(
        raw_get(&mut raw, &cache_name(&prefix, &theirs))
            .await
            .is_some()
    );
    let left = index.sessions_of_boxed("42", NOW).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key, mine[0]);
}

/// When Redis goes away: a save still succeeds (the database has it; the cache failure is
/// logged, as Django logs "Error saving to cache"), but a delete reports the failure — a
/// revoked session must not silently survive in Django's cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_failures_are_logged_after_writes_and_reported_after_deletes() {
    let port = unused_port();
    let Some(server) = require("redis-server", Server::start(port).await) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = DjangoCachedDbStore::connect(sqlite(&dir).await, &server.url())
        .await
        .unwrap()
        .with_key_prefix(unique_key_prefix());
    let key = SessionKey::generate();
    created(&store, &key, &record(r#"{"n": 1}"#, NOW + secs(300)), NOW).await;
    let mut conn = raw(&server.url()).await;
    assert!(raw_get(&mut conn, &store.redis_key(&key)).await.is_some());
    let t = token(&store, &key, NOW).await;
    drop(server);

    let logs = Logs::mark();
    let out = store
        .save(&key, &record(r#"{"n": 2}"#, NOW + secs(300)), &t, NOW)
        .await
        .expect("the database write succeeded");
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    // Django's `test_cache_set_failure_non_fatal`: the failure is an ERROR line.
    let errors = logs.lines("ERROR");
    assert!(
        errors
            .iter()
            .any(|l| l.contains("Error saving to cache")
                && l.contains(&key.fingerprint().to_string())),
        "{errors:?}"
    );
    let Lookup::Found { record: got, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("in the database");
    };
    assert_eq!(got.data.get("n"), Some(Value::Int(2)));
    assert!(store.touch(&key, NOW + secs(600), NOW).await.unwrap());

    let err = store
        .delete(&key)
        .await
        .expect_err("the cache entry may survive");
    assert!(err.report().contains("Django's cache"), "{}", err.report());
    // The row itself is gone.
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
}

/// Descriptions name both sides, without credentials.
#[tokio::test]
async fn describes_both_sides() {
    let Some(guarded) = cached_db().await else {
        return;
    };
    let d = guarded.store.describe();
    assert!(d.contains("sqlite") || d.contains("db.sqlite3"), "{d}");
    assert!(d.contains("redis://") && d.contains("cached_db"), "{d}");
    assert!(!redis_url().contains('@') || !d.contains('@'), "{d}");
}

/// Django's `test_exists_searches_cache_first`: a live cache entry is the session, with no
/// database read; a miss reads the row once and fills the cache. Counted on the database
/// store.
#[tokio::test]
async fn reads_are_served_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let db = Counting::new(sqlite(&dir).await);
    let counts = db.counts();
    let Some(store) = require_store(
        "Redis",
        DjangoCachedDbStore::connect(db, &redis_url()).await,
    ) else {
        return;
    };
    let store = store.with_key_prefix(unique_key_prefix());
    let mut raw = raw_standalone().await;
    let key = SessionKey::generate();
    let r1 = record(r#"{"n": 1}"#, NOW + secs(300));
    created(&store, &key, &r1, NOW).await;

    let before = counts.loads();
    for _ in 0..3 {
        let Lookup::Found { record: got, .. } = store.load(&key, NOW).await.unwrap() else {
            panic!("live");
        };
        assert_eq!(got.data, r1.data);
        assert!(got.expires_at > NOW && got.expires_at <= NOW + secs(300));
        assert_eq!(got.meta.user_id, None);
    }
    assert_eq!(
        counts.loads(),
        before,
        "no database read for a cached session"
    );

    // A miss: one read of the row (plus the read-back of the fill), then hits again.
    redis::cmd("DEL")
        .arg(store.redis_key(&key))
        .query_async::<()>(&mut raw)
        .await
        .unwrap();
    let Lookup::Found { record: got, .. } = store.load(&key, NOW).await.unwrap() else {
        panic!("in the database");
    };
    assert_eq!(got.data, r1.data);
    assert_eq!(
        cached(&mut raw, &store.redis_key(&key)).await,
        Some(r1.data.clone())
    );
    let after_miss = counts.loads();
    assert!(after_miss > before, "the miss read the row");
    store.load(&key, NOW).await.unwrap();
    assert_eq!(counts.loads(), after_miss, "the fill serves the next read");

    // A save of a session read from the cache reads the row once, then writes it.
    let t = token(&store, &key, NOW).await;
    let out = store
        .save(&key, &record(r#"{"n": 2}"#, NOW + secs(300)), &t, NOW)
        .await
        .unwrap();
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    assert_eq!(counts.saves(), 1);
    assert_eq!(
        cached(&mut raw, &store.redis_key(&key)).await,
        Some(record(r#"{"n": 2}"#, NOW + secs(300)).data)
    );
}

/// A session read from the cache whose row went away (a logout that removed the row
/// while the cache entry lived on, as a dying Django writer can leave it): the save finds
/// the session gone and removes the entry; nothing is written back.
#[tokio::test]
async fn a_cache_read_never_undoes_a_logout() {
    let Some(guarded) = cached_db().await else {
        return;
    };
    let store = &guarded.store;
    let mut raw = raw_standalone().await;
    let key = SessionKey::generate();
    created(store, &key, &record(r#"{"n": 1}"#, NOW + secs(300)), NOW).await;
    let t = token(store, &key, NOW).await;
    // The row goes, the entry stays (behind the store's back).
    store.db().delete(&key).await.unwrap();
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Found { .. }
    ));
    let out = store
        .save(&key, &record(r#"{"n": 2}"#, NOW + secs(300)), &t, NOW)
        .await
        .unwrap();
    assert_eq!(out, SaveOutcome::Missing);
    assert_eq!(raw_ttl(&mut raw, &store.redis_key(&key)).await, -2);
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
    assert!(matches!(
        store.db().load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
}
