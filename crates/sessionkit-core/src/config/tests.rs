//! Settings: Django's defaults, what `build()` refuses, the extremes.

use super::*;

#[test]
fn defaults_are_djangos() {
    let c = Config::default();
    assert_eq!(c.cookie_name(), "sessionid");
    assert_eq!(c.cookie_age(), 1_209_600);
    assert_eq!(c.cookie_path(), "/");
    assert_eq!(c.cookie_domain(), None);
    assert!(!c.cookie_secure());
    assert!(c.cookie_httponly());
    assert_eq!(c.cookie_samesite(), Some(SameSite::Lax));
    assert!(!c.save_every_request());
    assert!(!c.expire_at_browser_close());
    assert!(!c.cookie_partitioned());
    assert_eq!(c.idle_timeout(), None);
    assert_eq!(c.absolute_timeout(), None);
    assert!(Config::builder().build().is_ok());
}

#[test]
fn unsafe_combinations_are_refused() {
    let cases: Vec<(ConfigBuilder, &str)> = vec![
        (
            Config::builder().cookie_samesite(Some(SameSite::None)),
            "cookie_secure",
        ),
        (Config::builder().cookie_partitioned(true), "cookie_secure"),
        (Config::builder().cookie_name("__Secure-s"), "cookie_secure"),
        (
            Config::builder()
                .cookie_name("__Host-s")
                .cookie_secure(true)
                .cookie_domain("a.b"),
            "cookie_domain",
        ),
        (
            Config::builder()
                .cookie_name("__Host-s")
                .cookie_secure(true)
                .cookie_path("/x"),
            "cookie_path",
        ),
        (Config::builder().cookie_name("a b"), "cookie_name"),
        (Config::builder().cookie_name(""), "cookie_name"),
        (Config::builder().cookie_name("a;b"), "cookie_name"),
        (Config::builder().cookie_path("x"), "cookie_path"),
        (Config::builder().cookie_path("/a;b"), "cookie_path"),
        (Config::builder().cookie_domain("a;b"), "cookie_domain"),
        (Config::builder().cookie_age(0), "cookie_age"),
        (
            Config::builder().load_timeout(Duration::ZERO),
            "load_timeout",
        ),
        (Config::builder().max_save_attempts(0), "max_save_attempts"),
        (
            Config::builder()
                .idle_timeout(Duration::from_secs(10))
                .absolute_timeout(Duration::from_secs(5)),
            "idle_timeout",
        ),
    ];
    for (b, setting) in cases {
        let err = b.clone().build().unwrap_err();
        assert_eq!(err.setting(), setting, "{b:?}");
        assert!(err.to_string().contains(setting));
    }
    assert!(
        Config::builder()
            .cookie_name("__Host-s")
            .cookie_secure(true)
            .cookie_samesite(Some(SameSite::None))
            .cookie_partitioned(true)
            .build()
            .is_ok()
    );
}

/// Issue 13, bugs 1 and 2: settings whose sums with a date cannot be represented are
/// refused at build time (they used to kill every session at once, or panic on the
/// first save).
#[test]
fn regression_13_extreme_durations_are_refused() {
    for (b, setting) in [
        (Config::builder().cookie_age(i64::MAX), "cookie_age"),
        (Config::builder().cookie_age(i64::MIN), "cookie_age"),
        (Config::builder().cookie_age(-1), "cookie_age"),
        (
            Config::builder().idle_timeout(Duration::MAX),
            "idle_timeout",
        ),
        (
            Config::builder().absolute_timeout(Duration::MAX),
            "absolute_timeout",
        ),
        (
            Config::builder().touch_interval(Duration::MAX),
            "touch_interval",
        ),
        (
            Config::builder().load_timeout(Duration::MAX),
            "load_timeout",
        ),
        (Config::builder().retry_after(Duration::MAX), "retry_after"),
        (
            Config::builder().rotation_grace(Duration::MAX),
            "rotation_grace",
        ),
    ] {
        let err = b.build().unwrap_err();
        assert_eq!(err.setting(), setting);
    }
    // The longest allowed values build.
    let longest = LONGEST;
    let c = Config::builder()
        .cookie_age(i64::try_from(longest.as_secs()).unwrap())
        .idle_timeout(longest)
        .absolute_timeout(longest)
        .build()
        .unwrap();
    assert_eq!(c.idle_timeout(), Some(longest));
}

#[test]
fn retry_after_is_whole_seconds_at_least_one() {
    let secs = |d| {
        Config::builder()
            .retry_after(d)
            .build()
            .unwrap()
            .retry_after_secs()
    };
    assert_eq!(secs(Duration::ZERO), 1);
    assert_eq!(secs(Duration::from_millis(1)), 1);
    assert_eq!(secs(Duration::from_secs(2)), 2);
    assert_eq!(secs(Duration::from_millis(2001)), 3);
}

#[test]
fn session_headers_must_be_header_names() {
    for bad in [
        "",
        "X Session",
        "Cookie",
        "set-cookie",
        "X-Id;",
        "Vary",
        // Set by a cross-site page without a CORS preflight.
        "Accept",
        "accept-language",
        "Content-Language",
        "Content-Type",
    ] {
        let err = Config::builder()
            .transport(Transport::Header(bad.to_owned()))
            .build()
            .unwrap_err();
        assert_eq!(err.setting(), "transport", "{bad:?}");
    }
    let c = Config::builder()
        .transport(Transport::Both("X-Session-Id".to_owned()))
        .build()
        .unwrap();
    assert!(c.uses_cookie());
    assert_eq!(c.session_header(), Some("X-Session-Id"));
    assert!(Config::default().uses_cookie());
    assert_eq!(Config::default().session_header(), None);
}

#[test]
fn samesite_parse() {
    assert_eq!(SameSite::parse("strict").unwrap(), Some(SameSite::Strict));
    assert_eq!(SameSite::parse("False").unwrap(), None);
    assert_eq!(
        SameSite::parse("bogus").unwrap_err().setting(),
        "cookie_samesite"
    );
}
