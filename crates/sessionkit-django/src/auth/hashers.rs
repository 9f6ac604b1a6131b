//! Django's password hashes (`django.contrib.auth.hashers`): checking a password against
//! the `auth_user.password` string, so that the Rust side can log users in itself.
//!
//! | Django hasher | stored form | here |
//! | --- | --- | --- |
//! | `PBKDF2PasswordHasher` (the default) | `pbkdf2_sha256$<iterations>$<salt>$<base64>` | checked and made ([`make_pbkdf2_sha256`]) |
//! | `PBKDF2SHA1PasswordHasher` | `pbkdf2_sha1$<iterations>$<salt>$<base64>` | checked |
//! | `Argon2PasswordHasher` | `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>` | checked (the `argon2` crate; argon2id, argon2i and argon2d) |
//! | `BCryptSHA256PasswordHasher` | `bcrypt_sha256$$2b$<cost>$<salt+hash>` | checked (the `bcrypt` crate, over the hex SHA-256 of the password, as Django) |
//! | `ScryptPasswordHasher` | `scrypt$<n>$<salt>$<r>$<p>$<base64>` | checked (the `scrypt` crate, 64-byte key) |
//! | `MD5PasswordHasher` and the other legacy ones | … | not covered: never matches |
//! | an unusable password (`set_unusable_password`) | `!…` | never matches, as in Django |
//!
//! PBKDF2 is computed here from the workspace's HMAC and SHA-2/SHA-1 crates; Argon2,
//! bcrypt and scrypt by the RustCrypto `argon2` and `scrypt` crates and the `bcrypt`
//! crate. Making hashes is left to Django except for PBKDF2 (tests and users created from
//! Rust): the Rust side checks whichever hasher Django used.
//!
//! The cost parameters come from the stored row, so each has a ceiling far above Django's
//! defaults ([`MAX_PBKDF2_ITERATIONS`], [`MAX_ARGON2_MEMORY_KIB`], [`MAX_ARGON2_PASSES`],
//! [`MAX_BCRYPT_COST`], [`MAX_SCRYPT_MEMORY`]): past it the login is refused with a
//! warning rather than computed, so a forged row cannot stall a worker or exhaust memory.

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

/// The most memory (KiB) an Argon2 hash may ask for: 1 GiB (Django's default is 102,400).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1 << 20;

/// The most passes (`t`) an Argon2 hash may ask for (Django's default is 2).
pub const MAX_ARGON2_PASSES: u32 = 64;

/// The highest bcrypt cost accepted (Django's default is 12; each step doubles the work).
pub const MAX_BCRYPT_COST: u32 = 16;

/// The most memory (`128 · n · r · p` bytes) an scrypt hash may ask for: 512 MiB (Django's
/// default, n = 2^14, r = 8, p = 5, needs 80 MiB in all, 16 MiB at a time).
pub const MAX_SCRYPT_MEMORY: u64 = 512 << 20;

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
        Some("argon2") => check_argon2(password, encoded),
        Some("bcrypt_sha256") => check_bcrypt_sha256(password, encoded),
        Some("scrypt") => check_scrypt(password, encoded),
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

/// Logs why a stored hash's cost is refused, and refuses it.
fn too_costly(algorithm: &str, what: &str) -> bool {
    tracing::warn!(
        algorithm,
        cost = what,
        "stored password hash asks for more work than allowed; the login is refused"
    );
    false
}

