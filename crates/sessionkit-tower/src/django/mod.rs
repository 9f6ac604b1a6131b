//! Beside a Django site (feature `django`): the `DjangoUser` extractor (the request's
//! user by Django's `get_user()` rules, through a [`DjangoAuth`] installed as a request
//! extension), flash messages ([`Messages`], [`MessagesLayer`]) and CSRF protection
//! ([`CsrfLayer`], [`CsrfToken`]).

mod csrf;
mod messages;

pub use csrf::{CsrfLayer, CsrfService, CsrfToken, CsrfTokenRejection, MAX_FORM_BODY};
pub use messages::{Messages, MessagesLayer, MessagesRejection, MessagesService};

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use sessionkit_core::http::failure_response;
use sessionkit_core::{Failure, RequestSession, SessionError, SessionRejection};
use sessionkit_django::auth::{AuthError, CurrentUser, DjangoAuth, LOADER_UNAVAILABLE_MESSAGE};

/// The logged-in user (or anonymous) of the request's session, as Django's
/// `request.user`: [`DjangoAuth::get_user`] run on the session, which may flush it (a
/// stale auth hash) or cycle its key (a hash made with a fallback secret).
///
/// Needs the [`SessionLayer`](crate::SessionLayer) and a [`DjangoAuth`] in the request
/// extensions (`axum::Extension(auth)` as a layer). A failing user loader answers 503
/// through the one failure renderer, like a store outage: never a silent login or logout.
///
/// ```no_run
/// use axum::{Extension, Router, routing::get};
/// use sessionkit_django::auth::{CurrentUser, DjangoAuth};
/// use sessionkit_tower::DjangoUser;
///
/// async fn whoami(DjangoUser(user): DjangoUser) -> String {
///     match user {
///         CurrentUser::User { user, .. } => format!("User: {}", user.id),
///         CurrentUser::Anonymous => "Anonymous".to_owned(),
///     }
/// }
///
/// fn app(auth: DjangoAuth, layer: sessionkit_tower::SessionLayer) -> Router {
///     Router::new()
///         .route("/whoami", get(whoami))
///         .layer(Extension(auth))
///         .layer(layer)
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DjangoUser(pub CurrentUser);

/// Why [`DjangoUser`] rejected a request.
#[derive(Debug)]
#[non_exhaustive]
pub enum DjangoUserRejection {
    /// The session layer is missing or the session could not be loaded.
    Session(SessionRejection),
    /// No `DjangoAuth` extension on this route (a programming error: 500).
    MissingAuth,
    /// The user loader failed (503 with the configured `Retry-After`).
    Unavailable {
        /// Seconds for `Retry-After`.
        retry_after: u64,
    },
    /// The session refused a write (500).
    Write(SessionError),
    /// Another auth failure (500; the details are logged).
    Internal,
}

impl IntoResponse for DjangoUserRejection {
    fn into_response(self) -> Response {
        match self {
            DjangoUserRejection::Session(rejection) => rejection.into_response(),
            DjangoUserRejection::MissingAuth => {
                tracing::error!(
                    "DjangoUser extractor used on a route without a DjangoAuth extension"
                );
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "DjangoAuth extension missing.",
                )
                    .into_response()
            }
            DjangoUserRejection::Unavailable { retry_after } => failure_response(
                &Failure::unavailable_with(Some(retry_after), LOADER_UNAVAILABLE_MESSAGE),
                [],
            ),
            DjangoUserRejection::Write(error) => error.into_response(),
            DjangoUserRejection::Internal => {
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DjangoUser {
    type Rejection = DjangoUserRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let rs = RequestSession::from_request_parts(parts, state)
            .await
            .map_err(DjangoUserRejection::Session)?;
        let auth = parts
            .extensions
            .get::<DjangoAuth>()
            .cloned()
            .ok_or(DjangoUserRejection::MissingAuth)?;
        let session = rs
            .load()
            .await
            .map_err(|e| DjangoUserRejection::Session(SessionRejection::Load(e)))?;
        match auth.get_user(&session).await {
            Ok(user) => Ok(DjangoUser(user)),
            Err(AuthError::Loader(error)) => {
                tracing::error!(%error, "user loader failed; answering 503");
                Err(DjangoUserRejection::Unavailable {
                    retry_after: rs.engine().config().retry_after_secs(),
                })
            }
            Err(AuthError::Session(error)) => Err(DjangoUserRejection::Write(error)),
            Err(other) => {
                tracing::error!(error = %other, "DjangoUser: auth failed");
                Err(DjangoUserRejection::Internal)
            }
        }
    }
}
