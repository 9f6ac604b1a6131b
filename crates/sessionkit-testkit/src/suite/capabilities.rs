//! The checks of the optional capabilities and of what stores keep beside the data: the
//! listing, the per-user index, the client info and leases.

use super::*;
use sessionkit_core::store::Page;

/// Listing pages through live sessions in key order, skipping expired ones and markers.
pub async fn listing_pages_through_live_sessions<S: SessionStore>(store: &S, p: &Profile) {
    let Some(listing) = store.listing() else {
        assert!(!p.listing, "the profile promises listing");
        return;
    };
    assert!(
        p.listing,
        "the store lists but its profile says it does not"
    );
    let mut keys: Vec<SessionKey> = (0..7).map(|_| SessionKey::generate()).collect();
    for k in &keys {
        create(store, k, &record("{}", 3600)).await;
    }
    let expired = SessionKey::generate();
    create(store, &expired, &record("{}", 5)).await;
    let retired = SessionKey::generate();
    create(store, &retired, &record("{}", 3600)).await;
    store.retire(&retired, at(3000)).await.expect("retire");
    keys.sort();
    let mut seen = Vec::new();
    let mut after: Option<SessionKey> = None;
    loop {
        let page = listing
            .list_boxed(Page {
                now: at(10),
                after: after.as_ref(),
                limit: 3,
            })
            .await
            .expect("list");
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        for info in &page {
            assert!(close(info.expires_at, at(3600), p));
            seen.push(info.key);
        }
        after = page.last().map(|i| i.key);
    }
    assert_eq!(seen, keys, "every live session once, in key order");
}

