//! A fixed number of returning visits through the engine on the memory store, for
//! instruction counts under `valgrind --tool=callgrind` (which criterion's variable
//! iteration counts make hard to read). Run it twice with different counts and divide the
//! difference: that removes the setup.
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/engine-visits 20000
//! ```
//!
//! With `--client` among the arguments, each visit starts as an adapter starts it: with a
//! peer address and a desktop browser's `User-Agent`, so the device metadata (recorded by
//! default) is in the count. With `--redis URL`, the store is a `RedisStore` on that server
//! (a fresh key prefix per run): the count is then this process's side of a Redis visit —
//! the engine, the command encoding and the reply parsing —, not the Redis server's. With
//! `--cookie`, the store is Django's signed cookie (`SignedCookieStore`): the count is then
//! the whole server side of a cookie visit — verifying and decoding the incoming cookie,
//! encoding and signing the new one.

use std::net::{IpAddr, Ipv4Addr};

use sessionkit_core::{Config, Engine, MemoryStore, RequestSession};
use sessionkit_django::{Secrets, SignedCookieStore};
use sessionkit_redis::RedisStore;

const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

fn begin(engine: &Engine, cookie: Option<&str>, client: bool) -> RequestSession {
    if client {
        engine.begin_from_headers_with_client(
            cookie,
            |name| {
                name.eq_ignore_ascii_case("user-agent")
                    .then_some(USER_AGENT)
            },
            Some(PEER),
            || None::<&str>,
        )
    } else {
        engine.begin(cookie)
    }
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let args: Vec<String> = std::env::args().collect();
    let client = args.iter().any(|a| a == "--client");
    let redis = args
        .iter()
        .position(|a| a == "--redis")
        .and_then(|i| args.get(i + 1).cloned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let cookie_store = args.iter().any(|a| a == "--cookie");
    if cookie_store && redis.is_some() {
        eprintln!("engine-visits: --cookie and --redis name two stores; give one");
        std::process::exit(2);
    }
    let engine = match redis {
        None if cookie_store => Engine::client_side(
            SignedCookieStore::new(&Secrets::new("engine-visits secret key, not secret")),
            Config::default(),
        ),
        None => Engine::new(MemoryStore::new(), Config::default()),
        Some(url) => {
            let prefix = format!("engine-visits:{}:", std::process::id());
            let store = runtime
                .block_on(RedisStore::builder(&url).with_prefix(prefix).connect())
                .unwrap_or_else(|e| panic!("redis: {e}"));
            Engine::new(store, Config::default())
        }
    };
    runtime.block_on(async {
        let req = begin(&engine, None, client);
        let session = req.load().await.unwrap_or_else(|e| panic!("load: {e}"));
        session
            .insert("count", 1u64)
            .unwrap_or_else(|e| panic!("insert: {e}"));
        let out = req.finish(200).await;
        let mut cookie = first_pair(&out.set_cookie[0]);
        for _ in 0..n {
            let req = begin(&engine, Some(std::hint::black_box(&cookie)), client);
            let session = req.load().await.unwrap_or_else(|e| panic!("load: {e}"));
            let c: u64 = session.get("count").ok().flatten().unwrap_or(0) + 1;
            session
                .insert("count", c)
                .unwrap_or_else(|e| panic!("insert: {e}"));
            let out = std::hint::black_box(req.finish(200).await);
            // The cookie store sends a new cookie on every change; the others keep theirs.
            if let Some(set) = out.set_cookie.first() {
                cookie = first_pair(set);
            }
        }
    });
}

/// `name=value` of a `Set-Cookie` header: what the browser sends back.
fn first_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().to_owned()
}
