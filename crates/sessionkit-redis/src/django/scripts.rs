//! The Lua scripts of Django's layouts. Each touches exactly one key (the session's), so
//! they run on one node in Redis Cluster whatever the `KEY_PREFIX`.
//!
//! A key that holds something else than a string (not Django's) is never read as a
//! session, never overwritten and never touched by a compare-and-set; only a plain
//! `delete` removes it. The values compared are whole pickles, byte for byte.

use std::sync::LazyLock;

use crate::scripts::Lua;

/// `load`: the value and its remaining TTL, atomically.
///
/// Returns `{1, value, pttl}`, `{0}` when there is no key, `{-1}` when the key holds
/// another type. `pttl` is `-1` for a key without TTL.
const GET: &str = r#"
local k = KEYS[1]
local t = redis.call('TYPE', k)['ok']
if t == 'none' then return {0} end
if t ~= 'string' then return {-1} end
return {1, redis.call('GET', k), redis.call('PTTL', k)}
"#;

/// `create`: `SET NX PX`, and when the key is taken, what holds it (the client decides
/// whether that record expired at the engine's `now`, which needs the pickle decoded).
///
/// ARGV: 1 value, 2 TTL in ms (`<= 0`: the record would already be expired; nothing is
/// written, but a taken key is still reported). Returns `{1}` when inserted (or nothing
/// to insert and the key free), `{0}` when the key holds another type, `{2, value, pttl}`
/// when a value holds it.
const CREATE: &str = r#"
local k, ttl = KEYS[1], ARGV[2]
if tonumber(ttl) > 0 then
  if redis.call('SET', k, ARGV[1], 'NX', 'PX', ttl) then return {1} end
elseif redis.call('EXISTS', k) == 0 then
  return {1}
end
if redis.call('TYPE', k)['ok'] ~= 'string' then return {0} end
return {2, redis.call('GET', k), redis.call('PTTL', k)}
"#;

/// `save` (and `create` over an expired record): compare-and-set on the stored bytes.
///
/// ARGV: 1 expected value (the token), 2 new value, 3 TTL in ms (`<= 0`: delete instead),
/// 4 `'1'` when the client found the expected record expired at the engine's `now` (its
/// absolute `_session_expiry`). Returns `{1}` when written, `{0, current}` when the value
/// changed, `{-1}` when there is no value (absent, another type) or the expected one is
/// expired — nothing is written then.
const REPLACE: &str = r#"
local k = KEYS[1]
if redis.call('TYPE', k)['ok'] ~= 'string' then return {-1} end
local cur = redis.call('GET', k)
if cur ~= ARGV[1] then return {0, cur} end
if ARGV[4] == '1' then return {-1} end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', k, ARGV[2], 'PX', ARGV[3])
else
  redis.call('DEL', k)
end
return {1}
"#;

/// `touch`: a new TTL if the value is still the one the client checked.
///
/// ARGV: 1 expected value, 2 TTL in ms (`<= 0`: delete). Returns 1 when applied, 0 when
/// the value changed or is gone.
const EXPIRE_IF: &str = r#"
local k = KEYS[1]
if redis.call('TYPE', k)['ok'] ~= 'string' or redis.call('GET', k) ~= ARGV[1] then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', k, ARGV[2]) else redis.call('DEL', k) end
return 1
"#;

/// Compare-and-delete (cleanup, revocation, cache sweeps): delete only if the value is
/// still the one the client decided on, so two cleaners count a record once and a
/// concurrent rewrite survives. ARGV: 1 expected value. Returns 1 when deleted.
const DELETE_IF: &str = r#"
local k = KEYS[1]
if redis.call('TYPE', k)['ok'] ~= 'string' or redis.call('GET', k) ~= ARGV[1] then return 0 end
redis.call('DEL', k)
return 1
"#;

/// The scripts of Django's layouts.
#[derive(Debug)]
pub(crate) struct DjangoScripts {
    pub(crate) get: Lua,
    pub(crate) create: Lua,
    pub(crate) replace: Lua,
    pub(crate) expire_if: Lua,
    pub(crate) delete_if: Lua,
}

impl DjangoScripts {
    pub(crate) fn all(&self) -> [&Lua; 5] {
        [
            &self.get,
            &self.create,
            &self.replace,
            &self.expire_if,
            &self.delete_if,
        ]
    }
}

/// The scripts, hashed once per process.
pub(crate) static DJANGO_SCRIPTS: LazyLock<DjangoScripts> = LazyLock::new(|| DjangoScripts {
    get: Lua::new("django_get", GET.to_owned()),
    create: Lua::new("django_create", CREATE.to_owned()),
    replace: Lua::new("django_replace", REPLACE.to_owned()),
    expire_if: Lua::new("django_expire_if", EXPIRE_IF.to_owned()),
    delete_if: Lua::new("django_delete_if", DELETE_IF.to_owned()),
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripts::SCRIPTS;

    #[test]
    fn hashes_are_distinct_from_each_other_and_the_native_ones() {
        let mut all: Vec<&Lua> = DJANGO_SCRIPTS.all().to_vec();
        all.extend(SCRIPTS.all());
        for (i, a) in all.iter().enumerate() {
            assert_eq!(a.sha.len(), 40, "{}", a.name);
            for b in &all[i + 1..] {
                assert_ne!(a.sha, b.sha, "{} vs {}", a.name, b.name);
            }
        }
    }
}
