//! Building blocks for stores that keep sessions as files: atomic replacement, cross-process
//! write locks, blocking work off the async threads. Shared by [`FileStore`](super::FileStore)
//! and the Django file layout.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::{Create, StoreError, StoreErrorKind};
use crate::key::SessionKey;

/// Writers of one session serialize on one of this many lock files.
const STRIPES: usize = 64;

/// A store error for an I/O failure on `path`, keeping the cause.
pub fn io_error(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::with_source(
        StoreErrorKind::Unavailable,
        format!("{what} {}", path.display()),
        e,
    )
}

/// Runs blocking file work on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::with_source(StoreErrorKind::Other, "file store task failed", e))?
}

/// Replaces `dir/name` with `bytes` atomically: written (mode 0600) and synced to a new
/// temporary file `dir/<temp_prefix><random>`, then renamed over the target, so readers
/// see the old or the new file, never half of one.
pub fn write_atomically(
    dir: &Path,
    name: &str,
    temp_prefix: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{temp_prefix}{}", SessionKey::generate().as_str()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)?;
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

/// Exclusive cross-process locks per session key: `flock` on one of 64 lock files in a
/// directory, chosen by key. The lock files are never deleted, so nobody can lock a file
/// that another process is removing.
#[derive(Debug, Clone)]
pub struct StripeLocks {
    dir: PathBuf,
}

impl StripeLocks {
    /// Uses (creating it if needed) `dir` for the lock files.
    pub fn new(dir: PathBuf) -> Result<StripeLocks, StoreError> {
        StripeLocks::open(dir, Create::IfMissing)
    }

    /// Uses `dir` for the lock files: created now under [`Create::IfMissing`]; under
    /// [`Create::Never`] not now, only when a write first takes a lock (a store opened to
    /// read creates nothing).
    pub fn open(dir: PathBuf, create: Create) -> Result<StripeLocks, StoreError> {
        if create == Create::IfMissing {
            create_lock_dir(&dir)?;
        }
        Ok(StripeLocks { dir })
    }

    /// Runs `f` holding the key's lock (blocking: call from a blocking thread).
    pub fn with_lock<T>(
        &self,
        key: &SessionKey,
        f: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let stripe = key.as_str().bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % STRIPES;
        let path = self.dir.join(format!("{stripe:02}"));
        let open = || {
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .mode(0o600)
                .open(&path)
        };
        let lock = match open() {
            // The lock directory of a store opened with `Create::Never`, on its first write.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
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
