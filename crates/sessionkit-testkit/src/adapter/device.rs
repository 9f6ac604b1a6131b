//! Device metadata through an adapter (issue 19): the peer address, the user agent and its
//! label recorded on a memory store; `X-Forwarded-For` believed only from a trusted proxy;
//! the recording switch; the user-agent binding. Run by
//! [`adapter_device_tests!`](crate::adapter_device_tests); the adapter's server must hand
//! the engine the socket's peer address (axum: `into_make_service_with_connect_info`).

use sessionkit_core::store::Page;
use sessionkit_core::{ClientInfo, Config, ConfigBuilder, Engine, MemoryStore, SessionStore};

use super::{Adapter, Server};
use crate::http::{Response, send};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1";

/// An engine over `store` with `config`.
fn engine(store: &MemoryStore, config: ConfigBuilder) -> Engine {
    Engine::builder(store.clone())
        .with_config(config.build().unwrap())
        .build()
}

/// The client info of the only session `store` holds at `now` (asserting there is one).
pub async fn stored_client(store: &MemoryStore, now: time::OffsetDateTime) -> Option<ClientInfo> {
    let list = store
        .listing()
        .unwrap()
        .list_boxed(Page::first(now, 10))
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    list[0].meta.client.clone()
}

/// [`stored_client`] now.
async fn recorded(store: &MemoryStore) -> Option<ClientInfo> {
    stored_client(store, time::OffsetDateTime::now_utc()).await
}

/// A server of `a` over a fresh memory store with `config`, and its first `/s/visit`
/// with `headers`.
async fn first_visit(
    a: &impl Adapter,
    config: ConfigBuilder,
    headers: &[(&str, &str)],
) -> (MemoryStore, Server, Response) {
    let store = MemoryStore::new();
    let server = a.serve(engine(&store, config)).await;
    let res = send(&server.addr, "/s/visit", headers).await;
    (store, server, res)
}

/// The session cookie a response set.
fn cookie(res: &Response) -> String {
    let set = res.set_cookies();
    assert_eq!(set.len(), 1, "{:?}", res.headers);
    set[0].split(';').next().unwrap().to_owned()
}

/// The peer's IP, the user agent and its label are recorded; a spoofed `X-Forwarded-For`
/// from an untrusted peer is ignored; a later write records the later client.
pub async fn ip_user_agent_and_label_are_recorded(a: &impl Adapter) {
    // A spoofed X-Forwarded-For from a peer that is not a trusted proxy is ignored.
    let spoofed = [("User-Agent", FIREFOX), ("X-Forwarded-For", "203.0.113.9")];
    let (store, server, res) = first_visit(a, Config::builder(), &spoofed).await;
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

/// Behind a trusted proxy, the rightmost `X-Forwarded-For` entry that is not itself a
/// trusted proxy is recorded.
pub async fn behind_a_trusted_proxy_the_forwarded_client_is_recorded(a: &impl Adapter) {
    let config = Config::builder().trusted_proxies(["127.0.0.0/8"]);
    let forwarded = [
        ("User-Agent", SAFARI_IOS),
        ("X-Forwarded-For", "198.51.100.1, 2001:db8::7, 127.0.0.5"),
    ];
    let (store, _server, _) = first_visit(a, config, &forwarded).await;
    let c = recorded(&store).await.unwrap();
    assert_eq!(c.ip(), Some("2001:db8::7".parse().unwrap()));
    assert_eq!(c.device(), "Safari on iOS");
}

/// With `record_client_info(false)` nothing is recorded, headers or not.
pub async fn the_switch_off_records_nothing(a: &impl Adapter) {
    let config = Config::builder()
        .record_client_info(false)
        .trusted_proxies(["127.0.0.1"]);
    let headers = [("User-Agent", FIREFOX), ("X-Forwarded-For", "203.0.113.9")];
    let (store, _server, res) = first_visit(a, config, &headers).await;
    assert_eq!(res.status, 200);
    assert_eq!(recorded(&store).await, None);
}

/// With `bind_user_agent(true)`, the cookie presented by another user agent gets a new,
/// empty session and the old one is deleted.
pub async fn user_agent_binding_flushes_the_session(a: &impl Adapter) {
    let config = Config::builder().bind_user_agent(true);
    let (store, server, res) = first_visit(a, config, &[("User-Agent", FIREFOX)]).await;
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
