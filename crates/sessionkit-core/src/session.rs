//! [`Session`]: Django's `request.session`, typed through serde.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::clock::Clock;
use crate::config::Config;
use crate::data::Data;
use crate::key::SessionKey;
use crate::value::{Value, ValueError, from_value, to_value};

/// Django's test-cookie key and value (`set_test_cookie` stores them in the session).
pub const TEST_COOKIE_NAME: &str = "testcookie";
/// See [`TEST_COOKIE_NAME`].
pub const TEST_COOKIE_VALUE: &str = "worked";

/// An error from typed session access.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The stored value does not have the type asked for.
    #[error("session value {key:?} has an unexpected type: {source}")]
    Type {
        /// The session key (dictionary key) read.
        key: String,
        /// What serde said.
        #[source]
        source: ValueError,
    },
    /// The value cannot be stored in a session (e.g. a map with non-scalar keys).
    #[error("value for session key {key:?} cannot be stored: {source}")]
    Serialize {
        /// The session key (dictionary key) written.
        key: String,
        /// What serde said.
        #[source]
        source: ValueError,
    },
    /// A Python-only value (a `datetime`, a `set`, ...: see
    /// [`Value::python_only`]) for a store whose layout is JSON; only Django's `cache`
    /// layout, which pickles the session, holds them. Django's JSON serializer raises
    /// `TypeError` there.
    #[error(
        "value for session key {key:?} holds a Python {type_name}, which this store's JSON layout cannot hold"
    )]
    PythonValue {
        /// The session key (dictionary key) written.
        key: String,
        /// The Python type refused (`"datetime.datetime"`).
        type_name: &'static str,
    },
}

/// One operation a request applied, recorded so that a save that meets a concurrent change
/// can re-apply it on the fresh data (see the engine's compare-and-set loop).
#[derive(Clone)]
pub(crate) enum Op {
    Set(String, Value),
    Remove(String),
    Clear,
    UpdateWith(String, UpdateFn),
}

pub(crate) type UpdateFn = Arc<dyn Fn(Option<Value>) -> Result<Value, SessionError> + Send + Sync>;

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Set(k, _) => write!(f, "Set({k:?})"),
            Op::Remove(k) => write!(f, "Remove({k:?})"),
            Op::Clear => f.write_str("Clear"),
            Op::UpdateWith(k, _) => write!(f, "UpdateWith({k:?})"),
        }
    }
}

/// What identifies the session to the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    /// No session yet (new visitor, unknown key, or flushed).
    None,
    /// A server-side key.
    Key(SessionKey),
    /// A valid client-side (signed cookie) session.
    Client,
}

/// Shared by a [`Session`] and the engine.
pub(crate) struct Ctx {
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    /// The store's layout holds Python values (see [`SessionStore::python_values`](crate::SessionStore::python_values)).
    pub(crate) python_values: bool,
}

/// Refuses a Python-only value when the layout is JSON.
fn admit(python_values: bool, key: &str, v: &Value) -> Result<(), SessionError> {
    match v.python_only() {
        Some(p) if !python_values => Err(SessionError::PythonValue {
            key: key.to_owned(),
            type_name: p.type_name(),
        }),
        _ => Ok(()),
    }
}

pub(crate) struct State {
    pub(crate) data: Data,
    /// For a stored session: what the data held as loaded under each key this request
    /// changed, taken before the key's first change ([`State::change`]). The retry policy
    /// compares it with a fresh load's to count overwrites, and a flush's event names the
    /// user the session had. Keeping these few entries instead of the whole dictionary as
    /// loaded lets the first change edit the dictionary in place rather than copy it.
    pub(crate) before: Before,
    /// Whether `before` is kept: only for a session loaded from a server-side store (a new
    /// session has nothing to compare with, and a client-side one is never replayed).
    track: bool,
    pub(crate) identity: Identity,
    pub(crate) accessed: bool,
    pub(crate) modified: bool,
    pub(crate) ops: Vec<Op>,
    /// The loaded record must be deleted (flush).
    pub(crate) flushed: bool,
    /// The key was rotated: `identity` holds a new key not yet stored.
    pub(crate) cycled: bool,
    /// A fresh authentication (login) rotated the key: the absolute timeout restarts.
    pub(crate) renewed: bool,
    /// A login or logout happened in this request (for the lifecycle events).
    pub(crate) auth: Option<AuthChange>,
    /// The response was built; later writes are lost.
    pub(crate) finished: bool,
}

