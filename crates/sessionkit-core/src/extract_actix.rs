//! The actix-web extractor. It lives here, beside `Session`, because the orphan rule
//! forbids implementing actix's `FromRequest` for `Session` in any other crate. actix-web 4
//! uses `http` 0.2: everything here goes through actix's own types.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::engine::{LoadError, RequestSession, UNAVAILABLE_MESSAGE};
use crate::session::{Session, SessionError};

fn unavailable(retry_after: u64) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, HeaderValue::from(retry_after.max(1))))
        .content_type("text/plain; charset=utf-8")
        .body(UNAVAILABLE_MESSAGE)
}

impl ResponseError for LoadError {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    /// A 503 with `Retry-After: 1` (the extractor uses the configured value instead).
    fn error_response(&self) -> HttpResponse {
        unavailable(1)
    }
}

/// A failed load, with the configured `Retry-After`.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
struct LoadRejection {
    error: LoadError,
    retry_after: u64,
}

impl ResponseError for LoadRejection {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        unavailable(self.retry_after)
    }
}

impl ResponseError for SessionError {
    /// A 500 with a generic body; the details go to the log, not to the client.
    fn error_response(&self) -> HttpResponse {
        tracing::error!(error = %self, "session error in handler");
        HttpResponse::InternalServerError()
            .content_type("text/plain; charset=utf-8")
            .body("Internal Server Error")
    }
}

/// The session middleware is not installed on this route (a programming error: 500).
#[derive(Debug, thiserror::Error)]
#[error("the session middleware is not installed on this route")]
struct MissingMiddleware;

impl ResponseError for MissingMiddleware {
    fn error_response(&self) -> HttpResponse {
        tracing::error!("Session extractor used on a route without SessionMiddleware");
        HttpResponse::InternalServerError()
            .content_type("text/plain; charset=utf-8")
            .body("Session middleware missing.")
    }
}

impl FromRequest for Session {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Session, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let rs = req.extensions().get::<RequestSession>().cloned();
        Box::pin(async move {
            let rs = rs.ok_or(MissingMiddleware)?;
            rs.load().await.map_err(|error| {
                LoadRejection {
                    error,
                    retry_after: rs.engine().config().retry_after().as_secs(),
                }
                .into()
            })
        })
    }
}

impl FromRequest for RequestSession {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<RequestSession, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<RequestSession>()
                .cloned()
                .ok_or_else(|| MissingMiddleware.into()),
        )
    }
}
