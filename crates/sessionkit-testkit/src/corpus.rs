//! Replaying a committed fuzzing corpus (`fuzz/corpus/<target>/`) through the check its
//! cargo-fuzz target runs, so that the normal test run covers every seed and every input
//! that once crashed, without cargo-fuzz or a nightly toolchain. See docs/SECURITY.md,
//! "Fuzzing".

use std::path::{Path, PathBuf};

/// Runs `check` on every file of `corpus_dir/target`, which must hold at least
/// `min_files` files; each file in its own thread (with a 16 MiB stack), so a panic
/// names its file and the others still run. Panics naming every file that failed.
pub fn replay(corpus_dir: &Path, target: &str, min_files: usize, check: fn(&[u8])) {
    let dir = corpus_dir.join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= min_files,
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
