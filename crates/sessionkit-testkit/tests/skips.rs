//! Issue 15 (item 2): a skip never hides inside "passed". `require` fails under
//! `SESSIONKIT_REQUIRE_SERVICES=1` unless the service is declared unavailable, and every
//! skip lands in the skip log that `scripts/test` counts.
//!
//! The environment is the thing under test, so each case runs this binary again with
//! its own environment and only the probe test selected.

use std::path::Path;
use std::process::{Command, Output};

/// The probe: a test that needs a service that is never there. Does nothing unless run
/// by the cases below.
#[test]
fn probe_require() {
    let Ok(what) = std::env::var("SK_TESTKIT_PROBE") else {
        return;
    };
    let got = sessionkit_testkit::require::<()>(&what, Err("nothing listens on port 1".into()));
    assert!(got.is_none());
}

fn probe(what: &str, env: &[(&str, &str)], log: &Path) -> Output {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "probe_require",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("SK_TESTKIT_PROBE", what)
    .env("SESSIONKIT_SKIP_LOG", log)
    .env_remove("SESSIONKIT_REQUIRE_SERVICES")
    .env_remove("SESSIONKIT_UNAVAILABLE_SERVICES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn issue_15_a_skip_is_printed_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    let out = probe("Memcached (memcached://127.0.0.1:1)", &[], &log);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SKIP: Memcached (memcached://127.0.0.1:1) unavailable"),
        "{stderr}"
    );
    let logged = lines(&log);
    assert_eq!(logged.len(), 1, "{logged:?}");
    let fields: Vec<&str> = logged[0].split('\t').collect();
    assert_eq!(fields.len(), 3, "{fields:?}");
    assert_eq!(fields[0], "Memcached");
    assert!(fields[1].ends_with("probe_require"), "{fields:?}");
    assert_eq!(fields[2], "nothing listens on port 1");
    // A second skip is appended, not written over the first.
    assert!(probe("Redis Cluster", &[], &log).status.success());
    assert_eq!(lines(&log).len(), 2);
}

#[test]
fn issue_15_required_services_fail_and_log_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    let out = probe(
        "Redis Cluster",
        &[("SESSIONKIT_REQUIRE_SERVICES", "1")],
        &log,
    );
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("Redis Cluster is required (SESSIONKIT_REQUIRE_SERVICES=1) but unavailable"),
        "{stderr}"
    );
    assert!(lines(&log).is_empty());
}

#[test]
fn issue_15_only_a_declared_unavailable_service_skips_when_required() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    let declared = [
        ("SESSIONKIT_REQUIRE_SERVICES", "1"),
        (
            "SESSIONKIT_UNAVAILABLE_SERVICES",
            "django 6.1, Chromium and ChromeDriver",
        ),
    ];
    // Declared (case and the detail in parentheses do not matter): a logged skip.
    let out = probe("Django 6.1 (target/django-6.1)", &declared, &log);
    assert!(out.status.success(), "{out:?}");
    assert!(
        probe("Chromium and ChromeDriver", &declared, &log)
            .status
            .success()
    );
    let logged = lines(&log);
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert!(logged[0].starts_with("Django 6.1\t"), "{logged:?}");
    // Not declared: still a failure — another Django version, or a name that only
    // begins like a declared one.
    for what in ["Django 6.0 (target/django-6.0)", "Django 6", "Chromium"] {
        assert!(!probe(what, &declared, &log).status.success(), "{what}");
    }
    assert_eq!(lines(&log).len(), 2);
}

/// `.ci/skip-summary.sh`, the closing lines of `scripts/test`: one count per service, a
/// test that skipped twice counted once, services that could not be brought up named even
/// when no test needed them; exit status 3 when any test skipped.
#[test]
fn issue_15_the_test_command_counts_skips_per_service() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/skip-summary.sh");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    let summary = |args: &[&str]| {
        let out = Command::new("bash")
            .arg(&script)
            .arg(&log)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };

    std::fs::write(&log, "").unwrap();
    let (code, text) = summary(&[]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        text,
        "skipped: 0 tests (every service the tests use was up)\n"
    );

    std::fs::write(
        &log,
        "Redis Cluster\tit a\tnot set\n\
         Redis Cluster\tit a\tnot set\n\
         Redis Cluster\tit b\tnot set\n\
         Django 6.1\tit c\tno venv\n",
    )
    .unwrap();
    let (code, text) = summary(&["Chromium and ChromeDriver=apt-get failed"]);
    assert_eq!(code, Some(3), "{text}");
    assert_eq!(
        text,
        "skipped: 3 test(s), for services that are not available on this machine:\n  \
         Chromium and ChromeDriver: 0 test(s) skipped — apt-get failed\n  \
         Django 6.1: 1 test(s) skipped — no venv\n  \
         Redis Cluster: 2 test(s) skipped — not set\n"
    );
}
