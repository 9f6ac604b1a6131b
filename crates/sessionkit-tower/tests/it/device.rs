//! Issue 19, device metadata through axum: the peer address (`ConnectInfo<SocketAddr>`),
//! the user agent and its label recorded on a memory store; `X-Forwarded-For` believed only
//! from a trusted proxy; the recording switch; the user-agent binding.

use std::net::SocketAddr;

use sessionkit_core::{ClientInfo, Config, ConfigBuilder, Engine, MemoryStore, SessionStore};
use sessionkit_testkit::http::{Response, send};

/// The suite's app, served with the peer address in `ConnectInfo`.
async fn serve(engine: Engine) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = super::app(engine).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    Server { addr, task }
}

struct Server {
    addr: String,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// An engine over `store` with `config`.
fn engine(store: &MemoryStore, config: ConfigBuilder) -> Engine {
    Engine::builder(store.clone())
        .with_config(config.build().unwrap())
        .build()
}

/// The only stored session's client info.
async fn recorded(store: &MemoryStore) -> Option<ClientInfo> {
    let now = time::OffsetDateTime::now_utc();
    let list = store
        .listing()
        .unwrap()
        .list_boxed(now, None, 10)
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].meta.client.clone()
}

/// The session cookie a response set.
fn cookie(res: &Response) -> String {
    let set = res.set_cookies();
    assert_eq!(set.len(), 1, "{:?}", res.headers);
    set[0].split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn ip_user_agent_and_label_are_recorded() {
    let store = MemoryStore::new();
    let server = serve(engine(&store, Config::builder())).await;
    // A spoofed X-Forwarded-For from a peer that is not a trusted proxy is ignored.
    let res = send(
        &server.addr,
        "/s/visit",
        &[("User-Agent", FIREFOX), ("X-Forwarded-For", "203.0.113.9")],
    )
    .await;
    assert_eq!(res.status, 200);
    let c = recorded(&store).await.unwrap();
    assert_eq!(c.ip(), Some("127.0.0.1".parse().unwrap()));
    assert_eq!(c.user_agent(), Some(FIREFOX));
    assert_eq!(c.device(), "Firefox on Linux");

    // A later write from another client records it.
    let cookie = cookie(&res);
    send(
        &server.addr,
        "/s/visit",
        &[("Cookie", &cookie), ("User-Agent", "curl/8.5.0")],
    )
    .await;
    let c = recorded(&store).await.unwrap();
    assert_eq!(c.device(), "curl");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_recorded() {
    let store = MemoryStore::new();
    let config = Config::builder().trusted_proxies(["127.0.0.0/8"]);
    let server = serve(engine(&store, config)).await;
    send(
        &server.addr,
        "/s/visit",
        &[
            ("User-Agent", SAFARI_IOS),
            ("X-Forwarded-For", "198.51.100.1, 2001:db8::7, 127.0.0.5"),
        ],
    )
    .await;
    let c = recorded(&store).await.unwrap();
    assert_eq!(c.ip(), Some("2001:db8::7".parse().unwrap()));
    assert_eq!(c.device(), "Safari on iOS");
}

#[tokio::test]
async fn the_switch_off_records_nothing() {
    let store = MemoryStore::new();
    let config = Config::builder()
        .record_client_info(false)
        .trusted_proxies(["127.0.0.1"]);
    let server = serve(engine(&store, config)).await;
    let res = send(
        &server.addr,
        "/s/visit",
        &[("User-Agent", FIREFOX), ("X-Forwarded-For", "203.0.113.9")],
    )
    .await;
    assert_eq!(res.status, 200);
    assert_eq!(recorded(&store).await, None);
}

#[tokio::test]
async fn user_agent_binding_flushes_the_session() {
    let store = MemoryStore::new();
    let server = serve(engine(&store, Config::builder().bind_user_agent(true))).await;
    let res = send(&server.addr, "/s/visit", &[("User-Agent", FIREFOX)]).await;
    let cookie = cookie(&res);
    // The same browser: its session.
    let res = send(
        &server.addr,
        "/s/read",
        &[("Cookie", &cookie), ("User-Agent", FIREFOX)],
    )
    .await;
    assert_eq!(res.body, "count: 1");
    // The cookie in another browser: a new empty session, the old one deleted.
    let res = send(
        &server.addr,
        "/s/read",
        &[("Cookie", &cookie), ("User-Agent", SAFARI_IOS)],
    )
    .await;
    assert_eq!(res.body, "count: none");
    assert!(
        res.set_cookies().iter().any(|c| c.contains("Max-Age=0")),
        "{:?}",
        res.headers
    );
    assert!(store.is_empty());
}
