//! Django's `db` session engine layout: the `django_session` table, shared with a Django
//! application (feature `django`).
//!
//! | store | features | `expire_date` as written |
//! | --- | --- | --- |
//! | [`DjangoSqliteStore`] | `sqlite` + `django` | `TEXT` `YYYY-MM-DD HH:MM:SS[.ffffff]`, naive UTC (Python's `str(datetime)`), compared as text |
//! | [`DjangoPostgresStore`] | `postgres` + `django` | `timestamp with time zone` |
//! | [`DjangoMySqlStore`] | `mysql` + `django` | `datetime(6)`, naive UTC |
//!
//! "Naive UTC" is Django's `USE_TZ = True`. With `USE_TZ = False` Django writes naive local
//! time in `TIME_ZONE` instead: give the builders a [`DjangoTime`] (`.with_django_time(..)`) and the
//! stores do the same, comparisons included.
//!
//! # The table
//!
//! Exactly what Django's `migrate` creates (`sessions.0001_initial`, Django 4.2 to 6.x,
//! `USE_TZ = True`):
//!
//! ```sql
//! -- SQLite
//! CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY,
//!   "session_data" text NOT NULL, "expire_date" datetime NOT NULL);
//! CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");
//!
//! -- PostgreSQL
//! CREATE TABLE "django_session" ("session_key" varchar(40) NOT NULL PRIMARY KEY,
//!   "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL);
//! CREATE INDEX "django_session_session_key_c0390e0f_like" ON "django_session" ("session_key" varchar_pattern_ops);
//! CREATE INDEX "django_session_expire_date_a5c62663" ON "django_session" ("expire_date");
//!
//! -- MySQL / MariaDB
//! CREATE TABLE `django_session` (`session_key` varchar(40) NOT NULL PRIMARY KEY,
//!   `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL);
//! CREATE INDEX `django_session_expire_date_a5c62663` ON `django_session` (`expire_date`);
//! ```
//!
//! The table belongs to Django. Opening a store on a database without it fails with a
//! [`Config`](sessionkit_core::StoreErrorKind::Config) error that says to run Django's
//! `manage.py migrate`; only an explicit `create_table_if_missing()` on the builder makes
//! the store create it, with exactly the statements above (another table name gets the
//! same columns and indexes named `<table>_expire_date` and `<table>_key_like`). Django
//! does not know about a table created that way: its own `migrate` then needs
//! `--fake-initial` to adopt it.
//!
//! # Semantics
//!
//! * `session_data` is Django's `SessionStore.encode()`: the session as Python-compatible
//!   JSON, compressed when that helps, signed with `SECRET_KEY` and the salt
//!   `django.contrib.sessions.SessionStore`
//!   ([`sessionkit_django::session`]). Reading tries `SECRET_KEY_FALLBACKS` too
//!   ([`Secrets`]); writing always signs with the current key.
//! * The row's expiry is the `expire_date` column. The engine computes it as Django's
//!   `get_expiry_date()` does (from `_session_expiry` in the data, else the cookie age)
//!   and passes it as [`Record::expires_at`](sessionkit_core::Record::expires_at). Every
//!   comparison uses the `now` the engine passes, never the database's clock; a row is
//!   live while `expire_date > now`, as in Django.
//! * There is no version column: the compare-and-set token is the stored `session_data`
//!   string itself. A save is `UPDATE … SET session_data, expire_date WHERE session_key
//!   = ? AND session_data = <as loaded> AND expire_date > <now>`, compared byte for byte
//!   (also on MySQL's case-insensitive collations); it never inserts. A create inserts
//!   only if no live row has the key (an expired row does not own it).
//! * Django's layout has no metadata columns: a loaded record's
//!   [`Metadata`](sessionkit_core::Metadata) holds only the user id, read from
//!   `_auth_user_id` in the data. It has no rotation markers either:
//!   [`retire`](sessionkit_core::SessionStore::retire) deletes the row.
//! * `touch` moves `expire_date` only; the data, and so the token, stay as they are.
//! * `clear_expired` deletes rows with `expire_date <= now` in batches of
//!   [`CLEAR_BATCH`] (Django's `clearsessions` keeps rows expiring exactly now until next
//!   time; the difference is harmless).
//! * Data that cannot be read (signed with an unknown secret, corrupt, a date that does
//!   not parse) is a missing session plus a warning, and the row is left in place.
//!
//! # Listing and the per-user index are scans
//!
//! Django's table has no user column, and the data is signed (often compressed) text, so
//! [`SessionListing`](sessionkit_core::SessionListing) and
//! [`UserIndex`](sessionkit_core::UserIndex) read the table in key order, in pages of
//! [`SCAN_BATCH`] rows, and decode every row. That is fine for an admin tool or a
//! "log out everywhere" button; it is not an index. Revoking a user's sessions deletes each
//! of their rows only if it still holds the data that was decoded (compare-and-delete); a
//! row that changed meanwhile is decoded and checked again.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> Result<(), sessionkit_core::StoreError> {
//! use sessionkit_core::{Config, Engine};
//! use sessionkit_sql::django::{DjangoSqliteStore, Secrets};
//!
//! // Django's settings.SECRET_KEY and SECRET_KEY_FALLBACKS.
//! let secrets = Secrets::new("django-insecure-...").with_fallback("the-old-key");
//! // Django's DATABASES["default"]["NAME"], after `manage.py migrate`.
//! let store = DjangoSqliteStore::open("/srv/app/db.sqlite3", &secrets).await?;
//! let engine = Engine::new(store, Config::default());
//! # let _ = engine;
//! # Ok(())
//! # }
//! ```

