//! Django's flash messages (feature `django`): [`MessagesMiddleware`] and the
//! [`Messages`] extractor over `sessionkit-django`'s [`RequestMessages`].

use std::fmt;
use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use sessionkit_core::RequestSession;
use sessionkit_django::messages::{COOKIE_NAME, MessagesConfig, RequestMessages};

/// The per-request slot the middleware puts in the extensions; the extractor fills it.
#[derive(Clone)]
struct Slot {
    config: MessagesConfig,
    cookie: Option<Arc<str>>,
    messages: Arc<OnceLock<RequestMessages>>,
}

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

impl<S, B> Transform<S, ServiceRequest> for MessagesMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = MessagesMiddlewareService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(MessagesMiddlewareService {
            service: Rc::new(service),
            config: self.config.clone(),
        }))
    }
}

/// The service made by [`MessagesMiddleware`].
pub struct MessagesMiddlewareService<S> {
    service: Rc<S>,
    config: MessagesConfig,
}

impl<S> fmt::Debug for MessagesMiddlewareService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessagesMiddlewareService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for MessagesMiddlewareService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let cookie = sessionkit_core::actix::cookie_header(req.headers())
            .and_then(|h| sessionkit_core::cookie::find(&h, COOKIE_NAME).map(|c| Arc::from(&*c)));
        let slot = Slot {
            config: self.config.clone(),
            cookie,
            messages: Arc::new(OnceLock::new()),
        };
        req.extensions_mut().insert(slot.clone());
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let mut res = service.call(req).await?;
            if let Some(messages) = slot.messages.get() {
                finish(&slot.config, messages, res.headers_mut());
            }
            Ok(res)
        })
    }
}

/// `MessageMiddleware.process_response`: the update, its cookie on the response.
fn finish(config: &MessagesConfig, messages: &RequestMessages, headers: &mut HeaderMap) {
    match messages.update() {
        Ok(update) => {
            if let Some(cookie) = &update.cookie {
                match HeaderValue::from_str(&config.cookie_header(cookie)) {
                    Ok(v) => headers.append(SET_COOKIE, v),
                    Err(_) => tracing::error!("the messages cookie is not a header value"),
                }
            }
            if !update.unstored.is_empty() {
                tracing::warn!(
                    count = update.unstored.len(),
                    "not all flash messages could be stored"
                );
            }
        }
        Err(error) => tracing::error!(%error, "flash messages could not be stored in the session"),
    }
}

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
        HttpResponse::InternalServerError()
            .content_type("text/plain; charset=utf-8")
            .body("Internal Server Error")
    }
}

impl FromRequest for Messages {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Messages, Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let slot = req.extensions().get::<Slot>().cloned();
        let rs = req.extensions().get::<RequestSession>().cloned();
        Box::pin(async move {
            let slot = slot.ok_or(MessagesMissing("MessagesMiddleware"))?;
            if let Some(m) = slot.messages.get() {
                return Ok(Messages(m.clone()));
            }
            let session = if slot.config.storage().uses_session() {
                let rs = rs.ok_or(MessagesMissing("SessionMiddleware"))?;
                Some(rs.load().await?)
            } else {
                None
            };
            let m = slot.messages.get_or_init(|| {
                RequestMessages::new(&slot.config, slot.cookie.as_deref(), session)
            });
            Ok(Messages(m.clone()))
        })
    }
}
