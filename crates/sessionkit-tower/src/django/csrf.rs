//! Django's CSRF protection under `CSRF_USE_SESSIONS = True` (feature `django`):
//! [`CsrfLayer`] and the [`CsrfToken`] extractor over `sessionkit-django`'s
//! [`CsrfConfig`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, HOST, ORIGIN, REFERER};
use http::request::Parts;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use sessionkit_core::{IdSource, RequestSession, SessionError, SessionRejection};
use sessionkit_django::csrf::{
    CsrfConfig, CsrfRequest, form_token, get_token, is_safe_method, session_secret,
};
use tower_layer::Layer;
use tower_service::Service;

/// The largest form body the layer reads for its `csrfmiddlewaretoken` (Django's
/// `DATA_UPLOAD_MAX_MEMORY_SIZE`, 2.5 MB); a larger url-encoded POST is refused (413).
pub const MAX_FORM_BODY: usize = 2_621_440;

/// A tower layer refusing unsafe requests (anything but `GET`, `HEAD`, `OPTIONS`,
/// `TRACE`) that fail Django's CSRF checks ([`CsrfConfig::check`]) with a 403 whose body
/// names Django's reason. The secret is the session's `_csrftoken`, as with Django's
/// `CSRF_USE_SESSIONS = True`, so tokens rendered by either side are accepted by both.
///
/// A session identified by the session **header** (not a cookie) is exempt: a browser
/// never attaches a custom header cross-site. Routes that must not be protected (Django's
/// `csrf_exempt`) are routed outside the layer.
///
/// Goes inside the [`SessionLayer`](crate::SessionLayer). The token comes from the form
/// field `csrfmiddlewaretoken` of a url-encoded body (read, then handed on unchanged), else
/// from the `X-CSRFToken` header (`CSRF_HEADER_NAME`); multipart bodies are not parsed, so
/// multipart forms send the header.
///
/// With flash messages, as in docs/DJANGO.md ("A complete example"):
///
/// ```
/// use axum::{Router, routing::get};
/// use sessionkit_core::{Config, MemoryStore};
/// use sessionkit_django::Secrets;
/// use sessionkit_django::csrf::CsrfConfig;
/// use sessionkit_django::messages::MessagesConfig;
/// use sessionkit_tower::{CsrfLayer, CsrfToken, Messages, MessagesLayer, SessionLayer};
///
/// async fn form(CsrfToken(token): CsrfToken, Messages(messages): Messages) -> String {
///     let shown: Vec<String> = messages.consume().iter().map(|m| m.to_string()).collect();
///     format!(
///         r#"<p>{}</p><form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="{token}"><button>Send</button></form>"#,
///         shown.join(" | ") // escape texts that are not `safe` in real pages
///     )
/// }
///
/// async fn sent(Messages(messages): Messages) -> &'static str {
///     messages.success("Sent"); // shown by the next page, Django's or ours
///     "Sent"
/// }
///
/// let secrets = Secrets::new("the Django site's SECRET_KEY");
/// let config = Config::default(); // cookie `sessionid`, as Django
/// let messages = MessagesConfig::new(&secrets).with_session_cookie(&config);
/// let csrf = CsrfConfig::new().with_trusted_origins(["https://www.example.com"]);
/// let app: Router = Router::new()
///     .route("/form", get(form).post(sent))
///     .layer(CsrfLayer::new(csrf))
///     .layer(MessagesLayer::new(messages))
///     .layer(SessionLayer::new(MemoryStore::new(), config)); // a Django layout store in practice
/// ```
#[derive(Clone, Debug)]
pub struct CsrfLayer {
    config: CsrfConfig,
}

