//! CSRF shared with Django (issue 18.3) under `CSRF_USE_SESSIONS = True`: Django's own
//! `CsrfViewMiddleware` and `{% csrf_token %}` (the driver's `csrf-post` and `csrf-form`)
//! against `CsrfConfig::check` (on SQLite), and `CsrfLayer` / `CsrfMiddleware` over
//! Django's sessions, tokens crossing both ways on both adapters and every [`Backend`]
//! (the `db` engine over SQLite, PostgreSQL and MySQL, `cached_db` over Redis).

use sessionkit_core::{Config, Transport, Value};
use sessionkit_django::Secrets;
use sessionkit_django::csrf::{CsrfConfig, CsrfRequest, mask, new_secret};
use sessionkit_testkit::http::Response;

use crate::auth::{Adapter, Backend};
use crate::django::{Django, SECRET, text};
use crate::support::Rust;

const SESSION_HEADER: &str = "X-Session-Id";

mod axum_app {
    use axum::Router;
    use axum::routing::get;
    use sessionkit_core::Engine;
    use sessionkit_django::csrf::CsrfConfig;
    use sessionkit_tower::{CsrfLayer, CsrfToken};

    pub(super) async fn serve(engine: Engine, config: CsrfConfig) -> super::Rust {
        let app = Router::new()
            .route(
                "/form",
                get(|CsrfToken(t): CsrfToken| async move { t })
                    .post(|body: String| async move { format!("Sent: {}", body.len()) }),
            )
            .layer(CsrfLayer::new(config));
        crate::support::serve_axum_session(engine, app).await
    }
}

mod actix_app {
    use actix_web::{App, web};
    use sessionkit_actix::{CsrfMiddleware, CsrfToken};
    use sessionkit_core::Engine;
    use sessionkit_django::csrf::CsrfConfig;

    async fn form(CsrfToken(t): CsrfToken) -> String {
        t
    }

    async fn sent(body: String) -> String {
        format!("Sent: {}", body.len())
    }

    pub(super) fn serve(engine: Engine, config: CsrfConfig) -> super::Rust {
        crate::support::serve_actix_session!(engine, move || {
            App::new()
                .wrap(CsrfMiddleware::new(config.clone()))
                .route("/form", web::get().to(form))
                .route("/form", web::post().to(sent))
        })
    }
}

/// Django on a [`Backend`] (`CSRF_USE_SESSIONS = True`).
struct Site {
    django: Django,
    /// Django's database and namespace, dropped with the site.
    backend: crate::auth::Site,
}

impl Site {
    fn new(backend: Backend) -> Option<Site> {
        let backend = crate::auth::Site::on(backend)?;
        let django = backend
            .django
            .clone()
            .with("SK_CSRF_USE_SESSIONS", "1")
            .with("SK_CSRF_TRUSTED_ORIGINS", "https://*.corp.test");
        Some(Site { django, backend })
    }

    async fn rust(&self, adapter: Adapter) -> Rust {
        let secrets = Secrets::new(SECRET);
        let config = Config::builder()
            .transport(Transport::Both(SESSION_HEADER.into()))
            .build()
            .unwrap();
        let engine = self.backend.engine_with(&secrets, config).await;
        let csrf = CsrfConfig::new().with_trusted_origins(["https://*.corp.test"]);
        match adapter {
            Adapter::Axum => axum_app::serve(engine, csrf).await,
            Adapter::Actix => actix_app::serve(engine, csrf),
        }
    }

    /// A session with a secret, from Django's `{% csrf_token %}`: (key, token, secret).
    fn django_form(&self) -> (String, String, String) {
        let form = self.django.call(&["csrf-form", "--new"]);
        assert!(text(&form, "form").contains("csrfmiddlewaretoken"));
        (
            text(&form, "key"),
            text(&form, "token"),
            text(&form, "secret"),
        )
    }

    /// Django's verdict on a POST: (status, reason).
    fn django_post(&self, key: &str, extra: &[&str]) -> (u16, Option<String>) {
        let mut args = vec!["csrf-post", "--key", key];
        args.extend_from_slice(extra);
        let out = self.django.call(&args);
        let status = match out.get("status") {
            Some(Value::Int(s)) => u16::try_from(*s).unwrap(),
            other => panic!("{other:?}"),
        };
        let reason = match out.get("reason") {
            Some(Value::String(r)) => Some(r.clone()),
            _ => None,
        };
        (status, reason)
    }
}

/// A POST with raw headers and a body, over a fresh connection.
async fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    all.push(("Content-Length".into(), body.len().to_string()));
    let (addr, path, body) = (addr.to_owned(), path.to_owned(), body.to_owned());
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        let mut req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (k, v) in all {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Response {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    })
    .await
    .unwrap()
}

const FORM: &str = "application/x-www-form-urlencoded";

