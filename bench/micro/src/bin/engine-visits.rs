//! A fixed number of returning visits through the engine on the memory store, for
//! instruction counts under `valgrind --tool=callgrind` (which criterion's variable
//! iteration counts make hard to read). Run it twice with different counts and divide the
//! difference: that removes the setup.
//!
//! ```sh
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/engine-visits 20000
//! ```

use sessionkit_core::{Config, Engine, MemoryStore};

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let engine = Engine::new(MemoryStore::new(), Config::default());
    runtime.block_on(async {
        let req = engine.begin(None);
        let session = req.load().await.unwrap_or_else(|e| panic!("load: {e}"));
        session
            .insert("count", 1u64)
            .unwrap_or_else(|e| panic!("insert: {e}"));
        let out = req.finish(200).await;
        let cookie = out.set_cookie[0]
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        for _ in 0..n {
            let req = engine.begin(Some(std::hint::black_box(&cookie)));
            let session = req.load().await.unwrap_or_else(|e| panic!("load: {e}"));
            let c: u64 = session.get("count").ok().flatten().unwrap_or(0) + 1;
            session
                .insert("count", c)
                .unwrap_or_else(|e| panic!("insert: {e}"));
            std::hint::black_box(req.finish(200).await);
        }
    });
}
