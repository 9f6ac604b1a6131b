//! The `testing` helpers (feature `testing`) on an axum app, in each transport: the jar
//! keeps the id across requests, `force_login` writes what the app's login writes, the
//! session reads back after a request, a logout empties the jar.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use http_body_util::BodyExt;
use sessionkit_core::{Config, Engine, MemoryStore, Session, SessionError, Transport};
use sessionkit_tower::SessionLayer;
use sessionkit_tower::testing::{SessionJar, send, session_with};

async fn count(session: Session) -> Result<String, SessionError> {
    let n: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", n)?;
    Ok(format!("{n} {}", session.user_id().unwrap_or_default()))
}

async fn login(session: Session) -> &'static str {
    session.login("bob");
    "ok"
}

async fn logout(session: Session) -> &'static str {
    session.logout();
    "bye"
}

fn app(engine: &Engine) -> Router {
    Router::new()
        .route("/", get(count))
        .route("/login", get(login))
        .route("/logout", get(logout))
        .layer(SessionLayer::from_engine(engine.clone()))
}

async fn get_body(app: &Router, jar: &mut SessionJar, path: &str) -> String {
    let req = Request::get(path).body(Body::empty()).unwrap();
    let res = send(app.clone(), jar, req).await.unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn transports() -> [Transport; 3] {
    [
        Transport::Cookie,
        Transport::Header("X-Session".into()),
        Transport::Both("X-Session".into()),
    ]
}

#[tokio::test]
async fn the_jar_follows_the_session_in_every_transport() {
    for transport in transports() {
        let config = Config::builder()
            .transport(transport.clone())
            .build()
            .unwrap();
        let engine = Engine::new(MemoryStore::new(), config);
        let app = app(&engine);
        let mut jar = SessionJar::new(&engine);
        assert_eq!(get_body(&app, &mut jar, "/").await, "1 ", "{transport:?}");
        assert_eq!(get_body(&app, &mut jar, "/").await, "2 ", "{transport:?}");
        let first = jar.token().unwrap().to_owned();

        // The app's own login rotates the key; the jar follows.
        assert_eq!(get_body(&app, &mut jar, "/login").await, "ok");
        assert_ne!(jar.token(), Some(first.as_str()));
        assert_eq!(
            get_body(&app, &mut jar, "/").await,
            "3 bob",
            "{transport:?}"
        );
        let session = jar.session().await.unwrap();
        assert_eq!(session.get::<u64>("count").unwrap(), Some(3));

        // force_login writes what that login wrote: the same user id, a rotated key.
        let before = jar.token().unwrap().to_owned();
        jar.force_login("carol").await.unwrap();
        assert_ne!(jar.token(), Some(before.as_str()));
        // Another user: Django's login flushes the previous user's data.
        assert_eq!(
            get_body(&app, &mut jar, "/").await,
            "1 carol",
            "{transport:?}"
        );

        // The logout's removal cookie / empty header empties the jar.
        assert_eq!(get_body(&app, &mut jar, "/logout").await, "bye");
        assert_eq!(jar.token(), None, "{transport:?}");
        assert!(jar.session().await.unwrap().is_empty());
        assert_eq!(get_body(&app, &mut jar, "/").await, "1 ");
    }
}

#[tokio::test]
async fn force_login_matches_the_apps_login_and_arranged_data_reaches_the_handler() {
    let engine = Engine::new(MemoryStore::new(), Config::default());
    let app = app(&engine);
    let mut by_app = SessionJar::new(&engine);
    get_body(&app, &mut by_app, "/login").await;
    let mut forced = SessionJar::new(&engine);
    forced.force_login("bob").await.unwrap();
    let a = by_app.session().await.unwrap();
    let b = forced.session().await.unwrap();
    assert_eq!(a.items(), b.items(), "the same data");
    assert_eq!(b.user_id().as_deref(), Some("bob"));

    forced
        .update(|s| s.insert("count", 41).unwrap())
        .await
        .unwrap();
    assert_eq!(get_body(&app, &mut forced, "/").await, "42 bob");
}

#[tokio::test]
async fn the_encrypted_cookie_store_in_header_mode() {
    use sessionkit_encrypted_cookie::{CookieKey, EncryptedCookieStore, KeyRing};
    let config = Config::builder()
        .transport(Transport::Header("X-Session".into()))
        .build()
        .unwrap();
    let store = EncryptedCookieStore::new(KeyRing::single(CookieKey::generate()));
    let engine = Engine::client_side(store, config);
    let app = app(&engine);
    let mut jar = SessionJar::new(&engine);
    jar.force_login("dave").await.unwrap();
    assert_eq!(get_body(&app, &mut jar, "/").await, "1 dave");
    assert_eq!(get_body(&app, &mut jar, "/").await, "2 dave");
    let token = jar.token().unwrap().to_owned();
    assert!(
        !token.is_empty() && !token.contains(['"', ';', ' ']),
        "{token}"
    );
    assert_eq!(
        jar.session().await.unwrap().get::<u64>("count").unwrap(),
        Some(2)
    );
}

#[test]
fn a_detached_session_holds_the_given_data() {
    let s = session_with([("a", 1), ("b", 2)]).unwrap();
    assert_eq!(s.len(), 2);
    assert_eq!(s.get::<i32>("b").unwrap(), Some(2));
    assert!(s.key().is_none(), "stored nowhere");
}

#[tokio::test]
async fn a_stale_or_forged_id_gets_a_fresh_session() {
    let engine = Engine::new(MemoryStore::new(), Config::default());
    let app = app(&engine);
    let mut jar = SessionJar::new(&engine);
    jar.set_token("abcdefghijklmnopqrstuvwxyz012345");
    assert_eq!(get_body(&app, &mut jar, "/").await, "1 ");
    assert_ne!(jar.token(), Some("abcdefghijklmnopqrstuvwxyz012345"));
    jar.clear();
    assert!(jar.session().await.unwrap().is_empty());
}
