//! [`MemoryStore`]: sessions in a sharded in-process map.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::{
    BoxFuture, CreateOutcome, Lookup, Metadata, Record, SaveOutcome, SessionInfo, SessionListing,
    SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use crate::data::Data;
use crate::key::SessionKey;

const SHARDS: usize = 64;

/// Sessions in memory: a sharded map of key → compact record, with expiry checked on every
/// read and swept by [`clear_expired`](SessionStore::clear_expired) (run it periodically,
/// e.g. with [`spawn_cleanup`](crate::spawn_cleanup)). Clones share the same map.
///
/// Data is kept as its JSON text (one shared allocation per session), so a load hands out
/// the text without copying it and a session costs little more than its payload.
///
/// Sessions live as long as the process: use it for tests, demos and single-process apps
/// that accept logging everyone out on restart.
///
/// ```
/// use sessionkit_core::MemoryStore;
///
/// let store = MemoryStore::new().with_max_sessions(100_000);
/// assert_eq!(store.len(), 0);
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    shards: Box<[RwLock<Shard>]>,
    count: AtomicUsize,
    max: Option<usize>,
}

type Shard = HashMap<SessionKey, Entry, BuildHasherDefault<KeyHasher>>;

/// Session keys are uniformly random (generated here from a CSPRNG; clients can look up
/// any key but never choose which keys get stored), so their bytes are already a good hash
/// and no keyed hash is needed against flooding.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 =
                (self.0.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Times as Unix microseconds keep an entry small.
struct Entry {
    json: Arc<str>,
    version: u64,
    expires_at: i64,
    created_at: i64,
    last_seen: i64,
    user_id: Option<Box<str>>,
    /// Retired by a rotation: no data, only a marker until `expires_at`.
    retired: bool,
}

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

fn from_micros(m: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store without a size bound.
    pub fn new() -> MemoryStore {
        MemoryStore {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
                count: AtomicUsize::new(0),
                max: None,
            }),
        }
    }

    /// Bounds the number of sessions: creating one more fails with
    /// [`StoreErrorKind::Full`] (a 503) after expired sessions are swept. Existing
    /// sessions are never evicted to make room — that would log people out at random.
    #[must_use]
    pub fn with_max_sessions(self, max: usize) -> MemoryStore {
        let inner = Inner {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            count: AtomicUsize::new(0),
            max: Some(max),
        };
        drop(self);
        MemoryStore {
            inner: Arc::new(inner),
        }
    }

    /// Number of records held (live, expired-but-not-swept and rotation markers).
    pub fn len(&self) -> usize {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &SessionKey) -> &RwLock<Shard> {
        let b = key.as_str().as_bytes();
        let i = usize::from(b[0]) * 31 + usize::from(b[b.len() - 1]);
        &self.inner.shards[i % SHARDS]
    }

    /// Live sessions matching `keep`, sorted by key.
    fn scan(&self, now: i64, keep: impl Fn(&SessionKey, &Entry) -> bool) -> Vec<SessionInfo> {
        let mut out = Vec::new();
        for shard in self.inner.shards.iter() {
            let map = shard.read().unwrap_or_else(|e| e.into_inner());
            for (k, e) in map.iter() {
                if !e.retired && e.expires_at > now && keep(k, e) {
                    out.push(SessionInfo {
                        key: *k,
                        expires_at: from_micros(e.expires_at),
                        meta: Metadata {
                            created_at: Some(from_micros(e.created_at)),
                            last_seen: Some(from_micros(e.last_seen)),
                            user_id: e.user_id.as_deref().map(str::to_owned),
                        },
                    });
                }
            }
        }
        out.sort_by_key(|a| a.key);
        out
    }

    fn sweep(&self, now: i64) -> u64 {
        let mut removed = 0u64;
        for shard in self.inner.shards.iter() {
            let mut map = shard.write().unwrap_or_else(|e| e.into_inner());
            let before = map.len();
            map.retain(|_, e| e.expires_at > now);
            let gone = before - map.len();
            self.inner.count.fetch_sub(gone, Ordering::Relaxed);
            removed += gone as u64;
        }
        removed
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("max", &self.inner.max)
            .finish()
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let now = micros(now);
        let (json, version, meta, expires_at) = {
            let map = self.shard(key).read().unwrap_or_else(|e| e.into_inner());
            match map.get(key) {
                Some(e) if e.expires_at > now => {
                    if e.retired {
                        return Ok(Lookup::Retired {
                            until: from_micros(e.expires_at),
                        });
                    }
                    (
                        Arc::clone(&e.json),
                        e.version,
                        Metadata {
                            created_at: Some(from_micros(e.created_at)),
                            last_seen: Some(from_micros(e.last_seen)),
                            user_id: e.user_id.as_deref().map(str::to_owned),
                        },
                        e.expires_at,
                    )
                }
                _ => return Ok(Lookup::Missing),
            }
        };
        match Data::from_json(json) {
            Ok(data) => Ok(Lookup::Found {
                record: Record {
                    data,
                    expires_at: from_micros(expires_at),
                    meta,
                },
                token: Token::version(version),
            }),
            Err(e) => {
                tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session data; treating as no session");
                Ok(Lookup::Missing)
            }
        }
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let json: Arc<str> = record.data.to_json().into();
        let now = micros(now);
        let entry = Entry {
            json,
            version: 1,
            expires_at: micros(record.expires_at),
            created_at: record.meta.created_at.map_or(now, micros),
            last_seen: record.meta.last_seen.map_or(now, micros),
            user_id: record.meta.user_id.as_deref().map(Into::into),
            retired: false,
        };
        if let Some(max) = self.inner.max
            && self.len() >= max
        {
            self.sweep(now);
            if self.len() >= max {
                return Err(StoreError::new(
                    StoreErrorKind::Full,
                    format!("the memory store holds its maximum of {max} sessions"),
                ));
            }
        }
        let mut map = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            // A live record (or a rotation marker) owns the key.
            Some(e) if e.expires_at > now => Ok(CreateOutcome::Collision),
            Some(_) => {
                map.insert(*key, entry);
                Ok(CreateOutcome::Created(Token::version(1)))
            }
            None => {
                map.insert(*key, entry);
                self.inner.count.fetch_add(1, Ordering::Relaxed);
                Ok(CreateOutcome::Created(Token::version(1)))
            }
        }
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let json: Arc<str> = record.data.to_json().into();
        let now = micros(now);
        let mut map = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        let Some(e) = map.get_mut(key) else {
            return Ok(SaveOutcome::Missing);
        };
        if e.retired || e.expires_at <= now {
            return Ok(SaveOutcome::Missing);
        }
        if token.as_version() != Some(e.version) {
            return Ok(SaveOutcome::Conflict);
        }
        e.json = json;
        e.version += 1;
        e.expires_at = micros(record.expires_at);
        e.last_seen = record.meta.last_seen.map_or(now, micros);
        e.user_id = record.meta.user_id.as_deref().map(Into::into);
        Ok(SaveOutcome::Saved(Token::version(e.version)))
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        let mut map = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        if map.remove(key).is_some() {
            self.inner.count.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(())
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = micros(now);
        let mut map = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(key) {
            Some(e) if !e.retired && e.expires_at > now => {
                e.expires_at = micros(expires_at);
                e.last_seen = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        Ok(self.sweep(micros(now)))
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        let mut map = self.shard(key).write().unwrap_or_else(|e| e.into_inner());
        let marker = Entry {
            json: Arc::from(""),
            version: 0,
            expires_at: micros(until),
            created_at: 0,
            last_seen: 0,
            user_id: None,
            retired: true,
        };
        if map.insert(*key, marker).is_none() {
            self.inner.count.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn describe(&self) -> String {
        "memory://".to_owned()
    }

    fn listing(&self) -> Option<&dyn SessionListing> {
        Some(self)
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }
}

/// Listing scans every shard: fine for an admin page or the CLI, not for a request path.
impl SessionListing for MemoryStore {
    fn list<'a>(
        &'a self,
        now: OffsetDateTime,
        after: Option<&'a SessionKey>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(async move {
            let mut all = self.scan(micros(now), |k, _| after.is_none_or(|a| k > a));
            all.truncate(limit);
            Ok(all)
        })
    }
}

/// The per-user index scans every shard (the memory store keeps no secondary map, to keep
/// a session small).
impl UserIndex for MemoryStore {
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        Box::pin(
            async move { Ok(self.scan(micros(now), |_, e| e.user_id.as_deref() == Some(user_id))) },
        )
    }

    fn revoke_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut removed = 0u64;
            for shard in self.inner.shards.iter() {
                let mut map = shard.write().unwrap_or_else(|e| e.into_inner());
                let before = map.len();
                map.retain(|k, e| e.user_id.as_deref() != Some(user_id) || Some(k) == keep);
                let gone = before - map.len();
                self.inner.count.fetch_sub(gone, Ordering::Relaxed);
                removed += gone as u64;
            }
            Ok(removed)
        })
    }
}
