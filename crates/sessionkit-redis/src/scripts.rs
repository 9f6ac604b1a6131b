//! The Lua scripts: every write is one script, run atomically on the node that owns the
//! session's slot — or, in the common case, a plain `SET NX` or `save_plain` first (below).
//!
//! Each is sent as `EVALSHA`; a server that does not know it (restarted, failed over,
//! `SCRIPT FLUSH`) answers `NOSCRIPT` and gets the body once with `EVAL`, which also
//! caches it there. (`SCRIPT LOAD` is not used for that fallback: Redis Cluster would
//! send it to every node and fail while one is down.)
//!
//! Conventions shared by the session scripts:
//!
//! * `KEYS[1]` is the session record; `ARGV[1]` the **index prefix**, `ARGV[2]` the
//!   session key (the member stored in user sets) and `ARGV[3]` the **format**: `h` to
//!   write hashes ([`RecordFormat::Hash`](crate::RecordFormat::Hash)), empty to write
//!   packed records. On a standalone server the index prefix is `{prefix}u:` and the
//!   script maintains the user sets itself, in the same atomic step (it builds their names
//!   from the prefix, which a single server allows). In Cluster a user's set lives in
//!   another slot, so the prefix is empty, the script leaves the sets alone and returns
//!   the previous user instead; the client then updates the sets with separate commands.
//! * Every session script reads the record in either format (`read` in the prelude): a
//!   protected `GET`, whose error reply means "not a string", then for hashes only an
//!   `HMGET`. `save_plain` reads only a packed record and hands anything else on.
//! * The client builds every packed value itself (the new version, the write id, the
//!   metadata and the data), so a write of the default format is one
//!   `SET key value PX ttl`: no string building in Lua except for `touch`, which must keep
//!   the data. Under the hash format the script unpacks the same value into fields
//!   (`put`); speed matters only for the default.
//! * Times are Unix microseconds, compared as numbers (exact in Lua's doubles until the
//!   year 2255). A record is live while `expires_at > now`, with `now` from the engine.
//! * TTLs are milliseconds computed by the client as `expires_at - now`, rounded up;
//!   `<= 0` means the written record would already be expired, so it is deleted instead.
//! * A key that holds neither a packed record with a readable header nor a hash with a
//!   readable `expires_at` is never overwritten by `create` (a collision) nor by `save` or
//!   `touch` (missing): it is left for inspection. `delete` and `retire` replace it. The
//!   scripts check only the header: a record whose data (or client text) is unreadable
//!   but whose header is sound is a record to them, so a `save` with its version or a
//!   `touch` rewrites it (the engine never saves over a session it could not load). One
//!   exception: `save` checks a record of the token's version only up to its user
//!   (`save_plain` and `save`'s first pattern), so such a record with a damaged rest of
//!   the header (write id, times, client length) is saved over rather than left.
//! * `parse` accepts what the client's decoder accepts (`codec::Fields::packed`): the same
//!   digits-only numbers (an expiry of at most 18 digits), lengths and newline.
//! * Every `redis.call` costs the server a few microseconds on top of the script's own
//!   start, so the scripts make few: a packed `save` is `GET` + `SET` (it was `HMGET` +
//!   `HSET` + `PEXPIRE` on a hash), plus the index commands on a standalone server when
//!   there is a user.
//! * The common case — no user, the packed format, a TTL, and for a save a `created_at` of
//!   its own (without one `save` keeps the stored one) — takes the cheapest form the
//!   server offers. A `create` is a plain `SET NX PX`, no script at all; only a key that
//!   is taken (a live session, a rotation marker, an expired record, an unreadable value
//!   or another type, or this call's own earlier write re-sent) goes on to the `create`
//!   script. A `save` is `save_plain`: no
//!   prelude (defining its seven closures cost the server 1.4 µs per call) and four
//!   arguments instead of ten (a script's arguments cost the server about 0.09 µs each to
//!   parse and hand to Lua); whatever it does not settle goes on to `save`. Each step
//!   measured with `INFO commandstats` and `redis-benchmark` (docs/BENCHMARKS.md, issue 21).

use std::sync::LazyLock;

