//! The Lua scripts: every write is one script, run atomically on the node that owns the
//! session's slot.
//!
//! Each is sent as `EVALSHA`; a server that does not know it (restarted, failed over,
//! `SCRIPT FLUSH`) answers `NOSCRIPT` and gets the body once with `EVAL`, which also
//! caches it there. (`SCRIPT LOAD` is not used for that fallback: Redis Cluster would
//! send it to every node and fail while one is down.)
//!
//! Conventions shared by the session scripts:
//!
//! * `KEYS[1]` is the session hash; `ARGV[1]` the **index prefix** and `ARGV[2]` the
//!   session key (the member stored in user sets). On a standalone server the index
//!   prefix is `{prefix}u:` and the script maintains the user sets itself, in the same
//!   atomic step (it builds their names from the prefix, which a single server allows).
//!   In Cluster a user's set lives in another slot, so the prefix is empty, the script
//!   leaves the sets alone and returns the previous user instead; the client then
//!   updates the sets with separate commands.
//! * Times are Unix microseconds, compared as numbers (exact in Lua's doubles until the
//!   year 2255). A record is live while `expires_at > now`, with `now` from the engine.
//! * TTLs are milliseconds computed by the client as `expires_at - now`, rounded up;
//!   `<= 0` means the written record would already be expired, so it is deleted instead.
//! * A key that holds something else than a hash, or a hash whose `expires_at` does not
//!   parse, is never overwritten by `create` (a collision) nor by `save` (missing): it
//!   is left for inspection. `delete` removes it.
//! * Every `redis.call` costs the server a few microseconds on top of the script's own
//!   start, so the scripts make few: a type check rides on a protected `HMGET` (an error
//!   reply means "not a hash"), the version is computed in the script and written by the
//!   same `HSET` as the data, and `HDEL user_id` only runs when there was a user. A
//!   `save` is `HMGET` + `HSET` + `PEXPIRE` (it was six calls, and the server's share of
//!   a returning visit fell by about half; docs/BENCHMARKS.md).

use std::sync::LazyLock;

/// Helpers prepended to every session script.
const PRELUDE: &str = r#"
local IDX = ARGV[1]
local function kind(k) return redis.call('TYPE', k)['ok'] end
-- HMGET that answers nil for a key holding another type (one call instead of TYPE + HMGET;
-- an absent key answers all-false, which every caller reads as "no live record").
local function fields(k, ...)
  local f = redis.pcall('HMGET', k, ...)
  if f['err'] then return nil end
  return f
end
local function index_add(uid, member, ttl)
  if IDX == '' or uid == '' then return end
  local set = IDX .. '{' .. uid .. '}'
  redis.call('SADD', set, member)
  if redis.call('PTTL', set) < ttl then redis.call('PEXPIRE', set, ttl) end
end
local function index_remove(uid, member)
  if IDX == '' or uid == '' then return end
  redis.call('SREM', IDX .. '{' .. uid .. '}', member)
end
"#;

/// `create`: insert if absent, or if the stored record expired at `now`.
///
/// ARGV: 3 now, 4 expires_at, 5 ttl_ms, 6 data, 7 created_at, 8 last_seen, 9 user_id ('' = none),
/// 10 write id, 11 client info ('' = none; always written, in the same `HSET`). Returns `{1, version, previous_user}` when created, `{0}` on a collision.
///
/// The write id (random per call, kept in the `write` field) makes a re-sent script
/// harmless: the cluster client re-sends a request whose connection dropped, even if the
/// server had run it. The second run finds its own write and answers as the first did.
const CREATE: &str = r#"
local k, member, now = KEYS[1], ARGV[2], tonumber(ARGV[3])
local prev = ''
local t = kind(k)
if t ~= 'none' then
  if t ~= 'hash' then return {0} end
  local f = redis.call('HMGET', k, 'expires_at', 'user_id', 'retired', 'write', 'version')
  local exp = tonumber(f[1])
  -- A live record or rotation marker owns the key; so does one we cannot read.
  if exp == nil or exp > now then
    if f[4] == ARGV[10] then return {1, tonumber(f[5]) or 1, ''} end
    return {0}
  end
  if not f[3] then prev = f[2] or '' end
  redis.call('DEL', k)
  index_remove(prev, member)
