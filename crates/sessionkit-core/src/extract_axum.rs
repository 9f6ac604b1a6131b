//! The axum extractors. They live here, beside `Session`, because the orphan rule forbids
//! implementing axum's `FromRequestParts` for `Session` in any other crate. Every error
//! response goes through [`crate::http::failure_response`], the one renderer for `http` 1
//! frameworks.

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::engine::{LoadError, RequestSession};
use crate::http::failure_response;
use crate::session::{Session, SessionError};

/// Why the `Session` extractor rejected a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No `SessionLayer` runs in front of this route (a programming error: 500).
    #[error("the session layer is not installed on this route")]
    MissingLayer,
    /// The session could not be loaded (503 with the configured `Retry-After`).
    #[error(transparent)]
    Load(#[from] LoadError),
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::MissingLayer => {
                tracing::error!("Session extractor used on a route without SessionLayer");
                (StatusCode::INTERNAL_SERVER_ERROR, "Session layer missing.").into_response()
            }
            SessionRejection::Load(error) => error.into_response(),
        }
    }
}

impl IntoResponse for LoadError {
    /// The error's [`Failure`](crate::Failure): a 503 with the configured `Retry-After`.
    fn into_response(self) -> Response {
        failure_response(self.failure(), [])
    }
}

impl IntoResponse for SessionError {
    /// A 500 with a generic body; the details go to the log, not to the client.
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "session error in handler");
        (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let rs = parts
            .extensions
            .get::<RequestSession>()
            .ok_or(SessionRejection::MissingLayer)?;
        Ok(rs.load().await?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestSession {
    type Rejection = SessionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestSession>()
            .cloned()
            .ok_or(SessionRejection::MissingLayer)
    }
}
