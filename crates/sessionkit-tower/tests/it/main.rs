//! The tower layer through axum: the adapter conformance suite (every middleware rule,
//! through real HTTP), plus what only this adapter can get wrong.

mod device;
#[cfg(feature = "testing")]
mod testing;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sessionkit_core::{Engine, LoadError, RequestSession, Session, SessionError};
use sessionkit_testkit::adapter::{Adapter, Reply, Server, respond};
use sessionkit_tower::SessionLayer;

/// The suite's routes on axum.
#[derive(Debug)]
pub struct Axum;

fn reply(r: Reply) -> Response {
    let mut res = (StatusCode::from_u16(r.status).unwrap(), r.body).into_response();
    for (k, v) in r.headers {
        res.headers_mut()
            .insert(HeaderName::from_static_lower(k), v.parse().unwrap());
    }
    res
}

trait FromStaticLower {
    fn from_static_lower(name: &'static str) -> HeaderName;
}

impl FromStaticLower for HeaderName {
    fn from_static_lower(name: &'static str) -> HeaderName {
        HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap()
    }
}

/// The app every test serves: the suite's routes behind `SessionLayer`.
pub fn app(engine: Engine) -> Router {
    Router::new()
        .route("/plain", get(|| async { "plain" }))
        .route(
            "/s/{action}",
            get(
                |Path(action): Path<String>, s: Session| async move {
                    respond(&action, &s).map(reply)
                },
            ),
        )
        .route(
            "/load/{action}",
            get(|Path(action): Path<String>, rs: RequestSession| async move {
                let s = rs.load().await?;
                Ok::<_, LoadError>(respond(&action, &s).map(reply).map_err(SessionError::into_response))
            }),
        )
        .layer(SessionLayer::from_engine(engine))
}

impl Adapter for Axum {
    async fn serve(&self, engine: Engine) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // With the peer address in `ConnectInfo`, as the device-metadata checks need.
        let app = app(engine).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let task = tokio::spawn(async move { axum::serve(listener, app).await });
        Server {
            addr,
            guard: Box::new(AbortOnDrop(task)),
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

mod conformance {
    sessionkit_testkit::adapter_conformance_tests!(super::Axum);
}

sessionkit_testkit::adapter_conformance_tests!(header_transports: Axum, "X-Session-Id");

#[tokio::test]
async fn missing_layer_is_a_500() {
    use tower::ServiceExt;
    let app: Router = Router::new().route("/", get(|_: Session| async { "never" }));
    let res = app
        .oneshot(
            axum::http::Request::get("/")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
}
