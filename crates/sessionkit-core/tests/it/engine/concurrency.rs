//! Concurrent requests on one session: compare-and-set with replay, lock mode.

use std::time::Duration;

use sessionkit_core::*;

use super::*;

#[tokio::test]
async fn counter_flow() {
    let h = harness();
    let mut cookie: Option<String> = None;
    for want in 1..=3u64 {
        let out = h
            .request(cookie.as_deref(), 200, |s| {
                let n: u64 = s.get("count").unwrap().unwrap_or(0) + 1;
                s.insert("count", n).unwrap();
                assert_eq!(n, want);
            })
            .await;
        cookie = Some(pair(&out.set_cookie[0]));
    }
}

#[tokio::test]
async fn concurrent_writers_to_different_keys_both_land() {
    let h = harness();
    let cookie = h.new_session().await;
    let a = h.engine.begin(Some(&cookie));
    let b = h.engine.begin(Some(&cookie));
    let sa = a.load().await.unwrap();
    let sb = b.load().await.unwrap();
    sa.insert("a", 1).unwrap();
    sb.insert("b", 2).unwrap();
    assert!(a.finish(200).await.failure.is_none());
    assert!(b.finish(200).await.failure.is_none());
    let s = h.read(&cookie).await;
    assert_eq!(s.get::<i32>("a").unwrap(), Some(1));
    assert_eq!(s.get::<i32>("b").unwrap(), Some(2));
    let st = h.engine.stats();
    assert_eq!(st.conflicts, 1);
    assert_eq!(st.replays, 1);
    assert_eq!(st.overwrites, 0);
}

#[tokio::test]
async fn update_with_loses_no_increment_and_plain_writes_are_counted() {
    let h = harness();
    let cookie = h.new_session().await;
    let reqs: Vec<_> = (0..10).map(|_| h.engine.begin(Some(&cookie))).collect();
    for r in &reqs {
        let s = r.load().await.unwrap();
        s.update_with("count", |n: Option<u64>| n.unwrap_or(0) + 1)
            .unwrap();
    }
    for r in &reqs {
        assert!(r.finish(200).await.failure.is_none());
    }
    assert_eq!(h.read(&cookie).await.get::<u64>("count").unwrap(), Some(11));
    assert_eq!(h.engine.stats().conflicts, 9);

    // The same with a plain read-then-write: last writer wins, and it is counted.
    let reqs: Vec<_> = (0..3).map(|_| h.engine.begin(Some(&cookie))).collect();
    for r in &reqs {
        let s = r.load().await.unwrap();
        let n: u64 = s.get("count").unwrap().unwrap();
        s.insert("count", n + 1).unwrap();
    }
    for r in &reqs {
        r.finish(200).await;
    }
    assert_eq!(h.read(&cookie).await.get::<u64>("count").unwrap(), Some(12));
    assert_eq!(h.engine.stats().overwrites, 2);
}

#[tokio::test]
async fn retries_exhausted_is_a_503_with_retry_after() {
    let h = harness_with(Config::builder().max_save_attempts(1).build().unwrap());
    let cookie = h.new_session().await;
    let a = h.engine.begin(Some(&cookie));
    a.load().await.unwrap().insert("x", 1).unwrap();
    h.request(Some(&cookie), 200, |s| s.insert("y", 1).unwrap())
        .await;
    let out = a.finish(200).await;
    let f = out.failure.unwrap();
    assert_eq!(f.status, 503);
    assert_eq!(f.retry_after, Some(1));
    assert_eq!(h.engine.stats().exhausted, 1);
}

#[tokio::test]
async fn finish_twice_is_harmless_and_late_writes_are_lost() {
    let h = harness();
    let req = h.engine.begin(None);
    let s = req.load().await.unwrap();
    s.insert("a", 1).unwrap();
    let first = req.finish(200).await;
    assert_eq!(first.set_cookie.len(), 1);
    assert_eq!(req.finish(200).await, Outcome::default());
    s.insert("b", 2).unwrap(); // logged as lost
    let again = h.read(&pair(&first.set_cookie[0])).await;
    assert_eq!(again.get::<i32>("b").unwrap(), None);
}

#[tokio::test]
async fn lock_mode_serializes_requests_of_one_session() {
    let h = harness_with(
        Config::builder()
            .concurrency(Concurrency::Lock)
            .lock_timeout(Duration::from_millis(200))
            .build()
            .unwrap(),
    );
    let cookie = h.new_session().await;
    let a = h.engine.begin(Some(&cookie));
    let sa = a.load().await.unwrap();
    // A second request waits for the first and times out with a 503.
    let b = h.engine.begin(Some(&cookie));
    assert!(matches!(
        b.load().await.map_err(|e| e.kind()),
        Err(LoadErrorKind::Locked(_))
    ));
    sa.insert("count", 2).unwrap();
    a.finish(200).await;
    // Released: the next request gets in and sees the write.
    let c = h.engine.begin(Some(&cookie));
    assert_eq!(
        c.load().await.unwrap().get::<i32>("count").unwrap(),
        Some(2)
    );
    c.finish(200).await;
}

/// The retry policy compares a fresh load with what the data held as loaded under each
/// key the request changed, also when the request cleared the dictionary first.
#[tokio::test]
async fn overwrites_are_counted_against_the_loaded_values_after_a_clear() {
    let h = harness();
    let cookie = h.new_session().await;
    let seed = h.engine.begin(Some(&cookie));
    let s = seed.load().await.unwrap();
    s.insert("count", 1).unwrap();
    s.insert("other", 1).unwrap();
    seed.finish(200).await;

    // A clears the dictionary and sets `count`; B sets `b_key` and saves first.
    let race = async |count: u64, b_key: &str, b_value: u64| {
        let a = h.engine.begin(Some(&cookie));
        let b = h.engine.begin(Some(&cookie));
        let sa = a.load().await.unwrap();
        sa.clear();
        sa.insert("count", count).unwrap();
        b.load().await.unwrap().insert(b_key, b_value).unwrap();
        b.finish(200).await;
        a.finish(200).await;
    };

    // B changes only `other`: no overwrite.
    race(5, "other", 2).await;
    assert_eq!(h.engine.stats().overwrites, 0);
    assert_eq!(h.read(&cookie).await.get::<u64>("count").unwrap(), Some(5));
    // The clear is replayed too: B's `other` is gone.
    assert_eq!(h.read(&cookie).await.get::<u64>("other").unwrap(), None);

    // Now B changes `count` itself: A's write over it is counted.
    race(7, "count", 6).await;
    assert_eq!(h.engine.stats().overwrites, 1);
    assert_eq!(h.read(&cookie).await.get::<u64>("count").unwrap(), Some(7));
}
