//! What every SQL store shares, whatever the driver and the layout: name rules, layout
//! versions, batched cleanup with progress, save outcomes, time clamping and the row
//! shapes of the native layout. [`django`] holds the driver-independent half of Django's
//! layout (the codec and the scans), [`tz`] Django's `USE_TZ` / `TIME_ZONE`.

#[cfg(all(
    feature = "django",
    any(feature = "sqlite", feature = "postgres", feature = "mysql")
))]
pub(crate) mod django;
#[cfg(feature = "django")]
pub(crate) mod tz;

use std::future::Future;

use sessionkit_core::{
    ClientInfo, Data, Lookup, Metadata, Record, SessionInfo, SessionKey, StoreError,
    StoreErrorKind, Token,
};
use time::OffsetDateTime;

/// How many expired rows one `clear_expired` statement (or transaction) deletes, in every
/// store.
pub const CLEAR_BATCH: u64 = 1000;

/// How long connecting to a database server (and waiting for a free pooled connection)
/// may take before a store reports
/// [`StoreErrorKind::Unavailable`](sessionkit_core::StoreErrorKind::Unavailable): a dead
/// server is a prompt error, not a hang. A PostgreSQL URL's `connect_timeout` overrides it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The most connections a server store (PostgreSQL, MySQL) opens.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub const POOL_SIZE: usize = 16;

/// Checks a session table name: 1-48 ASCII letters, digits and `_`, not starting with a
/// digit. The name is spliced into SQL, so nothing else is allowed; 48 leaves room for
/// the suffixes of the index and lease tables within every database's identifier limit.
pub(crate) fn check_table_name(table: &str) -> Result<(), StoreError> {
    check_name("table", table, 48)
}

/// Checks a name spliced into SQL (`what`: "table", "schema"): 1-`max` ASCII letters,
/// digits and `_`, not starting with a digit.
pub(crate) fn check_name(what: &str, name: &str, max: usize) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "invalid {what} name {name:?}: use 1-{max} letters, digits and _, not starting with a digit"
            ),
        ))
    }
}

/// The error for a native session table that is missing from `place` (a URL, or "SQLite
/// database PATH") where a store opened with
/// [`Create::Never`](sessionkit_core::store::Create::Never) expected it.
pub(crate) fn table_not_found(table: &str, place: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Config,
        format!(
            "table {table} not found in {place}: nothing was created (this store was opened to use an existing one); check the path or URL and the table name, or create the table by opening the store with Create::IfMissing (as `sessionkit serve` does)"
        ),
    )
}

/// The native layout version that added the device-metadata columns (`client_ip`,
/// `user_agent`, `device`); [`NATIVE_SCHEMA_VERSION`] is the current one.
pub(crate) const CLIENT_COLUMNS_VERSION: i64 = 2;

/// How long the upgrade to [`CLIENT_COLUMNS_VERSION`] waits for the table's lock (the
/// `ALTER TABLE` needs it exclusively, behind every open transaction on the table, and
/// every later statement queues behind the waiting `ALTER`): past it the upgrade fails and
/// `serve` exits with the database's lock-timeout error, rather than stalling the table
/// while older processes hold it. Starting again upgrades once they are idle.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) const UPGRADE_LOCK_WAIT_SECS: u64 = 10;

/// The layout version of the native tables this build writes and reads, in every driver:
/// 1 was the first; 2 added the nullable device-metadata columns, which opening with
/// [`Create::IfMissing`](sessionkit_core::store::Create::IfMissing) (as `sessionkit serve`
/// does) adds to a version 1 table, keeping its rows.
pub(crate) const NATIVE_SCHEMA_VERSION: i64 = CLIENT_COLUMNS_VERSION;

