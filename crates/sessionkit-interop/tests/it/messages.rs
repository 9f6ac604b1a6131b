//! Flash messages shared with Django (issue 18.2): `MessagesLayer` / `MessagesMiddleware`
//! over Django's sessions, against Django's own `SessionStorage` and `FallbackStorage`
//! (the driver's `messages` command: one request through `MessageMiddleware`, the messages
//! rendered by a Django template), both directions, on both adapters and every
//! [`Backend`] (the `db` engine over SQLite, PostgreSQL and MySQL, `cached_db` over
//! Redis).

use std::collections::HashMap;

use sessionkit_core::{Config, Engine, Value};
use sessionkit_django::Secrets;
use sessionkit_django::messages::{Message, MessageStorage, MessagesConfig, RequestMessages};
use sessionkit_testkit::http::Response;

use crate::auth::{Adapter, Backend};
use crate::django::{Django, SECRET, text};
use crate::support::Rust;

/// `/flash?msg=&level=&tags=&safe=1` and `/flash?many=N` (the [`big`] messages).
fn flash(messages: &RequestMessages, q: &HashMap<String, String>) -> String {
    if let Some(n) = q.get("many").and_then(|n| n.parse().ok()) {
        for m in big(n) {
            messages.add_message(m);
        }
        return "Messages added".into();
    }
    let level = q.get("level").and_then(|l| l.parse().ok()).unwrap_or(20);
    let mut m = Message::new(level, q.get("msg").cloned().unwrap_or_default());
    if let Some(tags) = q.get("tags") {
        m = m.with_extra_tags(tags.clone());
    }
    if q.get("safe").is_some_and(|s| s == "1") {
        m = m.mark_safe();
    }
    if messages.add_message(m) {
        "Message added".into()
    } else {
        "Message dropped".into()
    }
}

/// `/messages`: one line `level|tags|safe|text` per message, consumed.
fn show(messages: &RequestMessages) -> String {
    let all = messages.consume();
    if all.is_empty() {
        return "Messages: none".into();
    }
    all.iter()
        .map(|m| {
            format!(
                "{}|{}|{}|{}\n",
                m.level,
                messages.config().tags(m),
                m.safe,
                m.message
            )
        })
        .collect()
}

/// `n` messages of 70 characters that zlib cannot shrink much: `m000-<sha256 of "0">`…
fn big(n: usize) -> Vec<Message> {
    (0..n)
        .map(|i| Message::new(20, format!("m{i:03}-{}", pseudo_hex(i))))
        .collect()
}

/// 64 hex digits from a xorshift seeded by `i` (deterministic, incompressible enough).
fn pseudo_hex(i: usize) -> String {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..64)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b"0123456789abcdef"[(x % 16) as usize])
        })
        .collect()
}

mod axum_app {
    use std::collections::HashMap;

    use axum::Router;
    use axum::extract::Query;
    use axum::routing::get;
    use sessionkit_core::Engine;
    use sessionkit_django::messages::MessagesConfig;
    use sessionkit_tower::{Messages, MessagesLayer};

    pub(super) async fn serve(engine: Engine, config: MessagesConfig) -> super::Rust {
        let app = Router::new()
            .route(
                "/flash",
                get(
                    |Messages(m): Messages, Query(q): Query<HashMap<String, String>>| async move {
                        super::flash(&m, &q)
                    },
                ),
            )
            .route(
                "/messages",
                get(|Messages(m): Messages| async move { super::show(&m) }),
            )
            .layer(MessagesLayer::new(config));
        crate::support::serve_axum_session(engine, app).await
    }
}

mod actix_app {
    use std::collections::HashMap;

    use actix_web::{App, web};
    use sessionkit_actix::{Messages, MessagesMiddleware};
    use sessionkit_core::Engine;
    use sessionkit_django::messages::MessagesConfig;

    async fn flash(Messages(m): Messages, q: web::Query<HashMap<String, String>>) -> String {
        super::flash(&m, &q)
    }

    async fn show(Messages(m): Messages) -> String {
        super::show(&m)
    }

    pub(super) fn serve(engine: Engine, config: MessagesConfig) -> super::Rust {
        crate::support::serve_actix_session!(engine, move || {
            App::new()
                .wrap(MessagesMiddleware::new(config.clone()))
                .route("/flash", web::get().to(flash))
                .route("/messages", web::get().to(show))
        })
    }
}

