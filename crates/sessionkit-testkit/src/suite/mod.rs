//! The checks. Each takes a fresh store and the store's [`Profile`].

use std::time::Duration;

use sessionkit_core::{
    ClientInfo, CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey,
    SessionStore, Token, Value, json,
};
use time::OffsetDateTime;
use time::macros::datetime;

/// What a store supports beyond the core contract.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Profile {
    /// The store keeps created-at, last-seen and user id.
    pub metadata: bool,
    /// The store keeps the client info ([`Metadata::client`]: IP, user agent, device
    /// label) and returns it on load and in listings. Without it, a store must return
    /// none (Django's layouts have no room for it).
    pub client_info: bool,
    /// The store keeps rotation markers ([`Lookup::Retired`]).
    pub retire_markers: bool,
    /// How far a stored expiry may differ from the one written (a store that keeps whole
    /// seconds, say).
    pub time_precision: Duration,
    /// The store offers [`SessionListing`](sessionkit_core::SessionListing).
    pub listing: bool,
    /// The store offers [`UserIndex`](sessionkit_core::UserIndex).
    pub user_index: bool,
    /// The store offers [`LeaseStore`](sessionkit_core::LeaseStore).
    pub leases: bool,
    /// The store keeps `expires_at` as written (native layouts). Foreign layouts derive it
    /// from the data's `_session_expiry` and the write time (Django's); the checks then
    /// control expiry through `_session_expiry`, which every test record carries.
    pub stored_expiry: bool,
    /// The store clears expired records; without it `clear_expired` must fail with
    /// [`StoreErrorKind::Unsupported`](sessionkit_core::StoreErrorKind::Unsupported)
    /// (memcached: its TTLs evict them).
    pub clear_expired: bool,
}

impl Profile {
    /// Metadata (with the client info), rotation markers, microsecond times, listing and
    /// the per-user index (no leases: see [`Profile::with_leases`]).
    pub fn full() -> Profile {
        Profile {
            metadata: true,
            client_info: true,
            retire_markers: true,
            time_precision: Duration::from_micros(1),
            listing: true,
            user_index: true,
            leases: false,
            stored_expiry: true,
            clear_expired: true,
        }
    }

    /// Django's layouts: no metadata columns (nor client info), no rotation markers, expiry derived from the
    /// data; listing and the per-user index by scanning.
    pub fn django() -> Profile {
        Profile {
            metadata: false,
            client_info: false,
            retire_markers: false,
            time_precision: Duration::from_micros(1),
            listing: true,
            user_index: true,
            leases: false,
            stored_expiry: false,
            clear_expired: true,
        }
    }

    /// With leases.
    #[must_use]
    pub fn with_leases(mut self) -> Profile {
        self.leases = true;
        self
    }

    /// Without listing.
    #[must_use]
    pub fn without_listing(mut self) -> Profile {
        self.listing = false;
        self
    }

    /// Without `clear_expired` (it answers `Unsupported`).
    #[must_use]
    pub fn without_clear_expired(mut self) -> Profile {
        self.clear_expired = false;
        self
    }

    /// Without the per-user index.
    #[must_use]
    pub fn without_user_index(mut self) -> Profile {
        self.user_index = false;
        self
    }

    /// Without rotation markers.
    #[must_use]
    pub fn without_retire_markers(mut self) -> Profile {
        self.retire_markers = false;
        self
    }

    /// Without metadata (and so without client info).
    #[must_use]
    pub fn without_metadata(mut self) -> Profile {
        self.metadata = false;
        self.client_info = false;
        self
    }

    /// Without client info: the store's layout has no room for it, and it returns none.
    #[must_use]
    pub fn without_client_info(mut self) -> Profile {
        self.client_info = false;
        self
    }

    /// With a coarser time precision.
    #[must_use]
    pub fn with_time_precision(mut self, precision: Duration) -> Profile {
        self.time_precision = precision;
        self
    }
}

