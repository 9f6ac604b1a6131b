//! The benchmark load generator's building blocks: the cookie jar of a virtual browser,
//! HTTP/1.1 on the wire, the body check, the JSON report, CPU accounting and small statistics. The `loadgen`
//! binary drives them; the runner (`sessionkit-bench-runner`) reads the report.
//!
//! See `bench/README.md` for how the pieces fit together.

pub mod body;
pub mod cpu;
pub mod jar;
pub mod report;
pub mod stats;
pub mod units;
pub mod wire;

pub use report::Report;
