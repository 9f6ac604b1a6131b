use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpResponse, test, web};
use sessionkit_actix::{Session, SessionMiddleware};
use sessionkit_core::{
    Config, CreateOutcome, Engine, Expiry, Lookup, MemoryStore, Record, SameSite, SaveOutcome,
    SessionError, SessionKey, SessionStore, StoreError, StoreErrorKind, Token,
};
use sessionkit_sql::SqliteStore;
use time::OffsetDateTime;

const REMOVAL: &str =
    "sessionid=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax";

async fn visit(session: Session) -> Result<String, SessionError> {
    let count: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", count)?;
    Ok(format!("Visit count: {count}"))
}

async fn get_color(session: Session) -> Result<String, SessionError> {
    let c: Option<String> = session.get("favorite_color")?;
    Ok(format!(
        "Favorite color: {}",
        c.as_deref().unwrap_or("unknown")
    ))
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

async fn boom(session: Session) -> HttpResponse {
    session.insert("count", 1000).unwrap();
    HttpResponse::InternalServerError().finish()
}

async fn short(session: Session) -> Result<&'static str, SessionError> {
    session.insert("x", 1)?;
    session.set_expiry(Expiry::Seconds(10));
    Ok("short")
}

async fn spawned(session: Session) -> Result<String, SessionError> {
    // The session is Send: it can move into a task on another thread.
    let n = tokio::task::spawn_blocking(move || {
        session.update_with("count", |n: Option<u64>| n.unwrap_or(0) + 10)
    })
    .await
    .expect("task")?;
    Ok(n.to_string())
}

macro_rules! app {
    ($engine:expr) => {
        test::init_service(
            App::new()
                .wrap(SessionMiddleware::from_engine($engine))
                .route("/", web::get().to(visit))
                .route("/color/get", web::get().to(get_color))
                .route("/logout", web::get().to(logout))
                .route("/boom", web::get().to(boom))
                .route("/short", web::get().to(short))
                .route("/spawned", web::get().to(spawned))
                .route("/plain", web::get().to(|| async { "plain" })),
        )
        .await
    };
}

