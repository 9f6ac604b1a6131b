//! What the three Django stores share, whatever the driver: encoding and decoding
//! `session_data`, tokens, index names, the statements' names, descriptions, and the scans
//! behind listing and the per-user index.

use std::future::Future;

use sessionkit_core::Fingerprint;
use sessionkit_core::{
    Data, Lookup, Metadata, Record, SessionInfo, SessionKey, StoreError, StoreErrorKind, Token,
};
use sessionkit_django::session;
use sessionkit_django::{Secrets, Signer};
use time::OffsetDateTime;

use super::tz::DjangoTime;
use crate::django::{DEFAULT_TABLE, SCAN_BATCH};

/// How often a revocation re-reads a row that kept changing under it before giving up.
const REVOKE_ATTEMPTS: usize = 8;

/// Django's `SessionStore.encode` / `decode` with one set of secrets.
#[derive(Clone, Debug)]
pub(crate) struct Codec {
    signer: Signer,
    /// The database, for log messages.
    db: &'static str,
}

impl Codec {
    pub(crate) fn new(secrets: &Secrets, db: &'static str) -> Codec {
        Codec {
            signer: session::signer(secrets),
            db,
        }
    }

    /// `session_data` for `data`, signed with the current secret at `now`.
    pub(crate) fn encode(&self, data: &Data, now: OffsetDateTime) -> String {
        session::encode(data, &self.signer, now)
    }

    /// The data of a row, or `None` (logged) when it cannot be read.
    pub(crate) fn decode(&self, key: &str, text: &str) -> Option<Data> {
        let data = session::decode(text, &self.signer);
        if data.is_none() {
            tracing::warn!(
                key = %Fingerprint::of(key),
                db = self.db,
                "unreadable Django session data; treating as no session (row left in place)"
            );
        }
        data
    }

    /// A loaded row as a [`Lookup`]: unreadable data or an unreadable date is `Missing`
    /// (logged).
    pub(crate) fn lookup(
        &self,
        key: &SessionKey,
        text: String,
        expires_at: Option<OffsetDateTime>,
    ) -> Lookup {
        let Some(expires_at) = expires_at else {
            tracing::warn!(
                key = %key.fingerprint(),
                db = self.db,
                "unreadable expire_date in a Django session row; treating as no session"
            );
            return Lookup::Missing;
        };
        let Some(data) = self.decode(key.as_str(), &text) else {
            return Lookup::Missing;
        };
        Lookup::Found {
            record: Record {
                meta: Metadata::from_data(&data),
                data,
                expires_at,
            },
            token: token(text),
        }
    }
}

/// The compare-and-set token of a row: its `session_data`.
pub(crate) fn token(session_data: String) -> Token {
    Token::bytes(session_data.into_bytes())
}

/// The `session_data` a token stands for (`None` for a token this layout never issued).
pub(crate) fn token_text(token: &Token) -> Option<&str> {
    token.as_bytes().and_then(|b| std::str::from_utf8(b).ok())
}

/// The expiry index: Django's own name for its table, `<table>_expire_date` otherwise.
pub(crate) fn expire_index(table: &str) -> String {
    if table == DEFAULT_TABLE {
        "django_session_expire_date_a5c62663".to_owned()
    } else {
        format!("{table}_expire_date")
    }
}

/// PostgreSQL's `LIKE` index on the key: Django's own name for its table,
/// `<table>_key_like` otherwise.
#[cfg(feature = "postgres")]
pub(crate) fn like_index(table: &str) -> String {
    if table == DEFAULT_TABLE {
        "django_session_session_key_c0390e0f_like".to_owned()
    } else {
        format!("{table}_key_like")
    }
}

/// What a Django store shows as [`describe`](sessionkit_core::SessionStore::describe):
/// `place` (the URL or `sqlite://path`), then the layout, a table other than Django's
/// (`custom_table`), and `USE_TZ = False` with its zone.
pub(crate) fn describe(place: &str, custom_table: Option<&str>, time: &DjangoTime) -> String {
    let mut s = format!("{place} (django layout");
    if let Some(table) = custom_table {
        s.push_str(", table ");
        s.push_str(table);
    }
    time.describe_into(&mut s);
    s.push(')');
    s
}

