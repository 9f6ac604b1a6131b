//! What one load-generator run prints: a JSON object the runner parses.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cpu::CpuTimes;

/// The result of one run against one server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The URL loaded.
    pub url: String,
    /// `returning` or `new`.
    pub mode: String,
    /// Concurrent connections (one virtual browser each).
    pub connections: usize,
    /// Runtime threads of the load generator.
    pub threads: usize,
    /// Warm-up before the measured window, seconds.
    pub warmup_s: f64,
    /// Length of the measured window, seconds (as measured).
    pub duration_s: f64,
    /// Requests completed, checked and counted in the measured window.
    pub requests: u64,
    /// `requests / duration_s`.
    pub rps: f64,
    /// Failures in the measured window, by kind.
    pub errors: Errors,
    /// Failures during the warm-up (not counted in `errors`).
    pub warmup_errors: u64,
    /// One failure message, to see what went wrong.
    pub first_error: Option<String>,
    /// Latency of the counted (successful) requests, microseconds.
    pub latency_us: Latency,
    /// The load generator's own CPU use over the measured window.
    pub loadgen_cpu: Cpu,
    /// The server's CPU use over the measured window (with `--server-pid`).
    pub server_cpu: Option<Cpu>,
    /// The store's CPU use over the measured window (with `--store-pid`: the process and
    /// its direct children, so a PostgreSQL postmaster counts its backends).
    #[serde(default)]
    pub store_cpu: Option<Cpu>,
    /// What produced the load: `loadgen` (this crate's, which checks every count) or
    /// `wrk` (checks statuses only).
    #[serde(default)]
    pub generator: String,
}

/// Failures by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    /// Connecting, or the connection failing mid-request (the browser reconnects).
    pub io: u64,
    /// No answer within the request timeout.
    pub timeout: u64,
    /// A status other than 200.
    pub status: u64,
    /// A body that is not `Visit count: N`.
    pub body: u64,
    /// A count other than expected (1 for a new visitor, last + 1 for a returning one):
    /// a lost session or a lost update.
    pub count: u64,
    /// A first visit that set no cookie (no session was created).
    pub cookie: u64,
}

impl Errors {
    /// All failures.
    pub fn total(&self) -> u64 {
        self.io + self.timeout + self.status + self.body + self.count + self.cookie
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Errors) {
        self.io += other.io;
        self.timeout += other.timeout;
        self.status += other.status;
        self.body += other.body;
        self.count += other.count;
        self.cookie += other.cookie;
    }
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// CPU used over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// User time, seconds.
    pub user_s: f64,
    /// System time, seconds.
    pub system_s: f64,
    /// `(user + system) / window`, in percent of one core (200 = two cores busy).
    pub percent_of_core: f64,
    /// CPU microseconds per counted request.
    pub us_per_request: f64,
}

impl Cpu {
    /// `used` CPU time over a `window` in which `requests` were counted.
    pub fn used(used: CpuTimes, window: Duration, requests: u64) -> Cpu {
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

    /// The CPU used between two samples of one process (or tree), if both were read.
    pub fn between(
        before: Option<CpuTimes>,
        after: Option<CpuTimes>,
        window: Duration,
        requests: u64,
    ) -> Option<Cpu> {
        Some(Cpu::used(after?.since(before?), window, requests))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let mut r = Report {
            url: "http://127.0.0.1:1/".into(),
            mode: "returning".into(),
            requests: 10,
            ..Report::default()
        };
        r.errors.count = 2;
        r.server_cpu = Some(Cpu {
            percent_of_core: 150.0,
            ..Cpu::default()
        });
        let text = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.errors.total(), 2);
    }
}