/// Checks a session table's recorded layout version against the one this build reads
/// (`current`). The native layouts record it per table in `sessionkit_schema`. A table
/// of an older version from 1 on is upgraded by the driver's `migrate` (which runs when a
/// store is opened to create what is missing) before this check; a store opened with
/// [`Create::Never`](sessionkit_core::store::Create::Never) writes nothing, so it reports
/// such a table as needing that upgrade. A newer version is an error that says which side
/// is out of date.
pub(crate) fn check_layout_version(
    table: &str,
    found: i64,
    current: i64,
) -> Result<(), StoreError> {
    let message = match found.cmp(&current) {
        std::cmp::Ordering::Equal => return Ok(()),
        std::cmp::Ordering::Greater => format!(
            "table {table} has layout version {found}, written by a newer sessionkit than this build (which reads version {current}): use that newer sessionkit"
        ),
        std::cmp::Ordering::Less if found >= 1 => format!(
            "table {table} has layout version {found}, older than version {current} that this build reads: upgrade it by opening the store with Create::IfMissing once (`sessionkit serve` does), which adds the new columns and keeps the sessions"
        ),
        std::cmp::Ordering::Less => format!(
            "table {table} has layout version {found}, older than version {current} that this build reads, and no sessionkit release wrote a version before 1, so there is no upgrade for it: check the table name"
        ),
    };
    Err(StoreError::new(StoreErrorKind::Config, message))
}

/// A server store's `Debug`: `name { url: …, table: … }`, with `, ..` after the table
/// when the store holds more (`more`).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn debug_store(
    f: &mut std::fmt::Formatter<'_>,
    name: &str,
    url: &str,
    table: &str,
    more: bool,
) -> std::fmt::Result {
    let mut s = f.debug_struct(name);
    s.field("url", &url).field("table", &table);
    if more {
        s.finish_non_exhaustive()
    } else {
        s.finish()
    }
}

/// The times a column holds. Each driver keeps its own: PostgreSQL's `timestamptz` (and
/// Python's `datetime`) from year 1, MySQL's `DATETIME` from year 1000, both to the end of
/// year 9999.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeRange {
    pub(crate) min: OffsetDateTime,
    pub(crate) max: OffsetDateTime,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl TimeRange {
    /// `t` in UTC, clamped into the range: a time outside what the column can hold is
    /// stored as the nearest one it can (an expiry in the distant past stays in the past,
    /// one in the distant future stays in the future).
    pub(crate) fn clamp(self, t: OffsetDateTime) -> OffsetDateTime {
        t.to_offset(time::UtcOffset::UTC).clamp(self.min, self.max)
    }

    /// `now + ttl` (a lease's end), saturating at the latest time the column holds.
    pub(crate) fn after(self, now: OffsetDateTime, ttl: std::time::Duration) -> OffsetDateTime {
        time::Duration::try_from(ttl)
            .ok()
            .and_then(|d| now.checked_add(d))
            .unwrap_or(self.max)
    }
}

/// `clear_expired_with_progress` for every store: runs `batch` (one statement or
/// transaction deleting at most [`CLEAR_BATCH`] expired rows, committed by itself so its
/// locks are held only briefly) until one removes fewer, and reports the running total
/// after each batch that removed something (just `0` when nothing had expired, as the
/// default method does).
pub(crate) async fn clear_in_batches<F, Fut>(
    progress: &mut (dyn FnMut(u64) + Send),
    mut batch: F,
) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0u64;
    loop {
        let n = batch().await?;
        total += n;
        if n > 0 {
            progress(total);
        }
        if n < CLEAR_BATCH {
            if total == 0 {
                progress(0);
            }
            return Ok(total);
        }
    }
}

/// What a compare-and-set save came to: `saved` is the new token when a row changed;
/// otherwise a live row under the key (`live`) means another writer got there first.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "django"))]
pub(crate) fn save_outcome(saved: Option<Token>, live: bool) -> sessionkit_core::SaveOutcome {
    use sessionkit_core::SaveOutcome;
    match (saved, live) {
        (Some(token), _) => SaveOutcome::Saved(token),
        (None, true) => SaveOutcome::Conflict,
        (None, false) => SaveOutcome::Missing,
    }
}

