//! `SessionStore.encode/decode`, the key salts, and the records whose stored form is the
//! encoded session (SQLite rows, session files, `set_expiry`).

use std::sync::Arc;

use sessionkit_core::value::Value;
use sessionkit_core::{Config, Data, Expiry, ManualClock, Session, pytime};
use sessionkit_django::keys::file_name;
use sessionkit_django::session::{self, SESSION_SALT, key_salt};
use sessionkit_django::signing::Secrets;

use crate::signing::check_dumps_record;
use crate::vectors::{
    Capture, OLD_KEY, SECRET_KEY, T1, at, field, int_of, iso, map_of, records, str_of,
};

pub(crate) const FUNCTIONS: &[&str] = &[
    "db.SessionStore.key_salt",
    "cached_db.SessionStore.key_salt",
    "file.SessionStore.key_salt",
    "cache.SessionStore.key_salt",
    "SessionStore.encode",
    "SessionStore.decode",
    "db.sqlite_schema",
    "db.sqlite_row",
    "db.set_expiry(timedelta(hours=1))",
    "file.session_file",
    "SessionBase.set_expiry",
];

const AGE: i64 = 1_209_600;

fn data_of(v: &Value) -> Data {
    Data::from_map(map_of(v).clone())
}

#[test]
fn key_salts() {
    for engine in ["db", "cached_db", "file", "cache"] {
        for r in records(&format!("{engine}.SessionStore.key_salt")) {
            assert_eq!(r.output_str(), SESSION_SALT);
            assert_eq!(key_salt("SessionStore"), r.output_str());
        }
    }
}

#[test]
fn encode_matches_django() {
    let rs = records("SessionStore.encode");
    assert_eq!(rs.len(), 10);
    let signer = session::signer(&Secrets::new(SECRET_KEY));
    for r in rs {
        let sess = r.input("session");
        // Same rules as signing.dumps: byte-identical unless Django compressed.
        check_dumps_record(r, sess, SESSION_SALT, true);
        let data = data_of(sess);
        let ours = session::encode(&data, &signer, at(int_of(r.input("time"))));
        if !r.output_str().starts_with('.') {
            assert_eq!(ours, r.output_str(), "record {}", r.index);
        }
        // decode(encode(d)) == d, for Django's bytes and ours.
        for text in [ours.as_str(), r.output_str()] {
            let back = session::decode(text, &signer).unwrap();
            assert_eq!(back.to_map(), *map_of(sess), "record {}", r.index);
        }
    }
}

#[test]
fn decode_matches_django() {
    let rs = records("SessionStore.decode");
    assert_eq!(rs.len(), 5);
    for r in rs {
        let secrets = Secrets::new(SECRET_KEY).with_fallbacks(r.fallbacks());
        let signer = session::signer(&secrets);
        let capture = Capture::default();
        let got = capture.run(|| session::decode(r.input_str("value"), &signer));
        // Django answers {} for every failure.
        let got = got.map(|d| d.to_map()).unwrap_or_default();
        assert_eq!(got, *map_of(&r.output), "case {}", r.input_str("case"));
        let warned = capture.take().iter().any(|(level, msg)| {
            *level == tracing::Level::WARN && msg.contains("Session data corrupted")
        });
        let bad_signature = matches!(
            r.input_str("case"),
            "garbage_base64" | "three_parts_bad_sig" | "wrong_salt"
        );
        assert_eq!(warned, bad_signature, "case {}", r.input_str("case"));
        if r.input_str("case") == "signed_with_fallback_key" {
            assert_eq!(r.fallbacks(), [OLD_KEY]);
            // Without the fallback the same value is refused.
            let strict = session::signer(&Secrets::new(SECRET_KEY));
            assert!(session::decode(r.input_str("value"), &strict).is_none());
        }
    }
}

#[test]
fn sqlite_rows_hold_the_encoded_session() {
    let signer = session::signer(&Secrets::new(SECRET_KEY));
    let rs = records("db.sqlite_row");
    assert_eq!(rs.len(), 2);
    for r in rs {
        let out = map_of(&r.output);
        let now = iso(r.input_str("now"));
        let data = data_of(r.input("session"));
        assert_eq!(
            session::encode(&data, &signer, at(int_of(r.input("time")))),
            str_of(field(out, "session_data"))
        );
        assert_eq!(int_of(field(out, "session_key_len")), 32);
        // expire_date = now + SESSION_COOKIE_AGE as Python's str(datetime), naive UTC.
        assert_eq!(
            pytime::naive_utc_str(now + time::Duration::seconds(AGE)),
            str_of(field(out, "expire_date"))
        );
        assert_eq!(str_of(field(out, "sqlite_type")), "text");
    }
}

