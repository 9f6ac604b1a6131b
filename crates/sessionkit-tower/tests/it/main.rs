//! The tower layer through axum: the tutorial flow and the middleware rules as HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use axum::routing::get;
use http_body_util::BodyExt;
use sessionkit_core::{
    Config, CreateOutcome, Engine, Lookup, MemoryStore, Record, SaveOutcome, Session, SessionError,
    SessionKey, SessionStore, StoreError, StoreErrorKind, Token,
};
use sessionkit_tower::SessionLayer;
use time::OffsetDateTime;
use tower::ServiceExt;

async fn visit(session: Session) -> Result<String, SessionError> {
    let count: u64 = session.get("count")?.unwrap_or(0) + 1;
    session.insert("count", count)?;
    Ok(format!("Visit count: {count}"))
}

fn app_with<S: SessionStore>(store: S) -> Router {
    Router::new()
        .route("/", get(visit))
        .route("/plain", get(|| async { "no session here" }))
        .route(
            "/boom",
            get(|s: Session| async move {
                s.insert("count", 1000).unwrap();
                StatusCode::INTERNAL_SERVER_ERROR
            }),
        )
        .route(
            "/typed",
            get(|s: Session| async move {
                let n: u64 = s.get("name")?.unwrap_or(0);
                Ok::<_, SessionError>(n.to_string())
            }),
        )
        .route(
            "/name",
            get(|s: Session| async move {
                s.insert("name", "text").unwrap();
                "ok"
            }),
        )
        .route(
            "/vary",
            get(|s: Session| async move {
                s.get::<u64>("count").unwrap();
                ([(header::VARY, "Accept-Encoding")], "varied")
            }),
        )
        .layer(SessionLayer::new(store, Config::default()))
}

async fn call(app: &Router, uri: &str, cookies: &[&str]) -> (Response<Body>, String) {
    let mut req = Request::get(uri);
    for c in cookies {
        req = req.header(header::COOKIE, *c);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        Response::from_parts(parts, Body::empty()),
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn cookie_of(res: &Response<Body>) -> Option<String> {
    res.headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
}

#[tokio::test]
async fn the_tutorial_counter() {
    let app = app_with(MemoryStore::new());
    let (res, body) = call(&app, "/", &[]).await;
    assert_eq!(body, "Visit count: 1");
    assert_eq!(res.headers()[header::VARY], "Cookie");
    let cookie = cookie_of(&res).unwrap();
    for n in 2..=3 {
        let (_, body) = call(&app, "/", &[&cookie]).await;
        assert_eq!(body, format!("Visit count: {n}"));
    }
    let (_, body) = call(&app, "/", &[]).await;
    assert_eq!(
        body, "Visit count: 1",
        "a visitor without the cookie starts over"
    );
}

#[tokio::test]
async fn several_cookie_headers_are_joined() {
    let app = app_with(MemoryStore::new());
    let (res, _) = call(&app, "/", &[]).await;
    let cookie = cookie_of(&res).unwrap();
    let (_, body) = call(&app, "/", &["theme=dark", &cookie, "lang=en"]).await;
    assert_eq!(body, "Visit count: 2");
}

/// A store that counts loads.
#[derive(Clone, Default)]
struct Counting(MemoryStore, Arc<AtomicUsize>);

impl SessionStore for Counting {
    async fn load(&self, key: &SessionKey, now: OffsetDateTime) -> Result<Lookup, StoreError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.load(key, now).await
    }
    async fn create(
        &self,
        k: &SessionKey,
        r: &Record,
        now: OffsetDateTime,
    ) -> Result<CreateOutcome, StoreError> {
        self.0.create(k, r, now).await
    }
    async fn save(
        &self,
        k: &SessionKey,
        r: &Record,
        t: &Token,
        now: OffsetDateTime,
    ) -> Result<SaveOutcome, StoreError> {
        self.0.save(k, r, t, now).await
    }
    async fn delete(&self, k: &SessionKey) -> Result<(), StoreError> {
        self.0.delete(k).await
    }
    async fn touch(
        &self,
        k: &SessionKey,
        e: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.0.touch(k, e, now).await
    }
    async fn clear_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        self.0.clear_expired(now).await
    }
}