/// The error for a table that lacks Django's columns.
pub(crate) fn not_django(
    table: &str,
    place: &str,
    e: impl std::error::Error + Send + Sync + 'static,
) -> StoreError {
    StoreError::with_source(
        StoreErrorKind::Config,
        format!(
            "table {table} in {place} is not Django's session table (session_key, session_data, expire_date)"
        ),
        e,
    )
}

/// The statements of Django's layout, with the table filled in once; each driver's
/// `django_schema` writes them in its dialect.
pub(crate) struct Sql {
    /// Selects Django's columns and no row: fails on a table without them.
    pub(crate) columns: String,
    /// The live row's data and expiry (key, now).
    pub(crate) load: String,
    /// Insert if absent; an expired row does not own its key.
    pub(crate) create: String,
    /// Compare-and-set on the stored text; never inserts.
    pub(crate) save: String,
    pub(crate) delete: String,
    /// Moves the expiry of a live row.
    pub(crate) touch: String,
    /// One cleanup batch of at most [`CLEAR_BATCH`](crate::django::CLEAR_BATCH) rows.
    pub(crate) clear: String,
    /// A page of live rows after a key, in byte order of the key.
    pub(crate) page_live: String,
    /// A page of all rows after a key, in byte order of the key.
    pub(crate) page_all: String,
    /// One row, live or not.
    pub(crate) row: String,
    /// Compare-and-delete on the stored text.
    pub(crate) delete_if: String,
}

/// The error for a database without the session table.
pub(crate) fn table_missing(table: &str, place: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Config,
        format!(
            "table {table} not found{place}: run Django's `manage.py migrate`, or open with `create_table_if_missing`"
        ),
    )
}

/// One row as a scan reads it.
#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) key: String,
    pub(crate) data: String,
    /// `None` when the stored date cannot be read.
    pub(crate) expires_at: Option<OffsetDateTime>,
}

/// The codec a store signs and reads `session_data` with (written by
/// `django_store_common!` for the stores).
pub(crate) trait Coded {
    /// The codec of this store.
    fn codec(&self) -> &Codec;
}

/// Which rows a scan reads next: up to `limit` rows with keys after `after` (`""`: from
/// the first), in byte order of the key; only rows live at `live_at` when given.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Page<'a> {
    pub(crate) after: &'a str,
    pub(crate) live_at: Option<OffsetDateTime>,
    pub(crate) limit: usize,
}

