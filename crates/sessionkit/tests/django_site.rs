//! `examples/django-site.rs` served on a socket, without Django: a page's CSRF token
//! accepted and a POST without it refused (403), a flash message shown once by the next
//! page (Django's default fallback storage, the signed `messages` cookie), an anonymous
//! `/whoami`, and a sign-in whose user database fails answered 503. The same routes
//! against live Django are the interop suite's (`crates/sessionkit-interop`).

use std::collections::BTreeMap;
use std::io::{Read, Write};

use sessionkit::django::Secrets;
use sessionkit::django::auth::{DjangoAuth, SqliteUserLoader, UserTable};
use sessionkit::django::sql::DjangoSqliteStore;

#[allow(dead_code, unreachable_pub)]
#[path = "../../../examples/django-site.rs"]
mod django_site;

/// A browser in miniature: one cookie jar, one request per connection.
struct Browser {
    addr: String,
    jar: BTreeMap<String, String>,
}

struct Reply {
    status: u16,
    body: String,
}

impl Browser {
    fn send(&mut self, method: &str, path: &str, form: Option<&str>) -> Reply {
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.addr
        );
        if !cookies.is_empty() {
            req += &format!("Cookie: {}\r\n", cookies.join("; "));
        }
        let body = form.unwrap_or_default();
        if form.is_some() {
            req += &format!(
                "Origin: http://{}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                self.addr,
                body.len()
            );
        }
        req += "\r\n";
        req += body;
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        for line in head.lines() {
            let Some((name, value)) = line.split_once(": ") else {
                continue;
            };
            if !name.eq_ignore_ascii_case("set-cookie") {
                continue;
            }
            let (k, v) = value.split(';').next().unwrap().split_once('=').unwrap();
            if v.is_empty() || v == "\"\"" || value.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        Reply {
            status,
            body: body.to_owned(),
        }
    }
}

fn token(page: &str) -> String {
    let marker = r#"name="csrfmiddlewaretoken" value=""#;
    let start = page.find(marker).expect("a CSRF field") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_django_site_example_serves_the_user_messages_and_csrf() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let secrets = Secrets::new("the-django-site-secret-key");
    // Django's `migrate` makes both tables; here only `django_session` exists, so a user
    // lookup fails (the 503 below).
    let store = DjangoSqliteStore::builder(&db, &secrets)
        .create_table_if_missing()
        .open()
        .await
        .unwrap();
    let users = SqliteUserLoader::open(&db, UserTable::django()).unwrap();
    let app = django_site::app(store, DjangoAuth::new(&secrets, users), &secrets);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });

    tokio::task::spawn_blocking(move || {
        let mut b = Browser {
            addr,
            jar: BTreeMap::new(),
        };
        assert_eq!(b.send("GET", "/whoami", None).body, "Anonymous");
        let page = b.send("GET", "/", None);
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Sign in"), "{}", page.body);
        let csrf = token(&page.body);
        assert!(
            b.jar.contains_key("sessionid"),
            "the token's secret is in the session"
        );

        let refused = b.send("POST", "/note", Some("text=hello"));
        assert_eq!(refused.status, 403, "{}", refused.body);
        let sent = b.send(
            "POST",
            "/note",
            Some(&format!("text=a+%3Cb%3E&csrfmiddlewaretoken={csrf}")),
        );
        assert_eq!(sent.status, 303, "{}", sent.body);
        assert!(
            b.jar.contains_key("messages"),
            "Django's fallback storage: the cookie"
        );
        let page = b.send("GET", "/", None);
        assert!(page.body.contains("<li>a &lt;b&gt;</li>"), "{}", page.body);
        assert!(
            !b.send("GET", "/", None).body.contains("<li>"),
            "shown once"
        );

        let login = b.send(
            "POST",
            "/login",
            Some(&format!(
                "username=alice&password=pw&csrfmiddlewaretoken={csrf}"
            )),
        );
        assert_eq!(login.status, 503, "{}", login.body);
    })
    .await
    .unwrap();
}