#[tokio::test]
async fn routes_without_the_extractor_never_touch_the_store() {
    let store = Counting::default();
    let loads = Arc::clone(&store.1);
    let app = app_with(store);
    let (res, _) = call(&app, "/", &[]).await;
    let cookie = cookie_of(&res).unwrap();
    let before = loads.load(Ordering::SeqCst);
    let (res, body) = call(&app, "/plain", &[&cookie]).await;
    assert_eq!(body, "no session here");
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    assert!(res.headers().get(header::VARY).is_none());
    assert_eq!(loads.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn a_500_from_the_handler_saves_nothing() {
    let app = app_with(MemoryStore::new());
    let (res, _) = call(&app, "/", &[]).await;
    let cookie = cookie_of(&res).unwrap();
    let (res, _) = call(&app, "/boom", &[&cookie]).await;
    assert_eq!(res.status(), 500);
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    let (_, body) = call(&app, "/", &[&cookie]).await;
    assert_eq!(body, "Visit count: 2");
}

#[tokio::test]
async fn a_type_mismatch_is_a_plain_500() {
    let app = app_with(MemoryStore::new());
    let (res, _) = call(&app, "/name", &[]).await;
    let cookie = cookie_of(&res).unwrap();
    let (res, body) = call(&app, "/typed", &[&cookie]).await;
    assert_eq!(res.status(), 500);
    assert_eq!(body, "Internal Server Error");
}

#[tokio::test]
async fn vary_is_merged_with_the_handlers() {
    let app = app_with(MemoryStore::new());
    let (res, _) = call(&app, "/vary", &[]).await;
    assert_eq!(res.headers()[header::VARY], "Accept-Encoding, Cookie");
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

#[tokio::test]
async fn store_down_is_a_503_with_retry_after_and_plain_routes_still_work() {
    let app = app_with(Down);
    let cookie = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let (res, body) = call(&app, "/", &[cookie]).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    assert!(body.contains("unavailable"));
    // A new visitor: the load needs no store, the save fails.
    let (res, _) = call(&app, "/", &[]).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    assert!(res.headers().get(header::SET_COOKIE).is_none());
    let (res, body) = call(&app, "/plain", &[cookie]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(body, "no session here");
}

#[tokio::test]
async fn concurrent_logout_is_a_400_and_is_not_undone() {
    let store = MemoryStore::new();
    let engine = Engine::new(store.clone(), Config::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let app = Router::new()
        .route("/", get(visit))
        .route(
            "/slow",
            get(move |s: Session| {
                let rx = Arc::clone(&rx);
                async move {
                    s.insert("late", true).unwrap();
                    if let Some(rx) = rx.lock().await.take() {
                        let _ = rx.await;
                    }
                    "done"
                }
            }),
        )
        .route(
            "/logout",
            get(|s: Session| async move {
                s.flush();
                "bye"
            }),
        )
        .layer(SessionLayer::from_engine(engine));
    let (res, _) = call(&app, "/", &[]).await;
    let cookie = cookie_of(&res).unwrap();
    let slow = {
        let app = app.clone();
        let cookie = cookie.clone();
        tokio::spawn(async move { call(&app, "/slow", &[&cookie]).await })
    };
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (res, _) = call(&app, "/logout", &[&cookie]).await;
    assert!(
        res.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    tx.send(()).unwrap();
    let (res, body) = slow.await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(body.starts_with("The request's session was deleted"));
    assert!(store.is_empty(), "the logout stays");
}

#[tokio::test]
async fn missing_layer_is_a_500() {
    let app: Router = Router::new().route("/", get(visit));
    let (res, _) = call(&app, "/", &[]).await;
    assert_eq!(res.status(), 500);
}
