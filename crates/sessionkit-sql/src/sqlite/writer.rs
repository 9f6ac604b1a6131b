//! The writer thread: one connection, group commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rusqlite::{Connection, OptionalExtension, params};
use sessionkit_core::{Record, SessionKey, StoreError, StoreErrorKind};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::native::unix_micros;
use super::schema::Sql;
use super::sql_error;
use crate::shared::ClientColumns;

/// At most this many writes share one transaction.
const MAX_BATCH: usize = 512;

/// A row's columns other than the key and version.
pub(crate) struct Row {
    data: String,
    expires_at: i64,
    created_at: i64,
    last_seen: i64,
    user_id: Option<String>,
    client: ClientColumns,
}

impl Row {
    pub(crate) fn from_record(r: &Record, now: OffsetDateTime) -> Row {
        Row {
            data: r.data.to_json(),
            expires_at: unix_micros(r.expires_at),
            created_at: unix_micros(r.meta.created_at.unwrap_or(now)),
            last_seen: unix_micros(r.meta.last_seen.unwrap_or(now)),
            user_id: r.meta.user_id.clone(),
            client: ClientColumns::of(&r.meta),
        }
    }
}

pub(crate) enum Write {
    Create {
        key: SessionKey,
        row: Row,
        now: i64,
    },
    Save {
        key: SessionKey,
        row: Row,
        version: i64,
        now: i64,
    },
    Delete {
        key: SessionKey,
    },
    Touch {
        key: SessionKey,
        expires_at: i64,
        now: i64,
    },
    Retire {
        key: SessionKey,
        until: i64,
    },
    ClearExpired {
        now: i64,
        limit: i64,
    },
    RevokeUser {
        user_id: String,
        keep: Option<SessionKey>,
    },
}

#[derive(Debug)]
pub(crate) enum Reply {
    /// The row's new version.
    Version(u64),
    /// Rows changed.
    Changed(u64),
    /// Create: a live row has the key.
    Collision,
    /// Save: the version moved on.
    Conflict,
    /// Save: no live row.
    Missing,
}

type Job = (Write, oneshot::Sender<Result<Reply, StoreError>>);

/// Counters of the writer's batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions committed.
    pub batches: u64,
    /// Writes committed.
    pub writes: u64,
    /// The largest number of writes in one transaction.
    pub max_batch: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    writes: AtomicU64,
    max_batch: AtomicU64,
}

pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    counters: Arc<Counters>,
}

impl Writer {
    pub(crate) fn spawn(
        conn: Connection,
        sql: Arc<Sql>,
        path: PathBuf,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel::<Job>();
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        std::thread::Builder::new()
            .name("sessionkit-sqlite-writer".into())
            .spawn(move || run(conn, &sql, &rx, &c, &path))
            .map_err(|e| {
                StoreError::with_source(
                    StoreErrorKind::Other,
                    "cannot start the SQLite writer thread",
                    e,
                )
            })?;
        Ok(Writer { tx, counters })
    }

    pub(crate) async fn send(&self, w: Write) -> Result<Reply, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((w, tx)).map_err(|_| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "the SQLite writer thread has stopped",
            )
        })?;
        rx.await.map_err(|_| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                "the SQLite writer thread has stopped",
            )
        })?
    }

    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            max_batch: self.counters.max_batch.load(Ordering::Relaxed),
        }
    }
}

fn run(conn: Connection, sql: &Sql, rx: &mpsc::Receiver<Job>, counters: &Counters, path: &Path) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    // Blocks until the first write arrives; ends when every store handle is gone.
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit(&conn, sql, &mut batch, counters, path);
    }
}

