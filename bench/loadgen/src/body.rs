//! The body check: every server answers `GET /` with `Visit count: N`.

/// The `N` of a `Visit count: N` body (a trailing newline is tolerated), or `None` when
/// the body has another form.
///
/// ```
/// use sessionkit_loadgen::body::visit_count;
///
/// assert_eq!(visit_count(b"Visit count: 12"), Some(12));
/// assert_eq!(visit_count(b"Visit count: 3\n"), Some(3));
/// assert_eq!(visit_count(b"Visit count: x"), None);
/// assert_eq!(visit_count(b"Internal Server Error"), None);
/// ```
pub fn visit_count(body: &[u8]) -> Option<u64> {
    let rest = body.strip_prefix(b"Visit count: ")?;
    let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
    if rest.is_empty() || rest.len() > 20 || !rest.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(rest).ok()?.parse().ok()
}

/// What a virtual browser expects of the next count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A new visitor (no cookie sent): always 1.
    One,
    /// A returning visitor: one more than the last count it saw, or 1 on its first visit.
    After(Option<u64>),
}

impl Expect {
    /// Whether `n` is what was expected.
    pub fn accepts(self, n: u64) -> bool {
        match self {
            Expect::One | Expect::After(None) => n == 1,
            Expect::After(Some(last)) => n == last + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(visit_count(b"Visit count: 0"), Some(0));
        assert_eq!(visit_count(b"Visit count: "), None);
        assert_eq!(visit_count(b"Visit count: -1"), None);
        assert_eq!(visit_count(b"visit count: 1"), None);
        assert_eq!(visit_count(b"Visit count: 99999999999999999999999"), None);
    }

    #[test]
    fn expectations() {
        assert!(Expect::One.accepts(1));
        assert!(!Expect::One.accepts(2));
        assert!(Expect::After(None).accepts(1));
        assert!(Expect::After(Some(41)).accepts(42));
        assert!(!Expect::After(Some(41)).accepts(41));
        assert!(!Expect::After(Some(41)).accepts(1));
    }
}