end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  if ARGV[9] == '' then
    redis.call('HSET', k, 'data', ARGV[6], 'version', '1', 'expires_at', ARGV[4],
      'created_at', ARGV[7], 'last_seen', ARGV[8], 'write', ARGV[10], 'client', ARGV[11])
  else
    redis.call('HSET', k, 'data', ARGV[6], 'version', '1', 'expires_at', ARGV[4],
      'created_at', ARGV[7], 'last_seen', ARGV[8], 'write', ARGV[10], 'client', ARGV[11],
      'user_id', ARGV[9])
  end
  redis.call('PEXPIRE', k, ARGV[5])
  index_add(ARGV[9], member, ttl)
end
return {1, 1, prev}
"#;

/// `save`: compare-and-set on `version`; never creates.
///
/// ARGV: 3 now, 4 token, 5 expires_at, 6 ttl_ms, 7 data, 8 last_seen, 9 user_id, 10 write id,
/// 11 client info ('' = none: written as the empty string, so no extra `HDEL`).
/// Returns `{1, new_version, previous_user}` when saved, `{0}` on a conflict, `{-1}` when
/// the record is absent, retired or expired at `now`. A re-sent save that finds its own
/// write id answers `{1, version, ''}` again (see `CREATE`) instead of a conflict, which
/// would make the engine replay the request's changes a second time.
const SAVE: &str = r#"
local k, member, now = KEYS[1], ARGV[2], tonumber(ARGV[3])
local f = fields(k, 'version', 'expires_at', 'retired', 'user_id', 'write')
if not f then return {-1} end
local exp = tonumber(f[2])
if f[3] or exp == nil or exp <= now then return {-1} end
if f[1] ~= ARGV[4] then
  if f[5] == ARGV[10] then return {1, tonumber(f[1]), ''} end
  return {0}
end
local prev = f[4] or ''
local v = (tonumber(f[1]) or 0) + 1
local ttl = tonumber(ARGV[6])
if ttl <= 0 then
  redis.call('DEL', k)
  index_remove(prev, member)
  return {1, v, prev}
end
local vs = string.format('%d', v)
if ARGV[9] == '' then
  redis.call('HSET', k, 'version', vs, 'data', ARGV[7], 'expires_at', ARGV[5], 'last_seen', ARGV[8],
    'write', ARGV[10], 'client', ARGV[11])
  if prev ~= '' then redis.call('HDEL', k, 'user_id') end
else
  redis.call('HSET', k, 'version', vs, 'data', ARGV[7], 'expires_at', ARGV[5], 'last_seen', ARGV[8],
    'write', ARGV[10], 'client', ARGV[11], 'user_id', ARGV[9])
end
redis.call('PEXPIRE', k, ARGV[6])
if prev ~= ARGV[9] then index_remove(prev, member) end
index_add(ARGV[9], member, ttl)
return {1, v, prev}
"#;

/// `touch`: move a live record's expiry and last-seen; data and version stay.
///
/// ARGV: 3 now, 4 expires_at, 5 ttl_ms. Returns `{1, user}` when touched, `{0, ''}` when
/// there is no live record.
const TOUCH: &str = r#"
local k, member, now = KEYS[1], ARGV[2], tonumber(ARGV[3])
local f = fields(k, 'expires_at', 'retired', 'user_id')
if not f then return {0, ''} end
local exp = tonumber(f[1])
if f[2] or exp == nil or exp <= now then return {0, ''} end
local user = f[3] or ''
local ttl = tonumber(ARGV[5])
if ttl <= 0 then
  redis.call('DEL', k)
  index_remove(user, member)
  return {1, user}
end
redis.call('HSET', k, 'expires_at', ARGV[4], 'last_seen', ARGV[3])
redis.call('PEXPIRE', k, ARGV[5])
index_add(user, member, ttl)
return {1, user}
"#;

/// `delete`: remove whatever is under the key. Returns `{1, previous_user}`.
const DELETE: &str = r#"
local k, member = KEYS[1], ARGV[2]
local user = ''
local f = fields(k, 'user_id', 'retired')
if f and not f[2] then user = f[1] or '' end
redis.call('DEL', k)
index_remove(user, member)
return {1, user}
"#;

/// `retire`: replace the record by a rotation marker until `until`.
///
/// ARGV: 3 until, 4 fallback now. Returns `{1, previous_user}`.
///
/// The store contract gives `retire` no `now`, yet the marker's TTL is `until - now` on
/// the engine's clock. The replaced record knows that clock: its `expires_at` minus its
/// remaining PTTL is the engine's `now` of its last write plus the real time elapsed
/// since, i.e. the engine's clock now (exactly so for the system clock). Only without a
/// record does the client's system clock (ARGV[4]) stand in.
const RETIRE: &str = r#"
local k, member = KEYS[1], ARGV[2]
local now = tonumber(ARGV[4])
local user = ''
local f = fields(k, 'expires_at', 'user_id', 'retired')
if f then
  if not f[3] then user = f[2] or '' end
  local exp, pttl = tonumber(f[1]), redis.call('PTTL', k)
  if exp and pttl > 0 then now = exp - pttl * 1000 end