fn set_cookie<B>(res: &actix_web::dev::ServiceResponse<B>) -> Option<String> {
    res.headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn get(
    app: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    uri: &str,
    cookie: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(c) = cookie {
        req = req.insert_header((header::COOKIE, c));
    }
    let res = test::call_service(app, req.to_request()).await;
    let status = res.status();
    let sc = set_cookie(&res);
    let vary = res
        .headers()
        .get(header::VARY)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = test::read_body(res).await;
    (
        status,
        sc,
        vary,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn sqlite() -> SqliteStore {
    let dir = tempfile::tempdir().unwrap().keep();
    SqliteStore::open(dir.join("s.sqlite3")).await.unwrap()
}

macro_rules! on_both_stores {
    ($($name:ident($engine:ident) $body:block)*) => {
        mod memory {
            use super::*;
            $(
                #[actix_web::test]
                async fn $name() {
                    let store = MemoryStore::new();
                    let $engine = |config: Config| Engine::new(store.clone(), config);
                    $body
                }
            )*
        }
        mod sqlite {
            use super::*;
            $(
                #[actix_web::test]
                async fn $name() {
                    let store = super::sqlite().await;
                    let $engine = |config: Config| Engine::new(store.clone(), config);
                    $body
                }
            )*
        }
    };
}

on_both_stores! {
    tutorial_counter(engine) {
        let app = app!(engine(Config::default()));
        let (status, sc, vary, body) = get(&app, "/", None).await;
        assert_eq!(status, 200);
        assert_eq!(body, "Visit count: 1");
        assert_eq!(vary.as_deref(), Some("Cookie"));
        let cookie = pair(&sc.unwrap());
        for n in 2..=3 {
            let (_, _, _, body) = get(&app, "/", Some(&cookie)).await;
            assert_eq!(body, format!("Visit count: {n}"));
        }
        let (_, _, _, body) = get(&app, "/", None).await;
        assert_eq!(body, "Visit count: 1");
    }

    lazy_creation_read_only_visitor_gets_nothing(engine) {
        let app = app!(engine(Config::default()));
        let (status, sc, vary, body) = get(&app, "/color/get", None).await;
        assert_eq!(status, 200);
        assert_eq!(body, "Favorite color: unknown");
        assert_eq!(sc, None);
        assert_eq!(vary.as_deref(), Some("Cookie"));
    }

    untouched_routes_send_nothing(engine) {
        let app = app!(engine(Config::default()));
        let (_, sc, _, _) = get(&app, "/", None).await;
        let cookie = pair(&sc.unwrap());
        let (_, sc, vary, body) = get(&app, "/plain", Some(&cookie)).await;
        assert_eq!(body, "plain");
        assert_eq!((sc, vary), (None, None));
    }

    short_cookie_is_removed_even_untouched(engine) {
        let app = app!(engine(Config::default()));
        let (_, sc, vary, _) = get(&app, "/plain", Some("sessionid=1234567")).await;
        assert_eq!(sc.as_deref(), Some(REMOVAL));
        assert_eq!(vary.as_deref(), Some("Cookie"));
    }

    fixation_defence(engine) {
        let app = app!(engine(Config::default()));
        let forged = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
        let (_, sc, _, body) = get(&app, "/", Some(forged)).await;
        assert_eq!(body, "Visit count: 1");
        let sc = sc.unwrap();
        assert!(!sc.starts_with(forged));
        assert_eq!(pair(&sc).len(), "sessionid=".len() + 32);
        // Read-only with the forged key: the cookie is removed.
        let (_, sc, _, _) = get(&app, "/color/get", Some(forged)).await;
        assert_eq!(sc.as_deref(), Some(REMOVAL));
    }

    delete_branch_on_logout(engine) {
        let app = app!(engine(Config::default()));
        let (_, sc, _, _) = get(&app, "/", None).await;
        let cookie = pair(&sc.unwrap());
        let (_, sc, vary, _) = get(&app, "/logout", Some(&cookie)).await;
        assert_eq!(sc.as_deref(), Some(REMOVAL));
        assert_eq!(vary.as_deref(), Some("Cookie"));
        let (_, _, _, body) = get(&app, "/", Some(&cookie)).await;
        assert_eq!(body, "Visit count: 1", "the old cookie leads nowhere");
        // Logout without a cookie: no cookie, but Vary.
        let (_, sc, vary, _) = get(&app, "/logout", None).await;
        assert_eq!((sc, vary.as_deref()), (None, Some("Cookie")));
    }

    server_errors_save_nothing(engine) {
        let app = app!(engine(Config::default()));
        let (_, sc, _, _) = get(&app, "/", None).await;
        let cookie = pair(&sc.unwrap());
        let (status, sc, _, _) = get(&app, "/boom", Some(&cookie)).await;
        assert_eq!(status, 500);
        assert_eq!(sc, None);
        let (_, _, _, body) = get(&app, "/", Some(&cookie)).await;
        assert_eq!(body, "Visit count: 2");
    }

    save_every_request(engine) {
        let app = app!(engine(Config::builder().save_every_request(true).build().unwrap()));
        let (_, sc, _, _) = get(&app, "/", None).await;
        let cookie = pair(&sc.unwrap());
        let (_, sc, vary, _) = get(&app, "/plain", Some(&cookie)).await;
        assert_eq!(pair(&sc.unwrap()), cookie);
        assert_eq!(vary.as_deref(), Some("Cookie"));
    }

    expiry_and_cookie_attributes(engine) {
        let config = Config::builder()
            .cookie_secure(true)
            .cookie_samesite(Some(SameSite::Strict))
            .build()
            .unwrap();
        let app = app!(engine(config));
        let (_, sc, _, _) = get(&app, "/short", None).await;
        let sc = sc.unwrap();
        assert!(sc.contains("; HttpOnly; Max-Age=10; Path=/; SameSite=Strict; Secure"), "{sc}");
        let (_, sc, _, _) = get(&app, "/", None).await;
        assert!(sc.unwrap().contains("Max-Age=1209600"));
    }

    concurrent_delete_is_a_400(engine) {
        let engine = engine(Config::default()).with_save_delay(Duration::from_millis(200));
        let app = std::rc::Rc::new(app!(engine.clone()));
        let (_, sc, _, _) = get(&*app, "/", None).await;
        let cookie = pair(&sc.unwrap());
        // A write whose save is delayed, and a logout that lands first.
        let req = engine.begin(Some(&cookie));
        req.load().await.unwrap().insert("late", 1).unwrap();
        let (_, sc, _, _) = get(&*app, "/logout", Some(&cookie)).await;
        assert_eq!(sc.as_deref(), Some(REMOVAL));
        let out = req.finish(200).await;
        assert_eq!(out.failure.unwrap().status, 400);
        let (_, _, _, body) = get(&*app, "/color/get", Some(&cookie)).await;
        assert_eq!(body, "Favorite color: unknown");
    }

    session_moves_into_tasks(engine) {
        let app = app!(engine(Config::default()));
        let (_, sc, _, body) = get(&app, "/spawned", None).await;
        assert_eq!(body, "10");
        let cookie = pair(&sc.unwrap());
        let (_, _, _, body) = get(&app, "/", Some(&cookie)).await;
        assert_eq!(body, "Visit count: 11");
    }
}

#[derive(Clone)]
struct Down;

fn down() -> StoreError {
    StoreError::new(StoreErrorKind::Unavailable, "connection refused")
}

impl SessionStore for Down {
    async fn load(&self, _: &SessionKey, _: OffsetDateTime) -> Result<Lookup, StoreError> {
        Err(down())
    }
    async fn create(
        &self,
        _: &SessionKey,
        _: &Record,
        _: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        Err(down())
    }
    async fn save(
        &self,
        _: &SessionKey,
        _: &Record,
        _: &Token,
        _: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        Err(down())
    }
    async fn delete(&self, _: &SessionKey) -> Result<(), StoreError> {
        Err(down())
    }
    async fn touch(
        &self,
        _: &SessionKey,
        _: OffsetDateTime,
        _: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        Err(down())
    }
    async fn clear_expired(&self, _: OffsetDateTime) -> Result<u64, StoreError> {
        Err(down())
    }
}

#[actix_web::test]
async fn store_down_is_a_503_and_plain_routes_still_work() {
    let app = app!(Engine::new(Down, Config::default()));
    let cookie = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let req = test::TestRequest::get()
        .uri("/")
        .insert_header((header::COOKIE, cookie))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers().get(header::RETRY_AFTER).unwrap(), "1");
    let (status, sc, _, _) = get(&app, "/", None).await;
    assert_eq!(status, 503, "the save of a new session fails");
    assert_eq!(sc, None);
    let (status, _, _, body) = get(&app, "/plain", Some(cookie)).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "plain"));
}

#[actix_web::test]
async fn missing_middleware_is_a_500() {
    let app = test::init_service(App::new().route("/", web::get().to(visit))).await;
    let (status, _, _, _) = get(&app, "/", None).await;
    assert_eq!(status, 500);
}
