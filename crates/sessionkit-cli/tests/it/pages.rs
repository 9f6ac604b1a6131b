//! The HTML pages without a browser (the browser tests are in `tests/browser`): content
//! negotiation on `/`, CSRF refusals, bad form values, and pages that must not start a
//! session.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use sessionkit_cli::serve::app;
use sessionkit_core::{Config, Engine, MemoryStore};

use crate::support::send_with_cookie;

struct Res {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Res {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or_default())
    }

    /// The value of the form's hidden CSRF field.
    fn token(&self) -> String {
        let marker = r#"name="csrfmiddlewaretoken" value=""#;
        let start = self.body.find(marker).expect("a CSRF field") + marker.len();
        self.body[start..].split('"').next().unwrap().to_owned()
    }
}

/// A browser in miniature: one app, one session cookie.
struct Client {
    app: Router,
    cookie: Option<String>,
}

impl Client {
    fn new() -> Client {
        let engine = Engine::new(MemoryStore::new(), Config::default());
        Client {
            app: app(engine),
            cookie: None,
        }
    }

    async fn send(&mut self, req: axum::http::request::Builder, body: Body) -> Res {
        let (status, headers, body) =
            send_with_cookie(&self.app, &mut self.cookie, req, body).await;
        Res {
            status,
            headers,
            body,
        }
    }

    async fn page(&mut self, path: &str) -> Res {
        let req = Request::get(path).header(header::ACCEPT, "text/html");
        self.send(req, Body::empty()).await
    }

    async fn text(&mut self, path: &str) -> Res {
        self.send(Request::get(path), Body::empty()).await
    }

    async fn post(&mut self, path: &str, form: &str) -> Res {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::ORIGIN, "http://127.0.0.1:8000");
        self.send(req, Body::from(form.to_owned())).await
    }

    /// [`Client::post`] of `fields` (may be empty) with the CSRF `token`.
    async fn submit(&mut self, path: &str, fields: &str, token: &str) -> Res {
        let form = match fields {
            "" => format!("csrfmiddlewaretoken={token}"),
            _ => format!("{fields}&csrfmiddlewaretoken={token}"),
        };
        self.post(path, &form).await
    }

    /// Sets `color` on both routes: `GET /color/set`, then the form on `/color` with a
    /// fresh token. Returns both answers.
    async fn set_color_both_ways(&mut self, color: &str) -> (Res, Res) {
        let got = self.text(&format!("/color/set?color={color}")).await;
        let token = self.page("/color").await.token();
        let posted = self
            .submit("/color", &format!("color={color}"), &token)
            .await;
        (got, posted)
    }
}

#[tokio::test]
async fn root_answers_html_to_browsers_and_the_tutorials_text_to_the_rest() {
    let mut c = Client::new();
    let res = c.page("/").await;
    assert_eq!(res.status, 200);
    assert!(res.header(header::CONTENT_TYPE).starts_with("text/html"));
    assert!(res.body.contains("<h1>Visit count: 1</h1>"), "{}", res.body);
    assert_eq!(res.header(header::VARY), "Accept, Cookie");
    let res = c.text("/").await;
    assert_eq!(res.body, "Visit count: 2", "one counter for both");
    assert!(res.header(header::CONTENT_TYPE).starts_with("text/plain"));
    let res = c.page("/").await;
    assert!(res.body.contains("<h1>Visit count: 3</h1>"));
    // Only HTML visits are logged: steps 1 and 3.
    assert_eq!(res.body.matches(r#"<th scope="row">"#).count(), 2);
    assert!(res.body.contains("New session created"));
}

#[tokio::test]
async fn forms_refuse_missing_wrong_and_cross_site_tokens() {
    let mut c = Client::new();
    let token = c.page("/color").await.token();
    assert_eq!(token.len(), 64, "Django's masked token");

    let res = c.post("/color", "color=teal").await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("no CSRF token"), "{}", res.body);

    let res = c
        .post("/color", "color=teal&csrfmiddlewaretoken=0123")
        .await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("does not match"), "{}", res.body);

    // Another visitor's valid token is no good either.
    let mut other = Client::new();
    let theirs = other.page("/color").await.token();
    let res = c.submit("/color", "color=teal", &theirs).await;
    assert_eq!(res.status, 403);

    let cross = Request::post("/color")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site");
    let form = format!("color=teal&csrfmiddlewaretoken={token}");
    let res = c.send(cross, Body::from(form.clone())).await;
    assert_eq!(res.status, 403);
    assert!(res.body.contains("another site"), "{}", res.body);

    let res = c.post("/color", &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header(header::LOCATION), "/color");
    assert_eq!(c.text("/color/get").await.body, "Favorite color: teal");
}

