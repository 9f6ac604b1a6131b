//! Django's `db` engine on SQLite: Django's `django_session` table, made by Django's own
//! `migrate`, in a temp file that Django and Rust share.

use sessionkit_core::Engine;
use sessionkit_django::Secrets;
use sessionkit_sql::django::DjangoSqliteStore;

use crate::db::{django_time, with_time};
use crate::django::SECRET;
use crate::scenarios::{Pair, config};
use crate::support::{SqliteDjango, sqlite_django};

/// Django migrated on a temp file and the store on its table (`local`: Django's
/// [`local_time`](crate::db::local_time)).
async fn site(local: bool) -> Option<(SqliteDjango, DjangoSqliteStore)> {
    let site = sqlite_django("db", |django| with_time(django, local))?;
    // The table is Django's: the store finds it, and creates nothing.
    let store = DjangoSqliteStore::builder(&site.db, &Secrets::new(SECRET))
        .with_django_time(django_time(local))
        .open()
        .await
        .expect("open Django's database");
    Some((site, store))
}

async fn pair() -> Option<Pair> {
    let (site, store) = site(false).await?;
    // The temp dir lives (and is removed) with the pair.
    Some(Pair::new(site.django, site.dir, move |secrets| {
        Engine::new(store.with_secrets(secrets), config())
    }))
}

crate::scenarios!();

/// `USE_TZ = False`, `TIME_ZONE = "America/New_York"`: naive local `expire_date` both ways.
#[tokio::test]
async fn use_tz_false_new_york() {
    let Some((site, store)) = site(true).await else {
        return;
    };
    crate::db::local_time_checks(&site.django, &store).await;
}
