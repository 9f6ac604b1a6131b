//! Django's `db` engine on PostgreSQL (`SESSIONKIT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`).
//!
//! Each test gets a schema of its own: the driver's `migrate` creates it and Django's
//! tables in it (Django reaches it through `search_path`, `SK_PG_SCHEMA`); the Rust store
//! names the same schema explicitly ([`DjangoPostgresBuilder::with_schema`], every statement
//! on `"<schema>"."django_session"`). The driver's `teardown` drops the schema at the end.
//!
//! [`DjangoPostgresBuilder::with_schema`]: sessionkit_sql::django::DjangoPostgresBuilder::schema

use sessionkit_core::StoreError;
use sessionkit_django::Secrets;
use sessionkit_sql::django::{DjangoPostgresStore, DjangoTime};
use tokio_postgres::NoTls;

use crate::db::{Server, server_pair, server_site};
use crate::django::SECRET;
use crate::scenarios::Pair;

fn url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
}

/// PostgreSQL, a schema per test.
struct Postgres;

impl Server for Postgres {
    const SERVICE: &'static str = "PostgreSQL";
    type Conn = tokio_postgres::Client;
    const SETTINGS: [&'static str; 3] = ["postgres", "SK_PG_URL", "SK_PG_SCHEMA"];
    type Store = DjangoPostgresStore;

    async fn raw() -> Result<tokio_postgres::Client, String> {
        let (client, conn) = tokio_postgres::connect(&url(), NoTls)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(client)
    }

    async fn namespaces(client: &mut tokio_postgres::Client) -> Vec<String> {
        let rows = client
            .query(
                r"SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'sk\_interop\_%'",
                &[],
            )
            .await
            .unwrap_or_default();
        rows.iter()
            .filter_map(|r| r.try_get::<_, String>(0).ok())
            .collect()
    }

    async fn drop_namespace(client: &mut tokio_postgres::Client, name: &str) {
        let _ = client
            .batch_execute(&format!(r#"DROP SCHEMA IF EXISTS "{name}" CASCADE"#))
            .await;
    }

    fn url() -> String {
        url()
    }

    async fn connect(schema: &str, time: DjangoTime) -> Result<DjangoPostgresStore, StoreError> {
        let store = DjangoPostgresStore::builder(&url(), &Secrets::new(SECRET))
            .with_schema(schema)
            .with_django_time(time)
            .connect()
            .await?;
        assert_eq!(store.table(), format!(r#""{schema}"."django_session""#));
        Ok(store)
    }

    fn with_secrets(store: &DjangoPostgresStore, secrets: &Secrets) -> DjangoPostgresStore {
        store.with_secrets(secrets)
    }
}

async fn pair() -> Option<Pair> {
    server_pair::<Postgres>().await
}

crate::scenarios!();

/// `USE_TZ = False`, `TIME_ZONE = "America/New_York"`: Django's migrate still makes
/// `timestamp with time zone`, and Django's naive local times reach it as instants
/// (Django sets the connection's time zone); both sides agree on every expiry.
#[tokio::test]
async fn use_tz_false_new_york() {
    let Some((django, store, _teardown)) = server_site::<Postgres>(true).await else {
        return;
    };
    assert!(!store.naive_expire_date(), "Django's column is timestamptz");
    crate::db::local_time_checks(&django, &store).await;
}
