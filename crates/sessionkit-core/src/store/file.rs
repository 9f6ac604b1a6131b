//! [`FileStore`]: one file per session in a directory.

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;

use super::files::{self, io_error};
use super::{
    BoxFuture, Create, CreateOutcome, Lookup, Metadata, Record, SaveOutcome, SessionInfo,
    SessionListing, SessionStore, StoreError, StoreErrorKind, Token, UserIndex,
};
use crate::data::Data;
use crate::json;
use crate::key::SessionKey;
use crate::value::{Map, Value};

/// File names of session files start with this.
const PREFIX: &str = "sk_";

/// Sessions as files: `<dir>/sk_<key>`, each a header line (version, expiry, metadata) and
/// the data as JSON. Writes go to a temporary file in the same directory that is renamed
/// over the target (readers see the old or the new file, never half of one); files are
/// created with mode 0600. Compare-and-set takes an exclusive `flock` on one of 64 lock files
/// in `<dir>/.locks/` (chosen by key), so several processes sharing the directory never lose
/// each other's updates.
///
/// Listing and the per-user index read every file's header: fine for an admin tool.
///
/// ```no_run
/// # async fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_core::store::FileStore;
///
/// let store = FileStore::open("/var/lib/myapp/sessions")?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    locks: files::StripeLocks,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

fn from_micros(m: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A session file's header.
struct Header {
    version: u64,
    expires_at: i64,
    created_at: i64,
    last_seen: i64,
    user_id: Option<String>,
    retired: bool,
}

impl Header {
    fn encode(&self) -> String {
        let mut m = Map::new();
        m.insert("v".into(), Value::from(self.version));
        m.insert("e".into(), Value::Int(self.expires_at));
        m.insert("c".into(), Value::Int(self.created_at));
        m.insert("s".into(), Value::Int(self.last_seen));
        m.insert("u".into(), self.user_id.clone().into());
        m.insert("r".into(), Value::Bool(self.retired));
        json::to_string(&Value::Map(m))
    }

    fn decode(line: &str) -> Option<Header> {
        let Value::Map(m) = json::parse(line).ok()? else {
            return None;
        };
        let int = |k: &str| m.get(k).and_then(Value::as_i64);
        Some(Header {
            version: u64::try_from(int("v")?).ok()?,
            expires_at: int("e")?,
            created_at: int("c")?,
            last_seen: int("s")?,
            user_id: match m.get("u") {
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            },
            retired: matches!(m.get("r"), Some(Value::Bool(true))),
        })
    }
}

/// A parsed session file.
struct Stored {
    header: Header,
    data: String,
}

/// Options for opening a [`FileStore`]; from [`FileStore::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `open` is called"]
pub struct FileStoreBuilder {
    dir: PathBuf,
    create: Create,
}

impl FileStoreBuilder {
    /// Whether opening may create the lock directory `<dir>/.locks`
    /// ([`Create::IfMissing`], the default) or creates nothing ([`Create::Never`]: the lock
    /// directory is then made by the first write, if any). The session directory itself
    /// must exist either way.
    pub fn create(mut self, create: Create) -> FileStoreBuilder {
        self.create = create;
        self
    }

    /// Opens the store: a [`StoreErrorKind::Config`] error naming the directory when it
    /// does not exist.
    pub fn open(self) -> Result<FileStore, StoreError> {
        let dir = self.dir;
        if !dir.is_dir() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!("session directory {} does not exist", dir.display()),
            ));
        }
        let locks = files::StripeLocks::open(dir.join(".locks"), self.create)?;
        Ok(FileStore {
            inner: Arc::new(Inner { dir, locks }),
        })
    }
}

impl FileStore {
    /// Options for opening the store in `dir`.
    ///
    /// ```
    /// use sessionkit_core::store::{Create, FileStore};
    ///
    /// let dir = std::env::temp_dir().join("sessionkit-doc-no-such-dir");
    /// let err = FileStore::builder(&dir).create(Create::Never).open().unwrap_err();
    /// assert!(err.to_string().contains("does not exist"));
    /// assert!(!dir.exists());
    /// ```
    pub fn builder(dir: impl AsRef<Path>) -> FileStoreBuilder {
        FileStoreBuilder {
            dir: dir.as_ref().to_path_buf(),
            create: Create::IfMissing,
        }
    }

    /// Uses `dir`, which must exist (as Django's `SESSION_FILE_PATH` must), creating the
    /// lock directory in it.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        FileStore::builder(dir).open()
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn path(&self, key: &SessionKey) -> PathBuf {
        self.inner.dir.join(format!("{PREFIX}{}", key.as_str()))
    }

