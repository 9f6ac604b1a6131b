//! `loadgen`: a fixed number of virtual browsers, one keep-alive HTTP/1.1 connection each,
//! sending `GET` to one URL on this machine as fast as the server answers, for a warm-up and
//! then a measured window. Prints one JSON object ([`sessionkit_loadgen::Report`]) on
//! stdout and a one-line summary on stderr.
//!
//! * `--mode returning`: each browser keeps a cookie jar, sends its cookies back, and
//!   checks that the count it is shown goes up by one on every request (a lost session or
//!   a lost update is an error).
//! * `--mode new`: no cookie is ever sent; every answer must be `Visit count: 1` and set a
//!   cookie (a session was created).
//!
//! Only loopback addresses are accepted, and the run stops by itself after
//! `--warmup + --duration`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http::Uri;
use sessionkit_loadgen::body::{Expect, visit_count};
use sessionkit_loadgen::cpu::{self, CpuTimes};
use sessionkit_loadgen::jar::Jar;
use sessionkit_loadgen::report::{Cpu, Errors, Latency, Report};
use sessionkit_loadgen::units::parse_duration;
use sessionkit_loadgen::wire;
use tokio::io::Interest;

/// Visitor behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Browsers that keep and send back their cookies.
    Returning,
    /// Browsers that never send a cookie.
    New,
}

/// Command line.
#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    about = "HTTP/1.1 load generator for the sessionkit benchmarks"
)]
struct Args {
    /// The URL to load (http, loopback only), e.g. http://127.0.0.1:8000/
    #[arg(long)]
    url: String,
    /// Concurrent connections, one virtual browser each.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Length of the measured window (10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Warm-up before the measured window (not counted).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Returning visitors (keep the cookie) or new visitors (never send one).
    #[arg(long, value_enum, default_value_t = Mode::Returning)]
    mode: Mode,
    /// Runtime threads of the load generator (1 = a single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How long one request may take before it counts as a timeout (the browser then
    /// reconnects).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    timeout: Duration,
    /// Also report this process's CPU use over the measured window (the server's PID).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Also report the store's CPU use over the measured window: this process and its
    /// direct children (Redis's PID, PostgreSQL's postmaster, ...).
    #[arg(long)]
    store_pid: Option<u32>,
}

/// What every virtual browser shares.
struct Plan {
    addr: SocketAddr,
    host: String,
    path: String,
    mode: Mode,
    timeout: Duration,
    warm_end: Instant,
    end: Instant,
}

/// What one virtual browser measured.
struct Tally {
    hist: Histogram<u64>,
    requests: u64,
    errors: Errors,
    warmup_errors: u64,
    first_error: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Failure {
    Io,
    Timeout,
    Status,
    Body,
    Count,
    Cookie,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            // 1 µs to 60 s at 3 significant digits.
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| {
                Histogram::new(3).unwrap_or_else(|_| unreachable!("3 digits is valid"))
            }),
            requests: 0,
            errors: Errors::default(),
            warmup_errors: 0,
            first_error: None,
        }
    }

    fn fail(&mut self, plan: &Plan, at: Instant, kind: Failure, message: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(format!("{kind:?}: {}", message()));
        }
        if at < plan.warm_end || at > plan.end {
            self.warmup_errors += 1;
            return;
        }
        let e = &mut self.errors;
        match kind {
            Failure::Io => e.io += 1,
            Failure::Timeout => e.timeout += 1,
            Failure::Status => e.status += 1,
            Failure::Body => e.body += 1,
            Failure::Count => e.count += 1,
            Failure::Cookie => e.cookie += 1,
        }
    }
}

/// One keep-alive connection, driven by readiness: the request is written straight to
/// the socket, and the reply read as soon as the socket has data.
type Conn = tokio::net::TcpStream;

