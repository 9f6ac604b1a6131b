//! `bench-run`: runs the sessionkit benchmarks and writes their results into
//! `docs/BENCHMARKS.md` (between `<!-- bench:NAME:start/end -->` markers, so the
//! hand-written text around them stays).
//!
//! * `bench-run loads` — every server × visitor mode, interleaved over rounds: medians,
//!   spread, p99, CPU per request, and the ratio of ours to each peer on the same store
//!   against the targets.
//! * `bench-run memory` — memory per session at N sessions, sessionkit's `MemoryStore`
//!   against tower-sessions' `MemoryStore`.
//! * `bench-run scale` — returning-visitor throughput of each of our stores with a small
//!   and a large number of live sessions.
//!
//! `bench/run.sh` builds the binaries in release and calls it; see `bench/README.md`.

mod compare;
mod exec;
mod machine;
mod markdown;
mod servers;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use sessionkit_loadgen::Report;
use sessionkit_loadgen::stats::{median, min_max, spread_percent};
use sessionkit_loadgen::units::{format_duration, parse_duration};

use crate::exec::{Env, Load, Placement};
use crate::markdown::{Table, write_section};
use crate::servers::{Binary, COMPARISONS, SERVERS, Server};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "bench-run",
    about = "Runs the sessionkit benchmarks and writes docs/BENCHMARKS.md",
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Throughput and latency of every server and visitor mode, interleaved rounds.
    Loads(LoadsArgs),
    /// Memory per session: sessionkit's MemoryStore vs tower-sessions' MemoryStore.
    Memory(MemoryArgs),
    /// Returning-visitor throughput of each of our stores with few and many live sessions.
    Scale(ScaleArgs),
    /// Our servers against the same servers built from an earlier commit, interleaved.
    Compare(compare::CompareArgs),
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// The document to write.
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub(crate) out: PathBuf,
    /// Print the section instead of writing it into `--out`.
    #[arg(long)]
    pub(crate) no_write: bool,
    /// Heading of the written section (e.g. "Smoke run (busy machine)").
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// The command to record in the report (bench/run.sh passes its own).
    #[arg(long)]
    pub(crate) command: Option<String>,
    /// The bench workspace's release binaries.
    #[arg(long, default_value = "bench/target/release")]
    pub(crate) bin_dir: PathBuf,
    /// The peer workspace's release binaries.
    #[arg(long, default_value = "bench/peers/target/release")]
    pub(crate) peer_bin_dir: PathBuf,
    /// SQLite files and server logs.
    #[arg(long, default_value = "target/bench-state")]
    pub(crate) state_dir: PathBuf,
    /// PostgreSQL server (no database: the runner creates and drops its own
    /// `sessionkit_bench*` databases).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub(crate) postgres: String,
    /// Redis server (no database number: see `--redis-db`).
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub(crate) redis: String,
    /// Worker threads of every server.
    #[arg(long, default_value_t = 2)]
    pub(crate) workers: usize,
}