/// Helpers prepended to every session script.
const PRELUDE: &str = r#"
local IDX, member, HASH = ARGV[1], ARGV[2], ARGV[3] == 'h'
-- The record under k, in either format, from v (what a protected GET answered): nil when
-- there is none; false when it cannot be read (another type, a header or an expires_at
-- that does not parse); else a table: ver (text), exp (number), ret (retired), user
-- ('' = none), w (write id), c and s (created_at and last_seen text, '-' = none), and v
-- (the packed value) with q (where its client text's length starts), or cl and d (a
-- hash's client text and data).
local function parse(k, v)
  if not v then return nil end
  if type(v) == 'table' then
    local f = redis.pcall('HMGET', k, 'version', 'expires_at', 'retired', 'user_id', 'write',
      'created_at', 'last_seen', 'client', 'data')
    if f['err'] then return false end
    -- Digits only (a record of an earlier build may hold a negative time): tonumber alone
    -- would take '0x1F', '1e5', 'inf' or 'nan'.
    if not f[2] or #f[2] > 19 or not string.match(f[2], '^%-?%d+$') then return false end
    local exp = tonumber(f[2])
    local w, c, s = f[5] or '', f[6] or '-', f[7] or '-'
    if not string.match(w, '^%S+$') then w = '-' end
    if not string.match(c, '^%d+$') then c = '-' end
    if not string.match(s, '^%d+$') then s = '-' end
    return {ver = f[1] or '', exp = exp, ret = f[3] ~= false, user = f[4] or '', w = w,
      c = c, s = s, cl = f[8] or '', d = f[9] or ''}
  end
  local ver, ret, exp, ulen, p = string.match(v, '^sk2 (%d+) ([01]) (%d+) (%d+):()')
  -- Beyond 18 digits an expiry is not an i64 the client could read (Lua would take it
  -- for a far future).
  if not ver or #exp > 18 then return false end
  ulen = tonumber(ulen)
  local w, c, s, q = string.match(v, '^ (%S+) (%S+) (%S+) ()', p + ulen)
  if not w then return false end
  -- The rest of the header as the client's decoder checks it: times of digits or '-', the
  -- client text's length, then the newline.
  if not (c == '-' or string.match(c, '^%d+$')) or not (s == '-' or string.match(s, '^%d+$')) then
    return false
  end
  local clen, d = string.match(v, '^(%d+):()', q)
  if not clen or string.sub(v, d + tonumber(clen), d + tonumber(clen)) ~= '\n' then
    return false
  end
  return {ver = ver, exp = tonumber(exp), ret = ret == '1', user = string.sub(v, p, p + ulen - 1),
    w = w, c = c, s = s, v = v, q = q}
end
local function read(k) return parse(k, redis.pcall('GET', k)) end
-- The packed value of r with a new expiry and last-seen (touch; a hash is migrated).
local function repack(r, exp, seen)
  local head = 'sk2 ' .. r.ver .. ' 0 ' .. exp .. ' ' .. #r.user .. ':' .. r.user .. ' ' ..
    r.w .. ' ' .. r.c .. ' ' .. seen .. ' '
  if r.v then return head .. string.sub(r.v, r.q) end
  return head .. #r.cl .. ':' .. r.cl .. '\n' .. r.d
end
-- Stores the packed value v (built by the client, or by repack) with a TTL of ttl ms
-- (> 0) over r (what read found): as it is, or under the hash format as fields.
local function put(k, v, ttl, r)
  if not HASH then
    redis.call('SET', k, v, 'PX', ttl)
    return
  end
  local ver, ret, exp, ulen, p = string.match(v, '^sk2 (%d+) ([01]) (%d+) (%d+):()')
  -- The client built v (or repack did from a record parse accepted): it always matches.
  -- Should it not, fail the write with an error reply rather than store half of it.
  if not ver then error('sessionkit: a record value that does not unpack') end
  local ue = p + tonumber(ulen)
  local w, c, s, clen, q = string.match(v, '^ (%S+) (%S+) (%S+) (%d+):()', ue)
  if not w then error('sessionkit: a record value that does not unpack') end
  if r ~= nil then redis.call('DEL', k) end
  if ret == '1' then
    redis.call('HSET', k, 'retired', '1', 'expires_at', exp)
  else
    local ce = q + tonumber(clen)
    local f = {'data', string.sub(v, ce + 1), 'version', ver, 'expires_at', exp, 'write', w,
      'client', string.sub(v, q, ce - 1)}
    if c ~= '-' then f[#f + 1] = 'created_at'; f[#f + 1] = c end
    if s ~= '-' then f[#f + 1] = 'last_seen'; f[#f + 1] = s end
    if ue > p then f[#f + 1] = 'user_id'; f[#f + 1] = string.sub(v, p, ue - 1) end
    redis.call('HSET', k, unpack(f))
  end
  redis.call('PEXPIRE', k, ttl)
end
-- A write's reply: 1, or in Cluster (no IDX) {1, user} when the client has a user's set
-- to update: the previous user `user` is not '' and not the record's new user `unless`.
-- A table reply costs the server about 0.4 µs more than a number.
local function done(user, unless)
  if IDX ~= '' or user == '' or user == unless then return 1 end
  return {1, user}
end
local function index_add(uid, ttl)
  if IDX == '' or uid == '' then return end
  local set = IDX .. '{' .. uid .. '}'
  redis.call('SADD', set, member)
  if redis.call('PTTL', set) < ttl then redis.call('PEXPIRE', set, ttl) end
end
local function index_remove(uid)
  if IDX == '' or uid == '' then return end
  redis.call('SREM', IDX .. '{' .. uid .. '}', member)
end
"#;

/// `create`: insert if absent, or if the stored record expired at `now`.
///
/// ARGV: 4 now, 5 ttl_ms, 6 the packed record (version 1), 7 its write id, 8 its user id
/// ('' = none). Returns 1 (or `{1, previous_user}`, see `done`) when created, 0 on a
/// collision.
///
/// The write id (random per call, kept in the record) makes a re-sent script harmless:
/// the cluster client re-sends a request whose connection dropped, even if the server had
/// run it. The second run finds its own write and answers as the first did.
const CREATE: &str = r#"
local k, now = KEYS[1], tonumber(ARGV[4])
local r = read(k)
local prev = ''
if r == false then return 0 end
if r then
  -- A live record or rotation marker owns the key.
  if r.exp > now then
    if r.w == ARGV[7] then return 1 end
    return 0
  end
  if not r.ret then prev = r.user end
end
local ttl = tonumber(ARGV[5])
if ttl > 0 then
  put(k, ARGV[6], ARGV[5], r)
  if prev ~= ARGV[8] then index_remove(prev) end
  index_add(ARGV[8], ttl)
  return done(prev, ARGV[8])
elseif r then
  redis.call('DEL', k)
  index_remove(prev)
end
return done(prev)
"#;

/// `save_plain`: the common save — no user before or after, the packed format, a TTL —
/// as a script of its own, without the prelude and with four arguments instead of ten
/// (each argument costs the server parsing and a Lua string; see the module docs).
///
/// ARGV: 1 token (the version the request loaded), 2 ttl_ms (> 0), 3 the packed record
/// (version `token + 1`, no user), 4 now. Returns 1 when saved and -1 when the key is empty
/// or the record of the token's version expired at `now` (as [`SAVE`] answers); 2 for
/// everything else — another version (a conflict, or this call's own earlier write
/// re-sent), a user, a retired or hash record, another type, a value that ends after the
/// user —, which the client sends on to [`SAVE`] to decide. The header is checked up to
/// the user, as `parse` and `save`'s own first pattern check that part (an expiry of
/// digits, at most 18 of them, and something after the user); the rest of it (write id,
/// times, the client text's length) is not: the engine saves only over a record it
/// loaded, whose whole header its decoder read.
const SAVE_PLAIN: &str = r#"
local v = redis.pcall('GET', KEYS[1])
if v == false then return -1 end
if type(v) ~= 'string' then return 2 end
local ver, exp, ulen = string.match(v, '^sk2 (%d+) 0 (%d+) (%d+):.')
if ver ~= ARGV[1] or ulen ~= '0' or #exp > 18 then return 2 end
if tonumber(exp) <= tonumber(ARGV[4]) then return -1 end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
return 1
"#;

/// `save`: compare-and-set on the version; never creates.
///
/// ARGV: 4 now, 5 token (the version the request loaded), 6 ttl_ms, 7 the packed record
/// (version `token + 1`), 8 its write id, 9 its user id, 10 `1` when the record has no
/// created_at (the stored one is kept). Returns 1 (or `{1, previous_user}`) when saved, 0
/// on a conflict, -1 when the record is absent, retired, expired at `now` or unreadable.
/// A re-sent save that finds its own write id answers 1 again (see `CREATE`)
/// instead of a conflict, which would make the engine replay the request's changes a
/// second time. The common case is [`SAVE_PLAIN`]; this is every other save. A packed
/// record of the token's version is read with one pattern (its user is all this needs
/// from it), anything else with `parse`.
const SAVE: &str = r#"
local k, now, new = KEYS[1], tonumber(ARGV[4]), ARGV[7]
local v = redis.pcall('GET', k)
local prev
if ARGV[10] ~= '1' and type(v) == 'string' then
  local ver, exp, ulen, p = string.match(v, '^sk2 (%d+) 0 (%d+) (%d+):()')
  if ver == ARGV[5] then
    ulen = tonumber(ulen)
    if #exp > 18 or p + ulen > #v or tonumber(exp) <= now then return -1 end
    prev = ulen == 0 and '' or string.sub(v, p, p + ulen - 1)
  end
end
if prev == nil then
  local r = parse(k, v)
  if not r or r.ret or r.exp <= now then return -1 end
  if r.ver ~= ARGV[5] then
    if r.w == ARGV[8] then return 1 end
    return 0
  end
  prev = r.user
  if ARGV[10] == '1' and r.c ~= '-' then
    local ulen, p = string.match(new, '^sk2 %d+ [01] %d+ (%d+):()')
    local a, b = string.match(new, '^ %S+ ()%-() ', p + tonumber(ulen))
    if a then new = string.sub(new, 1, a - 1) .. r.c .. string.sub(new, b) end
  end
end
local ttl = tonumber(ARGV[6])
if ttl <= 0 then
  redis.call('DEL', k)
  index_remove(prev)
  return done(prev)
end
put(k, new, ARGV[6], true)
if prev ~= ARGV[9] then index_remove(prev) end
index_add(ARGV[9], ttl)
return done(prev, ARGV[9])
"#;

/// `touch`: move a live record's expiry and last-seen; data and version stay.
///
/// ARGV: 4 now, 5 expires_at, 6 ttl_ms. Returns 1 (in Cluster `{1, user}`) when touched,
/// 0 when there is no live record.
const TOUCH: &str = r#"
local k, now = KEYS[1], tonumber(ARGV[4])
local r = read(k)
if not r or r.ret or r.exp <= now then return 0 end
local ttl = tonumber(ARGV[6])
if ttl <= 0 then
  redis.call('DEL', k)
  index_remove(r.user)
  return done(r.user)
end
if HASH and not r.v then
  redis.call('HSET', k, 'expires_at', ARGV[5], 'last_seen', ARGV[4])
  redis.call('PEXPIRE', k, ARGV[6])
else
  -- A time before 1970 has no place in the packed format (digits only): none.
  local seen = ARGV[4]
  if not string.match(seen, '^%d+$') then seen = '-' end
  put(k, repack(r, ARGV[5], seen), ARGV[6], r)
end
index_add(r.user, ttl)
return done(r.user)
"#;

/// `delete`: remove whatever is under the key. Returns 1 (in Cluster `{1, previous_user}`).
const DELETE: &str = r#"
local k = KEYS[1]
local user = ''
local r = read(k)
if r and not r.ret then user = r.user end
redis.call('DEL', k)
index_remove(user)
return done(user)
"#;

/// `retire`: replace the record by a rotation marker until `until`.
///
/// ARGV: 4 until, 5 fallback now, 6 the packed marker. Returns 1 (in Cluster
/// `{1, previous_user}`).
///
/// The store contract gives `retire` no `now`, yet the marker's TTL is `until - now` on
/// the engine's clock. The replaced record knows that clock: its `expires_at` minus its
/// remaining PTTL is the engine's `now` of its last write plus the real time elapsed
/// since, i.e. the engine's clock now (exactly so for the system clock). Only without a
/// record does the client's system clock (ARGV[5]) stand in.
const RETIRE: &str = r#"
local k = KEYS[1]
local now = tonumber(ARGV[5])
local user = ''
local r = read(k)
if r then
  if not r.ret then user = r.user end
  local pttl = redis.call('PTTL', k)
  if pttl > 0 then now = r.exp - pttl * 1000 end
end
local ttl = math.ceil((tonumber(ARGV[4]) - now) / 1000)
if ttl > 0 then
  put(k, ARGV[6], string.format('%d', ttl), r)
elseif r ~= nil then
  redis.call('DEL', k)
end
index_remove(user)
return done(user)
"#;

/// `clear_expired`, per key: delete the record if it expired at `now`.
///
/// ARGV: 4 now. Returns 1 (in Cluster `{1, previous_user}`) when this call deleted it, 0
/// otherwise — so concurrent cleaners count each record once.
const CLEAR: &str = r#"
local k, now = KEYS[1], tonumber(ARGV[4])
local r = read(k)
if not r or r.exp > now then return 0 end
redis.call('DEL', k)
local user = ''
if not r.ret then user = r.user end
index_remove(user)
return done(user)
"#;

/// `revoke_user`, per key: delete the session only if it (still) belongs to the user.
///
/// ARGV: 4 user_id. Returns 1 when deleted, 0 otherwise.
const REVOKE: &str = r#"
local k = KEYS[1]
local r = read(k)
if not r or r.ret or r.user ~= ARGV[4] then return 0 end
redis.call('DEL', k)
index_remove(ARGV[4])
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

    /// A session script: the prelude, then `body`.
    fn session(name: &'static str, body: &str) -> Lua {
        Lua::new(name, format!("{PRELUDE}{body}"))
    }
}

/// Every script the store runs.
#[derive(Debug)]
pub(crate) struct Scripts {
    pub(crate) create: Lua,
    pub(crate) save_plain: Lua,
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
    pub(crate) fn all(&self) -> [&Lua; 10] {
        [
            &self.create,
            &self.save_plain,
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
    save_plain: Lua::new("save_plain", SAVE_PLAIN.to_owned()),
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
