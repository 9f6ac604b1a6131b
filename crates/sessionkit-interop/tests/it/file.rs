//! Django's `file` engine.

use std::sync::Arc;

use sessionkit_core::Engine;
use sessionkit_django::Secrets;
use sessionkit_file::DjangoFileStore;

use crate::django::Django;
use crate::scenarios::{Pair, config};

async fn pair() -> Option<Pair> {
    let dir = tempfile::tempdir().unwrap().keep();
    let sessions = dir.join("sessions");
    std::fs::create_dir(&sessions).unwrap();
    let django = Django::new("file")?
        .with("SK_FILE_PATH", sessions.to_str().unwrap())
        .with("SK_SQLITE_PATH", dir.join("auth.sqlite3").to_str().unwrap());
    django.call(&["migrate"]);
    let make = Arc::new(move |secrets: &Secrets| {
        Engine::new(DjangoFileStore::open(&sessions, secrets).unwrap(), config())
    });
    Some(Pair {
        django,
        make,
        client_side: false,
    })
}

crate::scenarios!();
