//! Django's `db` engine on MySQL / MariaDB (`SESSIONKIT_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`).
//!
//! Each test gets a database of its own: the driver's `migrate` creates it (utf8mb4, the
//! server's default collation) and Django's tables in it (`SK_MYSQL_DB` replaces the URL's
//! database); the Rust store connects to the same database
//! ([`DjangoMySqlBuilder::with_database`]). The driver's `teardown` drops it at the end.
//!
//! [`DjangoMySqlBuilder::with_database`]: sessionkit_sql::django::DjangoMySqlBuilder::database

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use sessionkit_core::{Engine, SessionStore};
use sessionkit_django::Secrets;
use sessionkit_sql::django::DjangoMySqlStore;

use crate::db::{Teardown, is_stale, namespace};
use crate::django::{Django, SECRET};
use crate::scenarios::{Pair, config};

fn url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
    )
}

/// A plain connection: `Err` when the server is unreachable.
async fn raw() -> Result<Conn, String> {
    let opts = Opts::from_url(&url()).map_err(|e| e.to_string())?;
    match tokio::time::timeout(Duration::from_secs(5), Conn::new(opts)).await {
        Ok(conn) => conn.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Drops the databases a killed run left behind (once per process).
async fn sweep_stale(conn: &mut Conn) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let names: Vec<String> = conn
        .query(
            r"SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata
              WHERE schema_name LIKE 'sk\\_interop\\_%'",
        )
        .await
        .unwrap_or_default();
    for name in names {
        if is_stale(&name) {
            let _ = conn
                .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                .await;
        }
    }
}

async fn pair() -> Option<Pair> {
    let django = Django::new("db")?;
    let mut conn = sessionkit_testkit::require("MySQL", raw().await)?;
    sweep_stale(&mut conn).await;
    let _ = conn.disconnect().await;
    let database = namespace();
    let django = django
        .with("SK_DB", "mysql")
        .with("SK_MYSQL_URL", &url())
        .with("SK_MYSQL_DB", &database);
    let teardown = Teardown(django.clone());
    django.call(&["migrate"]);
    let store = sessionkit_testkit::require_store(
        "MySQL",
        DjangoMySqlStore::builder(&url(), &Secrets::new(SECRET))
            .with_database(&database)
            .connect()
            .await,
    )?;
    assert!(
        store
            .describe()
            .ends_with(&format!("/{database} (django layout)")),
        "{}",
        store.describe()
    );
    let make = Arc::new(move |secrets: &Secrets| {
        // The database lives (and is dropped) with the pair.
        let _ = &teardown;
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
    let Some(mut conn) = sessionkit_testkit::require("MySQL", raw().await) else {
        return;
    };
    sweep_stale(&mut conn).await;
    let _ = conn.disconnect().await;
    let database = namespace();
    let django = crate::db::local_time(django)
        .with("SK_DB", "mysql")
        .with("SK_MYSQL_URL", &url())
        .with("SK_MYSQL_DB", &database);
    let _teardown = Teardown(django.clone());
    django.call(&["migrate"]);
    let Some(store) = sessionkit_testkit::require_store(
        "MySQL",
        DjangoMySqlStore::builder(&url(), &Secrets::new(SECRET))
            .with_database(&database)
            .with_django_time(crate::db::local_django_time())
            .connect()
            .await,
    ) else {
        return;
    };
    crate::db::local_time_checks(&django, &store).await;
}
