//! Writing sections of docs/BENCHMARKS.md between markers, leaving the rest alone.

use std::fs;
use std::path::Path;

use anyhow::Context;

/// Replaces what lies between `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`
/// in `doc` by `body`, or appends a new marked section if the markers are missing.
pub(crate) fn replace_section(doc: &str, name: &str, body: &str) -> String {
    let start = format!("<!-- bench:{name}:start -->");
    let end = format!("<!-- bench:{name}:end -->");
    let block = format!("{start}\n{}\n{end}", body.trim_end());
    if let Some(i) = doc.find(&start)
        && let Some(j) = doc[i..].find(&end)
    {
        let j = i + j + end.len();
        return format!("{}{block}{}", &doc[..i], &doc[j..]);
    }
    let mut out = doc.trim_end().to_owned();
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&block);
    out.push('\n');
    out
}

/// Rewrites section `name` of the file at `path` (created if missing).
pub(crate) fn write_section(path: &Path, name: &str, body: &str) -> anyhow::Result<()> {
    let doc = fs::read_to_string(path).unwrap_or_else(|_| "# Benchmarks\n".to_owned());
    let new = replace_section(&doc, name, body);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, new).with_context(|| format!("cannot write {}", path.display()))
}

/// A Markdown table.
#[derive(Debug, Default)]
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub(crate) fn new(head: &[&str]) -> Table {
        Table {
            rows: vec![head.iter().map(|s| (*s).to_owned()).collect()],
        }
    }

    /// Adds a row.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as Markdown.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for (i, row) in self.rows.iter().enumerate() {
            out.push_str("| ");
            out.push_str(&row.join(" | "));
            out.push_str(" |\n");
            if i == 0 {
                out.push('|');
                for _ in row {
                    out.push_str(" --- |");
                }
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_replaced_in_place_or_appended() {
        let doc =
            "# B\n\nintro\n\n<!-- bench:loads:start -->\nold\n<!-- bench:loads:end -->\n\noutro\n";
        let new = replace_section(doc, "loads", "new\n");
        assert_eq!(
            new,
            "# B\n\nintro\n\n<!-- bench:loads:start -->\nnew\n<!-- bench:loads:end -->\n\noutro\n"
        );
        let appended = replace_section(&new, "memory", "m");
        assert!(
            appended
                .ends_with("outro\n\n<!-- bench:memory:start -->\nm\n<!-- bench:memory:end -->\n")
        );
        assert!(appended.contains("intro"));
    }

    #[test]
    fn tables() {
        let mut t = Table::new(&["a", "b"]);
        t.row(vec!["1".into(), "2".into()]);
        assert_eq!(t.render(), "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
    }
}