/// A fixed "now" for the checks: stores must compare against the time they are given.
pub const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn at(secs: i64) -> OffsetDateTime {
    NOW + time::Duration::seconds(secs)
}

fn data(text: &str) -> Data {
    Data::from_json(text.into()).expect("test data is valid JSON")
}

/// A record expiring at `NOW + expires_in`; the data carries the same instant as an absolute
/// `_session_expiry`, so layouts that derive expiry from the data agree.
fn record(text: &str, expires_in: i64) -> Record {
    let mut data = data(text);
    data.insert(
        sessionkit_core::EXPIRY_KEY,
        Value::String(sessionkit_core::pytime::isoformat(at(expires_in))),
    );
    Record {
        data,
        expires_at: at(expires_in),
        meta: Metadata {
            created_at: Some(NOW),
            last_seen: Some(NOW),
            user_id: None,
            client: None,
        },
    }
}

async fn found<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    now: OffsetDateTime,
) -> (Record, Token) {
    match store.load(key, now).await.expect("load") {
        Lookup::Found { record, token } => (record, token),
        other => panic!("expected a record, got {other:?}"),
    }
}

async fn missing<S: SessionStore>(store: &S, key: &SessionKey, now: OffsetDateTime) {
    match store.load(key, now).await.expect("load") {
        Lookup::Missing => {}
        other => panic!("expected no record, got {other:?}"),
    }
}

async fn create<S: SessionStore>(store: &S, key: &SessionKey, r: &Record) -> Token {
    match store.create(key, r, NOW).await.expect("create") {
        CreateOutcome::Created(t) => t,
        CreateOutcome::Collision => panic!("unexpected collision on a fresh key"),
    }
}

fn close(a: OffsetDateTime, b: OffsetDateTime, p: &Profile) -> bool {
    (a - b).unsigned_abs() <= p.time_precision
}

/// Loading a key never stored is `Missing`.
pub async fn load_of_unknown_key_is_missing<S: SessionStore>(store: &S, _p: &Profile) {
    missing(store, &SessionKey::generate(), NOW).await;
}

/// What `create` stores, `load` returns: data, expiry, metadata.
pub async fn create_then_load_round_trips<S: SessionStore>(store: &S, p: &Profile) {
    let key = SessionKey::generate();
    let mut r = record(
        r#"{"count":1,"favorite_color":"blue","_auth_user_id":"42"}"#,
        3600,
    );
    r.expires_at = at(3600) + time::Duration::microseconds(123_456);
    r.data.insert(
        sessionkit_core::EXPIRY_KEY,
        Value::String(sessionkit_core::pytime::isoformat(r.expires_at)),
    );
    r.meta.user_id = Some("42".into());
    r.meta.created_at = Some(at(-100));
    create(store, &key, &r).await;
    let (got, _) = found(store, &key, NOW).await;
    assert_eq!(got.data, r.data);
    assert_eq!(got.data.to_json(), r.data.to_json());
    assert!(
        close(got.expires_at, r.expires_at, p),
        "{} vs {}",
        got.expires_at,
        r.expires_at
    );
    if p.metadata {
        assert_eq!(got.meta.user_id.as_deref(), Some("42"));
        assert!(close(got.meta.created_at.expect("created_at"), at(-100), p));
        assert!(close(got.meta.last_seen.expect("last_seen"), NOW, p));
    }
}

