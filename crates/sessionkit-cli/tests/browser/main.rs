//! The demo (`sessionkit serve`) in a real browser: headless Chromium driven through
//! ChromeDriver (WebDriver, with fantoccini). Each test starts the built binary on a free
//! loopback port with the memory store, and ChromeDriver on another; each browser gets a
//! fresh profile, so two of them are two separate cookie jars.
//!
//! Chromium and ChromeDriver come from Debian (`.ci/browser-setup.sh`); other paths can be
//! given in `SESSIONKIT_CHROMIUM` and `SESSIONKIT_CHROMEDRIVER`. When they are missing the
//! tests print SKIP, or fail under `SESSIONKIT_REQUIRE_SERVICES=1`.
//!
//! Screenshots for the docs: `SESSIONKIT_SCREENSHOTS=docs/screenshots cargo test -p
//! sessionkit-cli --test browser screenshots` (a relative directory is taken from the
//! workspace root).

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_sessionkit");
const COOKIE: &str = "sessionid";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed on drop; with `group`, its whole process group (ChromeDriver's
/// browsers, which a failed test would otherwise leave running).
struct Process {
    child: Child,
    group: bool,
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.group {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tool(env: &str, default: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(std::env::var(env).unwrap_or_else(|_| default.to_owned()));
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found (run .ci/browser-setup.sh, or set {env})",
            path.display()
        ))
    }
}

/// The server, ChromeDriver, and the browsers opened so far.
struct Demo {
    base: String,
    chromium: PathBuf,
    driver_url: String,
    profiles: Vec<tempfile::TempDir>,
    // Dropped last: the browsers' sessions end before their driver.
    _driver: Process,
    _server: Process,
}

