//! [`DjangoFileStore`]: Django's `file` engine layout.
//!
//! One file per session, `SESSION_FILE_PATH/<SESSION_COOKIE_NAME><key>` (e.g.
//! `/tmp/sessionidabc...`), holding exactly what Django writes: the signed session data of
//! `SessionStore.encode`, ASCII, no newline, mode 0600, replaced atomically through a
//! temporary file named `<file name>_out_<random>` as Django names them.
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
//! on an `flock` (lock files in `<dir>/.sessionkit-locks/`, which Django ignores since the
//! name does not start with the cookie name). Rust writers never lose each other's
//! updates; Django's own saves still overwrite blindly.

use std::fmt;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use sessionkit_core::store::files::{self, StripeLocks, io_error};
use sessionkit_core::store::{BoxFuture, Create, SessionInfo, SessionListing, UserIndex};
use sessionkit_core::{
    CreateOutcome, Data, Lookup, Metadata, Record, SaveOutcome, SessionKey, SessionStore,
    StoreError, StoreErrorKind, Token, Value, pytime,
};
use time::OffsetDateTime;

use crate::session;
use crate::signing::{Secrets, Signer};

/// Django's `file` engine layout. See the [module docs](self).
#[derive(Clone)]
pub struct DjangoFileStore {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    cookie_name: String,
    cookie_age: i64,
    signer: Signer,
    locks: StripeLocks,
}

impl fmt::Debug for DjangoFileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DjangoFileStore")
            .field("dir", &self.inner.dir)
            .field("cookie_name", &self.inner.cookie_name)
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
}

impl DjangoFileBuilder {
    /// Whether opening may create the lock directory `<dir>/.sessionkit-locks`
    /// ([`Create::IfMissing`], the default) or creates nothing ([`Create::Never`]: the lock
    /// directory is then made by the first write, if any). The session directory itself
    /// (Django's `SESSION_FILE_PATH`) must exist either way.
    pub fn create(mut self, create: Create) -> DjangoFileBuilder {
        self.create = create;
        self
    }

