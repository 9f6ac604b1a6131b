//! The two record formats (issue 21): the packed string this build writes by default,
//! the hash of earlier builds (read, and migrated by saves and touches), and
//! `RecordFormat::Hash`, which keeps writing hashes for a rolling upgrade.

use redis::aio::MultiplexedConnection;
use sessionkit_core::store::Page;
use sessionkit_core::{
    ClientInfo, CreateOutcome, Lookup, SaveOutcome, SessionKey, SessionStore, Token, Value,
};
use sessionkit_redis::{RecordFormat, RedisStore};
use sessionkit_testkit::logs::Logs;
use sessionkit_testkit::{Profile, require};
use time::OffsetDateTime;

use crate::common::{NOW, created, exec, exists, raw_standalone, record, redis_url, secs};

/// A standalone store writing `format`, in `prefix`.
async fn store_in(prefix: &str, format: RecordFormat) -> Option<RedisStore> {
    require(
        "Redis",
        RedisStore::builder(&redis_url())
            .with_prefix(prefix)
            .with_record_format(format)
            .connect()
            .await
            .map_err(|e| e.report()),
    )
}

/// A store of each format on one namespace, and a raw connection.
async fn both() -> Option<(RedisStore, RedisStore, MultiplexedConnection)> {
    let prefix = crate::common::unique_prefix();
    let packed = store_in(&prefix, RecordFormat::Packed).await?;
    let hash = store_in(&prefix, RecordFormat::Hash).await?;
    Some((packed, hash, raw_standalone().await))
}

async fn hash_store() -> Option<RedisStore> {
    store_in(&crate::common::unique_prefix(), RecordFormat::Hash).await
}

/// The whole store contract under `RecordFormat::Hash` too.
mod conformance_hash_format {
    use super::*;
    sessionkit_testkit::conformance_tests!(Profile::full().with_leases(), hash_store());
}

fn micros(t: OffsetDateTime) -> String {
    (t.unix_timestamp_nanos() / 1000).to_string()
}

async fn type_of(raw: &mut MultiplexedConnection, name: &str) -> String {
    exec(raw, &["TYPE", name]).await
}

/// Writes a session the way the build before issue 21 did: a hash, with the user's set.
async fn put_old_hash(
    raw: &mut MultiplexedConnection,
    store: &RedisStore,
    key: &SessionKey,
    version: &str,
    user: Option<&str>,
) {
    let name = store.layout().session(key);
    let (expires, created, seen) = (
        micros(NOW + secs(3600)),
        micros(NOW - secs(50)),
        micros(NOW),
    );
    let mut args = vec![
        "HSET",
        &name,
        "data",
        r#"{"n":1}"#,
        "version",
        version,
        "expires_at",
        &expires,
        "created_at",
        &created,
        "last_seen",
        &seen,
        "write",
        "oldwriteid",
        "client",
        "",
    ];
    if let Some(u) = user {
        args.extend(["user_id", u]);
    }
    let _: i64 = exec(raw, &args).await;
    let _: i64 = exec(raw, &["PEXPIRE", &name, "3600000"]).await;
    if let Some(u) = user {
        let _: i64 = exec(raw, &["SADD", &store.layout().user(u), key.as_str()]).await;
    }
}

async fn found(
    store: &RedisStore,
    key: &SessionKey,
    now: OffsetDateTime,
) -> (sessionkit_core::Record, Token) {
    match store.load(key, now).await.unwrap() {
        Lookup::Found { record, token } => (record, token),
        other => panic!("{other:?}"),
    }
}

