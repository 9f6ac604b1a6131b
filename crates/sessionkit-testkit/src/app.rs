//! Helpers for **applications'** tests: a client that keeps its session id across requests
//! ([`SessionJar`]), [`force_login`](SessionJar::force_login), sessions holding given data
//! ([`SessionJar::update`], [`session_with`]), and reading the session back after a
//! request ([`SessionJar::session`]) — Django's test client `force_login` and
//! `client.session`.
//!
//! The jar speaks headers as strings, so it works with any framework and in every transport
//! (`Config::transport`): it sends the `Cookie` header, the session header, or both, and
//! takes the id back from `Set-Cookie` and the session header. Sending a request through an
//! app is the adapters' part: `sessionkit_tower::testing` (axum and tower, with
//! `tower::ServiceExt`) and `sessionkit_actix::testing` (`actix_web::test`), behind their
//! `testing` feature.
//!
//! ```
//! use sessionkit_core::{Config, Engine, MemoryStore, SessionIds};
//! use sessionkit_testkit::app::SessionJar;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let engine = Engine::new(MemoryStore::new(), Config::default());
//! let mut jar = SessionJar::new(&engine);
//!
//! // Arrange: a logged-in user with something in the cart.
//! jar.force_login("alice").await.unwrap();
//! jar.update(|s| s.insert("cart", vec![1, 2]).unwrap()).await.unwrap();
//! let cookie = jar.cookie_header().unwrap();
//! assert!(cookie.starts_with("sessionid="));
//!
//! // Act: a request, here straight through the engine (an app in the adapters' helpers).
//! let req = engine.begin_with(SessionIds::new(Some(&cookie), None));
//! let session = req.load().await.unwrap();
//! assert_eq!(session.user_id().as_deref(), Some("alice"));
//! session.insert("cart", vec![1, 2, 3]).unwrap();
//! jar.absorb_outcome(&req.finish(200).await);
//!
//! // Assert: the session as the store now holds it.
//! let after = jar.session().await.unwrap();
//! assert_eq!(after.get::<Vec<i32>>("cart").unwrap(), Some(vec![1, 2, 3]));
//! # }
//! ```

use sessionkit_core::{Config, Engine, Failure, Outcome, Session, SessionError, SessionIds};

/// A test client's memory of its session id, in the engine's transport: what a browser's
/// cookie jar (or an API client's stored header) would send and keep.
#[derive(Debug, Clone)]
pub struct SessionJar {
    engine: Engine,
    token: Option<String>,
}

impl SessionJar {
    /// An empty jar for the app whose engine is `engine` (share the engine with the app:
    /// `SessionLayer::from_engine(engine.clone())`, `SessionMiddleware::from_engine`).
    pub fn new(engine: &Engine) -> SessionJar {
        SessionJar {
            engine: engine.clone(),
            token: None,
        }
    }

    /// The engine the jar was made for.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The session id (or, for a client-side store, the whole cookie value) the jar holds.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sets the id the jar sends (e.g. a stale or forged one, to test the app's answer).
    pub fn set_token(&mut self, token: impl Into<String>) {
        self.token = Some(token.into());
    }

    /// Forgets the id, like a browser whose cookies were cleared.
    pub fn clear(&mut self) {
        self.token = None;
    }

    fn config(&self) -> &Config {
        self.engine.config()
    }

    /// The `Cookie` header to send (`name=id`), when the jar holds an id and the transport
    /// uses the cookie.
    pub fn cookie_header(&self) -> Option<String> {
        let token = self.token.as_deref()?;
        self.config()
            .uses_cookie()
            .then(|| format!("{}={token}", self.config().cookie_name()))
    }

    /// The session header to send (name, id), when the jar holds an id and the transport
    /// has a header.
    pub fn session_header(&self) -> Option<(String, String)> {
        let token = self.token.as_deref()?;
        let name = self.config().session_header()?;
        Some((name.to_owned(), token.to_owned()))
    }

