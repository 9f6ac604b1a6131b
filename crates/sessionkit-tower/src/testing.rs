//! Test helpers for applications (feature `testing`): send a request through an axum or
//! tower app with a session, and read the session back afterwards.
//!
//! A [`SessionJar`] keeps the client's session id across requests in the engine's
//! transport (cookie, header or both); [`send`] attaches it, calls the app once (as
//! `tower::ServiceExt::oneshot` does) and keeps whatever id the response gives. Share the
//! engine between the app and the jar with [`SessionLayer::from_engine`](crate::SessionLayer::from_engine).
//!
//! ```
//! use axum::{Router, body::Body, routing::get};
//! use http::{Request, StatusCode};
//! use sessionkit_core::{Config, Engine, MemoryStore, Session, SessionError};
//! use sessionkit_tower::SessionLayer;
//! use sessionkit_tower::testing::{SessionJar, send};
//!
//! async fn cart(session: Session) -> Result<String, SessionError> {
//!     let Some(user) = session.user_id() else {
//!         return Ok("sign in first".to_owned());
//!     };
//!     let mut items: Vec<u32> = session.get("cart")?.unwrap_or_default();
//!     items.push(7);
//!     session.insert("cart", &items)?;
//!     Ok(format!("{user} has {} item(s)", items.len()))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let engine = Engine::new(MemoryStore::new(), Config::default());
//! let app = Router::new()
//!     .route("/cart", get(cart))
//!     .layer(SessionLayer::from_engine(engine.clone()));
//!
//! let mut jar = SessionJar::new(&engine);
//! jar.force_login("alice").await.unwrap();
//! jar.update(|s| s.insert("cart", [1]).unwrap()).await.unwrap();
//!
//! let request = Request::get("/cart").body(Body::empty()).unwrap();
//! let response = send(app.clone(), &mut jar, request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! let session = jar.session().await.unwrap();
//! assert_eq!(session.get::<Vec<u32>>("cart").unwrap(), Some(vec![1, 7]));
//! assert_eq!(session.user_id().as_deref(), Some("alice"));
//! # }
//! ```

use std::future::poll_fn;

use http::{HeaderValue, Request, Response};
use tower_service::Service;

pub use sessionkit_testkit::app::{SessionJar, session_with};

/// Adds the jar's session id to `request`: the `Cookie` header (after any cookies already
/// there) and/or the session header, as the engine's transport says. An id that is not a
/// valid header value (only possible through [`SessionJar::set_token`]) is left out.
pub fn attach<B>(jar: &SessionJar, request: &mut Request<B>) {
    let headers = request.headers_mut();
    if let Some(cookie) = jar.cookie_header() {
        let joined = match headers.get(http::header::COOKIE).map(HeaderValue::to_str) {
            Some(Ok(existing)) if !existing.is_empty() => format!("{existing}; {cookie}"),
            _ => cookie,
        };
        if let Ok(value) = HeaderValue::from_str(&joined) {
            headers.insert(http::header::COOKIE, value);
        }
    }
    if let Some((name, value)) = jar.session_header()
        && let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        )
    {
        headers.insert(name, value);
    }
}

/// Takes the session id from `response` (`Set-Cookie`, the session header) into the jar.
pub fn absorb<B>(jar: &mut SessionJar, response: &Response<B>) {
    let pairs: Vec<(&str, &str)> = response
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    jar.absorb(pairs);
}

/// Sends `request` through `app` with the jar's session and keeps the id the response
/// gives: [`attach`], one call of the service (ready first), [`absorb`].
pub async fn send<S, ReqBody, ResBody>(
    mut app: S,
    jar: &mut SessionJar,
    mut request: Request<ReqBody>,
) -> Result<Response<ResBody>, S::Error>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    attach(jar, &mut request);
    poll_fn(|cx| app.poll_ready(cx)).await?;
    let response = app.call(request).await?;
    absorb(jar, &response);
    Ok(response)
}