/// A hash of the previous build loads; a save with a stale token conflicts; the first
/// save rewrites it packed (created-at and the CAS chain kept); the index follows the
/// user across the change of format.
#[tokio::test]
async fn an_old_hash_is_read_and_saved_packed() {
    let Some((store, _, mut raw)) = both().await else {
        return;
    };
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    put_old_hash(&mut raw, &store, &key, "7", Some("alice")).await;
    let (mut r, token) = found(&store, &key, NOW).await;
    assert_eq!(token, Token::version(7));
    assert_eq!(r.data.get("n"), Some(Value::Int(1)));
    assert_eq!(r.meta.user_id.as_deref(), Some("alice"));
    assert_eq!(r.meta.created_at, Some(NOW - secs(50)));

    r.data.insert("n", Value::Int(2));
    let stale = store.save(&key, &r, &Token::version(6), NOW).await.unwrap();
    assert_eq!(stale, SaveOutcome::Conflict);
    assert_eq!(
        type_of(&mut raw, &name).await,
        "hash",
        "a conflict writes nothing"
    );

    r.meta.user_id = Some("bob".into());
    // Without a last-seen of its own the record is seen at the save's `now`.
    r.meta.last_seen = None;
    let saved = store.save(&key, &r, &token, NOW + secs(1)).await.unwrap();
    assert_eq!(saved, SaveOutcome::Saved(Token::version(8)));
    assert_eq!(type_of(&mut raw, &name).await, "string");
    let value: Vec<u8> = exec(&mut raw, &["GET", &name]).await;
    assert!(
        value.starts_with(b"sk2 8 "),
        "{:?}",
        String::from_utf8_lossy(&value)
    );
    // The old token lost; the new one wins.
    assert_eq!(
        store.save(&key, &r, &token, NOW).await.unwrap(),
        SaveOutcome::Conflict
    );
    let (got, token) = found(&store, &key, NOW + secs(1)).await;
    assert_eq!(token, Token::version(8));
    assert_eq!(got.data.get("n"), Some(Value::Int(2)));
    assert_eq!(got.meta.created_at, Some(NOW - secs(50)));
    assert_eq!(got.meta.last_seen, Some(NOW + secs(1)));

    let member = |set: String| {
        let mut raw = raw.clone();
        let k = key.as_str().to_owned();
        async move { exec::<i64>(&mut raw, &["SISMEMBER", &set, &k]).await }
    };
    assert_eq!(member(store.layout().user("alice")).await, 0);
    assert_eq!(member(store.layout().user("bob")).await, 1);
    let index = store.user_index().unwrap();
    assert_eq!(index.sessions_of_boxed("bob", NOW).await.unwrap().len(), 1);
}

