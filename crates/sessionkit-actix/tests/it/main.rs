//! The actix-web adapter: the adapter conformance suite (every middleware rule, through real
//! HTTP) on the memory and SQLite stores, plus what only this adapter can get wrong.

#[cfg(feature = "testing")]
mod testing;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, test, web};
use sessionkit_actix::SessionMiddleware;
use sessionkit_core::{BoxStore, Engine, RequestSession, Session, SessionError};
use sessionkit_sql::SqliteStore;
use sessionkit_testkit::adapter::{Adapter, Reply, Server, respond};

/// The suite's routes on actix-web.
#[derive(Debug)]
pub struct Actix;

fn reply(r: Reply) -> HttpResponse {
    let mut res = HttpResponse::build(StatusCode::from_u16(r.status).unwrap());
    for h in r.headers {
        res.insert_header(h);
    }
    res.body(r.body)
}

async fn with_session(action: web::Path<String>, s: Session) -> Result<HttpResponse, SessionError> {
    respond(&action, &s).map(reply)
}

async fn with_load(
    action: web::Path<String>,
    rs: RequestSession,
) -> actix_web::Result<HttpResponse> {
    let s = rs.load().await?;
    Ok(respond(&action, &s).map(reply)?)
}

impl Adapter for Actix {
    async fn serve(&self, engine: Engine) -> Server {
        let middleware = SessionMiddleware::from_engine(engine);
        sessionkit_actix::testing::serve(move || {
            App::new()
                .wrap(middleware.clone())
                .route("/plain", web::get().to(|| async { "plain" }))
                .route("/s/{action}", web::get().to(with_session))
                .route("/load/{action}", web::get().to(with_load))
        })
    }
}

mod memory {
    sessionkit_testkit::adapter_conformance_tests!(super::Actix);
}

sessionkit_testkit::adapter_conformance_tests!(header_transports: Actix, "X-Session-Id");

mod sqlite {
    async fn store() -> sessionkit_core::BoxStore {
        let dir = tempfile::tempdir().unwrap().keep();
        super::BoxStore::new(
            super::SqliteStore::open(dir.join("s.sqlite3"))
                .await
                .unwrap(),
        )
    }

    sessionkit_testkit::adapter_conformance_tests!(super::Actix, store: store());
}

#[actix_web::test]
async fn missing_middleware_is_a_500() {
    let app =
        test::init_service(App::new().route("/", web::get().to(|_: Session| async { "never" })))
            .await;
    let res = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
    assert_eq!(res.status(), 500);
}
