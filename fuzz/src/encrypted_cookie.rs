//! Target `encrypted_cookie`: the encrypted cookie store's decoder and key parsing.
//!
//! Shared by `fuzz/fuzz_targets/encrypted_cookie.rs` and by the ordinary test that replays
//! the committed corpus (`crates/sessionkit-encrypted-cookie/tests/it/fuzz_corpus.rs`
//! includes this file). Panics when a property fails; must not panic otherwise.
//!
//! The first byte picks a mode:
//!
//! * 0 — the rest is a cookie value as a client sends it: `format::open` and the store's
//!   `decode`; whatever opens is authentic, so it reseals and reopens to the same text;
//! * 1 — the rest is sealed with the right key first, so the fuzzer explores what lies
//!   behind a valid tag (the issue time, JSON): `open` gives the text back exactly, and the
//!   store accepts it exactly when `Data::from_json` does; a sealed value longer than any
//!   cookie (`MAX_VALUE_LEN`) is refused unread (`TooLong`);
//! * 2 — tampering: the rest (after two position bytes and a mask byte) is sealed, one
//!   byte of the sealed form is changed, and it never opens;
//! * 3 — truncation and extension: the sealed form cut at a position, or with bytes
//!   appended, never opens;
//! * 4 — key parsing: `KeyRing::parse` never panics, and a ring it accepts seals values that
//!   it opens and that a ring of other keys does not.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sessionkit_core::{ClientStore, Data};
use sessionkit_encrypted_cookie::format::{self, OpenError};
use sessionkit_encrypted_cookie::{CookieKey, EncryptedCookieStore, KeyRing};
use time::OffsetDateTime;

/// The key every mode seals with (the pinned test vector's key, so that vector is a seed).
pub const KEY: [u8; 32] = [7; 32];

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Runs one input.
pub fn encrypted_cookie(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let key = CookieKey::from_bytes(&KEY);
    let ring = KeyRing::single(key.clone());
    let store = EncryptedCookieStore::new(ring.clone());
    match mode % 5 {
        0 => {
            let text = String::from_utf8_lossy(rest);
            let opened = format::open(&ring, &text);
            let decoded = store.decode(&text, now());
            match opened {
                Ok(o) => {
                    assert_eq!(o.key_id, key.id());
                    let again = format::open(&ring, &format::seal(&key, o.issued_at, &o.json))
                        .expect("a resealed value opens");
                    assert_eq!(again.json, o.json);
                    assert_eq!(again.issued_at, o.issued_at);
                    let accepted = Data::from_json(Arc::from(o.json.as_str())).is_ok()
                        && OffsetDateTime::from_unix_timestamp(o.issued_at).is_ok();
                    assert_eq!(decoded.is_some(), accepted);
                }
                Err(_) => assert!(decoded.is_none()),
            }
        }
        1 => {
            let (time, json) = rest.split_at(rest.len().min(8));
            let mut t = [0u8; 8];
            t[..time.len()].copy_from_slice(time);
            let issued_at = i64::from_be_bytes(t);
            let json = String::from_utf8_lossy(json);
            let value = format::seal(&key, issued_at, &json);
            if value.len() > format::MAX_VALUE_LEN {
                // No cookie can be that long (the store refuses it at encode), so `open`
                // does not even decode it.
                assert_eq!(format::open(&ring, &value), Err(OpenError::TooLong));
                assert!(store.decode(&value, now()).is_none());
                return;
            }
            let o = format::open(&ring, &value).expect("what was sealed opens");
            assert_eq!(o.json, json);
            assert_eq!(o.issued_at, issued_at);
            let accepted = Data::from_json(Arc::from(&*json)).is_ok()
                && OffsetDateTime::from_unix_timestamp(issued_at).is_ok();
            let decoded = store.decode(&value, now());
            assert_eq!(decoded.is_some(), accepted, "{json:?} at {issued_at}");
            if let Some(c) = decoded {
                assert_eq!(c.issued_at.unix_timestamp(), issued_at);
            }
        }
        2 => {
            let [p0, p1, mask, plain @ ..] = rest else {
                return;
            };
            let sealed = format::seal(&key, 0, &String::from_utf8_lossy(plain));
            if sealed.len() > format::MAX_VALUE_LEN {
                return; // mode 1 covers values too long to open
            }
            let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).expect("our own base64");
            let pos = usize::from(u16::from_le_bytes([*p0, *p1])) % bytes.len();
            let mask = if *mask == 0 { 1 } else { *mask };
            bytes[pos] ^= mask;
            let err = format::open(&ring, &URL_SAFE_NO_PAD.encode(&bytes))
                .expect_err("a changed byte never opens");
            if pos == 0 {
                assert!(matches!(err, OpenError::UnknownVersion(_)), "{err}");
            } else if pos < 5 {
                assert!(matches!(err, OpenError::UnknownKey(_)), "{err}");
            } else {
                assert_eq!(err, OpenError::Forged);
            }
        }
        3 => {
            let [p0, p1, extra @ ..] = rest else {
                return;
            };
            let sealed = format::seal(&key, 0, r#"{"k":"v"}"#);
            let cut = usize::from(u16::from_le_bytes([*p0, *p1])) % sealed.len();
            assert!(format::open(&ring, &sealed[..cut]).is_err(), "cut at {cut}");
            assert!(
                format::open(&ring, &sealed[cut + 1..]).is_err(),
                "cut before {cut}"
            );
            if !extra.is_empty() {
                let longer = format!("{sealed}{}", String::from_utf8_lossy(extra));
                assert!(format::open(&ring, &longer).is_err(), "extended");
            }
        }
        _ => {
            let text = String::from_utf8_lossy(rest);
            if let Ok(parsed) = KeyRing::parse(&text) {
                assert!(!parsed.is_empty());
                let value = format::seal(parsed.primary(), 1, "{}");
                assert!(format::open(&parsed, &value).is_ok());
                if parsed.get(key.id()).is_none() {
                    assert!(matches!(
                        format::open(&ring, &value),
                        Err(OpenError::UnknownKey(_))
                    ));
                }
            }
        }
    }
}