end
redis.call('DEL', k)
local ttl = math.ceil((tonumber(ARGV[3]) - now) / 1000)
if ttl > 0 then
  redis.call('HSET', k, 'retired', '1', 'expires_at', ARGV[3])
  redis.call('PEXPIRE', k, string.format('%d', ttl))
end
index_remove(user, member)
return {1, user}
"#;

/// `clear_expired`, per key: delete the record if it expired at `now`.
///
/// ARGV: 3 now. Returns `{1, previous_user}` when this call deleted it, `{0, ''}`
/// otherwise — so concurrent cleaners count each record once.
const CLEAR: &str = r#"
local k, member, now = KEYS[1], ARGV[2], tonumber(ARGV[3])
local f = fields(k, 'expires_at', 'user_id', 'retired')
if not f then return {0, ''} end
local exp = tonumber(f[1])
if exp == nil or exp > now then return {0, ''} end
redis.call('DEL', k)
local user = ''
if not f[3] then user = f[2] or '' end
index_remove(user, member)
return {1, user}
"#;

/// `revoke_user`, per key: delete the session only if it (still) belongs to the user.
///
/// ARGV: 3 user_id. Returns 1 when deleted, 0 otherwise.
const REVOKE: &str = r#"
local k, member = KEYS[1], ARGV[2]
local f = fields(k, 'user_id', 'retired')
if not f or f[2] or f[1] ~= ARGV[3] then return 0 end
redis.call('DEL', k)
index_remove(ARGV[3], member)
return 1
"#;

/// Cluster only: add a member to a user's set (`KEYS[1]`) and make the set live at least
/// as long as the session. ARGV: 1 member, 2 ttl_ms.
const INDEX_ADD: &str = r#"
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
"#;

/// Release a lease (`KEYS[1]`) if `ARGV[1]` still owns it. Returns 1 when released.
const LEASE_RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// A script: its body and the SHA1 that `EVALSHA` names it by.
#[derive(Debug)]
pub(crate) struct Lua {
    pub(crate) name: &'static str,
    pub(crate) body: String,
    pub(crate) sha: String,
}

impl Lua {
    pub(crate) fn new(name: &'static str, body: String) -> Lua {
        let sha = redis::Script::new(&body).get_hash().to_owned();
        Lua { name, body, sha }
    }

    fn session(name: &'static str, body: &str) -> Lua {
        Lua::new(name, format!("{PRELUDE}{body}"))
    }
}

/// Every script the store runs.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) create: Lua,
    pub(crate) save: Lua,
    pub(crate) touch: Lua,
    pub(crate) delete: Lua,
    pub(crate) retire: Lua,
    pub(crate) clear: Lua,
    pub(crate) revoke: Lua,
    pub(crate) index_add: Lua,
    pub(crate) lease_release: Lua,
}

impl Scripts {
    pub(crate) fn all(&self) -> [&Lua; 9] {
        [
            &self.create,
            &self.save,
            &self.touch,
            &self.delete,
            &self.retire,
            &self.clear,
            &self.revoke,
            &self.index_add,
            &self.lease_release,
        ]
    }
}

/// The scripts, hashed once per process.
pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    create: Lua::session("create", CREATE),
    save: Lua::session("save", SAVE),
    touch: Lua::session("touch", TOUCH),
    delete: Lua::session("delete", DELETE),
    retire: Lua::session("retire", RETIRE),
    clear: Lua::session("clear_expired", CLEAR),
    revoke: Lua::session("revoke_user", REVOKE),
    index_add: Lua::new("index_add", INDEX_ADD.to_owned()),
    lease_release: Lua::new("lease_release", LEASE_RELEASE.to_owned()),
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_distinct_sha1_hex() {
        let all = SCRIPTS.all();
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.sha.len(), 40, "{}", a.name);
            assert!(a.sha.bytes().all(|b| b.is_ascii_hexdigit()));
            for b in &all[i + 1..] {
                assert_ne!(a.sha, b.sha, "{} vs {}", a.name, b.name);
            }
        }
    }
}