/// `loads` options.
#[derive(Debug, Clone, Args)]
#[command(args_override_self = true)]
pub(crate) struct LoadsArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Rounds (each runs every server × mode once).
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: usize,
    /// Measured window per run.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub(crate) duration: Duration,
    /// Warm-up per run.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    pub(crate) warmup: Duration,
    /// Connections (virtual browsers).
    #[arg(long, default_value_t = 32)]
    pub(crate) connections: usize,
    /// Load generator threads.
    #[arg(long, default_value_t = 1)]
    pub(crate) loadgen_threads: usize,
    /// Visitor modes, comma-separated.
    #[arg(long, default_value = "returning,new", value_delimiter = ',')]
    pub(crate) modes: Vec<String>,
    /// Only these servers (ids, comma-separated; see `bench/README.md`).
    #[arg(long, value_delimiter = ',')]
    pub(crate) only: Vec<String>,
    /// Leave out these servers.
    #[arg(long, value_delimiter = ',')]
    pub(crate) skip: Vec<String>,
    /// Pause between runs (lets the databases settle).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub(crate) pause: Duration,
    /// Redis database number the runner owns and flushes.
    #[arg(long, default_value_t = 9)]
    pub(crate) redis_db: u32,
    /// PostgreSQL database the runner owns, dropped and re-created for every run.
    #[arg(long, default_value = "sessionkit_bench")]
    pub(crate) postgres_db: String,
    /// Also append every run's report here (JSON lines).
    #[arg(long)]
    pub(crate) raw: Option<PathBuf>,
    /// What sends the load: this workspace's `loadgen` (checks every visit count), or
    /// Debian's `wrk` (`-t1`, a Lua script replaying eight session cookies per connection;
    /// checks statuses only), a second, independent view of the same servers.
    #[arg(long, value_enum, default_value_t = exec::Generator::Loadgen)]
    pub(crate) generator: exec::Generator,
}

/// `memory` options.
#[derive(Debug, Clone, Args)]
#[command(args_override_self = true)]
struct MemoryArgs {
    #[command(flatten)]
    common: Common,
    /// Sessions to insert.
    #[arg(long, default_value_t = 1_000_000)]
    sessions: u64,
    /// Rounds (alternating which store goes first).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// `scale` options.
#[derive(Debug, Clone, Args)]
#[command(args_override_self = true)]
struct ScaleArgs {
    #[command(flatten)]
    common: Common,
    /// Rounds.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// The small number of live sessions.
    #[arg(long, default_value_t = 1_000)]
    small: u64,
    /// The large number of live sessions.
    #[arg(long, default_value_t = 1_000_000)]
    large: u64,
    /// Stores (axum servers), comma-separated.
    #[arg(
        long,
        default_value = "memory,sqlite,postgres,redis",
        value_delimiter = ','
    )]
    stores: Vec<String>,
    /// Measured window per run.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Warm-up per run.
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    warmup: Duration,
    /// Connections (returning visitors).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Load generator threads.
    #[arg(long, default_value_t = 1)]
    loadgen_threads: usize,
    /// How long a server may take to prepopulate before listening.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    ready_timeout: Duration,
    /// Keep the prepared databases (PostgreSQL `sessionkit_bench_scale_*`, Redis databases
    /// 10 and 11, SQLite templates) instead of removing them at the end.
    #[arg(long)]
    keep_state: bool,
}

impl Common {
    pub(crate) fn env(&self) -> Env {
        Env {
            bin_dir: self.bin_dir.clone(),
            loadgen: self.bin_dir.join("loadgen"),
            peer_bin_dir: self.peer_bin_dir.clone(),
            state_dir: self.state_dir.clone(),
            postgres: self.postgres.clone(),
            redis: self.redis.clone(),
            workers: self.workers,
        }
    }

    fn command_line(&self) -> String {
        self.command.clone().unwrap_or_else(|| {
            let args: Vec<String> = std::env::args().collect();
            args.join(" ")
        })
    }

    pub(crate) fn write(&self, section: &str, body: &str) -> anyhow::Result<()> {
        if self.no_write {
            println!("{body}");
            return Ok(());
        }
        write_section(&self.out, section, body)?;
        eprintln!("wrote the {section} section of {}", self.out.display());
        Ok(())
    }

    /// The lines every section starts with: when, where, with what, how.
    pub(crate) fn preamble(
        &self,
        env: &Env,
        started: &str,
        load_before: &str,
        took: Duration,
    ) -> String {
        format!(
            "- Run: {started} UTC, {took_min:.1} min; load average {load_before} at the start, {load_after} at the end.\n\
             - Machine: {machine}.\n\
             - Software: {rustc}; PostgreSQL {pg}; Redis {redis}.\n\
             - Command: `{cmd}`\n",
            took_min = took.as_secs_f64() / 60.0,
            load_after = machine::load_average(),
            machine = machine::describe(),
            rustc = machine::rustc(),
            pg = exec::postgres_version(env).unwrap_or_else(|| "(unreachable)".into()),
            redis = exec::redis_version(env).unwrap_or_else(|| "(unreachable)".into()),
            cmd = self.command_line(),
        )
    }
}

