//! What the two layouts do the same way, written once over [`Layout`]: locked
//! read-modify-write, delete, the expiry sweep, listing and the per-user scan.
//!
//! A layout says how to read one of its files and what the file means (live or expired,
//! whose session); the operations here walk the directory and take the locks.

use std::sync::Arc;

use sessionkit_core::store::SessionInfo;
use sessionkit_core::{SessionKey, StoreError};
use time::OffsetDateTime;

use crate::dir::{SessionDir, blocking};

/// A way of keeping sessions as files in a [`SessionDir`].
pub(crate) trait Layout: Send + Sync + 'static {
    /// A session file as read.
    type File: Send + 'static;

    /// The directory.
    fn dir(&self) -> &SessionDir;

    /// `key`'s file as read, or `None` when there is none or the layout cannot make sense
    /// of it (logged, left in place).
    fn read(&self, key: &SessionKey) -> Result<Option<Self::File>, StoreError>;

    /// The listing entry of a file holding a session that is live at `now`; `None` for an
    /// expired, retired or unreadable one.
    fn live_info(
        &self,
        key: SessionKey,
        file: &Self::File,
        now: OffsetDateTime,
    ) -> Option<SessionInfo>;

    /// Whether the file's session has expired at `now` (the sweep removes it). A layout
    /// answers false for a file it cannot tell about, to leave it for inspection.
    fn expired(&self, key: &SessionKey, file: &Self::File, now: OffsetDateTime) -> bool;

    /// The logged-in user of the file's session, live or not.
    fn user_id(&self, key: &SessionKey, file: &Self::File) -> Option<String>;
}

/// Reads `key`'s file on a blocking thread, without the lock (a file is replaced whole).
pub(crate) async fn read<L: Layout>(
    layout: &Arc<L>,
    key: &SessionKey,
) -> Result<Option<L::File>, StoreError> {
    let (layout, key) = (Arc::clone(layout), *key);
    blocking(move || layout.read(&key)).await
}

/// Runs `f` on a blocking thread while holding `key`'s write lock.
pub(crate) async fn locked<L: Layout, T: Send + 'static>(
    layout: &Arc<L>,
    key: SessionKey,
    f: impl FnOnce(&L, &SessionKey) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let layout = Arc::clone(layout);
    blocking(move || layout.dir().with_lock(&key, || f(&layout, &key))).await
}

/// Removes `key`'s file, if any.
pub(crate) async fn delete<L: Layout>(layout: &Arc<L>, key: &SessionKey) -> Result<(), StoreError> {
    locked(layout, *key, |l, key| l.dir().remove(key).map(|_| ())).await
}

/// Every key in the directory, read on a blocking thread.
async fn keys<L: Layout>(layout: &Arc<L>) -> Result<Vec<SessionKey>, StoreError> {
    let layout = Arc::clone(layout);
    blocking(move || layout.dir().keys()).await
}

/// Removes, one by one under its lock, each file for which `doomed` holds when it is
/// read again under the lock (so a concurrent cleaner or writer wins cleanly); how many.
async fn remove_where<L: Layout>(
    layout: &Arc<L>,
    keys: Vec<SessionKey>,
    doomed: impl Fn(&L, &SessionKey, &L::File) -> bool + Clone + Send + 'static,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for key in keys {
        let doomed = doomed.clone();
        let gone = locked(layout, key, move |l, key| match l.read(key)? {
            Some(file) if doomed(l, key, &file) => l.dir().remove(key),
            _ => Ok(false),
        })
        .await?;
        removed += u64::from(gone);
    }
    Ok(removed)
}

/// `clear_expired_with_progress`: removes the expired files.
pub(crate) async fn clear_expired<L: Layout>(
    layout: &Arc<L>,
    now: OffsetDateTime,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<u64, StoreError> {
    let keys = keys(layout).await?;
    let removed = remove_where(layout, keys, move |l, key, file| l.expired(key, file, now)).await?;
    progress(removed);
    Ok(removed)
}

/// The live sessions for which `keep` holds, in key order (reads every file: fine for an
/// admin tool).
fn live_infos<L: Layout>(
    layout: &L,
    now: OffsetDateTime,
    keep: impl Fn(&SessionInfo) -> bool,
) -> Result<Vec<SessionInfo>, StoreError> {
    let mut out = Vec::new();
    for key in layout.dir().keys()? {
        let Some(file) = layout.read(&key)? else {
            continue;
        };
        if let Some(info) = layout.live_info(key, &file, now).filter(|i| keep(i)) {
            out.push(info);
        }
    }
    Ok(out)
}

/// `SessionListing::list`.
pub(crate) async fn list<L: Layout>(
    layout: &Arc<L>,
    now: OffsetDateTime,
    after: Option<&SessionKey>,
    limit: usize,
) -> Result<Vec<SessionInfo>, StoreError> {
    let layout = Arc::clone(layout);
    let after = after.copied();
    blocking(move || {
        let mut all = live_infos(&*layout, now, |i| after.is_none_or(|a| i.key > a))?;
        all.truncate(limit);
        Ok(all)
    })
    .await
}

/// `UserIndex::sessions_of`: a scan of every file.
pub(crate) async fn sessions_of<L: Layout>(
    layout: &Arc<L>,
    user_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<SessionInfo>, StoreError> {
    let layout = Arc::clone(layout);
    let user = user_id.to_owned();
    blocking(move || {
        live_infos(&*layout, now, |i| {
            i.meta.user_id.as_deref() == Some(user.as_str())
        })
    })
    .await
}

/// `UserIndex::revoke_user`: removes the user's sessions (but `keep`).
pub(crate) async fn revoke_user<L: Layout>(
    layout: &Arc<L>,
    user_id: &str,
    keep: Option<&SessionKey>,
) -> Result<u64, StoreError> {
    let keys = keys(layout).await?;
    let keys = keys.into_iter().filter(|k| Some(k) != keep).collect();
    let user = user_id.to_owned();
    remove_where(layout, keys, move |l, key, file| {
        l.user_id(key, file).as_deref() == Some(user.as_str())
    })
    .await
}

/// Listing and the per-user index of a file store over `self.inner` (an `Arc` of its
/// [`Layout`]): the same for both layouts.
macro_rules! listing_and_user_index {
    ($store:ty) => {
        impl ::sessionkit_core::store::SessionListing for $store {
            async fn list(
                &self,
                page: ::sessionkit_core::store::Page<'_>,
            ) -> Result<Vec<::sessionkit_core::store::SessionInfo>, ::sessionkit_core::StoreError>
            {
                let ::sessionkit_core::store::Page { now, after, limit } = page;
                $crate::layout::list(&self.inner, now, after, limit).await
            }
        }

        impl ::sessionkit_core::store::UserIndex for $store {
            async fn sessions_of(
                &self,
                user_id: &str,
                now: ::time::OffsetDateTime,
            ) -> Result<Vec<::sessionkit_core::store::SessionInfo>, ::sessionkit_core::StoreError>
            {
                $crate::layout::sessions_of(&self.inner, user_id, now).await
            }

            async fn revoke_user(
                &self,
                user_id: &str,
                keep: Option<&::sessionkit_core::SessionKey>,
            ) -> Result<u64, ::sessionkit_core::StoreError> {
                $crate::layout::revoke_user(&self.inner, user_id, keep).await
            }
        }
    };
}
pub(crate) use listing_and_user_index;
