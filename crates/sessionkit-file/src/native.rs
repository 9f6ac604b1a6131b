//! [`FileStore`]: sessionkit's own file layout, one file per session in a directory.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use sessionkit_core::store::SessionInfo;
use sessionkit_core::value::Map;
use sessionkit_core::{
    ClientInfo, Create, CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey,
    SessionStore, StoreError, Token, Value, json,
};
use time::OffsetDateTime;

use crate::dir::SessionDir;
use crate::layout::{self, Layout};
use sessionkit_core::store::{from_unix_micros_saturating, unix_micros};

/// File names of session files start with this.
const PREFIX: &str = "sk_";

/// Sessions as files: `<dir>/sk_<key>`, each a header line (version, expiry, metadata
/// including the client info) and the data as JSON. Writes go to a temporary file in the same directory that is renamed
/// over the target (readers see the old or the new file, never half of one); files are
/// created with mode 0600 (on Unix). Compare-and-set takes an exclusive file lock (`flock`
/// on Unix) on one of 64 lock files in `<dir>/.locks/` (chosen by key), so several
/// processes sharing the directory never lose each other's updates.
///
/// Listing and the per-user index read every file's header: fine for an admin tool.
///
/// ```no_run
/// # fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_file::FileStore;
///
/// let store = FileStore::open("/var/lib/myapp/sessions")?;
/// assert_eq!(store.location(), std::path::Path::new("/var/lib/myapp/sessions"));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Native>,
}

/// The native layout in its directory.
struct Native {
    dir: SessionDir,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("dir", &self.inner.dir.path())
            .finish()
    }
}

/// A session file's header.
struct Header {
    version: u64,
    expires_at: i64,
    created_at: i64,
    last_seen: i64,
    user_id: Option<String>,
    retired: bool,
    /// `"k"`: the client info as [`ClientInfo::to_stored_text`], absent when none (and in
    /// files written before it).
    client: Option<ClientInfo>,
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
        if let Some(c) = &self.client {
            m.insert("k".into(), Value::String(c.to_stored_text()));
        }
        json::to_string(&Value::Map(m))
    }

    /// Reads a header line; client info that does not read back is dropped with a warning
    /// naming the session, the session itself stays readable.
    fn decode(line: &str, key: &SessionKey) -> Option<Header> {
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
            client: m.get("k").and_then(|k| {
                let parsed = match k {
                    Value::String(s) => ClientInfo::from_stored_text(s),
                    _ => None,
                };
                if parsed.is_none() {
                    tracing::warn!(key = %key.fingerprint(), "unreadable client info in the session file; ignoring it");
                }
                parsed
            }),
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
    dir: std::path::PathBuf,
    create: Create,
}

impl FileStoreBuilder {
    /// Whether opening may create the lock directory `<dir>/.locks`
    /// ([`Create::IfMissing`], the default) or creates nothing ([`Create::Never`]: the lock
    /// directory is then made by the first write, if any). The session directory itself
    /// must exist either way.
    pub fn with_create(mut self, create: Create) -> FileStoreBuilder {
        self.create = create;
        self
    }

    /// Opens the store: a [`StoreErrorKind::Config`](sessionkit_core::StoreErrorKind::Config)
    /// error naming the directory when it does not exist.
    pub fn open(self) -> Result<FileStore, StoreError> {
        let dir = SessionDir::open(self.dir, PREFIX.to_owned(), ".locks", self.create, "")?;
        Ok(FileStore {
            inner: Arc::new(Native { dir }),
        })
    }
}

impl FileStore {
    /// Options for opening the store in `dir`.
    ///
    /// ```
    /// use sessionkit_core::Create;
    /// use sessionkit_file::FileStore;
    ///
    /// let dir = std::env::temp_dir().join("sessionkit-doc-no-such-dir");
    /// let err = FileStore::builder(&dir).with_create(Create::Never).open().unwrap_err();
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

    /// Where the store lives: its directory.
    pub fn location(&self) -> &Path {
        self.inner.dir.path()
    }

    /// The directory.
    #[deprecated(since = "0.1.0", note = "renamed `location`, as on every file store")]
    pub fn dir(&self) -> &Path {
        self.location()
    }
}

impl Native {
    fn write(&self, key: &SessionKey, header: &Header, data: &str) -> Result<(), StoreError> {
        let mut content = header.encode();
        content.push('\n');
        content.push_str(data);
        self.dir
            .write(key, &format!(".tmp-{}-", key.as_str()), content.as_bytes())
    }
}

