//! Leases for lock mode: `SET {prefix}l:{<key>} owner NX PX ttl`, released by a
//! compare-and-delete script. The lease shares the session's hash tag (one slot).

use std::time::Duration;

use redis::Value;
use sessionkit_core::{LeaseStore, SessionKey, StoreError};

use crate::RedisStore;
use crate::conn::{bad_reply, store_error};
use crate::scripts::SCRIPTS;

impl LeaseStore for RedisStore {
    async fn try_acquire(
        &self,
        key: &SessionKey,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.inner.layout.lease(key))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(ms);
        match self.inner.conn.query::<Value>(&cmd).await {
            Ok(Value::Okay) => Ok(true),
            Ok(Value::SimpleString(s)) if s == "OK" => Ok(true),
            Ok(Value::Nil) => Ok(false),
            Ok(_) => Err(bad_reply("SET NX (lease)")),
            Err(e) => Err(store_error("lease acquire", e)),
        }
    }

    async fn release(&self, key: &SessionKey, owner: &str) -> Result<(), StoreError> {
        let lease = self.inner.layout.lease(key);
        self.inner
            .conn
            .eval(
                &SCRIPTS.lease_release,
                lease.as_bytes(),
                &[owner.as_bytes()],
                None,
            )
            .await
            .map(drop)
    }
}
