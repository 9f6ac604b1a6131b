//! `peer-memsize`: memory per session in tower-sessions' `MemoryStore`, measured as
//! `sk-memsize` measures sessionkit's: `--sessions N` sessions holding the counter
//! (`{"count": 1}`) inserted through the store's API (`SessionStore::create`), then the
//! growth of the resident set divided by N, printed as JSON.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tower_sessions::session::{Id, Record};
use tower_sessions::{MemoryStore, SessionStore};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "peer-memsize",
    about = "Memory per session in tower-sessions' MemoryStore"
)]
struct Args {
    /// Sessions to insert.
    #[arg(long, default_value_t = 1_000_000)]
    sessions: u64,
}

fn rss_bytes() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS in /proc/self/status")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS")?
        .parse()?;
    Ok(kb * 1024)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let store = MemoryStore::default();
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::weeks(2);
    let mut data = HashMap::new();
    data.insert("count".to_owned(), serde_json::json!(1));
    let before = rss_bytes()?;
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..args.sessions {
            let mut record = Record {
                id: Id::default(),
                data: data.clone(),
                expiry_date: expiry,
            };
            store
                .create(&mut record)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        anyhow::Ok(())
    })?;
    let elapsed = started.elapsed();
    let after = rss_bytes()?;
    let per = (after.saturating_sub(before)) as f64 / args.sessions.max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "store": "tower-sessions MemoryStore",
            "sessions": args.sessions,
            "rss_before": before,
            "rss_after": after,
            "bytes_per_session": per,
            "insert_seconds": elapsed.as_secs_f64(),
        })
    );
    Ok(())
}