pub(crate) fn now_utc() -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    time::OffsetDateTime::now_utc()
        .format(&f)
        .unwrap_or_default()
}

pub(crate) fn require(path: &std::path::Path, hint: &str) -> anyhow::Result<()> {
    if !path.is_file() {
        bail!("{} is missing: {hint}", path.display());
    }
    Ok(())
}

pub(crate) fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.digits$}"))
}

// ---------------------------------------------------------------------------------------
// loads

/// One run of one server in one mode.
#[derive(Debug)]
struct Run {
    round: usize,
    server: &'static Server,
    mode: String,
    result: Result<Report, String>,
}

fn prepare(env: &Env, a: &LoadsArgs, server: &Server, at: &Placement) -> anyhow::Result<()> {
    match server.store {
        "sqlite" => exec::remove_sqlite(&at.sqlite_path),
        "postgres" => exec::recreate_postgres(env, &a.postgres_db)?,
        "redis" => exec::flush_redis(env, a.redis_db)?,
        _ => {}
    }
    Ok(())
}

pub(crate) fn one_run(
    env: &Env,
    a: &LoadsArgs,
    server: &Server,
    mode: &str,
) -> anyhow::Result<Report> {
    let at = Placement {
        sqlite_path: env.state_dir.join(format!("{}.sqlite3", server.id)),
        postgres_db: a.postgres_db.clone(),
        redis_db: a.redis_db,
        prepopulate: 0,
    };
    prepare(env, a, server, &at)?;
    let running = env.start(server, &at, Duration::from_secs(60))?;
    let load = Load {
        mode: mode.to_owned(),
        connections: a.connections,
        warmup: a.warmup,
        duration: a.duration,
        threads: a.loadgen_threads,
        store_pid: env.store_pid(server.store),
    };
    if load.store_pid.is_none() && !matches!(server.store, "none" | "memory" | "sqlite" | "cookie")
    {
        eprintln!(
            "  note: the {} process was not found; no store CPU for this run",
            server.store
        );
    }
    let report = match a.generator {
        exec::Generator::Loadgen => env.loadgen(&running, &load),
        exec::Generator::Wrk => env.wrk(&running, &load),
    };
    drop(running);
    if server.store == "sqlite" {
        exec::remove_sqlite(&at.sqlite_path);
    }
    report
}

