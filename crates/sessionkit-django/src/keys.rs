//! Where Django's engines put a session: cache keys for the `cache` and `cached_db`
//! engines (DJANGO.md §2.7) and the file name of the `file` engine (§2.9).
//!
//! ```
//! use sessionkit_django::keys::{CacheEngine, file_name};
//!
//! let key = "abcdefghijklmnopqrstuvwxyz012345";
//! assert_eq!(
//!     CacheEngine::Cache.redis_key("", 1, key),
//!     ":1:django.contrib.sessions.cacheabcdefghijklmnopqrstuvwxyz012345"
//! );
//! assert_eq!(
//!     CacheEngine::CachedDb.redis_key("myapp", 3, key),
//!     "myapp:3:django.contrib.sessions.cached_dbabcdefghijklmnopqrstuvwxyz012345"
//! );
//! assert_eq!(
//!     file_name("sessionid", key).as_deref(),
//!     Some("sessionidabcdefghijklmnopqrstuvwxyz012345")
//! );
//! ```

/// `KEY_PREFIX` of `django.contrib.sessions.backends.cache` (no separator follows).
pub const CACHE_KEY_PREFIX: &str = "django.contrib.sessions.cache";

/// `KEY_PREFIX` of `django.contrib.sessions.backends.cached_db` (no separator follows).
pub const CACHED_DB_KEY_PREFIX: &str = "django.contrib.sessions.cached_db";

/// Django's default cache `VERSION`.
pub const DEFAULT_VERSION: i64 = 1;

/// Django's two cache-based session engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheEngine {
    /// `django.contrib.sessions.backends.cache`: the cache is the only store.
    Cache,
    /// `django.contrib.sessions.backends.cached_db`: a write-through cache in front of
    /// the database.
    CachedDb,
}

impl CacheEngine {
    /// The engine module's key prefix.
    pub const fn module_prefix(self) -> &'static str {
        match self {
            CacheEngine::Cache => CACHE_KEY_PREFIX,
            CacheEngine::CachedDb => CACHED_DB_KEY_PREFIX,
        }
    }

    /// `SessionStore.cache_key`: the module prefix followed directly by the session key,
    /// before the cache applies its key function.
    ///
    /// ```
    /// use sessionkit_django::keys::CacheEngine;
    ///
    /// assert_eq!(CacheEngine::Cache.cache_key("k1234567"), "django.contrib.sessions.cachek1234567");
    /// ```
    pub fn cache_key(self, session_key: &str) -> String {
        let prefix = self.module_prefix();
        let mut s = String::with_capacity(prefix.len() + session_key.len());
        s.push_str(prefix);
        s.push_str(session_key);
        s
    }

    /// The key the session has in the cache server (Redis, memcached): Django's default
    /// `KEY_FUNCTION` applied to [`cache_key`](CacheEngine::cache_key) with the cache's
    /// `KEY_PREFIX` and `VERSION`.
    pub fn redis_key(self, key_prefix: &str, version: i64, session_key: &str) -> String {
        make_key(key_prefix, version, &self.cache_key(session_key))
    }
}

/// Django's default cache key function: `f"{KEY_PREFIX}:{VERSION}:{key}"`.
///
/// ```
/// use sessionkit_django::keys::make_key;
///
/// assert_eq!(make_key("", 1, "k"), ":1:k");
/// ```
pub fn make_key(key_prefix: &str, version: i64, key: &str) -> String {
    format!("{key_prefix}:{version}:{key}")
}

/// Whether the file engine accepts a session key: non-empty, only `[a-z0-9]` (anything
/// else is Django's `InvalidSessionKey`).
pub fn is_valid_file_key(session_key: &str) -> bool {
    !session_key.is_empty()
        && session_key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The file engine's file name inside `SESSION_FILE_PATH`: `SESSION_COOKIE_NAME`
/// followed directly by the key. `None` for a key the engine refuses (see
/// [`is_valid_file_key`]), which also keeps `/`, `\` and `..` out of paths.
///
/// ```
/// use sessionkit_django::keys::file_name;
///
/// assert_eq!(file_name("sessionid", "../etc/passwd"), None);
/// ```
pub fn file_name(cookie_name: &str, session_key: &str) -> Option<String> {
    is_valid_file_key(session_key).then(|| format!("{cookie_name}{session_key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_keys_are_lowercase_alphanumerics() {
        assert!(is_valid_file_key("abc123"));
        for bad in ["", "ABC", "a/b", "a\\b", "a.b", "a b", "é"] {
            assert!(!is_valid_file_key(bad), "{bad:?}");
            assert_eq!(file_name("sessionid", bad), None);
        }
    }

    #[test]
    fn key_function_formats_any_version() {
        assert_eq!(make_key("p", -2, "k"), "p:-2:k");
        assert_eq!(
            CacheEngine::CachedDb.redis_key("", DEFAULT_VERSION, "x"),
            ":1:django.contrib.sessions.cached_dbx"
        );
    }
}
