//! Django's `SessionStore.encode` / `SessionStore.decode`: the signed session data stored
//! by the `db`, `cached_db` (database column) and `file` engines (DJANGO.md §2.4).
//!
//! `encode(d) = signing.dumps(d, salt="django.contrib.sessions.SessionStore",
//! compress=True)`. The timestamp inside is the save time and is **not** checked on
//! load; expiry is the store's business (the `expire_date` column, file times).
//!
//! ```
//! use sessionkit_core::{Data, Value};
//! use sessionkit_django::session;
//! use sessionkit_django::signing::Secrets;
//! use time::OffsetDateTime;
//!
//! let signer = session::signer(&Secrets::new("anchor-secret-key-for-vectors"));
//! let mut data = Data::new();
//! data.insert("count", Value::Int(1));
//! let t1 = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
//!
//! let stored = session::encode(&data, &signer, t1);
//! assert_eq!(stored, "eyJjb3VudCI6MX0:1vb66i:JJNgHSKKg3wnHodyqXp7GUIHuJ_OJH0rr8B2yIKOsrk");
//! assert_eq!(session::decode(&stored, &signer), Some(data));
//! assert_eq!(session::decode("bad:encoded:value", &signer), None);
//! ```

use std::sync::Arc;

use sessionkit_core::Data;
use time::OffsetDateTime;

use crate::signing::{Secrets, Signer, SigningError};

/// The salt of every built-in server-side store (`"django.contrib.sessions." +
/// SessionStore.__qualname__`).
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";

/// Django's `SessionBase.key_salt` for a store class: `"django.contrib.sessions." +
/// class_qualname`. Every built-in engine's class is named `SessionStore`, giving
/// [`SESSION_SALT`]; a subclass with another name signs with another salt.
///
/// ```
/// use sessionkit_django::session::{SESSION_SALT, key_salt};
///
/// assert_eq!(key_salt("SessionStore"), SESSION_SALT);
/// ```
pub fn key_salt(class_qualname: &str) -> String {
    format!("django.contrib.sessions.{class_qualname}")
}

/// A signer for server-side session data ([`SESSION_SALT`]).
pub fn signer(secrets: &Secrets) -> Signer {
    Signer::new(secrets, SESSION_SALT)
}

/// `SessionStore.encode(dict)`: the session as ASCII-only Python JSON, compressed when
/// that helps, signed with the current key at `now`.
pub fn encode(data: &Data, signer: &Signer, now: OffsetDateTime) -> String {
    signer.dumps(&data.to_json(), true, now)
}

/// `SessionStore.decode(text)`: the session, or `None` for any failure (Django answers
/// `{}`). A bad signature logs the warning Django logs (`Session data corrupted`); other
/// failures, which need the key to produce, log at debug level. Never panics.
pub fn decode(text: &str, signer: &Signer) -> Option<Data> {
    // No max age: the embedded timestamp is ignored for server-side data.
    let (json, _) = match signer.loads(text, None, OffsetDateTime::UNIX_EPOCH) {
        Ok(ok) => ok,
        Err(SigningError::BadSignature) => {
            tracing::warn!(salt = signer.salt(), "Session data corrupted");
            return None;
        }
        Err(e) => {
            tracing::debug!(salt = signer.salt(), error = %e, "session data could not be decoded");
            return None;
        }
    };
    match Data::from_json(Arc::from(json)) {
        Ok(data) => Some(data),
        Err(e) => {
            tracing::debug!(salt = signer.salt(), error = %e, "session data is not a JSON object");
            None
        }
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
    fn failures_are_none() {
        let s = signer(&Secrets::new("k"));
        let other = Signer::new(&Secrets::new("k"), "another.salt");
        for bad in [
            "",
            ":",
            "::",
            "Zmxhc2tkajphbGtkamY=",
            "bad:encoded:value",
            &other.dumps("{}", true, t(0)),
            &s.dumps("[]", true, t(0)),
            &s.dumps("{", true, t(0)),
            &s.dumps("1", true, t(0)),
        ] {
            assert_eq!(decode(bad, &s), None, "{bad}");
        }
    }

    #[test]
    fn the_timestamp_is_ignored() {
        let s = signer(&Secrets::new("k"));
        let old = encode(&Data::new(), &s, t(0));
        assert_eq!(decode(&old, &s), Some(Data::new()));
    }

    #[test]
    fn python_extensions_survive() {
        let s = signer(&Secrets::new("k"));
        let json = r#"{"n":NaN,"big":123456789012345678901234567890,"x":1E5}"#;
        let stored = s.dumps(json, true, t(0));
        let data = decode(&stored, &s).unwrap();
        // Raw text is kept for untouched values.
        assert_eq!(data.to_json(), json);
        assert_eq!(encode(&data, &s, t(0)), stored);
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::Int),
            any::<i128>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("NaN != NaN", |f| !f.is_nan())
                .prop_map(Value::Float),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
                prop::collection::vec((any::<String>(), inner), 0..8)
                    .prop_map(|kv| Value::Map(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn encode_then_decode(entries in prop::collection::vec((any::<String>(), arb_value()), 0..12)) {
            let map: Map = entries.into_iter().collect();
            let data = Data::from_map(map.clone());
            let s = signer(&Secrets::new("k"));
            let stored = encode(&data, &s, t(1_767_225_600));
            prop_assert!(stored.is_ascii());
            let back = decode(&stored, &s).unwrap();
            prop_assert_eq!(back.to_map(), map);
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let s = signer(&Secrets::new("k"));
            let _ = decode(&text, &s);
            // Correctly signed garbage reaches the JSON reader.
            let _ = decode(&s.dumps(&text, true, t(0)), &s);
        }
    }
}