impl Demo {
    /// `None` (after a SKIP line) when Chromium or ChromeDriver is missing.
    fn start() -> Option<Demo> {
        let tools = tool("SESSIONKIT_CHROMIUM", "/usr/bin/chromium")
            .and_then(|c| tool("SESSIONKIT_CHROMEDRIVER", "/usr/bin/chromedriver").map(|d| (c, d)));
        let (chromium, chromedriver) =
            sessionkit_testkit::require("Chromium and ChromeDriver", tools)?;

        let port = free_port();
        let mut server = Command::new(BIN)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--store", "memory://"])
            .env_remove("SESSIONKIT_SECRET_KEY")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sessionkit serve");
        wait_for_port(port, &mut server, "sessionkit serve");
        let server = Process {
            child: server,
            group: false,
        };

        let driver_port = free_port();
        let mut driver = Command::new(chromedriver)
            .arg(format!("--port={driver_port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        wait_for_port(driver_port, &mut driver, "chromedriver");
        Some(Demo {
            base: format!("http://127.0.0.1:{port}"),
            chromium,
            driver_url: format!("http://127.0.0.1:{driver_port}"),
            profiles: Vec::new(),
            _driver: Process {
                child: driver,
                group: true,
            },
            _server: server,
        })
    }

    /// A new browser with its own profile (its own cookies).
    async fn browser(&mut self) -> Browser {
        let profile = tempfile::tempdir().expect("profile directory");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            "--window-size=1100,860",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": self.chromium, "args": args },
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let mut last = None;
        for _ in 0..3 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&self.driver_url)
                .await
            {
                Ok(client) => {
                    self.profiles.push(profile);
                    return Browser {
                        client,
                        base: self.base.clone(),
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("cannot start Chromium through ChromeDriver: {last:?}");
    }
}

struct Browser {
    client: Client,
    base: String,
}

impl Browser {
    async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    async fn rows(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for row in self.client.find_all(Locator::Css(css)).await.unwrap() {
            out.push(row.text().await.unwrap());
        }
        out
    }

    async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks a submit button and waits for the page it leads to.
    async fn submit(&self, css: &str) {
        let button = self.client.find(Locator::Css(css)).await.unwrap();
        button.click().await.unwrap();
        // The button goes stale when the next page has loaded.
        let deadline = Instant::now() + Duration::from_secs(20);
        while button.is_displayed().await.is_ok() {
            assert!(Instant::now() < deadline, "no navigation after {css}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.text("h1").await;
    }

    async fn sign_in(&self, user: &str) {
        self.open("/account").await;
        self.fill("#user", user).await;
        self.submit("#login-form button").await;
        assert_eq!(self.text("h1").await, format!("Signed in as {user}"));
    }

    /// The session cookie as WebDriver reports it (it sees HttpOnly cookies too).
    async fn session_cookie(&self) -> Option<fantoccini::cookies::Cookie<'static>> {
        let all = self.client.get_all_cookies().await.unwrap();
        all.into_iter().find(|c| c.name() == COOKIE)
    }

    async fn shot(&self, dir: Option<&Path>, name: &str) {
        if let Some(dir) = dir {
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(dir.join(name), png).unwrap();
        }
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

#[tokio::test]
async fn three_visits_show_3() {
    let Some(mut demo) = Demo::start() else {
        return;
    };
    let b = demo.browser().await;
    for _ in 0..3 {
        b.open("/").await;
    }
    assert_eq!(b.text("h1").await, "Visit count: 3");
    let rows = b.rows("tbody tr").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[0].starts_with("1 No none New session created"),
        "{rows:?}"
    );
    assert!(rows[2].starts_with("3 Yes: "), "{rows:?}");
    assert!(
        rows[2].contains("2 Count incremented Visit count: 3"),
        "{rows:?}"
    );
    b.close().await;
}

#[tokio::test]
async fn the_cookie_is_httponly_lax_and_hidden_from_page_scripts() {
    let Some(mut demo) = Demo::start() else {
        return;
    };
    let b = demo.browser().await;
    b.open("/").await;
    let cookie = b.session_cookie().await.expect("a session cookie");
    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
    assert_eq!(
        cookie.same_site().map(|s| s.to_string()).as_deref(),
        Some("Lax"),
        "{cookie:?}"
    );
    let seen = b
        .client
        .execute("return document.cookie;", vec![])
        .await
        .unwrap();
    let seen = seen.as_str().expect("document.cookie is a string");
    assert!(!seen.contains(COOKIE), "page script read {seen:?}");
    b.close().await;
}

#[tokio::test]
async fn the_color_survives_a_reload() {
    let Some(mut demo) = Demo::start() else {
        return;
    };
    let b = demo.browser().await;
    b.open("/color").await;
    assert_eq!(b.text("#current").await, "Your favorite color: unknown");
    b.fill("#color", "teal").await;
    b.submit("#color-form button").await;
    assert_eq!(b.text("#current").await, "Your favorite color: teal");
    b.client.refresh().await.unwrap();
    assert_eq!(b.text("#current").await, "Your favorite color: teal");
    b.open("/color").await;
    assert_eq!(b.text("#current").await, "Your favorite color: teal");
    b.close().await;
}

#[tokio::test]
async fn login_changes_the_cookie_and_keeps_the_data() {
    let Some(mut demo) = Demo::start() else {
        return;
    };
    let b = demo.browser().await;
    b.open("/color").await;
    b.fill("#color", "tomato").await;
    b.submit("#color-form button").await;
    let before = b
        .session_cookie()
        .await
        .expect("a session")
        .value()
        .to_owned();
    b.sign_in("alice").await;
    let after = b
        .session_cookie()
        .await
        .expect("a session")
        .value()
        .to_owned();
    assert_ne!(before, after, "login must rotate the key");
    assert!(b.text(".notice").await.contains("rotated"));
    b.open("/color").await;
    assert_eq!(b.text("#current").await, "Your favorite color: tomato");
    b.close().await;
}

#[tokio::test]
async fn logout_removes_the_cookie() {
    let Some(mut demo) = Demo::start() else {
        return;
    };
    let b = demo.browser().await;
    b.sign_in("bob").await;
    assert!(b.session_cookie().await.is_some());
    b.submit("#logout-form button").await;
    assert_eq!(b.text("h1").await, "Signed out");
    assert!(b.session_cookie().await.is_none(), "the cookie is gone");
    assert!(b.text("#cookie-state").await.contains("no"));
    b.open("/inspect").await;
    assert!(
        b.session_cookie().await.is_none(),
        "reading starts no session"
    );
    b.close().await;
}

#[tokio::test]
async fn a_second_browser_is_listed_and_revoking_it_signs_it_out() {
    let Some(mut demo) = Demo::start() else {
        return;
    };
    let (a, b, c) = (
        demo.browser().await,
        demo.browser().await,
        demo.browser().await,
    );
    for x in [&a, &b, &c] {
        x.sign_in("alice").await;
    }
    a.open("/account").await;
    let rows = a.rows("#sessions tbody tr").await;
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows[0].contains("(this browser)"), "{rows:?}");

    // b's fingerprint, as b's own inspector shows it.
    b.open("/inspect").await;
    let b_fp = b.text("#fingerprint").await;
    a.submit(&format!("button[aria-label='Revoke session {b_fp}']"))
        .await;
    assert!(a.text(".notice").await.contains(&b_fp));
    assert_eq!(a.rows("#sessions tbody tr").await.len(), 2);
    b.open("/account").await;
    assert_eq!(b.text("h1").await, "Sign in", "b is signed out");
    c.open("/account").await;
    assert_eq!(c.text("h1").await, "Signed in as alice", "c is untouched");

    a.submit("#revoke-others-form button").await;
    assert!(a.text(".notice").await.contains("Revoked 1 other session"));
    assert_eq!(a.rows("#sessions tbody tr").await.len(), 1);
    c.open("/account").await;
    assert_eq!(c.text("h1").await, "Sign in", "c is signed out");
    for x in [a, b, c] {
        x.close().await;
    }
}

/// Every page renders in a real browser; with `SESSIONKIT_SCREENSHOTS` set, each is saved
/// as a PNG for the README.
#[tokio::test]
async fn screenshots_of_each_page() {
    let dir = std::env::var_os("SESSIONKIT_SCREENSHOTS").map(|d| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = root.join(d);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    });
    let dir = dir.as_deref();
    let Some(mut demo) = Demo::start() else {
        return;
    };
    let (a, b) = (demo.browser().await, demo.browser().await);

    a.open("/").await;
    a.open("/").await;
    a.open("/color").await;
    a.fill("#color", "teal").await;
    a.submit("#color-form button").await;
    a.shot(dir, "color.png").await;

    a.open("/account").await;
    assert_eq!(a.text("h1").await, "Sign in");
    a.fill("#user", "alice").await;
    a.shot(dir, "login.png").await;
    a.submit("#login-form button").await;
    b.sign_in("alice").await;
    a.open("/").await;
    assert_eq!(a.text("h1").await, "Visit count: 3");
    a.shot(dir, "home.png").await;

    a.open("/account").await;
    assert_eq!(a.rows("#sessions tbody tr").await.len(), 2);
    a.shot(dir, "sessions.png").await;

    a.open("/inspect").await;
    assert!(
        a.text("#data")
            .await
            .contains("\"favorite_color\": \"teal\"")
    );
    a.shot(dir, "inspector.png").await;
    a.close().await;
    b.close().await;
}
