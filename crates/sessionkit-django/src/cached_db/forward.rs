//! `cached_db_store!`: the `SessionStore` and `UserIndex` forwarding of the cache crates'
//! `cached_db` stores, written once.

/// Implements `SessionStore` and `UserIndex` for a cache crate's `cached_db` store
/// `$ty<S>`, forwarding every operation to its
/// [`CachedDb`](crate::cached_db::CachedDb) field `$rules`: the one forwarding both cache
/// crates use (`DjangoCachedDbStore`, `DjangoMemcachedCachedDbStore`), which differ only
/// in how they describe themselves (`|$this| $describe`).
#[doc(hidden)]
#[macro_export]
macro_rules! cached_db_store {
    ($ty:ident, $rules:ident, |$this:ident| $describe:expr) => {
        /// The operations are [`CachedDb`]'s
        /// (`sessionkit_django::cached_db::CachedDb`): `touch` moves the row's expiry and
        /// drops the cache entry; `clear_expired` is the database's cleanup, then the
        /// cache's sweep where the cache can enumerate its keys.
        impl<S: $crate::__core::SessionStore> $crate::__core::SessionStore for $ty<S> {
            async fn load(
                &self,
                key: &$crate::__core::SessionKey,
                now: $crate::__time::OffsetDateTime,
            ) -> Result<$crate::__core::Lookup, $crate::__core::StoreError> {
                self.$rules.load(key, now).await
            }

            async fn create(
                &self,
                key: &$crate::__core::SessionKey,
                record: &$crate::__core::Record,
                now: $crate::__time::OffsetDateTime,
            ) -> Result<$crate::__core::CreateOutcome, $crate::__core::StoreError> {
                self.$rules.create(key, record, now).await
            }

            async fn save(
                &self,
                key: &$crate::__core::SessionKey,
                record: &$crate::__core::Record,
                token: &$crate::__core::Token,
                now: $crate::__time::OffsetDateTime,
            ) -> Result<$crate::__core::SaveOutcome, $crate::__core::StoreError> {
                self.$rules.save(key, record, token, now).await
            }

            async fn delete(
                &self,
                key: &$crate::__core::SessionKey,
            ) -> Result<(), $crate::__core::StoreError> {
                self.$rules.delete(key).await
            }

            async fn touch(
                &self,
                key: &$crate::__core::SessionKey,
                expires_at: $crate::__time::OffsetDateTime,
                now: $crate::__time::OffsetDateTime,
            ) -> Result<bool, $crate::__core::StoreError> {
                self.$rules.touch(key, expires_at, now).await
            }

            async fn clear_expired_with_progress(
                &self,
                now: $crate::__time::OffsetDateTime,
                progress: &mut (dyn FnMut(u64) + Send),
            ) -> Result<u64, $crate::__core::StoreError> {
                self.$rules.clear_expired_with_progress(now, progress).await
            }

            async fn retire(
                &self,
                key: &$crate::__core::SessionKey,
                until: $crate::__time::OffsetDateTime,
            ) -> Result<(), $crate::__core::StoreError> {
                self.$rules.retire(key, until).await
            }

            fn describe(&self) -> String {
                let $this = self;
                $describe
            }

            fn listing(&self) -> Option<&dyn $crate::__core::DynSessionListing> {
                self.$rules.db().listing()
            }

            fn user_index(&self) -> Option<&dyn $crate::__core::DynUserIndex> {
                self.$rules
                    .has_user_index()
                    .then_some(self as &dyn $crate::__core::DynUserIndex)
            }

            fn leases(&self) -> Option<&dyn $crate::__core::DynLeaseStore> {
                self.$rules.db().leases()
            }
        }

        /// The database's index; revoking also removes Django's cached copies of the
        /// revoked sessions.
        impl<S: $crate::__core::SessionStore> $crate::__core::UserIndex for $ty<S> {
            async fn sessions_of(
                &self,
                user_id: &str,
                now: $crate::__time::OffsetDateTime,
            ) -> Result<Vec<$crate::__core::SessionInfo>, $crate::__core::StoreError> {
                self.$rules.sessions_of(user_id, now).await
            }

            async fn revoke_user(
                &self,
                user_id: &str,
                keep: Option<&$crate::__core::SessionKey>,
            ) -> Result<u64, $crate::__core::StoreError> {
                self.$rules.revoke_user(user_id, keep).await
            }
        }
    };
}
