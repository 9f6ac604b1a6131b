//! [`RequestMessages`]: the message storage of one request (Django's `request._messages`).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sessionkit_core::{Session, SessionError, Value};
use time::OffsetDateTime;

use super::codec::{self, Decoded};
use super::{
    DEBUG, ERROR, INFO, Message, MessageStorage, MessagesConfig, SESSION_KEY, SUCCESS, WARNING,
};

/// What [`RequestMessages::update`] decided for the `messages` cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieUpdate {
    /// Set the cookie to this signed value.
    Set(String),
    /// Delete the cookie.
    Delete,
}

/// The outcome of [`RequestMessages::update`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use]
pub struct Update {
    /// The `messages` cookie to send, if any ([`MessagesConfig::cookie_header`] renders
    /// it).
    pub cookie: Option<CookieUpdate>,
    /// Messages that could not be stored (cookie storage alone, over the size limit: the
    /// oldest are dropped; Django raises in `DEBUG`).
    pub unstored: Vec<Message>,
}

#[derive(Debug, Default)]
struct State {
    /// `_loaded_data`: `None` until the storage was read.
    loaded: Option<Vec<Message>>,
    queued: Vec<Message>,
    used: bool,
    added_new: bool,
    level: Option<i64>,
    /// Fallback storage's `_used_storages`.
    used_cookie: bool,
    used_session: bool,
    /// Set once `update` ran (a second call does nothing).
    updated: bool,
}

struct Inner {
    config: MessagesConfig,
    cookie: Option<String>,
    session: Option<Session>,
    state: Mutex<State>,
}

/// The messages of one request, in the storage [`MessagesConfig::storage`] names: read
/// lazily (at the first [`consume`](RequestMessages::consume) or
/// [`len`](RequestMessages::len)), written by [`update`](RequestMessages::update) exactly
/// when Django's `MessageMiddleware` would write, with Django's rules:
///
/// * nothing read and nothing added → nothing written (the cookie and the session are
///   left alone);
/// * messages added, nothing read → the stored messages are kept and the new ones
///   appended;
/// * messages read ([`consume`](RequestMessages::consume)) → they are gone; only what was
///   added after the read is stored.
///
/// Cheap to clone (the clones share the state); `Send + Sync`.
#[derive(Clone)]
pub struct RequestMessages {
    inner: Arc<Inner>,
}

impl fmt::Debug for RequestMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestMessages")
            .field("storage", &self.inner.config.storage)
            .field("cookie", &self.inner.cookie.is_some())
            .field("session", &self.inner.session.is_some())
            .finish_non_exhaustive()
    }
}

