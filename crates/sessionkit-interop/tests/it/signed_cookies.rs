//! Django's `signed_cookies` engine.

use std::sync::Arc;

use sessionkit_core::Engine;
use sessionkit_django::{Secrets, SignedCookieStore};

use crate::django::Django;
use crate::scenarios::{Pair, config};

async fn pair() -> Option<Pair> {
    let dir = tempfile::tempdir().unwrap().keep();
    let django = Django::new("signed_cookies")?
        .with("SK_SQLITE_PATH", dir.join("auth.sqlite3").to_str().unwrap());
    django.call(&["migrate"]);
    let make = Arc::new(|secrets: &Secrets| {
        Engine::client_side(SignedCookieStore::new(secrets), config())
    });
    Some(Pair {
        django,
        make,
        client_side: true,
    })
}

crate::scenarios!();
