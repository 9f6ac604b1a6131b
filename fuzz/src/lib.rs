//! The fuzzing harness of sessionkit: [`checks`] holds one function per target (and
//! [`encrypted_cookie`] the encrypted cookie store's, kept apart because the corpus replay
//! that includes it lives in that store's crate). Each runs
//! the library on one input and panics if a property fails; a panic (or a crash, a hang,
//! an out-of-memory) is what libFuzzer reports.

pub mod checks;
pub mod encrypted_cookie;
