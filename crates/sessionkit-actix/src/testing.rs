//! Test helpers for applications (feature `testing`): send a request through an actix-web
//! app (`actix_web::test`) with a session, and read the session back afterwards.
//!
//! A [`SessionJar`] keeps the client's session id across requests in the engine's
//! transport (cookie, header or both); [`call`] attaches it to a `TestRequest`, calls the
//! app and keeps whatever id the response gives. Share the engine between the app and the
//! jar with [`SessionMiddleware::from_engine`](crate::SessionMiddleware::from_engine).
//!
//! ```
//! use actix_web::{App, test, web};
//! use sessionkit_actix::testing::{SessionJar, call};
//! use sessionkit_actix::{Session, SessionMiddleware};
//! use sessionkit_core::{Config, Engine, MemoryStore, SessionError};
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
//! # #[actix_web::main]
//! # async fn main() {
//! let engine = Engine::new(MemoryStore::new(), Config::default());
//! let app = test::init_service(
//!     App::new()
//!         .wrap(SessionMiddleware::from_engine(engine.clone()))
//!         .route("/cart", web::get().to(cart)),
//! )
//! .await;
//!
//! let mut jar = SessionJar::new(&engine);
//! jar.force_login("alice").await.unwrap();
//! jar.update(|s| s.insert("cart", [1]).unwrap()).await.unwrap();
//!
//! let response = call(&app, &mut jar, test::TestRequest::get().uri("/cart")).await.unwrap();
//! assert_eq!(test::read_body(response).await, "alice has 2 item(s)");
//!
//! let session = jar.session().await.unwrap();
//! assert_eq!(session.get::<Vec<u32>>("cart").unwrap(), Some(vec![1, 7]));
//! # }
//! ```
//!
//! [`serve`] runs an app on a real port instead, for tests that speak HTTP to it (another
//! process, a browser, the conformance suite).

use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::test::TestRequest;
use sessionkit_testkit::adapter::Server;

pub use sessionkit_testkit::app::{SessionJar, session_with};

/// Adds the jar's session id to `request`: a `Cookie` header and/or the session header, as
/// the engine's transport says (appended, so cookies already set stay).
pub fn attach(jar: &SessionJar, mut request: TestRequest) -> TestRequest {
    if let Some(cookie) = jar.cookie_header() {
        request = request.append_header((actix_web::http::header::COOKIE, cookie));
    }
    if let Some(pair) = jar.session_header() {
        request = request.insert_header(pair);
    }
    request
}

/// Takes the session id from `response` (`Set-Cookie`, the session header) into the jar.
pub fn absorb<B>(jar: &mut SessionJar, response: &ServiceResponse<B>) {
    jar.absorb(
        response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    );
}

/// Sends `request` through `app` (from `actix_web::test::init_service`) with the jar's
/// session and keeps the id the response gives: [`attach`], the call, [`absorb`].
pub async fn call<S, B>(
    app: &S,
    jar: &mut SessionJar,
    request: TestRequest,
) -> Result<ServiceResponse<B>, actix_web::Error>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    let response =
        actix_web::test::try_call_service(app, attach(jar, request).to_request()).await?;
    absorb(jar, &response);
    Ok(response)
}

/// Serves the apps `app` makes on `127.0.0.1` (a free port), with one worker and an actix
/// system of its own on a thread of its own, so that a test on any runtime (or none) can
/// send it requests; the server stops when the returned [`Server`] drops.
///
/// ```
/// use actix_web::{App, web};
/// use sessionkit_actix::SessionMiddleware;
/// use sessionkit_core::{Config, MemoryStore};
///
/// let session = SessionMiddleware::new(MemoryStore::new(), Config::default());
/// let server = sessionkit_actix::testing::serve(move || {
///     App::new()
///         .wrap(session.clone())
///         .route("/", web::get().to(|| async { "hello" }))
/// });
/// let res = sessionkit_testkit::http::get(&server.addr, "/", None).unwrap();
/// assert_eq!(res.body, "hello");
/// ```
pub fn serve<F, T, B>(app: F) -> Server
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(app)
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("bind 127.0.0.1");
            let addr = server.addrs()[0].to_string();
            let server = server.run();
            tx.send((addr, server.handle())).expect("the test waits");
            server.await
        })
    });
    let (addr, handle) = rx.recv().expect("the server thread started");
    Server {
        addr,
        guard: Box::new(Stop(handle)),
    }
}

/// Stops the server when dropped (from a thread of its own: the caller may be inside a
/// runtime, or none).
struct Stop(actix_web::dev::ServerHandle);

impl Drop for Stop {
    fn drop(&mut self) {
        let handle = self.0.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(handle.stop(false)));
    }
}
