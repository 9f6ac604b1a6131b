//! [`EncryptedCookieStore`]: the session sealed in the cookie value.

use std::fmt;
use std::sync::Arc;

use sessionkit_core::{ClientStore, CookieContents, Data, StoreError};
use time::OffsetDateTime;

use crate::format::{self, OpenError};
use crate::key::KeyRing;

/// A [`ClientStore`] keeping the whole session in the cookie, encrypted and authenticated
/// with XChaCha20-Poly1305 under the first key of its [`KeyRing`] and read under any of
/// them ([`crate::format`] describes the bytes).
///
/// Reading never fails loudly: a value that is not one of ours, altered, cut, or sealed
/// under a key no longer in the ring is no session, with a log line saying which (the key
/// id for an unknown key; never key material). A session whose cookie (`name=value`, with
/// the configured name) would exceed 4096 bytes fails its request: the engine applies
/// that rule ([`check_cookie_size`](sessionkit_core::store::check_cookie_size)).
#[derive(Clone)]
pub struct EncryptedCookieStore {
    ring: Arc<KeyRing>,
}

impl fmt::Debug for EncryptedCookieStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedCookieStore")
            .field("key_ids", &self.ring.ids())
            .finish()
    }
}

impl EncryptedCookieStore {
    /// A store sealing under `ring`'s first key.
    pub fn new(ring: KeyRing) -> EncryptedCookieStore {
        EncryptedCookieStore {
            ring: Arc::new(ring),
        }
    }

    /// The key ring.
    pub fn key_ring(&self) -> &KeyRing {
        &self.ring
    }
}

impl ClientStore for EncryptedCookieStore {
    fn decode(&self, cookie_value: &str, _now: OffsetDateTime) -> Option<CookieContents> {
        let opened = match format::open(&self.ring, cookie_value) {
            Ok(opened) => opened,
            Err(OpenError::UnknownKey(id)) => {
                tracing::warn!(
                    key_id = %id,
                    "encrypted session cookie sealed under a key no longer in the key ring: no session"
                );
                return None;
            }
            Err(OpenError::Forged) => {
                tracing::warn!(
                    "Session data corrupted (encrypted session cookie failed authentication)"
                );
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "not an encrypted session cookie: no session");
                return None;
            }
        };
        let Ok(issued_at) = OffsetDateTime::from_unix_timestamp(opened.issued_at) else {
            tracing::warn!("encrypted session cookie with an issue time out of range");
            return None;
        };
        match Data::from_json(Arc::from(opened.json)) {
            Ok(data) => Some(CookieContents { data, issued_at }),
            Err(e) => {
                tracing::warn!(error = %e, "encrypted session cookie does not hold a JSON object");
                None
            }
        }
    }

    fn encode(&self, data: &Data, now: OffsetDateTime) -> Result<String, StoreError> {
        Ok(format::seal(
            self.ring.primary(),
            now.unix_timestamp(),
            &data.to_json(),
        ))
    }

    fn describe(&self) -> String {
        "encrypted-cookie://".to_owned()
    }
}