/// The version a native token names, as the version columns hold it (`-1`, which no row
/// has, for a token the native layout never issued).
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn token_version(token: &Token) -> i64 {
    token
        .as_version()
        .and_then(|v| i64::try_from(v).ok())
        .unwrap_or(-1)
}

/// The statements of the native layout that every driver runs, with the table filled in
/// once; each driver's `schema` writes them in its dialect, beside its own.
pub(crate) struct NativeSql {
    /// The live row's columns, rotation markers included (key, now).
    pub(crate) load: String,
    /// Insert if absent; an expired row does not own its key.
    pub(crate) create: String,
    /// Compare-and-set on the version; never inserts.
    pub(crate) save: String,
    pub(crate) delete: String,
    /// Moves the expiry (and last-seen) of a live row.
    pub(crate) touch: String,
    /// Leaves a rotation marker in place of the row.
    pub(crate) retire: String,
    /// One cleanup batch of at most [`CLEAR_BATCH`] rows.
    pub(crate) clear: String,
    /// A page of live sessions after a key, in key order.
    pub(crate) list: String,
    /// The first page of live sessions.
    pub(crate) list_all: String,
    /// A user's live sessions.
    pub(crate) of_user: String,
    /// Deletes a user's sessions but one.
    pub(crate) revoke: String,
}

