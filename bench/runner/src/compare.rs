//! `bench-run compare`: our servers against the same servers built from an earlier commit
//! (a "baseline"), interleaved in every round, so that a refactoring can show it made
//! nothing slower. Writes the `compare` section of docs/BENCHMARKS.md.
//!
//! Each round runs every selected server × mode twice — the current build and the
//! baseline's, alternating which goes first — on a fresh server process and an empty store,
//! with the same load generator. The verdict per server and mode is the per-round ratio
//! new ÷ old: a server counts as slower only if **every** round's ratio is below 1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use sessionkit_loadgen::Report;
use sessionkit_loadgen::stats::median;
use sessionkit_loadgen::units::format_duration;

use crate::exec::{self, Env};
use crate::markdown::Table;
use crate::servers::{Binary, SERVERS, Server};
use crate::{LoadsArgs, fmt_opt, machine, now_utc, one_run, require};

/// `compare` options: those of `loads`, plus where the baseline's binaries are.
#[derive(Debug, Clone, Args)]
#[command(args_override_self = true)]
pub(crate) struct CompareArgs {
    #[command(flatten)]
    loads: LoadsArgs,
    /// A directory holding the baseline's `sk-server` (built from the commit to compare
    /// with, e.g. in a `git worktree`); the current build's `loadgen` drives both.
    #[arg(long)]
    baseline_bin_dir: PathBuf,
    /// The baseline's name in the report (e.g. a commit hash).
    #[arg(long, default_value = "baseline")]
    baseline_label: String,
}

/// One server's results in one mode, per round: (new, old).
#[derive(Debug, Default)]
struct Pair {
    new: BTreeMap<usize, Report>,
    old: BTreeMap<usize, Report>,
    failures: Vec<String>,
}

