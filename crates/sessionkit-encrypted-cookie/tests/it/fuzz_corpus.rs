//! Replays the committed corpus of the `encrypted_cookie` fuzz target
//! (`fuzz/corpus/encrypted_cookie/`) through the very check the cargo-fuzz target runs
//! (`fuzz/src/encrypted_cookie.rs`, compiled into this test), so the normal test run covers
//! every seed and every input that once crashed. See docs/SECURITY.md, "Fuzzing".

use std::path::{Path, PathBuf};

#[allow(unreachable_pub, dead_code)]
#[path = "../../../../fuzz/src/encrypted_cookie.rs"]
mod check;

#[test]
fn fuzz_corpus_encrypted_cookie() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/encrypted_cookie");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 30, "only {} corpus files", files.len());
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        if std::panic::catch_unwind(|| check::encrypted_cookie(&data)).is_err() {
            failed.push(f.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} corpus files fail (reproduce one with `cargo fuzz run --fuzz-dir fuzz encrypted_cookie fuzz/corpus/encrypted_cookie/FILE`): {failed:?}",
        failed.len(),
        files.len()
    );
}
