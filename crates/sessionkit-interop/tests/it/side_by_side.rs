//! The demo, side by side: a Django app and `sessionkit serve --layout django` (the same
//! app code, over Django's `django_session` table) share one SQLite database and one
//! cookie. A visitor alternating between them sees one counter.

use std::net::TcpListener;

use sessionkit_core::{Config, Engine};
use sessionkit_sql::django::DjangoSqliteStore;
use sessionkit_testkit::http::Jar;

use crate::django::{Django, SECRET};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_counter_across_django_and_rust() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite3");
    let Some(django) = Django::new("db") else {
        return;
    };
    let django = django
        .with("SK_DB", "sqlite")
        .with("SK_SQLITE_PATH", db.to_str().unwrap());
    django.call(&["migrate"]);
    let django_port = free_port();
    let _django = django.runserver(django_port);

    // The Rust side: the demo app of `sessionkit serve`, on Django's table.
    let store = DjangoSqliteStore::open(&db, &sessionkit_django::Secrets::new(SECRET))
        .await
        .unwrap();
    let app = sessionkit_cli::serve::app(Engine::new(store, Config::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rust_addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let django_addr = format!("127.0.0.1:{django_port}");
    let results = tokio::task::spawn_blocking(move || {
        let mut jar = Jar::default();
        let mut bodies = Vec::new();
        for i in 0..6 {
            let addr = if i % 2 == 0 { &rust_addr } else { &django_addr };
            bodies.push(jar.get(addr, "/").body.trim().to_owned());
        }
        // The color set on one side is read on the other.
        jar.get(&django_addr, "/color/set?color=teal");
        bodies.push(jar.get(&rust_addr, "/color/get").body.trim().to_owned());
        bodies
    })
    .await
    .unwrap();
    assert_eq!(
        results,
        [
            "Visit count: 1",
            "Visit count: 2",
            "Visit count: 3",
            "Visit count: 4",
            "Visit count: 5",
            "Visit count: 6",
            "Favorite color: teal",
        ]
    );
}
