//! Unreadable Django-layout records through the engine (docs/SECURITY.md, "Stored data"):
//! a bad signature, a zlib bomb, truncated or invalid JSON and a non-object behind a
//! valid signature, bad framing. Each is "no session" plus a warning, and the file is
//! left byte for byte as it was; a write then starts a new session under a new key.

use std::time::{Duration, Instant};

use sessionkit_core::{Config, Engine, SessionKey};
use sessionkit_django::session;
use sessionkit_django::signing::{Secrets, Signer, b62_encode, b64_encode, zlib_compress};
use sessionkit_file::DjangoFileStore;
use sessionkit_testkit::logs::Logs;
use time::OffsetDateTime;

const SECRET: &str = "bad-data-secret-key";

/// Signs `value` (`payload:timestamp`) as the store's signer would.
fn signed(value: &str) -> String {
    session::signer(&Secrets::new(SECRET)).sign(value)
}

fn now_b62() -> String {
    b62_encode(OffsetDateTime::now_utc().unix_timestamp())
}

fn contents() -> Vec<(String, &'static str)> {
    let ts = now_b62();
    let other = Signer::new(&Secrets::new("someone-elses-key"), session::SESSION_SALT);
    let bomb = zlib_compress(format!("{{\"a\":\"{}\"}}", "0".repeat(8 << 20)).as_bytes()).unwrap();
    vec![
        (
            other.dumps(r#"{"count":1}"#, true, OffsetDateTime::now_utc()),
            "signed with another key",
        ),
        (
            {
                let good = signed(&format!("{}:{ts}", b64_encode(br#"{"count":1}"#)));
                let mut bad: Vec<char> = good.chars().collect();
                let last = bad.len() - 1;
                bad[last] = if bad[last] == 'A' { 'B' } else { 'A' };
                bad.into_iter().collect()
            },
            "one character of the signature changed",
        ),
        (
            signed(&format!(".{}:{ts}", b64_encode(&bomb))),
            "a zlib bomb (8 MiB from 8 KiB) behind a valid signature",
        ),
        (
            signed(&format!("{}:{ts}", b64_encode(br#"{"count":1,"fav"#))),
            "truncated JSON",
        ),
        (
            signed(&format!("{}:{ts}", b64_encode(b"{count:1}"))),
            "invalid JSON",
        ),
        (
            signed(&format!("{}:{ts}", b64_encode(b"[1,2]"))),
            "a list, not a dict",
        ),
        (
            signed(&format!(".{}:{ts}", b64_encode(b"\x78\x9c\x01\x02"))),
            "a corrupt zlib stream",
        ),
        (signed(&format!("!!!:{ts}")), "invalid base64"),
        (signed("e30:not-a-timestamp!"), "a bad timestamp"),
        ("no signature at all".to_owned(), "no signature"),
    ]
}

#[tokio::test]
async fn unreadable_django_files_are_no_session_and_stay_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = Secrets::new(SECRET);
    let store = DjangoFileStore::open(dir.path(), &secrets).unwrap();
    let engine = Engine::new(store, Config::default());
    for (content, what) in contents() {
        let key = SessionKey::generate();
        let path = dir.path().join(format!("sessionid{}", key.as_str()));
        std::fs::write(&path, &content).unwrap();
        let cookie = format!("sessionid={}", key.as_str());
        let logs = Logs::mark();

        let started = Instant::now();
        let req = engine.begin(Some(&cookie));
        let session = req.load().await.unwrap();
        assert!(session.is_empty(), "{what}: no session");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: took {:?}",
            started.elapsed()
        );
        let out = req.finish(200).await;
        assert!(out.failure.is_none(), "{what}");
        assert!(
            logs.lines("WARN")
                .iter()
                .any(|l| l.contains("unreadable Django session file")),
            "{what}: a warning: {}",
            logs.text()
        );
        assert!(
            !logs.text().contains(key.as_str()),
            "{what}: the key is never logged"
        );

        // A write starts a new session elsewhere; the file is left as it was.
        let req = engine.begin(Some(&cookie));
        req.load().await.unwrap().insert("count", 1).unwrap();
        let out = req.finish(200).await;
        assert!(out.failure.is_none(), "{what}");
        assert!(
            !out.set_cookie[0].starts_with(&cookie),
            "{what}: never the stored key"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            content,
            "{what}: left for inspection"
        );
    }
}
