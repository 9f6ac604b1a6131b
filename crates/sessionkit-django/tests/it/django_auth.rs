//! `DjangoAuth`: Django's `get_user`, `authenticate`, `login`, `logout` and
//! `update_session_auth_hash` rules over an in-memory loader and a real engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sessionkit_core::{Engine, MemoryStore, Session, Value};
use sessionkit_django::auth::hashers::make_pbkdf2_sha256;
use sessionkit_django::auth::{
    BACKEND_SESSION_KEY, CurrentUser, DjangoAuth, HASH_SESSION_KEY, LoaderError, LoaderFuture,
    MODEL_BACKEND, SESSION_KEY, User, UserLoader, session_auth_hash,
};
use sessionkit_django::csrf::{CSRF_SESSION_KEY, is_valid_secret};
use sessionkit_django::signing::Secrets;
use time::OffsetDateTime;

const SECRET: &str = "django-secret";

#[derive(Clone, Default)]
struct Users {
    users: Arc<Mutex<HashMap<String, User>>>,
    fail: Arc<Mutex<bool>>,
    logins: Arc<Mutex<Vec<String>>>,
}

impl Users {
    fn add(&self, id: &str, name: &str, password: &str, active: bool) -> User {
        let user = User {
            id: id.into(),
            username: name.into(),
            password: make_pbkdf2_sha256(password, &format!("salt{id}"), 1000),
            is_active: active,
        };
        self.users.lock().unwrap().insert(id.into(), user.clone());
        user
    }
    fn check(&self) -> Result<(), LoaderError> {
        if *self.fail.lock().unwrap() {
            Err(LoaderError::new("database down"))
        } else {
            Ok(())
        }
    }
}

impl UserLoader for Users {
    fn by_id<'a>(&'a self, id: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(async move {
            self.check()?;
            Ok(self.users.lock().unwrap().get(id).cloned())
        })
    }
    fn by_username<'a>(&'a self, name: &'a str) -> LoaderFuture<'a, Option<User>> {
        Box::pin(async move {
            self.check()?;
            Ok(self
                .users
                .lock()
                .unwrap()
                .values()
                .find(|u| u.username == name)
                .cloned())
        })
    }
    fn update_last_login<'a>(&'a self, id: &'a str, _at: OffsetDateTime) -> LoaderFuture<'a, bool> {
        Box::pin(async move {
            self.check()?;
            self.logins.lock().unwrap().push(id.to_owned());
            Ok(true)
        })
    }
}

fn setup() -> (Engine, Users, DjangoAuth) {
    let users = Users::default();
    let auth = DjangoAuth::new(&Secrets::new(SECRET), users.clone());
    (Engine::builder(MemoryStore::new()).build(), users, auth)
}

/// A stored session holding `data`; its cookie header.
async fn stored(engine: &Engine, data: &[(&str, &str)]) -> String {
    let req = engine.begin(None);
    let s = req.load().await.unwrap();
    for (k, v) in data {
        s.insert(k, *v).unwrap();
    }
    let out = req.finish(200).await;
    out.set_cookie[0].split(';').next().unwrap().to_owned()
}

async fn open(engine: &Engine, cookie: &str) -> (sessionkit_core::RequestSession, Session) {
    let req = engine.begin(Some(cookie));
    let s = req.load().await.unwrap();
    (req, s)
}

fn key_of(cookie: &str) -> String {
    cookie.split_once('=').unwrap().1.to_owned()
}

