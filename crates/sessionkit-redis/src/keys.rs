//! The key layout (native layout, version 1) and the two record formats, in one place.
//!
//! | key | type | holds | TTL |
//! | --- | --- | --- | --- |
//! | `{prefix}s:{<session key>}` | string (or hash) | one session: a packed record, or a hash (see [`RecordFormat`]) | the session's expiry |
//! | `{prefix}u:{<user id>}` | set | the session keys of one user (the per-user index) | the longest TTL of its sessions |
//! | `{prefix}l:{<session key>}` | string | a lease for lock mode: the owner's token | the lease's TTL |
//!
//! # The packed record (the default)
//!
//! One string: a header line, then the session dictionary as JSON text (the store is
//! trusted, so no signing):
//!
//! ```text
//! sk2 <version> <retired> <expires_at> <n>:<user id> <write> <created_at> <last_seen> <m>:<client>\n<data>
//! ```
//!
//! | field | value |
//! | --- | --- |
//! | `sk2` | the format's name and version |
//! | `version` | the compare-and-set token, `1` on create, incremented by every save (the client writes `token + 1`; the script checks the stored one is `token`) |
//! | `retired` | `1` on a rotation marker (expiring at `expires_at`, the end of the grace window; no data), else `0` |
//! | `expires_at` | the expiry, Unix microseconds; compared against the engine's `now` |
//! | `user id` | the logged-in user, `0:` when anonymous |
//! | `write` | a random id of the create or save that wrote the record last (`-` on a marker): a re-sent script recognises its own write |
//! | `created_at`, `last_seen` | Unix microseconds, `-` for none |
//! | `client` | the client info of the last write (`IP<TAB>user agent<TAB>device label`, see `ClientInfo::to_stored_text`), `0:` when none; unreadable text is read as none with a warning |
//!
//! Numbers are plain decimal digits (no sign); the user id and the client text are
//! length-prefixed (byte counts), as they may hold spaces, tabs or newlines. The order
//! serves the `save` script, the hot path: it compares the start of the value with
//! `sk2 <token> 0 ` (right version, not retired) and then reads only the expiry and the
//! user id (for the index) — Lua's pattern matching costs about 5 ns per byte scanned, so
//! the write id and the times, which it does not need, come after. The client builds the
//! whole value, so a `save` is `GET` plus `SET key value PX ttl` on the server, with no
//! string building in Lua. A rotation marker is `sk2 0 1 <until> 0: - - - 0:` and a newline. A value that does
//! not parse (garbage, wrong lengths, negative or out-of-range numbers, non-UTF-8 text where
//! text is needed) is no session: `load` reports it missing with a warning. The scripts read
//! only the header: one whose header does not parse is never overwritten (`create`
//! collides, `save` and `touch` find nothing), `delete` and `retire` replace it; one whose
//! header parses but whose data or client text does not is a record to them (the engine
//! never saves over a session it could not load, so only another writer's `save` with its
//! version, or a `touch`, rewrites it).
//!
//! # The hash record (earlier builds, and [`RecordFormat::Hash`])
//!
//! | field | value |
//! | --- | --- |
//! | `data` | the session dictionary as JSON text |
//! | `version`, `expires_at`, `created_at`, `last_seen`, `write` | as in the packed record; `created_at`, `last_seen` absent for none |
//! | `user_id` | the logged-in user, absent when anonymous |
//! | `client` | as in the packed record; empty when none, absent in records of versions before it (read as none) |
//! | `retired` | `1` on a rotation marker, which has only `expires_at` besides |
//!
//! Every read and every script reads both formats. A read sends first the command of the
//! format the store writes (`GET` by default, `HMGET` under [`RecordFormat::Hash`]); a
//! `WRONGTYPE` error sends it to the other one — one extra round trip, for records in the
//! other format only — and a record rewritten in between is read again. Every write produces the store's
//! [`RecordFormat`]: a save or touch of a hash record under the default format rewrites it
//! packed, with the same compare-and-set.
//!
//! # Hash tags and the prefix
//!
//! The `{...}` part of a key is its Redis Cluster **hash tag**: only it decides the slot,
//! so a session's record and its lease live in one slot (the scripts that touch them run on
//! one node), while the sessions themselves spread over the cluster. A user's set
//! generally lives in another slot than the user's sessions.
//!
//! The prefix (default [`DEFAULT_PREFIX`]) namespaces everything; end it with `:`. Avoid
//! `{` and `}` in it: a complete hash tag in the prefix would put every key in one slot.
//!
//! A later layout version will use new type letters, so that old and new keys can coexist
//! during a migration.

use sessionkit_core::SessionKey;

