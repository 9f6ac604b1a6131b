//! The interop scenarios, run for every Django engine: each side writes what the other
//! reads and updates, with data Django's JSON can hold but strict JSON can't, expiry set
//! on either side, Django's login and password changes, key cycling, and secret rotation.

use std::sync::Arc;

use sessionkit_core::value::Map;
use sessionkit_core::{Config, Engine, Expiry, Session, Value, json, pytime};
use sessionkit_django::Secrets;
use sessionkit_django::auth::{AuthHasher, AuthState, authenticate};
use time::OffsetDateTime;

use crate::django::{Django, SECRET, text};

/// The Rust side of one engine: an engine over the store Django uses, for given secrets.
pub(crate) type MakeEngine = Arc<dyn Fn(&Secrets) -> Engine + Send + Sync>;

/// Django and the Rust engine on one store.
pub(crate) struct Pair {
    pub(crate) django: Django,
    pub(crate) make: MakeEngine,
    /// Whether the store is client-side (the "key" is the cookie value, and an old cookie
    /// cannot be revoked).
    pub(crate) client_side: bool,
}

impl Pair {
    /// Django and a server-side store: `make` builds the Rust side for given secrets, and
    /// `guard` (temp files, the driver's `teardown`) lives as long as the pair.
    pub(crate) fn new(
        django: Django,
        guard: impl Send + Sync + 'static,
        make: impl Fn(&Secrets) -> Engine + Send + Sync + 'static,
    ) -> Pair {
        Pair {
            django,
            make: Arc::new(move |secrets: &Secrets| {
                let _ = &guard;
                make(secrets)
            }),
            client_side: false,
        }
    }

    pub(crate) fn engine(&self) -> Engine {
        (self.make)(&Secrets::new(SECRET))
    }

    /// A Rust request carrying `key`; `f` runs with the loaded session. Returns the key
    /// the client holds afterwards (`None` when the cookie was removed).
    async fn rust(
        &self,
        engine: &Engine,
        key: Option<&str>,
        f: impl FnOnce(&Session),
    ) -> Option<String> {
        match request(engine, key, f).await {
            Some(set) => set,
            None => key.map(str::to_owned),
        }
    }

    /// The session Rust sees for `key`, as a map (`None`: no session).
    pub(crate) async fn rust_read(&self, engine: &Engine, key: &str) -> Option<Map> {
        let mut got = None;
        self.rust(engine, Some(key), |s| {
            if !s.is_empty() || s.key().is_some() {
                got = Some(s.items().into_iter().collect());
            }
        })
        .await;
        got
    }

    fn django_read(&self, key: &str) -> Option<Map> {
        django_read(&self.django, key, self.client_side)
    }
}

/// A Rust request carrying the session `key`; `f` runs with the loaded session. Returns the
/// session cookie the response set: `None` for none, `Some(None)` for its removal.
pub(crate) async fn request(
    engine: &Engine,
    key: Option<&str>,
    f: impl FnOnce(&Session),
) -> Option<Option<String>> {
    let cookie = key.map(|k| format!("sessionid={k}"));
    let req = engine.begin(cookie.as_deref());
    let session = req.load().await.expect("load");
    f(&session);
    let out = req.finish(200).await;
    assert!(out.failure.is_none(), "{:?}", out.failure);
    out.set_cookie.first().map(|c| {
        (!c.contains("Max-Age=0")).then(|| {
            c.split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_owned()
        })
    })
}

/// Django's `read` of `key`: the data, or `None` for no session. A client-side session
/// "exists" whenever its cookie verifies.
pub(crate) fn django_read(django: &Django, key: &str, client_side: bool) -> Option<Map> {
    let r = django.call(&["read", "--key", key]);
    match (r.get("exists"), r.get("data")) {
        (Some(Value::Bool(true)), Some(Value::Map(m))) => Some(m.clone()),
        (_, Some(Value::Map(m))) if client_side && !m.is_empty() => Some(m.clone()),
        _ => None,
    }
}