fn commit(conn: &Connection, sql: &Sql, batch: &mut Vec<Job>, counters: &Counters, path: &Path) {
    let name = path.display();
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let err = sql_error(path, "begin", e);
        tracing::error!(db = %name, error = %err.report(), "SQLite write transaction could not start");
        for (_, reply) in batch.drain(..) {
            let _ = reply.send(Err(StoreError::new(err.kind(), err.detail())));
        }
        return;
    }
    let mut results = Vec::with_capacity(batch.len());
    for (w, _) in batch.iter() {
        results.push(apply(conn, sql, w, path));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            let n = batch.len() as u64;
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.writes.fetch_add(n, Ordering::Relaxed);
            counters.max_batch.fetch_max(n, Ordering::Relaxed);
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            // Nothing of this batch is stored (disk full, I/O error): every caller
            // learns it; none is told its write succeeded.
            let _ = conn.execute_batch("ROLLBACK");
            let err = sql_error(path, "commit", e);
            tracing::error!(db = %name, error = %err.report(), "SQLite write transaction failed");
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(StoreError::new(err.kind(), err.detail())));
            }
        }
    }
}

/// Runs a `create` or `save` statement (cached): the row's new version, `None` when it
/// wrote nothing.
fn new_version(
    conn: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(sql)?
        .query_row(params, |r| r.get(0))
        .optional()
}

fn apply(conn: &Connection, sql: &Sql, w: &Write, path: &Path) -> Result<Reply, StoreError> {
    let e = |what: &'static str| move |err: rusqlite::Error| sql_error(path, what, err);
    match w {
        Write::Create { key, row, now } => {
            let v = new_version(
                conn,
                &sql.create,
                params![
                    key.as_str(),
                    row.data,
                    row.expires_at,
                    row.created_at,
                    row.last_seen,
                    row.user_id,
                    now,
                    row.client.ip,
                    row.client.user_agent,
                    row.client.device
                ],
            )
            .map_err(e("create"))?;
            Ok(v.map_or(Reply::Collision, |v| Reply::Version(v as u64)))
        }
        Write::Save {
            key,
            row,
            version,
            now,
        } => {
            let v = new_version(
                conn,
                &sql.save,
                params![
                    key.as_str(),
                    row.data,
                    row.expires_at,
                    row.last_seen,
                    row.user_id,
                    version,
                    now,
                    row.client.ip,
                    row.client.user_agent,
                    row.client.device
                ],
            )
            .map_err(e("save"))?;
            if let Some(v) = v {
                return Ok(Reply::Version(v as u64));
            }
            let mut stmt = conn.prepare_cached(&sql.state).map_err(e("save"))?;
            let live = stmt
                .query_row(params![key.as_str(), now], |_| Ok(()))
                .optional()
                .map_err(e("save"))?;
            Ok(if live.is_some() {
                Reply::Conflict
            } else {
                Reply::Missing
            })
        }
        Write::Delete { key } => {
            let mut stmt = conn.prepare_cached(&sql.delete).map_err(e("delete"))?;
            let n = stmt.execute(params![key.as_str()]).map_err(e("delete"))?;
            Ok(Reply::Changed(n as u64))
        }
        Write::Touch {
            key,
            expires_at,
            now,
        } => {
            let mut stmt = conn.prepare_cached(&sql.touch).map_err(e("touch"))?;
            let n = stmt
                .execute(params![key.as_str(), expires_at, now])
                .map_err(e("touch"))?;
            Ok(Reply::Changed(n as u64))
        }
        Write::Retire { key, until } => {
            let mut stmt = conn.prepare_cached(&sql.retire).map_err(e("retire"))?;
            let n = stmt
                .execute(params![key.as_str(), until])
                .map_err(e("retire"))?;
            Ok(Reply::Changed(n as u64))
        }
        Write::RevokeUser { user_id, keep } => {
            let mut stmt = conn.prepare_cached(&sql.revoke).map_err(e("revoke"))?;
            let keep = keep.as_ref().map_or("", SessionKey::as_str);
            let n = stmt.execute(params![user_id, keep]).map_err(e("revoke"))?;
            Ok(Reply::Changed(n as u64))
        }
        Write::ClearExpired { now, limit } => {
            let mut stmt = conn
                .prepare_cached(&sql.clear)
                .map_err(e("clear_expired"))?;
            let n = stmt
                .execute(params![now, limit])
                .map_err(e("clear_expired"))?;
            Ok(Reply::Changed(n as u64))
        }
    }
}
