//! [`MemoryStore`]: sessions in a sharded in-process map.

use crate::store::Page;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::{
    CreateOutcome, Lookup, Metadata, Record, SaveOutcome, SessionInfo, SessionListing,
    SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use crate::data::Data;
use crate::device::ClientInfo;
use crate::key::{KEY_LEN, SessionKey};
use crate::store::micros::{from_unix_micros_saturating, unix_micros};

const SHARDS: usize = 64;

/// Sessions in memory: a sharded map of key → compact record, with expiry checked on every
/// read and swept by [`clear_expired`](SessionStore::clear_expired) (run it periodically,
/// e.g. with [`spawn_cleanup`](crate::spawn_cleanup)). Clones share the same map.
///
/// A session costs little more than its payload: the key is kept as its 32 bytes, the data
/// as its JSON text (one shared allocation, handed out to loads without copying, which also
/// holds the user id and the client info), times as microseconds — about 200 bytes for the tutorial's counter
/// (`docs/BENCHMARKS.md`).
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
    /// Keys of the generated shape (32 characters), sharded by hash.
    shards: Box<[RwLock<Map<[u8; KEY_LEN]>>]>,
    /// Keys of any other length (rare: only applications choosing their own keys).
    odd: RwLock<Map<SessionKey>>,
    count: AtomicUsize,
    max: Option<usize>,
}

type Map<K> = HashMap<K, Entry, BuildHasherDefault<KeyHasher>>;

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

/// One session. `text` holds the data's JSON (`data_len` bytes), then the user id, then —
/// with `has_client` — the client info's two texts as `\0USER-AGENT\0LABEL` (an absent
/// user agent is empty). The two texts' lengths (`agent_len`, `label_len`) say where the
/// user id ends, so it may hold NULs; a load hands the data and the two texts out as
/// parts of `text`, never copies.
/// The client's address stays binary in `ip`: formatting and parsing it on every write
/// and load cost more than the rest of the entry. A session is one heap allocation
/// besides its table slot.
struct Entry {
    text: Arc<str>,
    ip: Option<std::net::IpAddr>,
    data_len: u32,
    version: u32,
    expires_at: i64,
    created_at: i64,
    last_seen: i64,
    /// The client's two texts' lengths at the end of `text` (a `ClientInfo` bounds them
    /// far below `u16::MAX`: 512 and 64 bytes), so that a load finds them without a scan.
    agent_len: u16,
    label_len: u16,
    /// Retired by a rotation: no data, only a marker until `expires_at`.
    retired: bool,
    has_user: bool,
    has_client: bool,
}

impl Entry {
    fn new(
        data: &str,
        user: Option<&str>,
        client: Option<&ClientInfo>,
        version: u32,
        times: [i64; 3],
    ) -> Entry {
        let (agent, label) =
            client.map_or(("", ""), |c| (c.user_agent().unwrap_or(""), c.device()));
        // A `ClientInfo` bounds both (512 and 64 bytes: `MAX_USER_AGENT_LEN`,
        // `MAX_DEVICE_LABEL_LEN`), far below the lengths' `u16`.
        debug_assert!(agent.len() <= usize::from(u16::MAX) && label.len() <= usize::from(u16::MAX));
        let text: Arc<str> = if user.is_none() && client.is_none() {
            data.into()
        } else {
            let u = user.unwrap_or("");
            let parts: &[&str] = if client.is_some() {
                &[data, u, "\0", agent, "\0", label]
            } else {
                &[data, u]
            };
            concat(parts)
        };
        Entry {
            text,
            ip: client.and_then(ClientInfo::ip),
            data_len: u32::try_from(data.len()).unwrap_or(u32::MAX),
            version,
            expires_at: times[0],
            created_at: times[1],
            last_seen: times[2],
            agent_len: u16::try_from(agent.len()).unwrap_or(u16::MAX),
            label_len: u16::try_from(label.len()).unwrap_or(u16::MAX),
            retired: false,
            has_user: user.is_some(),
            has_client: client.is_some(),
        }
    }