impl CsrfLayer {
    /// A layer with `config`.
    pub fn new(config: CsrfConfig) -> CsrfLayer {
        CsrfLayer { config }
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = CsrfService<S>;

    fn layer(&self, inner: S) -> CsrfService<S> {
        CsrfService {
            inner,
            config: self.config.clone(),
        }
    }
}

/// The service made by [`CsrfLayer`].
#[derive(Clone)]
pub struct CsrfService<S> {
    inner: S,
    config: CsrfConfig,
}

impl<S> fmt::Debug for CsrfService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the request came over HTTPS: `SECURE_PROXY_SSL_HEADER` when configured, else
/// the URI's scheme.
fn is_secure<B>(config: &CsrfConfig, req: &Request<B>) -> bool {
    match config.secure_proxy_ssl_header() {
        Some((name, value)) => text(req.headers(), name) == Some(value),
        None => req.uri().scheme_str() == Some("https"),
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    text(headers, CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

fn forbidden(
    config: &CsrfConfig,
    reason: &sessionkit_django::csrf::Reason,
    path: &str,
) -> Response {
    tracing::warn!(%reason, path, "Forbidden (CSRF)");
    (
        StatusCode::FORBIDDEN,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        config.failure_body(reason),
    )
        .into_response()
}

impl<S> Service<Request<Body>> for CsrfService<S>
where
    S: Service<Request<Body>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        Box::pin(async move {
            if is_safe_method(req.method().as_str()) {
                return inner.call(req).await;
            }
            let Some(rs) = req.extensions().get::<RequestSession>().cloned() else {
                tracing::error!("CsrfLayer without a SessionLayer around it");
                return Ok(
                    (StatusCode::INTERNAL_SERVER_ERROR, "SessionLayer missing.").into_response()
                );
            };
            if rs.id_source() == IdSource::Header {
                return inner.call(req).await;
            }
            let session = match rs.load().await {
                Ok(s) => s,
                Err(e) => return Ok(SessionRejection::Load(e).into_response()),
            };
            let (parts, body) = req.into_parts();
            let (body, posted) = if parts.method == http::Method::POST && is_form(&parts.headers) {
                match Limited::new(body, MAX_FORM_BODY).collect().await {
                    Ok(collected) => {
                        let bytes = collected.to_bytes();
                        let token = form_token(&bytes);
                        (Body::from(bytes), token)
                    }
                    Err(_) => {
                        return Ok((StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.")
                            .into_response());
                    }
                }
            } else {
                (body, None)
            };
            let req = Request::from_parts(parts, body);
            let headers = req.headers();
            let host =
                text(headers, HOST.as_str()).or_else(|| req.uri().authority().map(|a| a.as_str()));
            let check = CsrfRequest {
                method: req.method().as_str(),
                secure: is_secure(&config, &req),
                host,
                origin: text(headers, ORIGIN.as_str()),
                referer: text(headers, REFERER.as_str()),
                form_token: posted.as_deref(),
                header_token: text(headers, config.header_name()),
            };
            if let Err(reason) = config.check(&check, session_secret(&session).as_deref()) {
                return Ok(forbidden(&config, &reason, req.uri().path()));
            }
            inner.call(req).await
        })
    }
}

/// A masked CSRF token for the request's session (Django's `get_token(request)`), to put
/// in forms as `csrfmiddlewaretoken` or send as `X-CSRFToken`: a new secret is stored in
/// the session if it has none. Needs the [`SessionLayer`](crate::SessionLayer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(pub String);

/// Why [`CsrfToken`] rejected a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum CsrfTokenRejection {
    /// The session layer is missing or the session could not be loaded.
    Session(SessionRejection),
    /// The session refused the new secret.
    Write(SessionError),
}

impl IntoResponse for CsrfTokenRejection {
    fn into_response(self) -> Response {
        match self {
            CsrfTokenRejection::Session(r) => r.into_response(),
            CsrfTokenRejection::Write(e) => e.into_response(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = CsrfTokenRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let rs = RequestSession::from_request_parts(parts, state)
            .await
            .map_err(CsrfTokenRejection::Session)?;
        let session = rs
            .load()
            .await
            .map_err(|e| CsrfTokenRejection::Session(SessionRejection::Load(e)))?;
        get_token(&session)
            .map(CsrfToken)
            .map_err(CsrfTokenRejection::Write)
    }
}
