//! `--store encrypted-cookie://`: keys from `--cookie-key-file` or `SESSIONKIT_COOKIE_KEYS`,
//! refused at startup when missing, short or malformed (without showing them), rotated
//! without logging anyone out.

use crate::http::Jar;
use crate::serve::{free_port, run_with, serve_with};

const OLD: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

fn serve_err(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec!["serve", "--store", "encrypted-cookie://"];
    all.extend_from_slice(args);
    let (code, _, err) = run_with(&all, dir, env);
    assert_ne!(code, 0, "{err}");
    err
}

#[test]
fn bad_or_missing_keys_are_refused_at_startup_without_showing_them() {
    let dir = tempfile::tempdir().unwrap();
    let err = serve_err(dir.path(), &[], &[]);
    assert!(
        err.contains("--cookie-key-file") && err.contains("SESSIONKIT_COOKIE_KEYS"),
        "{err}"
    );

    // 31 bytes, from the environment: the second key.
    let short = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==";
    let err = serve_err(
        dir.path(),
        &[],
        &[("SESSIONKIT_COOKIE_KEYS", &format!("{NEW},{short}"))],
    );
    assert!(err.contains("SESSIONKIT_COOKIE_KEYS"), "{err}");
    assert!(err.contains("#2") && err.contains("31 bytes"), "{err}");
    assert!(
        !err.contains("AAECAwQF") && !err.contains("ICEiIyQl"),
        "{err}"
    );

    // Not base64, from a file.
    let file = dir.path().join("keys");
    std::fs::write(&file, "# the cookie keys\nthis-is-a-password-not-a-key!\n").unwrap();
    let err = serve_err(
        dir.path(),
        &["--cookie-key-file", file.to_str().unwrap()],
        &[],
    );
    assert!(
        err.contains("not valid base64") && err.contains("#1"),
        "{err}"
    );
    assert!(err.contains("keys"), "names the file: {err}");
    assert!(!err.contains("password"), "{err}");

    // A password that happens to be base64 of another length.
    let err = serve_err(dir.path(), &[], &[("SESSIONKIT_COOKIE_KEYS", "hunter22")]);
    assert!(
        err.contains("6 bytes") && err.contains("exactly 32"),
        "{err}"
    );
    assert!(!err.contains("hunter"), "{err}");

    // The same key twice.
    let err = serve_err(
        dir.path(),
        &[],
        &[("SESSIONKIT_COOKIE_KEYS", &format!("{OLD},{OLD}"))],
    );
    assert!(err.contains("same key"), "{err}");
}

#[test]
fn keys_rotate_without_logging_anyone_out() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys");
    std::fs::write(&file, format!("{OLD}\n")).unwrap();
    let file_arg = ["--cookie-key-file", file.to_str().unwrap()];
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let store = Some("encrypted-cookie://");
    let mut jar = Jar::default();
    let mut untouched = Jar::default();
    {
        let _s = serve_with(dir.path(), port, store, &file_arg, &[]);
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 1");
        assert_eq!(untouched.get(&addr, "/").body, "Visit count: 1");
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 2");
    }
    let cookie = jar.0.clone().unwrap();
    assert!(!cookie.contains("count"), "encrypted: {cookie}");
    {
        // A new key first, the old one kept (from the environment this time).
        let env = [("SESSIONKIT_COOKIE_KEYS", &*format!("{NEW},{OLD}"))];
        let _s = serve_with(dir.path(), port, store, &[], &env);
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 3");
        let value = cookie.split_once('=').unwrap().1;
        let (code, out, err) = run_with(
            &["inspect", "--store", "encrypted-cookie://", value],
            dir.path(),
            &env,
        );
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(r#""count":2"#), "{out}");
    }
    {
        // The old key removed: the session re-sealed under the new key lives on, the one
        // that was not touched during the rotation is gone.
        let env = [("SESSIONKIT_COOKIE_KEYS", NEW)];
        let _s = serve_with(dir.path(), port, store, &[], &env);
        assert_eq!(jar.get(&addr, "/").body, "Visit count: 4");
        assert_eq!(untouched.get(&addr, "/").body, "Visit count: 1");
        let (code, _, err) = run_with(
            &["revoke", "--store", "encrypted-cookie://", "--user", "x"],
            dir.path(),
            &env,
        );
        assert_ne!(code, 0);
        assert!(err.contains("encrypted-cookie://"), "{err}");
    }
}
