//! Optional capabilities a store may offer beside the core contract: listing, the per-user
//! index, leases for lock mode across nodes. A store reports each through
//! [`SessionStore::listing`](super::SessionStore::listing) and its siblings.

use time::OffsetDateTime;

use super::{BoxFuture, Metadata, StoreError};
use crate::key::SessionKey;

/// One session as listings show it: no data, only what identifies and describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionInfo {
    /// The key (as stored: with keys hashed at rest, the hash).
    pub key: SessionKey,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// Created, last seen, user.
    pub meta: Metadata,
}

/// Optional capability: enumerate live sessions, in key order, a page at a time (for the
/// CLI's `list` and admin pages).
pub trait SessionListing: Send + Sync {
    /// Up to `limit` live sessions with keys greater than `after` (all keys when `None`),
    /// in ascending key order. Rotation markers are not listed.
    fn list<'a>(
        &'a self,
        now: OffsetDateTime,
        after: Option<&'a SessionKey>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>>;
}

/// Optional capability: the per-user index, maintained by the store on every write from the
/// record's [`Metadata::user_id`].
pub trait UserIndex: Send + Sync {
    /// The user's live sessions.
    fn sessions_of<'a>(
        &'a self,
        user_id: &'a str,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Vec<SessionInfo>, StoreError>>;

    /// Deletes all the user's sessions except `keep` (e.g. the current one); returns how
    /// many were deleted.
    fn revoke_user<'a>(
        &'a self,
        user_id: &'a str,
        keep: Option<&'a SessionKey>,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
}

/// Optional capability: short leases on a session key, for lock mode across nodes. A lease
/// expires by itself, so a crashed holder blocks the session for at most `ttl`.
pub trait LeaseStore: Send + Sync {
    /// Takes the lease on `key` for `owner` if nobody holds it; `true` when taken.
    fn try_acquire<'a>(
        &'a self,
        key: &'a SessionKey,
        owner: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Releases the lease if `owner` still holds it.
    fn release<'a>(
        &'a self,
        key: &'a SessionKey,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}