async fn connect(plan: &Plan) -> std::io::Result<Conn> {
    let stream = tokio::net::TcpStream::connect(plan.addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Why a request failed at the connection level.
enum IoFailure {
    Io(String),
    Malformed(String),
}

async fn write_all(conn: &Conn, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        match conn.try_write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                conn.writable().await?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The largest response a browser accepts.
const MAX_RESPONSE: usize = 1 << 20;

/// Reads one whole response into `buf` (which grows if needed). The socket's readiness
/// is cleared once the response is complete: the server sends nothing more until the
/// next request, so the next wait needs no failed `read` first to learn that.
async fn read_response(
    conn: &Conn,
    buf: &mut Vec<u8>,
    decoded: &mut Vec<u8>,
) -> Result<(wire::Response, bool), IoFailure> {
    let mut filled = 0;
    loop {
        conn.readable()
            .await
            .map_err(|e| IoFailure::Io(format!("poll: {e}")))?;
        let n = match conn.try_read(&mut buf[filled..]) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(IoFailure::Io(format!("read: {e}"))),
            Ok(0) => return Err(IoFailure::Io("connection closed by the server".into())),
            Ok(n) => n,
        };
        let drained = filled + n < buf.len();
        filled += n;
        match wire::parse(&buf[..filled], decoded) {
            wire::Parsed::Partial => {
                if filled == buf.len() {
                    if buf.len() >= MAX_RESPONSE {
                        return Err(IoFailure::Malformed("response too large".into()));
                    }
                    buf.resize(buf.len() * 2, 0);
                }
            }
            wire::Parsed::Malformed(m) => return Err(IoFailure::Malformed(m)),
            wire::Parsed::Complete {
                response,
                len,
                chunked,
            } => {
                if len != filled {
                    return Err(IoFailure::Malformed(
                        "bytes after the response (the client never pipelines)".into(),
                    ));
                }
                if drained {
                    // Forget the readiness this read consumed (a closure answering
                    // `WouldBlock` clears it, race-free, as a failed read would).
                    let _ = conn.try_io(Interest::READABLE, || {
                        Err::<(), _>(std::io::ErrorKind::WouldBlock.into())
                    });
                }
                return Ok((response, chunked));
            }
        }
    }
}

/// One virtual browser: its own connection (re-opened after a failure), its own jar.
async fn browser(plan: Arc<Plan>) -> Tally {
    let mut tally = Tally::new();
    let mut jar = Jar::new();
    let mut last: Option<u64> = None;
    let mut request = Vec::with_capacity(256);
    let mut request_for: Option<u64> = None;
    let mut buf = vec![0u8; 8192];
    let mut decoded = Vec::new();
    // One timer per browser, re-armed at most every tenth of the timeout: a request
    // times out after between 90% and 100% of `--timeout`, for next to no timer work.
    let deadline = tokio::time::sleep(plan.timeout);
    tokio::pin!(deadline);
    let mut armed_at: Option<Instant> = None;
    'connection: while Instant::now() < plan.end {
        let conn = match connect(&plan).await {
            Ok(c) => c,
            Err(e) => {
                tally.fail(&plan, Instant::now(), Failure::Io, || {
                    format!("connect: {e}")
                });
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        loop {
            let t0 = Instant::now();
            if t0 >= plan.end {
                break 'connection;
            }
            let generation = match plan.mode {
                Mode::Returning => jar.generation(),
                Mode::New => 0,
            };
            if request_for != Some(generation) {
                let cookie = match plan.mode {
                    Mode::Returning => jar.header(),
                    Mode::New => None,
                };
                wire::request(&mut request, &plan.path, &plan.host, cookie.as_deref());
                request_for = Some(generation);
            }
            let first_visit = plan.mode == Mode::New || jar.is_empty();
            if armed_at.is_none_or(|at| t0 >= at + plan.timeout / 10) {
                deadline.as_mut().reset((t0 + plan.timeout).into());
                armed_at = Some(t0);
            }
            let answer = tokio::select! {
                biased;
                r = async {
                    write_all(&conn, &request)
                        .await
                        .map_err(|e| IoFailure::Io(format!("write: {e}")))?;
                    read_response(&conn, &mut buf, &mut decoded).await
                } => Some(r),
                () = &mut deadline => None,
            };
            let t1 = Instant::now();
            let (res, chunked) = match answer {
                None => {
                    tally.fail(&plan, t1, Failure::Timeout, || {
                        format!("no answer within {:?}", plan.timeout)
                    });
                    // Re-arm for the next connection's first request.
                    armed_at = None;
                    continue 'connection;
                }
                Some(Err(IoFailure::Io(e))) => {
                    tally.fail(&plan, t1, Failure::Io, || e);
                    continue 'connection;
                }
                Some(Err(IoFailure::Malformed(e))) => {
                    tally.fail(&plan, t1, Failure::Body, || {
                        format!("malformed response: {e}")
                    });
                    continue 'connection;
                }
                Some(Ok(answer)) => answer,
            };
            let body: &[u8] = if chunked {
                &decoded[res.body.clone()]
            } else {
                &buf[res.body.clone()]
            };
            let mut set_cookie = false;
            for range in &res.set_cookies {
                if let Ok(s) = std::str::from_utf8(&buf[range.clone()]) {
                    set_cookie = true;
                    if plan.mode == Mode::Returning {
                        jar.set(s);
                    }
                }
            }
            let failure = if res.status != 200 {
                Some(Failure::Status)
            } else {
                match visit_count(body) {
                    None => Some(Failure::Body),
                    Some(n) => {
                        let expect = match plan.mode {
                            Mode::New => Expect::One,
                            Mode::Returning => Expect::After(last),
                        };
                        // Resynchronise on what the server said: one lost update is one
                        // error, not one per request after it.
                        last = Some(n);
                        if !expect.accepts(n) {
                            Some(Failure::Count)
                        } else if first_visit && !set_cookie {
                            Some(Failure::Cookie)
                        } else {
                            None
                        }
                    }
                }
            };
            match failure {
                Some(kind) => tally.fail(&plan, t1, kind, || {
                    format!(
                        "status {} body {:?}",
                        res.status,
                        String::from_utf8_lossy(&body[..body.len().min(120)])
                    )
                }),
                None if t1 >= plan.warm_end && t1 <= plan.end => {
                    let us = u64::try_from((t1 - t0).as_micros()).unwrap_or(u64::MAX);
                    tally.hist.saturating_record(us.max(1));
                    tally.requests += 1;
                }
                None => {}
            }
            if res.close {
                continue 'connection;
            }
        }
    }
    tally
}

/// CPU times of this process, the server and the store at one instant.
struct Sample {
    at: Instant,
    own: CpuTimes,
    server: Option<CpuTimes>,
    store: Option<CpuTimes>,
}

fn sample(server_pid: Option<u32>, store_pid: Option<u32>, ticks: u64) -> Sample {
    Sample {
        at: Instant::now(),
        own: cpu::own().unwrap_or_default(),
        server: server_pid.and_then(|pid| cpu::of_pid(pid, ticks)),
        store: store_pid.and_then(|pid| cpu::of_tree(pid, ticks)),
    }
}

/// Checks the URL and resolves it to a loopback address.
async fn target(url: &str) -> anyhow::Result<(SocketAddr, String, String)> {
    let uri: Uri = url
        .parse()
        .with_context(|| format!("invalid URL {url:?}"))?;
    if uri.scheme_str() != Some("http") {
        bail!("only http:// URLs are supported, not {url:?}");
    }
    let authority = uri.authority().context("the URL has no host")?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("cannot resolve {host}"))?
        .collect();
    let Some(addr) = addrs.first().copied() else {
        bail!("{host} resolves to no address");
    };
    if !addrs.iter().all(|a| a.ip().is_loopback()) {
        bail!("refusing to load {url}: only loopback addresses (127.0.0.0/8, ::1) may be targets");
    }
    let path = uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    Ok((addr, authority.as_str().to_owned(), path))
}

async fn run(args: Args) -> anyhow::Result<Report> {
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if args.duration.is_zero() {
        bail!("--duration must be positive");
    }
    let (addr, host, path) = target(&args.url).await?;
    let start = Instant::now();
    let warm_end = start + args.warmup;
    let plan = Arc::new(Plan {
        addr,
        host,
        path,
        mode: args.mode,
        timeout: args.timeout,
        warm_end,
        end: warm_end + args.duration,
    });
    let ticks = cpu::clock_ticks();
    let (server_pid, store_pid) = (args.server_pid, args.store_pid);
    let sampler = {
        let plan = Arc::clone(&plan);
        tokio::spawn(async move {
            tokio::time::sleep_until(plan.warm_end.into()).await;
            let a = sample(server_pid, store_pid, ticks);
            tokio::time::sleep_until(plan.end.into()).await;
            let b = sample(server_pid, store_pid, ticks);
            (a, b)
        })
    };
    let browsers: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(browser(Arc::clone(&plan))))
        .collect();
    let mut hist = Tally::new().hist;
    let mut requests = 0;
    let mut errors = Errors::default();
    let mut warmup_errors = 0;
    let mut first_error = None;
    for b in browsers {
        let t = b.await.context("a virtual browser panicked")?;
        hist.add(&t.hist).context("merging histograms")?;
        requests += t.requests;
        errors.add(&t.errors);
        warmup_errors += t.warmup_errors;
        if first_error.is_none() {
            first_error = t.first_error;
        }
    }
    let (a, b) = sampler.await.context("the CPU sampler panicked")?;
    let window = b.at - a.at;
    let q = |p: f64| hist.value_at_quantile(p);
    Ok(Report {
        url: args.url.clone(),
        mode: match args.mode {
            Mode::Returning => "returning".into(),
            Mode::New => "new".into(),
        },
        connections: args.connections,
        threads: args.threads,
        warmup_s: args.warmup.as_secs_f64(),
        duration_s: args.duration.as_secs_f64(),
        requests,
        rps: requests as f64 / args.duration.as_secs_f64(),
        errors,
        warmup_errors,
        first_error,
        latency_us: Latency {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: hist.max(),
            mean: hist.mean(),
        },
        loadgen_cpu: Cpu::used(b.own.since(a.own), window, requests),
        server_cpu: Cpu::between(a.server, b.server, window, requests),
        store_cpu: Cpu::between(a.store, b.store, window, requests),
        generator: "loadgen".into(),
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let report = runtime.block_on(run(args))?;
    eprintln!(
        "{} {}: {:.0} req/s, p50 {} µs, p99 {} µs, p99.9 {} µs, errors {} (warm-up {}), loadgen CPU {:.0}%{}",
        report.url,
        report.mode,
        report.rps,
        report.latency_us.p50,
        report.latency_us.p99,
        report.latency_us.p999,
        report.errors.total(),
        report.warmup_errors,
        report.loadgen_cpu.percent_of_core,
        report
            .server_cpu
            .as_ref()
            .map(|c| format!(
                ", server CPU {:.0}% ({:.0} µs/req)",
                c.percent_of_core, c.us_per_request
            ))
            .unwrap_or_default(),
    );
    if let Some(c) = &report.store_cpu {
        eprintln!(
            "store CPU {:.0}% ({:.0} µs/req)",
            c.percent_of_core, c.us_per_request
        );
    }
    if let Some(e) = &report.first_error {
        eprintln!("first error: {e}");
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