/// Two requests load the same old hash; only the first save lands, whatever format the
/// savers write: no lost `update_with` increment across the migration.
#[tokio::test]
async fn compare_and_set_holds_across_formats() {
    let Some((packed, hash, mut raw)) = both().await else {
        return;
    };
    for (first, second) in [(&packed, &hash), (&hash, &packed), (&packed, &packed)] {
        let key = SessionKey::generate();
        put_old_hash(&mut raw, first, &key, "1", None).await;
        let (a, ta) = found(first, &key, NOW).await;
        let (b, tb) = found(second, &key, NOW).await;
        assert_eq!(ta, tb);
        assert!(matches!(
            first.save(&key, &a, &ta, NOW).await.unwrap(),
            SaveOutcome::Saved(_)
        ));
        assert_eq!(
            second.save(&key, &b, &tb, NOW).await.unwrap(),
            SaveOutcome::Conflict
        );
        let (_, t) = found(second, &key, NOW).await;
        assert_eq!(t, Token::version(2));
        assert!(matches!(
            second.save(&key, &b, &t, NOW).await.unwrap(),
            SaveOutcome::Saved(_)
        ));
        assert_eq!(found(first, &key, NOW).await.1, Token::version(3));
    }
    // Saving never creates, in either format.
    let key = SessionKey::generate();
    for s in [&packed, &hash] {
        let out = s
            .save(
                &key,
                &record("{}", NOW + secs(60), None),
                &Token::version(1),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(out, SaveOutcome::Missing);
        assert_eq!(exists(&mut raw, &s.layout().session(&key)).await, 0);
    }
}

/// `touch` of an old hash rewrites it packed, with its data, version and created-at.
#[tokio::test]
async fn a_touch_migrates_an_old_hash() {
    let Some((store, hash, mut raw)) = both().await else {
        return;
    };
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    put_old_hash(&mut raw, &store, &key, "4", Some("carol")).await;
    // Under the hash format a touch leaves a hash.
    assert!(
        hash.touch(&key, NOW + secs(7000), NOW + secs(5))
            .await
            .unwrap()
    );
    assert_eq!(type_of(&mut raw, &name).await, "hash");
    assert!(
        store
            .touch(&key, NOW + secs(9000), NOW + secs(10))
            .await
            .unwrap()
    );
    assert_eq!(type_of(&mut raw, &name).await, "string");
    let (r, token) = found(&store, &key, NOW + secs(10)).await;
    assert_eq!(token, Token::version(4));
    assert_eq!(r.data.get("n"), Some(Value::Int(1)));
    assert_eq!(r.expires_at, NOW + secs(9000));
    assert_eq!(r.meta.created_at, Some(NOW - secs(50)));
    assert_eq!(r.meta.last_seen, Some(NOW + secs(10)));
    assert_eq!(r.meta.user_id.as_deref(), Some("carol"));
    // And a touch of a packed record under the hash format turns it back into a hash.
    assert!(
        hash.touch(&key, NOW + secs(9500), NOW + secs(20))
            .await
            .unwrap()
    );
    assert_eq!(type_of(&mut raw, &name).await, "hash");
    let (r2, token2) = found(&store, &key, NOW + secs(20)).await;
    assert_eq!(token2, token);
    assert_eq!(r2.data, r.data);
    assert_eq!(r2.meta.created_at, r.meta.created_at);
    assert_eq!(r2.expires_at, NOW + secs(9500));
    let pttl: i64 = exec(&mut raw, &["PTTL", &name]).await;
    assert!((9_400_000..=9_480_000).contains(&pttl), "{pttl}");
}

/// A rotation marker of either format reads as retired, blocks create and save, and
/// `retire` writes the store's format over a record of either.
#[tokio::test]
async fn retire_markers_of_either_format() {
    let Some((store, hash, mut raw)) = both().await else {
        return;
    };
    let until = micros(NOW + secs(30));
    let old = SessionKey::generate();
    let old_name = store.layout().session(&old);
    let _: i64 = exec(
        &mut raw,
        &["HSET", &old_name, "retired", "1", "expires_at", &until],
    )
    .await;
    let _: i64 = exec(&mut raw, &["PEXPIRE", &old_name, "60000"]).await;
    let new = SessionKey::generate();
    let new_name = store.layout().session(&new);
    let marker = format!("sk2 0 1 {until} 0: - - - 0:\n");
    let _: () = exec(&mut raw, &["SET", &new_name, &marker, "PX", "60000"]).await;
    let r = record("{}", NOW + secs(60), None);
    for key in [&old, &new] {
        for s in [&store, &hash] {
            assert!(
                matches!(
                    s.load(key, NOW).await.unwrap(),
                    Lookup::Retired { until } if until == NOW + secs(30)
                ),
                "{key:?}"
            );
            assert_eq!(
                s.create(key, &r, NOW).await.unwrap(),
                CreateOutcome::Collision
            );
            assert_eq!(
                s.save(key, &r, &Token::version(0), NOW).await.unwrap(),
                SaveOutcome::Missing
            );
            assert!(!s.touch(key, NOW + secs(60), NOW).await.unwrap());
        }
        assert!(matches!(
            store.load(key, NOW + secs(30)).await.unwrap(),
            Lookup::Missing
        ));
    }

    // retire over a record of either format, in either format; the user's set follows.
    for (writer, retirer, want) in [
        (&hash, &store, "string"),
        (&store, &hash, "hash"),
        (&store, &store, "string"),
        (&hash, &hash, "hash"),
    ] {
        let key = SessionKey::generate();
        let name = store.layout().session(&key);
        created(
            writer,
            &key,
            &record("{}", NOW + secs(600), Some("dave")),
            NOW,
        )
        .await;
        retirer.retire(&key, NOW + secs(20)).await.unwrap();
        assert_eq!(type_of(&mut raw, &name).await, want);
        assert!(matches!(
            store.load(&key, NOW + secs(5)).await.unwrap(),
            Lookup::Retired { .. }
        ));
        let member: i64 = exec(
            &mut raw,
            &["SISMEMBER", &store.layout().user("dave"), key.as_str()],
        )
        .await;
        assert_eq!(member, 0);
        let pttl: i64 = exec(&mut raw, &["PTTL", &name]).await;
        assert!((18_000..=20_000).contains(&pttl), "{pttl}");
    }
}

/// Under `RecordFormat::Hash` every write leaves a hash with exactly the fields the
/// build before issue 21 wrote and read, so its processes keep serving the sessions.
#[tokio::test]
async fn the_hash_format_writes_what_the_previous_build_reads() {
    let Some((packed, store, mut raw)) = both().await else {
        return;
    };
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    let mut r = record(r#"{"a":"b c\nd"}"#, NOW + secs(600), Some("erin x"));
    r.meta.created_at = Some(NOW - secs(5));
    r.meta.client = Some(ClientInfo::new(
        Some("192.0.2.1".parse().unwrap()),
        Some("curl/8.5.0"),
    ));
    created(&store, &key, &r, NOW).await;
    assert_eq!(type_of(&mut raw, &name).await, "hash");
    let all: std::collections::BTreeMap<String, String> = exec(&mut raw, &["HGETALL", &name]).await;
    let fields: Vec<&str> = all.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "client",
            "created_at",
            "data",
            "expires_at",
            "last_seen",
            "user_id",
            "version",
            "write"
        ]
    );
    assert_eq!(all["data"], r#"{"a":"b c\nd"}"#);
    assert_eq!(all["version"], "1");
    assert_eq!(all["user_id"], "erin x");
    assert_eq!(all["created_at"], micros(NOW - secs(5)));
    assert_eq!(all["last_seen"], micros(NOW));
    assert_eq!(all["expires_at"], micros(NOW + secs(600)));
    assert_eq!(all["client"], "192.0.2.1\tcurl/8.5.0\tcurl");

    let (mut got, token) = found(&store, &key, NOW).await;
    assert_eq!(got.data, r.data);
    assert_eq!(got.meta, {
        let mut m = r.meta.clone();
        m.last_seen = Some(NOW);
        m
    });
    // A save: still a hash; anonymous now, so no user_id field.
    got.meta.user_id = None;
    got.meta.client = None;
    let saved = store.save(&key, &got, &token, NOW + secs(1)).await.unwrap();
    assert_eq!(saved, SaveOutcome::Saved(Token::version(2)));
    let all: std::collections::BTreeMap<String, String> = exec(&mut raw, &["HGETALL", &name]).await;
    assert_eq!(all["version"], "2");
    assert_eq!(all["client"], "");
    assert!(!all.contains_key("user_id"), "{all:?}");
    assert_eq!(all["created_at"], micros(NOW - secs(5)));

    // A packed record (from a process already on the default) becomes a hash again.
    let other = SessionKey::generate();
    created(&packed, &other, &r, NOW).await;
    let other_name = store.layout().session(&other);
    assert_eq!(type_of(&mut raw, &other_name).await, "string");
    let (o, t) = found(&store, &other, NOW).await;
    assert!(matches!(
        store.save(&other, &o, &t, NOW).await.unwrap(),
        SaveOutcome::Saved(_)
    ));
    assert_eq!(type_of(&mut raw, &other_name).await, "hash");
    assert_eq!(found(&packed, &other, NOW).await.1, Token::version(2));
    store.delete(&other).await.unwrap();
    assert_eq!(exists(&mut raw, &other_name).await, 0);
}

/// Listing and the per-user index see sessions of both formats; `revoke_user` revokes
/// both; `clear_expired` removes expired records of both.
#[tokio::test]
async fn listing_index_and_cleanup_read_both_formats() {
    let Some((store, _, mut raw)) = both().await else {
        return;
    };
    let old = SessionKey::generate();
    put_old_hash(&mut raw, &store, &old, "2", Some("frank")).await;
    let new = SessionKey::generate();
    created(
        &store,
        &new,
        &record("{}", NOW + secs(600), Some("frank")),
        NOW,
    )
    .await;
    let mut listed: Vec<SessionKey> = store
        .listing()
        .unwrap()
        .list_boxed(Page::first(NOW, 10))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    listed.sort();
    let mut want = vec![old, new];
    want.sort();
    assert_eq!(listed, want);
    let index = store.user_index().unwrap();
    let mut mine: Vec<SessionKey> = index
        .sessions_of_boxed("frank", NOW)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.key)
        .collect();
    mine.sort();
    assert_eq!(mine, want);
    assert_eq!(index.revoke_user_boxed("frank", None).await.unwrap(), 2);
    for k in [&old, &new] {
        assert!(matches!(store.load(k, NOW).await.unwrap(), Lookup::Missing));
    }

    let old = SessionKey::generate();
    put_old_hash(&mut raw, &store, &old, "2", None).await;
    created(&store, &new, &record("{}", NOW + secs(600), None), NOW).await;
    assert_eq!(store.clear_expired(NOW + secs(601)).await.unwrap(), 1);
    assert_eq!(store.clear_expired(NOW + secs(3601)).await.unwrap(), 1);
}

