//! Cache keys and the auth hash.

use sessionkit_core::Data;
use sessionkit_core::value::Value;
use sessionkit_django::auth::{
    AUTH_HASH_SALT, AuthHasher, BACKEND_SESSION_KEY, HASH_SESSION_KEY, HashMatch, SESSION_KEY,
    session_auth_hash,
};
use sessionkit_django::keys::CacheEngine;
use sessionkit_django::session;
use sessionkit_django::signing::Secrets;

use crate::vectors::{OLD_KEY, SECRET_KEY, T1, int_of, records};

pub(crate) const FUNCTIONS: &[&str] = &[
    "cache.cache_key",
    "cached_db.cache_key",
    "cache.redis_key (default KEY_PREFIX='' VERSION=1)",
    "cache.redis_key (KEY_PREFIX='myapp' VERSION=3)",
    "cached_db.redis_key (default KEY_PREFIX='' VERSION=1)",
    "cached_db.redis_key (KEY_PREFIX='myapp' VERSION=3)",
    "auth.get_session_auth_hash",
];

#[test]
fn cache_keys_match_django() {
    for (name, engine) in [
        ("cache", CacheEngine::Cache),
        ("cached_db", CacheEngine::CachedDb),
    ] {
        for r in records(&format!("{name}.cache_key")) {
            assert_eq!(engine.cache_key(r.input_str("session_key")), r.output_str());
        }
        for suffix in [
            "(default KEY_PREFIX='' VERSION=1)",
            "(KEY_PREFIX='myapp' VERSION=3)",
        ] {
            for r in records(&format!("{name}.redis_key {suffix}")) {
                let got = engine.redis_key(
                    r.input_str("KEY_PREFIX"),
                    int_of(r.input("VERSION")),
                    r.input_str("session_key"),
                );
                assert_eq!(got, r.output_str(), "{name} {suffix}");
            }
        }
    }
}

#[test]
fn auth_hash_matches_django() {
    for r in records("auth.get_session_auth_hash") {
        assert_eq!(r.input_str("key_salt"), AUTH_HASH_SALT);
        assert_eq!(r.input_str("algorithm"), "sha256");
        let password = r.input_str("password_field");
        let hash = session_auth_hash(r.input_str("SECRET_KEY"), password);
        assert_eq!(hash, r.output_str());

        // Key rotation: the hash made with the old key still logs in via the fallback.
        let rotated = AuthHasher::new(&Secrets::new("brand-new-key").with_fallback(SECRET_KEY));
        assert_eq!(
            rotated.verify(&hash, password),
            HashMatch::Fallback { index: 0 }
        );
        assert_eq!(
            rotated.verify(&rotated.hash(password), password),
            HashMatch::Current
        );
        let unrelated = AuthHasher::new(&Secrets::new(OLD_KEY));
        assert_eq!(unrelated.verify(&hash, password), HashMatch::NoMatch);

        // The post-login session Django encoded (`SessionStore.encode`, "after_login").
        let login = records("SessionStore.encode")
            .into_iter()
            .find(|r| r.input_str("dict_name") == "after_login")
            .unwrap();
        let mut data = Data::new();
        data.insert(SESSION_KEY, Value::from("1"));
        data.insert(
            BACKEND_SESSION_KEY,
            Value::from("django.contrib.auth.backends.ModelBackend"),
        );
        data.insert(HASH_SESSION_KEY, Value::String(hash.clone()));
        let signer = session::signer(&Secrets::new(SECRET_KEY));
        let decoded = session::decode(login.output_str(), &signer).unwrap();
        assert_eq!(decoded, data);
        assert_eq!(int_of(login.input("time")), T1);
    }
}
