//! Beside a Django site (feature `django`): the `DjangoUser` extractor (the request's
//! user by Django's `get_user()` rules, through a [`DjangoAuth`] in the app data), flash
//! messages ([`Messages`], [`MessagesMiddleware`]) and CSRF protection
//! ([`CsrfMiddleware`], [`CsrfToken`]).

mod csrf;
mod messages;

pub use csrf::{CsrfMiddleware, CsrfMiddlewareService, CsrfToken, MAX_FORM_BODY};
pub use messages::{Messages, MessagesMiddleware, MessagesMiddlewareService, MessagesMissing};

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use sessionkit_core::actix::failure_response;
use sessionkit_core::{Failure, RequestSession};
use sessionkit_django::auth::{AuthError, CurrentUser, DjangoAuth, LOADER_UNAVAILABLE_MESSAGE};

/// The logged-in user (or anonymous) of the request's session, as Django's
/// `request.user`: [`DjangoAuth::get_user`] run on the session, which may flush it (a
/// stale auth hash) or cycle its key (a hash made with a fallback secret).
///
/// Needs the [`SessionMiddleware`](crate::SessionMiddleware) and a [`DjangoAuth`] as app
/// data (`App::app_data(web::Data::new(auth))`, or the `DjangoAuth` itself). A failing
/// user loader answers 503 through the one failure renderer, like a store outage: never a
/// silent login or logout.
///
/// ```
/// use sessionkit_actix::DjangoUser;
/// use sessionkit_django::auth::CurrentUser;
///
/// async fn whoami(DjangoUser(user): DjangoUser) -> String {
///     match user {
///         CurrentUser::User { user, .. } => format!("User: {}", user.id),
///         CurrentUser::Anonymous => "Anonymous".to_owned(),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoUser(pub CurrentUser);

/// Why [`DjangoUser`] failed (rendered by [`ResponseError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum DjangoUserError {
    /// No session middleware, or no `DjangoAuth` app data (a programming error: 500).
    Missing(&'static str),
    /// The user loader failed (503 with the configured `Retry-After`).
    Unavailable {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// The session refused a write, or another auth failure (500; details logged).
    Internal,
}

impl std::fmt::Display for DjangoUserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DjangoUserError::Missing(what) => write!(f, "{what} missing on this route"),
            DjangoUserError::Unavailable { .. } => f.write_str(LOADER_UNAVAILABLE_MESSAGE),
            DjangoUserError::Internal => f.write_str("auth failed"),
        }
    }
}

impl ResponseError for DjangoUserError {
    fn status_code(&self) -> StatusCode {
        match self {
            DjangoUserError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            DjangoUserError::Unavailable { retry_after } => failure_response(
                &Failure::unavailable_with(Some(*retry_after), LOADER_UNAVAILABLE_MESSAGE),
                [],
            ),
            DjangoUserError::Missing(_) | DjangoUserError::Internal => {
                sessionkit_core::actix::internal_error("Internal Server Error")
            }
        }
    }
}

impl FromRequest for DjangoUser {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<DjangoUser, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let rs = req.extensions().get::<RequestSession>().cloned();
        let auth = req
            .app_data::<web::Data<DjangoAuth>>()
            .map(|d| DjangoAuth::clone(d))
            .or_else(|| req.app_data::<DjangoAuth>().cloned());
        Box::pin(async move {
            let rs = rs.ok_or(DjangoUserError::Missing("SessionMiddleware"))?;
            let auth = auth.ok_or(DjangoUserError::Missing("DjangoAuth app data"))?;
            let session = rs.load().await?;
            match auth.get_user(&session).await {
                Ok(user) => Ok(DjangoUser(user)),
                Err(AuthError::Loader(error)) => {
                    tracing::error!(%error, "user loader failed; answering 503");
                    Err(DjangoUserError::Unavailable {
                        retry_after: rs.engine().config().retry_after_secs(),
                    }
                    .into())
                }
                Err(AuthError::Session(error)) => Err(error.into()),
                Err(_) => Err(DjangoUserError::Internal.into()),
            }
        })
    }
}