/// What Django's JSON holds and strict JSON cannot, plus a payload big enough to be stored
/// compressed.
pub(crate) fn rich_data_json() -> String {
    format!(
        r#"{{"count":1,"unicode":"caf\u00e9 \u65e5\u672c \ud83d\udc4d","nested":{{"a":[1,{{"b":null}}],"t":true}},"big":1180591620717411303424,"neg":-18446744073709551617,"nan":NaN,"inf":Infinity,"ninf":-Infinity,"float":0.1,"exp":1e+16,"large":"{}"}}"#,
        "sessionkit ".repeat(400)
    )
}

/// Equality with NaN equal to NaN.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fn assert_rich(m: &Map) {
    let Value::Map(want) = json::parse(&rich_data_json()).unwrap() else {
        unreachable!()
    };
    for (k, v) in &want {
        let got = m.get(k).unwrap_or_else(|| panic!("{k} missing from {m:?}"));
        assert!(same(got, v), "{k}: {got:?} != {v:?}");
    }
}

/// Django writes → Rust reads and updates → Django reads the update.
pub(crate) async fn django_writes_rust_updates(pair: &Pair) {
    let engine = pair.engine();
    let key = text(
        &pair.django.call(&["create", "--data", &rich_data_json()]),
        "key",
    );
    let seen = pair
        .rust_read(&engine, &key)
        .await
        .expect("Rust reads Django's session");
    assert_rich(&seen);
    let key = pair
        .rust(&engine, Some(&key), |s| {
            s.update_with("count", |n: Option<u64>| n.unwrap_or(0) + 1)
                .unwrap();
            s.insert("from_rust", "héllo").unwrap();
        })
        .await
        .expect("still a session");
    let back = pair.django_read(&key).expect("Django reads the update");
    assert_eq!(back.get("count"), Some(&Value::Int(2)));
    assert_eq!(back.get("from_rust"), Some(&Value::from("héllo")));
    assert_rich(&{
        let mut b = back.clone();
        b.insert("count".into(), Value::Int(1));
        b
    });
}

/// Rust writes → Django reads and updates → Rust reads the update.
pub(crate) async fn rust_writes_django_updates(pair: &Pair) {
    let engine = pair.engine();
    let Value::Map(rich) = json::parse(&rich_data_json()).unwrap() else {
        unreachable!()
    };
    let key = pair
        .rust(&engine, None, |s| {
            for (k, v) in &rich {
                s.insert_value(k, v.clone()).unwrap();
            }
        })
        .await
        .expect("a new session");
    let seen = pair.django_read(&key).expect("Django reads Rust's session");
    assert_rich(&seen);
    let updated = pair.django.call(&[
        "update",
        "--key",
        &key,
        "--set",
        r#"{"count": 5, "from_django": [1, 2]}"#,
        "--delete",
        "float",
    ]);
    let key = text(&updated, "key");
    let back = pair
        .rust_read(&engine, &key)
        .await
        .expect("Rust reads Django's update");
    assert_eq!(back.get("count"), Some(&Value::Int(5)));
    assert_eq!(
        back.get("from_django"),
        Some(&Value::List(vec![Value::Int(1), Value::Int(2)]))
    );
    assert!(!back.contains_key("float"));
    assert!(same(back.get("nan").unwrap(), &Value::Float(f64::NAN)));
}

