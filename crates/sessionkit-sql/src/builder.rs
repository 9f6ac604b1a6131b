//! [`Builder`]: the options of every store of this crate, held and set in one place.
//!
//! # Why one generic builder
//!
//! The six stores (three drivers, two layouts) took the same options: where the database
//! is (a URL, or an SQLite path), the table, whether opening may create it ([`Create`]),
//! and, for Django's layout, the secrets, `USE_TZ` / `TIME_ZONE` and a PostgreSQL schema
//! or MySQL database. Six builder structs wrote those fields and their setters six times,
//! so one struct holds them, generic over the store it builds: `Builder<S>`. Each store
//! still names its own builder (`PostgresBuilder` is `Builder<PostgresStore>`,
//! `DjangoSqliteBuilder` is `Builder<DjangoSqliteStore>`, ...), and the grammar is the one
//! it always was: `PostgresStore::builder(url).with_table(..).connect()`,
//! `DjangoSqliteStore::builder(path, &secrets).create_table_if_missing().open()`.
//!
//! What differs per store is not in this file:
//!
//! * the finishing call, `connect()` (PostgreSQL, MySQL) or `open()` (SQLite), is an
//!   inherent method of that store's `Builder<Store>`, written beside the store (so a
//!   change to how one database is reached stays in its driver's folder);
//! * the setters only one store has (`with_schema` for `DjangoPostgresBuilder`,
//!   `with_database` for `DjangoMySqlBuilder`) likewise;
//! * the setters of Django's layout (`with_django_time`, `create_table_if_missing`) exist
//!   only on the builders whose [`Target::Options`] are Django's (`DjangoOptions`).
//!
//! [`Target`] is sealed: it only ties a store to the kind of place it opens, its own
//! options and its defaults, and cannot be implemented outside this crate.

use std::fmt;

use sessionkit_core::store::Create;

mod sealed {
    /// Only this crate's stores are [`Target`](super::Target)s.
    pub trait Sealed {}
}

pub(crate) use sealed::Sealed;

/// A store a [`Builder`] builds (sealed: the stores of this crate).
pub trait Target: Sealed + Sized {
    /// Where the store is: a URL (`String`) for the server stores, a path for SQLite.
    type Place: Clone + fmt::Debug;
    /// What the store's layout adds to the common options: `()` for the native layout,
    /// the Django options for Django's.
    type Options: Clone + fmt::Debug;
    /// The table a builder starts with.
    const DEFAULT_TABLE: &'static str;
    /// Whether a builder starts out allowed to create the table: the native stores do
    /// ([`Create::IfMissing`]), the Django stores do not ([`Create::Never`]: Django's
    /// `migrate` creates the table).
    const DEFAULT_CREATE: Create;
}

/// Options for opening or connecting a store `S`; from `S::builder(..)`. See the
/// [module docs](crate::builder) for why every store shares this one type.
///
/// Finish with `connect()` (PostgreSQL, MySQL) or `open()` (SQLite).
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` (or, for SQLite, `open`) is called"]
pub struct Builder<S: Target> {
    pub(crate) place: S::Place,
    pub(crate) table: String,
    pub(crate) create: Create,
    /// What the layout adds (read by the Django stores only).
    #[cfg_attr(not(feature = "django"), allow(dead_code))]
    pub(crate) options: S::Options,
}

impl<S: Target> Builder<S> {
    /// A builder for the store at `place` with the store's default table and creation
    /// rule.
    pub(crate) fn new(place: S::Place, options: S::Options) -> Builder<S> {
        Builder {
            place,
            table: S::DEFAULT_TABLE.to_owned(),
            create: S::DEFAULT_CREATE,
            options,
        }
    }

    /// Uses `table` instead of the store's default (`sessionkit_session` for the native
    /// layout, `django_session` for Django's): letters, digits and `_` (PostgreSQL
    /// lower-cases it). Lets several applications or tests share one database, or names a
    /// custom Django session model's `db_table`.
    pub fn with_table(mut self, table: impl Into<String>) -> Builder<S> {
        self.table = table.into();
        self
    }

    /// Whether opening may create the tables ([`Create::IfMissing`]; the default of the
    /// native stores) or must find them ([`Create::Never`]; the default of the Django
    /// stores, whose table Django's `migrate` creates). Under [`Create::Never`] a missing
    /// table (or SQLite file) is a
    /// [`StoreErrorKind::Config`](sessionkit_core::StoreErrorKind::Config) error naming
    /// it, and nothing is created or written while opening. A server's database, a
    /// PostgreSQL schema and an SQLite file's directory are never created.
    pub fn with_create(mut self, create: Create) -> Builder<S> {
        self.create = create;
        self
    }
}

/// Makes a store a [`Target`]: `target!(Store: Place, Options, DEFAULT_TABLE, CREATE)`,
/// where `Place` is the type of where it is (`String`, `PathBuf`), `Options` what its
/// layout adds (`()`, `DjangoOptions`), and the last two a new builder's defaults.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused_macros)
)]
macro_rules! target {
    ($store:ty: $place:ty, $options:ty, $table:expr, $create:expr) => {
        impl $crate::builder::Sealed for $store {}

        impl $crate::builder::Target for $store {
            type Place = $place;
            type Options = $options;
            const DEFAULT_TABLE: &'static str = $table;
            const DEFAULT_CREATE: ::sessionkit_core::store::Create = $create;
        }
    };
}

pub(crate) use target;