/// How a [`RedisStore`](crate::RedisStore) writes session records (it reads both): see
/// [`RedisBuilder::with_record_format`](crate::RedisBuilder::with_record_format).
///
/// Upgrading from a build that wrote hashes (before issue 21) takes two deploys, because
/// such builds read only hashes — a packed record is "no session" to them, which logs the
/// user out:
///
/// 1. deploy this build with [`RecordFormat::Hash`] everywhere: it keeps writing hashes
///    while reading both, so old and new processes can serve side by side;
/// 2. once no process of the earlier build is left, deploy with the default
///    ([`RecordFormat::Packed`]). Hashes become packed records as they are saved or
///    touched; the rest expire as hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordFormat {
    /// One string per session: a header line and the JSON data (see the [module
    /// docs](self#the-packed-record-the-default)). A `load` is one `GET` instead of an
    /// `HMGET`, and a `save` script makes two calls (`GET`, `SET`) instead of three.
    #[default]
    Packed,
    /// One hash per session, as builds before issue 21 wrote: for the first step of a
    /// rolling upgrade (see above), or to go back to such a build. To go back, run this
    /// format for at least the longest session lifetime first: a packed record that no
    /// save or touch rewrote in the meantime is "no session" to the earlier build.
    Hash,
}

/// The prefix used unless [`RedisBuilder::with_prefix`](crate::RedisBuilder::with_prefix) sets
/// another.
pub const DEFAULT_PREFIX: &str = "sessionkit:";

/// The key names of one namespace.
///
/// ```
/// use sessionkit_core::SessionKey;
/// use sessionkit_redis::keys::KeyLayout;
///
/// let layout = KeyLayout::new("app:");
/// let key = SessionKey::parse("abcdefgh12345678").unwrap();
/// assert_eq!(layout.session(&key), "app:s:{abcdefgh12345678}");
/// assert_eq!(layout.user("42"), "app:u:{42}");
/// assert_eq!(layout.lease(&key), "app:l:{abcdefgh12345678}");
/// assert_eq!(layout.session_key_of(b"app:s:{abcdefgh12345678}"), Some(key));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyLayout {
    prefix: String,
    /// `{prefix}u:`, which the standalone scripts extend to a user's set key.
    user_prefix: String,
}

impl KeyLayout {
    /// The layout under `prefix`.
    pub fn new(prefix: impl Into<String>) -> KeyLayout {
        let prefix = prefix.into();
        KeyLayout {
            user_prefix: format!("{prefix}u:"),
            prefix,
        }
    }

    /// The namespace prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key holding a session (or its rotation marker).
    pub fn session(&self, key: &SessionKey) -> String {
        // `concat` sizes the string once; `format!` cost several times a plain copy, and
        // every request names its session key at least twice.
        [self.prefix.as_str(), "s:{", key.as_str(), "}"].concat()
    }

    /// The set of a user's session keys.
    pub fn user(&self, user_id: &str) -> String {
        // The scripts build the same name from `user_prefix()` on a standalone server.
        [self.user_prefix.as_str(), "{", user_id, "}"].concat()
    }

    /// The lease on a session (lock mode).
    pub fn lease(&self, key: &SessionKey) -> String {
        [self.prefix.as_str(), "l:{", key.as_str(), "}"].concat()
    }

    /// `{prefix}u:`: a user's set is this, then `{`, the user id and `}`.
    pub(crate) fn user_prefix(&self) -> &str {
        &self.user_prefix
    }

    /// The SCAN `MATCH` pattern of every session record in the namespace.
    pub fn session_pattern(&self) -> String {
        // Redis glob metacharacters in the prefix match themselves only when escaped.
        let mut p = crate::scan::glob_escape(&self.prefix);
        p.push_str("s:{*}");
        p
    }

    /// The session key in a session record's name (from SCAN), if it is one of ours.
    pub fn session_key_of(&self, redis_key: &[u8]) -> Option<SessionKey> {
        let rest = redis_key.strip_prefix(self.prefix.as_bytes())?;
        let inner = rest.strip_prefix(b"s:{")?.strip_suffix(b"}")?;
        SessionKey::parse(std::str::from_utf8(inner).ok()?)
    }
}

impl Default for KeyLayout {
    fn default() -> Self {
        KeyLayout::new(DEFAULT_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_in_the_prefix_are_escaped() {
        assert_eq!(
            KeyLayout::new("a*b?[c]\\:").session_pattern(),
            r"a\*b\?\[c\]\\:s:{*}"
        );
        assert_eq!(KeyLayout::default().session_pattern(), "sessionkit:s:{*}");
    }

    #[test]
    fn foreign_keys_are_not_sessions() {
        let l = KeyLayout::new("p:");
        assert_eq!(l.session_key_of(b"q:s:{abcdefgh}"), None);
        assert_eq!(l.session_key_of(b"p:u:{abcdefgh}"), None);
        assert_eq!(l.session_key_of(b"p:s:{ABCDEFGH}"), None);
        assert_eq!(l.session_key_of(b"p:s:{abcdefgh"), None);
        assert!(l.session_key_of(b"p:s:{abcdefgh}").is_some());
    }

    #[test]
    fn keys_of_one_session_share_a_hash_tag() {
        let l = KeyLayout::new("x:");
        let k = SessionKey::generate();
        let tag = |s: &str| {
            let open = s.find('{').unwrap();
            let close = open + s[open..].find('}').unwrap();
            s[open + 1..close].to_owned()
        };
        assert_eq!(tag(&l.session(&k)), k.as_str());
        assert_eq!(tag(&l.lease(&k)), k.as_str());
    }
}