#[tokio::test]
async fn get_user_follows_django() {
    let (engine, users, auth) = setup();
    let alice = users.add("1", "alice", "pw", true);
    let hash = session_auth_hash(SECRET, &alice.password);

    // Verified user.
    let cookie = stored(
        &engine,
        &[
            (SESSION_KEY, "1"),
            (BACKEND_SESSION_KEY, MODEL_BACKEND),
            (HASH_SESSION_KEY, &hash),
        ],
    )
    .await;
    let (_, s) = open(&engine, &cookie).await;
    let who = auth.get_user(&s).await.unwrap();
    assert_eq!(who.id(), Some("1"));
    assert!(matches!(&who, CurrentUser::User { backend, .. } if backend == MODEL_BACKEND));
    assert!(!s.modified());

    // No backend, or a backend not in the list: anonymous, untouched.
    for backend in [None, Some("other.Backend")] {
        let mut data = vec![(SESSION_KEY, "1"), (HASH_SESSION_KEY, hash.as_str())];
        if let Some(b) = backend {
            data.push((BACKEND_SESSION_KEY, b));
        }
        let cookie = stored(&engine, &data).await;
        let (_, s) = open(&engine, &cookie).await;
        assert_eq!(auth.get_user(&s).await.unwrap(), CurrentUser::Anonymous);
        assert!(!s.modified() && s.len() == data.len());
    }
    // The backend is in a configured list.
    let custom = auth.clone().with_backends(["other.Backend"]);
    let cookie = stored(
        &engine,
        &[
            (SESSION_KEY, "1"),
            (BACKEND_SESSION_KEY, "other.Backend"),
            (HASH_SESSION_KEY, &hash),
        ],
    )
    .await;
    let (_, s) = open(&engine, &cookie).await;
    assert_eq!(custom.get_user(&s).await.unwrap().id(), Some("1"));

    // Missing or inactive user: anonymous without a flush.
    users.add("2", "bob", "pw", false);
    for id in ["2", "99", "not-a-number"] {
        let cookie = stored(
            &engine,
            &[
                (SESSION_KEY, id),
                (BACKEND_SESSION_KEY, MODEL_BACKEND),
                (HASH_SESSION_KEY, &hash),
            ],
        )
        .await;
        let (_, s) = open(&engine, &cookie).await;
        assert_eq!(auth.get_user(&s).await.unwrap(), CurrentUser::Anonymous);
        assert!(!s.modified() && s.len() == 3, "{id}");
    }

    // Missing, empty or wrong hash: flushed.
    for data in [
        vec![(SESSION_KEY, "1"), (BACKEND_SESSION_KEY, MODEL_BACKEND)],
        vec![
            (SESSION_KEY, "1"),
            (BACKEND_SESSION_KEY, MODEL_BACKEND),
            (HASH_SESSION_KEY, ""),
        ],
        vec![
            (SESSION_KEY, "1"),
            (BACKEND_SESSION_KEY, MODEL_BACKEND),
            (HASH_SESSION_KEY, "0123"),
        ],
    ] {
        let cookie = stored(&engine, &data).await;
        let (req, s) = open(&engine, &cookie).await;
        assert_eq!(auth.get_user(&s).await.unwrap(), CurrentUser::Anonymous);
        assert!(s.is_empty());
        let out = req.finish(200).await;
        assert!(
            out.set_cookie[0].contains("Max-Age=0"),
            "{:?}",
            out.set_cookie
        );
    }
}

#[tokio::test]
async fn a_fallback_hash_rotates_the_key() {
    let (engine, users, _) = setup();
    let alice = users.add("1", "alice", "pw", true);
    let old = session_auth_hash("old-secret", &alice.password);
    let auth = DjangoAuth::new(
        &Secrets::new(SECRET).with_fallback("old-secret"),
        users.clone(),
    );
    let cookie = stored(
        &engine,
        &[
            (SESSION_KEY, "1"),
            (BACKEND_SESSION_KEY, MODEL_BACKEND),
            (HASH_SESSION_KEY, &old),
        ],
    )
    .await;
    let (req, s) = open(&engine, &cookie).await;
    assert_eq!(auth.get_user(&s).await.unwrap().id(), Some("1"));
    let new_key = s.key().unwrap();
    assert_ne!(new_key.as_str(), key_of(&cookie));
    assert_eq!(
        s.get_value(HASH_SESSION_KEY),
        Some(Value::String(session_auth_hash(SECRET, &alice.password)))
    );
    let out = req.finish(200).await;
    assert!(out.set_cookie[0].contains(new_key.as_str()));
}

#[tokio::test]
async fn a_loader_failure_decides_nothing() {
    let (engine, users, auth) = setup();
    let alice = users.add("1", "alice", "pw", true);
    let hash = session_auth_hash(SECRET, &alice.password);
    let cookie = stored(
        &engine,
        &[
            (SESSION_KEY, "1"),
            (BACKEND_SESSION_KEY, MODEL_BACKEND),
            (HASH_SESSION_KEY, &hash),
        ],
    )
    .await;
    *users.fail.lock().unwrap() = true;
    let (_, s) = open(&engine, &cookie).await;
    assert!(auth.get_user(&s).await.is_err());
    assert!(!s.modified() && s.len() == 3);
    assert!(auth.authenticate("alice", "pw").await.is_err());
}

#[tokio::test]
async fn authenticate_checks_password_and_is_active() {
    let (_, users, auth) = setup();
    users.add("1", "alice", "pw", true);
    users.add("2", "bob", "pw", false);
    assert_eq!(
        auth.authenticate("alice", "pw").await.unwrap().unwrap().id,
        "1"
    );
    assert!(auth.authenticate("alice", "PW").await.unwrap().is_none());
    assert!(auth.authenticate("bob", "pw").await.unwrap().is_none());
}

