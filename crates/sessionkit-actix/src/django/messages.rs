//! Django's flash messages (feature `django`): [`MessagesMiddleware`] and the
//! [`Messages`] extractor over `sessionkit-django`'s [`RequestMessages`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderValue, SET_COOKIE};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use sessionkit_core::RequestSession;
use sessionkit_django::messages::{MessagesConfig, MessagesSlot, RequestMessages};

/// actix-web middleware giving handlers Django's flash messages ([`Messages`]),
/// configured like Django's `MESSAGE_STORAGE` by a [`MessagesConfig`], and writing them
/// after the handler as Django's `MessageMiddleware` does: into the session (saved by the
/// session middleware) and the signed `messages` cookie.
///
/// Register it **before** [`SessionMiddleware`](crate::SessionMiddleware) (`.wrap(messages)`
/// then `.wrap(session)`: actix runs the last one registered first), so that it runs
/// inside the session middleware and the session it writes is saved.
///
/// ```
/// use actix_web::{App, web};
/// use sessionkit_actix::{Messages, MessagesMiddleware, SessionMiddleware};
/// use sessionkit_core::{Config, MemoryStore};
/// use sessionkit_django::Secrets;
/// use sessionkit_django::messages::MessagesConfig;
///
/// async fn save(Messages(messages): Messages) -> &'static str {
///     messages.success("Saved");
///     "ok"
/// }
///
/// let config = Config::default();
/// let messages = MessagesConfig::new(&Secrets::new("django-secret-key"))
///     .with_session_cookie(&config);
/// let session = SessionMiddleware::new(MemoryStore::new(), config);
/// let app = App::new()
///     .wrap(MessagesMiddleware::new(messages))
///     .wrap(session)
///     .route("/save", web::get().to(save));
/// ```
#[derive(Clone, Debug)]
pub struct MessagesMiddleware {
    config: MessagesConfig,
}

impl MessagesMiddleware {
    /// Middleware with `config`.
    pub fn new(config: MessagesConfig) -> MessagesMiddleware {
        MessagesMiddleware { config }
    }
}

crate::transform::transform!(
    MessagesMiddleware => MessagesMiddlewareService { config: MessagesConfig },
    B => B,
    fn call(service, config, req) {
        let cookie = sessionkit_core::actix::cookie_header(req.headers());
        let slot = MessagesSlot::new(config, cookie.as_deref());
        req.extensions_mut().insert(slot.clone());
        Box::pin(async move {
            let mut res = service.call(req).await?;
            if let Some(set_cookie) = slot.finish_header::<HeaderValue>() {
                res.headers_mut().append(SET_COOKIE, set_cookie);
            }
            Ok(res)
        })
    }
);

/// Django's flash messages of the request (`request._messages`): add with
/// [`RequestMessages::add`] / [`info`](RequestMessages::info)…, read and consume with
/// [`RequestMessages::consume`]. Needs the [`MessagesMiddleware`] and, for the session and
/// fallback storages, the [`SessionMiddleware`](crate::SessionMiddleware) around it.
#[derive(Debug, Clone)]
pub struct Messages(pub RequestMessages);

/// Why [`Messages`] failed: the middleware is missing on this route (500).
#[derive(Debug)]
#[non_exhaustive]
pub struct MessagesMissing(&'static str);

impl fmt::Display for MessagesMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} missing on this route", self.0)
    }
}

impl ResponseError for MessagesMissing {
    fn error_response(&self) -> HttpResponse {
        tracing::error!("Messages extractor: {self}");
        sessionkit_core::actix::internal_error("Internal Server Error")
    }
}

impl FromRequest for Messages {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Messages, Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let slot = req.extensions().get::<MessagesSlot>().cloned();
        let rs = req.extensions().get::<RequestSession>().cloned();
        Box::pin(async move {
            let slot = slot.ok_or(MessagesMissing("MessagesMiddleware"))?;
            let session = async {
                let rs = rs.ok_or(MessagesMissing("SessionMiddleware"))?;
                Ok::<_, Error>(rs.load().await?)
            };
            Ok(Messages(slot.messages(session).await?))
        })
    }
}