/// The same requests through Django's `CsrfViewMiddleware` and `CsrfConfig::check`: the
/// same verdict and Django's very reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_agree_with_django() {
    let Some(site) = Site::new(Backend::Sqlite) else {
        return;
    };
    let (key, token, secret) = site.django_form();
    let wrong = mask(&new_secret()).unwrap();
    let config = CsrfConfig::new().with_trusted_origins(["https://*.corp.test"]);
    type Case<'a> = (
        Option<&'a str>, // form token
        Option<&'a str>, // header token
        Option<&'a str>, // origin
        Option<&'a str>, // referer
        bool,            // secure
    );
    let cases: Vec<Case<'_>> = vec![
        (Some(&token), None, None, None, false),
        (Some(&secret), None, None, None, false),
        (Some(&wrong), None, None, None, false),
        (Some("short"), None, None, None, false),
        (None, None, None, None, false),
        (None, Some(&token), None, None, false),
        (None, Some("bad-token!"), None, None, false),
        (Some(&token), None, Some("http://testserver"), None, false),
        (Some(&token), None, Some("https://evil.test"), None, false),
        (
            Some(&token),
            None,
            Some("https://app.corp.test"),
            None,
            false,
        ),
        (Some(&token), None, Some("null"), None, false),
        (Some(&token), None, None, None, true),
        (
            Some(&token),
            None,
            None,
            Some("https://testserver/form"),
            true,
        ),
        (
            Some(&token),
            None,
            None,
            Some("http://testserver/form"),
            true,
        ),
        (Some(&token), None, None, Some("https://evil.test/"), true),
        (Some(&token), None, None, Some("https://x.corp.test/"), true),
        (Some(&token), None, None, Some("testserver"), true),
    ];
    for (form, header, origin, referer, secure) in cases {
        let mut args: Vec<&str> = Vec::new();
        for (flag, v) in [
            ("--token", form),
            ("--header-token", header),
            ("--origin", origin),
            ("--referer", referer),
        ] {
            if let Some(v) = v {
                args.extend([flag, v]);
            }
        }
        if secure {
            args.push("--secure");
        }
        let (status, reason) = site.django_post(&key, &args);
        let ours = config.check(
            &CsrfRequest {
                method: "POST",
                secure,
                host: Some("testserver"),
                origin,
                referer,
                form_token: form,
                header_token: header,
            },
            Some(&secret),
        );
        match ours {
            Ok(()) => assert_eq!((status, reason), (200, None), "{args:?}"),
            Err(r) => assert_eq!(
                (status, reason.as_deref()),
                (403, Some(r.to_string().as_str())),
                "{args:?}"
            ),
        }
    }
}

async fn tokens_cross_both_ways(adapter: Adapter, backend: Backend) {
    let Some(site) = Site::new(backend) else {
        return;
    };
    let rust = site.rust(adapter).await;
    let (key, token, _) = site.django_form();
    let cookie = format!("sessionid={key}");
    // A url-encoded form POST in the session.
    let post_form = |body: String| {
        let (addr, cookie) = (rust.addr.clone(), cookie.clone());
        async move {
            post(
                &addr,
                "/form",
                &[("Cookie", &cookie), ("Content-Type", FORM)],
                &body,
            )
            .await
        }
    };

    // A token from a Django-rendered form: accepted by the Rust POST.
    let body = format!("name=x&csrfmiddlewaretoken={token}");
    let res = post_form(body.clone()).await;
    assert_eq!(
        (res.status, res.body.as_str()),
        (200, format!("Sent: {}", body.len()).as_str())
    );
    // In the header, with the page's own origin.
    let origin = format!("http://{}", rust.addr);
    let res = post(
        &rust.addr,
        "/form",
        &[
            ("Cookie", &cookie),
            ("X-CSRFToken", &token),
            ("Origin", &origin),
        ],
        "",
    )
    .await;
    assert_eq!(res.status, 200, "{res:?}");
    // A wrong token, none, a foreign origin: 403 with Django's reason.
    let wrong = mask(&new_secret()).unwrap();
    let res = post_form(format!("csrfmiddlewaretoken={wrong}")).await;
    assert_eq!(res.status, 403);
    assert!(
        res.body.contains("CSRF token from POST incorrect."),
        "{}",
        res.body
    );
    let res = post_form("a=1".to_owned()).await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("CSRF token missing."), "{}", res.body);
    let res = post(
        &rust.addr,
        "/form",
        &[
            ("Cookie", &cookie),
            ("X-CSRFToken", &token),
            ("Origin", "https://evil.test"),
        ],
        "",
    )
    .await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("Origin checking failed"), "{}", res.body);
    // No session at all: no secret.
    let res = post(&rust.addr, "/form", &[("X-CSRFToken", &token)], "").await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("CSRF cookie not set."), "{}", res.body);
    // A session named by the session header is exempt (no browser sends it cross-site).
    let res = post(&rust.addr, "/form", &[(SESSION_HEADER, &key)], "").await;
    assert_eq!(res.status, 200, "{res:?}");

    // A token rendered by Rust: accepted by Django's CsrfViewMiddleware, in the form and
    // in the header.
    let rendered = crate::support::get(&rust.addr, "/form", Some(cookie.clone())).await;
    assert_eq!(rendered.status, 200);
    let rust_token = rendered.body.trim().to_owned();
    assert_eq!(rust_token.len(), 64);
    assert_eq!(
        site.django_post(&key, &["--token", &rust_token]),
        (200, None)
    );
    assert_eq!(
        site.django_post(&key, &["--header-token", &rust_token]),
        (200, None)
    );
    assert_eq!(site.django_post(&key, &["--token", &wrong]).0, 403);

    // A session that never had a secret: the Rust side makes one, Django accepts it.
    let fresh = site.django.call(&["create", "--data", r#"{"count": 1}"#]);
    let fresh = text(&fresh, "key");
    let c = format!("sessionid={fresh}");
    let rendered = crate::support::get(&rust.addr, "/form", Some(c)).await;
    let t = rendered.body.trim().to_owned();
    assert_eq!(site.django_post(&fresh, &["--token", &t]), (200, None));
}

crate::auth_matrix!(tokens_cross_both_ways);
