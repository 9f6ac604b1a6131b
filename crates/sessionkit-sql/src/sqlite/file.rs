//! The database file: opening it (creating it only when allowed) and turning SQLite's
//! errors into messages that name the path, the cause and what to do. Both layouts
//! ([`SqliteStore`](super::SqliteStore) and the Django layout's `DjangoSqliteStore`) open
//! their files and map their errors here.
//!
//! SQLite reports most file problems as "unable to open database file" (`SQLITE_CANTOPEN`)
//! or "attempt to write a readonly database" (`SQLITE_READONLY`) without the operating
//! system's reason; [`error`] asks the file system the same question (without creating
//! anything on a store that must not be created) to tell a missing directory, a permission
//! problem and a read-only file system apart.

use std::fs;
use std::io;
use std::path::Path;

use rusqlite::{Connection, ErrorCode, OpenFlags};
use sessionkit_core::store::Create;
use sessionkit_core::{StoreError, StoreErrorKind};

/// Opens the database file at `path` for reading and writing. Under [`Create::Never`] a
/// missing file is an error that names it, and SQLite is not allowed to create it; under
/// [`Create::IfMissing`] SQLite creates it. A missing directory is an error either way
/// (it is never created).
pub(crate) fn open(path: &Path, create: Create) -> Result<Connection, StoreError> {
    open_with(path, create, false)
}

/// Opens an existing database file read-only (a reader connection).
pub(crate) fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    open_with(path, Create::Never, true)
}

fn open_with(path: &Path, create: Create, read_only: bool) -> Result<Connection, StoreError> {
    if let Some(message) = missing(path, create) {
        return Err(StoreError::new(StoreErrorKind::Config, message));
    }
    let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if read_only {
        flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
    } else {
        flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
        if create == Create::IfMissing {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
    }
    Connection::open_with_flags(path, flags).map_err(|e| error(path, "open", e))
}

/// What is missing before SQLite is asked: the directory (never created), or the file
/// itself when it must not be created.
fn missing(path: &Path, create: Create) -> Option<String> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            return Some(format!(
                "cannot open SQLite database {shown}: directory {} does not exist: create it, or correct the path",
                dir.display()
            ));
        }
        if !dir.is_dir() {
            return Some(format!(
                "cannot open SQLite database {shown}: {} is not a directory: correct the path",
                dir.display()
            ));
        }
    }
    if path.is_dir() {
        return Some(format!(
            "cannot open SQLite database {shown}: it is a directory: name the database file"
        ));
    }
    if create == Create::Never && !path.exists() {
        return Some(format!(
            "SQLite database {shown} does not exist (and was not created: this store was opened to use an existing database): check the path"
        ));
    }
    None
}

/// An SQLite error on the database at `path` during `what`, as a [`StoreError`] keeping
/// SQLite's error as its source. File problems name the path, the cause and what to do:
///
/// | SQLite says | cause named | kind |
/// | --- | --- | --- |
/// | `SQLITE_CANTOPEN` | directory missing, permission denied, read-only file system, a directory in the file's place | `Config` |
/// | `SQLITE_READONLY` | permission denied, read-only file system, else the file or its directory not writable | `Config` |
/// | `SQLITE_BUSY`, `SQLITE_LOCKED` | locked by another process or connection | `Unavailable` |
/// | `SQLITE_NOTADB` | not an SQLite database | `Config` |
/// | `SQLITE_CORRUPT` | the file is damaged | `Config` |
/// | `SQLITE_FULL` | the disk is full | `Unavailable` |
///
/// Anything else is `Unavailable` with SQLite's message.
pub(crate) fn error(path: &Path, what: &str, e: rusqlite::Error) -> StoreError {
    let Some(code) = e.sqlite_error_code() else {
        return StoreError::with_source(
            StoreErrorKind::Unavailable,
            format!("sqlite {what} failed on {}", path.display()),
            e,
        );
    };
    let probe = match code {
        ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied => {
            Some(probe_write(path))
        }
        _ => None,
    };
    match explain(code, path, probe) {
        Some((kind, message)) => {
            StoreError::with_source(kind, format!("sqlite {what} failed: {message}"), e)
        }
        None => StoreError::with_source(
            StoreErrorKind::Unavailable,
            format!("sqlite {what} failed on {}", path.display()),
            e,
        ),
    }
}