/// `argon2$<PHC string without its leading $>`: the parameters are read (and capped) first,
/// then the `argon2` crate verifies the PHC string.
fn check_argon2(password: &str, encoded: &str) -> bool {
    use argon2::password_hash::PasswordVerifier as _;
    let Some(phc) = encoded.strip_prefix("argon2") else {
        return false;
    };
    // $argon2id$v=19$m=102400,t=2,p=8$salt$hash: the parameter field is the fourth.
    let Some(params) = phc.split('$').nth(3) else {
        return false;
    };
    for (name, value) in params.split(',').filter_map(|kv| kv.split_once('=')) {
        let Ok(value) = value.parse::<u32>() else {
            return false;
        };
        let over = match name {
            "m" => value > MAX_ARGON2_MEMORY_KIB,
            "t" => value > MAX_ARGON2_PASSES,
            "p" => value > 255,
            _ => false,
        };
        if over {
            return too_costly("argon2", params);
        }
    }
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// `bcrypt_sha256$<bcrypt hash>`: bcrypt over the hex SHA-256 of the password (Django's
/// way round bcrypt's 72-byte limit).
fn check_bcrypt_sha256(password: &str, encoded: &str) -> bool {
    use sha2::Digest as _;
    let Some(hash) = encoded.strip_prefix("bcrypt_sha256$") else {
        return false;
    };
    // $2b$12$<22 salt + 31 hash>
    let Some(Ok(cost)) = hash.split('$').nth(2).map(str::parse::<u32>) else {
        return false;
    };
    if cost > MAX_BCRYPT_COST {
        return too_costly("bcrypt_sha256", &cost.to_string());
    }
    let hex: String = Sha256::digest(password.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    bcrypt::verify(hex, hash).unwrap_or(false)
}

/// `scrypt$<n>$<salt>$<r>$<p>$<base64 of a 64-byte key>`.
fn check_scrypt(password: &str, encoded: &str) -> bool {
    let parts: Vec<&str> = encoded.splitn(6, '$').collect();
    let [_, n, salt, r, p, hash] = parts[..] else {
        return false;
    };
    let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else {
        return false;
    };
    if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 {
        return false;
    }
    let memory = 128u64
        .saturating_mul(n)
        .saturating_mul(u64::from(r))
        .saturating_mul(u64::from(p));
    if memory > MAX_SCRYPT_MEMORY {
        return too_costly("scrypt", &format!("n={n},r={r},p={p}"));
    }
    let Ok(log_n) = u8::try_from(n.trailing_zeros()) else {
        return false;
    };
    let Ok(params) = scrypt::Params::new(log_n, r, p) else {
        return false;
    };
    let mut key = [0u8; 64];
    if scrypt::scrypt(password.as_bytes(), salt.as_bytes(), &params, &mut key).is_err() {
        return false;
    }
    bool::from(STANDARD.encode(key).as_bytes().ct_eq(hash.as_bytes()))
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
            "argon2$argon2id$v=19$m=4294967295,t=2,p=8$c2FsdA$aGFzaA",
            "argon2$argon2id$v=19$m=256,t=x,p=8$c2FsdA$aGFzaA",
            "argon2",
            "bcrypt_sha256$$2b$31$6yoLWXd8f9k9/HvW5wKtnO9OAAdndK/9TNd4tQ5pzJJom.qlGjl12",
            "bcrypt_sha256$garbage",
            "scrypt$1000$salt$8$1$aGFzaA==",
            "scrypt$1073741824$salt$8$1$aGFzaA==",
            "scrypt$1024$salt$0$1$aGFzaA==",
            "scrypt$1024$salt$8",
            "md5$salt$hash",
            "!abc",
        ] {
            assert!(!check_password("x", bad), "{bad}");
        }
    }

    /// Hashes made by Django 5.2's own hashers (argon2-cffi 25, bcrypt 4): each matches its
    /// password and nothing else.
    #[test]
    fn django_argon2_bcrypt_and_scrypt_hashes() {
        let password = "s3cret pässword";
        for stored in [
            // Argon2PasswordHasher with time_cost=1, memory_cost=256, parallelism=2.
            "argon2$argon2id$v=19$m=256,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$cD1g7zvxJUCCXYl4Y8NyGxUeZADytlPwUhDUsF9wwkQ",
            // BCryptSHA256PasswordHasher with rounds=4.
            "bcrypt_sha256$$2b$04$6yoLWXd8f9k9/HvW5wKtnO9OAAdndK/9TNd4tQ5pzJJom.qlGjl12",
            // ScryptPasswordHasher with n=1024, r=8, p=1.
            "scrypt$1024$somesalt$8$1$6CNY7J/hDhSoZA/GOHYnu1m5Zu52vwuiXkoor+tNPYpcnkPbK5watql5Fb96hz+Vl2DkpUBWVqchOV2FzGjAog==",
        ] {
            assert!(check_password(password, stored), "{stored}");
            assert!(!check_password("s3cret passwörd", stored), "{stored}");
            assert!(!check_password("", stored), "{stored}");
        }
    }

    /// Django's default costs (argon2 m=102400 t=2 p=8; bcrypt 12; scrypt n=2^14 r=8 p=5)
    /// are within the ceilings.
    #[test]
    fn django_default_costs_are_accepted() {
        let password = "s3cret pässword";
        for stored in [
            "argon2$argon2id$v=19$m=102400,t=2,p=8$c29tZXNhbHRzb21lc2FsdA$7ehkrqVddkP55Eo+rLw/uFw4JpoQUOTBRaoQjG76VwQ",
            "bcrypt_sha256$$2b$12$yjQs3vybQgZH.yYZ9/fHw.ER5DT8xTyQDAoMygkY3Fj/5k0pFNXgm",
            "scrypt$16384$somesalt$8$5$kj27n4wYvVBuwFEoNDDnJmZ5wAGrFHRU60NaFMS1mV83xAsBI+Vk73WsrMTjCENgujy/AeKE/lCAaM+Tgbo9Hg==",
        ] {
            assert!(check_password(password, stored), "{stored}");
        }
    }
}