/// Garbage under a session key — strings that are not packed records, and another type —
/// is no session (a warning names the key's fingerprint, never the key) and is left
/// exactly as it was by create, save and touch; delete removes it.
#[tokio::test]
async fn garbage_values_are_no_session_and_left_alone() {
    let Some((store, hash, mut raw)) = both().await else {
        return;
    };
    let far = micros(NOW + secs(3600));
    // Each value, and whether its header is enough for the scripts (which check the
    // header as the decoder does, but not the data: such a record takes a touch, or a
    // save with its version).
    let garbage: Vec<(Vec<u8>, bool)> = [
        ("junk".to_owned(), false),
        (String::new(), false),
        (format!("sk2 5 0 {far} 99:ab w - - 0:\n{{}}"), false),
        (format!("sk2 -1 0 {far} 0: w - - 0:\n{{}}"), false),
        (format!("sk2 5 0 -{far} 0: w - - 0:\n{{}}"), false),
        (format!("sk2 5 0 {far}999999 0: w - - 0:\n{{}}"), false),
        (format!("sk2 5 2 {far} 0: w - - 0:\n{{}}"), false),
        // The version the save below brings: the prefix matches, the rest does not.
        (format!("sk2 1 0 x{far} 0: w - - 0:\n{{}}"), false),
        (format!("sk2 1 0 {far} 5:ab\n"), false),
        (format!("sk2 1 0 {far}999999 0: w - - 0:\n{{}}"), false),
        // No newline after the header: the scripts' parse checks it, as the decoder does.
        (format!("sk2 5 0 {far} 0: w - - 0:"), false),
        (format!("sk2 5 0 {far} 0: w x - 0:\n{{}}"), false),
        (format!("sk2 5 0 {far} 0: w - - 3:ab\n{{}}"), false),
        (format!("sk2 5 0 {far} 0: w - - 0:\n{{not json"), true),
    ]
    .into_iter()
    .map(|(v, ok)| (v.into_bytes(), ok))
    .chain([(
        format!("sk2 5 0 {far} 0: w - - 0:\n")
            .into_bytes()
            .into_iter()
            .chain([0xff, 0xfe])
            .collect(),
        true,
    )])
    .collect();
    let logs = Logs::mark();
    let r = record("{}", NOW + secs(60), None);
    for (g, scripts_read_it) in &garbage {
        let key = SessionKey::generate();
        let name = store.layout().session(&key);
        let _: () = redis::cmd("SET")
            .arg(&name)
            .arg(g)
            .arg("PX")
            .arg(60_000)
            .query_async(&mut raw)
            .await
            .unwrap();
        let shown = String::from_utf8_lossy(g);
        for s in [&store, &hash] {
            assert!(
                matches!(s.load(&key, NOW).await.unwrap(), Lookup::Missing),
                "{shown:?}"
            );
            assert_eq!(
                s.create(&key, &r, NOW).await.unwrap(),
                CreateOutcome::Collision,
                "{shown:?}"
            );
            let out = s.save(&key, &r, &Token::version(1), NOW).await.unwrap();
            let want = if *scripts_read_it {
                SaveOutcome::Conflict
            } else {
                SaveOutcome::Missing
            };
            assert_eq!(out, want, "{shown:?}");
            if !scripts_read_it {
                assert!(!s.touch(&key, NOW + secs(60), NOW).await.unwrap());
            }
            let now: Vec<u8> = exec(&mut raw, &["GET", &name]).await;
            assert_eq!(&now, g, "left exactly as it was");
        }
        let warned = logs.lines("WARN");
        assert!(
            warned
                .iter()
                .any(|l| l.contains(&key.fingerprint().to_string())),
            "{shown:?}: {warned:?}"
        );
        assert!(!warned.iter().any(|l| l.contains(key.as_str())));
        store.delete(&key).await.unwrap();
        assert_eq!(exists(&mut raw, &name).await, 0);
    }
    // Another type altogether.
    let key = SessionKey::generate();
    let name = store.layout().session(&key);
    let _: i64 = exec(&mut raw, &["RPUSH", &name, "x"]).await;
    assert!(matches!(
        store.load(&key, NOW).await.unwrap(),
        Lookup::Missing
    ));
    assert_eq!(
        store.create(&key, &r, NOW).await.unwrap(),
        CreateOutcome::Collision
    );
    assert_eq!(
        store.save(&key, &r, &Token::version(1), NOW).await.unwrap(),
        SaveOutcome::Missing
    );
    assert!(!store.touch(&key, NOW + secs(60), NOW).await.unwrap());
    assert_eq!(type_of(&mut raw, &name).await, "list");
    let listed = store
        .listing()
        .unwrap()
        .list_boxed(Page::first(NOW, 10))
        .await
        .unwrap();
    assert!(listed.is_empty(), "{listed:?}");
    store.delete(&key).await.unwrap();
    assert_eq!(exists(&mut raw, &name).await, 0);
}

