//! Django's `db` engine on SQLite: Django's `django_session` table, made by Django's own
//! `migrate`, in a temp file that Django and Rust share.

use std::sync::Arc;

use sessionkit_core::Engine;
use sessionkit_django::Secrets;
use sessionkit_sql::django::DjangoSqliteStore;

use crate::django::{Django, SECRET};
use crate::scenarios::{Pair, config};

async fn pair() -> Option<Pair> {
    let django = Django::new("db")?;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db.sqlite3");
    let django = django
        .with("SK_DB", "sqlite")
        .with("SK_SQLITE_PATH", path.to_str().expect("UTF-8 temp path"));
    django.call(&["migrate"]);
    // The table is Django's: the store finds it, and creates nothing.
    let store = DjangoSqliteStore::open(&path, &Secrets::new(SECRET))
        .await
        .expect("open Django's database");
    let make = Arc::new(move |secrets: &Secrets| {
        // The temp dir lives (and is removed) with the pair.
        let _ = &dir;
        Engine::new(store.with_secrets(secrets), config())
    });
    Some(Pair {
        django,
        make,
        client_side: false,
    })
}

crate::scenarios!();

/// `USE_TZ = False`, `TIME_ZONE = "America/New_York"`: naive local `expire_date` both ways.
#[tokio::test]
async fn use_tz_false_new_york() {
    let Some(django) = Django::new("db") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("db.sqlite3");
    let django = crate::db::local_time(django)
        .with("SK_DB", "sqlite")
        .with("SK_SQLITE_PATH", path.to_str().expect("UTF-8 temp path"));
    django.call(&["migrate"]);
    let store = DjangoSqliteStore::builder(&path, &Secrets::new(SECRET))
        .with_django_time(crate::db::local_django_time())
        .open()
        .await
        .expect("open Django's database");
    crate::db::local_time_checks(&django, &store).await;
}
