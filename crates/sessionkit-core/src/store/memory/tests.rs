//! The memory store's own tests (the conformance suite runs in `tests/it/main.rs`, `mod memory`).

use super::*;

#[tokio::test]
async fn keys_of_any_length_and_users_round_trip() {
    let store = MemoryStore::new();
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    for key in [
        SessionKey::generate(),
        SessionKey::parse("abcdefgh").unwrap(),
    ] {
        let record = Record {
            data: Data::from_json(r#"{"a":1}"#.into()).unwrap(),
            expires_at: now + time::Duration::hours(1),
            meta: Metadata {
                created_at: Some(now),
                last_seen: Some(now),
                user_id: Some("alice".into()),
                client: None,
            },
        };
        store.create(&key, &record, now).await.unwrap();
        let Lookup::Found { record: got, .. } = store.load(&key, now).await.unwrap() else {
            panic!("stored");
        };
        assert_eq!(got.data.to_json(), r#"{"a":1}"#);
        assert_eq!(got.meta.user_id.as_deref(), Some("alice"));
    }
    let infos = store
        .user_index()
        .unwrap()
        .sessions_of_boxed("alice", now)
        .await
        .unwrap();
    assert_eq!(infos.len(), 2);
    assert_eq!(
        store
            .user_index()
            .unwrap()
            .revoke_user_boxed("alice", None)
            .await
            .unwrap(),
        2
    );
    assert!(store.is_empty());
}

/// The entry's one string holds the data, the user (which may hold NULs) and the
/// client's two texts; a load hands each back as written, whatever the others hold —
/// non-ASCII text, the longest user agent and label, after a save and a touch — and
/// the per-user index reads the same parts.
#[tokio::test]
async fn data_user_and_client_come_back_from_one_string() {
    use crate::device::{MAX_DEVICE_LABEL_LEN, MAX_USER_AGENT_LEN};
    let store = MemoryStore::new();
    let now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let longest = ClientInfo::from_stored(
        Some("2001:db8::1".parse().unwrap()),
        Some(&"é".repeat(MAX_USER_AGENT_LEN)),
        Some(&"ü".repeat(MAX_DEVICE_LABEL_LEN)),
    );
    assert_eq!(longest.user_agent().unwrap().len(), MAX_USER_AGENT_LEN);
    assert_eq!(longest.device().len(), MAX_DEVICE_LABEL_LEN);
    let clients = [
        Some(ClientInfo::new(
            Some("203.0.113.7".parse().unwrap()),
            Some(ua),
        )),
        Some(ClientInfo::new(None, Some("navigateur élégant/1.0"))),
        Some(ClientInfo::from_stored(None, None, Some("Custom device"))),
        Some(longest),
        None,
    ];
    for user in [
        None,
        Some("bob"),
        Some("a\0b\0\0c"),
        Some(""),
        Some("josé\0x"),
    ] {
        for client in &clients {
            let key = SessionKey::generate();
            let record = Record {
                data: Data::from_json(r#"{"a":[1,"\u0000"],"b":"é"}"#.into()).unwrap(),
                expires_at: now + time::Duration::hours(1),
                meta: Metadata {
                    created_at: Some(now),
                    last_seen: Some(now),
                    user_id: user.map(str::to_owned),
                    client: client.clone(),
                },
            };
            store.create(&key, &record, now).await.unwrap();
            let Lookup::Found { record: got, token } = store.load(&key, now).await.unwrap() else {
                panic!("stored");
            };
            assert_eq!(got.data.to_json(), r#"{"a":[1,"\u0000"],"b":"\u00e9"}"#);
            assert_eq!(got.meta.user_id.as_deref(), user);
            assert_eq!(&got.meta.client, client, "{user:?}");
            // A save replaces the entry (another client), a touch keeps it.
            let mut next = record.clone();
            next.meta.client = clients[0].clone();
            let saved = store.save(&key, &next, &token, now).await.unwrap();
            assert!(matches!(saved, SaveOutcome::Saved(_)), "{saved:?}");
            let later = now + time::Duration::hours(2);
            assert!(store.touch(&key, later, now).await.unwrap());
            let Lookup::Found { record: got, .. } = store.load(&key, now).await.unwrap() else {
                panic!("saved");
            };
            assert_eq!(got.meta.user_id.as_deref(), user);
            assert_eq!(got.meta.client, clients[0], "{user:?}");
            match user {
                Some(user) => {
                    let index = store.user_index().unwrap();
                    let mine = index.sessions_of_boxed(user, now).await.unwrap();
                    assert_eq!(mine.len(), 1, "{user:?}");
                    assert_eq!(mine[0].meta.client, clients[0]);
                    assert_eq!(index.revoke_user_boxed(user, None).await.unwrap(), 1);
                }
                None => store.delete(&key).await.unwrap(),
            }
        }
    }
    assert!(store.is_empty());
    // A rotation marker holds neither.
    let key = SessionKey::generate();
    store
        .retire(&key, now + time::Duration::hours(1))
        .await
        .unwrap();
    assert!(matches!(
        store.load(&key, now).await.unwrap(),
        Lookup::Retired { .. }
    ));
}

#[test]
fn an_entry_is_small() {
    // 56 bytes before the client's address moved out of the text (where it and its
    // separator took 8 to 40 bytes of the allocation) into the slot as 17 binary bytes;
    // 72 with it and the client texts' two lengths (which took what was padding).
    assert!(
        std::mem::size_of::<Entry>() <= 72,
        "{}",
        std::mem::size_of::<Entry>()
    );
}
