//! Django's `db` engine on PostgreSQL (`SESSIONKIT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Each test gets a schema of its own: the driver's `migrate` creates it and Django's
//! tables in it (Django reaches it through `search_path`, `SK_PG_SCHEMA`); the Rust store
//! names the same schema explicitly ([`DjangoPostgresBuilder::with_schema`], every statement
//! on `"<schema>"."django_session"`). The driver's `teardown` drops the schema at the end.
//!
//! [`DjangoPostgresBuilder::with_schema`]: sessionkit_sql::django::DjangoPostgresBuilder::schema

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sessionkit_core::Engine;
use sessionkit_django::Secrets;
use sessionkit_sql::django::DjangoPostgresStore;
use tokio_postgres::NoTls;

use crate::db::{Teardown, is_stale, namespace};
use crate::django::{Django, SECRET};
use crate::scenarios::{Pair, config};

fn url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

/// A plain connection: `Err` when the server is unreachable.
async fn raw() -> Result<tokio_postgres::Client, String> {
    let (client, conn) = tokio_postgres::connect(&url(), NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// Drops the schemas a killed run left behind (once per process).
async fn sweep_stale(client: &tokio_postgres::Client) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let rows = client
        .query(
            r"SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'sk\_interop\_%'",
            &[],
        )
        .await
        .unwrap_or_default();
    for name in rows.iter().filter_map(|r| r.try_get::<_, String>(0).ok()) {
        if is_stale(&name) {
            let _ = client
                .batch_execute(&format!(r#"DROP SCHEMA IF EXISTS "{name}" CASCADE"#))
                .await;
        }
    }
}

async fn pair() -> Option<Pair> {
    let django = Django::new("db")?;
    let client = sessionkit_testkit::require("PostgreSQL", raw().await)?;
    sweep_stale(&client).await;
    let schema = namespace();
    let django = django
        .with("SK_DB", "postgres")
        .with("SK_PG_URL", &url())
        .with("SK_PG_SCHEMA", &schema);
    let teardown = Teardown(django.clone());
    django.call(&["migrate"]);
    let store = sessionkit_testkit::require_store(
        "PostgreSQL",
        DjangoPostgresStore::builder(&url(), &Secrets::new(SECRET))
            .with_schema(&schema)
            .connect()
            .await,
    )?;
    assert_eq!(store.table(), format!(r#""{schema}"."django_session""#));
    let make = Arc::new(move |secrets: &Secrets| {
        // The schema lives (and is dropped) with the pair.
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

/// `USE_TZ = False`, `TIME_ZONE = "America/New_York"`: Django's migrate still makes
/// `timestamp with time zone`, and Django's naive local times reach it as instants
/// (Django sets the connection's time zone); both sides agree on every expiry.
#[tokio::test]
async fn use_tz_false_new_york() {
    let Some(django) = Django::new("db") else {
        return;
    };
    let Some(client) = sessionkit_testkit::require("PostgreSQL", raw().await) else {
        return;
    };
    sweep_stale(&client).await;
    let schema = namespace();
    let django = crate::db::local_time(django)
        .with("SK_DB", "postgres")
        .with("SK_PG_URL", &url())
        .with("SK_PG_SCHEMA", &schema);
    let _teardown = Teardown(django.clone());
    django.call(&["migrate"]);
    let Some(store) = sessionkit_testkit::require_store(
        "PostgreSQL",
        DjangoPostgresStore::builder(&url(), &Secrets::new(SECRET))
            .with_schema(&schema)
            .with_django_time(crate::db::local_django_time())
            .connect()
            .await,
    ) else {
        return;
    };
    assert!(!store.naive_expire_date(), "Django's column is timestamptz");
    crate::db::local_time_checks(&django, &store).await;
}
