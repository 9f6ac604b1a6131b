//! The store contract.
//!
//! A server-side store keeps one record per session key. The engine calls it at most once
//! to load a session and once (plus retries) to write it back; everything else — expiry
//! rules, cookies, conflicts — is the engine's. The contract, checked for every store by
//! the conformance suite in `sessionkit-testkit`:
//!
//! | operation | contract |
//! | --- | --- |
//! | [`load`](SessionStore::load) | the record and its **version token**, or `Missing` when absent or expired (against the `now` it is given) |
//! | [`create`](SessionStore::create) | insert only if absent; a live record under the key is a `Collision`, never overwritten |
//! | [`save`](SessionStore::save) | compare-and-set: succeeds only if the stored token still equals the one loaded; else `Conflict`, or `Missing` if the record is gone. **Never upserts**: a session deleted by a concurrent logout stays deleted |
//! | [`delete`](SessionStore::delete) | idempotent |
//! | [`touch`](SessionStore::touch) | move the expiry and last-seen time without rewriting the data |
//! | [`clear_expired`](SessionStore::clear_expired) | remove expired records in batches; safe to run from several places at once |
//!
//! The token is opaque to the engine: a version number in the native layouts, the stored
//! value itself where a foreign layout (Django's) has no version column.
//!
//! Stores are written against [`SessionStore`] (native `async fn`, no boxing). The engine
//! holds them type-erased as [`DynSessionStore`], which every `SessionStore` implements, so
//! a store chosen at run time (from a URL, say) is just an `Arc<dyn DynSessionStore>`.
//! Client-side stores (the signed cookie) hold the session in the cookie itself and
//! implement [`ClientStore`] instead.

pub mod cached;
mod file;
pub mod files;
mod memory;

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::data::Data;
use crate::key::SessionKey;

pub use cached::{CachedStore, LocalCache, SessionCache};
pub use file::FileStore;
pub use memory::MemoryStore;

/// One stored session.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The session's dictionary.
    pub data: Data,
    /// When the record stops being valid. Stores must not return it at or after this
    /// instant; the engine checks again.
    pub expires_at: OffsetDateTime,
    /// What the store keeps beside the data.
    pub meta: Metadata,
}

/// What a store keeps beside a session's data (where its layout has room).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// When the session was created.
    pub created_at: Option<OffsetDateTime>,
    /// When a request last used the session (refreshed on writes and throttled touches).
    pub last_seen: Option<OffsetDateTime>,
    /// The logged-in user (Django's `_auth_user_id`), for the per-user index.
    pub user_id: Option<String>,
}

/// A record's version, as the store reported it at load or save time; handed back on the
/// next [`save`](SessionStore::save) for the compare-and-set. Opaque to the engine.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(TokenRepr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum TokenRepr {
    Version(u64),
    Bytes(Arc<[u8]>),
}

impl Token {
    /// A version-number token.
    pub fn version(v: u64) -> Token {
        Token(TokenRepr::Version(v))
    }

    /// A token made of bytes (e.g. the stored value itself).
    pub fn bytes(b: impl Into<Arc<[u8]>>) -> Token {
        Token(TokenRepr::Bytes(b.into()))
    }

    /// The version number, if this is a version token.
    pub fn as_version(&self) -> Option<u64> {
        match &self.0 {
            TokenRepr::Version(v) => Some(*v),
            TokenRepr::Bytes(_) => None,
        }
    }

    /// The bytes, if this is a byte token.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.0 {
            TokenRepr::Bytes(b) => Some(b),
            TokenRepr::Version(_) => None,
        }
    }

    /// A self-describing byte form, for caches that keep the token beside a copy of the
    /// record (`v<decimal>` or `b<bytes>`).
    ///
    /// ```
    /// use sessionkit_core::Token;
    ///
    /// for t in [Token::version(42), Token::bytes(b"x:y".to_vec())] {
    ///     assert_eq!(Token::from_encoded(&t.encode()), Some(t));
    /// }
    /// assert_eq!(Token::from_encoded(b"?"), None);
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        match &self.0 {
            TokenRepr::Version(v) => format!("v{v}").into_bytes(),
            TokenRepr::Bytes(b) => {
                let mut out = Vec::with_capacity(b.len() + 1);
                out.push(b'b');
                out.extend_from_slice(b);
                out
            }
        }
    }

    /// Reads [`Token::encode`]'s form.
    pub fn from_encoded(bytes: &[u8]) -> Option<Token> {
        match bytes.split_first()? {
            (b'v', digits) => std::str::from_utf8(digits)
                .ok()?
                .parse()
                .ok()
                .map(Token::version),
            (b'b', raw) => Some(Token::bytes(raw.to_vec())),
            _ => None,
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Byte tokens may be session data: show only their size.
        match &self.0 {
            TokenRepr::Version(v) => write!(f, "Token(v{v})"),
            TokenRepr::Bytes(b) => write!(f, "Token({} bytes)", b.len()),
        }
    }
}