/// What the operating system says about writing `path`: opening the file for writing if
/// it exists (nothing is created), else `Ok` when its directory exists (the cause is
/// then not found this way).
fn probe_write(path: &Path) -> io::Result<()> {
    if path.exists() {
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map(drop)
    } else {
        match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) if !dir.is_dir() => Err(io::Error::from(io::ErrorKind::NotFound)),
            _ => Ok(()),
        }
    }
}

/// The cause of an SQLite error `code` on `path` and what to do, given what the file
/// system said when asked to write the file (`probe`; `None` when not asked). `None`
/// when the code is not about the file.
fn explain(
    code: ErrorCode,
    path: &Path,
    probe: Option<io::Result<()>>,
) -> Option<(StoreErrorKind, String)> {
    use StoreErrorKind::{Config, Unavailable};
    let shown = path.display();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let os_cause = |probe: &Option<io::Result<()>>| match probe {
        // EPERM, not EACCES: no mode or owner change helps.
        Some(Err(e)) if e.raw_os_error() == Some(EPERM) => Some(format!(
            "the operating system does not permit writing {shown} (operation not permitted: an immutable or append-only attribute, see `lsattr {shown}`; `chattr -i` clears it)"
        )),
        Some(Err(e)) if e.kind() == io::ErrorKind::PermissionDenied => Some(format!(
            "permission denied: this process (user id {}) may not read and write {shown}; give it access to the file and to its directory {} (chown or chmod), or run as their owner",
            current_uid(),
            dir.display()
        )),
        Some(Err(e)) if e.kind() == io::ErrorKind::ReadOnlyFilesystem => Some(format!(
            "{shown} is on a read-only file system: put the database on a writable file system, or remount it read-write"
        )),
        Some(Err(e)) if e.kind() == io::ErrorKind::NotFound => missing(path, Create::Never),
        _ => None,
    };
    Some(match code {
        ErrorCode::CannotOpen | ErrorCode::PermissionDenied => (
            Config,
            os_cause(&probe)
                .or_else(|| missing(path, Create::Never))
                .unwrap_or_else(|| format!(
                    "cannot open SQLite database {shown}: check that this process may read and write the file and its directory {} (SQLite creates {shown}-wal and {shown}-shm beside it)",
                    dir.display()
                )),
        ),
        ErrorCode::ReadOnly => (
            Config,
            os_cause(&probe).unwrap_or_else(|| format!(
                "SQLite database {shown} is read-only for this process: it needs write access to the file and to its directory {} (SQLite creates {shown}-wal and {shown}-shm beside it), on a file system mounted read-write",
                dir.display()
            )),
        ),
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => (
            Unavailable,
            format!(
                "SQLite database {shown} is locked by another process or connection (it held its lock for longer than the busy timeout): retry once it is done, or find what holds it (e.g. `fuser {shown}`)"
            ),
        ),
        ErrorCode::NotADatabase => (
            Config,
            format!(
                "{shown} is not an SQLite database (a file of another kind, or an encrypted one): check the path"
            ),
        ),
        ErrorCode::DatabaseCorrupt => (
            Config,
            format!(
                "SQLite database {shown} is damaged: restore it from a backup (`sqlite3 {shown} .recover` may save its rows)"
            ),
        ),
        ErrorCode::DiskFull => (
            Unavailable,
            format!("the disk holding SQLite database {shown} is full: free some space"),
        ),
        _ => return None,
    })
}

/// "Operation not permitted" (Linux's `EPERM`).
const EPERM: i32 = 1;

