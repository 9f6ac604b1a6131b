//! The examples' routes, mounted without a socket: the tutorial flow with a cookie jar.

use actix_web::{App, test};
use sessionkit::actix::SessionMiddleware;
use sessionkit::{Config, SqliteStore};

#[allow(dead_code, unreachable_pub)]
#[path = "../../../examples/actix-basic.rs"]
mod actix_basic;

#[actix_web::test]
async fn actix_basic_runs_the_tutorial() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("s.sqlite3"))
        .await
        .unwrap();
    let app = test::init_service(
        App::new()
            .wrap(SessionMiddleware::new(store, Config::default()))
            .configure(actix_basic::routes),
    )
    .await;
    let mut cookie: Option<String> = None;
    for (uri, want) in [
        ("/", "Visit count: 1"),
        ("/", "Visit count: 2"),
        ("/", "Visit count: 3"),
        ("/color/get", "Favorite color: unknown"),
        ("/color/set?color=blue", "Color saved"),
        ("/color/get", "Favorite color: blue"),
    ] {
        let mut req = test::TestRequest::get().uri(uri);
        if let Some(c) = &cookie {
            req = req.insert_header(("cookie", c.clone()));
        }
        let res = test::call_service(&app, req.to_request()).await;
        if let Some(sc) = res.headers().get("set-cookie") {
            cookie = Some(sc.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        let body = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert_eq!(body, want, "{uri}");
    }
}