impl RequestMessages {
    /// The storage of a request carrying the `messages` cookie value `cookie` (the value
    /// only, as `cookie::find(header, "messages")` returns it) and the session
    /// `session`. The session is needed by the session and fallback storages; without
    /// one they behave as an empty session that cannot be written (messages that would
    /// go there are returned as unstored).
    pub fn new(
        config: &MessagesConfig,
        cookie: Option<&str>,
        session: Option<Session>,
    ) -> RequestMessages {
        RequestMessages {
            inner: Arc::new(Inner {
                config: config.clone(),
                cookie: cookie.filter(|c| !c.is_empty()).map(str::to_owned),
                session,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MessagesConfig {
        &self.inner.config
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The recording level: [`set_level`](RequestMessages::set_level)'s, else
    /// `MESSAGE_LEVEL`.
    pub fn level(&self) -> i64 {
        self.state().level.unwrap_or(self.inner.config.level)
    }

    /// `messages.set_level(request, level)` for this request; `None` restores
    /// `MESSAGE_LEVEL`.
    pub fn set_level(&self, level: Option<i64>) {
        self.state().level = level;
    }

    /// `messages.add_message(request, level, message, extra_tags="")`: queues a message
    /// unless its text is empty or its level is below the recording level. Returns
    /// whether it was queued.
    pub fn add(&self, level: i64, message: impl Into<String>) -> bool {
        self.add_message(Message::new(level, message))
    }

    /// Queues a message built with [`Message`] (extra tags, safe marker), by the rules of
    /// [`add`](RequestMessages::add).
    pub fn add_message(&self, message: Message) -> bool {
        let mut st = self.state();
        if message.message.is_empty() || message.level < st.level.unwrap_or(self.inner.config.level)
        {
            return false;
        }
        st.added_new = true;
        st.queued.push(message);
        true
    }

    /// `messages.debug(request, message)` (dropped at the default level).
    pub fn debug(&self, message: impl Into<String>) -> bool {
        self.add(DEBUG, message)
    }

    /// `messages.info(request, message)`.
    pub fn info(&self, message: impl Into<String>) -> bool {
        self.add(INFO, message)
    }

    /// `messages.success(request, message)`.
    pub fn success(&self, message: impl Into<String>) -> bool {
        self.add(SUCCESS, message)
    }

    /// `messages.warning(request, message)`.
    pub fn warning(&self, message: impl Into<String>) -> bool {
        self.add(WARNING, message)
    }

    /// `messages.error(request, message)`.
    pub fn error(&self, message: impl Into<String>) -> bool {
        self.add(ERROR, message)
    }

    /// Iterates the storage as a template does (`for m in messages`): every stored
    /// message, then every one added in this request, in order. They are consumed: unless
    /// added again, none is stored back by [`update`](RequestMessages::update).
    pub fn consume(&self) -> Vec<Message> {
        let mut st = self.state();
        self.load(&mut st);
        st.used = true;
        let queued = std::mem::take(&mut st.queued);
        let loaded = st.loaded.get_or_insert_with(Vec::new);
        loaded.extend(queued);
        loaded.clone()
    }

    /// `len(storage)`: stored plus queued messages, without consuming them.
    pub fn len(&self) -> usize {
        let mut st = self.state();
        self.load(&mut st);
        st.loaded.as_ref().map_or(0, Vec::len) + st.queued.len()
    }

    /// Whether [`len`](RequestMessages::len) is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn load(&self, st: &mut State) {
        if st.loaded.is_none() {
            let got = self.get(st);
            st.loaded = Some(got);
        }
    }

    /// The cookie storage's `_get`: `None` when there is no cookie or it is refused (a
    /// refused cookie marks cookie storage used, so that it is deleted).
    fn get_cookie(&self, st: &mut State) -> Option<Decoded> {
        let cookie = self.inner.cookie.as_deref()?;
        let decoded = codec::decode_cookie(cookie, &self.inner.config.signer);
        if decoded.is_none() && self.inner.config.storage == MessageStorage::Cookie {
            st.used = true;
        }
        decoded
    }

    /// The session storage's `_get`.
    fn get_session(&self) -> Option<Vec<Message>> {
        let session = self.inner.session.as_ref()?;
        match session.get_value(SESSION_KEY)? {
            Value::String(text) => codec::decode_session(&text),
            _ => {
                tracing::debug!("the session's _messages is not a string; ignored");
                None
            }
        }
    }

    fn get(&self, st: &mut State) -> Vec<Message> {
        match self.inner.config.storage {
            MessageStorage::Session => self.get_session().unwrap_or_default(),
            MessageStorage::Cookie => self.get_cookie(st).map(|d| d.messages).unwrap_or_default(),
            MessageStorage::Fallback => {
                let Some(cookie) = self.get_cookie(st) else {
                    return Vec::new();
                };
                let mut all = cookie.messages;
                st.used_cookie |= !all.is_empty();
                if cookie.not_finished
                    && let Some(session) = self.get_session()
                {
                    st.used_session |= !session.is_empty();
                    all.extend(session);
                }
                all
            }
        }
    }

    /// `SessionStorage._store`.
    fn store_session(&self, messages: &[Message]) -> Result<Vec<Message>, SessionError> {
        let Some(session) = &self.inner.session else {
            if !messages.is_empty() {
                tracing::warn!(
                    count = messages.len(),
                    "flash messages need a session: the request has none"
                );
            }
            return Ok(messages.to_vec());
        };
        if messages.is_empty() {
            if session.contains_key(SESSION_KEY) {
                session.remove(SESSION_KEY);
            }
        } else {
            session.insert_value(SESSION_KEY, Value::String(codec::encode_session(messages)))?;
        }
        Ok(Vec::new())
    }

    /// `CookieStorage._store`.
    fn store_cookie(
        &self,
        messages: &[Message],
        remove_oldest: bool,
        cookie: &mut Option<CookieUpdate>,
    ) -> Vec<Message> {
        let c = &self.inner.config;
        let stored = codec::store_cookie(
            messages,
            &c.signer,
            c.max_cookie_size,
            remove_oldest,
            OffsetDateTime::now_utc(),
        );
        *cookie = Some(match stored.value {
            Some(v) => CookieUpdate::Set(v),
            None => CookieUpdate::Delete,
        });
        stored.unstored
    }

    fn store(&self, st: &mut State, messages: Vec<Message>) -> Result<Update, SessionError> {
        let mut update = Update::default();
        match self.inner.config.storage {
            MessageStorage::Session => update.unstored = self.store_session(&messages)?,
            MessageStorage::Cookie => {
                update.unstored = self.store_cookie(&messages, true, &mut update.cookie);
            }
            MessageStorage::Fallback => {
                let mut rest = messages;
                if !rest.is_empty() {
                    rest = self.store_cookie(&rest, false, &mut update.cookie);
                } else if st.used_cookie {
                    let _ = self.store_cookie(&[], false, &mut update.cookie);
                    st.used_cookie = false;
                }
                if !rest.is_empty() {
                    rest = self.store_session(&rest)?;
                } else if st.used_session {
                    self.store_session(&[])?;
                    st.used_session = false;
                }
                update.unstored = rest;
            }
        }
        Ok(update)
    }

    /// Django's `storage.update(response)`, run by `MessageMiddleware` after the view:
    /// stores what is left unread (see the type's rules) in the session (not saved here:
    /// the session layer saves it) and says what to do with the `messages` cookie. The
    /// adapters call it; a second call does nothing.
    pub fn update(&self) -> Result<Update, SessionError> {
        let mut st = self.state();
        if st.updated {
            return Ok(Update::default());
        }
        st.updated = true;
        if st.used {
            let queued = std::mem::take(&mut st.queued);
            self.store(&mut st, queued)
        } else if st.added_new {
            self.load(&mut st);
            let mut all = st.loaded.take().unwrap_or_default();
            all.append(&mut st.queued);
            self.store(&mut st, all)
        } else {
            Ok(Update::default())
        }
    }
}