/// The real user id, for messages (from `/proc/self`, without a C library binding).
fn current_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self")
        .map(|m| m.uid().to_string())
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(code: ErrorCode, path: &Path, probe: Option<io::Result<()>>) -> String {
        explain(code, path, probe).expect("a file cause").1
    }

    /// The mapping itself, for the causes a test running as root cannot produce on a real
    /// file: root ignores permissions, and no read-only file system is mounted. The
    /// operating system's answer is passed in as the probe would receive it.
    #[test]
    fn causes_the_operating_system_names() {
        let path = Path::new("/srv/app/sessions.sqlite3");
        let denied = cause(
            ErrorCode::CannotOpen,
            path,
            Some(Err(io::ErrorKind::PermissionDenied.into())),
        );
        assert!(denied.contains("permission denied"), "{denied}");
        assert!(denied.contains("/srv/app/sessions.sqlite3"), "{denied}");
        assert!(denied.contains("chmod"), "{denied}");
        let immutable = cause(
            ErrorCode::ReadOnly,
            path,
            Some(Err(io::Error::from_raw_os_error(EPERM))),
        );
        assert!(immutable.contains("chattr -i"), "{immutable}");
        let rofs = cause(
            ErrorCode::ReadOnly,
            path,
            Some(Err(io::ErrorKind::ReadOnlyFilesystem.into())),
        );
        assert!(rofs.contains("read-only file system"), "{rofs}");
        assert!(rofs.contains("/srv/app/sessions.sqlite3"), "{rofs}");
        assert!(rofs.contains("remount"), "{rofs}");
        let busy = cause(ErrorCode::DatabaseBusy, path, None);
        assert!(busy.contains("locked by another process"), "{busy}");
        assert!(explain(ErrorCode::ConstraintViolation, path, None).is_none());
    }

    /// A directory that is missing: found before SQLite is asked, and named.
    #[test]
    fn a_missing_directory_is_named_and_nothing_is_created() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("nope").join("s.sqlite3");
        for create in [Create::IfMissing, Create::Never] {
            let err = open(&path, create).unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Config);
            let msg = err.report();
            assert!(
                msg.contains(&format!(
                    "directory {} does not exist",
                    path.parent().unwrap().display()
                )),
                "{msg}"
            );
            assert!(!tmp.path().join("nope").exists());
        }
    }

    /// A missing file under `Create::Never` is named and not created; under `IfMissing`
    /// SQLite creates it.
    #[test]
    fn a_missing_file_is_created_only_when_allowed() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.sqlite3");
        let err = open(&path, Create::Never).unwrap_err();
        assert!(err.report().contains("does not exist"), "{}", err.report());
        assert!(err.report().contains(&path.display().to_string()));
        assert!(!path.exists());
        drop(open(&path, Create::IfMissing).unwrap());
        assert!(path.exists());
    }

    /// A file that is not SQLite: a real file, a real SQLite error.
    #[test]
    fn a_file_that_is_not_sqlite() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("notes.txt");
        fs::write(
            &path,
            "this is not a database, just some text that is long enough ".repeat(20),
        )
        .unwrap();
        let conn = open(&path, Create::Never).unwrap();
        let e = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_err();
        let err = error(&path, "schema check", e);
        assert_eq!(err.kind(), StoreErrorKind::Config);
        let msg = err.report();
        assert!(msg.contains("is not an SQLite database"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }

    /// A database locked by an exclusive transaction on another connection: a real lock,
    /// a real `SQLITE_BUSY` (the second connection waits 0 s instead of the stores' 5 s).
    #[test]
    fn a_database_locked_by_another_connection() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.sqlite3");
        let holder = open(&path, Create::IfMissing).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);")
            .unwrap();
        let other = open(&path, Create::Never).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        let e = other.execute_batch("BEGIN IMMEDIATE").unwrap_err();
        let err = error(&path, "begin", e);
        assert_eq!(err.kind(), StoreErrorKind::Unavailable);
        let msg = err.report();
        assert!(msg.contains("locked by another process"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        holder.execute_batch("ROLLBACK").unwrap();
    }

    /// A write through a read-only connection: a real `SQLITE_READONLY`. The file itself
    /// is writable (root), so the message gives the general cause and the remedy.
    #[test]
    fn a_write_to_a_read_only_database() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.sqlite3");
        open(&path, Create::IfMissing)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let ro = open_read_only(&path).unwrap();
        let e = ro.execute_batch("INSERT INTO t VALUES (1)").unwrap_err();
        let err = error(&path, "save", e);
        assert_eq!(err.kind(), StoreErrorKind::Config);
        let msg = err.report();
        assert!(msg.contains("is read-only for this process"), "{msg}");
        assert!(msg.contains("write access"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
}
