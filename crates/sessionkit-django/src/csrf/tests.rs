//! Django's mask and rules; the token vector was rendered by Django 5.2's
//! `{% csrf_token %}` under `CSRF_USE_SESSIONS` (the driver's `csrf-form`).

use super::*;

const DJANGO_SECRET: &str = "F7ivF0MsnTeTeXvweEuer3O74WmuXyMe";
const DJANGO_TOKEN: &str = "Ut9jObTROwNtXe7sDfUTkw7I75t6Q2ZGpqhEj1v91fRc11sOHJeXBpLF1RFqDqBK";

#[test]
fn djangos_token_unmasks_to_its_secret() {
    assert_eq!(unmask(DJANGO_TOKEN).as_deref(), Some(DJANGO_SECRET));
    assert_eq!(
        mask_with(DJANGO_SECRET, &DJANGO_TOKEN[..32]).as_deref(),
        Some(DJANGO_TOKEN)
    );
    assert!(token_matches(DJANGO_TOKEN, DJANGO_SECRET));
    assert!(token_matches(DJANGO_SECRET, DJANGO_SECRET));
    assert!(!token_matches(
        &DJANGO_TOKEN.replace('U', "V"),
        DJANGO_SECRET
    ));
    for _ in 0..50 {
        let secret = new_secret();
        let token = mask(&secret).unwrap();
        assert_eq!(check_token_format(&token), Ok(()));
        assert_eq!(unmask(&token), Some(secret));
    }
    assert_eq!(mask("short"), None);
    assert_eq!(unmask("é".repeat(32).as_str()), None);
    assert_eq!(check_token_format("abc"), Err(TokenFormat::IncorrectLength));
    assert_eq!(
        check_token_format(&"-".repeat(32)),
        Err(TokenFormat::InvalidCharacters)
    );
}

fn post<'a>(token: Option<&'a str>) -> CsrfRequest<'a> {
    CsrfRequest {
        method: "POST",
        host: Some("site.test"),
        form_token: token,
        ..CsrfRequest::default()
    }
}

#[test]
fn the_token_rules() {
    let c = CsrfConfig::new();
    let s = DJANGO_SECRET;
    assert_eq!(c.check(&post(Some(DJANGO_TOKEN)), Some(s)), Ok(()));
    for m in ["GET", "HEAD", "OPTIONS", "TRACE"] {
        let r = CsrfRequest {
            method: m,
            ..post(None)
        };
        assert_eq!(c.check(&r, None), Ok(()), "{m}");
    }
    assert_eq!(c.check(&post(None), Some(s)), Err(Reason::TokenMissing));
    assert_eq!(
        c.check(&post(Some(DJANGO_TOKEN)), None),
        Err(Reason::NoSecret)
    );
    assert_eq!(
        c.check(&post(Some("x")), Some(s)).unwrap_err().to_string(),
        "CSRF token from POST has incorrect length."
    );
    let wrong = mask(&new_secret()).unwrap();
    assert_eq!(
        c.check(&post(Some(&wrong)), Some(s))
            .unwrap_err()
            .to_string(),
        "CSRF token from POST incorrect."
    );
    let header = CsrfRequest {
        header_token: Some(&wrong),
        ..post(Some(""))
    };
    assert_eq!(
        c.check(&header, Some(s)).unwrap_err().to_string(),
        "CSRF token from the 'X-Csrftoken' HTTP header incorrect."
    );
    let header = CsrfRequest {
        header_token: Some(DJANGO_TOKEN),
        ..post(None)
    };
    assert_eq!(c.check(&header, Some(s)), Ok(()));
    let named = CsrfConfig::new().with_header_name("HTTP_X_XSRF_TOKEN");
    assert_eq!(named.header_name(), "X-XSRF-TOKEN");
}

#[test]
fn origin_and_referer_rules() {
    let c = CsrfConfig::new().with_trusted_origins(["https://trusted.test", "https://*.corp.test"]);
    let s = DJANGO_SECRET;
    let with = |origin: Option<&'static str>, referer: Option<&'static str>, secure: bool| {
        let r = CsrfRequest {
            origin,
            referer,
            secure,
            ..post(Some(DJANGO_TOKEN))
        };
        c.check(&r, Some(s))
    };
    assert_eq!(with(Some("http://site.test"), None, false), Ok(()));
    assert_eq!(with(Some("https://site.test"), None, true), Ok(()));
    assert!(matches!(
        with(Some("http://site.test"), None, true),
        Err(Reason::BadOrigin(_))
    ));
    assert_eq!(with(Some("https://trusted.test"), None, false), Ok(()));
    assert_eq!(with(Some("https://a.corp.test"), None, false), Ok(()));
    assert_eq!(with(Some("https://corp.test"), None, false), Ok(()));
    assert!(with(Some("http://a.corp.test"), None, false).is_err());
    assert!(with(Some("null"), None, false).is_err());
    assert!(with(Some("https://evil.test"), None, false).is_err());
    // No Origin over plain HTTP: no Referer check.
    assert_eq!(with(None, None, false), Ok(()));
    // No Origin over HTTPS: the Referer decides.
    assert_eq!(with(None, None, true), Err(Reason::NoReferer));
    assert_eq!(with(None, Some("https://site.test/form"), true), Ok(()));
    assert_eq!(with(None, Some("https://x.corp.test/"), true), Ok(()));
    assert_eq!(with(None, Some("https://trusted.test/"), true), Ok(()));
    assert_eq!(
        with(None, Some("http://site.test/"), true),
        Err(Reason::InsecureReferer)
    );
    assert_eq!(
        with(None, Some("site.test"), true),
        Err(Reason::MalformedReferer)
    );
    assert_eq!(
        with(None, Some("https://evil.test/"), true)
            .unwrap_err()
            .to_string(),
        "Referer checking failed - https://evil.test/ does not match any trusted origins."
    );
    // SESSION_COOKIE_DOMAIN replaces the host for the Referer.
    let d = CsrfConfig::new().with_session_cookie_domain(Some(".site.test"));
    let r = CsrfRequest {
        secure: true,
        host: Some("api.site.test"),
        referer: Some("https://www.site.test/"),
        ..post(Some(DJANGO_TOKEN))
    };
    assert_eq!(d.check(&r, Some(s)), Ok(()));
    assert!(is_same_domain("a.b.test", ".b.test"));
    assert!(!is_same_domain("ab.test", ".b.test"));
    assert!(!is_same_domain("x", ""));
}

#[test]
fn the_session_side() {
    let session = sessionkit_core::Session::detached();
    assert_eq!(session_secret(&session), None);
    // The demo's old 48-hex value is not a secret: replaced.
    session.insert(CSRF_SESSION_KEY, "ab".repeat(24)).unwrap();
    assert_eq!(session_secret(&session), None);
    let token = get_token(&session).unwrap();
    let secret = session_secret(&session).unwrap();
    assert!(token_matches(&token, &secret));
    // A masked value stored by an old Django is unmasked.
    session.insert(CSRF_SESSION_KEY, DJANGO_TOKEN).unwrap();
    assert_eq!(session_secret(&session).as_deref(), Some(DJANGO_SECRET));
    assert!(failure_text(&Reason::TokenMissing).contains("CSRF token missing."));
}
