//! Django's `db` engine on MySQL / MariaDB (`SESSIONKIT_TEST_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/test`).
//!
//! Each test gets a database of its own: the driver's `migrate` creates it (utf8mb4, the
//! server's default collation) and Django's tables in it (`SK_MYSQL_DB` replaces the URL's
//! database); the Rust store connects to the same database
//! ([`DjangoMySqlBuilder::with_database`]). The driver's `teardown` drops it at the end.
//!
//! [`DjangoMySqlBuilder::with_database`]: sessionkit_sql::django::DjangoMySqlBuilder::database

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use sessionkit_core::{SessionStore, StoreError};
use sessionkit_django::Secrets;
use sessionkit_sql::django::{DjangoMySqlStore, DjangoTime};

use crate::db::{Server, server_pair, server_site};
use crate::django::SECRET;
use crate::scenarios::Pair;

fn url() -> String {
    sessionkit_testkit::service_url(
        "SESSIONKIT_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/test",
    )
}

/// MySQL / MariaDB, a database per test.
struct MySql;

impl Server for MySql {
    const SERVICE: &'static str = "MySQL";
    type Conn = Conn;
    const SETTINGS: [&'static str; 3] = ["mysql", "SK_MYSQL_URL", "SK_MYSQL_DB"];
    type Store = DjangoMySqlStore;

    async fn raw() -> Result<Conn, String> {
        let opts = Opts::from_url(&url()).map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(5), Conn::new(opts)).await {
            Ok(conn) => conn.map_err(|e| e.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }

    async fn namespaces(conn: &mut Conn) -> Vec<String> {
        conn.query(
            r"SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata
              WHERE schema_name LIKE 'sk\\_interop\\_%'",
        )
        .await
        .unwrap_or_default()
    }

    async fn drop_namespace(conn: &mut Conn, name: &str) {
        let _ = conn
            .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .await;
    }

    async fn close(conn: Conn) {
        let _ = conn.disconnect().await;
    }

    fn url() -> String {
        url()
    }

    async fn connect(database: &str, time: DjangoTime) -> Result<DjangoMySqlStore, StoreError> {
        let layout = if time.use_tz() {
            "django layout".to_owned()
        } else {
            format!("django layout, {time}")
        };
        let store = DjangoMySqlStore::builder(&url(), &Secrets::new(SECRET))
            .with_database(database)
            .with_django_time(time)
            .connect()
            .await?;
        assert!(
            store
                .describe()
                .ends_with(&format!("/{database} ({layout})")),
            "{}",
            store.describe()
        );
        Ok(store)
    }

    fn with_secrets(store: &DjangoMySqlStore, secrets: &Secrets) -> DjangoMySqlStore {
        store.with_secrets(secrets)
    }
}

async fn pair() -> Option<Pair> {
    server_pair::<MySql>().await
}

crate::scenarios!();

/// `USE_TZ = False`, `TIME_ZONE = "America/New_York"`: naive local `expire_date` both ways.
#[tokio::test]
async fn use_tz_false_new_york() {
    let Some((django, store, _teardown)) = server_site::<MySql>(true).await else {
        return;
    };
    crate::db::local_time_checks(&django, &store).await;
}