fn live(h: &Header, now: i64) -> bool {
    !h.retired && h.expires_at > now
}

impl Layout for Native {
    type File = Stored;

    fn dir(&self) -> &SessionDir {
        &self.dir
    }

    fn read(&self, key: &SessionKey) -> Result<Option<Stored>, StoreError> {
        let Some(bytes) = self.dir.read(key)? else {
            return Ok(None);
        };
        let Ok(text) = String::from_utf8(bytes) else {
            tracing::warn!(key = %key.fingerprint(), "session file is not UTF-8; treating as no session");
            return Ok(None);
        };
        let parsed = text
            .split_once('\n')
            .and_then(|(h, d)| Some((Header::decode(h, key)?, d)));
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

    fn live_info(&self, key: SessionKey, s: &Stored, now: OffsetDateTime) -> Option<SessionInfo> {
        let h = &s.header;
        live(h, unix_micros(now)).then(|| SessionInfo {
            key,
            expires_at: from_unix_micros_saturating(h.expires_at),
            meta: Metadata {
                created_at: Some(from_unix_micros_saturating(h.created_at)),
                last_seen: Some(from_unix_micros_saturating(h.last_seen)),
                user_id: h.user_id.clone(),
                client: h.client.clone(),
            },
        })
    }

    fn expired(&self, _key: &SessionKey, s: &Stored, now: OffsetDateTime) -> bool {
        s.header.expires_at <= unix_micros(now)
    }

    fn user_id(&self, _key: &SessionKey, s: &Stored) -> Option<String> {
        s.header.user_id.clone()
    }
}

impl SessionStore for FileStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let now = unix_micros(now);
        let Some(s) = layout::read(&self.inner, key).await? else {
            return Ok(Lookup::Missing);
        };
        if s.header.expires_at <= now {
            return Ok(Lookup::Missing);
        }
        if s.header.retired {
            return Ok(Lookup::Retired {
                until: from_unix_micros_saturating(s.header.expires_at),
            });
        }
        match Data::from_json(s.data.into()) {
            Ok(data) => Ok(Lookup::Found {
                record: Record {
                    data,
                    expires_at: from_unix_micros_saturating(s.header.expires_at),
                    meta: Metadata {
                        created_at: Some(from_unix_micros_saturating(s.header.created_at)),
                        last_seen: Some(from_unix_micros_saturating(s.header.last_seen)),
                        user_id: s.header.user_id,
                        client: s.header.client,
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
        let now_m = unix_micros(now);
        let mut header = Header {
            version: 1,
            expires_at: unix_micros(record.expires_at),
            created_at: unix_micros(record.meta.created_at.unwrap_or(now)),
            last_seen: unix_micros(record.meta.last_seen.unwrap_or(now)),
            user_id: record.meta.user_id.clone(),
            retired: false,
            client: record.meta.client.clone(),
        };
        layout::locked(&self.inner, *key, move |this, key| {
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
        let now_m = unix_micros(now);
        let expires_at = unix_micros(record.expires_at);
        let last_seen = unix_micros(record.meta.last_seen.unwrap_or(now));
        let user_id = record.meta.user_id.clone();
        let client = record.meta.client.clone();
        layout::locked(&self.inner, *key, move |this, key| {
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
                client,
            };
            this.write(key, &header, &data)?;
            Ok(SaveOutcome::Saved(Token::version(header.version)))
        })
        .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        layout::delete(&self.inner, key).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (expires_at, now) = (unix_micros(expires_at), unix_micros(now));
        layout::locked(&self.inner, *key, move |this, key| {
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
        layout::clear_expired(&self.inner, now, progress).await
    }

    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        let until = unix_micros(until);
        layout::locked(&self.inner, *key, move |this, key| {
            let version = this.read(key)?.map_or(1, |s| s.header.version + 1);
            let header = Header {
                version,
                expires_at: until,
                created_at: 0,
                last_seen: 0,
                user_id: None,
                retired: true,
                client: None,
            };
            this.write(key, &header, "{}")
        })
        .await
    }

    fn describe(&self) -> String {
        format!("file://{}", self.location().display())
    }

    sessionkit_core::offers!(listing, user_index);
}

layout::listing_and_user_index!(FileStore);