/// Django on a [`Backend`], the Rust side on the same sessions, and a browser's cookies
/// (`sessionid`, `messages`).
struct Site {
    django: Django,
    storage: MessageStorage,
    rust: Rust,
    cookies: HashMap<String, String>,
    /// Django's database and namespace, dropped with the site.
    _backend: crate::auth::Site,
}

impl Site {
    async fn new(adapter: Adapter, storage: MessageStorage, backend: Backend) -> Option<Site> {
        let site = crate::auth::Site::on(backend)?;
        let django = site.django.clone();
        let secrets = Secrets::new(SECRET);
        let config = Config::default();
        let messages = MessagesConfig::new(&secrets)
            .with_storage(storage)
            .with_session_cookie(&config);
        let engine: Engine = site.engine(&secrets).await;
        let rust = match adapter {
            Adapter::Axum => axum_app::serve(engine, messages).await,
            Adapter::Actix => actix_app::serve(engine, messages),
        };
        // A session that is not empty once its messages are consumed (Django does not
        // save an emptied session; its row would keep the old messages).
        let created = django.call(&["create", "--data", r#"{"count": 1}"#]);
        let mut cookies = HashMap::new();
        cookies.insert("sessionid".to_owned(), text(&created, "key"));
        Some(Site {
            django,
            storage,
            rust,
            cookies,
            _backend: site,
        })
    }

    fn key(&self) -> String {
        self.cookies["sessionid"].clone()
    }

    fn storage_arg(&self) -> &'static str {
        match self.storage {
            MessageStorage::Session => "session",
            MessageStorage::Cookie => "cookie",
            MessageStorage::Fallback => "fallback",
        }
    }

    /// A GET on the Rust side with the jar's cookies; the jar takes the response's.
    async fn get(&mut self, path: &str) -> Response {
        let header: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let header = header.join("; ");
        let res = crate::support::get(&self.rust.addr, path, Some(header)).await;
        for c in res.set_cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if c.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        res
    }

    /// One Django request through `MessageMiddleware`; the jar takes its cookie.
    fn django(&mut self, extra: &[&str]) -> sessionkit_core::value::Map {
        let key = self.key();
        let mut args = vec!["messages", "--key", &key, "--storage", self.storage_arg()];
        let cookie = self.cookies.get("messages").cloned();
        if let Some(c) = &cookie {
            args.extend(["--cookie", c]);
        }
        args.extend_from_slice(extra);
        let out = self.django.call(&args);
        if let Some(Value::Map(c)) = out.get("cookie") {
            match (c.get("deleted"), c.get("value")) {
                (Some(Value::Bool(true)), _) => {
                    self.cookies.remove("messages");
                }
                (_, Some(Value::String(v))) => {
                    self.cookies.insert("messages".into(), v.clone());
                }
                _ => {}
            }
        }
        out
    }

    fn session_messages(&self) -> Value {
        let read = self.django.call(&["read", "--key", &self.key()]);
        match read.get("data") {
            Some(Value::Map(m)) => m.get("_messages").cloned().unwrap_or(Value::Null),
            other => panic!("{other:?}"),
        }
    }
}

const RENDERED: &str =
    "[success] Hello\n[big error] <b>bold</b>\n[warning] &lt;i&gt;it&lt;/i&gt;\n";

async fn rust_adds_django_shows(adapter: Adapter, backend: Backend, storage: MessageStorage) {
    let Some(mut site) = Site::new(adapter, storage, backend).await else {
        return;
    };
    for (path, answer) in [
        ("/flash?msg=Hello&level=25", "Message added"),
        ("/flash?msg=dropped&level=10", "Message dropped"),
        (
            "/flash?msg=%3Cb%3Ebold%3C%2Fb%3E&level=40&tags=big&safe=1",
            "Message added",
        ),
        ("/flash?msg=%3Ci%3Eit%3C%2Fi%3E&level=30", "Message added"),
    ] {
        let res = site.get(path).await;
        assert_eq!((res.status, res.body.trim()), (200, answer), "{path}");
    }
    match storage {
        MessageStorage::Fallback => {
            assert!(site.cookies.contains_key("messages"));
            assert_eq!(site.session_messages(), Value::Null);
        }
        _ => {
            assert!(!site.cookies.contains_key("messages"));
            assert!(matches!(site.session_messages(), Value::String(_)));
        }
    }
    let shown = site.django(&["--read"]);
    assert_eq!(text(&shown, "rendered"), RENDERED, "{shown:?}");
    // Consumed on Django's side: gone from the cookie and the session.
    assert!(!site.cookies.contains_key("messages"));
    assert_eq!(site.session_messages(), Value::Null);
    assert_eq!(site.get("/messages").await.body, "Messages: none");
}

async fn django_adds_rust_shows(adapter: Adapter, backend: Backend, storage: MessageStorage) {
    let Some(mut site) = Site::new(adapter, storage, backend).await else {
        return;
    };
    site.django(&[
        "--add",
        r#"[[25, "Hello"], [40, "<b>bold</b>", "big", 1], [30, "<i>it</i>"], [10, "dropped"]]"#,
    ]);
    let res = site.get("/messages").await;
    assert_eq!(
        res.body,
        "25|success|false|Hello\n40|big error|true|<b>bold</b>\n30|warning|false|<i>it</i>\n"
    );
    // Consumed on the Rust side: Django sees none.
    assert!(!site.cookies.contains_key("messages"));
    assert_eq!(site.session_messages(), Value::Null);
    let shown = site.django(&["--read"]);
    assert_eq!(text(&shown, "rendered"), "");
    // Added on both sides, unread: kept and appended, in order.
    site.django(&["--add", r#"[[20, "one"]]"#]);
    site.get("/flash?msg=two").await;
    site.django(&["--add", r#"[[20, "three"]]"#]);
    assert_eq!(
        site.get("/messages").await.body,
        "20|info|false|one\n20|info|false|two\n20|info|false|three\n"
    );
}

/// Fallback storage over the 2048-byte limit: the cookie keeps the oldest messages and
/// the not-finished sentinel, the session the rest; each side reads all of them, in order.
async fn fallback_overflow_both_ways(adapter: Adapter, backend: Backend) {
    let Some(mut site) = Site::new(adapter, MessageStorage::Fallback, backend).await else {
        return;
    };
    let expected: String = big(40)
        .iter()
        .map(|m| format!("[info] {}\n", m.message))
        .collect();
    site.get("/flash?many=40").await;
    let cookie = site.cookies.get("messages").cloned().expect("a cookie");
    assert!(cookie.len() <= 2048, "{}", cookie.len());
    assert!(matches!(site.session_messages(), Value::String(_)));
    let shown = site.django(&["--read"]);
    assert_eq!(text(&shown, "rendered"), expected);
    assert!(!site.cookies.contains_key("messages"));
    assert_eq!(site.session_messages(), Value::Null);

    let add: Vec<String> = big(40)
        .iter()
        .map(|m| format!("[20, \"{}\"]", m.message))
        .collect();
    let add = format!("[{}]", add.join(", "));
    site.django(&["--add", &add]);
    assert!(site.cookies.contains_key("messages"));
    assert!(matches!(site.session_messages(), Value::String(_)));
    let lines: String = big(40)
        .iter()
        .map(|m| format!("20|info|false|{}\n", m.message))
        .collect();
    assert_eq!(site.get("/messages").await.body, lines);
    assert!(!site.cookies.contains_key("messages"));
    assert_eq!(site.session_messages(), Value::Null);
}

async fn session_rust_adds_django_shows(adapter: Adapter, backend: Backend) {
    rust_adds_django_shows(adapter, backend, MessageStorage::Session).await;
}

async fn session_django_adds_rust_shows(adapter: Adapter, backend: Backend) {
    django_adds_rust_shows(adapter, backend, MessageStorage::Session).await;
}

async fn fallback_rust_adds_django_shows(adapter: Adapter, backend: Backend) {
    rust_adds_django_shows(adapter, backend, MessageStorage::Fallback).await;
}

async fn fallback_django_adds_rust_shows(adapter: Adapter, backend: Backend) {
    django_adds_rust_shows(adapter, backend, MessageStorage::Fallback).await;
}

crate::auth_matrix!(
    session_rust_adds_django_shows,
    session_django_adds_rust_shows,
    fallback_rust_adds_django_shows,
    fallback_django_adds_rust_shows,
    fallback_overflow_both_ways,
);
