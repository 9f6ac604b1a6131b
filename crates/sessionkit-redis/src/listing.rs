//! Whole-namespace work: listing and `clear_expired`, both by `SCAN` on every primary.

use sessionkit_core::store::Page;
use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use redis::Value;
use sessionkit_core::{SessionInfo, SessionKey, SessionListing, StoreError};
use time::OffsetDateTime;

use crate::RedisStore;
use crate::codec::{Raw, decode_info, unix_micros};
use crate::conn::reply_str;
use crate::scan::Scanner;
use crate::scripts::SCRIPTS;

/// Commands in flight at once for per-key work (hash reads, per-key scripts).
pub(crate) const CONCURRENCY: usize = 64;

/// The namespace's session keys, one `SCAN` page at a time, primary after primary. A
/// key may come twice.
async fn session_page(
    store: &RedisStore,
    scanner: &mut Scanner<'_>,
) -> Result<Option<Vec<SessionKey>>, StoreError> {
    let layout = &store.inner.layout;
    Ok(scanner.next_page().await?.map(|names| {
        names
            .iter()
            .filter_map(|n| layout.session_key_of(n))
            .collect()
    }))
}

/// Reads each session's record ([`RedisStore::read_raw`]: either format), concurrently,
/// in the order of `keys`.
pub(crate) async fn read_records(
    store: &RedisStore,
    keys: &[SessionKey],
) -> Result<Vec<Raw>, StoreError> {
    stream::iter(keys.iter().copied())
        .map(|key| async move { store.read_raw(&key).await })
        .buffered(CONCURRENCY)
        .try_collect()
        .await
}

/// Scans every key, keeps those after `after`, sorts them, then reads records in key
/// order until `limit` live sessions are found: the whole keyspace is scanned for every
/// page. Only metadata is decoded, so a session whose data is unreadable (which `load`
/// reports as missing) is still listed — the place to find it for inspection; a record
/// whose header or expiry does not parse is not.
impl SessionListing for RedisStore {
    async fn list(&self, page: Page<'_>) -> Result<Vec<SessionInfo>, StoreError> {
        let Page { now, after, limit } = page;
        let mut scanner =
            Scanner::new(&self.inner.conn, self.inner.layout.session_pattern()).await?;
        let mut keys = Vec::new();
        while let Some(page) = session_page(self, &mut scanner).await? {
            keys.extend(page.into_iter().filter(|k| after.is_none_or(|a| k > a)));
        }
        keys.sort_unstable();
        keys.dedup();
        let now = unix_micros(now);
        let mut out = Vec::with_capacity(limit.min(keys.len()));
        for chunk in keys.chunks(limit.clamp(16, 1000)) {
            if out.len() >= limit {
                break;
            }
            let records = read_records(self, chunk).await?;
            for (key, raw) in chunk.iter().zip(&records) {
                if out.len() < limit
                    && let Ok(Some(f)) = raw.fields()
                {
                    out.extend(decode_info(*key, &f, now));
                }
            }
        }
        Ok(out)
    }
}

/// `clear_expired`: scan, then per key an atomic check-and-delete (concurrently within a
/// page); only keys this call deleted count. `progress` gets the running total after
/// each page.
pub(crate) async fn clear_expired(
    store: &RedisStore,
    now: OffsetDateTime,
    mut progress: impl FnMut(u64),
) -> Result<u64, StoreError> {
    let now = crate::codec::Digits::int(unix_micros(now));
    let mut scanner = Scanner::new(&store.inner.conn, store.inner.layout.session_pattern()).await?;
    let mut total = 0u64;
    while let Some(keys) = session_page(store, &mut scanner).await? {
        let outcomes: Vec<(SessionKey, i64, Option<String>)> = stream::iter(keys)
            .map(|key| {
                let now = now.as_bytes();
                async move {
                    let (status, items) = store.run(&SCRIPTS.clear, &key, &[now], false).await?;
                    Ok::<_, StoreError>((key, status, reply_str(&items, 0)))
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        let mut by_user: BTreeMap<String, Vec<SessionKey>> = BTreeMap::new();
        for (key, status, user) in outcomes {
            if status == 1 {
                total += 1;
                if let Some(user) = user {
                    by_user.entry(user).or_default().push(key);
                }
            }
        }
        if store.is_cluster() {
            prune_user_sets(store, by_user).await;
        }
        progress(total);
    }
    Ok(total)
}

/// Cluster: the scripts could not touch the user sets, so drop the deleted sessions from
/// them, one `SREM` per user. Best effort: readers skip stale members anyway.
async fn prune_user_sets(store: &RedisStore, by_user: BTreeMap<String, Vec<SessionKey>>) {
    for (user, keys) in by_user {
        let mut cmd = redis::cmd("SREM");
        cmd.arg(store.inner.layout.user(&user));
        for k in &keys {
            cmd.arg(k.as_str());
        }
        if let Err(e) = store.inner.conn.query::<Value>(&cmd).await {
            tracing::debug!(error = %e, "could not prune a user's index after clear_expired");
        }
    }
}
