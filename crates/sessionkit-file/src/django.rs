//! [`DjangoFileStore`]: Django's `file` engine layout (feature `django`).
//!
//! One file per session, `SESSION_FILE_PATH/<SESSION_COOKIE_NAME><key>` (e.g.
//! `/tmp/sessionidabc...`), holding exactly what Django writes: the signed session data of
//! `SessionStore.encode`, ASCII, no newline, mode 0600 (on Unix), replaced atomically
//! through a temporary file named `<file name>_out_<random>` as Django names them.
//!
//! Expiry as Django computes it: an absolute `_session_expiry` (an ISO date), else the
//! file's modification time plus the cookie age. **Deviation:** Django never expires a
//! file whose `_session_expiry` is an integer (its `get_expiry_age` returns the integer
//! unchanged, so a `set_expiry(300)` session lives forever on disk); here such a file
//! expires `N` seconds after its last write, as every other engine does. And where Django
//! answers a read of an expired file by creating a new empty session file, this store
//! creates nothing.
//!
//! Compare-and-set: the version token is the file's content; writers of one key serialize
//! on a file lock (lock files in `<dir>/.sessionkit-locks/`, which Django ignores since the
//! name does not start with the cookie name). Rust writers never lose each other's
//! updates; Django's own saves still overwrite blindly.
//!
//! The file-name prefix and the cookie age are Django's `SESSION_COOKIE_NAME` and
//! `SESSION_COOKIE_AGE`: give the store the engine's [`Config`] with
//! [`DjangoFileBuilder::with_config`] so that both read the same settings.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sessionkit_core::store::SessionInfo;
use sessionkit_core::{
    Config, Create, CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey,
    SessionStore, StoreError, Token, Value, pytime,
};
use sessionkit_django::session;
use sessionkit_django::{DEFAULT_COOKIE_AGE, Secrets, Signer};
use time::OffsetDateTime;

use crate::dir::{SessionDir, io_error};
use crate::layout::{self, Layout};

/// Django's `file` engine layout. See the [module docs](self).
///
/// ```
/// # fn run() -> Result<(), sessionkit_core::StoreError> {
/// use sessionkit_core::Config;
/// use sessionkit_django::Secrets;
/// use sessionkit_file::DjangoFileStore;
///
/// let dir = tempfile::tempdir().unwrap();
/// let config = Config::builder().cookie_age(3600).build().unwrap();
/// let store = DjangoFileStore::builder(dir.path(), &Secrets::new("django-secret-key"))
///     .with_config(&config)
///     .open()?;
/// assert_eq!(store.location(), dir.path());
/// # Ok(())
/// # }
/// # run().unwrap();
/// ```
#[derive(Clone)]
pub struct DjangoFileStore {
    inner: Arc<Django>,
}

/// Django's layout in its directory.
struct Django {
    dir: SessionDir,
    cookie_age: i64,
    signer: Signer,
}

impl fmt::Debug for DjangoFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoFileStore")
            .field("dir", &self.inner.dir.path())
            .field("cookie_name", &self.inner.dir.prefix())
            .finish_non_exhaustive()
    }
}

/// A session file as read.
struct Stored {
    content: String,
    modified: OffsetDateTime,
}

/// Options for opening a [`DjangoFileStore`]; from [`DjangoFileStore::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `open` is called"]
pub struct DjangoFileBuilder {
    dir: PathBuf,
    secrets: Secrets,
    create: Create,
    cookie_name: String,
    cookie_age: i64,
}

impl DjangoFileBuilder {
    /// Whether opening may create the lock directory `<dir>/.sessionkit-locks`
    /// ([`Create::IfMissing`], the default) or creates nothing ([`Create::Never`]: the lock
    /// directory is then made by the first write, if any). The session directory itself
    /// (Django's `SESSION_FILE_PATH`) must exist either way.
    pub fn with_create(mut self, create: Create) -> DjangoFileBuilder {
        self.create = create;
        self
    }

    /// Takes Django's `SESSION_COOKIE_NAME` (the file-name prefix) and
    /// `SESSION_COOKIE_AGE` (the life of files without an absolute expiry) from the
    /// engine's `config`: the way to keep the store and the engine in step.
    pub fn with_config(mut self, config: &Config) -> DjangoFileBuilder {
        self.cookie_name = config.cookie_name().to_owned();
        self.cookie_age = config.cookie_age();
        self
    }

