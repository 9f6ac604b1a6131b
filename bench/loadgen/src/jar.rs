//! A virtual browser's cookie jar: one host, one path, no expiry clock.
//!
//! Good enough for a benchmark against a server we wrote: `Set-Cookie` stores or replaces
//! a cookie by name; `Max-Age=0` (or a negative age) or an `Expires` date in 1970 — what
//! Django and the peers send to delete a cookie — removes it. Other attributes are ignored.

/// The cookies a virtual browser holds, in the order they were first set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Jar {
    cookies: Vec<(String, String)>,
    generation: u64,
}

impl Jar {
    /// An empty jar.
    pub fn new() -> Jar {
        Jar::default()
    }

    /// Applies one `Set-Cookie` header value. Returns `false` when it is not a cookie
    /// (no `name=value` before the first `;`).
    ///
    /// ```
    /// use sessionkit_loadgen::jar::Jar;
    ///
    /// let mut jar = Jar::new();
    /// assert!(jar.set("sessionid=abc; HttpOnly; Max-Age=1209600; Path=/"));
    /// assert_eq!(jar.header().as_deref(), Some("sessionid=abc"));
    /// jar.set(r#"sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"#);
    /// assert_eq!(jar.header(), None);
    /// ```
    pub fn set(&mut self, set_cookie: &str) -> bool {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
            return false;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return false;
        }
        let mut delete = false;
        for attr in parts {
            let (k, v) = attr.split_once('=').unwrap_or((attr, ""));
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("max-age") {
                delete = v.parse::<i64>().map(|age| age <= 0).unwrap_or(false);
            } else if k.eq_ignore_ascii_case("expires") && v.contains("1970") {
                delete = true;
            }
        }
        let slot = self.cookies.iter().position(|(n, _)| n == name);
        match (slot, delete) {
            (Some(i), true) => {
                self.cookies.remove(i);
                self.generation += 1;
            }
            (Some(i), false) if self.cookies[i].1 != value => {
                self.cookies[i].1 = value.to_owned();
                self.generation += 1;
            }
            (Some(_), false) | (None, true) => {}
            (None, false) => {
                self.cookies.push((name.to_owned(), value.to_owned()));
                self.generation += 1;
            }
        }
        true
    }

    /// The `Cookie` header to send, if the jar holds anything: `a=1; b=2`.
    pub fn header(&self) -> Option<String> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut out = String::new();
        for (i, (n, v)) in self.cookies.iter().enumerate() {
            if i > 0 {
                out.push_str("; ");
            }
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
        Some(out)
    }

    /// A number that changes whenever the jar's contents do (so that a browser rebuilds
    /// its request only then).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of cookies held.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether the jar is empty.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_by_name_and_keeps_order() {
        let mut jar = Jar::new();
        assert!(jar.set("a=1"));
        assert!(jar.set("id=x; Path=/; SameSite=Lax"));
        assert!(jar.set("a=2; Max-Age=10"));
        assert_eq!(jar.header().as_deref(), Some("a=2; id=x"));
        assert_eq!(jar.len(), 2);
        let g = jar.generation();
        assert!(jar.set("a=2; Max-Age=20"));
        assert_eq!(jar.generation(), g, "the same value again is no change");
        jar.set("a=3");
        assert_ne!(jar.generation(), g);
    }

    #[test]
    fn deletions() {
        let mut jar = Jar::new();
        jar.set("a=1");
        jar.set("b=2");
        jar.set("a=; Max-Age=0");
        assert_eq!(jar.header().as_deref(), Some("b=2"));
        jar.set("b=; expires=Thu, 01 Jan 1970 00:00:00 GMT");
        assert!(jar.is_empty());
        // Deleting what the jar does not hold is a no-op.
        jar.set("c=; Max-Age=-1");
        assert!(jar.is_empty());
    }

    #[test]
    fn rejects_non_cookies() {
        let mut jar = Jar::new();
        assert!(!jar.set("garbage"));
        assert!(!jar.set("=value"));
        assert!(jar.is_empty());
    }
}
