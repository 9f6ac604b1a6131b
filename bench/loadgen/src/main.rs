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
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http::header::{COOKIE, HOST, SET_COOKIE};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use sessionkit_loadgen::body::{Expect, visit_count};
use sessionkit_loadgen::cpu::{self, CpuTimes};
use sessionkit_loadgen::jar::Jar;
use sessionkit_loadgen::report::{Cpu, Errors, Latency, Report};
use sessionkit_loadgen::units::parse_duration;

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

type Sender = http1::SendRequest<Empty<Bytes>>;

async fn connect(plan: &Plan) -> anyhow::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(plan.addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the browser drops its sender or the server closes.
        let _ = conn.await;
    });
    Ok(sender)
}

/// One virtual browser: its own connection (re-opened after a failure), its own jar.
async fn browser(plan: Arc<Plan>) -> Tally {
    let mut tally = Tally::new();
    let mut jar = Jar::new();
    let mut last: Option<u64> = None;
    'connection: while Instant::now() < plan.end {
        let mut sender = match connect(&plan).await {
            Ok(s) => s,
            Err(e) => {
                tally.fail(&plan, Instant::now(), Failure::Io, || {
                    format!("connect: {e}")
                });
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        loop {
            if Instant::now() >= plan.end {
                break 'connection;
            }
            if let Err(e) = sender.ready().await {
                tally.fail(&plan, Instant::now(), Failure::Io, || {
                    format!("connection: {e}")
                });
                continue 'connection;
            }
            let mut req = Request::get(plan.path.as_str()).header(HOST, plan.host.as_str());
            let cookie = match plan.mode {
                Mode::Returning => jar.header(),
                Mode::New => None,
            };
            let first_visit = cookie.is_none();
            if let Some(c) = cookie {
                req = req.header(COOKIE, c);
            }
            let req = match req.body(Empty::new()) {
                Ok(r) => r,
                Err(e) => unreachable!("a GET with valid headers builds: {e}"),
            };
            let t0 = Instant::now();
            let answer = tokio::time::timeout(plan.timeout, async {
                let res = sender.send_request(req).await?;
                let (parts, body) = res.into_parts();
                let body = body.collect().await?.to_bytes();
                Ok::<_, hyper::Error>((parts, body))
            })
            .await;
            let t1 = Instant::now();
            let (parts, body) = match answer {
                Err(_) => {
                    tally.fail(&plan, t1, Failure::Timeout, || {
                        format!("no answer within {:?}", plan.timeout)
                    });
                    continue 'connection;
                }
                Ok(Err(e)) => {
                    tally.fail(&plan, t1, Failure::Io, || format!("request: {e}"));
                    continue 'connection;
                }
                Ok(Ok(answer)) => answer,
            };
            let mut set_cookie = false;
            for v in parts.headers.get_all(SET_COOKIE) {
                if let Ok(s) = v.to_str() {
                    set_cookie = true;
                    if plan.mode == Mode::Returning {
                        jar.set(s);
                    }
                }
            }
            let failure = if parts.status != StatusCode::OK {
                Some(Failure::Status)
            } else {
                match visit_count(&body) {
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
                        parts.status,
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
        }
    }
    tally
}

/// CPU times of this process and of the server at one instant.
struct Sample {
    at: Instant,
    own: CpuTimes,
    server: Option<CpuTimes>,
}

fn sample(server_pid: Option<u32>, ticks: u64) -> Sample {
    Sample {
        at: Instant::now(),
        own: cpu::own().unwrap_or_default(),
        server: server_pid.and_then(|pid| cpu::of_pid(pid, ticks)),
    }
}

fn cpu_use(used: CpuTimes, window: Duration, requests: u64) -> Cpu {
    let total = used.total().as_secs_f64();
    Cpu {
        user_s: used.user.as_secs_f64(),
        system_s: used.system.as_secs_f64(),
        percent_of_core: if window.is_zero() {
            0.0
        } else {
            total / window.as_secs_f64() * 100.0
        },
        us_per_request: if requests == 0 {
            0.0
        } else {
            total * 1e6 / requests as f64
        },
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
    let server_pid = args.server_pid;
    let sampler = {
        let plan = Arc::clone(&plan);
        tokio::spawn(async move {
            tokio::time::sleep_until(plan.warm_end.into()).await;
            let a = sample(server_pid, ticks);
            tokio::time::sleep_until(plan.end.into()).await;
            let b = sample(server_pid, ticks);
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
        loadgen_cpu: cpu_use(b.own.since(a.own), window, requests),
        server_cpu: match (a.server, b.server) {
            (Some(x), Some(y)) => Some(cpu_use(y.since(x), window, requests)),
            _ => None,
        },
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
    if let Some(e) = &report.first_error {
        eprintln!("first error: {e}");
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
