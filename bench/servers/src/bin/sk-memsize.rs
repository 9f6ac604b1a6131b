//! `sk-memsize`: memory per session in sessionkit's `MemoryStore`.
//!
//! Inserts `--sessions N` sessions holding the counter's payload (`{"count": 1}`, with
//! the engine's metadata) through the store's API (`SessionStore::create`), and prints the
//! growth of the resident set divided by N as JSON. `peer-memsize` in `bench/peers` does
//! the same with tower-sessions' `MemoryStore`.

use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use sessionkit_core::{Data, MemoryStore, Metadata, Record, SessionKey, SessionStore, Value};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "sk-memsize",
    about = "Memory per session in sessionkit's MemoryStore"
)]
struct Args {
    /// Sessions to insert.
    #[arg(long, default_value_t = 1_000_000)]
    sessions: u64,
}

/// The resident set size, bytes (`VmRSS` of `/proc/self/status`).
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
    let store = MemoryStore::new();
    let now = time::OffsetDateTime::now_utc();
    let mut data = Data::new();
    data.insert("count", Value::Int(1));
    let record = Record {
        data,
        expires_at: now + time::Duration::weeks(2),
        meta: Metadata {
            created_at: Some(now),
            last_seen: Some(now),
            user_id: None,
            client: None,
        },
    };
    let before = rss_bytes()?;
    let started = Instant::now();
    runtime.block_on(async {
        for _ in 0..args.sessions {
            store
                .create(&SessionKey::generate(), &record, now)
                .await
                .map_err(|e| anyhow::anyhow!(e.report()))?;
        }
        anyhow::Ok(())
    })?;
    let elapsed = started.elapsed();
    let after = rss_bytes()?;
    let per = (after.saturating_sub(before)) as f64 / args.sessions.max(1) as f64;
    println!(
        "{}",
        serde_json::json!({
            "store": "sessionkit MemoryStore",
            "sessions": args.sessions,
            "len": store.len(),
            "rss_before": before,
            "rss_after": after,
            "bytes_per_session": per,
            "insert_seconds": elapsed.as_secs_f64(),
        })
    );
    Ok(())
}
