//! Replays the committed corpus of the `encrypted_cookie` fuzz target
//! (`fuzz/corpus/encrypted_cookie/`) through the very check the cargo-fuzz target runs
//! (`fuzz/src/encrypted_cookie.rs`, compiled into this test), so the normal test run covers
//! every seed and every input that once crashed. See docs/SECURITY.md, "Fuzzing".

use std::path::Path;

#[allow(unreachable_pub, dead_code)]
#[path = "../../../../fuzz/src/encrypted_cookie.rs"]
mod check;

#[test]
fn fuzz_corpus_encrypted_cookie() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    sessionkit_testkit::corpus::replay(&corpus, "encrypted_cookie", 30, check::encrypted_cookie);
}
