//! The `signed_cookies` engine: cookie values and the age boundary.

use std::sync::Arc;

use sessionkit_core::{ClientStore, Config, Data, Engine, ManualClock};
use sessionkit_django::SignedCookieStore;
use sessionkit_django::cookie_store::SIGNED_COOKIES_SALT;
use sessionkit_django::signing::Secrets;

use crate::signing::check_dumps_record;
use crate::vectors::{SECRET_KEY, at, field, int_of, map_of, records};

pub(crate) const FUNCTIONS: &[&str] = &["signed_cookies.cookie_value", "signed_cookies.load"];

#[test]
fn cookie_values_match_django() {
    let store = SignedCookieStore::new(&Secrets::new(SECRET_KEY));
    let rs = records("signed_cookies.cookie_value");
    assert_eq!(rs.len(), 7);
    for r in rs {
        assert_eq!(r.input_str("salt"), SIGNED_COOKIES_SALT);
        let session = r.input("session");
        check_dumps_record(r, session, SIGNED_COOKIES_SALT, true);
        let t = at(int_of(r.input("time")));
        let data = Data::from_map(map_of(session).clone());
        let ours = store.encode(&data, t).unwrap();
        let expected = r.output_str();
        if !expected.starts_with('.') {
            assert_eq!(ours, expected, "record {}", r.index);
        }
        assert_eq!(expected.len() as i64, int_of(field(&r.all, "cookie_len")));
        for value in [ours.as_str(), expected] {
            let contents = store.decode(value, t).unwrap();
            assert_eq!(
                contents.data.to_map(),
                *map_of(session),
                "record {}",
                r.index
            );
            assert_eq!(contents.issued_at, t);
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn load_is_valid_for_exactly_the_cookie_age() {
    let rs = records("signed_cookies.load");
    assert_eq!(rs.len(), 2);
    for r in rs {
        let age = int_of(r.input("SESSION_COOKIE_AGE"));
        let now = at(int_of(r.input("now")));
        let value = r.input_str("cookie_value");
        let expected = map_of(&r.output);

        // The store with Django's max_age...
        let max_age = std::time::Duration::from_secs(u64::try_from(age).unwrap());
        let store = SignedCookieStore::new(&Secrets::new(SECRET_KEY)).with_max_age(max_age);
        let got = store
            .decode(value, now)
            .map(|c| c.data.to_map())
            .unwrap_or_default();
        assert_eq!(got, *expected, "store, now = {now}");

        // ...and the engine, which applies SESSION_COOKIE_AGE to the store's issued_at.
        let config = Config::builder().cookie_age(age).build().unwrap();
        let engine = Engine::client_builder(SignedCookieStore::new(&Secrets::new(SECRET_KEY)))
            .with_config(config)
            .with_clock(Arc::new(ManualClock::new(now)))
            .build();
        let req = engine.begin(Some(&format!("sessionid={value}")));
        let session = req.load().await.unwrap();
        let got: sessionkit_core::value::Map = session.items().into_iter().collect();
        assert_eq!(got, *expected, "engine, now = {now}");
    }
}

/// The client-side profile of the conformance suite (what a cookie store can and cannot
/// promise; the limits are asserted, not hidden).
mod client_profile {
    use sessionkit_django::SignedCookieStore;
    use sessionkit_django::signing::Secrets;

    sessionkit_testkit::client_conformance_tests!(SignedCookieStore::new(&Secrets::new(
        "client-profile-secret"
    )));
}
