//! An encrypted cookie store for sessionkit: the whole session travels in the cookie (or
//! the session header), sealed with **XChaCha20-Poly1305** under a **key ring**, so the
//! client can neither read nor alter it.
//!
//! | module | what |
//! | --- | --- |
//! | [`key`] | [`CookieKey`] (exactly 32 bytes, from base64), [`KeyRing`] (the first key seals, every key opens), [`KeyError`] |
//! | [`format`](mod@format) | the versioned cookie format: [`format::seal`], [`format::open`] (pure, fuzzed) |
//! | [`store`] | [`EncryptedCookieStore`], a [`ClientStore`](sessionkit_core::ClientStore) |
//!
//! ```
//! use sessionkit_core::{ClientStore, Data, Value};
//! use sessionkit_encrypted_cookie::{CookieKey, EncryptedCookieStore, KeyRing};
//! use time::OffsetDateTime;
//!
//! let old = CookieKey::generate();
//! let now = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
//! let mut data = Data::new();
//! data.insert("count", Value::Int(1));
//!
//! // A cookie written before the rotation...
//! let before = EncryptedCookieStore::new(KeyRing::single(old.clone()));
//! let cookie = before.encode(&data, now).unwrap();
//! assert!(!cookie.contains("count"), "the session is not readable in the cookie");
//!
//! // ...still opens after a new key was put first, and new cookies use the new key.
//! let new = CookieKey::generate();
//! let after = EncryptedCookieStore::new(KeyRing::new(vec![new, old]).unwrap());
//! assert_eq!(after.decode(&cookie, now).unwrap().data, data);
//!
//! // Once the old key is removed, the old cookie is no session (and a log line).
//! let later = EncryptedCookieStore::new(KeyRing::single(CookieKey::generate()));
//! assert!(later.decode(&cookie, now).is_none());
//! ```
//!
//! Like every client-side store it offers **no revocation and no replay protection**: a
//! copied cookie stays valid until it expires (the engine applies the cookie age and the
//! session's own expiry to the sealed issue time), and logout cannot invalidate copies.

pub mod format;
pub mod key;
pub mod store;

pub use key::{CookieKey, KeyError, KeyId, KeyRing};
pub use store::EncryptedCookieStore;
