//! Django's flash messages (`django.contrib.messages`), in Django's own encodings, so that
//! a message added on one side of a site is shown by the other.
//!
//! | Django | here |
//! | --- | --- |
//! | `MESSAGE_STORAGE` | [`MessageStorage`]: [`Session`](MessageStorage::Session), [`Cookie`](MessageStorage::Cookie), [`Fallback`](MessageStorage::Fallback) (Django's default) |
//! | `MESSAGE_LEVEL` | [`MessagesConfig::with_level`] (default [`INFO`]) |
//! | `MESSAGE_TAGS` | [`MessagesConfig::with_tags`], merged over [`DEFAULT_TAGS`] |
//! | `SESSION_COOKIE_DOMAIN` / `_SECURE` / `_HTTPONLY` / `_SAMESITE` (the `messages` cookie's attributes) | [`MessagesConfig::with_session_cookie`] |
//! | `request._messages` (the storage of one request) | [`RequestMessages`] |
//! | `messages.add_message`, `messages.info`… | [`RequestMessages::add`], [`RequestMessages::info`]… |
//! | `for m in get_messages(request)` | [`RequestMessages::consume`] |
//! | `MessageMiddleware.process_response` | [`RequestMessages::update`] |
//!
//! The wire formats ([`codec`]):
//!
//! * **session storage** keeps a JSON *string* under [`SESSION_KEY`] (`_messages`):
//!   `[["__json_message", 0, 20, "Saved", ""]]` — Django's `MessageEncoder` with its
//!   default `", "` separators; each entry is `[marker, is_safedata, level, message]`
//!   plus `extra_tags` when it is not `None`;
//! * **cookie storage** keeps the same entries, compact (`","`), in the `messages` cookie
//!   signed by Django's cookie signer (salt [`COOKIE_SALT`], `TimestampSigner` over
//!   `"django.http.cookies" + SECRET_KEY`, zlib when it pays), at most
//!   [`MAX_COOKIE_SIZE`] bytes: what does not fit is dropped (cookie storage alone, the
//!   oldest first) or handed to the session (fallback storage, the newest), the cookie
//!   then ending with the [`NOT_FINISHED`] sentinel.
//!
//! The adapters (`sessionkit-tower` and `sessionkit-actix`, feature `django`) create a
//! [`RequestMessages`] per request, hand it to handlers as an extractor and write the
//! result on the response (the session, and the `messages` cookie).
//!
//! ```
//! use sessionkit_core::Session;
//! use sessionkit_django::Secrets;
//! use sessionkit_django::messages::{MessageStorage, MessagesConfig, RequestMessages};
//!
//! let config = MessagesConfig::new(&Secrets::new("django-secret-key"))
//!     .with_storage(MessageStorage::Session);
//!
//! // Request 1 adds a message (Django: `messages.success(request, "Saved")`).
//! let session = Session::detached();
//! let messages = RequestMessages::new(&config, None, Some(session.clone()));
//! messages.success("Saved");
//! let update = messages.update().unwrap();
//! assert_eq!(update.cookie, None); // session storage: no cookie
//! let stored: String = session.get("_messages").unwrap().unwrap();
//! assert_eq!(stored, r#"[["__json_message", 0, 25, "Saved", ""]]"#);
//!
//! // Request 2 shows it (Django: `{% for m in messages %}`); it is then gone.
//! let messages = RequestMessages::new(&config, None, Some(session.clone()));
//! let shown = messages.consume();
//! assert_eq!(shown[0].message, "Saved");
//! assert_eq!(config.tags(&shown[0]), "success");
//! let _ = messages.update().unwrap();
//! assert!(!session.contains_key("_messages"));
//! ```

pub mod codec;
mod request;
mod slot;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use sessionkit_core::{Config, SameSite};

pub use request::{CookieUpdate, RequestMessages, Update};
pub use slot::MessagesSlot;

use crate::signing::{Secrets, Signer};

/// `messages.DEBUG`.
pub const DEBUG: i64 = 10;
/// `messages.INFO`.
pub const INFO: i64 = 20;
/// `messages.SUCCESS`.
pub const SUCCESS: i64 = 25;
/// `messages.WARNING`.
pub const WARNING: i64 = 30;
/// `messages.ERROR`.
pub const ERROR: i64 = 40;

