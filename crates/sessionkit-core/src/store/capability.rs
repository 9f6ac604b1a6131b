//! Optional capabilities a store may offer beside the core contract: listing, the per-user
//! index, leases for lock mode across nodes. A store reports each through
//! [`SessionStore::listing`](super::SessionStore::listing) and its siblings.
//!
//! Each capability comes in two shapes, like the contract itself (see `contract.rs`): the
//! trait a store implements with plain `async fn`s (`SessionListing`, `UserIndex`,
//! `LeaseStore`), and its object-safe form with boxed futures (`DynSessionListing`, ...),
//! implemented for every implementer, which is what `listing()`, `user_index()` and
//! `leases()` return — a capability is reached through a `dyn DynSessionStore`, so it must
//! be object-safe, but the boxing is written once, in the `store_contract!` macro, not in
//! every store. Callers through the object-safe form call the `_boxed` methods
//! (`list_boxed`, `sessions_of_boxed`, ...), as the engine calls `load_boxed`. A store
//! that implements a capability itself answers the query with
//! [`offers!`](crate::offers) (`sessionkit_core::offers!(listing, user_index);` inside its
//! `impl SessionStore`).

use time::OffsetDateTime;

use super::Metadata;
use super::contract::store_contract;
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

/// One page of a [`SessionListing`]: the sessions live at `now` whose keys come after
/// `after` (keyset pagination: pass the last key of a page to get the next), at most
/// `limit` of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page<'a> {
    /// The instant that decides which sessions are live.
    pub now: OffsetDateTime,
    /// List only keys greater than this one; `None`: from the first key.
    pub after: Option<&'a SessionKey>,
    /// At most this many sessions.
    pub limit: usize,
}

impl<'a> Page<'a> {
    /// The first `limit` sessions live at `now`.
    pub fn first(now: OffsetDateTime, limit: usize) -> Page<'a> {
        Page {
            now,
            after: None,
            limit,
        }
    }

    /// The next `limit` sessions live at `now` after the key `after`.
    pub fn after(now: OffsetDateTime, after: &'a SessionKey, limit: usize) -> Page<'a> {
        Page {
            now,
            after: Some(after),
            limit,
        }
    }
}

store_contract! {
    /// Optional capability: enumerate live sessions, in key order, a page at a time (for the
    /// CLI's `list` and admin pages).
    pub trait SessionListing {
        /// [`SessionStore::listing`](super::SessionStore::listing) returns it.
        dyn DynSessionListing;

        /// The [`Page`]: up to `page.limit` sessions live at `page.now` with keys greater
        /// than `page.after` (all keys when `None`), in ascending key order. Rotation
        /// markers are not listed.
        async fn list / list_boxed <'a>(&'a self, page: Page<'a>) -> Vec<SessionInfo>;
    }

    /// Optional capability: the per-user index, maintained by the store on every write
    /// from the record's [`Metadata::user_id`].
    pub trait UserIndex {
        /// [`SessionStore::user_index`](super::SessionStore::user_index) returns it.
        dyn DynUserIndex;

        /// The user's live sessions.
        async fn sessions_of / sessions_of_boxed <'a>(
            &'a self,
            user_id: &'a str,
            now: OffsetDateTime,
        ) -> Vec<SessionInfo>;

        /// Deletes all the user's sessions except `keep` (e.g. the current one); returns
        /// how many were deleted.
        async fn revoke_user / revoke_user_boxed <'a>(
            &'a self,
            user_id: &'a str,
            keep: Option<&'a SessionKey>,
        ) -> u64;
    }

    /// Optional capability: short leases on a session key, for lock mode across nodes. A
    /// lease expires by itself, so a crashed holder blocks the session for at most `ttl`.
    pub trait LeaseStore {
        /// [`SessionStore::leases`](super::SessionStore::leases) returns it; the engine
        /// calls it in lock mode only.
        dyn DynLeaseStore;

        /// Takes the lease on `key` for `owner` if nobody holds it; `true` when taken.
        async fn try_acquire / try_acquire_boxed <'a>(
            &'a self,
            key: &'a SessionKey,
            owner: &'a str,
            ttl: std::time::Duration,
        ) -> bool;

        /// Releases the lease if `owner` still holds it.
        async fn release / release_boxed <'a>(
            &'a self,
            key: &'a SessionKey,
            owner: &'a str,
        ) -> ();
    }
}