    /// Runs `f` while holding the key's write lock, on a blocking thread.
    async fn locked<T: Send + 'static>(
        &self,
        key: SessionKey,
        f: impl FnOnce(&FileStore, &SessionKey) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        files::blocking(move || this.inner.locks.with_lock(&key, || f(&this, &key))).await
    }

    fn read(&self, key: &SessionKey) -> Result<Option<Stored>, StoreError> {
        let path = self.path(key);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                tracing::warn!(key = %key.fingerprint(), "session file is not UTF-8; treating as no session");
                return Ok(None);
            }
            Err(e) => return Err(io_error("cannot read", &path, e)),
        };
        let parsed = text
            .split_once('\n')
            .and_then(|(h, d)| Some((Header::decode(h)?, d)));
        match parsed {
            Some((header, data)) => Ok(Some(Stored {
                header,
                data: data.to_owned(),
            })),
            None => {
                tracing::warn!(key = %key.fingerprint(), "unreadable session file; treating as no session");
                Ok(None)
            }
        }
    }

    fn write(&self, key: &SessionKey, header: &Header, data: &str) -> Result<(), StoreError> {
        let mut content = header.encode();
        content.push('\n');
        content.push_str(data);
        files::write_atomically(
            &self.inner.dir,
            &format!("{PREFIX}{}", key.as_str()),
            &format!(".tmp-{}-", key.as_str()),
            content.as_bytes(),
        )
    }

    fn remove(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let path = self.path(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("cannot delete", &path, e)),
        }
    }

    /// Every session key in the directory.
    fn keys(&self) -> Result<Vec<SessionKey>, StoreError> {
        let dir = &self.inner.dir;
        let entries = fs::read_dir(dir).map_err(|e| io_error("cannot list", dir, e))?;
        let mut keys = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("cannot list", dir, e))?;
            let name = entry.file_name();
            if let Some(k) = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(SessionKey::parse)
            {
                keys.push(k);
            }
        }
        keys.sort();
        Ok(keys)
    }

    fn infos(
        &self,
        now: i64,
        keep: impl Fn(&SessionKey, &Header) -> bool,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let mut out = Vec::new();
        for key in self.keys()? {
            if let Some(s) = self.read(&key)? {
                let h = &s.header;
                if !h.retired && h.expires_at > now && keep(&key, h) {
                    out.push(SessionInfo {
                        key,
                        expires_at: from_micros(h.expires_at),
                        meta: Metadata {
                            created_at: Some(from_micros(h.created_at)),
                            last_seen: Some(from_micros(h.last_seen)),
                            user_id: h.user_id.clone(),
                        },
                    });
                }
            }
        }
        Ok(out)
    }
}

fn live(h: &Header, now: i64) -> bool {
    !h.retired && h.expires_at > now
}

