//! [`SignedCookieStore`]: Django's `signed_cookies` engine — the whole session, signed,
//! in the cookie (DJANGO.md §1.3, §2.5).
//!
//! The cookie value is `signing.dumps(session, salt="django.contrib.sessions.backends.signed_cookies",
//! compress=True)`. Reading verifies the signature against the current key and the
//! fallbacks; writing always signs with the current key. The store does not apply
//! `SESSION_COOKIE_AGE` itself: it reports the signing time and the engine decides (Django
//! accepts a cookie up to and including `SESSION_COOKIE_AGE` seconds after it was signed).
//!
//! ```
//! use sessionkit_core::{ClientStore, Data, Value};
//! use sessionkit_django::SignedCookieStore;
//! use sessionkit_django::signing::Secrets;
//! use time::OffsetDateTime;
//!
//! let store = SignedCookieStore::new(&Secrets::new("anchor-secret-key-for-vectors"));
//! let t1 = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
//! let mut data = Data::new();
//! data.insert("count", Value::Int(1));
//!
//! let cookie = store.encode(&data, t1).unwrap();
//! assert_eq!(cookie, "eyJjb3VudCI6MX0:1vb66i:vPveSJk7gRPYYVYUVeAWsF9lBLpdvaxex_Gla6cYAPM");
//! let contents = store.decode(&cookie, t1).unwrap();
//! assert_eq!(contents.data, data);
//! assert_eq!(contents.issued_at, t1);
//! assert!(store.decode("tampered:1vb66i:vPveSJk7gRPYYVYUVeAWsF9lBLpdvaxex_Gla6cYAPM", t1).is_none());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sessionkit_core::{ClientStore, CookieContents, Data, StoreError};
use time::OffsetDateTime;

use crate::signing::{Secrets, Signer, SigningError};

/// The salt of the `signed_cookies` engine.
pub const SIGNED_COOKIES_SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// Django's `signed_cookies` session engine as a [`ClientStore`].
#[derive(Clone)]
pub struct SignedCookieStore {
    signer: Signer,
    max_age: Option<i64>,
}

impl fmt::Debug for SignedCookieStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedCookieStore")
            .field("signer", &self.signer)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl SignedCookieStore {
    /// A store signing with `secrets.current()` and accepting the fallbacks. The size of
    /// the cookie (with the configured cookie name) is checked by the engine.
    pub fn new(secrets: &Secrets) -> SignedCookieStore {
        SignedCookieStore {
            signer: Signer::new(secrets, SIGNED_COOKIES_SALT),
            max_age: None,
        }
    }

    /// Refuses, already in [`decode`](ClientStore::decode), cookies signed more than
    /// `max_age` ago (whole seconds, as Django's `signing.loads(max_age=...)`; saturating).
    /// Off by default: the engine applies `SESSION_COOKIE_AGE` and the session's own expiry
    /// to the reported signing time.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> SignedCookieStore {
        self.max_age = Some(i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX));
        self
    }

    /// Sets how many bytes a cookie's payload may inflate to (default 1 MiB).
    #[must_use]
    pub fn with_max_decompressed(mut self, bytes: usize) -> SignedCookieStore {
        self.signer = self.signer.with_max_decompressed(bytes);
        self
    }

    /// The signer (salt [`SIGNED_COOKIES_SALT`]).
    pub fn signer(&self) -> &Signer {
        &self.signer
    }
}

impl ClientStore for SignedCookieStore {
    fn decode(&self, cookie_value: &str, now: OffsetDateTime) -> Option<CookieContents> {
        let (json, issued_at) = match self.signer.loads(cookie_value, self.max_age, now) {
            Ok(ok) => ok,
            Err(SigningError::Expired) => {
                tracing::debug!("signed session cookie expired");
                return None;
            }
            Err(SigningError::BadSignature) => {
                tracing::warn!("Session data corrupted (signed cookie with a bad signature)");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "signed session cookie could not be decoded");
                return None;
            }
        };
        match Data::from_json(Arc::from(json)) {
            Ok(data) => Some(CookieContents { data, issued_at }),
            Err(e) => {
                tracing::warn!(error = %e, "signed session cookie does not hold a JSON object");
                None
            }
        }
    }

    fn encode(&self, data: &Data, now: OffsetDateTime) -> Result<String, StoreError> {
        Ok(self.signer.dumps(&data.to_json(), true, now))
    }

    fn describe(&self) -> String {
        "cookie://".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use sessionkit_core::Value;
    use sessionkit_core::value::Map;

    use super::*;

    fn t(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(secs).unwrap()
    }

    #[test]
    fn optional_max_age() {
        let store =
            SignedCookieStore::new(&Secrets::new("k")).with_max_age(Duration::from_secs(10));
        let v = store.encode(&Data::new(), t(100)).unwrap();
        assert!(store.decode(&v, t(110)).is_some());
        assert!(store.decode(&v, t(111)).is_none());
        // Without it, any age is reported to the engine.
        let lax = SignedCookieStore::new(&Secrets::new("k"));
        assert_eq!(lax.decode(&v, t(1_000_000)).unwrap().issued_at, t(100));
    }

    #[test]
    fn describe_and_debug() {
        let store = SignedCookieStore::new(&Secrets::new("very-secret"));
        assert_eq!(store.describe(), "cookie://");
        assert!(!format!("{store:?}").contains("very-secret"));
    }

    #[test]
    fn non_object_payloads_are_refused() {
        let store = SignedCookieStore::new(&Secrets::new("k"));
        for json in ["[]", "1", "\"x\"", "{", "{\"a\":1} x"] {
            let v = store.signer().dumps(json, true, t(0));
            assert!(store.decode(&v, t(0)).is_none(), "{json}");
        }
    }

    proptest! {
        #[test]
        fn encode_then_decode(entries in prop::collection::vec((".{0,8}", any::<i64>(), ".{0,16}"), 0..10)) {
            let map: Map = entries
                .into_iter()
                .map(|(k, i, s)| (k, Value::List(vec![Value::Int(i), Value::String(s)])))
                .collect();
            let store = SignedCookieStore::new(&Secrets::new("k"));
            let data = Data::from_map(map.clone());
            let v = store.encode(&data, t(5)).unwrap();
            let back = store.decode(&v, t(5)).unwrap();
            prop_assert_eq!(back.data.to_map(), map);
            prop_assert_eq!(back.issued_at, t(5));
        }

        #[test]
        fn arbitrary_cookies_never_panic(s in ".{0,300}") {
            let store = SignedCookieStore::new(&Secrets::new("k"));
            let _ = store.decode(&s, t(0));
        }
    }
}
