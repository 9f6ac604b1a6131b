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
//! | [`clear_expired_with_progress`](SessionStore::clear_expired_with_progress) | remove expired records in batches, reporting progress; safe to run from several places at once |
//!
//! The token is opaque to the engine: a version number in the native layouts, the stored
//! value itself where a foreign layout (Django's) has no version column.
//!
//! Stores are written against [`SessionStore`] (native `async fn`, no boxing). The engine
//! holds them type-erased as [`DynSessionStore`], which every `SessionStore` implements, so
//! a store chosen at run time (from a URL, say) is just an `Arc<dyn DynSessionStore>`.
//! Client-side stores (the signed cookie) hold the session in the cookie itself and
//! implement [`ClientStore`] instead.
//!
//! | file | what |
//! | --- | --- |
//! | `mod.rs` | the records, tokens and answers stores exchange with the engine |
//! | `contract.rs` | [`SessionStore`], [`DynSessionStore`], [`BoxStore`], written once |
//! | `capability.rs` | optional capabilities: listing, the per-user index, leases |
//! | `client.rs` | [`ClientStore`], and the cookie-size rule every client-side store applies ([`check_cookie_size`]) |
//! | `error.rs` | [`StoreError`] |
//! | `memory.rs`, `cached.rs` | [`MemoryStore`], [`CachedStore`] |

pub mod cached;
mod capability;
mod client;
mod contract;
mod error;
mod memory;
mod micros;

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::data::Data;
use crate::device::ClientInfo;

pub use cached::{CachedStore, LocalCache, SessionCache};
pub use capability::{
    DynLeaseStore, DynSessionListing, DynUserIndex, LeaseStore, Page, SessionInfo, SessionListing,
    UserIndex,
};
pub use client::{ClientStore, CookieContents, MAX_COOKIE_SIZE, check_cookie_size};
pub use contract::{BoxFuture, BoxStore, DynSessionStore, SessionStore};
pub use error::{StoreError, StoreErrorKind};
pub use memory::MemoryStore;
pub use micros::{from_unix_micros, from_unix_micros_saturating, unix_micros};

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
    /// The client of the request that last wrote the session — IP address, user agent,
    /// device label — when the engine records it (see [`crate::device`]); `None` when
    /// recording is off, or where the layout has no room for it (Django's).
    ///
    /// Stores that keep it must hand it back on load and in listings as it was written.
    /// Personal data: it lives as long as the record.
    pub client: Option<ClientInfo>,
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

/// Whether opening a store may create what it needs and does not find: a database file, a
/// directory, a table, a schema. Callers that only read (`sessionkit inspect`, `list`) or
/// act on existing sessions (`revoke`, `clear-expired`) open stores with
/// [`Create::Never`]: a typo in a path is then an error naming what is missing, never a new
/// empty store that looks like "no sessions". Stores that have nothing to create (Redis,
/// memcached, memory) accept and ignore it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Create {
    /// Create what is missing (the default: a new deployment starts with nothing).
    #[default]
    IfMissing,
    /// Create nothing; a missing database, file, directory, table or schema is an error
    /// ([`StoreErrorKind::Config`]) that names it.
    Never,
}
