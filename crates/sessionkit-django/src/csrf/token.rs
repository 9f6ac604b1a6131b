//! Django's masked tokens: `_mask_cipher_secret`, `_unmask_cipher_token`,
//! `_check_token_format`, `_does_token_match`.

use subtle::ConstantTimeEq;

use super::{CSRF_ALLOWED_CHARS, CSRF_SECRET_LENGTH, new_secret};

/// The length of a masked token (`CSRF_TOKEN_LENGTH`): mask then cipher.
pub const CSRF_TOKEN_LENGTH: usize = 2 * CSRF_SECRET_LENGTH;

fn index(b: u8) -> Option<usize> {
    CSRF_ALLOWED_CHARS.iter().position(|&c| c == b)
}

/// Django's `_mask_cipher_secret(secret)` with a given 32-character `mask`: the mask,
/// then each secret character shifted by the mask's (mod 62). `None` when either is not
/// 32 characters of [`CSRF_ALLOWED_CHARS`].
///
/// ```
/// use sessionkit_django::csrf::{mask_with, unmask};
///
/// let secret = "abcdefghijklmnopqrstuvwxyzABCDEF";
/// let token = mask_with(secret, "11111111111111111111111111111111").unwrap();
/// assert_eq!(token.len(), 64);
/// assert_eq!(unmask(&token).as_deref(), Some(secret));
/// ```
pub fn mask_with(secret: &str, mask: &str) -> Option<String> {
    if secret.len() != CSRF_SECRET_LENGTH || mask.len() != CSRF_SECRET_LENGTH {
        return None;
    }
    let n = CSRF_ALLOWED_CHARS.len();
    let mut out = String::with_capacity(CSRF_TOKEN_LENGTH);
    out.push_str(mask);
    for (s, m) in secret.bytes().zip(mask.bytes()) {
        let (s, m) = (index(s)?, index(m)?);
        out.push(char::from(CSRF_ALLOWED_CHARS[(s + m) % n]));
    }
    Some(out)
}

/// Django's `_mask_cipher_secret(secret)`: a fresh 64-character token for the secret (a
/// new random mask each time, so the page's token says nothing about the secret: BREACH).
/// `None` for a secret that is not 32 characters of [`CSRF_ALLOWED_CHARS`].
pub fn mask(secret: &str) -> Option<String> {
    mask_with(secret, &new_secret())
}

/// Django's `_unmask_cipher_token(token)`: the secret a 64-character token carries.
/// `None` for a token that is not 64 characters of [`CSRF_ALLOWED_CHARS`].
pub fn unmask(token: &str) -> Option<String> {
    if token.len() != CSRF_TOKEN_LENGTH {
        return None;
    }
    let (mask, cipher) = token.split_at(CSRF_SECRET_LENGTH);
    let n = CSRF_ALLOWED_CHARS.len();
    cipher
        .bytes()
        .zip(mask.bytes())
        .map(|(c, m)| {
            Some(char::from(
                CSRF_ALLOWED_CHARS[(index(c)? + n - index(m)?) % n],
            ))
        })
        .collect()
}

/// Why a token's form was refused (`InvalidTokenFormat`), in Django's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// Neither 32 nor 64 characters: `"has incorrect length"`.
    IncorrectLength,
    /// A character outside `[A-Za-z0-9]`: `"has invalid characters"`.
    InvalidCharacters,
}

impl TokenFormat {
    /// Django's wording (`REASON_INCORRECT_LENGTH`, `REASON_INVALID_CHARACTERS`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::IncorrectLength => "has incorrect length",
            TokenFormat::InvalidCharacters => "has invalid characters",
        }
    }
}

/// Django's `_check_token_format`: 32 (a bare secret) or 64 (masked) characters of
/// [`CSRF_ALLOWED_CHARS`].
pub fn check_token_format(token: &str) -> Result<(), TokenFormat> {
    if token.len() != CSRF_TOKEN_LENGTH && token.len() != CSRF_SECRET_LENGTH {
        return Err(TokenFormat::IncorrectLength);
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(TokenFormat::InvalidCharacters);
    }
    Ok(())
}

/// Django's `_does_token_match`: the token (masked or bare) unmasks to `secret`, compared
/// in constant time. `false` for a token of another form.
///
/// ```
/// use sessionkit_django::csrf::{mask, new_secret, token_matches};
///
/// let secret = new_secret();
/// assert!(token_matches(&mask(&secret).unwrap(), &secret));
/// assert!(token_matches(&secret, &secret));
/// assert!(!token_matches(&mask(&new_secret()).unwrap(), &secret));
/// ```
pub fn token_matches(token: &str, secret: &str) -> bool {
    if check_token_format(token).is_err() {
        return false;
    }
    let unmasked = if token.len() == CSRF_TOKEN_LENGTH {
        match unmask(token) {
            Some(s) => s,
            None => return false,
        }
    } else {
        token.to_owned()
    };
    unmasked.len() == secret.len() && bool::from(unmasked.as_bytes().ct_eq(secret.as_bytes()))
}