/// The answer to [`SessionStore::load`].
#[derive(Clone, Debug)]
pub enum Lookup {
    /// The session exists and is live.
    Found {
        /// The record.
        record: Record,
        /// Its version, for the compare-and-set on save.
        token: Token,
    },
    /// No live session under this key (absent, expired, or unreadable — the store logs
    /// the last case and leaves the record for inspection).
    Missing,
    /// The key was rotated away recently (see [`SessionStore::retire`]): no session, but
    /// the engine sends no removal cookie until `until`.
    Retired {
        /// End of the grace window.
        until: OffsetDateTime,
    },
}

/// The answer to [`SessionStore::create`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Inserted; the new record's token.
    Created(Token),
    /// A live record already has this key; nothing was written.
    Collision,
}

/// The answer to [`SessionStore::save`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Written; the new token.
    Saved(Token),
    /// The record changed since it was loaded; nothing was written.
    Conflict,
    /// The record is gone (deleted, expired); nothing was written.
    Missing,
}

/// A store failure: the store could not answer. (Unreadable records are not failures;
/// they are `Missing` plus a warning.)
#[derive(Debug, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

/// The kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or failed to answer (connection, I/O).
    #[error("store unavailable")]
    Unavailable,
    /// The store answered too slowly.
    #[error("store timed out")]
    Timeout,
    /// The store is full (a bounded memory store).
    #[error("store full")]
    Full,
    /// A record could not be encoded for the store (e.g. a signed cookie over 4096 bytes).
    #[error("session cannot be stored")]
    Encode,
    /// The store is misconfigured (bad URL, missing table, wrong schema version).
    #[error("store misconfigured")]
    Config,
    /// Anything else.
    #[error("store error")]
    Other,
}

impl StoreError {
    /// A new error of `kind`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A new error of `kind` caused by `source` (kept, not stringified).
    pub fn with_source(
        kind: StoreErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> StoreError {
        StoreError {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// The message, without the kind.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error and its chain of causes on one line, for logs.
    pub fn report(&self) -> String {
        format!("{}: {}", self.kind, self.detail())
    }

    /// The message and its chain of causes, without the kind (to pass a failure on to
    /// several callers without repeating the kind).
    pub fn detail(&self) -> String {
        let mut s = self.message.clone();
        let mut cur = StdError::source(self);
        while let Some(e) = cur {
            s.push_str(": ");
            s.push_str(&e.to_string());
            cur = e.source();
        }
        s
    }
}

/// A server-side session store. See the [module docs](self) for the contract.
///
/// `now` is passed in (from the engine's [`Clock`](crate::Clock)) so that stores compare
/// against the same time as the engine, not their server's clock.
pub trait SessionStore: Send + Sync + 'static {
    /// Loads a live record.
    fn load(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Lookup, StoreError>> + Send;

    /// Inserts a record if no live record (at `now`) has the key.
    fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// Replaces a record if its token is still `token` (compare-and-set; never inserts).
    /// A record that expired before `now` is `Missing`.
    fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<SaveOutcome, StoreError>> + Send;

    /// Deletes a record; deleting a missing record is not an error.
    fn delete(&self, key: &SessionKey) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Moves a live record's expiry, and its last-seen time to `now`, without rewriting
    /// its data or its token. Returns `false` when there is no live record.
    fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Removes records that expired before `now`; returns how many.
    fn clear_expired(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// [`clear_expired`](SessionStore::clear_expired), calling `progress` with the running
    /// total as batches complete (the CLI shows it on a terminal). Stores that delete in
    /// batches override it; the default reports once at the end.
    fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move {
            let n = self.clear_expired(now).await?;
            progress(n);
            Ok(n)
        }
    }

    /// Retires a key after a rotation: the record is gone for good, but until `until` a
    /// load answers [`Lookup::Retired`] so that late requests carrying the old cookie do
    /// not remove the new one. Stores without rotation markers just delete (the default).
    fn retire(
        &self,
        key: &SessionKey,
        until: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = until;
        self.delete(key)
    }

    /// A short description for logs and the inspector (e.g. `memory`, `sqlite:///x.db`).
    fn describe(&self) -> String {
        std::any::type_name::<Self>().to_owned()
    }

    /// The listing capability (enumerate sessions), if the store has it.
    fn listing(&self) -> Option<&dyn SessionListing> {
        None
    }

    /// The per-user index (list and revoke a user's sessions), if the store has it.
    fn user_index(&self) -> Option<&dyn UserIndex> {
        None
    }

    /// Locking leases for lock mode across nodes, if the store has them.
    fn leases(&self) -> Option<&dyn LeaseStore> {
        None
    }

    /// Whether the store's layout holds Python-only values (a `datetime`, a `set`, ...:
    /// see [`Value::python_only`](crate::Value::python_only)). Only layouts that pickle
    /// the session (Django's `cache` engine) do; sessions of every other store refuse
    /// such values at `insert`, as Django's JSON serializer does.
    fn python_values(&self) -> bool {
        false
    }
}

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

/// A boxed future, as the object-safe [`DynSessionStore`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`SessionStore`], implemented for every `SessionStore`. The
/// engine holds stores as `Arc<dyn DynSessionStore>`.
#[allow(missing_docs)]
pub trait DynSessionStore: Send + Sync + 'static {
    fn load_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Lookup, StoreError>>;
    fn create_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a Record,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<CreateOutcome, StoreError>>;
    fn save_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a Record,
        token: &'a Token,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<SaveOutcome, StoreError>>;
    fn delete_boxed<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<(), StoreError>>;
    fn touch_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    fn clear_expired_boxed(&self, now: OffsetDateTime) -> BoxFuture<'_, Result<u64, StoreError>>;
    fn clear_expired_with_progress_boxed<'a>(
        &'a self,
        now: OffsetDateTime,
        progress: &'a mut (dyn FnMut(u64) + Send),
    ) -> BoxFuture<'a, Result<u64, StoreError>>;
    fn retire_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        until: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    fn describe_dyn(&self) -> String;
    fn listing_dyn(&self) -> Option<&dyn SessionListing>;
    fn user_index_dyn(&self) -> Option<&dyn UserIndex>;
    fn leases_dyn(&self) -> Option<&dyn LeaseStore>;
    fn python_values_dyn(&self) -> bool;
}

impl<S: SessionStore> DynSessionStore for S {
    fn load_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<Lookup, StoreError>> {
        Box::pin(self.load(key, now))
    }
    fn create_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a Record,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<CreateOutcome, StoreError>> {
        Box::pin(self.create(key, record, now))
    }
    fn save_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a Record,
        token: &'a Token,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<SaveOutcome, StoreError>> {
        Box::pin(self.save(key, record, token, now))
    }
    fn delete_boxed<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.delete(key))
    }
    fn touch_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.touch(key, expires_at, now))
    }
    fn clear_expired_boxed(&self, now: OffsetDateTime) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.clear_expired(now))
    }
    fn clear_expired_with_progress_boxed<'a>(
        &'a self,
        now: OffsetDateTime,
        progress: &'a mut (dyn FnMut(u64) + Send),
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.clear_expired_with_progress(now, progress))
    }
    fn retire_boxed<'a>(
        &'a self,
        key: &'a SessionKey,
        until: OffsetDateTime,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.retire(key, until))
    }
    fn describe_dyn(&self) -> String {
        self.describe()
    }
    fn listing_dyn(&self) -> Option<&dyn SessionListing> {
        self.listing()
    }
    fn user_index_dyn(&self) -> Option<&dyn UserIndex> {
        self.user_index()
    }
    fn leases_dyn(&self) -> Option<&dyn LeaseStore> {
        self.leases()
    }
    fn python_values_dyn(&self) -> bool {
        self.python_values()
    }
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