/// Django's `DEFAULT_TAGS`: the level tag of each built-in level.
pub const DEFAULT_TAGS: [(i64, &str); 5] = [
    (DEBUG, "debug"),
    (INFO, "info"),
    (SUCCESS, "success"),
    (WARNING, "warning"),
    (ERROR, "error"),
];

/// The session key of [`MessageStorage::Session`] (`SessionStorage.session_key`).
pub const SESSION_KEY: &str = "_messages";

/// The cookie of [`MessageStorage::Cookie`] (`CookieStorage.cookie_name`).
pub const COOKIE_NAME: &str = "messages";

/// The signing salt of the cookie (`CookieStorage.key_salt`).
pub const COOKIE_SALT: &str = "django.contrib.messages";

/// The cookie size limit (`CookieStorage.max_cookie_size`).
pub const MAX_COOKIE_SIZE: usize = 2048;

/// The sentinel ending a cookie that could not hold every message
/// (`CookieStorage.not_finished`): the rest is in the session.
pub const NOT_FINISHED: &str = "__messagesnotfinished__";

/// The marker opening each encoded message (`MessageEncoder.message_key`).
pub const MESSAGE_KEY: &str = "__json_message";

/// One message (Django's `storage.base.Message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The level ([`DEBUG`], [`INFO`], [`SUCCESS`], [`WARNING`], [`ERROR`] or any other
    /// integer).
    pub level: i64,
    /// The text.
    pub message: String,
    /// `extra_tags`: `Some("")` for a message added through `add_message` (Django's
    /// default), `None` for one built without (not encoded at all).
    pub extra_tags: Option<String>,
    /// Whether the text is a `SafeData` (`mark_safe`): Django's templates show it without
    /// escaping. Rust code rendering messages must escape the others.
    pub safe: bool,
}

impl Message {
    /// A message as `add_message(request, level, message)` makes it: extra tags `""`,
    /// not safe.
    pub fn new(level: i64, message: impl Into<String>) -> Message {
        Message {
            level,
            message: message.into(),
            extra_tags: Some(String::new()),
            safe: false,
        }
    }

    /// Sets `extra_tags`.
    #[must_use]
    pub fn with_extra_tags(mut self, extra_tags: impl Into<String>) -> Message {
        self.extra_tags = Some(extra_tags.into());
        self
    }

    /// Marks the text safe (`mark_safe`): Django's templates will not escape it.
    #[must_use]
    pub fn mark_safe(mut self) -> Message {
        self.safe = true;
        self
    }
}

impl fmt::Display for Message {
    /// The text (`str(message)`), unescaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where messages travel (`MESSAGE_STORAGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageStorage {
    /// `django.contrib.messages.storage.session.SessionStorage`.
    Session,
    /// `django.contrib.messages.storage.cookie.CookieStorage`.
    Cookie,
    /// `django.contrib.messages.storage.fallback.FallbackStorage` (Django's default): the
    /// cookie first, then the session for what does not fit.
    #[default]
    Fallback,
}

impl MessageStorage {
    /// The dotted path Django's `MESSAGE_STORAGE` names.
    pub fn setting(self) -> &'static str {
        match self {
            MessageStorage::Session => "django.contrib.messages.storage.session.SessionStorage",
            MessageStorage::Cookie => "django.contrib.messages.storage.cookie.CookieStorage",
            MessageStorage::Fallback => "django.contrib.messages.storage.fallback.FallbackStorage",
        }
    }

    /// The storage a `MESSAGE_STORAGE` value names; `None` for a custom class.
    ///
    /// ```
    /// use sessionkit_django::messages::MessageStorage;
    ///
    /// let s = MessageStorage::from_setting("django.contrib.messages.storage.session.SessionStorage");
    /// assert_eq!(s, Some(MessageStorage::Session));
    /// assert_eq!(MessageStorage::from_setting("myapp.MyStorage"), None);
    /// ```
    pub fn from_setting(path: &str) -> Option<MessageStorage> {
        [
            MessageStorage::Session,
            MessageStorage::Cookie,
            MessageStorage::Fallback,
        ]
        .into_iter()
        .find(|s| s.setting() == path)
    }

    /// Whether this storage keeps messages in the session (so needs one).
    pub fn uses_session(self) -> bool {
        !matches!(self, MessageStorage::Cookie)
    }
}

