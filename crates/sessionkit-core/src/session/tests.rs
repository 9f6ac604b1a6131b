//! Django's conformance checklist (DJANGO.md §6) for the session object itself; each test
//! is named after its checklist item. Django's async twins (`aget`, `apop`, ...) are the
//! same methods here: the session is synchronous after its one async load.

use std::time::Duration;

use time::macros::datetime;

use super::*;
use crate::AUTH_USER_ID_KEY;
use crate::clock::ManualClock;
use crate::expiry::Expiry;

fn session() -> Session {
    Session::detached()
}

/// A session that already has a key.
fn keyed_session() -> Session {
    Session::new(
        Arc::new(Ctx {
            config: Config::default(),
            clock: Arc::new(crate::clock::SystemClock),
            python_values: false,
        }),
        Data::new(),
        Identity::Key(SessionKey::generate()),
    )
}

fn at(clock: &ManualClock) -> Session {
    Session::detached_with(Config::default(), Arc::new(clock.clone()))
}

fn reset_flags(s: &Session) {
    let mut st = s.state();
    st.accessed = false;
    st.modified = false;
}

/// A session holding `key` = `value`, with both flags reset.
fn holding(key: &str, value: impl serde::Serialize) -> Session {
    let s = session();
    s.insert(key, value).unwrap();
    reset_flags(&s);
    s
}

/// Asserts the flags after a read: accessed, not modified.
fn assert_read_only(s: &Session) {
    assert!(s.accessed());
    assert!(!s.modified());
}

#[test]
fn item_01_new_session_is_neither_modified_nor_accessed() {
    let s = session();
    assert!(!s.modified());
    assert!(!s.accessed());
}

#[test]
fn item_02_get_of_absent_key_is_none() {
    let s = session();
    assert_eq!(s.get::<String>("cat").unwrap(), None);
}

#[test]
fn item_03_insert_marks_modified_and_pop_returns_it() {
    let s = session();
    s.insert("cat", "dog").unwrap();
    assert!(s.modified());
    assert_eq!(s.pop::<String>("cat").unwrap().as_deref(), Some("dog"));
}

#[test]
fn item_04_pop_present_key() {
    let s = holding("some key", "exists");
    assert_eq!(
        s.pop::<String>("some key").unwrap().as_deref(),
        Some("exists")
    );
    assert!(s.accessed());
    assert!(s.modified());
    assert_eq!(s.get::<String>("some key").unwrap(), None);
}

#[test]
fn item_05_pop_absent_key_with_default() {
    let s = session();
    // Django's `pop(k, default)`: the default comes back, nothing is modified.
    let v = s
        .pop::<String>("some key")
        .unwrap()
        .unwrap_or_else(|| "does not exist".into());
    assert_eq!(v, "does not exist");
    assert_read_only(&s);
}

#[test]
fn item_06_pop_default_by_keyword() {
    // Rust has no keyword arguments: the default is `unwrap_or` on the result, as above.
    let s = session();
    assert_eq!(s.pop::<i32>("absent").unwrap().unwrap_or(7), 7);
    assert!(!s.modified());
}

#[test]
fn item_07_pop_absent_key_without_default() {
    // Django raises KeyError; here the absence is `None` and nothing changes.
    let s = session();
    assert_eq!(s.pop::<String>("some key").unwrap(), None);
    assert!(s.remove("some key").is_none());
    assert!(!s.modified());
}

#[test]
fn item_08_setdefault() {
    let s = session();
    assert_eq!(s.setdefault("foo", "bar".to_owned()).unwrap(), "bar");
    assert_eq!(s.setdefault("foo", "baz".to_owned()).unwrap(), "bar");
    assert!(s.accessed());
    assert!(s.modified());
}

#[test]
fn item_09_update() {
    let s = session();
    s.update([("update key", 1)]).unwrap();
    assert!(s.accessed());
    assert!(s.modified());
    assert_eq!(s.get::<i32>("update key").unwrap(), Some(1));
}

#[test]
fn item_10_contains_key_accesses_without_modifying() {
    let s = holding("some key", 1);
    assert!(s.contains_key("some key"));
    assert_read_only(&s);
}

#[test]
fn item_11_values_of_new_session() {
    let s = session();
    assert!(s.values().is_empty());
    assert!(s.accessed());
}