impl SessionStore for BoxStore {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        self.0.load_boxed(key, now).await
    }
    async fn create(
        &self,
        key: &SessionKey,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.0.create_boxed(key, record, now).await
    }
    async fn save(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.0.save_boxed(key, record, token, now).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.0.delete_boxed(key).await
    }
    async fn touch(
        &self,
        key: &SessionKey,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.0.touch_boxed(key, expires_at, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.clear_expired_boxed(now).await
    }
    async fn clear_expired_with_progress(
        &self,
        now: OffsetDateTime,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, StoreError> {
        self.0
            .clear_expired_with_progress_boxed(now, progress)
            .await
    }
    async fn retire(&self, key: &SessionKey, until: OffsetDateTime) -> Result<(), StoreError> {
        self.0.retire_boxed(key, until).await
    }
    fn describe(&self) -> String {
        self.0.describe_dyn()
    }
    fn listing(&self) -> Option<&dyn SessionListing> {
        self.0.listing_dyn()
    }
    fn user_index(&self) -> Option<&dyn UserIndex> {
        self.0.user_index_dyn()
    }
    fn leases(&self) -> Option<&dyn LeaseStore> {
        self.0.leases_dyn()
    }

    fn python_values(&self) -> bool {
        self.0.python_values_dyn()
    }
}

/// A client-side store: the whole session travels in the cookie (Django's
/// `signed_cookies`). There is no server-side record, so no revocation and no protection
/// against replaying an old cookie until it expires.
pub trait ClientStore: Send + Sync + 'static {
    /// Reads a cookie value. A bad signature, an expired timestamp or garbage is `None`
    /// (the implementation logs a warning); never an error. The engine then checks the
    /// session's own expiry against `issued_at`.
    fn decode(&self, cookie_value: &str, now: OffsetDateTime) -> Option<CookieContents>;

    /// Writes the session into a cookie value. Fails (a logged 500, never a silently
    /// dropped cookie) when the result would not fit in a cookie.
    fn encode(&self, data: &Data, now: OffsetDateTime) -> Result<String, StoreError>;

    /// A short description for logs and the inspector.
    fn describe(&self) -> String {
        std::any::type_name::<Self>().to_owned()
    }
}

/// What a [`ClientStore`] read from a cookie.
#[derive(Clone, Debug, PartialEq)]
pub struct CookieContents {
    /// The session's dictionary.
    pub data: Data,
    /// When the cookie value was signed (its embedded timestamp).
    pub issued_at: OffsetDateTime,
}
