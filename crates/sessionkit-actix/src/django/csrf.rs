//! Django's CSRF protection under `CSRF_USE_SESSIONS = True` (feature `django`):
//! [`CsrfMiddleware`] and the [`CsrfToken`] extractor over `sessionkit-django`'s
//! [`CsrfConfig`].

use std::future::Future;
use std::pin::Pin;

use actix_web::body::EitherBody;
use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, ORIGIN, REFERER};
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use sessionkit_core::{IdSource, RequestSession};
use sessionkit_django::csrf::{
    CsrfConfig, CsrfRequest, Reason, form_token, get_token, is_safe_method, session_secret,
};

/// The largest form body the middleware reads for its `csrfmiddlewaretoken` (Django's
/// `DATA_UPLOAD_MAX_MEMORY_SIZE`, 2.5 MB).
pub const MAX_FORM_BODY: usize = 2_621_440;

/// actix-web middleware refusing unsafe requests (anything but `GET`, `HEAD`, `OPTIONS`,
/// `TRACE`) that fail Django's CSRF checks ([`CsrfConfig::check`]) with a 403 whose body
/// names Django's reason. The secret is the session's `_csrftoken`, as with Django's
/// `CSRF_USE_SESSIONS = True`, so tokens rendered by either side are accepted by both.
///
/// A session identified by the session **header** (not a cookie) is exempt: a browser
/// never attaches a custom header cross-site. The token comes from the form field
/// `csrfmiddlewaretoken` of a url-encoded body (read, then handed on unchanged), else from
/// the `X-CSRFToken` header (`CSRF_HEADER_NAME`); multipart bodies are not parsed.
///
/// Register it **before** [`SessionMiddleware`](crate::SessionMiddleware) (actix runs the
/// last one registered first), so that it runs inside it.
///
/// ```
/// use actix_web::{App, web};
/// use sessionkit_actix::{CsrfMiddleware, CsrfToken, SessionMiddleware};
/// use sessionkit_core::{Config, MemoryStore};
/// use sessionkit_django::csrf::CsrfConfig;
///
/// async fn form(CsrfToken(token): CsrfToken) -> String {
///     format!(r#"<input type="hidden" name="csrfmiddlewaretoken" value="{token}">"#)
/// }
///
/// let app = App::new()
///     .wrap(CsrfMiddleware::new(CsrfConfig::new()))
///     .wrap(SessionMiddleware::new(MemoryStore::new(), Config::default()))
///     .route("/form", web::get().to(form))
///     .route("/form", web::post().to(|| async { "Sent" }));
/// ```
#[derive(Clone, Debug)]
pub struct CsrfMiddleware {
    config: CsrfConfig,
}

impl CsrfMiddleware {
    /// Middleware with `config`.
    pub fn new(config: CsrfConfig) -> CsrfMiddleware {
        CsrfMiddleware { config }
    }
}

crate::transform::transform!(
    CsrfMiddleware => CsrfMiddlewareService { config: CsrfConfig },
    B => EitherBody<B>,
    fn call(service, config, mut req) {
        let config = config.clone();
        Box::pin(async move {
            if is_safe_method(req.method().as_str()) {
                return Ok(service.call(req).await?.map_into_left_body());
            }
            let Some(rs) = req.extensions().get::<RequestSession>().cloned() else {
                tracing::error!("CsrfMiddleware without a SessionMiddleware around it");
                let res = HttpResponse::InternalServerError().body("SessionMiddleware missing.");
                return Ok(req.into_response(res).map_into_right_body());
            };
            if rs.id_source() == IdSource::Header {
                return Ok(service.call(req).await?.map_into_left_body());
            }
            let session = rs.load().await?;
            let posted = if req.method() == actix_web::http::Method::POST && is_form(req.headers())
            {
                let payload = {
                    let (http_req, payload) = req.parts_mut();
                    actix_web::web::Payload::from_request(http_req, payload).await?
                };
                let bytes = match payload.to_bytes_limited(MAX_FORM_BODY).await {
                    Ok(read) => read?,
                    Err(_) => {
                        let res = HttpResponse::PayloadTooLarge().body("Request body too large.");
                        return Ok(req.into_response(res).map_into_right_body());
                    }
                };
                let token = form_token(&bytes);
                req.set_payload(Payload::from(bytes));
                token
            } else {
                None
            };
            let secure = match config.secure_proxy_ssl_header() {
                Some((name, value)) => text(req.headers(), name) == Some(value),
                None => req.connection_info().scheme() == "https",
            };
            let host = req.connection_info().host().to_owned();
            let headers = req.headers();
            let check = CsrfRequest {
                method: req.method().as_str(),
                secure,
                host: Some(&host),
                origin: text(headers, ORIGIN.as_str()),
                referer: text(headers, REFERER.as_str()),
                form_token: posted.as_deref(),
                header_token: text(headers, config.header_name()),
            };
            if let Err(reason) = config.check(&check, session_secret(&session).as_deref()) {
                let res = forbidden(&config, &reason, req.path());
                return Ok(req.into_response(res).map_into_right_body());
            }
            Ok(service.call(req).await?.map_into_left_body())
        })
    }
);

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn is_form(headers: &HeaderMap) -> bool {
    text(headers, CONTENT_TYPE.as_str()).is_some_and(|ct| {
        ct.split(';').next().is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    })
}

fn forbidden(config: &CsrfConfig, reason: &Reason, path: &str) -> HttpResponse {
    tracing::warn!(%reason, path, "Forbidden (CSRF)");
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body(config.failure_body(reason))
}

/// A masked CSRF token for the request's session (Django's `get_token(request)`), to put
/// in forms as `csrfmiddlewaretoken` or send as `X-CSRFToken`: a new secret is stored in
/// the session if it has none. Needs the [`SessionMiddleware`](crate::SessionMiddleware).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(pub String);

impl FromRequest for CsrfToken {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<CsrfToken, Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let rs = req.extensions().get::<RequestSession>().cloned();
        Box::pin(async move {
            let rs = rs.ok_or_else(|| {
                actix_web::error::ErrorInternalServerError("SessionMiddleware missing")
            })?;
            let session = rs.load().await?;
            Ok(CsrfToken(get_token(&session)?))
        })
    }
}
