//! Issue 15 (item 1): the README's Rust snippets build as pasted. Each ```` ```rust ````
//! block of the README is a complete program; each is built as `src/main.rs` of a new crate
//! whose `[dependencies]` are the README's ```` ```toml ```` block, with sessionkit's
//! dependency pointed at this workspace. (The doc tests compile the same snippets inside
//! this workspace, with its dependencies; this checks what a user gets.)
//!
//! The scratch crates build offline with this workspace's `Cargo.lock` (the same versions,
//! nothing downloaded) into this workspace's target directory, so dependencies already built
//! with the same features are reused rather than compiled again.

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The fenced blocks of `markdown` whose info string starts with `lang`.
fn blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Inside a block: `Some(wanted)`.
    let mut inside: Option<bool> = None;
    let mut text = String::new();
    for line in markdown.lines() {
        match (inside, line.strip_prefix("```")) {
            (None, Some(info)) => {
                let first = info.split([',', ' ']).next().unwrap_or_default();
                inside = Some(first == lang);
            }
            (Some(wanted), Some(_)) => {
                if wanted {
                    out.push(std::mem::take(&mut text));
                }
                inside = None;
            }
            (Some(true), None) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// The README's dependency block with sessionkit's line pointed at this workspace.
fn dependencies(readme: &str) -> String {
    let tomls: Vec<String> = blocks(readme, "toml")
        .into_iter()
        .filter(|b| b.contains("[dependencies]"))
        .collect();
    assert_eq!(tomls.len(), 1, "one [dependencies] block in the README");
    let facade = workspace().join("crates/sessionkit");
    let mut swapped = 0;
    let deps: Vec<String> = tomls[0]
        .lines()
        .map(|line| {
            if !line.trim_start().starts_with("sessionkit ") {
                return line.to_owned();
            }
            swapped += 1;
            let features = line
                .split_once("features")
                .map(|(_, f)| format!(", features{}", f.trim_end().trim_end_matches('}')))
                .unwrap_or_default();
            format!(
                "sessionkit = {{ path = {:?}{} }}",
                facade.display().to_string(),
                features.trim_end()
            )
        })
        .collect();
    assert_eq!(swapped, 1, "the block names sessionkit once: {}", tomls[0]);
    deps.join("\n")
}

#[test]
fn readme_snippets_build() {
    let root = workspace();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let deps = dependencies(&readme);
    let snippets = blocks(&readme, "rust");
    assert!(snippets.len() >= 2, "the axum and actix-web programs");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for (i, snippet) in snippets.iter().enumerate() {
        assert!(
            snippet.contains("fn main()"),
            "README snippet {i} is not a complete program:\n{snippet}"
        );
        assert!(
            !snippet.lines().any(|l| l == "#" || l.starts_with("# ")),
            "README snippet {i} has rustdoc-hidden lines, which do not survive a paste:\n{snippet}"
        );
        let dir = tempfile::tempdir().unwrap();
        let name = format!("readme-snippet-{i}");
        std::fs::write(
            dir.path().join("Cargo.toml"),
            format!(
                "[package]\nname = {name:?}\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 # Not part of any enclosing workspace.\n[workspace]\n\n{deps}\n"
            ),
        )
        .unwrap();
        std::fs::copy(root.join("Cargo.lock"), dir.path().join("Cargo.lock")).unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/main.rs"), snippet).unwrap();
        let out = Command::new(&cargo)
            .args(["build", "--offline", "--quiet"])
            .current_dir(dir.path())
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTC_WRAPPER")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "README snippet {i} does not build as src/main.rs with the README's dependencies:\n{}\n--- Cargo.toml deps:\n{deps}\n--- src/main.rs:\n{snippet}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_block_parser_finds_fenced_blocks() {
    let md = "text\n```toml\n[dependencies]\na = 1\n```\n```sh\nls\n```\n```rust,no_run\nfn main() {}\n```\n";
    assert_eq!(blocks(md, "toml"), ["[dependencies]\na = 1\n"]);
    assert_eq!(blocks(md, "rust"), ["fn main() {}\n"]);
    assert_eq!(blocks(md, "sh"), ["ls\n"]);
}
