//! [`SessionStore`], its object-safe form [`DynSessionStore`] and [`BoxStore`] — written
//! once.
//!
//! The three must list the same operations: the engine calls stores through
//! `dyn DynSessionStore` (a store chosen at run time from a URL is the common case), every
//! `SessionStore` is a `DynSessionStore`, and a `BoxStore` is a `SessionStore` again (so a
//! boxed store can go wherever a store can, e.g. inside a `CachedStore`). Writing them by
//! hand meant three copies of the method list that had to agree; a forgotten forward in
//! `BoxStore` would have silently lost an override (say, a store's rotation markers). So the
//! list lives once, in the `store_contract!` invocation below, and the macro writes all
//! three from it.
//!
//! The optional capabilities ([`SessionListing`](super::SessionListing),
//! [`UserIndex`](super::UserIndex), [`LeaseStore`](super::LeaseStore)) have the same two
//! shapes for the same reasons — implementers write plain `async fn`s, and
//! [`SessionStore::listing`] and its siblings hand out the object-safe form — so they are
//! declared with the same macro (in `capability.rs`) rather than each implementer writing
//! `fn x<'a>(..) -> BoxFuture<'a, ..> { Box::pin(async move { .. }) }` by hand.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::{any, fmt};

use time::OffsetDateTime;

use super::{
    CreateOutcome, DynLeaseStore, DynSessionListing, DynUserIndex, Lookup, Record, SaveOutcome,
    Token,
};
use crate::key::SessionKey;