/// `INFO commandstats` as `command -> (calls, usec_per_call)`.
async fn command_stats(
    raw: &mut MultiplexedConnection,
) -> std::collections::BTreeMap<String, (u64, f64)> {
    let info: String = exec(raw, &["INFO", "commandstats"]).await;
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |f: &str| {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(f)?.strip_prefix('='))
                    .and_then(|v| v.parse::<f64>().ok())
            };
            Some((
                name.to_owned(),
                (field("calls")? as u64, field("usec_per_call")?),
            ))
        })
        .collect()
}

/// What a returning visit (a `load`, then a `save`) costs the server, on a private server:
/// on a packed record one `GET` and one script, whose own calls are one `GET` and one `SET`
/// (plus the index's `SADD` and `PTTL`, `PEXPIRE` for a logged-in user) — no hash command;
/// on a hash of an earlier build, the `GET` that finds it is not a string, an `HMGET`, and
/// the script that rewrites it packed. Prints the server's time per call
/// (`--no-capture` shows it).
#[tokio::test]
async fn a_returning_visit_is_one_get_and_one_script() {
    use crate::common::{Server, raw, unique_prefix, unused_port};
    let Some(server) = require("redis-server", Server::start(unused_port()).await) else {
        return;
    };
    let store = RedisStore::builder(&server.url())
        .with_prefix(unique_prefix())
        .connect()
        .await
        .unwrap();
    let mut raw = raw(&server.url()).await;
    let json = format!(
        r#"{{"_auth_user_id":"42","_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"{}","count":0}}"#,
        "ab".repeat(32)
    );
    let mut r = record(&json, NOW + secs(3600), Some("42"));
    r.meta.client = Some(ClientInfo::new(
        Some("192.0.2.1".parse().unwrap()),
        Some("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    ));
    let visits = 2000u64;
    let visit = async |key: &SessionKey, i: u64| {
        let (mut got, token) = found(&store, key, NOW).await;
        got.data.insert("count", Value::Int(i as i64));
        let out = store.save(key, &got, &token, NOW).await.unwrap();
        assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    };
    let key = SessionKey::generate();
    created(&store, &key, &r, NOW).await;
    let _: () = exec(&mut raw, &["CONFIG", "RESETSTAT"]).await;
    for i in 0..visits {
        visit(&key, i).await;
    }
    let packed = command_stats(&mut raw).await;
    let calls =
        |s: &std::collections::BTreeMap<String, (u64, f64)>, c: &str| s.get(c).map_or(0, |v| v.0);
    assert_eq!(calls(&packed, "get"), 2 * visits, "{packed:?}");
    assert_eq!(calls(&packed, "evalsha"), visits);
    assert_eq!(calls(&packed, "set"), visits);
    assert_eq!(calls(&packed, "hmget") + calls(&packed, "hset"), 0);

    // The same visits on hashes of the previous build, each migrated by its save.
    let old: Vec<SessionKey> = (0..visits).map(|_| SessionKey::generate()).collect();
    for k in &old {
        put_old_hash(&mut raw, &store, k, "1", Some("42")).await;
    }
    let _: () = exec(&mut raw, &["CONFIG", "RESETSTAT"]).await;
    for (i, k) in old.iter().enumerate() {
        visit(k, i as u64).await;
    }
    let migrating = command_stats(&mut raw).await;
    assert_eq!(calls(&migrating, "hmget"), 2 * visits, "{migrating:?}");
    assert_eq!(calls(&migrating, "set"), visits);
    let per =
        |s: &std::collections::BTreeMap<String, (u64, f64)>, c: &str| s.get(c).map_or(0.0, |v| v.1);
    eprintln!(
        "server µs per call, packed record: load GET {:.2}, save EVALSHA {:.2} \
         (its GET {:.2}, SET {:.2}, SADD {:.2}, PTTL {:.2}, PEXPIRE {:.2}); \
         migrating an old hash: HMGET {:.2}, EVALSHA {:.2}",
        per(&packed, "get"),
        per(&packed, "evalsha"),
        per(&packed, "get"),
        per(&packed, "set"),
        per(&packed, "sadd"),
        per(&packed, "pttl"),
        per(&packed, "pexpire"),
        per(&migrating, "hmget"),
        per(&migrating, "evalsha"),
    );
}