    /// What follows the data: the user id, then the client info.
    fn tail(&self) -> &str {
        self.text.get(self.data_len as usize..).unwrap_or("")
    }

    /// Where the client's part of `text` (`\0USER-AGENT\0LABEL`) starts: from the two
    /// lengths, so the user id before it may hold NULs.
    fn client_start(&self) -> usize {
        let client = usize::from(self.agent_len) + usize::from(self.label_len) + 2;
        self.text.len().saturating_sub(client)
    }

    fn user(&self) -> Option<&str> {
        if !self.has_user {
            return None;
        }
        if !self.has_client {
            return Some(self.tail());
        }
        self.text.get(self.data_len as usize..self.client_start())
    }

    /// The client info, its two texts parts of this entry's string (no copies).
    fn client(&self) -> Option<ClientInfo> {
        if !self.has_client {
            return None;
        }
        let agent_start = self.client_start() + 1;
        let agent = agent_start..agent_start + usize::from(self.agent_len);
        let label = agent.end + 1..self.text.len();
        // This store wrote the two texts from a `ClientInfo`: they are clean already.
        let info = ClientInfo::from_clean_parts(
            self.ip,
            &self.text,
            (!agent.is_empty()).then_some(agent),
            label,
        );
        // `Entry::new` wrote the lengths with the text: they always fit it.
        debug_assert!(
            info.is_some(),
            "an entry's client texts do not fit its text"
        );
        info
    }

    fn meta(&self) -> Metadata {
        Metadata {
            created_at: Some(from_unix_micros_saturating(self.created_at)),
            last_seen: Some(from_unix_micros_saturating(self.last_seen)),
            user_id: self.user().map(str::to_owned),
            client: self.client(),
        }
    }
}

/// The parts as one shared text, in one allocation: joined in a per-thread buffer first
/// (`Arc<str>` cannot grow in place; joining in a `String` and converting it would
/// allocate twice).
fn concat(parts: &[&str]) -> Arc<str> {
    thread_local! {
        static BUF: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    /// What the buffer may keep between calls; a larger session's buffer is given back.
    const KEEP: usize = 16 * 1024;
    // `try_with`: a thread being torn down has no buffer any more (the fallback joins
    // in a `String`).
    BUF.try_with(|buf| match buf.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            parts.iter().for_each(|p| buf.push_str(p));
            let text = Arc::from(buf.as_str());
            if buf.capacity() > KEEP {
                *buf = String::new();
            }
            text
        }
        Err(_) => Arc::from(parts.concat()),
    })
    .unwrap_or_else(|_| Arc::from(parts.concat()))
}

/// A key type of one of the maps.
trait MapKey: Hash + Eq + Copy {
    fn session_key(&self) -> SessionKey;
}

impl MapKey for [u8; KEY_LEN] {
    fn session_key(&self) -> SessionKey {
        std::str::from_utf8(self)
            .ok()
            .and_then(SessionKey::parse)
            .unwrap_or_else(SessionKey::generate)
    }
}