#[test]
fn sqlite_schema_names_what_the_sql_store_must_create() {
    // The DDL itself belongs to sessionkit-sql; here we pin the parts of it this crate's
    // formats depend on: a 40-character key, the text column holding `encode()` output,
    // and the expiry column with its index.
    for r in records("db.sqlite_schema") {
        let Value::List(stmts) = &r.output else {
            panic!("schema: not a list")
        };
        assert_eq!(
            str_of(&stmts[0]),
            "CREATE TABLE \"django_session\" (\"session_key\" varchar(40) NOT NULL PRIMARY KEY, \
             \"session_data\" text NOT NULL, \"expire_date\" datetime NOT NULL)"
        );
        assert_eq!(
            str_of(&stmts[1]),
            "CREATE INDEX \"django_session_expire_date_a5c62663\" ON \"django_session\" (\"expire_date\")"
        );
    }
}

fn session_at(now: time::OffsetDateTime) -> Session {
    let config = Config::builder().cookie_age(AGE).build().unwrap();
    Session::detached_with(config, Arc::new(ManualClock::new(now)))
}

#[test]
fn set_expiry_timedelta_row() {
    let signer = session::signer(&Secrets::new(SECRET_KEY));
    for r in records("db.set_expiry(timedelta(hours=1))") {
        let out = map_of(&r.output);
        let now = iso(r.input_str("now"));
        let s = session_at(now);
        s.insert_value("x", Value::Int(1)).unwrap();
        s.set_expiry(Expiry::In(std::time::Duration::from_secs(3600)));
        let expiry = str_of(field(out, "_session_expiry_in_dict"));
        assert_eq!(s.get_value("_session_expiry"), Some(Value::from(expiry)));
        assert_eq!(s.expiry_age(), int_of(field(out, "get_expiry_age")));
        let data: Data = s.items().into_iter().collect();
        assert_eq!(
            session::encode(&data, &signer, now),
            str_of(field(out, "session_data"))
        );
        assert_eq!(
            pytime::naive_utc_str(s.expiry_date()),
            str_of(field(out, "expire_date_column"))
        );
    }
}

#[test]
fn set_expiry_semantics() {
    let rs = records("SessionBase.set_expiry");
    assert_eq!(rs.len(), 6);
    for r in rs {
        let now = iso(r.input_str("now"));
        assert_eq!(int_of(r.input("SESSION_COOKIE_AGE")), AGE);
        let s = session_at(now);
        let expiry = match r.input_str("case") {
            "int" => Expiry::Seconds(300),
            "zero" => Expiry::BrowserClose,
            "negative_int" => Expiry::Seconds(-10),
            "timedelta" => Expiry::In(std::time::Duration::from_secs(300)),
            "aware_datetime" => Expiry::At(iso("2026-01-02T03:04:05.678901+00:00")),
            "none" => {
                s.set_expiry(Expiry::Seconds(10));
                Expiry::Default
            }
            other => panic!("unexpected case {other}"),
        };
        s.set_expiry(expiry);
        let out = map_of(&r.output);
        let case = r.input_str("case");
        match field(out, "_session_expiry") {
            Value::String(t) if t == "<absent>" => {
                assert_eq!(s.get_value("_session_expiry"), None, "{case}");
            }
            stored => assert_eq!(
                s.get_value("_session_expiry").as_ref(),
                Some(stored),
                "{case}"
            ),
        }
        assert_eq!(
            s.expiry_age(),
            int_of(field(out, "get_expiry_age")),
            "{case}"
        );
        assert_eq!(
            s.expiry_date(),
            iso(str_of(field(out, "get_expiry_date"))),
            "{case}"
        );
        assert_eq!(
            Value::Bool(s.expire_at_browser_close()),
            *field(out, "get_expire_at_browser_close"),
            "{case}"
        );
    }
}

#[test]
fn session_file() {
    let signer = session::signer(&Secrets::new(SECRET_KEY));
    for r in records("file.session_file") {
        let out = map_of(&r.output);
        assert_eq!(
            file_name(
                r.input_str("SESSION_COOKIE_NAME"),
                r.input_str("session_key")
            )
            .as_deref(),
            Some(str_of(field(out, "file_name")))
        );
        let content = session::encode(
            &data_of(r.input("session")),
            &signer,
            at(int_of(r.input("time"))),
        );
        assert_eq!(content, str_of(field(out, "content")));
        assert_eq!(*field(out, "trailing_newline"), Value::Bool(false));
        assert!(content.is_ascii() && !content.ends_with('\n'));
        assert_eq!(int_of(r.input("time")), T1);
    }
}