impl<'a> Page<'a> {
    pub(crate) fn new(after: &'a str, live_at: Option<OffsetDateTime>, limit: usize) -> Page<'a> {
        Page {
            after,
            live_at,
            limit,
        }
    }

    /// `limit` as a signed SQL parameter (saturating).
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn limit_i64(&self) -> i64 {
        i64::try_from(self.limit).unwrap_or(i64::MAX)
    }
}

/// What a database offers the scans.
pub(crate) trait Scan: Sync + Coded {
    /// The rows `page` names.
    fn page(&self, page: Page<'_>) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send;

    /// The row under `key`, live or not.
    fn row(&self, key: &str) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send;

    /// Deletes the row under `key` if it still holds `data`; whether it did.
    fn delete_if(
        &self,
        key: &str,
        data: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The methods every Django store has alike, written once: `with_secrets` (a clone on
/// the same database with another codec), `table`, `django_time`, [`Coded`], and the
/// listing and per-user index (the scans below). The
/// store is `$store { db: Arc<_>, codec: Codec }`, its shared part having `table` and
/// `time`; `$db` names the database in logs. A macro because the stores stay distinct
/// types (each its own driver's state), while these methods read the same fields.
macro_rules! django_store_common {
    ($store:ident, $db:literal) => {
        impl $store {
            /// The same database and connections, signing and verifying with other
            /// secrets (a key rotation without reconnecting).
            pub fn with_secrets(&self, secrets: &$crate::django::Secrets) -> $store {
                $store {
                    db: ::std::sync::Arc::clone(&self.db),
                    codec: $crate::shared::django::Codec::new(secrets, $db),
                }
            }

            /// The session table as statements name it: for PostgreSQL quoted, and
            /// with its schema when one was given (`"schema"."django_session"`).
            pub fn table(&self) -> &str {
                &self.db.table
            }

            /// Django's `USE_TZ` and `TIME_ZONE` as configured (what the store applies to
            /// `expire_date`).
            pub fn django_time(&self) -> &$crate::django::DjangoTime {
                &self.db.time
            }
        }

        impl $crate::shared::django::Coded for $store {
            fn codec(&self) -> &$crate::shared::django::Codec {
                &self.codec
            }
        }

        /// Listing decodes every row in key order: see the
        /// [module docs](crate::django).
        impl ::sessionkit_core::SessionListing for $store {
            async fn list(
                &self,
                page: ::sessionkit_core::store::Page<'_>,
            ) -> Result<Vec<::sessionkit_core::SessionInfo>, ::sessionkit_core::StoreError> {
                let ::sessionkit_core::store::Page { now, after, limit } = page;
                $crate::shared::django::list(self, now, after, limit).await
            }
        }

        /// The per-user index is a scan that decodes every row: see the
        /// [module docs](crate::django).
        impl ::sessionkit_core::UserIndex for $store {
            async fn sessions_of(
                &self,
                user_id: &str,
                now: ::time::OffsetDateTime,
            ) -> Result<Vec<::sessionkit_core::SessionInfo>, ::sessionkit_core::StoreError> {
                $crate::shared::django::sessions_of(self, user_id, now).await
            }

            async fn revoke_user(
                &self,
                user_id: &str,
                keep: Option<&::sessionkit_core::SessionKey>,
            ) -> Result<u64, ::sessionkit_core::StoreError> {
                $crate::shared::django::revoke_user(self, user_id, keep).await
            }
        }
    };
}

pub(crate) use django_store_common;

/// A readable row as listings show it.
fn info(codec: &Codec, row: &Row) -> Option<(SessionInfo, Data)> {
    let key = SessionKey::parse(&row.key)?;
    let expires_at = row.expires_at?;
    let data = codec.decode(&row.key, &row.data)?;
    Some((
        SessionInfo {
            key,
            expires_at,
            meta: Metadata::from_data(&data),
        },
        data,
    ))
}

/// [`SessionListing::list`](sessionkit_core::SessionListing::list) by scanning: reads
/// pages until `limit` readable live sessions are found or the table ends.
pub(crate) async fn list<S: Scan>(
    store: &S,
    now: OffsetDateTime,
    after: Option<&SessionKey>,
    limit: usize,
) -> Result<Vec<SessionInfo>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = after.map_or_else(String::new, |k| k.as_str().to_owned());
    while out.len() < limit {
        let want = (limit - out.len()).clamp(1, SCAN_BATCH);
        let rows = store.page(Page::new(&cursor, Some(now), want)).await?;
        let Some(last) = rows.last() else { break };
        cursor.clone_from(&last.key);
        let short = rows.len() < want;
        out.extend(
            rows.iter()
                .filter_map(|r| info(store.codec(), r))
                .map(|(i, _)| i),
        );
        if short {
            break;
        }
    }
    out.truncate(limit);
    Ok(out)
}

/// [`UserIndex::sessions_of`](sessionkit_core::UserIndex::sessions_of) by scanning every
/// live row.
pub(crate) async fn sessions_of<S: Scan>(
    store: &S,
    user: &str,
    now: OffsetDateTime,
) -> Result<Vec<SessionInfo>, StoreError> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let rows = store
            .page(Page::new(&cursor, Some(now), SCAN_BATCH))
            .await?;
        let Some(last) = rows.last() else { break };
        cursor.clone_from(&last.key);
        out.extend(
            rows.iter()
                .filter_map(|r| info(store.codec(), r))
                .filter(|(i, _)| i.meta.user_id.as_deref() == Some(user))
                .map(|(i, _)| i),
        );
        if rows.len() < SCAN_BATCH {
            break;
        }
    }
    Ok(out)
}

/// [`UserIndex::revoke_user`](sessionkit_core::UserIndex::revoke_user) by scanning every
/// row (expired ones too) and deleting the user's with a compare-and-delete.
pub(crate) async fn revoke_user<S: Scan>(
    store: &S,
    user: &str,
    keep: Option<&SessionKey>,
) -> Result<u64, StoreError> {
    let keep = keep.map(SessionKey::as_str);
    let mut removed = 0;
    let mut cursor = String::new();
    loop {
        let rows = store.page(Page::new(&cursor, None, SCAN_BATCH)).await?;
        let Some(last) = rows.last() else { break };
        cursor.clone_from(&last.key);
        for row in &rows {
            if Some(row.key.as_str()) == keep {
                continue;
            }
            if belongs_to(store.codec(), row, user) && revoke_row(store, row, user).await? {
                removed += 1;
            }
        }
        if rows.len() < SCAN_BATCH {
            break;
        }
    }
    Ok(removed)
}

fn belongs_to(codec: &Codec, row: &Row, user: &str) -> bool {
    codec
        .decode(&row.key, &row.data)
        .is_some_and(|d| d.user_id().as_deref() == Some(user))
}

/// Deletes `row` if it still holds what was decoded; when it changed meanwhile, decodes
/// it again and deletes it only if it still belongs to `user`.
async fn revoke_row<S: Scan>(store: &S, row: &Row, user: &str) -> Result<bool, StoreError> {
    let mut data = row.data.clone();
    for _ in 0..REVOKE_ATTEMPTS {
        if store.delete_if(&row.key, &data).await? {
            return Ok(true);
        }
        match store.row(&row.key).await? {
            Some(now) if belongs_to(store.codec(), &now, user) => data = now.data,
            // Gone, or no longer this user's.
            _ => return Ok(false),
        }
    }
    Err(StoreError::new(
        StoreErrorKind::Unavailable,
        format!(
            "session {} kept changing while its user was being revoked; try again",
            Fingerprint::of(&row.key)
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_and_index_names() {
        let data = Data::from_json(r#"{"_auth_user_id":"42"}"#.into()).unwrap();
        assert_eq!(data.user_id().as_deref(), Some("42"));
        let data = Data::from_json(r#"{"_auth_user_id":7}"#.into()).unwrap();
        assert_eq!(data.user_id().as_deref(), Some("7"));
        let data = Data::from_json(r#"{"_auth_user_id":null}"#.into()).unwrap();
        assert_eq!(data.user_id(), None);
        assert_eq!(
            expire_index("django_session"),
            "django_session_expire_date_a5c62663"
        );
        assert_eq!(expire_index("other"), "other_expire_date");
    }

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

    /// A table in memory; `on_delete` runs (once per key) just before a compare-and-delete,
    /// as a concurrent writer would.
    struct Fake {
        codec: Codec,
        rows: Mutex<BTreeMap<String, (String, OffsetDateTime)>>,
        on_delete: Mutex<BTreeMap<String, Option<String>>>,
    }

    impl Fake {
        fn new() -> Fake {
            Fake {
                codec: Codec::new(&Secrets::new("fake-secret"), "fake"),
                rows: Mutex::default(),
                on_delete: Mutex::default(),
            }
        }

        fn put(&self, key: &str, json: &str) -> String {
            let data = self
                .codec
                .encode(&Data::from_json(json.into()).unwrap(), NOW);
            self.rows.lock().unwrap().insert(
                key.to_owned(),
                (data.clone(), NOW + time::Duration::hours(1)),
            );
            data
        }

        fn has(&self, key: &str) -> bool {
            self.rows.lock().unwrap().contains_key(key)
        }
    }

    impl Scan for Fake {
        async fn page(&self, p: Page<'_>) -> Result<Vec<Row>, StoreError> {
            let Page {
                after,
                live_at,
                limit,
            } = p;
            Ok(self
                .rows
                .lock()
                .unwrap()
                .iter()
                .filter(|(k, (_, e))| k.as_str() > after && live_at.is_none_or(|n| *e > n))
                .take(limit)
                .map(|(k, (d, e))| Row {
                    key: k.clone(),
                    data: d.clone(),
                    expires_at: Some(*e),
                })
                .collect())
        }

        async fn row(&self, key: &str) -> Result<Option<Row>, StoreError> {
            Ok(self.rows.lock().unwrap().get(key).map(|(d, e)| Row {
                key: key.to_owned(),
                data: d.clone(),
                expires_at: Some(*e),
            }))
        }

        async fn delete_if(&self, key: &str, data: &str) -> Result<bool, StoreError> {
            let change = self.on_delete.lock().unwrap().remove(key);
            match change {
                Some(Some(json)) => {
                    self.put(key, &json);
                }
                Some(None) => {
                    self.rows.lock().unwrap().remove(key);
                }
                None => {}
            }
            let mut rows = self.rows.lock().unwrap();
            if rows.get(key).is_some_and(|(d, _)| d == data) {
                rows.remove(key);
                return Ok(true);
            }
            Ok(false)
        }
    }

    impl Coded for Fake {
        fn codec(&self) -> &Codec {
            &self.codec
        }
    }

    #[tokio::test]
    async fn revocation_rechecks_rows_that_changed() {
        let fake = Fake::new();
        fake.put("aaaaaaaa01", r#"{"_auth_user_id":"1","n":1}"#);
        fake.put("aaaaaaaa02", r#"{"_auth_user_id":"1","n":1}"#);
        fake.put("aaaaaaaa03", r#"{"_auth_user_id":"1","n":1}"#);
        fake.put("aaaaaaaa04", r#"{"_auth_user_id":"1","n":1}"#);
        fake.put("aaaaaaaa05", r#"{"_auth_user_id":"2"}"#);
        fake.put("aaaaaaaa06", r#"{"_auth_user_id":"1"}"#);
        {
            let mut changes = fake.on_delete.lock().unwrap();
            // Saved meanwhile, still user 1: deleted after a second look.
            changes.insert(
                "aaaaaaaa01".into(),
                Some(r#"{"_auth_user_id":"1","n":2}"#.into()),
            );
            // Logged in as another user meanwhile: kept.
            changes.insert("aaaaaaaa02".into(), Some(r#"{"_auth_user_id":"3"}"#.into()));
            // Logged out meanwhile: kept.
            changes.insert("aaaaaaaa03".into(), Some(r#"{"n":2}"#.into()));
            // Deleted meanwhile: not counted.
            changes.insert("aaaaaaaa04".into(), None);
        }
        let keep = SessionKey::parse("aaaaaaaa06").unwrap();
        assert_eq!(revoke_user(&fake, "1", Some(&keep)).await.unwrap(), 1);
        assert!(!fake.has("aaaaaaaa01"));
        assert!(fake.has("aaaaaaaa02"));
        assert!(fake.has("aaaaaaaa03"));
        assert!(!fake.has("aaaaaaaa04"));
        assert!(fake.has("aaaaaaaa05"));
        assert!(fake.has("aaaaaaaa06"));
    }

    #[tokio::test]
    async fn listing_fills_pages_past_unreadable_rows() {
        let fake = Fake::new();
        for i in 0..10 {
            fake.put(&format!("bbbbbbbb{i:02}"), r#"{"_auth_user_id":"9"}"#);
        }
        // Signed with another secret: skipped, and the page still fills up.
        let other = Codec::new(&Secrets::new("other"), "fake").encode(&Data::new(), NOW);
        for k in ["bbbbbbbb01", "bbbbbbbb02", "bbbbbbbb03"] {
            fake.rows.lock().unwrap().get_mut(k).unwrap().0 = other.clone();
        }
        let page = list(&fake, NOW, None, 4).await.unwrap();
        let keys: Vec<&str> = page.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            ["bbbbbbbb00", "bbbbbbbb04", "bbbbbbbb05", "bbbbbbbb06"]
        );
        assert_eq!(page[0].meta.user_id.as_deref(), Some("9"));
        let rest = list(&fake, NOW, Some(&page[3].key), 100).await.unwrap();
        assert_eq!(rest.len(), 3);
        assert!(list(&fake, NOW, None, 0).await.unwrap().is_empty());
        assert_eq!(sessions_of(&fake, "9", NOW).await.unwrap().len(), 7);
        assert!(
            sessions_of(&fake, "9", NOW + time::Duration::hours(2))
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn descriptions() {
        let utc = DjangoTime::default();
        assert_eq!(describe("db", None, &utc), "db (django layout)");
        let ny = DjangoTime::local("America/New_York").unwrap();
        assert_eq!(
            describe("db", Some("t"), &ny),
            r#"db (django layout, table t, USE_TZ = False, TIME_ZONE = "America/New_York")"#
        );
    }

    #[test]
    fn tokens_are_the_stored_text() {
        let t = token("abc:def".to_owned());
        assert_eq!(token_text(&t), Some("abc:def"));
        assert_eq!(token_text(&Token::version(3)), None);
    }
}
