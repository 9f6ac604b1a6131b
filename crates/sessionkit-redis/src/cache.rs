//! [`RedisCache`]: Redis as the shared cache of a
//! [`CachedStore`](sessionkit_core::store::CachedStore) — Django's `cached_db` idea with
//! the native layout: a durable store (PostgreSQL, say) behind, Redis in front, shared by
//! every node, so an invalidation (a logout, a revocation) reaches all of them at once.
//!
//! Each entry is a hash `{prefix}c:{<session key>}` with the record (data, expiry, created,
//! last seen, user, client info) and the durable store's version token, expiring with the session (or
//! sooner, with [`RedisCache::with_max_age`]).

use std::fmt;
use std::time::Duration;

use redis::Value as RValue;
use sessionkit_core::store::SessionCache;
use sessionkit_core::{Data, Metadata, Record, SessionKey, StoreError, Token};
use time::OffsetDateTime;

use crate::RedisStore;
use crate::conn::{Conn, store_error};
use sessionkit_core::store::{from_unix_micros, unix_micros};

/// Redis as a shared cache in front of a durable store, for a
/// [`CachedStore`](sessionkit_core::store::CachedStore): each entry is a hash
/// `{prefix}c:{<session key>}` with the record (data, expiry, created, last seen, user,
/// client info) and
/// the durable store's version token, expiring with the session (or sooner, with
/// [`RedisCache::with_max_age`]); shared by every node, so an invalidation reaches all of
/// them at once.
#[derive(Clone)]
pub struct RedisCache {
    conn: Conn,
    prefix: String,
    description: String,
    max_age: Option<Duration>,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("url", &self.description)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisCache {
    /// A cache on the same connection (and prefix) as `store`.
    pub fn from_store(store: &RedisStore) -> RedisCache {
        RedisCache {
            conn: store.conn().clone(),
            prefix: store.layout().prefix().to_owned(),
            description: store.location().to_owned(),
            max_age: None,
        }
    }

    /// Keeps entries at most this long (default: until the session expires).
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> RedisCache {
        self.max_age = Some(max_age);
        self
    }

    fn key(&self, key: &SessionKey) -> String {
        format!("{}c:{{{}}}", self.prefix, key.as_str())
    }
}

fn bytes(v: &RValue) -> Option<&[u8]> {
    match v {
        RValue::BulkString(b) => Some(b),
        _ => None,
    }
}

fn int(v: &RValue) -> Option<i64> {
    std::str::from_utf8(bytes(v)?).ok()?.parse().ok()
}

impl SessionCache for RedisCache {
    async fn get(
        &self,
        key: &SessionKey,
        now: OffsetDateTime,
    ) -> Result<Option<(Record, Token)>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.key(key))
            .arg(&["d", "e", "c", "s", "u", "t", "k"]);
        let fields: Vec<RValue> = self
            .conn
            .query(&cmd)
            .await
            .map_err(|e| store_error("cache read", e))?;
        let [d, e, c, s, u, t, k] = fields.as_slice() else {
            return Ok(None);
        };
        let parsed = (|| {
            let expires_at = from_unix_micros(int(e)?)?;
            let data = Data::from_json(std::str::from_utf8(bytes(d)?).ok()?.into()).ok()?;
            let token = Token::from_encoded(bytes(t)?)?;
            Some((
                Record {
                    data,
                    expires_at,
                    meta: Metadata {
                        created_at: int(c).and_then(from_unix_micros),
                        last_seen: int(s).and_then(from_unix_micros),
                        user_id: bytes(u).and_then(|b| String::from_utf8(b.to_vec()).ok()),
                        client: crate::codec::client(bytes(k), key),
                    },
                },
                token,
            ))
        })();
        Ok(parsed.filter(|(r, _)| r.expires_at > now))
    }

    async fn put(
        &self,
        key: &SessionKey,
        record: &Record,
        token: &Token,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut ttl = (record.expires_at - now).whole_milliseconds();
        if let Some(max) = self.max_age {
            ttl = ttl.min(max.as_millis() as i128);
        }
        let name = self.key(key);
        if ttl <= 0 {
            return self.invalidate(key).await;
        }
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(&name)
            .ignore()
            .cmd("HSET")
            .arg(&name)
            .arg("d")
            .arg(record.data.to_json())
            .arg("e")
            .arg(unix_micros(record.expires_at))
            .arg("t")
            .arg(token.encode());
        if let Some(c) = record.meta.created_at {
            pipe.arg("c").arg(unix_micros(c));
        }
        if let Some(s) = record.meta.last_seen {
            pipe.arg("s").arg(unix_micros(s));
        }
        if let Some(u) = &record.meta.user_id {
            pipe.arg("u").arg(u);
        }
        if let Some(k) = &record.meta.client {
            pipe.arg("k").arg(k.to_stored_text());
        }
        pipe.ignore()
            .cmd("PEXPIRE")
            .arg(&name)
            .arg(i64::try_from(ttl).unwrap_or(i64::MAX))
            .ignore();
        self.conn
            .query_pipe::<()>(&pipe)
            .await
            .map_err(|e| store_error("cache write", e))
    }

    async fn invalidate(&self, key: &SessionKey) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.key(key));
        self.conn
            .query::<()>(&cmd)
            .await
            .map_err(|e| store_error("cache invalidation", e))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}