#[tokio::test]
async fn bad_form_values_are_400() {
    let mut c = Client::new();
    let token = c.page("/account").await.token();
    for (path, fields) in [
        ("/color", "color="),
        ("/color", "nothing=here"),
        ("/account/login", "user=a%20b"),
        ("/account/login", "user="),
        ("/account/revoke", "session=0a1b2c3d"),
    ] {
        let res = c.submit(path, fields, &token).await;
        assert_eq!(res.status, 400, "{path} {fields}: {}", res.body);
    }
    // Not a form: the CSRF layer finds no field, so the token rides in the header (as
    // Django's `X-CSRFToken`); without it the POST is refused first, as by Django.
    let json = Request::post("/color").header(header::CONTENT_TYPE, "application/json");
    let res = c.send(json, Body::from("{}")).await;
    assert_eq!(res.status, 403);
    let json = Request::post("/color")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-csrftoken", &token);
    let res = c.send(json, Body::from("{}")).await;
    assert_eq!(res.status, 400);
    // Signed in, a malformed fingerprint is refused too.
    assert_eq!(
        c.submit("/account/login", "user=alice", &token)
            .await
            .status,
        303
    );
    let token = c.page("/account").await.token();
    let res = c.submit("/account/revoke", "session=nope", &token).await;
    assert_eq!(res.status, 400);
}

#[tokio::test]
async fn pages_without_forms_start_no_session_and_logout_removes_the_cookie() {
    let mut c = Client::new();
    let res = c.page("/inspect").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("this request has no live session"));
    assert!(c.cookie.is_none(), "the inspector only reads");

    let token = c.page("/account").await.token();
    assert!(c.cookie.is_some(), "a form page stores its CSRF token");
    let res = c.submit("/account/login", "user=alice", &token).await;
    assert_eq!(res.status, 303);
    let res = c.page("/account").await;
    assert!(res.body.contains("Signed in as alice"));
    assert!(res.body.contains("The session key was rotated"));
    let new_token = res.token();
    assert_ne!(new_token, token, "login rotates the CSRF token");

    let res = c.submit("/account/logout", "", &new_token).await;
    assert_eq!(res.status, 303);
    assert!(
        res.header(header::LOCATION)
            .starts_with("/account?signed_out=")
    );
    assert!(c.cookie.is_none(), "logout removes the cookie");
    let res = c.page(res.header(header::LOCATION)).await;
    assert!(res.body.contains("no — it is gone"), "{}", res.body);
    assert!(c.cookie.is_none(), "the signed-out page starts no session");
}

/// Issue 15 (item 9): one color rule on every route that sets one — 1 to 40 characters
/// once trimmed, no control characters — and 400 with a clear message otherwise.
#[tokio::test]
async fn issue_15_one_color_rule_on_every_route() {
    let mut c = Client::new();
    let forty = "a".repeat(40);
    let forty_one = "a".repeat(41);
    let long = "a".repeat(10_000);
    let accepted = [
        forty.as_str(),
        "teal",
        "%23ab12cd",
        "%20dark%20blue%20",
        "%C3%A9t%C3%A9",
    ];
    let refused = [
        forty_one.as_str(),
        long.as_str(),
        "%20%20",
        "red%01",
        "a%0Ab",
    ];
    for color in accepted {
        let (got, posted) = c.set_color_both_ways(color).await;
        assert_eq!(got.status, 200, "GET {color}: {}", got.body);
        assert_eq!(posted.status, 303, "POST {color}: {}", posted.body);
    }
    // Stored trimmed, the same on both routes.
    let res = c.text("/color/get").await;
    assert_eq!(res.body, "Favorite color: été");
    for color in refused {
        let (got, posted) = c.set_color_both_ways(color).await;
        assert_eq!(got.status, 400, "GET {}", &color[..color.len().min(50)]);
        assert_eq!(
            got.body,
            "Invalid color: 1 to 40 characters, no control characters (e.g. /color/set?color=blue)"
        );
        assert_eq!(posted.status, 400, "POST {}", &color[..color.len().min(50)]);
        assert!(
            posted.body.contains("Enter a color of 1 to 40 characters"),
            "{}",
            posted.body
        );
    }
    // Nothing refused was stored.
    let res = c.text("/color/get").await;
    assert_eq!(res.body, "Favorite color: été");
    let res = c.text("/color/set").await;
    assert_eq!(
        (res.status.as_u16(), res.body.as_str()),
        (400, "Missing color: use /color/set?color=blue")
    );
}
