//! The file plumbing both layouts share, written once: a session directory (file names,
//! reading, atomic replacement, removal, listing), cross-process write locks, owner-only
//! permissions, and blocking work off the async threads.
//!
//! Unix-only APIs sit behind `cfg(unix)` in [`private`] alone: elsewhere files get the
//! platform's default permissions and everything else is the same.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use sessionkit_core::{Create, SessionKey, StoreError, StoreErrorKind};

/// Writers of one session serialize on one of this many lock files.
const STRIPES: usize = 64;

/// A store error for an I/O failure on `path`, keeping the cause.
pub(crate) fn io_error(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::with_source(
        StoreErrorKind::Unavailable,
        format!("{what} {}", path.display()),
        e,
    )
}

/// Runs blocking file work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::with_source(StoreErrorKind::Other, "file store task failed", e))?
}

/// `options`, creating files readable and writable by their owner only (mode 0600) where
/// the platform has Unix permission modes; elsewhere unchanged.
fn private(options: &mut OpenOptions) -> &mut OpenOptions {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// A directory of session files named `<prefix><session key>`, with the lock files of its
/// writers in a subdirectory.
#[derive(Debug, Clone)]
pub(crate) struct SessionDir {
    path: PathBuf,
    prefix: String,
    locks: StripeLocks,
}

impl SessionDir {
    /// Uses `path`, which must exist (else a [`StoreErrorKind::Config`] error naming it,
    /// followed by `note`), with the lock files in `path/<lock_dir>` (see
    /// [`StripeLocks::open`] for `create`).
    pub(crate) fn open(
        path: PathBuf,
        prefix: String,
        lock_dir: &str,
        create: Create,
        note: &str,
    ) -> Result<SessionDir, StoreError> {
        if !path.is_dir() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!("session directory {} does not exist{note}", path.display()),
            ));
        }
        let locks = StripeLocks::open(path.join(lock_dir), create)?;
        Ok(SessionDir {
            path,
            prefix,
            locks,
        })
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file-name prefix.
    #[cfg(feature = "django")]
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The file name of `key`'s session.
    pub(crate) fn name(&self, key: &SessionKey) -> String {
        format!("{}{}", self.prefix, key.as_str())
    }

    /// The path of `key`'s session file.
    pub(crate) fn file(&self, key: &SessionKey) -> PathBuf {
        self.path.join(self.name(key))
    }

    /// The bytes of `key`'s file, or `None` when there is none.
    pub(crate) fn read(&self, key: &SessionKey) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.file(key);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("cannot read", &path, e)),
        }
    }

    /// Replaces `key`'s file with `bytes` atomically: written (owner-only) and synced to
    /// a new temporary file `<temp_prefix><random>` in the directory, then renamed over
    /// the target, so readers see the old or the new file, never half of one.
    pub(crate) fn write(
        &self,
        key: &SessionKey,
        temp_prefix: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let path = self.file(key);
        let tmp = self
            .path
            .join(format!("{temp_prefix}{}", SessionKey::generate().as_str()));
        let result = (|| {
            let mut f = private(OpenOptions::new().create_new(true).write(true)).open(&tmp)?;
            f.write_all(bytes)?;
            f.sync_data()?;
            fs::rename(&tmp, &path)
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io_error("cannot write", &path, e));
        }
        Ok(())
    }

    /// Removes `key`'s file; whether there was one.
    pub(crate) fn remove(&self, key: &SessionKey) -> Result<bool, StoreError> {
        let path = self.file(key);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error("cannot delete", &path, e)),
        }
    }

    /// The keys of every session file in the directory, sorted.
    pub(crate) fn keys(&self) -> Result<Vec<SessionKey>, StoreError> {
        let dir = &self.path;
        let mut keys = Vec::new();
        for entry in fs::read_dir(dir).map_err(|e| io_error("cannot list", dir, e))? {
            let entry = entry.map_err(|e| io_error("cannot list", dir, e))?;
            if let Some(k) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.strip_prefix(self.prefix.as_str()))
                .and_then(SessionKey::parse)
            {
                keys.push(k);
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Runs `f` holding `key`'s write lock (blocking: call from a blocking thread).
    pub(crate) fn with_lock<T>(
        &self,
        key: &SessionKey,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.locks.with_lock(key, f)
    }
}

/// Exclusive cross-process locks per session key: a file lock (`flock` on Unix) on one of
/// 64 lock files in a directory, chosen by key. The lock files are never deleted, so
/// nobody can lock a file that another process is removing.
#[derive(Debug, Clone)]
struct StripeLocks {
    dir: PathBuf,
}

impl StripeLocks {
    /// Uses `dir` for the lock files: created now under [`Create::IfMissing`]; under
    /// [`Create::Never`] not now, only when a write first takes a lock (a store opened to
    /// read creates nothing).
    fn open(dir: PathBuf, create: Create) -> Result<StripeLocks, StoreError> {
        if create == Create::IfMissing {
            create_lock_dir(&dir)?;
        }
        Ok(StripeLocks { dir })
    }

    /// Runs `f` holding the key's lock (blocking: call from a blocking thread).
    fn with_lock<T>(
        &self,
        key: &SessionKey,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let stripe = key.stripe(STRIPES);
        let path = self.dir.join(format!("{stripe:02}"));
        let open =
            || private(OpenOptions::new().create(true).truncate(false).write(true)).open(&path);
        let lock = match open() {
            // The lock directory of a store opened with `Create::Never`, on its first write.
            Err(e) if e.kind() == ErrorKind::NotFound => {
                create_lock_dir(&self.dir)?;
                open()
            }
            other => other,
        }
        .map_err(|e| io_error("cannot open lock file", &path, e))?;
        lock.lock().map_err(|e| io_error("cannot lock", &path, e))?;
        let result = f();
        let _ = lock.unlock();
        result
    }
}

fn create_lock_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(|e| {
        StoreError::with_source(
            StoreErrorKind::Config,
            format!("cannot create {}", dir.display()),
            e,
        )
    })
}
