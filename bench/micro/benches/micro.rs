//! Micro-benchmarks of what every request does: cookie header parsing, key generation,
//! Django signing, session data encode/decode, the signed cookie store, and the engine's
//! begin/load/finish on the memory store.

#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use sessionkit_core::{ClientStore, Config, Data, Engine, MemoryStore, SessionKey, Value};
use sessionkit_django::{Secrets, SignedCookieStore, Signer};
use time::OffsetDateTime;

const SECRET: &str = "sessionkit-benchmark-secret-key-not-for-production";

fn counter_data(n: i64) -> Data {
    let mut data = Data::new();
    data.insert("count", Value::Int(n));
    data
}

fn cookie(c: &mut Criterion) {
    let mut g = c.benchmark_group("cookie");
    let alone = "sessionid=abcdefghijklmnopqrstuvwxyz012345";
    let busy = "_ga=GA1.1.123456789.1700000000; csrftoken=Zx9qW8e7R6t5Y4u3I2o1P0aSdFgHjKl; \
                sessionid=abcdefghijklmnopqrstuvwxyz012345; theme=dark; _gid=GA1.1.987654321.1700000000";
    g.bench_function("find/alone", |b| {
        b.iter(|| sessionkit_core::cookie::find(black_box(alone), "sessionid"));
    });
    g.bench_function("find/among-5", |b| {
        b.iter(|| sessionkit_core::cookie::find(black_box(busy), "sessionid"));
    });
    g.bench_function("find/absent", |b| {
        b.iter(|| sessionkit_core::cookie::find(black_box(busy), "nothere"));
    });
    g.finish();
}

fn keys(c: &mut Criterion) {
    let mut g = c.benchmark_group("key");
    g.bench_function("generate", |b| b.iter(SessionKey::generate));
    g.bench_function("parse", |b| {
        b.iter(|| SessionKey::parse(black_box("abcdefghijklmnopqrstuvwxyz012345")));
    });
    g.finish();
}

fn signing(c: &mut Criterion) {
    let mut g = c.benchmark_group("signing");
    let signer = Signer::new(
        &Secrets::new(SECRET),
        "django.contrib.sessions.backends.signed_cookies",
    );
    let now =
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let json = r#"{"count":12345}"#;
    let signed = signer.dumps(json, true, now);
    let bigger = r#"{"count":12345,"favorite_color":"blue","_auth_user_id":"42","_auth_user_backend":"django.contrib.auth.backends.ModelBackend","_auth_user_hash":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}"#;
    let signed_bigger = signer.dumps(bigger, true, now);
    g.bench_function("dumps/counter", |b| {
        b.iter(|| signer.dumps(black_box(json), true, now));
    });
    g.bench_function("loads/counter", |b| {
        b.iter(|| signer.loads(black_box(&signed), None, now));
    });
    g.bench_function("dumps/login-sized", |b| {
        b.iter(|| signer.dumps(black_box(bigger), true, now));
    });
    g.bench_function("loads/login-sized", |b| {
        b.iter(|| signer.loads(black_box(&signed_bigger), None, now));
    });
    g.finish();
}

fn data(c: &mut Criterion) {
    let mut g = c.benchmark_group("data");
    let text: Arc<str> = Arc::from(r#"{"count":12345}"#);
    g.bench_function("from_json/counter", |b| {
        b.iter(|| Data::from_json(Arc::clone(black_box(&text))));
    });
    let loaded = Data::from_json(Arc::clone(&text)).unwrap_or_default();
    g.bench_function("to_json/untouched", |b| {
        b.iter(|| black_box(&loaded).to_json())
    });
    let fresh = counter_data(12346);
    g.bench_function("to_json/fresh", |b| b.iter(|| black_box(&fresh).to_json()));
    g.bench_function("get/count", |b| b.iter(|| black_box(&loaded).get("count")));
    g.finish();
}

fn cookie_store(c: &mut Criterion) {
    let mut g = c.benchmark_group("signed_cookie_store");
    let store = SignedCookieStore::new(&Secrets::new(SECRET));
    let now = OffsetDateTime::now_utc();
    let data = counter_data(12345);
    let value = store.encode(&data, now).unwrap_or_default();
    g.bench_function("encode/counter", |b| {
        b.iter(|| store.encode(black_box(&data), now));
    });
    g.bench_function("decode/counter", |b| {
        b.iter(|| store.decode(black_box(&value), now));
    });
    g.finish();
}

fn engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_memory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let engine = Engine::new(MemoryStore::new(), Config::default());
    // One returning visitor: create the session once, then time load → +1 → save.
    let cookie = runtime.block_on(async {
        let req = engine.begin(None);
        let session = req.load().await.unwrap_or_else(|e| panic!("load: {e}"));
        session
            .insert("count", 1u64)
            .unwrap_or_else(|e| panic!("insert: {e}"));
        let out = req.finish(200).await;
        out.set_cookie[0]
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    g.bench_function("returning_visit", |b| {
        b.to_async(&runtime).iter(|| async {
            let req = engine.begin(Some(black_box(&cookie)));
            let session = req.load().await.unwrap_or_else(|e| panic!("load: {e}"));
            let n: u64 = session.get("count").ok().flatten().unwrap_or(0) + 1;
            session
                .insert("count", n)
                .unwrap_or_else(|e| panic!("insert: {e}"));
            req.finish(200).await
        });
    });
    // A new visitor: key generation, create, cookie. Each iteration adds one session.
    let fresh = Engine::new(MemoryStore::new(), Config::default());
    g.bench_function("new_visit", |b| {
        b.to_async(&runtime).iter(|| async {
            let req = fresh.begin(None);
            let session = req.load().await.unwrap_or_else(|e| panic!("load: {e}"));
            session
                .insert("count", 1u64)
                .unwrap_or_else(|e| panic!("insert: {e}"));
            req.finish(200).await
        });
    });
    g.bench_function("begin_only", |b| {
        b.iter(|| engine.begin(Some(black_box(&cookie))));
    });
    g.finish();
}

/// The price of the engine's type-erased store: one `load` of a stored session through the
/// store's own `async fn` (static dispatch) and through `DynSessionStore` (a boxed future
/// and a virtual call), on the memory store, where nothing else hides it.
fn store_dispatch(c: &mut Criterion) {
    use sessionkit_core::{DynSessionStore, Record, SessionStore};
    let mut g = c.benchmark_group("store_dispatch");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let store = MemoryStore::new();
    let now = OffsetDateTime::now_utc();
    let key = SessionKey::generate();
    let record = Record {
        data: counter_data(1),
        expires_at: now + time::Duration::hours(1),
        meta: Default::default(),
    };
    runtime
        .block_on(store.create(&key, &record, now))
        .unwrap_or_else(|e| panic!("create: {e}"));
    let erased: Arc<dyn DynSessionStore> = Arc::new(store.clone());
    // The memory store answers on the first poll: poll once, with no runtime around it, so
    // the figure is the call itself.
    fn poll_once<F: std::future::Future>(fut: F) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("the memory store answers at once"),
        }
    }
    g.bench_function("load/static", |b| {
        b.iter(|| poll_once(store.load(black_box(&key), now)))
    });
    g.bench_function("load/boxed", |b| {
        b.iter(|| poll_once(erased.load_boxed(black_box(&key), now)))
    });
    g.finish();
}

criterion_group!(
    benches,
    cookie,
    keys,
    signing,
    data,
    cookie_store,
    engine,
    store_dispatch
);
criterion_main!(benches);
