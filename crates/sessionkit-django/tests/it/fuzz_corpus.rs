//! Replays the committed fuzzing corpus (`fuzz/corpus/<target>/`) through the very checks
//! the cargo-fuzz targets run (`fuzz/src/checks.rs`, compiled into this test), so the
//! normal test run covers every seed and every input that once crashed, without
//! cargo-fuzz or a nightly toolchain. See docs/SECURITY.md, "Fuzzing".

use std::path::Path;

#[allow(unreachable_pub, dead_code)]
#[path = "../../../../fuzz/src/checks.rs"]
mod checks;

/// Runs `check` on every file of the target's corpus (at least 10).
fn replay(target: &str, check: fn(&[u8])) {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    sessionkit_testkit::corpus::replay(&corpus, target, 10, check);
}

#[test]
fn fuzz_corpus_cookie_header() {
    replay("cookie_header", checks::cookie_header);
}

#[test]
fn fuzz_corpus_signed_value() {
    replay("signed_value", checks::signed_value);
}

#[test]
fn fuzz_corpus_python_json() {
    replay("python_json", checks::python_json);
}

#[test]
fn fuzz_corpus_pickle() {
    replay("pickle", checks::pickle);
}

#[test]
fn fuzz_corpus_zlib() {
    replay("zlib", checks::zlib);
}
