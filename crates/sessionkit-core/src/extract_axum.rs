//! The axum extractor. It lives here, beside `Session`, because the orphan rule forbids
//! implementing axum's `FromRequestParts` for `Session` in any other crate.

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

use crate::engine::{LoadError, RequestSession, UNAVAILABLE_MESSAGE};
use crate::session::{Session, SessionError};

/// Why the `Session` extractor rejected a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// No `SessionLayer` runs in front of this route (a programming error: 500).
    #[error("the session layer is not installed on this route")]
    MissingLayer,
    /// The session could not be loaded (503 with the configured `Retry-After`).
    #[error("{error}")]
    Load {
        /// Why.
        #[source]
        error: LoadError,
        /// Seconds for `Retry-After` (`Config::retry_after`).
        retry_after: u64,
    },
}

impl IntoResponse for SessionRejection {
    fn into_response(self) -> Response {
        match self {
            SessionRejection::MissingLayer => {
                tracing::error!("Session extractor used on a route without SessionLayer");
                (StatusCode::INTERNAL_SERVER_ERROR, "Session layer missing.").into_response()
            }
            SessionRejection::Load { retry_after, .. } => unavailable(retry_after),
        }
    }
}

fn unavailable(retry_after: u64) -> Response {
    let mut res = (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE).into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    res
}

impl IntoResponse for LoadError {
    /// A 503 with `Retry-After: 1` (the extractor uses the configured value instead).
    fn into_response(self) -> Response {
        unavailable(1)
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
        rs.load().await.map_err(|error| SessionRejection::Load {
            error,
            retry_after: rs.engine().config().retry_after().as_secs(),
        })
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
