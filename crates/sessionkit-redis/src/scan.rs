//! Walking a namespace with `SCAN`, on the standalone server or on every primary of a
//! cluster. Shared by every layout (native and Django's).

use sessionkit_core::StoreError;

use crate::conn::{Conn, Node, store_error};

/// Keys asked for per `SCAN` call (a hint to Redis, not a limit).
const SCAN_COUNT: usize = 1000;

/// The key names matching a pattern, one `SCAN` page at a time, primary after primary. A
/// name may come twice (Redis's SCAN guarantee, and a cluster that changes meanwhile).
pub(crate) struct Scanner<'a> {
    conn: &'a Conn,
    pattern: String,
    nodes: Vec<Node>,
    node: usize,
    cursor: u64,
}

impl<'a> Scanner<'a> {
    /// A scan of `pattern` (a Redis glob: escape literal parts with [`glob_escape`]).
    pub(crate) async fn new(conn: &'a Conn, pattern: String) -> Result<Scanner<'a>, StoreError> {
        let nodes = conn
            .primaries()
            .await
            .map_err(|e| store_error("CLUSTER SLOTS", e))?;
        Ok(Scanner {
            conn,
            pattern,
            nodes,
            node: 0,
            cursor: 0,
        })
    }

    /// The next page of names (possibly empty), or `None` when every primary is done.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Vec<Vec<u8>>>, StoreError> {
        let Some(&node) = self.nodes.get(self.node) else {
            return Ok(None);
        };
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(self.cursor)
            .arg("MATCH")
            .arg(&self.pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT);
        let (next, names): (u64, Vec<Vec<u8>>) = self
            .conn
            .query_on(node, cmd)
            .await
            .map_err(|e| store_error("SCAN", e))?;
        if next == 0 {
            self.node += 1;
        }
        self.cursor = next;
        Ok(Some(names))
    }
}

/// `text` as a Redis glob that matches exactly it: `*`, `?`, `[`, `]` and `\` escaped.
pub(crate) fn glob_escape(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(glob_escape("a*b?[c]\\:"), r"a\*b\?\[c\]\\:");
        assert_eq!(glob_escape(":1:django"), ":1:django");
    }
}