#[test]
fn item_12_values() {
    let s = holding("some key", 1);
    assert_eq!(s.values(), vec![Value::Int(1)]);
    assert_read_only(&s);
}

#[test]
fn item_13_keys() {
    let s = holding("x", 1);
    assert_eq!(s.keys(), vec!["x".to_owned()]);
    assert_read_only(&s);
}

#[test]
fn item_14_items() {
    let s = holding("x", 1);
    assert_eq!(s.items(), vec![("x".to_owned(), Value::Int(1))]);
    assert_read_only(&s);
}

#[test]
fn item_15_clear() {
    let s = holding("x", 1);
    assert_eq!(s.len(), 1);
    s.clear();
    assert!(s.items().is_empty());
    assert!(s.accessed());
    assert!(s.modified());
}

#[test]
fn items_23_to_25_client_key_validation() {
    use crate::key::ClientKey;
    // 23: an empty value is no key.
    assert_eq!(ClientKey::classify(Some("")), ClientKey::TooShort);
    // 24: 7 characters are no key.
    assert_eq!(ClientKey::classify(Some("1234567")), ClientKey::TooShort);
    // 25: 8 characters are accepted unchanged.
    match ClientKey::classify(Some("12345678")) {
        ClientKey::Key(k) => assert_eq!(k.as_str(), "12345678"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn item_26_session_key_is_read_only() {
    // Django raises AttributeError on assignment; `Session::key` returns a copy and there
    // is no setter, so this is enforced by the type system. The key changes only through
    // `cycle_key` and `flush`.
    let s = session();
    assert_eq!(s.key(), None);
}

#[test]
fn item_27_default_expiry_age_is_cookie_age() {
    assert_eq!(session().expiry_age(), 1_209_600);
}

#[test]
fn item_28_expiry_zero_keeps_cookie_age() {
    let s = session();
    s.set_expiry(Expiry::BrowserClose);
    assert_eq!(s.expiry_age(), 1_209_600);
}

#[test]
fn item_29_custom_expiry_seconds() {
    let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
    let s = at(&clock);
    let m = datetime!(2026-01-01 12:00 UTC);
    s.set_expiry(Expiry::Seconds(10));
    assert_eq!(s.expiry_date_at(m), m + Duration::from_secs(10));
    assert_eq!(s.expiry_age_at(m), 10);
}

#[test]
fn item_30_custom_expiry_timedelta() {
    let clock = ManualClock::new(datetime!(2026-01-01 00:00 UTC));
    let s = at(&clock);
    let m = clock.now();
    s.set_expiry(Expiry::In(Duration::from_secs(10)));
    assert_eq!(s.expiry_date_at(m), m + Duration::from_secs(10));
    assert_eq!(s.expiry_age_at(m), 10);
}

#[test]
fn item_31_custom_expiry_datetime() {
    let s = session();
    let m = datetime!(2026-01-01 00:00 UTC);
    s.set_expiry(Expiry::At(m + Duration::from_secs(10)));
    assert_eq!(s.expiry_date_at(m), m + Duration::from_secs(10));
    assert_eq!(s.expiry_age_at(m), 10);
}

#[test]
fn item_32_custom_expiry_reset() {
    let s = session();
    s.set_expiry(Expiry::Seconds(10));
    s.set_expiry(Expiry::Default);
    assert_eq!(s.expiry_age(), 1_209_600);
}

#[test]
fn item_33_browser_close_with_setting_off() {
    let s = session();
    s.set_expiry(Expiry::Seconds(10));
    assert!(!s.expire_at_browser_close());
    s.set_expiry(Expiry::BrowserClose);
    assert!(s.expire_at_browser_close());
    s.set_expiry(Expiry::Default);
    assert!(!s.expire_at_browser_close());
}

#[test]
fn item_34_browser_close_with_setting_on() {
    let cfg = Config::builder()
        .expire_at_browser_close(true)
        .build()
        .unwrap();
    let s = Session::detached_with(cfg, Arc::new(crate::clock::SystemClock));
    s.set_expiry(Expiry::Seconds(10));
    assert!(!s.expire_at_browser_close());
    s.set_expiry(Expiry::BrowserClose);
    assert!(s.expire_at_browser_close());
    s.set_expiry(Expiry::Default);
    assert!(s.expire_at_browser_close());
}

#[test]
fn item_91_test_cookie() {
    let s = session();
    assert!(!s.test_cookie_worked());
    s.set_test_cookie();
    assert!(s.test_cookie_worked());
    assert!(s.delete_test_cookie());
    assert!(!s.test_cookie_worked());
    assert!(!s.delete_test_cookie());
}

#[test]
fn item_92_new_session_is_empty() {
    assert!(session().is_empty());
}

#[test]
fn item_93_emptiness() {
    let s = session();
    assert!(s.is_empty());
    s.insert("k", 1).unwrap();
    assert!(!s.is_empty());
}

/// Django's `test_bool`: a session with a key but an empty dictionary is truthy in
/// Django; here `is_empty()` is about the dictionary, and the documented port of
/// `bool(request.session)` asks for the key too.
#[test]
fn regression_16_django_truthiness_of_a_keyed_empty_session() {
    let django_bool = |s: &Session| !s.is_empty() || s.key().is_some();
    let fresh = session();
    assert!(!django_bool(&fresh));
    let ctx = Arc::new(Ctx {
        config: Config::default(),
        clock: Arc::new(crate::clock::SystemClock),
        python_values: false,
    });
    let keyed = Session::new(ctx, Data::new(), Identity::Key(SessionKey::generate()));
    assert!(keyed.is_empty(), "the dictionary is empty");
    assert!(
        django_bool(&keyed),
        "but Django's bool() is true: it has a key"
    );
}

#[test]
fn s1_pop_setdefault_update_modified_rules() {
    let s = session();
    s.update(Vec::<(String, i32)>::new()).unwrap();
    assert!(s.modified(), "update({{}}) marks modified");
    let s = holding("a", 1);
    assert_eq!(s.setdefault("a", 2).unwrap(), 1);
    assert!(!s.modified(), "setdefault of a present key does not modify");
}

#[test]
fn type_mismatch_is_an_error_and_pop_keeps_the_value() {
    let s = session();
    s.insert("n", "text").unwrap();
    assert!(matches!(s.get::<u64>("n"), Err(SessionError::Type { .. })));
    assert!(s.pop::<u64>("n").is_err());
    assert_eq!(s.get::<String>("n").unwrap().as_deref(), Some("text"));
}

#[test]
fn update_with_records_a_replayable_operation() {
    let s = session();
    assert_eq!(
        s.update_with("c", |n: Option<u64>| n.unwrap_or(0) + 1)
            .unwrap(),
        1
    );
    assert_eq!(
        s.update_with("c", |n: Option<u64>| n.unwrap_or(0) + 1)
            .unwrap(),
        2
    );
    let st = s.state();
    assert_eq!(st.ops.len(), 2);
    let Op::UpdateWith(_, f) = &st.ops[0] else {
        panic!()
    };
    assert_eq!(f(Some(Value::Int(41))).unwrap(), Value::Int(42));
}

#[test]
fn flush_and_cycle_key() {
    let s = keyed_session();
    let before = s.key().unwrap();
    s.insert("a", 1).unwrap();
    s.cycle_key();
    let after = s.key().unwrap();
    assert_ne!(before, after);
    assert_eq!(s.get::<i32>("a").unwrap(), Some(1));
    s.flush();
    assert_eq!(s.key(), None);
    assert!(s.is_empty());
    assert!(s.accessed() && s.modified());
}

#[test]
fn login_and_logout_follow_django_auth() {
    let s = keyed_session();
    s.insert("cart", vec![1, 2]).unwrap();
    let anon = s.key();
    s.login("42");
    assert_ne!(s.key(), anon, "login cycles the key");
    assert_eq!(s.user_id().as_deref(), Some("42"));
    assert_eq!(
        s.get::<Vec<i32>>("cart").unwrap(),
        Some(vec![1, 2]),
        "anonymous data kept"
    );
    s.login("7");
    assert_eq!(
        s.get::<Vec<i32>>("cart").unwrap(),
        None,
        "another user: flushed first"
    );
    assert_eq!(s.user_id().as_deref(), Some("7"));
    s.logout();
    assert_eq!(s.user_id(), None);
    assert_eq!(s.key(), None);
}

/// Issue 16: a session refuses Python-only values at `insert` unless its store's layout
/// pickles the session (Django raises `TypeError` in its JSON serializer), through every
/// way of writing, and nothing is stored.
#[test]
fn issue_16_python_values_only_where_the_layout_pickles() {
    let when = Value::try_from(time::macros::date!(2026 - 01 - 02)).unwrap();
    let json = session();
    let err = json.insert_value("when", when.clone()).unwrap_err();
    assert!(
        matches!(&err, SessionError::PythonValue { key, type_name: "datetime.date" } if key == "when"),
        "{err}"
    );
    assert!(json.insert("l", vec![when.clone()]).is_err(), "nested");
    assert!(json.update([("a", when.clone())]).is_err());
    assert!(json.setdefault("b", when.clone()).is_err());
    let w = when.clone();
    assert!(
        json.update_with("c", move |_: Option<Value>| w.clone())
            .is_err()
    );
    assert!(json.is_empty() && !json.modified());

    let pickled = Session::new(
        Arc::new(Ctx {
            config: Config::default(),
            clock: Arc::new(crate::clock::SystemClock),
            python_values: true,
        }),
        Data::new(),
        Identity::None,
    );
    pickled.insert_value("when", when.clone()).unwrap();
    assert_eq!(
        pickled.get::<time::Date>("when").unwrap(),
        Some(time::macros::date!(2026 - 01 - 02))
    );
    // A tuple stays a tuple through `insert` (a `Value` goes through serde unchanged).
    pickled.insert("t", Value::Tuple(vec![when])).unwrap();
    assert!(matches!(pickled.get_value("t"), Some(Value::Tuple(_))));
}

/// Issue 16: the engine tells the session what its store's layout holds.
#[tokio::test]
async fn issue_16_the_engine_passes_the_store_layout() {
    let engine = crate::Engine::new(crate::MemoryStore::new(), Config::default());
    let req = engine.begin(None);
    let s = req.load().await.unwrap();
    assert!(matches!(
        s.insert_value("b", Value::Bytes(b"x".to_vec())),
        Err(SessionError::PythonValue {
            type_name: "bytes",
            ..
        })
    ));
}

#[test]
fn the_loaded_user_survives_changes_and_a_flush() {
    let loaded: Data = [(AUTH_USER_ID_KEY.to_owned(), Value::String("7".into()))]
        .into_iter()
        .collect();
    let stored = Session::new(
        Arc::new(Ctx {
            config: Config::default(),
            clock: Arc::new(crate::clock::SystemClock),
            python_values: false,
        }),
        loaded,
        Identity::Key(SessionKey::generate()),
    );
    assert_eq!(stored.loaded_user_id().as_deref(), Some("7"));
    stored.insert(AUTH_USER_ID_KEY, "8").unwrap();
    stored.insert(AUTH_USER_ID_KEY, "9").unwrap();
    stored.flush();
    assert_eq!(stored.loaded_user_id().as_deref(), Some("7"));
    let (_, before) = stored.take_ops();
    assert_eq!(
        before.len(),
        1,
        "one entry per key, taken before its first change"
    );
    // A session not loaded from a store has no loaded user.
    let fresh = session();
    fresh.insert(AUTH_USER_ID_KEY, "1").unwrap();
    assert_eq!(fresh.loaded_user_id(), None);
}

#[test]
fn many_changed_keys_keep_their_loaded_values() {
    let loaded: Data = (0..100).map(|i| (format!("k{i}"), Value::Int(i))).collect();
    let stored = Session::new(
        Arc::new(Ctx {
            config: Config::default(),
            clock: Arc::new(crate::clock::SystemClock),
            python_values: false,
        }),
        loaded.clone(),
        Identity::Key(SessionKey::generate()),
    );
    // Past the short list's length, then a clear: each key keeps its first record.
    for i in 0..40 {
        stored.insert(&format!("k{i}"), -1).unwrap();
    }
    stored.clear();
    stored.insert("new", 1).unwrap();
    let (_, before) = stored.take_ops();
    assert_eq!(before.len(), 101);
    for i in 0..100 {
        let held = before.get(&format!("k{i}")).unwrap();
        assert!(loaded.holds(&format!("k{i}"), held), "k{i}");
    }
    assert!(Data::new().holds("new", before.get("new").unwrap()));
    assert!(before.get("absent").is_none());
}
