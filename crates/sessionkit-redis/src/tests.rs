//! The store's own tests that need its private entry points (`create_as`, `save_as`: a
//! write with a given write id, as a re-sent script carries).

use super::*;
use sessionkit_core::{Data, Metadata, Value};

async fn store(format: RecordFormat) -> Option<RedisStore> {
    let url =
        sessionkit_testkit::service_url("SESSIONKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379");
    sessionkit_testkit::require(
        "Redis",
        RedisStore::builder(&url)
            .with_prefix(format!("sktest:{}:", SessionKey::generate().as_str()))
            .with_record_format(format)
            .connect()
            .await
            .map_err(|e| e.report()),
    )
}

/// The cluster client re-sends a request whose connection dropped, even when the
/// server ran it: the second run must answer as the first, not report a conflict
/// (the engine would replay the request's changes twice) or a collision. In both
/// record formats, and across them (a save of the other format's record).
#[tokio::test]
async fn a_resent_write_reports_its_first_outcome() {
    for (format, other) in [
        (RecordFormat::Packed, RecordFormat::Hash),
        (RecordFormat::Hash, RecordFormat::Packed),
    ] {
        let Some(store) = store(format).await else {
            return;
        };
        let other = RedisStore {
            inner: Arc::new(Inner {
                format: other,
                ..(*store.inner).clone()
            }),
        };
        // Without a created_at a save keeps the stored one (the full script); with one, a
        // packed save of a session without a user is the common case (`save_plain`).
        for with_created_at in [false, true] {
            resent_writes(&store, &other, with_created_at).await;
        }
    }
}

async fn resent_writes(store: &RedisStore, other: &RedisStore, with_created_at: bool) {
    let now = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
    let record = |n: i32| Record {
        data: Data::from_json(format!(r#"{{"n":{n}}}"#).into()).unwrap(),
        expires_at: now + time::Duration::seconds(60),
        meta: Metadata {
            created_at: with_created_at.then_some(now),
            ..Metadata::default()
        },
    };
    let key = SessionKey::generate();
    let created = store.create_as(&key, &record(1), now, "w1").await.unwrap();
    assert_eq!(created, CreateOutcome::Created(Token::version(1)));
    let again = store.create_as(&key, &record(1), now, "w1").await.unwrap();
    assert_eq!(again, created, "the same create, re-sent");
    let other_create = store.create_as(&key, &record(3), now, "w2").await.unwrap();
    assert_eq!(other_create, CreateOutcome::Collision, "another create");

    let v1 = Token::version(1);
    let saved = store
        .save_as(&key, &record(4), &v1, now, "w3")
        .await
        .unwrap();
    assert_eq!(saved, SaveOutcome::Saved(Token::version(2)));
    let again = store
        .save_as(&key, &record(4), &v1, now, "w3")
        .await
        .unwrap();
    assert_eq!(again, saved, "the same save, re-sent");
    let stale = store
        .save_as(&key, &record(5), &v1, now, "w4")
        .await
        .unwrap();
    assert_eq!(
        stale,
        SaveOutcome::Conflict,
        "another save with the old token"
    );

    // A save that rewrote the record in the other format, re-sent.
    let v2 = Token::version(2);
    let saved = other
        .save_as(&key, &record(6), &v2, now, "w5")
        .await
        .unwrap();
    assert_eq!(saved, SaveOutcome::Saved(Token::version(3)));
    let again = store
        .save_as(&key, &record(6), &v2, now, "w5")
        .await
        .unwrap();
    assert_eq!(again, saved, "re-sent, found in the other format");

    let Lookup::Found { record, token } = store.load(&key, now).await.unwrap() else {
        panic!("the record exists")
    };
    assert_eq!(token, Token::version(3));
    assert_eq!(record.data.get("n"), Some(Value::Int(6)));
    store.delete(&key).await.unwrap();
}