/// A login or a logout, as the lifecycle events report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthChange {
    /// `login(user)`.
    LoggedIn(String),
    /// `logout()`, and who was logged in.
    LoggedOut(Option<String>),
}

/// What the engine's end-of-request decision needs to know about a session, read in one
/// step (see `engine::plan`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionView {
    pub(crate) accessed: bool,
    pub(crate) modified: bool,
    pub(crate) flushed: bool,
    pub(crate) cycled: bool,
    pub(crate) renewed: bool,
    pub(crate) identity: Identity,
    /// The dictionary has no keys.
    pub(crate) data_empty: bool,
}

/// A session: Django's `request.session` with typed access.
///
/// Obtained from the framework extractor (or [`RequestSession::load`](crate::RequestSession::load)),
/// which loads it once; every method after that is synchronous. Clones share the same
/// session, and it is `Send + Sync`, so it can move into spawned tasks.
///
/// `accessed` and `modified` follow Django exactly: reads set `accessed`, writes set both,
/// and the engine decides from them what to store and which cookie to send.
///
/// ```
/// use sessionkit_core::Session;
///
/// # fn main() -> Result<(), sessionkit_core::SessionError> {
/// let session = Session::detached();
/// let count: u64 = session.get("count")?.unwrap_or(0) + 1;
/// session.insert("count", count)?;
/// assert_eq!(session.get::<u64>("count")?, Some(1));
/// assert!(session.accessed() && session.modified());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Shared>,
}

struct Shared {
    ctx: Arc<Ctx>,
    state: Mutex<State>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("Session")
            .field("identity", &st.identity)
            .field("keys", &st.data.keys().collect::<Vec<_>>())
            .field("accessed", &st.accessed)
            .field("modified", &st.modified)
            .finish()
    }
}

impl Session {
    pub(crate) fn new(ctx: Arc<Ctx>, data: Data, identity: Identity) -> Session {
        Session {
            inner: Arc::new(Shared {
                ctx,
                state: Mutex::new(State {
                    data,
                    before: Before::default(),
                    track: matches!(identity, Identity::Key(_)),
                    identity,
                    accessed: false,
                    modified: false,
                    ops: Vec::new(),
                    flushed: false,
                    cycled: false,
                    renewed: false,
                    auth: None,
                    finished: false,
                }),
            }),
        }
    }

    /// A session attached to no store, with the default configuration and the system
    /// clock: for unit tests of code that takes a `Session`, and for examples. It refuses
    /// Python-only values, as a JSON layout does.
    pub fn detached() -> Session {
        Session::detached_with(Config::default(), Arc::new(crate::clock::SystemClock))
    }

