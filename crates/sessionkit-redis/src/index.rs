//! The per-user index: a set of session keys per user (see the crate docs for how it is
//! kept in Cluster, and what can go stale there).

use futures_util::stream::{self, StreamExt};
use redis::Value;
use sessionkit_core::{SessionInfo, SessionKey, StoreError, UserIndex};
use time::OffsetDateTime;

use crate::RedisStore;
use crate::codec::{decode_info, unix_micros};
use crate::conn::store_error;
use crate::listing::{CONCURRENCY, read_records};
use crate::scripts::SCRIPTS;

impl RedisStore {
    /// The members of a user's set: session keys, and names that are not (dropped).
    async fn members(&self, user_id: &str) -> Result<(Vec<SessionKey>, Vec<Vec<u8>>), StoreError> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(self.inner.layout.user(user_id));
        let raw: Vec<Vec<u8>> = match self.inner.conn.query(&cmd).await {
            Ok(raw) => raw,
            Err(e) if e.code() == Some("WRONGTYPE") => Vec::new(),
            Err(e) => return Err(store_error("SMEMBERS", e)),
        };
        let mut keys = Vec::with_capacity(raw.len());
        let mut junk = Vec::new();
        for m in raw {
            match std::str::from_utf8(&m).ok().and_then(SessionKey::parse) {
                Some(k) => keys.push(k),
                None => junk.push(m),
            }
        }
        Ok((keys, junk))
    }

    /// Removes members from a user's set; best effort (a stale member is harmless).
    async fn forget(&self, user_id: &str, members: impl IntoIterator<Item = Vec<u8>>) {
        let mut cmd = redis::cmd("SREM");
        cmd.arg(self.inner.layout.user(user_id));
        let mut any = false;
        for m in members {
            cmd.arg(m);
            any = true;
        }
        if any && let Err(e) = self.inner.conn.query::<Value>(&cmd).await {
            tracing::debug!(error = %e, "could not prune a user's index");
        }
    }
}

impl UserIndex for RedisStore {
    /// Reads the set and every member's record (either format); lists the live sessions that still belong to
    /// the user, in key order, and prunes members whose session is gone, retired or now
    /// another user's. (A member whose session exists but is expired at `now` is left:
    /// its TTL removes it, and another caller's `now` may differ.)
    async fn sessions_of(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        let (mut keys, junk) = self.members(user_id).await?;
        keys.sort_unstable();
        let records = read_records(self, &keys).await?;
        let now = unix_micros(now);
        let mut live = Vec::new();
        let mut stale = junk;
        for (key, raw) in keys.iter().zip(&records) {
            // Absent, retired, another user's, or a packed value that does not parse.
            let owned = match raw.fields() {
                Ok(Some(f)) if f.expires_at.is_some() && !f.retired => {
                    (f.user_id == Some(user_id.as_bytes())).then_some(f)
                }
                _ => None,
            };
            match owned {
                None => stale.push(key.as_bytes().to_vec()),
                Some(f) => live.extend(decode_info(*key, &f, now)),
            }
        }
        self.forget(user_id, stale).await;
        Ok(live)
    }

    /// Deletes each member except `keep` with a script that first checks the session
    /// still belongs to the user (so a stale member never logs out someone else), then
    /// removes the processed members from the set. Counts the sessions deleted.
    async fn revoke_user(
        &self,
        user_id: &str,
        keep: Option<&SessionKey>,
    ) -> Result<u64, StoreError> {
        let (keys, junk) = self.members(user_id).await?;
        let outcomes: Vec<(SessionKey, Result<(i64, Vec<Value>), StoreError>)> =
            stream::iter(keys.into_iter().filter(|k| Some(k) != keep))
                .map(|key| async move {
                    let r = self
                        .run(&SCRIPTS.revoke, &key, &[user_id.as_bytes()], true)
                        .await;
                    (key, r)
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        let mut revoked = 0u64;
        let mut done = junk;
        let mut first_error = None;
        for (key, r) in outcomes {
            match r {
                Ok((status, _)) => {
                    revoked += u64::from(status == 1);
                    done.push(key.as_bytes().to_vec());
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        // Standalone scripts already removed what they deleted; this also drops stale
        // members, and in Cluster everything processed.
        self.forget(user_id, done).await;
        match first_error {
            Some(e) => Err(e),
            None => Ok(revoked),
        }
    }
}
