//! The fuzzing harness of sessionkit: [`checks`] holds one function per target. Each runs
//! the library on one input and panics if a property fails; a panic (or a crash, a hang,
//! an out-of-memory) is what libFuzzer reports.

pub mod checks;