    /// A detached session with a given configuration and clock.
    pub fn detached_with(config: Config, clock: Arc<dyn Clock>) -> Session {
        Session::new(
            Arc::new(Ctx {
                config,
                clock,
                python_values: false,
            }),
            Data::new(),
            Identity::None,
        )
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data (every method updates it
        // in one step), so a poisoned lock is still usable.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ---- the engine's side: what it reads and writes at the end of a request ----

    /// Marks the response as built (later writes are logged as lost) and returns what the
    /// end-of-request decision needs.
    pub(crate) fn close(&self) -> SessionView {
        let mut st = self.state();
        st.finished = true;
        SessionView {
            accessed: st.accessed,
            modified: st.modified,
            flushed: st.flushed,
            cycled: st.cycled,
            renewed: st.renewed,
            identity: st.identity,
            data_empty: st.data.is_empty(),
        }
    }

    /// The current data (a reference-count increment).
    pub(crate) fn data(&self) -> Data {
        self.state().data.clone()
    }

    /// The login or logout of this request, if any (once).
    pub(crate) fn take_auth_change(&self) -> Option<AuthChange> {
        self.state().auth.take()
    }

    /// The operations recorded so far, for a replay after a conflict, and what the data
    /// held as loaded under each key they change.
    pub(crate) fn take_ops(&self) -> (Vec<Op>, Before) {
        let mut st = self.state();
        (std::mem::take(&mut st.ops), std::mem::take(&mut st.before))
    }

    /// The user id of the data as loaded (`None` for a session that was not loaded from a
    /// server-side store), whatever this request changed since — until a save took the
    /// record of loaded values ([`Session::take_ops`]); the engine asks before that.
    pub(crate) fn loaded_user_id(&self) -> Option<String> {
        let st = self.state();
        if !st.track {
            return None;
        }
        match st.before.get(crate::AUTH_USER_ID_KEY) {
            Some(held) => Data::from_held(crate::AUTH_USER_ID_KEY, held).user_id(),
            None => st.data.user_id(),
        }
    }

    /// After a save that replayed this request's operations on fresh data: what was
    /// stored, so the handler's clones see it.
    pub(crate) fn set_data(&self, data: Data) {
        self.state().data = data;
    }

    /// The key the session was stored under (a new one after a create or a rotation that
    /// met a collision).
    pub(crate) fn set_stored_key(&self, key: SessionKey) {
        self.state().identity = Identity::Key(key);
    }

    /// Locks for a read: sets `accessed`.
    fn read(&self) -> MutexGuard<'_, State> {
        let mut st = self.state();
        st.accessed = true;
        st
    }

    /// Locks for a write: sets `accessed`; the caller sets `modified` when something
    /// changed.
    fn write(&self) -> MutexGuard<'_, State> {
        let mut st = self.state();
        st.accessed = true;
        if st.finished {
            tracing::warn!("session changed after its response was built; the change is lost");
        }
        st
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.ctx.clock.now()
    }

    // ---- dictionary API ----