/// Declares a driver's `Sql`: the statements every driver runs ([`NativeSql`], reached
/// through `Deref`, so `sql.load` reads the same in every driver) beside the driver's own
/// (`$own`, each a `String`). A macro rather than a generic `Sql<Own>`, so that a
/// driver's own statements are fields of the same struct (`sql.acquire`, not
/// `sql.own.acquire`).
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(unused_macros)
)]
macro_rules! driver_sql {
    ($($(#[$doc:meta])* $own:ident),* $(,)?) => {
        /// The statements, with the table name filled in once: the ones every driver runs
        /// ([`NativeSql`](crate::shared::NativeSql), reached through `Deref`) and this
        /// driver's own.
        pub(crate) struct Sql {
            native: $crate::shared::NativeSql,
            $($(#[$doc])* pub(crate) $own: String,)*
        }

        impl std::ops::Deref for Sql {
            type Target = $crate::shared::NativeSql;

            fn deref(&self) -> &$crate::shared::NativeSql {
                &self.native
            }
        }
    };
}

pub(crate) use driver_sql;

/// A native-layout row as `load` reads it.
pub(crate) struct NativeRow {
    /// The session as JSON (bytes: MySQL hands them back so).
    pub(crate) json: Vec<u8>,
    pub(crate) version: i64,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) meta: Metadata,
    pub(crate) retired: bool,
}

impl NativeRow {
    /// The row as a [`Lookup`]: a rotation marker is `Retired`, data that cannot be read
    /// `Missing` plus a warning naming `db`.
    pub(crate) fn lookup(self, key: &SessionKey, db: &str) -> Lookup {
        if self.retired {
            return Lookup::Retired {
                until: self.expires_at,
            };
        }
        let data = String::from_utf8(self.json)
            .map_err(|e| e.to_string())
            .and_then(|json| Data::from_json(json.into()).map_err(|e| e.to_string()));
        match data {
            Ok(data) => Lookup::Found {
                record: Record {
                    data,
                    expires_at: self.expires_at,
                    meta: self.meta,
                },
                token: Token::version(self.version as u64),
            },
            Err(e) => {
                tracing::warn!(key = %key.fingerprint(), error = %e, "unreadable session data in {db}; treating as no session");
                Lookup::Missing
            }
        }
    }
}

/// The metadata columns of the native layout.
pub(crate) fn native_meta(
    created_at: OffsetDateTime,
    last_seen: OffsetDateTime,
    user_id: Option<String>,
    client: Option<ClientInfo>,
) -> Metadata {
    Metadata {
        created_at: Some(created_at),
        last_seen: Some(last_seen),
        user_id,
        client,
    }
}

/// The device-metadata columns of the native layout (version 2): the client IP as text,
/// the user agent and the device label, each `NULL` when unknown; all three `NULL` for a
/// session without client info (recording switched off, or a row from version 1).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientColumns {
    pub(crate) ip: Option<String>,
    pub(crate) user_agent: Option<String>,
    pub(crate) device: Option<String>,
}

impl ClientColumns {
    /// The columns a record's metadata writes.
    pub(crate) fn of(meta: &Metadata) -> ClientColumns {
        match &meta.client {
            None => ClientColumns::default(),
            Some(c) => ClientColumns {
                ip: c.ip().map(|ip| ip.to_string()),
                user_agent: c.user_agent().map(str::to_owned),
                device: Some(c.device().to_owned()),
            },
        }
    }

    /// The client info the columns hold: `None` when all three are `NULL`; an IP that does
    /// not parse is dropped with a warning ([`ClientInfo::from_stored`] bounds the rest).
    pub(crate) fn into_client(self) -> Option<ClientInfo> {
        if self.ip.is_none() && self.user_agent.is_none() && self.device.is_none() {
            return None;
        }
        let ip = self.ip.and_then(|ip| {
            let parsed = ip.trim().parse().ok();
            if parsed.is_none() {
                tracing::warn!("unreadable client IP in the session row; dropped");
            }
            parsed
        });
        Some(ClientInfo::from_stored(
            ip,
            self.user_agent.as_deref(),
            self.device.as_deref(),
        ))
    }
}

/// A native listing row (key, expiry, metadata) as listings show it; `None` for a key
/// that is not a session key.
pub(crate) fn native_info(
    key: &str,
    expires_at: OffsetDateTime,
    meta: Metadata,
) -> Option<SessionInfo> {
    Some(SessionInfo {
        key: SessionKey::parse(key)?,
        expires_at,
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_versions() {
        assert!(check_layout_version("t", 1, 1).is_ok());
        let newer = check_layout_version("t", 2, 1).unwrap_err();
        assert_eq!(newer.kind(), StoreErrorKind::Config);
        assert!(newer.message().contains("newer sessionkit"), "{newer}");
        let older = check_layout_version("t", 0, 1).unwrap_err();
        assert!(older.message().contains("older than version 1"), "{older}");
        assert!(older.message().contains("no upgrade"), "{older}");
        let v1 = check_layout_version("t", 1, 2).unwrap_err();
        assert!(v1.message().contains("Create::IfMissing"), "{v1}");
    }

    #[test]
    fn client_columns_round_trip() {
        let meta = Metadata {
            client: Some(ClientInfo::new(
                Some("127.0.0.1".parse().unwrap()),
                Some("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"),
            )),
            ..Metadata::default()
        };
        let cols = ClientColumns::of(&meta);
        assert_eq!(cols.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(cols.into_client(), meta.client);
        assert_eq!(
            ClientColumns::of(&Metadata::default()),
            ClientColumns::default()
        );
        assert_eq!(ClientColumns::default().into_client(), None);
        let odd = ClientColumns {
            ip: Some("not an ip".into()),
            user_agent: None,
            device: Some("Old label".into()),
        };
        let client = odd.into_client().unwrap();
        assert_eq!((client.ip(), client.device()), (None, "Old label"));
    }

    #[test]
    fn schema_names() {
        assert!(check_name("schema", "tenant_a", 63).is_ok());
        assert!(check_name("schema", &"s".repeat(63), 63).is_ok());
        for bad in ["", "1a", "a-b", "a\"b", "a.b", &"s".repeat(64)] {
            assert!(check_name("schema", bad, 63).is_err(), "{bad}");
        }
    }

    #[test]
    fn table_names() {
        for ok in [
            "sessions",
            "a",
            "S_1",
            "sktest_1767225600_abc",
            &"x".repeat(48),
        ] {
            assert!(check_table_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "a;drop",
            "ä",
            "a\"",
            &"x".repeat(49),
        ] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
    }
}