/// Expiry set on either side is honoured by the other: seconds, a date, browser close,
/// and an expiry in the past.
pub(crate) async fn expiry_both_ways(pair: &Pair) {
    let engine = pair.engine();
    // Django sets 600 s: Rust sees it.
    let key = text(
        &pair.django.call(&["create", "--data", r#"{"n": 1}"#]),
        "key",
    );
    let key = text(
        &pair
            .django
            .call(&["set-expiry", "--key", &key, "--seconds", "600"]),
        "key",
    );
    let mut age = 0;
    pair.rust(&engine, Some(&key), |s| age = s.expiry_age())
        .await;
    assert!((595..=600).contains(&age), "{age}");
    // Rust sets an absolute date: Django sees the same instant.
    let at = OffsetDateTime::now_utc() + time::Duration::hours(3);
    let at = at.replace_nanosecond(0).unwrap();
    let key = pair
        .rust(&engine, Some(&key), |s| s.set_expiry(Expiry::At(at)))
        .await
        .unwrap();
    let r = pair.django.call(&["read", "--key", &key]);
    let django_date = pytime::fromisoformat(&text(&r, "expiry_date"))
        .unwrap()
        .assume_utc();
    assert_eq!(django_date, at);
    // Browser close, both ways.
    let key = pair
        .rust(&engine, Some(&key), |s| s.set_expiry(Expiry::BrowserClose))
        .await
        .unwrap();
    let r = pair.django.call(&["read", "--key", &key]);
    assert_eq!(r.get("expire_at_browser_close"), Some(&Value::Bool(true)));
    let key = text(
        &pair.django.call(&["set-expiry", "--key", &key, "--none"]),
        "key",
    );
    let key = text(
        &pair
            .django
            .call(&["set-expiry", "--key", &key, "--browser-close"]),
        "key",
    );
    let mut bc = false;
    pair.rust(&engine, Some(&key), |s| bc = s.expire_at_browser_close())
        .await;
    assert!(bc);
    // Already expired, set by Django: Rust sees no session.
    let gone = text(
        &pair.django.call(&["create", "--data", r#"{"n": 2}"#]),
        "key",
    );
    let gone = text(
        &pair
            .django
            .call(&["set-expiry", "--key", &gone, "--delta", "-10"]),
        "key",
    );
    assert_eq!(
        pair.rust_read(&engine, &gone).await,
        None,
        "expired by Django's date"
    );
    // Already expired, set by Rust: Django sees no session.
    let key = pair
        .rust(&engine, None, |s| s.insert("n", 3).unwrap())
        .await
        .unwrap();
    let key = pair
        .rust(&engine, Some(&key), |s| {
            s.set_expiry(Expiry::At(
                OffsetDateTime::now_utc() - time::Duration::seconds(10),
            ))
        })
        .await;
    // Django's signed_cookies engine ignores a session's own expiry (Django ticket #19201):
    // only the cookie age counts there. Our side enforces both.
    if let (Some(key), false) = (key, pair.client_side) {
        assert_eq!(pair.django_read(&key), None, "expired by Rust's date");
    }
}

/// A session created by Django's `auth.login` is that user on the Rust side, until the
/// password changes in Django.
pub(crate) async fn login_and_password_change(pair: &Pair) {
    let engine = pair.engine();
    let user = format!("user{}", sessionkit_core::SessionKey::generate().as_str());
    let login = pair.django.call(&["login", "--new", "--user", &user]);
    let key = text(&login, "key");
    let hasher = AuthHasher::new(&Secrets::new(SECRET));
    let password = text(
        &pair.django.call(&["password-hash", "--user", &user]),
        "password",
    );
    let user_id = text(&login, "user_id");
    let mut state = None;
    let key = pair
        .rust(&engine, Some(&key), |s| {
            state = Some(
                authenticate(s, &hasher, |id| (id == user_id).then(|| password.clone())).unwrap(),
            );
        })
        .await
        .expect("still logged in");
    assert_eq!(state, Some(AuthState::User(user_id.clone())));
    // The password changes in Django: Rust logs the session out.
    pair.django.call(&[
        "set-password",
        "--user",
        &user,
        "--password",
        "changed-password",
    ]);
    let password = text(
        &pair.django.call(&["password-hash", "--user", &user]),
        "password",
    );
    let mut state = None;
    let after = pair
        .rust(&engine, Some(&key), |s| {
            state = Some(authenticate(s, &hasher, |_| Some(password.clone())).unwrap());
        })
        .await;
    assert_eq!(state, Some(AuthState::LoggedOut));
    assert_eq!(after, None, "the cookie is removed");
    if !pair.client_side {
        let who = pair.django.call(&["whoami", "--key", &key]);
        assert_eq!(who.get("user"), Some(&Value::Null));
    }
}

/// `cycle_key` on one side; the other side rejects the old key and reads the new one.
pub(crate) async fn cycle_both_ways(pair: &Pair) {
    let engine = pair.engine();
    let old = text(
        &pair
            .django
            .call(&["create", "--data", r#"{"cart": [1, 2]}"#]),
        "key",
    );
    let new = text(&pair.django.call(&["cycle", "--key", &old]), "key");
    // Django's signed_cookies `cycle_key` only re-signs: within the same second the value
    // is the same.
    if !pair.client_side {
        assert_ne!(old, new);
    }
    let got = pair.rust_read(&engine, &new).await.expect("new key");
    assert_eq!(
        got.get("cart"),
        Some(&Value::List(vec![Value::Int(1), Value::Int(2)]))
    );
    if !pair.client_side {
        assert_eq!(
            pair.rust_read(&engine, &old).await,
            None,
            "Django's old key is gone"
        );
    }
    let newer = pair
        .rust(&engine, Some(&new), Session::cycle_key)
        .await
        .unwrap();
    if !pair.client_side {
        assert_ne!(newer, new);
    }
    assert!(pair.django_read(&newer).is_some());
    if !pair.client_side {
        assert_eq!(pair.django_read(&new), None, "Rust's old key is gone");
    }
}

/// A session signed with an old secret is read through the fallback list, on both sides.
pub(crate) async fn fallback_keys(pair: &Pair) {
    let old = pair.django.clone().with("SK_SECRET_KEY", "the-old-secret");
    let key = text(&old.call(&["create", "--data", r#"{"n": 7}"#]), "key");
    // Rust with a new key and the old one as a fallback reads it, and re-signs with the
    // new key when it saves.
    let rotated = (pair.make)(&Secrets::new(SECRET).with_fallback("the-old-secret"));
    let got = pair
        .rust_read(&rotated, &key)
        .await
        .expect("read through the fallback");
    assert_eq!(got.get("n"), Some(&Value::Int(7)));
    let key = pair
        .rust(&rotated, Some(&key), |s| s.insert("n", 8).unwrap())
        .await
        .unwrap();
    // Django with only the new key reads Rust's write.
    let back = pair.django_read(&key).expect("signed with the new key");
    assert_eq!(back.get("n"), Some(&Value::Int(8)));
}

/// Without the old secret among the fallbacks, Rust does not read a session signed with it.
/// (Not for Django's `cached_db`, whose cache is not signed: its own test.)
pub(crate) async fn removed_secrets_read_nothing(pair: &Pair) {
    let old = pair.django.clone().with("SK_SECRET_KEY", "the-old-secret");
    let key2 = text(&old.call(&["create", "--data", r#"{"n": 9}"#]), "key");
    assert_eq!(pair.rust_read(&pair.engine(), &key2).await, None);
}

/// Engine settings matching the driver's Django settings.
pub(crate) fn config() -> Config {
    Config::default()
}

/// Generates one test per scenario for a module that defines `async fn pair() ->
/// Option<Pair>`.
#[macro_export]
macro_rules! scenarios {
    () => {
        $crate::scenarios!(@each
            django_writes_rust_updates,
            rust_writes_django_updates,
            expiry_both_ways,
            login_and_password_change,
            cycle_both_ways,
            fallback_keys,
            removed_secrets_read_nothing
        );
    };
    (@each $($name:ident),*) => {
        $crate::tokio_tests!($($name => async {
            let Some(pair) = pair().await else { return };
            $crate::scenarios::$name(&pair).await;
        }),*);
    };
}

/// One `#[tokio::test]` (multi-threaded, two workers) per `name`, awaiting the future
/// `body`: what every generated test of this crate is.
#[macro_export]
macro_rules! tokio_tests {
    ($($name:ident => $body:expr),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $body.await;
        }
    )*};
}
