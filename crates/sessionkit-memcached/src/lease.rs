//! Leases for lock mode, built on memcached's `add`.
//!
//! A lease is an item `{prefix}l:{session key}` holding `{deadline} {owner}`, the deadline
//! in Unix milliseconds of the holder's system clock. Taking it is an add (`ms ... ME`):
//! exactly one of several concurrent takers succeeds. Memcached's TTL (whole seconds,
//! rounded up, plus one for its clock's tick) evicts it eventually, but the deadline is
//! what decides: a taker that finds a lease past its deadline replaces it with a
//! compare-and-set, so a lease lasts its TTL to the millisecond as long as the nodes'
//! clocks agree. Releasing deletes the item with a compare-and-set on the CAS value read
//! with it, and only if the owner is still the caller.

use std::borrow::Cow;
use std::time::Duration;

use sessionkit_core::{LeaseStore, SessionKey, StoreError};

use crate::item::{Decision, Write};
use crate::{MemcachedStore, ttl};

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

fn parse(value: &[u8]) -> Option<(i64, &[u8])> {
    let sp = value.iter().position(|&b| b == b' ')?;
    let deadline = std::str::from_utf8(&value[..sp]).ok()?.parse().ok()?;
    Some((deadline, &value[sp + 1..]))
}

impl LeaseStore for MemcachedStore {
    async fn try_acquire(
        &self,
        key: &SessionKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let item = self.lease_key(key);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let value = format!("{} {owner}", now_ms().saturating_add(ttl_ms));
        let secs = i64::try_from(ttl.as_secs())
            .unwrap_or(i64::MAX)
            .saturating_add(if ttl.subsec_nanos() > 0 { 2 } else { 1 });
        let lease = || Write {
            value: Cow::Borrowed(value.as_bytes()),
            flags: None,
            exptime: ttl::from_secs(secs, ttl::unix_now()),
        };
        self.pool
            .create_item(
                &item,
                &lease(),
                || true,
                |held| {
                    Ok(
                        if parse(&held.value).is_some_and(|(deadline, _)| deadline > now_ms()) {
                            Decision::Answer(false)
                        } else {
                            // Past its deadline (or unreadable): take it over, unless it
                            // changed.
                            Decision::Write(lease(), true)
                        },
                    )
                },
                || false,
            )
            .await
    }

    async fn release(&self, key: &SessionKey, owner: &str) -> Result<(), StoreError> {
        let item = self.lease_key(key);
        let Some(held) = self.pool.get_item(&item).await? else {
            return Ok(());
        };
        if parse(&held.value).is_none_or(|(_, o)| o != owner.as_bytes()) {
            return Ok(());
        }
        // Not deleted: taken over meanwhile (ours had run out); not ours to delete.
        self.pool.delete_item_if(&item, held.cas).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_values_parse() {
        assert_eq!(parse(b"123 node-a"), Some((123, &b"node-a"[..])));
        assert_eq!(parse(b"123 a b"), Some((123, &b"a b"[..])));
        assert_eq!(parse(b"x a"), None);
        assert_eq!(parse(b"123"), None);
    }
}