    /// Django's `SESSION_COOKIE_NAME`, the file-name prefix (default `sessionid`), when
    /// there is no engine [`Config`] to take it from ([`with_config`](Self::with_config)).
    pub fn with_cookie_name(mut self, name: impl Into<String>) -> DjangoFileBuilder {
        self.cookie_name = name.into();
        self
    }

    /// Django's `SESSION_COOKIE_AGE` in seconds, for files without an absolute expiry
    /// (default 1209600), when there is no engine [`Config`] to take it from
    /// ([`with_config`](Self::with_config)), or for an age a `Config` refuses (Django
    /// accepts `0`).
    pub fn with_cookie_age(mut self, seconds: i64) -> DjangoFileBuilder {
        self.cookie_age = seconds;
        self
    }

    /// Opens the store: a [`StoreErrorKind::Config`](sessionkit_core::StoreErrorKind::Config)
    /// error naming the directory when it does not exist.
    pub fn open(self) -> Result<DjangoFileStore, StoreError> {
        let dir = SessionDir::open(
            self.dir,
            self.cookie_name,
            ".sessionkit-locks",
            self.create,
            " (Django's SESSION_FILE_PATH)",
        )?;
        Ok(DjangoFileStore {
            inner: Arc::new(Django {
                dir,
                cookie_age: self.cookie_age,
                signer: session::signer(&self.secrets),
            }),
        })
    }
}

impl DjangoFileStore {
    /// Options for opening the store in `dir` (Django's `SESSION_FILE_PATH`), signing
    /// with `secrets`.
    pub fn builder(dir: impl AsRef<Path>, secrets: &Secrets) -> DjangoFileBuilder {
        DjangoFileBuilder {
            dir: dir.as_ref().to_path_buf(),
            secrets: secrets.clone(),
            create: Create::IfMissing,
            cookie_name: "sessionid".to_owned(),
            cookie_age: DEFAULT_COOKIE_AGE,
        }
    }

    /// Uses `dir` (Django's `SESSION_FILE_PATH`, which must exist), signing with `secrets`,
    /// with Django's defaults for the cookie name (`sessionid`) and age (two weeks).
    pub fn open(dir: impl AsRef<Path>, secrets: &Secrets) -> Result<DjangoFileStore, StoreError> {
        DjangoFileStore::builder(dir, secrets).open()
    }

    /// Where the store lives: its directory (Django's `SESSION_FILE_PATH`).
    pub fn location(&self) -> &Path {
        self.inner.dir.path()
    }
}

impl Django {
    /// The file's data (`None` when unreadable: logged, left in place) and expiry.
    fn decode(&self, key: &SessionKey, s: &Stored) -> Option<(Data, OffsetDateTime)> {
        if s.content.is_empty() {
            // Django's placeholder file: an empty session.
            return Some((Data::new(), self.expiry(&Data::new(), s.modified)));
        }
        match session::decode(&s.content, &self.signer) {
            Some(data) => {
                let expires = self.expiry(&data, s.modified);
                Some((data, expires))
            }
            None => {
                tracing::warn!(key = %key.fingerprint(), "unreadable Django session file; treating as no session");
                None
            }
        }
    }

    /// The file's data when it holds a session live at `now`.
    fn live(&self, key: &SessionKey, s: &Stored, now: OffsetDateTime) -> Option<Data> {
        self.decode(key, s)
            .and_then(|(data, expires_at)| (expires_at > now).then_some(data))
    }

    /// Django's rule: an absolute `_session_expiry`, else mtime + the relative expiry or
    /// the cookie age.
    fn expiry(&self, data: &Data, modified: OffsetDateTime) -> OffsetDateTime {
        let secs = |n: i64| modified + time::Duration::seconds(n);
        match data.get(sessionkit_core::EXPIRY_KEY) {
            Some(Value::String(s)) => pytime::fromisoformat(&s)
                .map_or_else(|| secs(self.cookie_age), pytime::IsoDateTime::assume_utc),
            Some(Value::Int(n)) if n != 0 => secs(n),
            _ => secs(self.cookie_age),
        }
    }

    fn write(
        &self,
        key: &SessionKey,
        data: &Data,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        let content = session::encode(data, &self.signer, now);
        let temp_prefix = format!("{}_out_", self.dir.name(key));
        self.dir.write(key, &temp_prefix, content.as_bytes())?;
        Ok(content)
    }
}

