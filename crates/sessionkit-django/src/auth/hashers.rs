//! Django's password hashes (`django.contrib.auth.hashers`): checking a password against
//! the `auth_user.password` string, so that the Rust side can log users in itself.
//!
//! | Django hasher | stored form | here |
//! | --- | --- | --- |
//! | `PBKDF2PasswordHasher` (the default) | `pbkdf2_sha256$<iterations>$<salt>$<base64>` | checked and made ([`make_pbkdf2_sha256`]) |
//! | `PBKDF2SHA1PasswordHasher` | `pbkdf2_sha1$<iterations>$<salt>$<base64>` | checked |
//! | `Argon2PasswordHasher` | `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` | not covered: never matches |
//! | `BCryptSHA256PasswordHasher` | `bcrypt_sha256$$2b$…` | not covered: never matches |
//! | `ScryptPasswordHasher` | `scrypt$<salt>$<n>$<r>$<p>$<hash>` | not covered: never matches |
//! | `MD5PasswordHasher` and the other legacy ones | … | not covered: never matches |
//! | an unusable password (`set_unusable_password`) | `!…` | never matches, as in Django |
//!
//! PBKDF2 is computed here from the workspace's HMAC and SHA-2/SHA-1 crates. Argon2,
//! bcrypt and scrypt would each need a crate of their own; they are not dependencies yet,
//! so a user whose hash uses one of them cannot log in through the Rust side (a warning
//! names the algorithm) and keeps logging in through Django. A site that wants Rust-side
//! logins keeps Django's default hasher first in `PASSWORD_HASHERS` (Django re-hashes a
//! user's password with the first hasher at their next Django login).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The highest PBKDF2 iteration count accepted from a stored hash (Django 5.2 uses
/// 1,000,000; each later release raises it a little). A larger count is refused (no
/// match, plus a warning) rather than computed: a forged row cannot stall a worker.
pub const MAX_PBKDF2_ITERATIONS: u32 = 20_000_000;

/// The iteration count of Django 5.2's `PBKDF2PasswordHasher`.
pub const DJANGO_PBKDF2_ITERATIONS: u32 = 1_000_000;

/// The algorithm named by a stored hash: its text before the first `$` (`None` for an
/// unusable password or an empty string).
///
/// ```
/// use sessionkit_django::auth::hashers::algorithm;
/// assert_eq!(algorithm("pbkdf2_sha256$1000000$salt$hash"), Some("pbkdf2_sha256"));
/// assert_eq!(algorithm("!unusable"), None);
/// ```
pub fn algorithm(encoded: &str) -> Option<&str> {
    if encoded.starts_with('!') {
        return None;
    }
    encoded.split_once('$').map(|(alg, _)| alg)
}

/// Django's `check_password(password, encoded)`: whether `password` matches the stored
/// hash. An unusable password, a malformed hash or an algorithm this module does not
/// cover (see the table above) never matches. The final comparison is constant-time.
///
/// ```
/// use sessionkit_django::auth::hashers::{check_password, make_pbkdf2_sha256};
///
/// let stored = make_pbkdf2_sha256("s3cret", "somesalt", 1000);
/// assert!(check_password("s3cret", &stored));
/// assert!(!check_password("S3cret", &stored));
/// assert!(!check_password("s3cret", "!unusable"));
/// ```
pub fn check_password(password: &str, encoded: &str) -> bool {
    match algorithm(encoded) {
        Some("pbkdf2_sha256") => check_pbkdf2(password, encoded, pbkdf2_sha256),
        Some("pbkdf2_sha1") => check_pbkdf2(password, encoded, pbkdf2_sha1),
        Some(other) => {
            tracing::warn!(
                algorithm = other,
                "password hash algorithm not supported on the Rust side; the login is refused"
            );
            false
        }
        None => false,
    }
}

/// A `pbkdf2_sha256` hash in Django's stored form, for tests and for creating users from
/// Rust. `salt` must not contain `$` (Django's salts are alphanumeric).
pub fn make_pbkdf2_sha256(password: &str, salt: &str, iterations: u32) -> String {
    let dk = pbkdf2_sha256(password.as_bytes(), salt.as_bytes(), iterations);
    format!("pbkdf2_sha256${iterations}${salt}${}", STANDARD.encode(dk))
}

/// PBKDF2-HMAC with the derived key one hash output long (Django's default `dklen`):
/// one function per digest, the keyed HMAC state cloned for each iteration.
macro_rules! pbkdf2_one_block {
    ($name:ident, $digest:ty) => {
        fn $name(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
            let Ok(keyed) = <Hmac<$digest> as KeyInit>::new_from_slice(password) else {
                return Vec::new();
            };
            let mut mac = keyed.clone();
            mac.update(salt);
            mac.update(&1u32.to_be_bytes());
            let mut u = mac.finalize().into_bytes();
            let mut out = u.to_vec();
            for _ in 1..iterations {
                let mut mac = keyed.clone();
                mac.update(&u);
                u = mac.finalize().into_bytes();
                for (o, b) in out.iter_mut().zip(u.iter()) {
                    *o ^= b;
                }
            }
            out
        }
    };
}

pbkdf2_one_block!(pbkdf2_sha256, Sha256);
pbkdf2_one_block!(pbkdf2_sha1, Sha1);

fn check_pbkdf2(password: &str, encoded: &str, derive: fn(&[u8], &[u8], u32) -> Vec<u8>) -> bool {
    let mut parts = encoded.splitn(4, '$');
    let (Some(_), Some(iterations), Some(salt), Some(hash)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        tracing::warn!(
            iterations,
            "stored PBKDF2 iteration count out of range; the login is refused"
        );
        return false;
    }
    let computed = STANDARD.encode(derive(password.as_bytes(), salt.as_bytes(), iterations));
    bool::from(computed.as_bytes().ct_eq(hash.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pbkdf2_sha256_matches_the_rfc_7914_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, first 32 bytes.
        let dk = pbkdf2_sha256(b"passwd", b"salt", 1);
        assert_eq!(dk[..8], [0x55, 0xac, 0x04, 0x6e, 0x56, 0xe3, 0x08, 0x9f]);
    }

    #[test]
    fn django_vector() {
        // Django 5.2: make_password("sk-password", "anchorsalt", PBKDF2PasswordHasher with
        // iterations=1000).
        let stored = make_pbkdf2_sha256("sk-password", "anchorsalt", 1000);
        assert!(stored.starts_with("pbkdf2_sha256$1000$anchorsalt$"));
        assert!(check_password("sk-password", &stored));
        assert!(!check_password("sk-passwor", &stored));
    }

    #[test]
    fn malformed_hashes_never_match() {
        for bad in [
            "",
            "pbkdf2_sha256",
            "pbkdf2_sha256$x$salt$hash",
            "pbkdf2_sha256$0$salt$hash",
            "pbkdf2_sha256$4000000000$salt$hash",
            "pbkdf2_sha256$1000$salt",
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA",
            "md5$salt$hash",
            "!abc",
        ] {
            assert!(!check_password("x", bad), "{bad}");
        }
    }
}