    /// Opens the store, with Django's defaults for the cookie name (`sessionid`) and age
    /// (two weeks): a [`StoreErrorKind::Config`] error naming the directory when it does
    /// not exist.
    pub fn open(self) -> Result<DjangoFileStore, StoreError> {
        let dir = self.dir;
        if !dir.is_dir() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "session directory {} does not exist (Django's SESSION_FILE_PATH)",
                    dir.display()
                ),
            ));
        }
        let locks = StripeLocks::open(dir.join(".sessionkit-locks"), self.create)?;
        Ok(DjangoFileStore {
            inner: Arc::new(Inner {
                dir,
                cookie_name: "sessionid".to_owned(),
                cookie_age: 1_209_600,
                signer: session::signer(&self.secrets),
                locks,
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
        }
    }

    /// Uses `dir` (Django's `SESSION_FILE_PATH`, which must exist), signing with `secrets`,
    /// with Django's defaults for the cookie name (`sessionid`) and age (two weeks).
    pub fn open(dir: impl AsRef<Path>, secrets: &Secrets) -> Result<DjangoFileStore, StoreError> {
        DjangoFileStore::builder(dir, secrets).open()
    }

    fn with(self, f: impl FnOnce(&mut Inner)) -> DjangoFileStore {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            dir: shared.dir.clone(),
            cookie_name: shared.cookie_name.clone(),
            cookie_age: shared.cookie_age,
            signer: shared.signer.clone(),
            locks: shared.locks.clone(),
        });
        f(&mut inner);
        DjangoFileStore {
            inner: Arc::new(inner),
        }
    }

    /// Django's `SESSION_COOKIE_NAME`, the file-name prefix (default `sessionid`).
    #[must_use]
    pub fn with_cookie_name(self, name: impl Into<String>) -> DjangoFileStore {
        let name = name.into();
        self.with(|i| i.cookie_name = name)
    }

    /// Django's `SESSION_COOKIE_AGE`, for files without an absolute expiry (default
    /// 1209600). Use the same value as the engine's `Config::cookie_age`.
    #[must_use]
    pub fn with_cookie_age(self, seconds: i64) -> DjangoFileStore {
        self.with(|i| i.cookie_age = seconds)
    }

    fn name(&self, key: &SessionKey) -> String {
        format!("{}{}", self.inner.cookie_name, key.as_str())
    }

    fn read(&self, key: &SessionKey) -> Result<Option<Stored>, StoreError> {
        let path = self.inner.dir.join(self.name(key));
        let content = match fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("cannot read", &path, e)),
        };
        let modified = fs::metadata(&path)
            .and_then(|m| m.modified())
            .map_err(|e| io_error("cannot stat", &path, e))?;
        Ok(Some(Stored {
            content,
            modified: OffsetDateTime::from(modified),
        }))
    }

    /// The file's data (`None` when unreadable: logged, left in place) and expiry.
    fn decode(&self, key: &SessionKey, s: &Stored) -> Option<(Data, OffsetDateTime)> {
        if s.content.is_empty() {
            // Django's placeholder file: an empty session.
            return Some((Data::new(), self.expiry(&Data::new(), s.modified)));
        }
        match session::decode(&s.content, &self.inner.signer) {
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

    /// Django's rule: an absolute `_session_expiry`, else mtime + the relative expiry or
    /// the cookie age.
    fn expiry(&self, data: &Data, modified: OffsetDateTime) -> OffsetDateTime {
        let secs = |n: i64| modified + time::Duration::seconds(n);
        match data.get(sessionkit_core::EXPIRY_KEY) {
            Some(Value::String(s)) => pytime::fromisoformat(&s).map_or_else(
                || secs(self.inner.cookie_age),
                pytime::IsoDateTime::assume_utc,
            ),
            Some(Value::Int(n)) if n != 0 => secs(n),
            _ => secs(self.inner.cookie_age),
        }
    }

    fn write(
        &self,
        key: &SessionKey,
        data: &Data,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        let content = session::encode(data, &self.inner.signer, now);
        let name = self.name(key);
        files::write_atomically(
            &self.inner.dir,
            &name,
            &format!("{name}_out_"),
            content.as_bytes(),
        )?;
        Ok(content)
    }

    fn remove(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let path = self.inner.dir.join(self.name(key));
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("cannot delete", &path, e)),
        }
    }

    async fn locked<T: Send + 'static>(
        &self,
        key: SessionKey,
        f: impl FnOnce(&DjangoFileStore, &SessionKey) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let this = self.clone();
        files::blocking(move || this.inner.locks.with_lock(&key, || f(&this, &key))).await
    }

    /// Keys of every session file in the directory.
    fn keys(&self) -> Result<Vec<SessionKey>, StoreError> {
        let dir = &self.inner.dir;
        let mut keys = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io_error("cannot list", dir, e))? {
            let entry = entry.map_err(|e| io_error("cannot list", dir, e))?;
            if let Some(k) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(self.inner.cookie_name.as_str()))
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
        now: OffsetDateTime,
        keep: impl Fn(&SessionKey, &Data) -> bool,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let mut out = Vec::new();
        for key in self.keys()? {
            let Some(s) = self.read(&key)? else { continue };
            let Some((data, expires_at)) = self.decode(&key, &s) else {
                continue;
            };
            if expires_at > now && keep(&key, &data) {
                out.push(SessionInfo {
                    key,
                    expires_at,
                    meta: metadata(&data, s.modified),
                });
            }
        }
        Ok(out)
    }
}