/// The `messages` cookie's attributes: Django takes them from the session cookie settings.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CookieAttributes {
    domain: Option<String>,
    secure: bool,
    httponly: bool,
    samesite: Option<SameSite>,
}

/// The messages framework configured like the Django site: `MESSAGE_STORAGE`,
/// `MESSAGE_LEVEL`, `MESSAGE_TAGS`, the secrets signing the cookie and the cookie's
/// attributes. Cheap to clone.
#[derive(Clone)]
pub struct MessagesConfig {
    storage: MessageStorage,
    level: i64,
    tags: Arc<BTreeMap<i64, String>>,
    signer: Signer,
    max_cookie_size: usize,
    cookie: Arc<CookieAttributes>,
}

impl fmt::Debug for MessagesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessagesConfig")
            .field("storage", &self.storage)
            .field("level", &self.level)
            .field("tags", &self.tags)
            .field("signer", &self.signer)
            .field("max_cookie_size", &self.max_cookie_size)
            .field("cookie", &self.cookie)
            .finish()
    }
}

/// Django's cookie signer key for one secret (`signing._cookie_signer_key`).
fn cookie_key(secret: &str) -> String {
    format!("django.http.cookies{secret}")
}

/// Django's `get_cookie_signer(salt)`: a `TimestampSigner` keyed with
/// `"django.http.cookies" + key` for `SECRET_KEY` and every fallback.
pub fn cookie_signer(secrets: &Secrets, salt: &str) -> Signer {
    let keys = Secrets::new(cookie_key(secrets.current()))
        .with_fallbacks(secrets.fallbacks().map(cookie_key));
    Signer::new(&keys, salt)
}

impl MessagesConfig {
    /// Django's defaults: [`MessageStorage::Fallback`], level [`INFO`], [`DEFAULT_TAGS`],
    /// the cookie `HttpOnly; Path=/; SameSite=Lax`, signed with `secrets` (`SECRET_KEY`
    /// and `SECRET_KEY_FALLBACKS`).
    pub fn new(secrets: &Secrets) -> MessagesConfig {
        MessagesConfig {
            storage: MessageStorage::default(),
            level: INFO,
            tags: Arc::new(
                DEFAULT_TAGS
                    .iter()
                    .map(|&(l, t)| (l, t.to_owned()))
                    .collect(),
            ),
            signer: cookie_signer(secrets, COOKIE_SALT),
            max_cookie_size: MAX_COOKIE_SIZE,
            cookie: Arc::new(CookieAttributes {
                domain: None,
                secure: false,
                httponly: true,
                samesite: Some(SameSite::Lax),
            }),
        }
    }

    /// `MESSAGE_STORAGE`.
    #[must_use]
    pub fn with_storage(mut self, storage: MessageStorage) -> MessagesConfig {
        self.storage = storage;
        self
    }

    /// `MESSAGE_LEVEL`: messages below it are not recorded (default [`INFO`], so
    /// [`DEBUG`] messages are dropped, as in Django).
    #[must_use]
    pub fn with_level(mut self, level: i64) -> MessagesConfig {
        self.level = level;
        self
    }

    /// `MESSAGE_TAGS`: level tags merged over [`DEFAULT_TAGS`] (a level listed here
    /// replaces the default tag; new levels get one).
    #[must_use]
    pub fn with_tags<I, S>(mut self, tags: I) -> MessagesConfig
    where
        I: IntoIterator<Item = (i64, S)>,
        S: Into<String>,
    {
        let mut merged = (*self.tags).clone();
        merged.extend(tags.into_iter().map(|(l, t)| (l, t.into())));
        self.tags = Arc::new(merged);
        self
    }

