//! The common write — a session with no user, in the packed format, with a TTL — in the
//! cheapest form Redis offers: a `create` is a plain `SET NX PX`, a `save` the four-argument
//! `save_plain` script. What they do not settle goes on to the full scripts (see the
//! `scripts` module for why each step pays).

use redis::Value;
use sessionkit_core::{Record, SaveOutcome, SessionKey, StoreError, Token};

use crate::RedisStore;
use crate::codec::Digits;
use crate::conn::script_reply;
use crate::keys::RecordFormat;
use crate::scripts::SCRIPTS;

impl RedisStore {
    /// Whether creating `record` (whose TTL is `ttl`) is the common case.
    pub(crate) fn plain_create(&self, record: &Record, ttl: i64) -> bool {
        record.meta.user_id.as_deref().is_none_or(str::is_empty)
            && ttl > 0
            && self.inner.format == RecordFormat::Packed
    }

    /// Whether saving `record` is the common case: as for a create, and with a
    /// `created_at` of its own (without one the stored one is kept, which only `save`
    /// does).
    pub(crate) fn plain_save(&self, record: &Record, ttl: i64) -> bool {
        self.plain_create(record, ttl) && record.meta.created_at.is_some()
    }

    /// `SET key value PX ttl NX`: true when the key was free and now holds `value`; false
    /// when it is taken (a live session, a rotation marker, an expired record, an
    /// unreadable value or another type, or this call's own earlier write re-sent), which
    /// only the `create` script can tell apart.
    pub(crate) async fn create_plain(
        &self,
        key: &SessionKey,
        value: &str,
        ttl: i64,
    ) -> Result<bool, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.inner.layout.session(key))
            .arg(value)
            .arg("PX")
            .arg(ttl)
            .arg("NX");
        let wrote = |v: &Value| matches!(v, Value::Okay);
        let reply = self
            .inner
            .conn
            .write("create", cmd, self.inner.replica_wait, wrote)
            .await?;
        Ok(wrote(&reply))
    }

    /// `save_plain` with `[version, ttl, now]` and the packed record of version `next`: the
    /// outcome when the script settled it, `None` when it goes on to the `save` script.
    pub(crate) async fn save_plain(
        &self,
        key: &SessionKey,
        [version, ttl, now]: [&Digits; 3],
        value: &str,
        next: u64,
    ) -> Result<Option<SaveOutcome>, StoreError> {
        let lua = &SCRIPTS.save_plain;
        let args: [&[u8]; 4] = [
            version.as_bytes(),
            ttl.as_bytes(),
            value.as_bytes(),
            now.as_bytes(),
        ];
        let reply = self
            .inner
            .conn
            .eval_if(
                lua,
                self.inner.layout.session(key).as_bytes(),
                &args,
                self.inner.replica_wait,
                |v| matches!(v, Value::Int(1)),
            )
            .await?;
        Ok(match script_reply(reply, lua.name)?.0 {
            1 => Some(SaveOutcome::Saved(Token::version(next))),
            -1 => Some(SaveOutcome::Missing),
            _ => None,
        })
    }
}
