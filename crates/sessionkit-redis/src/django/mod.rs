//! Django's `cache` and `cached_db` session engines on Redis (feature `django`):
//! [`DjangoCacheStore`] and [`DjangoCachedDbStore`], sharing sessions with a Django
//! application whose `CACHES` use Django's built-in `RedisCache`.
//!
//! # Layout
//!
//! Exactly what Django's `RedisCache` writes:
//!
//! | engine | Redis key | value | TTL |
//! | --- | --- | --- | --- |
//! | `cache` | `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cache<session key>` | the session dict, pickled | the expiry age |
//! | `cached_db` | `{KEY_PREFIX}:{VERSION}:django.contrib.sessions.cached_db<session key>` | the same | the expiry age (the database row is the session) |
//!
//! `KEY_PREFIX` and `VERSION` are the cache's settings (`CACHES["default"]`, Django's
//! defaults `""` and `1`: `:1:django.contrib.sessions.cache<key>`), set with
//! `with_key_prefix` and `with_version`; the Redis database is the URL's (`/0` by
//! default, as Django's `LOCATION`). The value is the session dictionary itself pickled
//! with protocol 5, as Django's `RedisSerializer` stores it
//! ([`redis_value_encode`](sessionkit_django::pickle::redis_value_encode)); reading
//! ([`redis_value_decode`](sessionkit_django::pickle::redis_value_decode)) accepts every
//! protocol, reads Python's standard value types (a `datetime`, a `Decimal`, a `set`, ...:
//! the allowlist of [`sessionkit_django::pickle`]) as values, and keeps any other object
//! as an opaque value written back unchanged, never running anything. So a
//! [`DjangoCacheStore`] session takes Python values (its
//! [`python_values`](sessionkit_core::SessionStore::python_values) is `true`); a
//! [`DjangoCachedDbStore`] session does not, as its database row is JSON in Django too.
//! There is no signature: whoever can write to the cache can write sessions, in Django as
//! here, and the secret keys play no part.
//!
//! A value that cannot be read — not a dict, garbage, a key of another type, a construct
//! the reader refuses (persistent ids, out-of-band buffers) — is a missing session plus a
//! warning, and is left in place: never overwritten by `create`, never matched by a
//! `save`.
//!
//! # Expiry and TTLs
//!
//! Django keeps a session's expiry in the TTL of its key and, after `set_expiry(datetime)`
//! or `set_expiry(timedelta)`, also as an absolute ISO date under `_session_expiry` in the
//! data. The stores follow the same rules, always against the engine's `now`, never the
//! server's clock:
//!
//! * **Writing**, the TTL is `expires_at - now` in milliseconds (Django writes whole
//!   seconds, `EX int(get_expiry_age())`; both sides read either). [`DjangoCacheStore`]
//!   rounds up, so Redis never evicts a session the engine still considers live;
//!   [`DjangoCachedDbStore`] rounds down, so the cache never outlives the database row.
//!   A TTL `<= 0` means the record is already expired: the key is deleted instead of set,
//!   as Django does for a TTL of 0.
//! * **Reading** ([`DjangoCacheStore`]), a record expires at its absolute `_session_expiry`
//!   when the data has one (an ISO date; one without offset is read as UTC), else at
//!   `now + PTTL` (a key without TTL: `now + cookie age`). A record whose absolute expiry
//!   is at or before `now` is missing even while its key lives, and `clear_expired`
//!   removes it; every other record is live until Redis evicts it.
//!
//! # Atomicity
//!
//! Every compare-and-set is one Lua script on the session's key (the table on
//! [`DjangoCacheStore`] says which; [`DjangoCachedDbStore`]'s compare-and-delete of a
//! stale entry is one too): the token is the stored value itself, compared byte for byte. Each script touches one key, so in Redis Cluster every operation runs on the
//! session's node whatever the `KEY_PREFIX`; listing, the per-user index and cleanup `SCAN`
//! every primary. The native store's write ids have no place in Django's value, so a save
//! that the cluster client re-sends after a dropped connection (having run) reports a
//! conflict, and the engine applies the request's changes again on top of the saved
//! record; the native layout avoids that, this one cannot.
//!
//! # Listing and the per-user index are scans
//!
//! Django's layout has no index: listing, the per-user index, revocation and
//! `clear_expired` `SCAN` the namespace (`MATCH {KEY_PREFIX}:{VERSION}:django.contrib.sessions.cache*`,
//! on every primary) and read and decode every value. O(sessions) per call: fine for an
//! admin tool, a "log out everywhere" button or a periodic job, not for a request path.

mod cache_engine;
mod cached_db;
mod scripts;
mod side;

use sessionkit_core::{Data, SessionKey};

pub use self::cache_engine::{DjangoCacheBuilder, DjangoCacheStore};
pub use self::cached_db::DjangoCachedDbStore;

pub use sessionkit_django::DEFAULT_COOKIE_AGE;

/// The data of a stored value, or `None` (logged, with the key's fingerprint) when it
/// cannot be read.
fn read_value(key: &SessionKey, value: &[u8]) -> Option<Data> {
    match sessionkit_django::pickle::redis_value_decode(value) {
        Ok(data) => Some(data),
        Err(e) => {
            tracing::warn!(
                key = %key.fingerprint(),
                error = %e,
                "unreadable Django session in Redis; treating as no session (left in place)"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use sessionkit_core::{EXPIRY_KEY, Metadata, Value};

    use super::*;

    #[test]
    fn only_iso_dates_are_absolute_expiries() {
        let mut d = Data::new();
        assert_eq!(d.absolute_expiry(), None);
        d.insert(EXPIRY_KEY, Value::Int(600));
        assert_eq!(d.absolute_expiry(), None);
        d.insert(EXPIRY_KEY, Value::from("2026-01-01T00:05:00+01:00"));
        assert_eq!(d.absolute_expiry(), Some(datetime!(2025-12-31 23:05 UTC)));
        d.insert(EXPIRY_KEY, Value::from("2026-01-01 00:05:00"));
        assert_eq!(d.absolute_expiry(), Some(datetime!(2026-01-01 00:05 UTC)));
        d.insert(EXPIRY_KEY, Value::from("soon"));
        assert_eq!(d.absolute_expiry(), None);
    }

    #[test]
    fn the_user_comes_from_auth_user_id() {
        let mut d = Data::new();
        assert_eq!(Metadata::from_data(&d).user_id, None);
        d.insert("_auth_user_id", Value::from("42"));
        assert_eq!(Metadata::from_data(&d).user_id.as_deref(), Some("42"));
        d.insert("_auth_user_id", Value::Int(7));
        assert_eq!(Metadata::from_data(&d).user_id.as_deref(), Some("7"));
        d.insert("_auth_user_id", Value::Null);
        assert_eq!(Metadata::from_data(&d).user_id, None);
    }
}