impl SessionStore for FileStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let this = self.clone();
        let key = *key;
        let stored = tokio::task::spawn_blocking(move || this.read(&key))
            .await
            .map_err(|e| {
                StoreError::with_source(StoreErrorKind::Other, "file store task failed", e)
            })??;
        let now = micros(now);
        let Some(s) = stored else {
            return Ok(Lookup::Missing);
        };
        if s.header.expires_at <= now {
            return Ok(Lookup::Missing);
        }
        if s.header.retired {
            return Ok(Lookup::Retired {
                until: from_micros(s.header.expires_at),
            });
        }
        match Data::from_json(s.data.into()) {
            Ok(data) => Ok(Lookup::Found {
                record: Record {
                    data,
                    expires_at: from_micros(s.header.expires_at),
                    meta: Metadata {
                        created_at: Some(from_micros(s.header.created_at)),
                        last_seen: Some(from_micros(s.header.last_seen)),
                        user_id: s.header.user_id,
                    },
                },
                token: Token::version(s.header.version),
            }),
            Err(e) => {
                tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session data in file; treating as no session");
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
        let data = record.data.to_json();
        let now_m = micros(now);
        let mut header = Header {
            version: 1,
            expires_at: micros(record.expires_at),
            created_at: micros(record.meta.created_at.unwrap_or(now)),
            last_seen: micros(record.meta.last_seen.unwrap_or(now)),
            user_id: record.meta.user_id.clone(),
            retired: false,
        };
        self.locked(*key, move |this, key| {
            if let Some(old) = this.read(key)? {
                if old.header.expires_at > now_m {
                    return Ok(CreateOutcome::Collision);
                }
                header.version = old.header.version + 1;
            }
            this.write(key, &header, &data)?;
            Ok(CreateOutcome::Created(Token::version(header.version)))
        })
        .await
    }

    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        let Some(expected) = token.as_version() else {
            return Ok(SaveOutcome::Conflict);
        };
        let data = record.data.to_json();
        let now_m = micros(now);
        let expires_at = micros(record.expires_at);
        let last_seen = micros(record.meta.last_seen.unwrap_or(now));
        let user_id = record.meta.user_id.clone();
        self.locked(*key, move |this, key| {
            let Some(old) = this.read(key)? else {
                return Ok(SaveOutcome::Missing);
            };
            if !live(&old.header, now_m) {
                return Ok(SaveOutcome::Missing);
            }
            if old.header.version != expected {
                return Ok(SaveOutcome::Conflict);
            }
            let header = Header {
                version: expected + 1,
                expires_at,
                created_at: old.header.created_at,
                last_seen,
                user_id,
                retired: false,
            };
            this.write(key, &header, &data)?;
            Ok(SaveOutcome::Saved(Token::version(header.version)))
        })
        .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.locked(*key, |this, key| this.remove(key).map(|_| ()))
            .await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (expires_at, now) = (micros(expires_at), micros(now));
        self.locked(*key, move |this, key| {
            let Some(mut old) = this.read(key)? else {
                return Ok(false);
            };
            if !live(&old.header, now) {
                return Ok(false);
            }
            old.header.expires_at = expires_at;
            old.header.last_seen = now;
            this.write(key, &old.header, &old.data)?;
            Ok(true)
        })
        .await
    }

    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        let now = micros(now);
        let this = self.clone();
        let keys = tokio::task::spawn_blocking(move || this.keys())
            .await
            .map_err(|e| {
                StoreError::with_source(StoreErrorKind::Other, "file store task failed", e)
            })??;
        let mut removed = 0;
        for key in keys {
            // Re-checked under the key's lock: a concurrent cleaner or writer wins cleanly.
            let gone = self
                .locked(key, move |this, key| match this.read(key)? {
                    Some(s) if s.header.expires_at <= now => this.remove(key),
                    _ => Ok(false),
                })
                .await?;
            removed += u64::from(gone);
        }
        progress(removed);
        Ok(removed)
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        let until = micros(until);
        self.locked(*key, move |this, key| {
            let version = this.read(key)?.map_or(1, |s| s.header.version + 1);
            let header = Header {
                version,
                expires_at: until,
                created_at: 0,
                last_seen: 0,
                user_id: None,
                retired: true,
            };
            this.write(key, &header, "{}")
        })
        .await
    }

    fn describe(&self) -> String {
        format!("file://{}", self.inner.dir.display())
    }

    fn listing(&self) -> Option<&dyn SessionListing> {
        Some(self)
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }
}

impl SessionListing for FileStore {
    fn list<'a>(
        &'a self,
        now: OffsetDateTime,
        after: Option<&'a SessionKey>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        let this = self.clone();
        let after = after.copied();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut all = this.infos(micros(now), |k, _| after.is_none_or(|a| *k > a))?;
                all.truncate(limit);
                Ok(all)
            })
            .await
            .map_err(|e| {
                StoreError::with_source(StoreErrorKind::Other, "file store task failed", e)
            })?
        })
    }
}

impl UserIndex for FileStore {
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        let this = self.clone();
        let user = user_id.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                this.infos(micros(now), |_, h| {
                    h.user_id.as_deref() == Some(user.as_str())
                })
            })
            .await
            .map_err(|e| {
                StoreError::with_source(StoreErrorKind::Other, "file store task failed", e)
            })?
        })
    }

    fn revoke_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let this = self.clone();
            let keys = tokio::task::spawn_blocking(move || this.keys())
                .await
                .map_err(|e| {
                    StoreError::with_source(StoreErrorKind::Other, "file store task failed", e)
                })??;
            let mut removed = 0;
            for key in keys.into_iter().filter(|k| Some(k) != keep) {
                let user = user_id.to_owned();
                let gone = self
                    .locked(key, move |this, key| match this.read(key)? {
                        Some(s) if s.header.user_id.as_deref() == Some(user.as_str()) => {
                            this.remove(key)
                        }
                        _ => Ok(false),
                    })
                    .await?;
                removed += u64::from(gone);
            }
            Ok(removed)
        })
    }
}