/// A boxed future, as the object-safe [`DynSessionStore`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Writes a store trait, its object-safe form and the blanket impl between them from one
/// list of operations; for [`SessionStore`] also `impl SessionStore for BoxStore`.
///
/// Each async operation is written once, as `async fn name / name_boxed <'a>(&'a self,
/// args) -> T;` or, with a default body, `... -> T => { body };`: the trait's `name`
/// returns `impl Future<Output = Result<T, StoreError>> + Send + 'a` (implementations
/// write a plain `async fn`), the object-safe form's `name_boxed` the same future boxed.
/// [`SessionStore`] also has synchronous capability queries, each written once as `fn name
/// / name_dyn(&self) -> T => { default };`.
///
/// Two entry forms: `pub trait SessionStore { operations {..} capabilities {..} }` (the
/// contract, below), and any number of `pub trait Name { dyn DynName; operations }` (the
/// optional capabilities in `capability.rs`, which have no synchronous queries and no
/// boxed wrapper; the attributes before `dyn` are the object-safe form's extra docs).
/// Both go through the `@pair` rule (the one place the grammar is parsed), so the two
/// shapes cannot drift apart; `BoxStore`'s impl is written from what `@pair` parsed.
macro_rules! store_contract {
    (@async $(#[$meta:meta])* fn $name:ident(&'a $self:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty;) => {
        $(#[$meta])*
        fn $name<'a>(&'a $self $(, $arg: $ty)*)
            -> impl ::std::future::Future<Output = Result<$ret, $crate::store::StoreError>> + Send + 'a;
    };
    (@async $(#[$meta:meta])* fn $name:ident(&'a $self:ident $(, $arg:ident: $ty:ty)*) -> $ret:ty; $body:block) => {
        $(#[$meta])*
        fn $name<'a>(&'a $self $(, $arg: $ty)*)
            -> impl ::std::future::Future<Output = Result<$ret, $crate::store::StoreError>> + Send + 'a {
            async move $body
        }
    };
    // One trait, its object-safe form, and `impl<S: Trait> DynTrait for S`; then the
    // `@then` rule named by `then [..]` (nothing, or `boxed BoxStore`) with the parsed list.
    (@pair
        [$(#[$trait_meta:meta])*] [$(#[$dyn_meta:meta])*]
        $trait:ident / $dyn:ident [$($bound:tt)+] then [$($then:tt)*]
        operations {$(
            $(#[$meta:meta])*
            async fn $name:ident / $boxed:ident <'a>(&'a $self:ident $(, $arg:ident: $ty:ty)* $(,)?)
                -> $ret:ty $(=> $body:block)?;
        )*}
        capabilities {$(
            $(#[$cap_meta:meta])*
            fn $cap:ident / $cap_dyn:ident(&$cap_self:ident) -> $cap_ret:ty => $cap_body:block;
        )*}
    ) => {
        $(#[$trait_meta])*
        pub trait $trait: $($bound)+ {
            $(
                store_contract!(@async $(#[$meta])* fn $name(&'a $self $(, $arg: $ty)*) -> $ret; $($body)?);
            )*
            $(
                $(#[$cap_meta])*
                fn $cap(&$cap_self) -> $cap_ret $cap_body
            )*
        }

        #[doc = concat!(
            "The object-safe form of [`", stringify!($trait), "`], implemented for every `",
            stringify!($trait), "`: the same operations, each returning a boxed future."
        )]
        $(#[$dyn_meta])*
        pub trait $dyn: $($bound)+ {
            $(
                #[doc = concat!("[`", stringify!($trait), "::", stringify!($name), "`], boxed.")]
                fn $boxed<'a>(&'a self $(, $arg: $ty)*)
                    -> $crate::store::BoxFuture<'a, Result<$ret, $crate::store::StoreError>>;
            )*
            $(
                #[doc = concat!("[`", stringify!($trait), "::", stringify!($cap), "`].")]
                fn $cap_dyn(&self) -> $cap_ret;
            )*
        }

        impl<S: $trait> $dyn for S {
            $(
                fn $boxed<'a>(&'a self $(, $arg: $ty)*)
                    -> $crate::store::BoxFuture<'a, Result<$ret, $crate::store::StoreError>> {
                    Box::pin(self.$name($($arg),*))
                }
            )*
            $(
                fn $cap_dyn(&self) -> $cap_ret {
                    self.$cap()
                }
            )*
        }

        store_contract!(@then $($then)* $trait
            [$($name / $boxed ($($arg: $ty),*) -> $ret;)*]
            [$($cap / $cap_dyn -> $cap_ret;)*]
        );
    };
    // `impl SessionStore for BoxStore`: every operation forwarded to the boxed store.
    (@then boxed $box:ident $trait:ident
        [$($name:ident / $boxed:ident ($($arg:ident: $ty:ty),*) -> $ret:ty;)*]
        [$($cap:ident / $cap_dyn:ident -> $cap_ret:ty;)*]
    ) => {
        impl $trait for $box {
            $(
                fn $name<'a>(&'a self $(, $arg: $ty)*)
                    -> impl ::std::future::Future<Output = Result<$ret, $crate::store::StoreError>> + Send + 'a {
                    self.0.$boxed($($arg),*)
                }
            )*
            $(
                fn $cap(&self) -> $cap_ret {
                    self.0.$cap_dyn()
                }
            )*
        }
    };
    // No `then`: nothing more.
    (@then $trait:ident $($rest:tt)*) => {};
    (
        $(#[$trait_meta:meta])*
        pub trait SessionStore {
            operations { $($ops:tt)* }
            capabilities { $($caps:tt)* }
        }
    ) => {
        store_contract!(@pair
            [$(#[$trait_meta])*]
            [#[doc = ""] #[doc = "The engine holds stores as `Arc<dyn DynSessionStore>`."]]
            SessionStore / DynSessionStore [Send + Sync + 'static] then [boxed BoxStore]
            operations { $($ops)* }
            capabilities { $($caps)* }
        );
    };
    ($(
        $(#[$trait_meta:meta])*
        pub trait $trait:ident {
            $(#[$dyn_meta:meta])*
            dyn $dyn:ident;
            $($ops:tt)*
        }
    )+) => {$(
        store_contract!(@pair
            [$(#[$trait_meta])*] [$(#[$dyn_meta])*]
            $trait / $dyn [Send + Sync] then []
            operations { $($ops)* }
            capabilities {}
        );
    )+};
}

pub(super) use store_contract;

store_contract! {
    /// A server-side session store. See the [module docs](super) for the contract, which
    /// the conformance suite in `sessionkit-testkit` checks.
    ///
    /// `now` is passed in (from the engine's [`Clock`](crate::Clock)) so that stores compare
    /// against the same time as the engine, not their server's clock. Implementations
    /// write plain `async fn`s:
    ///
    /// ```
    /// use sessionkit_core::{
    ///     CreateOutcome, Lookup, MemoryStore, Record, SaveOutcome, SessionKey, SessionStore,
    ///     StoreError, Token,
    /// };
    /// use time::OffsetDateTime;
    ///
    /// /// A store that forwards to a memory store (a real one talks to its server).
    /// struct Forward(MemoryStore);
    ///
    /// impl SessionStore for Forward {
    ///     async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
    ///         self.0.load(key, now).await
    ///     }
    ///     async fn create(&self, key: &SessionKey, record: &Record, now: OffsetDateTime)
    ///         -> Result<CreateOutcome, StoreError> {
    ///         self.0.create(key, record, now).await
    ///     }
    ///     async fn save(&self, key: &SessionKey, record: &Record, token: &Token, now: OffsetDateTime)
    ///         -> Result<SaveOutcome, StoreError> {
    ///         self.0.save(key, record, token, now).await
    ///     }
    ///     async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
    ///         self.0.delete(key).await
    ///     }
    ///     async fn touch(&self, key: &SessionKey, expires_at: OffsetDateTime, now: OffsetDateTime)
    ///         -> Result<bool, StoreError> {
    ///         self.0.touch(key, expires_at, now).await
    ///     }
    ///     async fn clear_expired_with_progress(
    ///         &self,
    ///         now: OffsetDateTime,
    ///         progress: &mut (dyn FnMut(u64) + Send),
    ///     ) -> Result<u64, StoreError> {
    ///         self.0.clear_expired_with_progress(now, progress).await
    ///     }
    /// }
    /// ```
    pub trait SessionStore {
        operations {
        /// Loads a live record.
        async fn load / load_boxed <'a>(&'a self, key: &'a SessionKey, now: OffsetDateTime)
            -> Lookup;

        /// Inserts a record if no live record (at `now`) has the key.
        async fn create / create_boxed <'a>(
            &'a self,
            key: &'a SessionKey,
            record: &'a Record,
            now: OffsetDateTime,
        ) -> CreateOutcome;

        /// Replaces a record if its token is still `token` (compare-and-set; never
        /// inserts). A record that expired before `now` is `Missing`.
        async fn save / save_boxed <'a>(
            &'a self,
            key: &'a SessionKey,
            record: &'a Record,
            token: &'a Token,
            now: OffsetDateTime,
        ) -> SaveOutcome;

        /// Deletes a record; deleting a missing record is not an error.
        async fn delete / delete_boxed <'a>(&'a self, key: &'a SessionKey) -> ();

        /// Moves a live record's expiry, and its last-seen time to `now`, without rewriting
        /// its data or its token. Returns `false` when there is no live record.
        async fn touch / touch_boxed <'a>(
            &'a self,
            key: &'a SessionKey,
            expires_at: OffsetDateTime,
            now: OffsetDateTime,
        ) -> bool;

        /// Removes records that expired before `now`; returns how many. Calls `progress`
        /// with the running total as batches complete (the CLI shows it); a store that
        /// removes everything in one step calls it once at the end. Must be safe to run
        /// from several places at once.
        async fn clear_expired_with_progress / clear_expired_with_progress_boxed <'a>(
            &'a self,
            now: OffsetDateTime,
            progress: &'a mut (dyn FnMut(u64) + Send),
        ) -> u64;

        /// [`clear_expired_with_progress`](SessionStore::clear_expired_with_progress)
        /// without progress reports.
        async fn clear_expired / clear_expired_boxed <'a>(&'a self, now: OffsetDateTime) -> u64 => {
            self.clear_expired_with_progress(now, &mut |_| {}).await
        };

        /// Retires a key after a rotation: the record is gone for good, but until `until` a
        /// load answers [`Lookup::Retired`] so that late requests carrying the old cookie do
        /// not remove the new one. Stores without rotation markers just delete (the
        /// default).
        async fn retire / retire_boxed <'a>(
            &'a self,
            key: &'a SessionKey,
            until: OffsetDateTime,
        ) -> () => {
            let _ = until;
            self.delete(key).await
        };
        }

        capabilities {

        /// A short description for logs and the inspector (e.g. `memory`,
        /// `sqlite:///x.db`); never a password.
        fn describe / describe_dyn(&self) -> String => {
            any::type_name::<Self>().to_owned()
        };

        /// The listing capability (enumerate sessions), if the store has it.
        fn listing / listing_dyn(&self) -> Option<&dyn DynSessionListing> => {
            None
        };

        /// The per-user index (list and revoke a user's sessions), if the store has it.
        fn user_index / user_index_dyn(&self) -> Option<&dyn DynUserIndex> => {
            None
        };

        /// Locking leases for lock mode across nodes, if the store has them.
        fn leases / leases_dyn(&self) -> Option<&dyn DynLeaseStore> => {
            None
        };

        /// Whether the store's layout holds Python-only values (a `datetime`, a `set`, ...:
        /// see [`Value::python_only`](crate::Value::python_only)). Only layouts that pickle
        /// the session (Django's `cache` engine) do; sessions of every other store refuse
        /// such values at `insert`, as Django's JSON serializer does.
        fn python_values / python_values_dyn(&self) -> bool => {
            false
        };
        }
    }
}

/// Answers [`SessionStore`]'s capability queries with `Some(self)`, for a store that
/// implements the capabilities itself: inside `impl SessionStore for MyStore`,
/// `sessionkit_core::offers!(listing, user_index, leases);` (any of the three, in any
/// order) writes `fn listing(&self) -> Option<&dyn DynSessionListing> { Some(self) }` and
/// its siblings.
///
/// Nearly every store offers its capabilities this way; the queries cannot default to
/// `Some(self)` (that needs `Self: SessionListing`, which the contract cannot require), so
/// the macro is the one place the answer is written.
///
/// ```
/// use sessionkit_core::{MemoryStore, SessionStore};
///
/// let store = MemoryStore::new();
/// assert!(store.listing().is_some() && store.user_index().is_some());
/// assert!(store.leases().is_none());
/// ```
#[macro_export]
macro_rules! offers {
    ($($capability:ident),+ $(,)?) => {
        $($crate::offers!(@ $capability);)+
    };
    (@ listing) => {
        fn listing(&self) -> Option<&dyn $crate::DynSessionListing> {
            Some(self)
        }
    };
    (@ user_index) => {
        fn user_index(&self) -> Option<&dyn $crate::DynUserIndex> {
            Some(self)
        }
    };
    (@ leases) => {
        fn leases(&self) -> Option<&dyn $crate::DynLeaseStore> {
            Some(self)
        }
    };
}

/// A store chosen at run time: any [`SessionStore`] behind an `Arc`, itself a
/// `SessionStore`.
///
/// ```
/// use sessionkit_core::{BoxStore, MemoryStore};
///
/// let store = BoxStore::new(MemoryStore::new());
/// let same = store.clone();
/// # let _ = same;
/// ```
#[derive(Clone)]
pub struct BoxStore(Arc<dyn DynSessionStore>);

impl BoxStore {
    /// Boxes a store.
    pub fn new<S: SessionStore>(store: S) -> BoxStore {
        BoxStore(Arc::new(store))
    }

    /// Wraps an already shared store.
    pub fn from_arc(store: Arc<dyn DynSessionStore>) -> BoxStore {
        BoxStore(store)
    }

    /// The shared store.
    pub fn as_arc(&self) -> &Arc<dyn DynSessionStore> {
        &self.0
    }
}

impl fmt::Debug for BoxStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BoxStore")
            .field(&self.0.describe_dyn())
            .finish()
    }
}