    /// Every header a request must carry, as (name, value) pairs.
    pub fn request_headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if let Some(c) = self.cookie_header() {
            headers.push(("cookie".to_owned(), c));
        }
        headers.extend(self.session_header());
        headers
    }

    /// Takes the session id from a response's headers (any case): a `Set-Cookie` of the
    /// session cookie sets it and a removal cookie forgets it; the session header sets it
    /// and an empty value forgets it. Other headers are ignored.
    pub fn absorb<'a>(&mut self, headers: impl IntoIterator<Item = (&'a str, &'a str)>) {
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("set-cookie") {
                self.absorb_set_cookie(value);
            } else if self
                .config()
                .session_header()
                .is_some_and(|h| h.eq_ignore_ascii_case(name))
            {
                self.token = (!value.is_empty()).then(|| value.to_owned());
            }
        }
    }

    fn absorb_set_cookie(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
            return;
        };
        if name != self.config().cookie_name() {
            return;
        }
        let removed = value.is_empty()
            || value == "\"\""
            || parts.any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
        self.token = (!removed).then(|| value.to_owned());
    }

    /// [`absorb`](SessionJar::absorb) for an engine [`Outcome`] (tests that drive the
    /// engine without a framework).
    pub fn absorb_outcome(&mut self, outcome: &Outcome) {
        let cookies = outcome
            .set_cookie
            .iter()
            .map(|c| ("set-cookie", c.as_str()));
        let header = outcome
            .session_header
            .iter()
            .map(|h| (&*h.name, h.value.as_str()));
        self.absorb(cookies.chain(header).collect::<Vec<_>>());
    }

    /// The session as the store holds it now, loaded through the engine; nothing is
    /// written. Empty when the jar holds no id or its session is gone.
    pub async fn session(&self) -> Result<Session, Failure> {
        let cookie = self.cookie_header();
        let header = self.session_header().map(|(_, v)| v);
        let req = self
            .engine
            .begin_with(SessionIds::new(cookie.as_deref(), header.as_deref()));
        req.load().await.map_err(|e| e.failure().clone())
    }

    /// Runs `f` on the jar's session as a request would (a new session if the jar holds
    /// none), saves it through the engine, and keeps the id the response gives. For
    /// arranging what a test needs before the request under test.
    pub async fn update(&mut self, f: impl FnOnce(&Session)) -> Result<(), Failure> {
        let cookie = self.cookie_header();
        let header = self.session_header().map(|(_, v)| v);
        let req = self
            .engine
            .begin_with(SessionIds::new(cookie.as_deref(), header.as_deref()));
        let session = req.load().await.map_err(|e| e.failure().clone())?;
        f(&session);
        let outcome = req.finish(200).await;
        if let Some(failure) = &outcome.failure {
            return Err(failure.clone());
        }
        self.absorb_outcome(&outcome);
        Ok(())
    }

    /// Logs `user_id` in exactly as the application's own login does
    /// ([`Session::login`]: the key rotates, `_auth_user_id` is stored, the per-user index
    /// and the `logged_in` event follow), without going through the app's login form.
    pub async fn force_login(&mut self, user_id: &str) -> Result<(), Failure> {
        self.update(|s| s.login(user_id)).await
    }

    /// Logs out as [`Session::logout`] does; the jar forgets the id.
    pub async fn logout(&mut self) -> Result<(), Failure> {
        self.update(Session::logout).await
    }
}

/// A session attached to no store, holding `entries`: for unit tests of code that takes a
/// `Session` (a handler called directly, a helper), as actix-session's `Session::new()`
/// for tests. Fails like [`Session::insert`] for a value a session cannot hold.
///
/// ```
/// use sessionkit_testkit::app::session_with;
///
/// let session = session_with([("count", 3)]).unwrap();
/// assert_eq!(session.get::<i32>("count").unwrap(), Some(3));
/// assert!(session.key().is_none(), "not stored anywhere");
/// ```
pub fn session_with<K: AsRef<str>, V: serde::Serialize>(
    entries: impl IntoIterator<Item = (K, V)>,
) -> Result<Session, SessionError> {
    let session = Session::detached();
    for (k, v) in entries {
        session.insert(k.as_ref(), v)?;
    }
    Ok(session)
}