    /// `session.get(key)`: the value under `key` as `T`, or `None` when absent. A value of
    /// another type is an error (never a panic).
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let v = self.read().data.get(key);
        v.map(|v| {
            from_value(v).map_err(|source| SessionError::Type {
                key: key.to_owned(),
                source,
            })
        })
        .transpose()
    }

    /// The raw [`Value`] under `key`.
    pub fn get_value(&self, key: &str) -> Option<Value> {
        self.read().data.get(key)
    }

    /// `session[key] = value`.
    pub fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let v = to_value(&value).map_err(|source| SessionError::Serialize {
            key: key.to_owned(),
            source,
        })?;
        self.insert_value(key, v)
    }

    /// `session[key] = value` with a ready [`Value`]. A Python-only value (a `datetime`,
    /// a `Decimal`, ...) is refused unless the store's layout pickles the session
    /// (Django's `cache` engine): [`SessionError::PythonValue`].
    ///
    /// ```
    /// use sessionkit_core::{Session, SessionError, Value};
    ///
    /// let session = Session::detached();
    /// let when = Value::try_from(time::macros::date!(2026 - 01 - 02)).unwrap();
    /// assert!(matches!(
    ///     session.insert_value("when", when),
    ///     Err(SessionError::PythonValue { type_name: "datetime.date", .. })
    /// ));
    /// ```
    pub fn insert_value(&self, key: &str, value: Value) -> Result<(), SessionError> {
        admit(self.inner.ctx.python_values, key, &value)?;
        self.put(key, value);
        Ok(())
    }

    /// Stores a value known to be JSON-safe.
    fn put(&self, key: &str, value: Value) {
        let mut st = self.write();
        st.change(key).set(key, value.clone());
        st.ops.push(Op::Set(key.to_owned(), value));
        st.modified = true;
    }

    /// `del session[key]`: removes `key` and returns its value, or `None` (Django's
    /// `KeyError`) when absent. Marks the session modified only when something was removed.
    pub fn remove(&self, key: &str) -> Option<Value> {
        let mut st = self.write();
        let old = st.change(key).remove(key);
        if old.is_some() {
            st.ops.push(Op::Remove(key.to_owned()));
            st.modified = true;
        }
        old
    }

    /// `session.pop(key)`: removes `key` and returns its value as `T`. Modified only when
    /// the key was present. A value of another type is an error and stays in place.
    pub fn pop<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let mut st = self.write();
        let Some(v) = st.data.get(key) else {
            return Ok(None);
        };
        let t = from_value(v).map_err(|source| SessionError::Type {
            key: key.to_owned(),
            source,
        })?;
        st.change(key).remove(key);
        st.ops.push(Op::Remove(key.to_owned()));
        st.modified = true;
        Ok(Some(t))
    }

    /// `key in session`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.read().data.contains_key(key)
    }

    /// `session.setdefault(key, default)`: the stored value if present (not modified),
    /// else stores `default` (modified) and returns it.
    pub fn setdefault<T: Serialize + DeserializeOwned>(
        &self,
        key: &str,
        default: T,
    ) -> Result<T, SessionError> {
        let mut st = self.write();
        if let Some(v) = st.data.get(key) {
            return from_value(v).map_err(|source| SessionError::Type {
                key: key.to_owned(),
                source,
            });
        }
        let v = to_value(&default).map_err(|source| SessionError::Serialize {
            key: key.to_owned(),
            source,
        })?;
        admit(self.inner.ctx.python_values, key, &v)?;
        st.change(key).set(key, v.clone());
        st.ops.push(Op::Set(key.to_owned(), v));
        st.modified = true;
        Ok(default)
    }

    /// `session.update(entries)`: stores every pair; marks the session modified even when
    /// `entries` is empty (as Django does). Nothing is stored if any value fails to
    /// serialize.
    pub fn update<I, K, V>(&self, entries: I) -> Result<(), SessionError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Serialize,
    {
        let mut pairs = Vec::new();
        for (k, v) in entries {
            let k = k.into();
            let v = to_value(&v).map_err(|source| SessionError::Serialize {
                key: k.clone(),
                source,
            })?;
            admit(self.inner.ctx.python_values, &k, &v)?;
            pairs.push((k, v));
        }
        let mut st = self.write();
        for (k, v) in pairs {
            st.change(&k).set(&k, v.clone());
            st.ops.push(Op::Set(k, v));
        }
        st.modified = true;
        Ok(())
    }

    /// Read-modify-write of one key that survives concurrent requests: `f` gets the current
    /// value (or `None`) and returns the new one. If another request changed the session
    /// before this one is saved, the engine re-runs `f` on the fresh value, so a counter
    /// built on `update_with` never loses an increment. Returns the value computed now.
    ///
    /// ```
    /// use sessionkit_core::Session;
    ///
    /// let session = Session::detached();
    /// let n = session.update_with("count", |n: Option<u64>| n.unwrap_or(0) + 1).unwrap();
    /// assert_eq!(n, 1);
    /// ```
    pub fn update_with<T, F>(&self, key: &str, f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned + 'static,
        F: Fn(Option<T>) -> T + Send + Sync + 'static,
    {
        let k = key.to_owned();
        let python_values = self.inner.ctx.python_values;
        let apply =
            move |current: Option<Value>| -> Result<(T, Value), SessionError> {
                let current = current.map(from_value::<T>).transpose().map_err(|source| {
                    SessionError::Type {
                        key: k.clone(),
                        source,
                    }
                })?;
                let new = f(current);
                let v = to_value(&new).map_err(|source| SessionError::Serialize {
                    key: k.clone(),
                    source,
                })?;
                admit(python_values, &k, &v)?;
                Ok((new, v))
            };
        let apply = Arc::new(apply);
        let mut st = self.write();
        let (result, v) = apply(st.data.get(key))?;
        st.change(key).set(key, v);
        let replay = Arc::clone(&apply);
        st.ops.push(Op::UpdateWith(
            key.to_owned(),
            Arc::new(move |cur| replay(cur).map(|(_, v)| v)),
        ));
        st.modified = true;
        Ok(result)
    }

    /// `session.keys()`, in insertion order.
    pub fn keys(&self) -> Vec<String> {
        self.read().data.keys().map(str::to_owned).collect()
    }

    /// `session.values()`, in insertion order.
    pub fn values(&self) -> Vec<Value> {
        self.read().data.iter().map(|(_, v)| v).collect()
    }

    /// `session.items()`, in insertion order.
    pub fn items(&self) -> Vec<(String, Value)> {
        self.read()
            .data
            .iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// `len(session)`.
    pub fn len(&self) -> usize {
        self.read().data.len()
    }

    /// Whether the dictionary has no keys (Rust's meaning).
    ///
    /// Django's truthiness differs: `if request.session:` (and Django's `is_empty()`) is
    /// true for a session that has a key even when its dictionary is empty. Code ported
    /// from Django writes `!session.is_empty() || session.key().is_some()` for
    /// `bool(request.session)`.
    pub fn is_empty(&self) -> bool {
        self.read().data.is_empty()
    }

    /// `session.clear()`: empties the dictionary (the session keeps its key).
    pub fn clear(&self) {
        let mut st = self.write();
        st.clear_data();
        st.ops.push(Op::Clear);
        st.modified = true;
    }

    /// `session.flush()` (what logout does): empties the dictionary, deletes the stored
    /// session and drops its key. The client's cookie is removed, and any later write in
    /// the same request starts a new session with a new key.
    pub fn flush(&self) {
        let mut st = self.write();
        st.clear_data();
        st.ops.clear();
        st.modified = true;
        st.flushed = true;
        st.cycled = false;
        st.renewed = false;
        st.identity = Identity::None;
    }

    /// `session.cycle_key()` (what login does): keeps the data under a new key. The new
    /// record is written before the old one is retired, at the end of the request (not at
    /// all if the response is a 5xx). [`Session::key`] returns the new key at once.
    ///
    /// The session keeps its creation time, so a periodic key renewal (as OWASP advises)
    /// does not extend the [absolute timeout](crate::ConfigBuilder::absolute_timeout);
    /// only [`login`](Session::login) restarts it.
    pub fn cycle_key(&self) {
        let mut st = self.write();
        st.modified = true;
        match st.identity {
            Identity::Key(_) => {
                st.identity = Identity::Key(SessionKey::generate());
                st.cycled = true;
            }
            // A new session gets a fresh key when first stored anyway; a client-side
            // session is re-signed.
            Identity::None | Identity::Client => {}
        }
    }

    /// `session.session_key`: the session's key, `None` until stored (and for client-side
    /// sessions). Not an access.
    pub fn key(&self) -> Option<SessionKey> {
        match self.state().identity {
            Identity::Key(k) => Some(k),
            Identity::None | Identity::Client => None,
        }
    }

    /// `session.accessed`.
    pub fn accessed(&self) -> bool {
        self.state().accessed
    }

    /// `session.modified`.
    pub fn modified(&self) -> bool {
        self.state().modified
    }

    /// `session.modified = True`: forces a save at the end of the request.
    pub fn mark_modified(&self) {
        self.write().modified = true;
    }
}

mod before;
mod expiry;
mod users;

pub(crate) use before::Before;

#[cfg(test)]
mod tests;
