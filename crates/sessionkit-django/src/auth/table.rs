//! [`UserTable`]: where a user model lives in SQL, and the queries the SQL loaders run.
#![cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]

/// A user model's table and columns: Django's `auth_user` ([`UserTable::django`]) or a
/// custom user model's ([`UserTable::custom`]). Names are checked once (letters, digits,
/// `_`, and one `schema.` prefix on the table) and quoted in each database's way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTable {
    table: String,
    id: String,
    username: String,
    password: String,
    is_active: Option<String>,
    last_login: Option<String>,
    integer_ids: bool,
}

/// A table or column name that is not a plain SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a plain SQL identifier: {0:?}")]
pub struct BadIdentifier(pub String);

fn plain(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check(name: &str, dotted: bool) -> Result<String, BadIdentifier> {
    let ok = if dotted {
        match name.split_once('.') {
            Some((schema, table)) => plain(schema) && plain(table),
            None => plain(name),
        }
    } else {
        plain(name)
    };
    if ok {
        Ok(name.to_owned())
    } else {
        Err(BadIdentifier(name.to_owned()))
    }
}

/// The quoting of one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

impl UserTable {
    /// Django's `auth.User`: table `auth_user`, integer `id`, `username`, `password`,
    /// `is_active`, `last_login`.
    pub fn django() -> UserTable {
        UserTable {
            table: "auth_user".into(),
            id: "id".into(),
            username: "username".into(),
            password: "password".into(),
            is_active: Some("is_active".into()),
            last_login: Some("last_login".into()),
            integer_ids: true,
        }
    }

    /// A custom user model: its table (`schema.table` allowed), primary-key column,
    /// `USERNAME_FIELD` column and password column; `is_active` and `last_login` columns
    /// as in Django's `AbstractUser` (change them with [`with_is_active`](Self::with_is_active)
    /// and [`with_last_login`](Self::with_last_login)); integer ids.
    ///
    /// ```
    /// use sessionkit_django::auth::UserTable;
    /// let t = UserTable::custom("accounts_member", "id", "email", "password").unwrap();
    /// assert!(UserTable::custom("users; drop", "id", "email", "password").is_err());
    /// ```
    pub fn custom(
        table: &str,
        id: &str,
        username: &str,
        password: &str,
    ) -> Result<UserTable, BadIdentifier> {
        Ok(UserTable {
            table: check(table, true)?,
            id: check(id, false)?,
            username: check(username, false)?,
            password: check(password, false)?,
            ..UserTable::django()
        })
    }

    /// The `is_active` column, or `None` for a model without one (every user active, as
    /// `ModelBackend.user_can_authenticate` treats it).
    pub fn with_is_active(mut self, column: Option<&str>) -> Result<UserTable, BadIdentifier> {
        self.is_active = column.map(|c| check(c, false)).transpose()?;
        Ok(self)
    }

    /// The `last_login` column, or `None` for a model without one (login then records
    /// nothing, as Django connects its `update_last_login` receiver only when the model
    /// has the field).
    pub fn with_last_login(mut self, column: Option<&str>) -> Result<UserTable, BadIdentifier> {
        self.last_login = column.map(|c| check(c, false)).transpose()?;
        Ok(self)
    }

    /// Primary keys that are text (a `CharField` or `UUIDField` primary key) rather than
    /// integers.
    pub fn with_text_ids(mut self) -> UserTable {
        self.integer_ids = false;
        self
    }

    /// Whether ids are integers: a session id that is not one is "no such user" (Django
    /// raises converting it; here it is anonymous plus a warning).
    pub(crate) fn integer_ids(&self) -> bool {
        self.integer_ids
    }

    pub(crate) fn has_last_login(&self) -> bool {
        self.last_login.is_some()
    }

    fn quote(d: Dialect, name: &str) -> String {
        let q = if d == Dialect::MySql { '`' } else { '"' };
        name.split('.')
            .map(|part| format!("{q}{part}{q}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn select(&self, d: Dialect, by: &str) -> String {
        let q = |n: &str| Self::quote(d, n);
        let text = if d == Dialect::MySql { "CHAR" } else { "TEXT" };
        let active = match (&self.is_active, d) {
            (Some(c), Dialect::Postgres) => format!("CAST({} AS BOOLEAN)", q(c)),
            (Some(c), Dialect::Sqlite) => format!("CAST({} AS INTEGER)", q(c)),
            (Some(c), Dialect::MySql) => format!("CAST({} AS SIGNED)", q(c)),
            (None, Dialect::Postgres) => "TRUE".into(),
            (None, _) => "1".into(),
        };
        // PostgreSQL types a parameter after its column: an `integer` key (Django's
        // `AutoField`) would refuse an i64, so the id parameter is typed `BIGINT` (and
        // compared across integer widths).
        let param = match d {
            Dialect::Postgres if by == self.id && self.integer_ids => "CAST($1 AS BIGINT)",
            Dialect::Postgres => "$1",
            _ => "?",
        };
        format!(
            "SELECT CAST({id} AS {text}), {username}, {password}, {active} FROM {table} WHERE {by} = {param}",
            id = q(&self.id),
            username = q(&self.username),
            password = q(&self.password),
            table = q(&self.table),
            by = q(by),
        )
    }

    /// The query for one user by primary key.
    pub(crate) fn select_by_id(&self, d: Dialect) -> String {
        self.select(d, &self.id)
    }

    /// The query for one user by username.
    pub(crate) fn select_by_username(&self, d: Dialect) -> String {
        self.select(d, &self.username)
    }

    /// The `last_login` update (`None` without the column).
    pub(crate) fn update_last_login(&self, d: Dialect) -> Option<String> {
        let column = self.last_login.as_deref()?;
        let (p1, p2) = match d {
            Dialect::Postgres if self.integer_ids => ("$1", "CAST($2 AS BIGINT)"),
            Dialect::Postgres => ("$1", "$2"),
            _ => ("?", "?"),
        };
        Some(format!(
            "UPDATE {} SET {} = {p1} WHERE {} = {p2}",
            Self::quote(d, &self.table),
            Self::quote(d, column),
            Self::quote(d, &self.id),
        ))
    }
}

impl Default for UserTable {
    fn default() -> UserTable {
        UserTable::django()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_queries() {
        let t = UserTable::django();
        assert_eq!(
            t.select_by_id(Dialect::Postgres),
            r#"SELECT CAST("id" AS TEXT), "username", "password", CAST("is_active" AS BOOLEAN) FROM "auth_user" WHERE "id" = CAST($1 AS BIGINT)"#
        );
        assert_eq!(
            t.select_by_username(Dialect::MySql),
            "SELECT CAST(`id` AS CHAR), `username`, `password`, CAST(`is_active` AS SIGNED) FROM `auth_user` WHERE `username` = ?"
        );
        assert_eq!(
            t.update_last_login(Dialect::Sqlite).unwrap(),
            r#"UPDATE "auth_user" SET "last_login" = ? WHERE "id" = ?"#
        );
        let c = UserTable::custom("app.members", "uid", "email", "pw")
            .unwrap()
            .with_is_active(None)
            .unwrap()
            .with_last_login(None)
            .unwrap();
        assert_eq!(
            c.select_by_id(Dialect::Sqlite),
            r#"SELECT CAST("uid" AS TEXT), "email", "pw", 1 FROM "app"."members" WHERE "uid" = ?"#
        );
        assert_eq!(c.update_last_login(Dialect::Sqlite), None);
        for bad in ["", "1a", "a-b", "a.b.c", "a b", "a\"b"] {
            assert!(UserTable::custom(bad, "id", "u", "p").is_err(), "{bad}");
        }
        assert!(UserTable::custom("t", "i.d", "u", "p").is_err());
    }
}