/// What Django's layout can tell about a session: the user from `_auth_user_id`, and the
/// file time as the last write.
fn metadata(data: &Data, modified: OffsetDateTime) -> Metadata {
    Metadata {
        created_at: None,
        last_seen: Some(modified),
        user_id: match data.get(crate::auth::SESSION_KEY) {
            Some(Value::String(s)) => Some(s),
            Some(Value::Int(i)) => Some(i.to_string()),
            _ => None,
        },
    }
}

impl SessionStore for DjangoFileStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        let this = self.clone();
        let k = *key;
        let Some(s) = files::blocking(move || this.read(&k)).await? else {
            return Ok(Lookup::Missing);
        };
        match self.decode(key, &s) {
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
        self.locked(*key, move |this, key| {
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
        self.locked(*key, move |this, key| {
            let Some(old) = this.read(key)? else {
                return Ok(SaveOutcome::Missing);
            };
            if this.decode(key, &old).is_none_or(|(_, e)| e <= now) {
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
        self.locked(*key, |this, key| this.remove(key).map(|_| ()))
            .await
    }

    async fn touch(
        &self,
        key: &SessionKey,
        _expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        // Django's layout keeps the expiry in the data or the file time: a touch moves the
        // file time (the data, and so the token, stay as they are).
        self.locked(*key, move |this, key| {
            let Some(old) = this.read(key)? else {
                return Ok(false);
            };
            if this.decode(key, &old).is_none_or(|(_, e)| e <= now) {
                return Ok(false);
            }
            let path = this.inner.dir.join(this.name(key));
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
        let this = self.clone();
        let keys = files::blocking(move || this.keys()).await?;
        let mut removed = 0;
        for key in keys {
            let gone = self
                .locked(key, move |this, key| match this.read(key)? {
                    Some(s) if this.decode(key, &s).is_some_and(|(_, e)| e <= now) => {
                        this.remove(key)
                    }
                    _ => Ok(false),
                })
                .await?;
            removed += u64::from(gone);
        }
        progress(removed);
        Ok(removed)
    }

    fn describe(&self) -> String {
        format!("file://{} (django layout)", self.inner.dir.display())
    }

    fn listing(&self) -> Option<&dyn SessionListing> {
        Some(self)
    }

    fn user_index(&self) -> Option<&dyn UserIndex> {
        Some(self)
    }
}

/// Listing decodes every file: fine for an admin tool.
impl SessionListing for DjangoFileStore {
    fn list<'a>(
        &'a self,
        now: OffsetDateTime,
        after: Option<&'a SessionKey>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        let this = self.clone();
        let after = after.copied();
        Box::pin(files::blocking(move || {
            let mut all = this.infos(now, |k, _| after.is_none_or(|a| *k > a))?;
            all.truncate(limit);
            Ok(all)
        }))
    }
}

/// The per-user index of Django's file layout is a scan: every file is decoded and its
/// `_auth_user_id` compared. It finds sessions Django created as well as ours.
impl UserIndex for DjangoFileStore {
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>> {
        let this = self.clone();
        let user = user_id.to_owned();
        Box::pin(files::blocking(move || {
            this.infos(now, |_, d| {
                metadata(d, OffsetDateTime::UNIX_EPOCH).user_id.as_deref() == Some(user.as_str())
            })
        }))
    }

    fn revoke_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let this = self.clone();
            let keys = files::blocking(move || this.keys()).await?;
            let mut removed = 0;
            for key in keys.into_iter().filter(|k| Some(k) != keep) {
                let user = user_id.to_owned();
                let gone = self
                    .locked(key, move |this, key| {
                        let Some(s) = this.read(key)? else {
                            return Ok(false);
                        };
                        match this.decode(key, &s) {
                            Some((d, _))
                                if metadata(&d, s.modified).user_id.as_deref()
                                    == Some(user.as_str()) =>
                            {
                                this.remove(key)
                            }
                            _ => Ok(false),
                        }
                    })
                    .await?;
                removed += u64::from(gone);
            }
            Ok(removed)
        })
    }
}
