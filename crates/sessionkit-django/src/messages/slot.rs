//! [`MessagesSlot`]: what a framework's messages middleware keeps for one request.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use sessionkit_core::Session;

use super::{COOKIE_NAME, MessagesConfig, RequestMessages};

/// The per-request state of a framework's messages middleware, put in the request's
/// extensions for the extractor: the configuration, the request's `messages` cookie, and
/// the request's [`RequestMessages`] once a handler asked for them.
///
/// What Django's `MessageMiddleware` does is the same whatever the framework, so it is
/// here, once: the tower and actix-web adapters only carry the slot through their own
/// request types and put [`finish`](MessagesSlot::finish)'s cookie on their own responses.
///
/// ```
/// use sessionkit_django::Secrets;
/// use sessionkit_django::messages::{MessagesConfig, MessagesSlot};
///
/// let config = MessagesConfig::new(&Secrets::new("django-secret-key"));
/// let slot = MessagesSlot::new(&config, Some("csrftoken=abc"));
/// assert!(slot.get().is_none());
/// slot.get_or_init(None).success("Saved");
/// assert_eq!(slot.get().unwrap().len(), 1);
/// let set_cookie = slot.finish().expect("the messages go to the cookie");
/// assert!(set_cookie.starts_with("messages="));
/// ```
#[derive(Clone)]
pub struct MessagesSlot {
    config: MessagesConfig,
    cookie: Option<Arc<str>>,
    messages: Arc<OnceLock<RequestMessages>>,
}

impl fmt::Debug for MessagesSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessagesSlot")
            .field("config", &self.config)
            .field("cookie", &self.cookie.is_some())
            .field("messages", &self.messages.get())
            .finish()
    }
}

impl MessagesSlot {
    /// The slot of a request whose `Cookie` header is `cookie_header`.
    pub fn new(config: &MessagesConfig, cookie_header: Option<&str>) -> MessagesSlot {
        MessagesSlot {
            config: config.clone(),
            cookie: cookie_header
                .and_then(|h| sessionkit_core::cookie::find(h, COOKIE_NAME))
                .map(|c| Arc::from(&*c)),
            messages: Arc::new(OnceLock::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MessagesConfig {
        &self.config
    }

    /// The request's messages, if a handler asked for them.
    pub fn get(&self) -> Option<&RequestMessages> {
        self.messages.get()
    }

    /// The request's messages, made on first use from the cookie and `session` (needed by
    /// the session and fallback storages: see [`RequestMessages::new`]).
    pub fn get_or_init(&self, session: Option<Session>) -> RequestMessages {
        self.messages
            .get_or_init(|| RequestMessages::new(&self.config, self.cookie.as_deref(), session))
            .clone()
    }

    /// The request's messages for an extractor: [`get_or_init`](MessagesSlot::get_or_init)
    /// with the session `session` resolves to, awaited only when the messages are made and
    /// their storage uses the session (the session and fallback storages).
    pub async fn messages<E>(
        &self,
        session: impl Future<Output = Result<Session, E>>,
    ) -> Result<RequestMessages, E> {
        if let Some(messages) = self.get() {
            return Ok(messages.clone());
        }
        let session = if self.config.storage().uses_session() {
            Some(session.await?)
        } else {
            None
        };
        Ok(self.get_or_init(session))
    }

    /// `MessageMiddleware.process_response`: stores the request's messages, if a handler
    /// asked for them, and returns the `Set-Cookie` value the response needs, if any.
    /// What cannot be stored is logged, not returned: the response goes out regardless.
    pub fn finish(&self) -> Option<String> {
        let messages = self.messages.get()?;
        match messages.update() {
            Ok(update) => {
                if !update.unstored.is_empty() {
                    tracing::warn!(
                        count = update.unstored.len(),
                        "not all flash messages could be stored"
                    );
                }
                update
                    .cookie
                    .as_ref()
                    .map(|cookie| self.config.cookie_header(cookie))
            }
            Err(error) => {
                tracing::error!(%error, "flash messages could not be stored in the session");
                None
            }
        }
    }

    /// [`finish`](MessagesSlot::finish)'s cookie as a header value of the framework's type
    /// `H` (`http`'s `HeaderValue`, of either major version); one that is not a valid
    /// header value is logged and left out.
    pub fn finish_header<H: for<'a> TryFrom<&'a str>>(&self) -> Option<H> {
        let cookie = self.finish()?;
        let value = H::try_from(cookie.as_str()).ok();
        if value.is_none() {
            tracing::error!("the messages cookie is not a header value");
        }
        value
    }
}