impl MapKey for SessionKey {
    fn session_key(&self) -> SessionKey {
        *self
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

/// Runs `f` on the map holding `key`, with that map's own key for it.
macro_rules! with_map {
    ($store:expr, $key:expr, $lock:ident, |$map:ident, $k:ident| $body:expr) => {{
        let key: &SessionKey = $key;
        match <[u8; KEY_LEN]>::try_from(key.as_bytes()) {
            Ok(packed) => {
                let $k = packed;
                #[allow(unused_mut)]
                let mut $map = $store
                    .shard(&packed)
                    .$lock()
                    .unwrap_or_else(|e| e.into_inner());
                $body
            }
            Err(_) => {
                let $k = *key;
                #[allow(unused_mut)]
                let mut $map = $store.inner.odd.$lock().unwrap_or_else(|e| e.into_inner());
                $body
            }
        }
    }};
}

impl MemoryStore {
    /// An empty store without a size bound.
    pub fn new() -> MemoryStore {
        MemoryStore::build(None)
    }

    fn build(max: Option<usize>) -> MemoryStore {
        MemoryStore {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| RwLock::new(Map::default())).collect(),
                odd: RwLock::new(Map::default()),
                count: AtomicUsize::new(0),
                max,
            }),
        }
    }

    /// Bounds the number of sessions: creating one more fails with
    /// [`StoreErrorKind::Full`] (a 503) after expired sessions are swept. Existing
    /// sessions are never evicted to make room — that would log people out at random.
    #[must_use]
    pub fn with_max_sessions(self, max: usize) -> MemoryStore {
        MemoryStore::build(Some(max))
    }

    /// Number of records held (live, expired-but-not-swept and rotation markers).
    pub fn len(&self) -> usize {
        self.inner.count.load(Ordering::Relaxed)
    }

    /// Whether the store holds no records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, key: &[u8; KEY_LEN]) -> &RwLock<Map<[u8; KEY_LEN]>> {
        // The hash's high bits pick the shard (the table uses the low ones), so shards
        // fill evenly.
        let mut h = KeyHasher::default();
        h.write(key);
        &self.inner.shards[(h.finish() >> 58) as usize % SHARDS]
    }

    /// Applies `f` to every map, under its write lock.
    fn each_map_mut(&self, mut f: impl FnMut(&mut dyn RetainMap)) {
        for shard in self.inner.shards.iter() {
            f(&mut *shard.write().unwrap_or_else(|e| e.into_inner()));
        }
        f(&mut *self.inner.odd.write().unwrap_or_else(|e| e.into_inner()));
    }

    /// Live sessions matching `keep`, sorted by key.
    fn scan(&self, now: i64, keep: impl Fn(&SessionKey, &Entry) -> bool) -> Vec<SessionInfo> {
        let mut out = Vec::new();
        let mut visit = |k: SessionKey, e: &Entry| {
            if !e.retired && e.expires_at > now && keep(&k, e) {
                out.push(SessionInfo {
                    key: k,
                    expires_at: from_unix_micros_saturating(e.expires_at),
                    meta: e.meta(),
                });
            }
        };
        for shard in self.inner.shards.iter() {
            let map = shard.read().unwrap_or_else(|e| e.into_inner());
            for (k, e) in map.iter() {
                visit(k.session_key(), e);
            }
        }
        for (k, e) in self
            .inner
            .odd
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            visit(*k, e);
        }
        out.sort_by_key(|a| a.key);
        out
    }

    fn sweep(&self, now: i64) -> u64 {
        let mut removed = 0u64;
        self.each_map_mut(|map| {
            let gone = map.retain_entries(&mut |_, e| e.expires_at > now);
            self.inner.count.fetch_sub(gone, Ordering::Relaxed);
            removed += gone as u64;
        });
        removed
    }
}

/// `retain` over either map type, seeing keys as session keys.
trait RetainMap {
    /// Keeps the entries `keep` accepts; returns how many were removed.
    fn retain_entries(&mut self, keep: &mut dyn FnMut(&SessionKey, &Entry) -> bool) -> usize;
}