/// The per-user index lists a user's sessions and revokes all but one.
pub async fn user_index_lists_and_revokes<S: SessionStore>(store: &S, p: &Profile) {
    let Some(index) = store.user_index() else {
        assert!(!p.user_index, "the profile promises a user index");
        return;
    };
    assert!(
        p.user_index,
        "the store has a user index but its profile says it does not"
    );
    let user = format!("user-{}", SessionKey::generate().as_str());
    let other = format!("user-{}", SessionKey::generate().as_str());
    let mut mine = Vec::new();
    for i in 0..3 {
        let key = SessionKey::generate();
        let mut r = record(&format!(r#"{{"_auth_user_id":"{user}","i":{i}}}"#), 3600);
        r.meta.user_id = Some(user.clone());
        create(store, &key, &r).await;
        mine.push(key);
    }
    let theirs = SessionKey::generate();
    let mut r = record(&format!(r#"{{"_auth_user_id":"{other}"}}"#), 3600);
    r.meta.user_id = Some(other.clone());
    create(store, &theirs, &r).await;
    // A session that logs in later (user set by a save) is indexed too.
    let late = SessionKey::generate();
    create(store, &late, &record("{}", 3600)).await;
    let (_, t) = found(store, &late, NOW).await;
    let mut r = record(&format!(r#"{{"_auth_user_id":"{user}"}}"#), 3600);
    r.meta.user_id = Some(user.clone());
    assert!(matches!(
        store.save(&late, &r, &t, NOW).await.expect("save"),
        SaveOutcome::Saved(_)
    ));
    mine.push(late);
    // An expired session of the user is not listed.
    let mut r = record(&format!(r#"{{"_auth_user_id":"{user}"}}"#), 5);
    r.meta.user_id = Some(user.clone());
    create(store, &SessionKey::generate(), &r).await;

    let mut listed: Vec<SessionKey> = index
        .sessions_of_boxed(&user, at(10))
        .await
        .expect("sessions_of")
        .into_iter()
        .map(|i| {
            assert_eq!(i.meta.user_id.as_deref(), Some(user.as_str()));
            i.key
        })
        .collect();
    listed.sort();
    mine.sort();
    assert_eq!(listed, mine);

    let keep = mine[0];
    let revoked = index
        .revoke_user_boxed(&user, Some(&keep))
        .await
        .expect("revoke");
    assert!(revoked >= 3, "revoked {revoked}");
    found(store, &keep, NOW).await;
    for k in &mine[1..] {
        missing(store, k, NOW).await;
    }
    found(store, &theirs, NOW).await;
    let left = index
        .sessions_of_boxed(&user, NOW)
        .await
        .expect("sessions_of");
    assert_eq!(left.len(), 1);
    assert_eq!(
        index
            .revoke_user_boxed(&user, None)
            .await
            .expect("revoke all"),
        1
    );
    missing(store, &keep, NOW).await;
    assert!(
        index
            .sessions_of_boxed(&user, NOW)
            .await
            .expect("sessions_of")
            .is_empty()
    );
}

/// The client info (issue 19) written with a record comes back as written: from `load`
/// after `create` and after `save` (another client; none erases it), kept by `touch`,
/// and in `list` and `sessions_of` where the store has them. A store without room for it
/// (see [`Profile::client_info`]) returns none.
pub async fn client_info_round_trips<S: SessionStore>(store: &S, p: &Profile) {
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let first = ClientInfo::new(Some("203.0.113.7".parse().expect("ip")), Some(ua));
    let user = format!("user-{}", SessionKey::generate().as_str());
    let key = SessionKey::generate();
    let mut r = record(&format!(r#"{{"_auth_user_id":"{user}","n":1}}"#), 3600);
    r.meta.user_id = Some(user.clone());
    r.meta.client = Some(first.clone());
    // A neighbour without client info, so a store cannot pass by sharing one value.
    let bare = SessionKey::generate();
    create(store, &bare, &record("{}", 3600)).await;
    create(store, &key, &r).await;
    let (got, t) = found(store, &key, NOW).await;
    if !p.client_info {
        assert_eq!(
            got.meta.client, None,
            "the profile says the store keeps no client info"
        );
        return;
    }
    assert_eq!(got.meta.client.as_ref(), Some(&first), "create → load");
    assert_eq!(found(store, &bare, NOW).await.0.meta.client, None);

    if let Some(listing) = store.listing() {
        let mut listed = Vec::new();
        let mut after: Option<SessionKey> = None;
        loop {
            let page = listing
                .list_boxed(Page {
                    now: NOW,
                    after: after.as_ref(),
                    limit: 50,
                })
                .await
                .expect("list");
            let Some(last) = page.last() else { break };
            after = Some(last.key);
            listed.extend(page);
        }
        let client_of = |k: &SessionKey| {
            listed
                .iter()
                .find(|i| i.key == *k)
                .map(|i| i.meta.client.clone())
                .expect("listed")
        };
        assert_eq!(client_of(&key).as_ref(), Some(&first), "list");
        assert_eq!(client_of(&bare), None, "list");
    }
    if let Some(index) = store.user_index() {
        let mine = index
            .sessions_of_boxed(&user, NOW)
            .await
            .expect("sessions_of");
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].meta.client.as_ref(), Some(&first), "sessions_of");
    }

    // Another client (IPv6, no user agent, a stored label) replaces it on a save.
    let second = ClientInfo::from_stored(
        Some("2001:db8::7".parse().expect("ip")),
        None,
        Some("Custom device"),
    );
    r.meta.client = Some(second.clone());
    let out = store.save(&key, &r, &t, NOW).await.expect("save");
    let SaveOutcome::Saved(_) = out else {
        panic!("{out:?}")
    };
    let (got, t) = found(store, &key, NOW).await;
    assert_eq!(got.meta.client.as_ref(), Some(&second), "save → load");
    assert!(store.touch(&key, at(4000), at(10)).await.expect("touch"));
    let (got, _) = found(store, &key, at(10)).await;
    assert_eq!(got.meta.client.as_ref(), Some(&second), "touch keeps it");
    // A save without client info (recording switched off) erases it.
    r.meta.client = None;
    r.expires_at = at(4000);
    let out = store.save(&key, &r, &t, at(10)).await.expect("save");
    assert!(matches!(out, SaveOutcome::Saved(_)), "{out:?}");
    assert_eq!(
        found(store, &key, at(10)).await.0.meta.client,
        None,
        "erased"
    );
}

/// Leases exclude a second owner, are released only by their owner, and expire.
pub async fn leases_exclude_and_expire<S: SessionStore>(store: &S, p: &Profile) {
    let Some(leases) = store.leases() else {
        assert!(!p.leases, "the profile promises leases");
        return;
    };
    assert!(
        p.leases,
        "the store has leases but its profile says it does not"
    );
    let key = SessionKey::generate();
    let ttl = Duration::from_millis(800);
    let acquire = |owner: &'static str| leases.try_acquire_boxed(&key, owner, ttl);
    assert!(acquire("a").await.expect("acquire"));
    assert!(!acquire("b").await.expect("acquire"));
    leases
        .release_boxed(&key, "b")
        .await
        .expect("release by a non-owner");
    assert!(
        !acquire("b").await.expect("acquire"),
        "only the owner releases"
    );
    leases.release_boxed(&key, "a").await.expect("release");
    assert!(acquire("b").await.expect("acquire after release"));
    // b crashes: the lease runs out by itself.
    tokio::time::sleep(ttl + Duration::from_millis(400)).await;
    assert!(acquire("c").await.expect("acquire after expiry"));
    leases.release_boxed(&key, "c").await.expect("release");
}
