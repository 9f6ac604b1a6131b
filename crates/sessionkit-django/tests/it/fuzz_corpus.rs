//! Replays the committed fuzzing corpus (`fuzz/corpus/<target>/`) through the very checks
//! the cargo-fuzz targets run (`fuzz/src/checks.rs`, compiled into this test), so the
//! normal test run covers every seed and every input that once crashed, without
//! cargo-fuzz or a nightly toolchain. See docs/SECURITY.md, "Fuzzing".

use std::path::{Path, PathBuf};

#[allow(unreachable_pub, dead_code)]
#[path = "../../../../fuzz/src/checks.rs"]
mod checks;

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Runs `check` on every file of the target's corpus; each file in its own thread, so a
/// panic names its file and the others still run.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = corpus(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "{target}: only {} corpus files",
        files.len()
    );
    let mut failed = Vec::new();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        let outcome = std::thread::Builder::new()
            .name(format!(
                "{target}/{}",
                f.file_name().unwrap().to_string_lossy()
            ))
            .stack_size(16 << 20)
            .spawn(move || check(&data))
            .unwrap()
            .join();
        if outcome.is_err() {
            failed.push(f.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus files fail (reproduce one with `cargo fuzz run --fuzz-dir fuzz {target} fuzz/corpus/{target}/FILE`): {failed:?}",
        failed.len(),
        files.len()
    );
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
