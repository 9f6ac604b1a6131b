//! Django's secret key and the encrypted cookie store's keys for the command line: from a
//! file or the environment, never from a bare argument (it would show in `ps` and shell
//! history), never printed.

use std::path::Path;

use anyhow::{Context, bail};
use sessionkit_django::Secrets;
use sessionkit_encrypted_cookie::KeyRing;

/// The environment variable holding the secret key.
pub const SECRET_ENV: &str = "SESSIONKIT_SECRET_KEY";
/// The environment variable holding fallback keys (comma-separated, or a JSON list of
/// strings when keys contain commas).
pub const FALLBACKS_ENV: &str = "SESSIONKIT_SECRET_KEY_FALLBACKS";

/// Reads the secret key from `file` (trailing newlines removed) or `SESSIONKIT_SECRET_KEY`,
/// and the fallbacks from `SESSIONKIT_SECRET_KEY_FALLBACKS`. `None` when neither source is
/// set.
pub fn load(file: Option<&Path>) -> anyhow::Result<Option<Secrets>> {
    let current = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the secret key file {}", path.display()))?;
            Some(text.trim_end_matches(['\n', '\r']).to_owned())
        }
        None => std::env::var(SECRET_ENV).ok(),
    };
    let Some(current) = current else {
        return Ok(None);
    };
    if current.is_empty() {
        bail!(
            "the secret key is empty ({})",
            file.map_or_else(|| SECRET_ENV.to_owned(), |p| p.display().to_string())
        );
    }
    let mut secrets = Secrets::new(current);
    if let Ok(list) = std::env::var(FALLBACKS_ENV) {
        secrets = secrets.with_fallbacks(parse_fallbacks(&list)?);
    }
    Ok(Some(secrets))
}

/// The environment variable holding the encrypted cookie store's keys (base64, comma-separated,
/// the first one encrypting).
pub const COOKIE_KEYS_ENV: &str = "SESSIONKIT_COOKIE_KEYS";

/// Reads the encrypted cookie store's key ring from `file` (keys separated by line breaks or
/// commas; `#` starts a comment line) or `SESSIONKIT_COOKIE_KEYS`. `None` when neither is
/// set. A short, long or malformed key is refused with a message naming the source and the
/// key's position, never its characters.
pub fn load_cookie_keys(file: Option<&Path>) -> anyhow::Result<Option<KeyRing>> {
    let (text, source) = match file {
        Some(path) => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the cookie key file {}", path.display()))?,
            path.display().to_string(),
        ),
        None => match std::env::var(COOKIE_KEYS_ENV) {
            Ok(text) => (text, COOKIE_KEYS_ENV.to_owned()),
            Err(_) => return Ok(None),
        },
    };
    KeyRing::parse(&text)
        .map(Some)
        .with_context(|| format!("invalid cookie keys in {source}"))
}

fn parse_fallbacks(list: &str) -> anyhow::Result<Vec<String>> {
    let list = list.trim();
    if list.starts_with('[') {
        let sessionkit_core::Value::List(items) = sessionkit_core::json::parse(list)
            .map_err(|e| anyhow::anyhow!("{FALLBACKS_ENV} is not a valid JSON list: {e}"))?
        else {
            bail!("{FALLBACKS_ENV} must be a JSON list of strings");
        };
        items
            .into_iter()
            .map(|v| match v {
                sessionkit_core::Value::String(s) if !s.is_empty() => Ok(s),
                _ => bail!("{FALLBACKS_ENV} must be a JSON list of non-empty strings"),
            })
            .collect()
    } else {
        Ok(list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallbacks_forms() {
        assert_eq!(parse_fallbacks("a, b,,c").unwrap(), ["a", "b", "c"]);
        assert_eq!(parse_fallbacks(r#"["x,y", "z"]"#).unwrap(), ["x,y", "z"]);
        assert!(parse_fallbacks("[1]").is_err());
        assert!(parse_fallbacks("[").is_err());
    }
}
