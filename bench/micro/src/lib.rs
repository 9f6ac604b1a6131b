//! Criterion micro-benchmarks of sessionkit's hot paths. The code is in `benches/micro.rs`;
//! run `cargo bench -p sessionkit-bench-micro` (add `-- --quick` for a short pass, or a
//! filter such as `-- cookie`).