#[tokio::test]
async fn login_writes_what_django_writes() {
    let (engine, users, auth) = setup();
    let alice = users.add("1", "alice", "pw", true);
    let bob = users.add("2", "bob", "pw", true);

    // Anonymous session with data: key cycled, data kept, three keys, CSRF rotated.
    let cookie = stored(&engine, &[("cart", "3"), (CSRF_SESSION_KEY, "old")]).await;
    let (req, s) = open(&engine, &cookie).await;
    auth.login(&s, &alice).await.unwrap();
    assert_ne!(s.key().unwrap().as_str(), key_of(&cookie));
    assert_eq!(s.get_value("cart"), Some(Value::from("3")));
    assert_eq!(s.get_value(SESSION_KEY), Some(Value::from("1")));
    assert_eq!(
        s.get_value(BACKEND_SESSION_KEY),
        Some(Value::from(MODEL_BACKEND))
    );
    assert_eq!(
        s.get_value(HASH_SESSION_KEY),
        Some(Value::String(session_auth_hash(SECRET, &alice.password)))
    );
    let csrf: String = s.get(CSRF_SESSION_KEY).unwrap().unwrap();
    assert!(is_valid_secret(&csrf));
    assert_eq!(*users.logins.lock().unwrap(), ["1"]);
    let out = req.finish(200).await;
    let cookie = out.set_cookie[0].split(';').next().unwrap().to_owned();

    // The same user again with a matching hash: same key (Django's rule).
    let (req, s) = open(&engine, &cookie).await;
    s.insert("cart", "4").unwrap();
    auth.login(&s, &alice).await.unwrap();
    assert_eq!(s.key().unwrap().as_str(), key_of(&cookie));
    assert_eq!(s.get_value("cart"), Some(Value::from("4")));
    req.finish(200).await;

    // Another user: a new, empty session.
    let (_, s) = open(&engine, &cookie).await;
    auth.login(&s, &bob).await.unwrap();
    assert_ne!(
        s.key().map(|k| k.as_str().to_owned()),
        Some(key_of(&cookie))
    );
    assert_eq!(s.get_value("cart"), None);
    assert_eq!(s.get_value(SESSION_KEY), Some(Value::from("2")));

    // The same user with a stale hash: a new, empty session too.
    let cookie = stored(
        &engine,
        &[
            (SESSION_KEY, "1"),
            (BACKEND_SESSION_KEY, MODEL_BACKEND),
            (HASH_SESSION_KEY, "stale"),
            ("cart", "5"),
        ],
    )
    .await;
    let (_, s) = open(&engine, &cookie).await;
    auth.login(&s, &alice).await.unwrap();
    assert_eq!(s.get_value("cart"), None);
    assert_ne!(
        s.key().map(|k| k.as_str().to_owned()),
        Some(key_of(&cookie))
    );

    // Without CSRF rotation or last_login.
    let quiet = auth
        .clone()
        .with_csrf_rotation(false)
        .with_last_login(false);
    let s = Session::detached();
    quiet.login(&s, &alice).await.unwrap();
    assert!(!s.contains_key(CSRF_SESSION_KEY));
    assert_eq!(users.logins.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn logout_and_update_session_auth_hash() {
    let (engine, users, auth) = setup();
    let mut alice = users.add("1", "alice", "pw", true);
    let cookie = stored(&engine, &[("x", "1")]).await;
    let (req, s) = open(&engine, &cookie).await;
    auth.login(&s, &alice).await.unwrap();
    req.finish(200).await;
    let cookie = format!("sessionid={}", s.key().unwrap().as_str());

    // The password changes on the Rust side; this session keeps its user under a new key.
    alice = users.add("1", "alice", "new-pw", true);
    let (req, s) = open(&engine, &cookie).await;
    auth.update_session_auth_hash(&s, &alice).unwrap();
    assert_ne!(s.key().unwrap().as_str(), key_of(&cookie));
    assert_eq!(auth.get_user(&s).await.unwrap().id(), Some("1"));
    req.finish(200).await;

    let cookie = format!("sessionid={}", s.key().unwrap().as_str());
    let (req, s) = open(&engine, &cookie).await;
    auth.logout(&s);
    assert!(s.is_empty());
    assert_eq!(auth.get_user(&s).await.unwrap(), CurrentUser::Anonymous);
    let out = req.finish(200).await;
    assert!(out.set_cookie[0].contains("Max-Age=0"));
}