/// What Django's layout can tell about a session: the user from `_auth_user_id`, and the
/// file time as the last write.
fn metadata(data: &Data, modified: OffsetDateTime) -> Metadata {
    Metadata {
        created_at: None,
        last_seen: Some(modified),
        user_id: match data.get(sessionkit_django::auth::SESSION_KEY) {
            Some(Value::String(s)) => Some(s),
            Some(Value::Int(i)) => Some(i.to_string()),
            _ => None,
        },
        client: None,
    }
}

/// Listing and the per-user index decode every file: fine for an admin tool. The per-user
/// index finds sessions Django created as well as ours.
impl Layout for Django {
    type File = Stored;

    fn dir(&self) -> &SessionDir {
        &self.dir
    }

    fn read(&self, key: &SessionKey) -> Result<Option<Stored>, StoreError> {
        let Some(bytes) = self.dir.read(key)? else {
            return Ok(None);
        };
        let path = self.dir.file(key);
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(|e| io_error("cannot stat", &path, e))?;
        Ok(Some(Stored {
            content: String::from_utf8_lossy(&bytes).into_owned(),
            modified: OffsetDateTime::from(modified),
        }))
    }

    fn live_info(&self, key: SessionKey, s: &Stored, now: OffsetDateTime) -> Option<SessionInfo> {
        let (data, expires_at) = self.decode(&key, s)?;
        (expires_at > now).then(|| SessionInfo {
            key,
            expires_at,
            meta: metadata(&data, s.modified),
        })
    }

    fn expired(&self, key: &SessionKey, s: &Stored, now: OffsetDateTime) -> bool {
        self.decode(key, s).is_some_and(|(_, e)| e <= now)
    }

    fn user_id(&self, key: &SessionKey, s: &Stored) -> Option<String> {
        let (data, _) = self.decode(key, s)?;
        metadata(&data, s.modified).user_id
    }
}

impl SessionStore for DjangoFileStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let Some(s) = layout::read(&self.inner, key).await? else {
            return Ok(Lookup::Missing);
        };
        match self.inner.decode(key, &s) {
            Some((data, expires_at)) if expires_at > now => Ok(Lookup::Found {
                record: Record {
                    meta: metadata(&data, s.modified),
                    data,
                    expires_at,
                },
                token: Token::bytes(s.content.into_bytes()),
            }),
            _ => Ok(Lookup::Missing),
        }
    }

    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        let data = record.data.clone();
        layout::locked(&self.inner, *key, move |this, key| {
            if let Some(old) = this.read(key)? {
                let decoded = this.decode(key, &old);
                if decoded.is_none_or(|(_, e)| e > now) {
                    // A live session, or a file we cannot read: never overwritten.
                    return Ok(CreateOutcome::Collision);
                }
            }
            let content = this.write(key, &data, now)?;
            Ok(CreateOutcome::Created(Token::bytes(content.into_bytes())))
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
        let Some(expected) = token.as_bytes().map(<[u8]>::to_vec) else {
            return Ok(SaveOutcome::Conflict);
        };
        let data = record.data.clone();
        layout::locked(&self.inner, *key, move |this, key| {
            let Some(old) = this.read(key)? else {
                return Ok(SaveOutcome::Missing);
            };
            if this.live(key, &old, now).is_none() {
                return Ok(SaveOutcome::Missing);
            }
            if old.content.as_bytes() != expected.as_slice() {
                return Ok(SaveOutcome::Conflict);
            }
            let content = this.write(key, &data, now)?;
            Ok(SaveOutcome::Saved(Token::bytes(content.into_bytes())))
        })
        .await
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        layout::delete(&self.inner, key).await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        _expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // Django's layout keeps the expiry in the data or the file time: a touch moves the
        // file time (the data, and so the token, stay as they are).
        layout::locked(&self.inner, *key, move |this, key| {
            let Some(old) = this.read(key)? else {
                return Ok(false);
            };
            if this.live(key, &old, now).is_none() {
                return Ok(false);
            }
            let path = this.dir.file(key);
            let file = fs::File::options()
                .write(true)
                .open(&path)
                .map_err(|e| io_error("cannot open", &path, e))?;
            file.set_modified(SystemTime::from(now))
                .map_err(|e| io_error("cannot touch", &path, e))?;
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

    fn describe(&self) -> String {
        format!("file://{} (django layout)", self.location().display())
    }

    sessionkit_core::offers!(listing, user_index);
}

layout::listing_and_user_index!(DjangoFileStore);
