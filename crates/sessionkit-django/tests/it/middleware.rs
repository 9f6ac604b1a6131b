//! The `middleware` records: Set-Cookie and Vary as Django sends them, reproduced by the
//! core engine over [`SignedCookieStore`] (and over the memory store for the two `db`
//! cases).

use std::sync::Arc;

use sessionkit_core::value::Value;
use sessionkit_core::{
    ClientStore, Config, Data, Engine, ManualClock, MemoryStore, Outcome, SameSite, cookie,
};
use sessionkit_django::SignedCookieStore;
use sessionkit_django::signing::Secrets;

use crate::vectors::{SECRET_KEY, at, field, int_of, map_of, records, str_of};

pub(crate) const FUNCTIONS: &[&str] = &["middleware"];

/// The signed counter cookie at T1 (record `signed_cookies.cookie_value`, counter).
const COUNTER: &str = "eyJjb3VudCI6MX0:1vb66i:vPveSJk7gRPYYVYUVeAWsF9lBLpdvaxex_Gla6cYAPM";

fn config_for(case: &str) -> Config {
    let mut config = Config::builder();
    match case {
        "new session modified, SESSION_COOKIE_SECURE, SAMESITE=None, DOMAIN, PATH" => {
            config = config
                .cookie_secure(true)
                .cookie_samesite(Some(SameSite::None))
                .cookie_domain(".example.com")
                .cookie_path("/app");
        }
        "new session modified, SESSION_EXPIRE_AT_BROWSER_CLOSE" => {
            config = config.expire_at_browser_close(true);
        }
        "new session modified, HTTPONLY False, SAMESITE False" => {
            config = config.cookie_httponly(false).cookie_samesite(None);
        }
        _ => {}
    }
    config.build().unwrap()
}

async fn run(case: &str, engine_name: &str, now: i64) -> Outcome {
    let clock = Arc::new(ManualClock::new(at(now)));
    let config = config_for(case);
    let engine = match engine_name {
        "signed_cookies" => {
            Engine::client_builder(SignedCookieStore::new(&Secrets::new(SECRET_KEY)))
        }
        "db" => Engine::builder(MemoryStore::new()),
        other => panic!("unexpected engine {other}"),
    }
    .with_config(config)
    .with_clock(clock)
    .build();

    let cookie = format!("sessionid={COUNTER}");
    let unknown = "sessionid=unknownkey0000000000000000000000000";
    match case {
        c if c.starts_with("new session modified") => {
            let req = engine.begin(None);
            let s = req.load().await.unwrap();
            s.insert_value("count", Value::Int(1)).unwrap();
            req.finish(200).await
        }
        "flush with incoming cookie" => {
            let req = engine.begin(Some(&cookie));
            req.load().await.unwrap().flush();
            req.finish(200).await
        }
        "flush without incoming cookie" => {
            let req = engine.begin(None);
            req.load().await.unwrap().flush();
            req.finish(200).await
        }
        "session read only, no cookie" => {
            let req = engine.begin(None);
            let _ = req.load().await.unwrap().get_value("count");
            req.finish(200).await
        }
        "session untouched" => engine.begin(None).finish(200).await,
        "untouched, unknown cookie presented, db engine" => {
            engine.begin(Some(unknown)).finish(200).await
        }
        "read, unknown cookie presented, db engine" => {
            let req = engine.begin(Some(unknown));
            let _ = req.load().await.unwrap().get_value("count");
            req.finish(200).await
        }
        other => panic!("unexpected middleware case {other}"),
    }
}

/// Django's removal cookie, with the one deliberate difference (docs/CONFORMANCE.md,
/// "Removal cookie"): sessionkit repeats the session cookie's `HttpOnly` (and `Secure`) on
/// it. These vectors use Django's defaults: `HttpOnly`, not `Secure`.
fn with_our_removal_attributes(set_cookie: &str) -> String {
    if set_cookie.contains("Max-Age=0") {
        set_cookie.replacen("; Max-Age=0", "; HttpOnly; Max-Age=0", 1)
    } else {
        set_cookie.to_owned()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn set_cookie_and_vary_match_django() {
    let rs = records("middleware");
    assert_eq!(rs.len(), 10);
    for r in rs {
        let case = r.input_str("case");
        let engine = r.input_str("engine");
        let now = int_of(r.input("time"));
        let out = map_of(&r.output);
        assert_eq!(int_of(field(out, "status")), 200);
        let Value::List(want) = field(out, "set_cookie") else {
            panic!("set_cookie: not a list")
        };
        let want: Vec<String> = want
            .iter()
            .map(str_of)
            .map(with_our_removal_attributes)
            .collect();
        let vary = match field(out, "vary") {
            Value::Null => false,
            v => {
                assert_eq!(str_of(v), "Cookie");
                true
            }
        };

        if case.starts_with("new session modified") {
            // Our cookie value inside the header the core builds for this configuration.
            let config = config_for(case);
            let store = SignedCookieStore::new(&Secrets::new(SECRET_KEY));
            let mut data = Data::new();
            data.insert("count", Value::Int(1));
            let value = store.encode(&data, at(now)).unwrap();
            assert_eq!(value, COUNTER);
            let max_age = (!config.expire_at_browser_close()).then_some(config.cookie_age());
            let header = cookie::set_cookie(&config, &value, max_age, at(now));
            assert_eq!(vec![header], want, "{case}");
        }

        let got = run(case, engine, now).await;
        assert!(got.failure.is_none(), "{case}: {:?}", got.failure);
        assert_eq!(got.set_cookie, want, "{case}");
        assert_eq!(got.vary_cookie, vary, "{case}");
    }
}

#[tokio::test(flavor = "current_thread")]
/// Regression: a new session on a client-side store was planned as a server-side create
/// (a 500) instead of being written into its cookie.
async fn engine_encodes_new_client_side_sessions() {
    for r in records("middleware") {
        let case = r.input_str("case");
        if !case.starts_with("new session modified") {
            continue;
        }
        let got = run(case, r.input_str("engine"), int_of(r.input("time"))).await;
        assert!(got.failure.is_none(), "{case}: {:?}", got.failure);
        let Value::List(want) = field(map_of(&r.output), "set_cookie") else {
            panic!("set_cookie: not a list")
        };
        let want: Vec<&str> = want.iter().map(str_of).collect();
        assert_eq!(got.set_cookie, want, "{case}");
    }
}