fn loads(a: &LoadsArgs) -> anyhow::Result<()> {
    let env = a.common.env();
    for id in a.only.iter().chain(&a.skip) {
        if servers::find(id).is_none() {
            let ids: Vec<_> = SERVERS.iter().map(|s| s.id).collect();
            bail!("unknown server {id:?}; servers: {}", ids.join(", "));
        }
    }
    for m in &a.modes {
        if m != "returning" && m != "new" {
            bail!("unknown mode {m:?}: returning or new");
        }
    }
    let selected: Vec<&'static Server> = SERVERS
        .iter()
        .filter(|s| a.only.is_empty() || a.only.iter().any(|o| o == s.id))
        .filter(|s| !a.skip.iter().any(|o| o == s.id))
        .collect();
    if selected.is_empty() || a.rounds == 0 {
        bail!("nothing to run");
    }
    require(
        &env.bin_dir.join("sk-server"),
        "build it: cargo build --release -p sessionkit-bench-servers",
    )?;
    require(
        &env.bin_dir.join("loadgen"),
        "build it: cargo build --release -p sessionkit-loadgen",
    )?;
    if selected.iter().any(|s| s.binary == Binary::Peer) {
        require(
            &env.peer_bin_dir.join("peer-server"),
            "build it: cargo build --release --manifest-path bench/peers/Cargo.toml",
        )?;
    }
    fs::create_dir_all(&env.state_dir)?;
    let mut raw = match &a.raw {
        Some(p) => Some(fs::OpenOptions::new().create(true).append(true).open(p)?),
        None => None,
    };
    let started = now_utc();
    let load_before = machine::load_average();
    let t0 = Instant::now();
    let jobs: Vec<(&'static Server, &str)> = selected
        .iter()
        .flat_map(|s| a.modes.iter().map(move |m| (*s, m.as_str())))
        .collect();
    let mut runs = Vec::new();
    for round in 0..a.rounds {
        // Each round starts elsewhere in the list, so no server always runs first or
        // right after the same neighbour.
        let mut order = jobs.clone();
        order.rotate_left(round * jobs.len() / a.rounds);
        for (i, (server, mode)) in order.into_iter().enumerate() {
            eprintln!(
                "[round {}/{}, run {}/{}] {} ({mode} visitors)",
                round + 1,
                a.rounds,
                i + 1,
                jobs.len(),
                server.id
            );
            let result = one_run(&env, a, server, mode).map_err(|e| format!("{e:#}"));
            if let Err(e) = &result {
                eprintln!("  FAILED: {e}");
            }
            if let (Some(f), Ok(r)) = (raw.as_mut(), &result) {
                let line = serde_json::json!({"round": round + 1, "server": server.id, "mode": mode, "report": r});
                writeln!(f, "{line}")?;
            }
            runs.push(Run {
                round,
                server,
                mode: mode.to_owned(),
                result,
            });
            std::thread::sleep(a.pause);
        }
    }
    // Leave no sessions behind in the shared services.
    if selected.iter().any(|s| s.store == "postgres") {
        exec::drop_postgres(&env, &a.postgres_db)?;
    }
    if selected.iter().any(|s| s.store == "redis") {
        exec::flush_redis(&env, a.redis_db)?;
    }
    let body = render_loads(
        a,
        &env,
        &runs,
        &selected,
        &started,
        &load_before,
        t0.elapsed(),
    );
    a.common.write("loads", &body)
}

/// What the rounds of one server in one mode add up to.
#[derive(Debug, Default)]
struct Summary {
    rps: Vec<(usize, f64)>,
    p50: Vec<f64>,
    p99: Vec<f64>,
    p999: Vec<f64>,
    server_us: Vec<f64>,
    store_us: Vec<f64>,
    loadgen_pct: Vec<f64>,
    errors: u64,
    failed: usize,
    first_error: Option<String>,
}

impl Summary {
    fn rps_values(&self) -> Vec<f64> {
        self.rps.iter().map(|(_, v)| *v).collect()
    }

    fn median_rps(&self) -> Option<f64> {
        median(&self.rps_values())
    }
}

fn summarize(runs: &[Run]) -> BTreeMap<(&'static str, String), Summary> {
    let mut out: BTreeMap<(&'static str, String), Summary> = BTreeMap::new();
    for r in runs {
        let s = out.entry((r.server.id, r.mode.clone())).or_default();
        match &r.result {
            Ok(rep) => {
                s.rps.push((r.round, rep.rps));
                s.p50.push(rep.latency_us.p50 as f64);
                s.p99.push(rep.latency_us.p99 as f64);
                s.p999.push(rep.latency_us.p999 as f64);
                if let Some(c) = &rep.server_cpu {
                    s.server_us.push(c.us_per_request);
                }
                if let Some(c) = &rep.store_cpu {
                    s.store_us.push(c.us_per_request);
                }
                s.loadgen_pct.push(rep.loadgen_cpu.percent_of_core);
                s.errors += rep.errors.total();
                if s.first_error.is_none() && rep.errors.total() > 0 {
                    s.first_error.clone_from(&rep.first_error);
                }
            }
            Err(e) => {
                s.failed += 1;
                if s.first_error.is_none() {
                    s.first_error = Some(e.clone());
                }
            }
        }
    }
    out
}

fn render_loads(
    a: &LoadsArgs,
    env: &Env,
    runs: &[Run],
    selected: &[&'static Server],
    started: &str,
    load_before: &str,
    took: Duration,
) -> String {
    let sums = summarize(runs);
    let label = a.common.label.as_deref().unwrap_or("Results");
    let mut out = format!("## {label}\n\n");
    out.push_str(&a.common.preamble(env, started, load_before, took));
    out.push_str(&format!(
        "- Method: {rounds} round(s); each round runs every server × visitor mode once, in a rotated order, \
         each time a fresh server process on an empty store; warm-up {warm}, then {dur} measured; \
         {conns} connections (one virtual browser each, HTTP/1.1 keep-alive); load generator: {generator} on {lt} thread(s); \
         every server on {w} worker threads, no logging. Store CPU: the store's process and its direct children \
         (Redis, memcached, MariaDB; PostgreSQL's postmaster and backends), sampled at the window's edges; \
         none for in-process stores.\n\n",
        generator = a.generator.describe(),
        rounds = a.rounds,
        warm = format_duration(a.warmup),
        dur = format_duration(a.duration),
        conns = a.connections,
        lt = a.loadgen_threads,
        w = env.workers,
    ));
    for mode in &a.modes {
        out.push_str(&format!(
            "### {} visitors\n\n",
            if mode == "returning" {
                "Returning"
            } else {
                "New"
            }
        ));
        let mut t = Table::new(&[
            "server",
            "median req/s",
            "min–max req/s",
            "spread",
            "p50 µs",
            "p99 µs",
            "p99.9 µs",
            "server CPU µs/req",
            "store CPU µs/req",
            "loadgen CPU",
            "errors",
        ]);
        for s in selected {
            let Some(sum) = sums.get(&(s.id, mode.clone())) else {
                continue;
            };
            let rps = sum.rps_values();
            let errors = if sum.failed > 0 {
                format!("{} (+{} failed runs)", sum.errors, sum.failed)
            } else {
                sum.errors.to_string()
            };
            t.row(vec![
                format!("`{}`", s.id),
                fmt_opt(median(&rps), 0),
                min_max(&rps).map_or("n/a".into(), |(lo, hi)| format!("{lo:.0}–{hi:.0}")),
                spread_percent(&rps).map_or("n/a".into(), |p| format!("{p:.0}%")),
                fmt_opt(median(&sum.p50), 0),
                fmt_opt(median(&sum.p99), 0),
                fmt_opt(median(&sum.p999), 0),
                fmt_opt(median(&sum.server_us), 0),
                fmt_opt(median(&sum.store_us), 0),
                median(&sum.loadgen_pct).map_or("n/a".into(), |p| format!("{p:.0}%")),
                errors,
            ]);
        }
        out.push_str(&t.render());
        out.push('\n');
    }
    out.push_str("### Ratios: ours ÷ reference, same store\n\n");
    let mut t = Table::new(&[
        "store",
        "ours",
        "reference",
        "visitors",
        "ours req/s",
        "reference req/s",
        "ratio",
        "per-round ratios",
        "CPU/req: reference ÷ ours",
        "server + store CPU µs/req, ours / reference",
        "target",
        "met",
    ]);
    for c in COMPARISONS {
        for mode in &a.modes {
            let (Some(o), Some(r)) = (
                sums.get(&(c.ours, mode.clone())),
                sums.get(&(c.reference, mode.clone())),
            ) else {
                continue;
            };
            let target = if mode == "returning" {
                c.returning
            } else {
                c.new
            };
            let ratio = match (o.median_rps(), r.median_rps()) {
                (Some(x), Some(y)) if y > 0.0 => Some(x / y),
                _ => None,
            };
            let paired: Vec<f64> = o
                .rps
                .iter()
                .filter_map(|(round, x)| {
                    let (_, y) = r.rps.iter().find(|(rr, _)| rr == round)?;
                    (*y > 0.0).then(|| x / y)
                })
                .collect();
            let cpu = match (median(&o.server_us), median(&r.server_us)) {
                (Some(x), Some(y)) if x > 0.0 => format!("{:.2}", y / x),
                _ => "n/a".into(),
            };
            // Server and store together: what a request costs the machine.
            let total =
                |s: &Summary| Some(median(&s.server_us)? + median(&s.store_us).unwrap_or(0.0));
            let totals = match (total(o), total(r)) {
                (Some(x), Some(y)) => format!("{x:.0} / {y:.0}"),
                _ => "n/a".into(),
            };
            let met = match (target, ratio) {
                (Some(t), Some(r)) if r >= t => "yes".to_owned(),
                (Some(_), Some(_)) => "**no**".to_owned(),
                (Some(_), None) => "n/a".to_owned(),
                (None, _) => "—".to_owned(),
            };
            t.row(vec![
                c.store.to_owned(),
                format!("`{}`", c.ours),
                format!("`{}`", c.reference),
                mode.clone(),
                fmt_opt(o.median_rps(), 0),
                fmt_opt(r.median_rps(), 0),
                fmt_opt(ratio, 2),
                min_max(&paired).map_or("n/a".into(), |(lo, hi)| format!("{lo:.2}–{hi:.2}")),
                cpu,
                totals,
                target.map_or("—".into(), |t| format!("≥ {t}")),
                met,
            ]);
        }
    }
    out.push_str(&t.render());
    let failures: Vec<String> = sums
        .iter()
        .filter_map(|((id, mode), s)| {
            s.first_error.as_ref().map(|e| {
                format!(
                    "- `{id}` ({mode}): {}",
                    e.lines().next().unwrap_or_default()
                )
            })
        })
        .collect();
    if !failures.is_empty() {
        out.push_str("\nFirst error of each server with errors:\n\n");
        out.push_str(&failures.join("\n"));
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------
// memory

fn memsize(bin: PathBuf, sessions: u64) -> anyhow::Result<f64> {
    let out = Command::new(&bin)
        .arg("--sessions")
        .arg(sessions.to_string())
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("unreadable output of {}", bin.display()))?;
    v["bytes_per_session"]
        .as_f64()
        .context("no bytes_per_session in the output")
}

fn memory(a: &MemoryArgs) -> anyhow::Result<()> {
    let env = a.common.env();
    let ours_bin = env.bin_dir.join("sk-memsize");
    let peer_bin = env.peer_bin_dir.join("peer-memsize");
    require(
        &ours_bin,
        "build it: cargo build --release -p sessionkit-bench-servers",
    )?;
    require(
        &peer_bin,
        "build it: cargo build --release --manifest-path bench/peers/Cargo.toml",
    )?;
    let started = now_utc();
    let load_before = machine::load_average();
    let t0 = Instant::now();
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for round in 0..a.rounds.max(1) {
        let order = if round % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for is_ours in order {
            let (bin, into) = if is_ours {
                (ours_bin.clone(), &mut ours)
            } else {
                (peer_bin.clone(), &mut peer)
            };
            let b = memsize(bin, a.sessions)?;
            eprintln!(
                "[round {}] {}: {b:.1} bytes/session",
                round + 1,
                if is_ours {
                    "sessionkit"
                } else {
                    "tower-sessions"
                }
            );
            into.push(b);
        }
    }
    let (o, p) = (median(&ours), median(&peer));
    let ratio = match (o, p) {
        (Some(o), Some(p)) if p > 0.0 => Some(o / p),
        _ => None,
    };
    let label = a.common.label.as_deref().unwrap_or("Memory per session");
    let mut out = format!("## {label}\n\n");
    out.push_str(
        &a.common
            .preamble(&env, &started, &load_before, t0.elapsed()),
    );
    out.push_str(&format!(
        "- Method: {} sessions holding the counter (`{{\"count\": 1}}`) inserted through each store's API \
         (`SessionStore::create`) in a fresh process; growth of the resident set (VmRSS) ÷ sessions; \
         {} round(s), alternating which store goes first.\n\n",
        a.sessions, a.rounds
    ));
    let mut t = Table::new(&["store", "median bytes/session", "min–max"]);
    for (name, v) in [
        ("sessionkit `MemoryStore`", &ours),
        ("tower-sessions 0.14 `MemoryStore`", &peer),
    ] {
        t.row(vec![
            name.to_owned(),
            fmt_opt(median(v), 0),
            min_max(v).map_or("n/a".into(), |(lo, hi)| format!("{lo:.0}–{hi:.0}")),
        ]);
    }
    out.push_str(&t.render());
    out.push_str(&format!(
        "\nRatio sessionkit ÷ tower-sessions: {} (target ≤ 0.5: {}).\n",
        fmt_opt(ratio, 2),
        match ratio {
            Some(r) if r <= 0.5 => "met",
            Some(_) => "**not met**",
            None => "n/a",
        }
    ));
    a.common.write("memory", &out)
}

// ---------------------------------------------------------------------------------------
// scale

fn scale(a: &ScaleArgs) -> anyhow::Result<()> {
    let env = a.common.env();
    require(
        &env.bin_dir.join("sk-server"),
        "build it: cargo build --release -p sessionkit-bench-servers",
    )?;
    require(
        &env.bin_dir.join("loadgen"),
        "build it: cargo build --release -p sessionkit-loadgen",
    )?;
    let mut stores = Vec::new();
    for s in &a.stores {
        let id = match s.as_str() {
            "memory" => "axum-memory",
            "sqlite" => "axum-sqlite",
            "postgres" => "axum-postgres",
            "redis" => "axum-redis",
            other => bail!("unknown store {other:?}: memory, sqlite, postgres or redis"),
        };
        stores.push(servers::find(id).context("server table")?);
    }
    fs::create_dir_all(&env.state_dir)?;
    let started = now_utc();
    let load_before = machine::load_average();
    let t0 = Instant::now();
    let sizes = [a.small, a.large];
    let placement = |store: &str, i: usize, n: u64, per_run: bool| Placement {
        sqlite_path: env.state_dir.join(if per_run {
            format!("scale-run-{n}.sqlite3")
        } else {
            format!("scale-template-{n}.sqlite3")
        }),
        postgres_db: format!("sessionkit_bench_scale_{i}"),
        redis_db: 10 + i as u32,
        prepopulate: if store == "memory" || !per_run { n } else { 0 },
    };
    // Prepare the persistent stores once per size.
    for s in &stores {
        for (i, &n) in sizes.iter().enumerate() {
            let at = placement(s.store, i, n, false);
            match s.store {
                "sqlite" => exec::remove_sqlite(&at.sqlite_path),
                "postgres" => exec::recreate_postgres(&env, &at.postgres_db)?,
                "redis" => exec::flush_redis(&env, at.redis_db)?,
                _ => continue,
            }
            eprintln!("preparing {} with {n} sessions", s.id);
            env.populate(s, &at)?;
        }
    }
    let mut results: BTreeMap<(&str, u64), Vec<f64>> = BTreeMap::new();
    let mut errors: BTreeMap<(&str, u64), u64> = BTreeMap::new();
    for round in 0..a.rounds.max(1) {
        for s in &stores {
            let mut order: Vec<(usize, u64)> = sizes.iter().copied().enumerate().collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for (i, n) in order {
                let at = placement(s.store, i, n, true);
                if s.store == "sqlite" {
                    exec::copy_sqlite(
                        &placement(s.store, i, n, false).sqlite_path,
                        &at.sqlite_path,
                    )?;
                }
                eprintln!(
                    "[round {}/{}] {} with {n} live sessions",
                    round + 1,
                    a.rounds,
                    s.id
                );
                let running = env.start(s, &at, a.ready_timeout)?;
                let report = env.loadgen(
                    &running,
                    &Load {
                        mode: "returning".into(),
                        connections: a.connections,
                        warmup: a.warmup,
                        duration: a.duration,
                        threads: a.loadgen_threads,
                        store_pid: env.store_pid(s.store),
                    },
                );
                drop(running);
                if s.store == "sqlite" {
                    exec::remove_sqlite(&at.sqlite_path);
                }
                match report {
                    Ok(r) => {
                        results.entry((s.store, n)).or_default().push(r.rps);
                        *errors.entry((s.store, n)).or_default() += r.errors.total();
                    }
                    Err(e) => eprintln!("  FAILED: {e:#}"),
                }
            }
        }
    }
    if !a.keep_state {
        for s in &stores {
            for (i, &n) in sizes.iter().enumerate() {
                let at = placement(s.store, i, n, false);
                match s.store {
                    "sqlite" => exec::remove_sqlite(&at.sqlite_path),
                    "postgres" => exec::drop_postgres(&env, &at.postgres_db)?,
                    "redis" => exec::flush_redis(&env, at.redis_db)?,
                    _ => {}
                }
            }
        }
    }
    let label = a
        .common
        .label
        .as_deref()
        .unwrap_or("Live sessions: few vs many");
    let mut out = format!("## {label}\n\n");
    out.push_str(
        &a.common
            .preamble(&env, &started, &load_before, t0.elapsed()),
    );
    out.push_str(&format!(
        "- Method: each store pre-populated with {} or {} sessions (the counter's payload, through the \
         store's API), then {} returning visitors for {} after a {} warm-up; {} round(s), alternating \
         which size goes first; axum servers on {} worker threads.\n\n",
        a.small,
        a.large,
        a.connections,
        format_duration(a.duration),
        format_duration(a.warmup),
        a.rounds,
        env.workers
    ));
    let mut t = Table::new(&[
        "store",
        &format!("{} sessions: median req/s (min–max)", a.small),
        &format!("{} sessions: median req/s (min–max)", a.large),
        "large ÷ small",
        "errors",
        "target ≥ 0.90",
    ]);
    for s in &stores {
        let cell = |n: u64| {
            let v = results.get(&(s.store, n)).cloned().unwrap_or_default();
            format!(
                "{} ({})",
                fmt_opt(median(&v), 0),
                min_max(&v).map_or("n/a".into(), |(lo, hi)| format!("{lo:.0}–{hi:.0}"))
            )
        };
        let m = |n: u64| median(results.get(&(s.store, n)).map_or(&[][..], Vec::as_slice));
        let ratio = match (m(a.large), m(a.small)) {
            (Some(l), Some(s)) if s > 0.0 => Some(l / s),
            _ => None,
        };
        t.row(vec![
            s.store.to_owned(),
            cell(a.small),
            cell(a.large),
            fmt_opt(ratio, 2),
            (errors.get(&(s.store, a.small)).copied().unwrap_or(0)
                + errors.get(&(s.store, a.large)).copied().unwrap_or(0))
            .to_string(),
            match ratio {
                Some(r) if r >= 0.9 => "met".into(),
                Some(_) => "**not met**".into(),
                None => "n/a".into(),
            },
        ]);
    }
    out.push_str(&t.render());
    a.common.write("scale", &out)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Loads(a) => loads(&a),
        Cmd::Memory(a) => memory(&a),
        Cmd::Scale(a) => scale(&a),
        Cmd::Compare(a) => compare::compare(&a),
    }
}
