//! Django's flash messages (feature `django`): [`MessagesLayer`] and the [`Messages`]
//! extractor over `sessionkit-django`'s [`RequestMessages`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::SET_COOKIE;
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode};
use sessionkit_core::{RequestSession, SessionRejection};
use sessionkit_django::messages::{MessagesConfig, MessagesSlot, RequestMessages};
use tower_layer::Layer;
use tower_service::Service;

/// A tower layer giving handlers Django's flash messages ([`Messages`]), configured like
/// Django's `MESSAGE_STORAGE` by a [`MessagesConfig`], and writing them after the handler
/// as Django's `MessageMiddleware` does: into the session (saved by the session layer)
/// and the signed `messages` cookie.
///
/// Goes **inside** the [`SessionLayer`](crate::SessionLayer) (added before it, as
/// Django's `MessageMiddleware` comes after `SessionMiddleware`), so that the session it
/// writes is saved.
///
/// ```
/// use axum::{Router, routing::get};
/// use sessionkit_core::{Config, MemoryStore};
/// use sessionkit_django::Secrets;
/// use sessionkit_django::messages::MessagesConfig;
/// use sessionkit_tower::{Messages, MessagesLayer, SessionLayer};
///
/// async fn save(Messages(messages): Messages) -> &'static str {
///     messages.success("Saved");
///     "ok"
/// }
///
/// async fn show(Messages(messages): Messages) -> String {
///     let shown: Vec<String> = messages.consume().iter().map(|m| m.to_string()).collect();
///     format!("Messages: {}", shown.join(" | "))
/// }
///
/// let config = Config::default();
/// let messages = MessagesConfig::new(&Secrets::new("django-secret-key"))
///     .with_session_cookie(&config);
/// let app: Router = Router::new()
///     .route("/save", get(save))
///     .route("/show", get(show))
///     .layer(MessagesLayer::new(messages))
///     .layer(SessionLayer::new(MemoryStore::new(), config));
/// ```
#[derive(Clone, Debug)]
pub struct MessagesLayer {
    config: MessagesConfig,
}

impl MessagesLayer {
    /// A layer with `config`.
    pub fn new(config: MessagesConfig) -> MessagesLayer {
        MessagesLayer { config }
    }
}

impl<S> Layer<S> for MessagesLayer {
    type Service = MessagesService<S>;

    fn layer(&self, inner: S) -> MessagesService<S> {
        MessagesService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service made by [`MessagesLayer`].
#[derive(Clone)]
pub struct MessagesService<S> {
    inner: S,
    config: MessagesConfig,
}

impl<S> fmt::Debug for MessagesService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessagesService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for MessagesService<S>
where
    S: Service<Request<ReqB>, Response = http::Response<ResB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqB: Send + 'static,
    ResB: Send + 'static,
{
    type Response = http::Response<ResB>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<ResB>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqB>) -> Self::Future {
        let cookie = sessionkit_core::http::cookie_header(req.headers());
        let slot = MessagesSlot::new(&self.config, cookie.as_deref());
        req.extensions_mut().insert(slot.clone());
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut res = inner.call(req).await?;
            if let Some(set_cookie) = slot.finish_header::<HeaderValue>() {
                res.headers_mut().append(SET_COOKIE, set_cookie);
            }
            Ok(res)
        })
    }
}

/// Django's flash messages of the request (`request._messages`): add with
/// [`RequestMessages::add`] / [`info`](RequestMessages::info)…, read and consume with
/// [`RequestMessages::consume`]. Needs the [`MessagesLayer`] and, for the session and
/// fallback storages, the [`SessionLayer`](crate::SessionLayer) around it.
#[derive(Debug, Clone)]
pub struct Messages(pub RequestMessages);

/// Why [`Messages`] rejected a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum MessagesRejection {
    /// No [`MessagesLayer`] on this route (a programming error: 500).
    MissingLayer,
    /// The session layer is missing or the session could not be loaded.
    Session(SessionRejection),
}

impl IntoResponse for MessagesRejection {
    fn into_response(self) -> Response {
        match self {
            MessagesRejection::MissingLayer => {
                tracing::error!("Messages extractor used on a route without a MessagesLayer");
                (StatusCode::INTERNAL_SERVER_ERROR, "MessagesLayer missing.").into_response()
            }
            MessagesRejection::Session(rejection) => rejection.into_response(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Messages {
    type Rejection = MessagesRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let slot = parts
            .extensions
            .get::<MessagesSlot>()
            .cloned()
            .ok_or(MessagesRejection::MissingLayer)?;
        let session = async {
            let rs = RequestSession::from_request_parts(parts, state)
                .await
                .map_err(MessagesRejection::Session)?;
            rs.load()
                .await
                .map_err(|e| MessagesRejection::Session(SessionRejection::Load(e)))
        };
        Ok(Messages(slot.messages(session).await?))
    }
}
