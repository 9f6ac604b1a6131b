//! The per-user session limit ([`Config::max_sessions_per_user`](crate::Config::max_sessions_per_user)):
//! after a login is stored, the user's sessions beyond the limit — the least recently used
//! first, never the one that just logged in — are revoked (event `revoked`, cause `cap`).
//!
//! Each login trims after its own write, reading the per-user index then. Of logins that
//! run at once (on one node or several), the one that reads the index last sees every
//! session written before its read, its own included, so the user is back within the
//! limit when the last concurrent login finishes; sessions created meanwhile are the
//! concurrent window. A failure to trim is logged: the login itself stands, and the next
//! login trims again.

use time::OffsetDateTime;

use super::Engine;
use crate::events::RevokeCause;
use crate::key::SessionKey;
use crate::store::SessionInfo;

impl Engine {
    /// Trims `user`'s sessions to the limit after `current` (the client key) logged in.
    pub(super) async fn enforce_session_limit(&self, user: &str, current: &SessionKey) {
        let Some(limit) = self.config().max_sessions_per_user() else {
            return;
        };
        let Some(index) = self.store().and_then(|s| s.user_index_dyn()) else {
            return;
        };
        let current = self.at_rest(current);
        let now = self.clock().now();
        let mut others = match index.sessions_of_boxed(user, now).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e.report(), "could not read the user's sessions to apply the per-user limit; the next login applies it");
                return;
            }
        };
        others.retain(|info| info.key != current);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        // The session that just logged in counts too.
        let excess = (others.len() + 1).saturating_sub(limit);
        if excess == 0 {
            return;
        }
        others.sort_by_key(last_used);
        for info in others.iter().take(excess) {
            if let Err(e) = self.revoke_listed(info, RevokeCause::Cap).await {
                tracing::warn!(key = %info.key.fingerprint(), error = %e.report(), "could not revoke a session beyond the per-user limit; the next login tries again");
            }
        }
    }
}

/// When a listed session was last used, as well as its layout tells: its last-seen time,
/// else its creation, else its expiry (Django's layouts recompute `expire_date` at every
/// save).
fn last_used(info: &SessionInfo) -> OffsetDateTime {
    info.meta
        .last_seen
        .or(info.meta.created_at)
        .unwrap_or(info.expires_at)
}