pub(crate) fn compare(c: &CompareArgs) -> anyhow::Result<()> {
    let a = &c.loads;
    let new_env = a.common.env();
    let mut old_env = new_env.clone();
    old_env.bin_dir = c.baseline_bin_dir.clone();
    let selected: Vec<&'static Server> = SERVERS
        .iter()
        .filter(|s| s.binary == Binary::Ours)
        .filter(|s| a.only.is_empty() || a.only.iter().any(|o| o == s.id))
        .filter(|s| !a.skip.iter().any(|o| o == s.id))
        .collect();
    if selected.is_empty() || a.rounds == 0 {
        bail!("nothing to run (compare runs our servers only)");
    }
    require(
        &new_env.bin_dir.join("sk-server"),
        "build it: cargo build --release --manifest-path bench/Cargo.toml",
    )?;
    require(
        &new_env.loadgen,
        "build it: cargo build --release --manifest-path bench/Cargo.toml",
    )?;
    require(
        &old_env.bin_dir.join("sk-server"),
        "build the baseline's bench servers and point --baseline-bin-dir at them",
    )?;
    std::fs::create_dir_all(&new_env.state_dir)?;
    let started = now_utc();
    let load_before = machine::load_average();
    let t0 = Instant::now();
    let jobs: Vec<(&'static Server, &str)> = selected
        .iter()
        .flat_map(|s| a.modes.iter().map(move |m| (*s, m.as_str())))
        .collect();
    let mut pairs: BTreeMap<(&'static str, String), Pair> = BTreeMap::new();
    for round in 0..a.rounds {
        let mut order = jobs.clone();
        order.rotate_left(round * jobs.len() / a.rounds);
        for (i, (server, mode)) in order.into_iter().enumerate() {
            let p = pairs.entry((server.id, mode.to_owned())).or_default();
            // Alternate which build goes first, so neither always runs on a warmer machine.
            let builds: [(bool, &Env); 2] = if (round + i) % 2 == 0 {
                [(true, &new_env), (false, &old_env)]
            } else {
                [(false, &old_env), (true, &new_env)]
            };
            for (is_new, env) in builds {
                eprintln!(
                    "[round {}/{}, run {}/{}] {} ({mode} visitors, {})",
                    round + 1,
                    a.rounds,
                    i + 1,
                    jobs.len(),
                    server.id,
                    if is_new { "new" } else { &c.baseline_label }
                );
                match one_run(env, a, server, mode) {
                    Ok(r) if is_new => {
                        p.new.insert(round, r);
                    }
                    Ok(r) => {
                        p.old.insert(round, r);
                    }
                    Err(e) => {
                        eprintln!("  FAILED: {e:#}");
                        p.failures.push(format!("{e:#}"));
                    }
                }
                std::thread::sleep(a.pause);
            }
        }
    }
    if selected.iter().any(|s| s.store == "postgres") {
        exec::drop_postgres(&new_env, &a.postgres_db)?;
    }
    if selected.iter().any(|s| s.store == "redis") {
        exec::flush_redis(&new_env, a.redis_db)?;
    }
    let body = render(c, &new_env, &pairs, &started, &load_before, t0.elapsed());
    a.common.write("compare", &body)
}

fn render(
    c: &CompareArgs,
    env: &Env,
    pairs: &BTreeMap<(&'static str, String), Pair>,
    started: &str,
    load_before: &str,
    took: Duration,
) -> String {
    let a = &c.loads;
    let label = a
        .common
        .label
        .as_deref()
        .unwrap_or("Against an earlier build");
    let mut out = format!("## {label}\n\n");
    out.push_str(&a.common.preamble(env, started, load_before, took));
    out.push_str(&format!(
        "- Method: {rounds} round(s); in each, every server × visitor mode runs twice — this build \
         and `{base}` — alternating which goes first, each a fresh process on an empty store; \
         warm-up {warm}, then {dur} measured; {conns} connections; the same load generator for \
         both. A server is slower only if every round's ratio is below 1.\n\n",
        rounds = a.rounds,
        base = c.baseline_label,
        warm = format_duration(a.warmup),
        dur = format_duration(a.duration),
        conns = a.connections,
    ));
    let mut t = Table::new(&[
        "server",
        "visitors",
        "new req/s",
        "old req/s",
        "median ratio",
        "per-round ratios",
        "server CPU µs/req new / old",
        "slower in every round",
    ]);
    for ((id, mode), p) in pairs {
        let ratios: Vec<f64> = p
            .new
            .iter()
            .filter_map(|(round, n)| {
                let o = p.old.get(round)?;
                (o.rps > 0.0).then(|| n.rps / o.rps)
            })
            .collect();
        let rps =
            |m: &BTreeMap<usize, Report>| median(&m.values().map(|r| r.rps).collect::<Vec<_>>());
        let cpu = |m: &BTreeMap<usize, Report>| {
            median(
                &m.values()
                    .filter_map(|r| r.server_cpu.as_ref().map(|c| c.us_per_request))
                    .collect::<Vec<_>>(),
            )
        };
        let slower = if ratios.is_empty() {
            "n/a".to_owned()
        } else if ratios.iter().all(|r| *r < 1.0) {
            "**yes**".to_owned()
        } else {
            "no".to_owned()
        };
        t.row(vec![
            format!("`{id}`"),
            mode.clone(),
            fmt_opt(rps(&p.new), 0),
            fmt_opt(rps(&p.old), 0),
            fmt_opt(median(&ratios), 3),
            ratios
                .iter()
                .map(|r| format!("{r:.3}"))
                .collect::<Vec<_>>()
                .join(", "),
            format!("{} / {}", fmt_opt(cpu(&p.new), 1), fmt_opt(cpu(&p.old), 1)),
            slower,
        ]);
    }
    out.push_str(&t.render());
    let failures: Vec<String> = pairs
        .iter()
        .filter_map(|((id, mode), p)| {
            p.failures.first().map(|e| {
                format!(
                    "- `{id}` ({mode}): {} failed run(s); first: {}",
                    p.failures.len(),
                    e.lines().next().unwrap_or_default()
                )
            })
        })
        .collect();
    if !failures.is_empty() {
        out.push_str("\nFailed runs:\n\n");
        out.push_str(&failures.join("\n"));
        out.push('\n');
    }
    out
}
