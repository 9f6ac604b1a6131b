//! The `testing` helpers (feature `testing`) on an actix-web app, in each transport.

use actix_web::{App, test, web};
use sessionkit_actix::testing::{SessionJar, call};
use sessionkit_actix::{Session, SessionMiddleware};
use sessionkit_core::{Config, Engine, MemoryStore, SessionError, Transport};

async fn count(session: Session) -> Result<String, SessionError> {
    let n: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", n)?;
    Ok(format!("{n} {}", session.user_id().unwrap_or_default()))
}

async fn logout(session: Session) -> &'static str {
    session.logout();
    "bye"
}

#[actix_web::test]
async fn the_jar_follows_the_session_in_every_transport() {
    for transport in [
        Transport::Cookie,
        Transport::Header("X-Session".into()),
        Transport::Both("X-Session".into()),
    ] {
        let config = Config::builder()
            .transport(transport.clone())
            .build()
            .unwrap();
        let engine = Engine::new(MemoryStore::new(), config);
        let app = test::init_service(
            App::new()
                .wrap(SessionMiddleware::from_engine(engine.clone()))
                .route("/", web::get().to(count))
                .route("/logout", web::get().to(logout)),
        )
        .await;
        let mut jar = SessionJar::new(&engine);
        let get = |path: &'static str| test::TestRequest::get().uri(path);

        let res = call(&app, &mut jar, get("/")).await.unwrap();
        assert_eq!(test::read_body(res).await, "1 ", "{transport:?}");
        jar.force_login("erin").await.unwrap();
        let res = call(&app, &mut jar, get("/")).await.unwrap();
        assert_eq!(test::read_body(res).await, "2 erin", "{transport:?}");
        let s = jar.session().await.unwrap();
        assert_eq!(s.get::<u64>("count").unwrap(), Some(2));

        let res = call(&app, &mut jar, get("/logout")).await.unwrap();
        assert_eq!(test::read_body(res).await, "bye");
        assert_eq!(jar.token(), None, "{transport:?}");
        assert!(jar.session().await.unwrap().is_empty());
    }
}