//!
//! # Where the code is
//!
//! This module only gathers the Django layout's public names. Each store lives with its
//! driver (`sqlite/django.rs`, `postgres/django.rs`, `mysql/django.rs`, beside the native
//! layout and sharing its connection handling), its DDL in the driver's
//! `django_schema.rs`; what does not depend on the driver (the codec, the scans, the
//! statements' names, [`DjangoTime`]) is in the crate's `shared` module.

use sessionkit_core::store::Create;
pub use sessionkit_django::Secrets;

use crate::builder::{Builder, Target};

pub use crate::shared::CLEAR_BATCH;
pub use crate::shared::tz::DjangoTime;

#[cfg(feature = "mysql")]
pub use crate::mysql::{DjangoMySqlBuilder, DjangoMySqlStore};
#[cfg(feature = "postgres")]
pub use crate::postgres::{DjangoPostgresBuilder, DjangoPostgresStore};
#[cfg(feature = "sqlite")]
pub use crate::sqlite::{DjangoSqliteBuilder, DjangoSqliteStore, SQLITE_BUSY_TIMEOUT};

/// Django's session table (`django.contrib.sessions.models.Session`).
pub const DEFAULT_TABLE: &str = "django_session";

/// How many rows listing, the per-user index and revocation read per statement.
pub const SCAN_BATCH: usize = 500;

/// What the builders of the Django stores hold beyond the options every store has
/// ([`Builder`]'s table and [`Create`]): the secrets, Django's `USE_TZ` / `TIME_ZONE`, and
/// the PostgreSQL schema or MySQL database the table is in.
#[derive(Debug, Clone)]
pub struct DjangoOptions {
    pub(crate) secrets: Secrets,
    pub(crate) time: DjangoTime,
    /// `DjangoPostgresBuilder::with_schema` or `DjangoMySqlBuilder::with_database`;
    /// SQLite has none.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) scope: Option<String>,
}

impl DjangoOptions {
    /// Signing with `secrets`, `USE_TZ = True`, no schema or database of its own.
    pub(crate) fn new(secrets: &Secrets) -> DjangoOptions {
        DjangoOptions {
            secrets: secrets.clone(),
            time: DjangoTime::default(),
            scope: None,
        }
    }
}

/// The setters of Django's layout, on every Django store's builder.
impl<S: Target<Options = DjangoOptions>> Builder<S> {
    /// Django's `USE_TZ` and `TIME_ZONE` (default: `USE_TZ = True`, naive UTC in SQLite
    /// and MySQL). With `USE_TZ = False`, `expire_date` holds naive local time: see
    /// [`DjangoTime`], and, for PostgreSQL (whose Django table holds instants whatever
    /// `USE_TZ` says), the store's docs.
    pub fn with_django_time(mut self, time: DjangoTime) -> Builder<S> {
        self.options.time = time;
        self
    }

    /// Creates the table (exactly Django's DDL, see the [module docs](crate::django); in MySQL with
    /// the database's default character set) when it is missing, instead of failing. An
    /// SQLite database file is created too; a PostgreSQL schema or a MySQL database never
    /// is.
    ///
    /// Django does not know about a table made this way: its `manage.py migrate` then
    /// needs `--fake-initial` to adopt it (plain `migrate` fails with "table
    /// django_session already exists"). Prefer running Django's `migrate`.
    pub fn create_table_if_missing(self) -> Builder<S> {
        self.with_create(Create::IfMissing)
    }

    /// The schema or database set on the builder, if any.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn scope(&self) -> Option<&str> {
        self.options.scope.as_deref()
    }
}