    /// The cookie size limit (default [`MAX_COOKIE_SIZE`], Django's; `0` = no limit).
    #[must_use]
    pub fn with_max_cookie_size(mut self, bytes: usize) -> MessagesConfig {
        self.max_cookie_size = bytes;
        self
    }

    /// Takes the `messages` cookie's `Domain`, `Secure`, `HttpOnly` and `SameSite` from
    /// the session cookie's configuration, as Django does (`SESSION_COOKIE_*`).
    #[must_use]
    pub fn with_session_cookie(mut self, config: &Config) -> MessagesConfig {
        self.cookie = Arc::new(CookieAttributes {
            domain: config.cookie_domain().map(str::to_owned),
            secure: config.cookie_secure(),
            httponly: config.cookie_httponly(),
            samesite: config.cookie_samesite(),
        });
        self
    }

    /// The storage.
    pub fn storage(&self) -> MessageStorage {
        self.storage
    }

    /// The recording level (`MESSAGE_LEVEL`).
    pub fn level(&self) -> i64 {
        self.level
    }

    /// The cookie size limit.
    pub fn max_cookie_size(&self) -> usize {
        self.max_cookie_size
    }

    /// The cookie signer.
    pub fn signer(&self) -> &Signer {
        &self.signer
    }

    /// `message.level_tag`: the tag of a level, `""` for a level without one.
    pub fn level_tag(&self, level: i64) -> &str {
        self.tags.get(&level).map_or("", String::as_str)
    }

    /// `message.tags`: the extra tags and the level tag, space-separated, empty ones left
    /// out (`"extra success"`).
    ///
    /// ```
    /// use sessionkit_django::Secrets;
    /// use sessionkit_django::messages::{ERROR, Message, MessagesConfig};
    ///
    /// let config = MessagesConfig::new(&Secrets::new("k")).with_tags([(ERROR, "danger")]);
    /// assert_eq!(config.tags(&Message::new(ERROR, "Oops").with_extra_tags("big")), "big danger");
    /// assert_eq!(config.tags(&Message::new(99, "?")), "");
    /// ```
    pub fn tags(&self, message: &Message) -> String {
        let level_tag = self.level_tag(message.level);
        match message.extra_tags.as_deref() {
            Some(extra) if !extra.is_empty() && !level_tag.is_empty() => {
                format!("{extra} {level_tag}")
            }
            Some(extra) if !extra.is_empty() => extra.to_owned(),
            _ => level_tag.to_owned(),
        }
    }

    /// The `Set-Cookie` value Django's `response.set_cookie("messages", value, …)` sends:
    /// `messages=VALUE; Domain; HttpOnly; Path=/; SameSite; Secure` (a browser-session
    /// cookie).
    pub fn set_cookie(&self, value: &str) -> String {
        let c = &self.cookie;
        let mut s = format!("{COOKIE_NAME}={value}");
        if let Some(domain) = &c.domain {
            s.push_str("; Domain=");
            s.push_str(domain);
        }
        if c.httponly {
            s.push_str("; HttpOnly");
        }
        s.push_str("; Path=/");
        if let Some(ss) = c.samesite {
            s.push_str("; SameSite=");
            s.push_str(ss.as_str());
        }
        if c.secure {
            s.push_str("; Secure");
        }
        s
    }

    /// The `Set-Cookie` value of Django's `response.delete_cookie("messages", domain,
    /// samesite)`.
    pub fn removal_cookie(&self) -> String {
        let c = &self.cookie;
        let mut s = format!("{COOKIE_NAME}=\"\"");
        if let Some(domain) = &c.domain {
            s.push_str("; Domain=");
            s.push_str(domain);
        }
        s.push_str("; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/");
        if let Some(ss) = c.samesite {
            s.push_str("; SameSite=");
            s.push_str(ss.as_str());
        }
        if c.samesite == Some(SameSite::None) {
            s.push_str("; Secure");
        }
        s
    }

    /// The `Set-Cookie` value of an [`CookieUpdate`].
    pub fn cookie_header(&self, update: &CookieUpdate) -> String {
        match update {
            CookieUpdate::Set(value) => self.set_cookie(value),
            CookieUpdate::Delete => self.removal_cookie(),
        }
    }
}

#[cfg(test)]
mod tests;