/// `create` on a live key reports a collision and leaves the record alone.
pub async fn create_never_overwrites<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"owner":"first"}"#, 3600)).await;
    let again = store
        .create(&key, &record(r#"{"owner":"second"}"#, 3600), NOW)
        .await
        .expect("create");
    assert_eq!(again, CreateOutcome::Collision);
    let (got, _) = found(store, &key, NOW).await;
    assert_eq!(got.data.get("owner"), Some(Value::String("first".into())));
}

/// An expired record does not own its key: `create` may take it.
pub async fn create_over_an_expired_record<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"v":"old"}"#, 10)).await;
    let later = at(20);
    let r = record(r#"{"v":"new"}"#, 3600);
    match store.create(&key, &r, later).await.expect("create") {
        CreateOutcome::Created(_) => {}
        CreateOutcome::Collision => panic!("an expired record must not block create"),
    }
    let (got, _) = found(store, &key, later).await;
    assert_eq!(got.data.get("v"), Some(Value::String("new".into())));
}

/// `save` succeeds with the current token only; each save yields a new token.
pub async fn save_is_compare_and_set<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"n":1}"#, 3600)).await;
    let (_, t1) = found(store, &key, NOW).await;
    let saved = store
        .save(&key, &record(r#"{"n":2}"#, 3600), &t1, NOW)
        .await
        .expect("save");
    let SaveOutcome::Saved(t2) = saved else {
        panic!("save with the current token must succeed, got {saved:?}");
    };
    assert_ne!(t1, t2, "a save must change the token");
    let (got, t_loaded) = found(store, &key, NOW).await;
    assert_eq!(got.data.get("n"), Some(Value::Int(2)));
    assert_eq!(t_loaded, t2, "load returns the token save returned");
    let stale = store
        .save(&key, &record(r#"{"n":3}"#, 3600), &t1, NOW)
        .await
        .expect("save");
    assert_eq!(stale, SaveOutcome::Conflict);
    let (got, _) = found(store, &key, NOW).await;
    assert_eq!(
        got.data.get("n"),
        Some(Value::Int(2)),
        "a conflicting save writes nothing"
    );
}

/// A deleted session stays deleted: `save` reports `Missing` and creates nothing.
pub async fn save_never_upserts<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"n":1}"#, 3600)).await;
    let (_, t) = found(store, &key, NOW).await;
    store.delete(&key).await.expect("delete");
    let out = store
        .save(&key, &record(r#"{"n":2}"#, 3600), &t, NOW)
        .await
        .expect("save");
    assert_eq!(out, SaveOutcome::Missing);
    missing(store, &key, NOW).await;
    // Never stored at all: the same.
    let other = SessionKey::generate();
    let out = store
        .save(&other, &record(r#"{"n":2}"#, 3600), &t, NOW)
        .await
        .expect("save");
    assert_eq!(out, SaveOutcome::Missing);
    missing(store, &other, NOW).await;
}

/// Saving a record that expired meanwhile is `Missing`: expired means gone.
pub async fn save_of_an_expired_record_is_missing<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"n":1}"#, 10)).await;
    let (_, t) = found(store, &key, NOW).await;
    let out = store
        .save(&key, &record(r#"{"n":2}"#, 3600), &t, at(11))
        .await
        .expect("save");
    assert_eq!(out, SaveOutcome::Missing);
    missing(store, &key, at(11)).await;
}

/// Deleting twice, or deleting what never existed, is fine.
pub async fn delete_is_idempotent<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record("{}", 3600)).await;
    store.delete(&key).await.expect("delete");
    store.delete(&key).await.expect("second delete");
    store
        .delete(&SessionKey::generate())
        .await
        .expect("delete of unknown key");
    missing(store, &key, NOW).await;
}

/// `touch` moves the expiry (and last-seen) without changing data or token.
pub async fn touch_moves_expiry_and_keeps_the_token<S: SessionStore>(store: &S, p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"n":1}"#, 100)).await;
    let (_, t) = found(store, &key, NOW).await;
    assert!(store.touch(&key, at(1000), at(50)).await.expect("touch"));
    let check_at = if p.stored_expiry { at(500) } else { at(60) };
    let (got, t2) = found(store, &key, check_at).await;
    assert_eq!(t, t2, "touch must not change the token");
    assert_eq!(got.data.get("n"), Some(Value::Int(1)));
    if p.stored_expiry {
        assert!(close(got.expires_at, at(1000), p));
    }
    if p.metadata {
        assert!(close(got.meta.last_seen.expect("last_seen"), at(50), p));
    }
    // The token still works for a save.
    let out = store
        .save(&key, &record(r#"{"n":2}"#, 3600), &t, check_at)
        .await
        .expect("save");
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    // Touching what is not there says so and creates nothing.
    let other = SessionKey::generate();
    assert!(!store.touch(&other, at(1000), NOW).await.expect("touch"));
    missing(store, &other, NOW).await;
}

/// A record is live strictly before its expiry, gone at and after it.
pub async fn expiry_is_checked_against_the_given_time<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"n":1}"#, 10)).await;
    found(store, &key, at(9)).await;
    missing(store, &key, at(10)).await;
    missing(store, &key, at(11)).await;
    assert!(
        !store.touch(&key, at(1000), at(11)).await.expect("touch"),
        "an expired record cannot be revived by touch"
    );
}

/// `clear_expired` removes expired records (and reports them), and only those.
pub async fn clear_expired_removes_only_expired<S: SessionStore>(store: &S, p: &Profile) {
    if unsupported_cleanup(store, p).await {
        return;
    }
    let mut live = Vec::new();
    for i in 0..3 {
        let key = SessionKey::generate();
        create(store, &key, &record(&format!(r#"{{"i":{i}}}"#), 5 + i)).await;
    }
    for i in 0..2 {
        let key = SessionKey::generate();
        create(store, &key, &record(&format!(r#"{{"j":{i}}}"#), 3600)).await;
        live.push(key);
    }
    let removed = store.clear_expired(at(100)).await.expect("clear_expired");
    assert!(removed >= 3, "removed {removed}");
    for key in &live {
        found(store, key, at(100)).await;
    }
    assert_eq!(
        store
            .clear_expired(at(100))
            .await
            .expect("clear_expired again"),
        0
    );
}

/// Whether the profile says the store has no `clear_expired`; if so, checks that it
/// says so too (never a silent 0).
async fn unsupported_cleanup<S: SessionStore>(store: &S, p: &Profile) -> bool {
    if p.clear_expired {
        return false;
    }
    let e = store
        .clear_expired(at(100))
        .await
        .expect_err("the profile says clear_expired is unsupported");
    assert_eq!(
        e.kind(),
        sessionkit_core::StoreErrorKind::Unsupported,
        "{}",
        e.report()
    );
    true
}

/// Two cleaners at once: no errors, and each expired record is removed exactly once. More
/// records than two cleanup batches of the SQL stores (1000), so the cleaners share
/// batches.
pub async fn concurrent_cleaners<S: SessionStore>(store: &S, p: &Profile) {
    if unsupported_cleanup(store, p).await {
        return;
    }
    let n = 2100;
    // A minute of life: stores whose TTL runs in real time (Redis) must not lose records
    // while 2100 are created; the cleaners' `now` is past every expiry anyway.
    for _ in 0..n {
        create(store, &SessionKey::generate(), &record("{}", 60)).await;
    }
    let (a, b) = tokio::join!(store.clear_expired(at(120)), store.clear_expired(at(120)));
    let total = a.expect("first cleaner") + b.expect("second cleaner");
    assert_eq!(total, n, "each expired record removed exactly once");
}

/// Concurrent creates of one key: exactly one wins.
pub async fn concurrent_creates_one_wins<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    let rec = record(r#"{"n":1}"#, 3600);
    let results = futures_join_all((0..16).map(|_| store.create(&key, &rec, NOW))).await;
    let created = results
        .into_iter()
        .map(|r| r.expect("create"))
        .filter(|o| matches!(o, CreateOutcome::Created(_)))
        .count();
    assert_eq!(created, 1);
}

/// Concurrent saves from one loaded token: exactly one wins, the others conflict.
pub async fn concurrent_saves_one_wins<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"n":0}"#, 3600)).await;
    let (_, t) = found(store, &key, NOW).await;
    let recs: Vec<Record> = (1..=16)
        .map(|i| record(&format!(r#"{{"n":{i}}}"#), 3600))
        .collect();
    let results = futures_join_all(recs.iter().map(|r| store.save(&key, r, &t, NOW))).await;
    let mut saved = 0;
    for r in results {
        match r.expect("save") {
            SaveOutcome::Saved(_) => saved += 1,
            SaveOutcome::Conflict => {}
            SaveOutcome::Missing => panic!("the record exists"),
        }
    }
    assert_eq!(saved, 1);
}

/// `retire`: a marker until the grace window ends (stores with markers), or plain
/// deletion; either way the old data is gone and saves to it are `Missing`.
pub async fn retire_leaves_a_marker_or_nothing<S: SessionStore>(store: &S, p: &Profile) {
    let key = SessionKey::generate();
    create(store, &key, &record(r#"{"secret":1}"#, 3600)).await;
    let (_, t) = found(store, &key, NOW).await;
    store.retire(&key, at(30)).await.expect("retire");
    match store.load(&key, at(1)).await.expect("load") {
        Lookup::Retired { until } => {
            assert!(p.retire_markers, "unexpected marker");
            assert!(
                close(until, at(30), p)
                    || (until - at(30)).unsigned_abs() <= Duration::from_secs(1)
            );
        }
        Lookup::Missing => assert!(!p.retire_markers, "expected a rotation marker"),
        Lookup::Found { .. } => panic!("a retired key must not load its data"),
    }
    let out = store
        .save(&key, &record(r#"{"secret":2}"#, 3600), &t, at(1))
        .await
        .expect("save");
    assert_eq!(out, SaveOutcome::Missing);
    assert!(!store.touch(&key, at(1000), at(1)).await.expect("touch"));
    missing(store, &key, at(31)).await;
}

/// Big payloads, unicode, Python-only values and raw text survive the trip.
pub async fn large_and_unusual_data_round_trip<S: SessionStore>(store: &S, _p: &Profile) {
    let key = SessionKey::generate();
    let big = "x".repeat(100_000);
    let text = format!(
        r#"{{"big":"{big}","n":123456789012345678901234567890,"f":1e+16,"nan":NaN,"inf":-Infinity,"u":"caf\u00e9 \ud83d\udc4d","nested":{{"a":[1,2,{{"b":null}}]}},"t":true}}"#
    );
    let r = record(&text, 3600);
    create(store, &key, &r).await;
    let (got, _) = found(store, &key, NOW).await;
    assert_eq!(got.data.to_json(), r.data.to_json());
    assert_eq!(got.data.get("u"), Some(Value::String("café 👍".into())));
    let v = json::parse(&got.data.to_json()).expect("valid");
    assert!(matches!(v, Value::Map(_)));
}

/// Operations on one key never affect another.
pub async fn keys_are_independent<S: SessionStore>(store: &S, _p: &Profile) {
    let a = SessionKey::generate();
    let b = SessionKey::generate();
    create(store, &a, &record(r#"{"who":"a"}"#, 3600)).await;
    create(store, &b, &record(r#"{"who":"b"}"#, 3600)).await;
    store.delete(&a).await.expect("delete");
    let (got, _) = found(store, &b, NOW).await;
    assert_eq!(got.data.get("who"), Some(Value::String("b".into())));
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futs: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut outs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut pending: Vec<_> = futs.into_iter().enumerate().collect();
    std::future::poll_fn(|cx| {
        pending.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => {
                outs[*i] = Some(v);
                false
            }
            std::task::Poll::Pending => true,
        });
        if pending.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outs.into_iter()
        .map(|o| o.expect("every future completed"))
        .collect()
}

mod capabilities;

pub use capabilities::*;