impl<K: MapKey> RetainMap for Map<K> {
    fn retain_entries(&mut self, keep: &mut dyn FnMut(&SessionKey, &Entry) -> bool) -> usize {
        let before = self.len();
        self.retain(|k, e| keep(&k.session_key(), e));
        before - self.len()
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
        let now = unix_micros(now);
        let found = with_map!(self, key, read, |map, k| {
            match map.get(&k) {
                Some(e) if e.expires_at > now && e.retired => {
                    return Ok(Lookup::Retired {
                        until: from_unix_micros_saturating(e.expires_at),
                    });
                }
                Some(e) if e.expires_at > now => Some((
                    Arc::clone(&e.text),
                    e.data_len as usize,
                    e.version,
                    e.meta(),
                    e.expires_at,
                )),
                _ => None,
            }
        });
        let Some((text, data_len, version, meta, expires_at)) = found else {
            return Ok(Lookup::Missing);
        };
        // The data is a prefix of the shared text, which its undecoded values then share.
        match Data::from_json_prefix(text, data_len) {
            Ok(data) => Ok(Lookup::Found {
                record: Record {
                    data,
                    expires_at: from_unix_micros_saturating(expires_at),
                    meta,
                },
                token: Token::version(u64::from(version)),
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
        let json = record.data.to_json();
        let now = unix_micros(now);
        let times = [
            unix_micros(record.expires_at),
            record.meta.created_at.map_or(now, unix_micros),
            record.meta.last_seen.map_or(now, unix_micros),
        ];
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
        let user = record.meta.user_id.as_deref();
        let client = record.meta.client.as_ref();
        with_map!(self, key, write, |map, k| {
            let version = match map.get(&k) {
                // A live record (or a rotation marker) owns the key.
                Some(e) if e.expires_at > now => return Ok(CreateOutcome::Collision),
                Some(e) => e.version.wrapping_add(1),
                None => {
                    self.inner.count.fetch_add(1, Ordering::Relaxed);
                    1
                }
            };
            map.insert(k, Entry::new(&json, user, client, version, times));
            Ok(CreateOutcome::Created(Token::version(u64::from(version))))
        })
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let json = record.data.to_json();
        let now = unix_micros(now);
        let user = record.meta.user_id.as_deref();
        let client = record.meta.client.as_ref();
        with_map!(self, key, write, |map, k| {
            let Some(e) = map.get_mut(&k) else {
                return Ok(SaveOutcome::Missing);
            };
            if e.retired || e.expires_at <= now {
                return Ok(SaveOutcome::Missing);
            }
            if token.as_version() != Some(u64::from(e.version)) {
                return Ok(SaveOutcome::Conflict);
            }
            let version = e.version.wrapping_add(1);
            let times = [
                unix_micros(record.expires_at),
                e.created_at,
                record.meta.last_seen.map_or(now, unix_micros),
            ];
            *e = Entry::new(&json, user, client, version, times);
            Ok(SaveOutcome::Saved(Token::version(u64::from(version))))
        })
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        with_map!(self, key, write, |map, k| {
            if map.remove(&k).is_some() {
                self.inner.count.fetch_sub(1, Ordering::Relaxed);
            }
        });
        Ok(())
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = unix_micros(now);
        with_map!(self, key, write, |map, k| {
            match map.get_mut(&k) {
                Some(e) if !e.retired && e.expires_at > now => {
                    e.expires_at = unix_micros(expires_at);
                    e.last_seen = now;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let n = self.sweep(unix_micros(now));
        progress(n);
        Ok(n)
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        with_map!(self, key, write, |map, k| {
            let mut marker = Entry::new("", None, None, 0, [unix_micros(until), 0, 0]);
            marker.retired = true;
            if map.insert(k, marker).is_none() {
                self.inner.count.fetch_add(1, Ordering::Relaxed);
            }
        });
        Ok(())
    }

    fn describe(&self) -> String {
        "memory://".to_owned()
    }

    crate::offers!(listing, user_index);
}

/// Listing scans every shard: fine for an admin page or the CLI, not for a request path.
impl SessionListing for MemoryStore {
    async fn list(&self, page: Page<'_>) -> Result<Vec<SessionInfo>, StoreError> {
        let Page { now, after, limit } = page;
        let mut all = self.scan(unix_micros(now), |k, _| after.is_none_or(|a| k > a));
        all.truncate(limit);
        Ok(all)
    }
}

/// The per-user index scans every shard (the memory store keeps no secondary map, to keep
/// a session small).
impl UserIndex for MemoryStore {
    async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        Ok(self.scan(unix_micros(now), |_, e| e.user() == Some(user_id)))
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let mut removed = 0u64;
        self.each_map_mut(|map| {
            let gone = map.retain_entries(&mut |k, e| e.user() != Some(user_id) || Some(k) == keep);
            self.inner.count.fetch_sub(gone, Ordering::Relaxed);
            removed += gone as u64;
        });
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
