//! `CsrfViewMiddleware.process_view` under `CSRF_USE_SESSIONS = True`: [`CsrfConfig`]
//! (the settings) and [`CsrfConfig::check`] (the decision), framework-free; the adapters
//! feed it a [`CsrfRequest`].

use std::fmt;
use std::sync::Arc;

use sessionkit_core::{Session, SessionError, Value};

use super::token::{
    CSRF_TOKEN_LENGTH, TokenFormat, check_token_format, mask, token_matches, unmask,
};
use super::{CSRF_SESSION_KEY, is_valid_secret, new_secret};

/// Django's default `CSRF_HEADER_NAME` (`"HTTP_X_CSRFTOKEN"`) as an HTTP header name.
pub const DEFAULT_HEADER_NAME: &str = "X-CSRFToken";

/// The form field carrying the token.
pub const FORM_FIELD: &str = "csrfmiddlewaretoken";

/// Why a request was refused: Django's reasons, worded as Django words them
/// (`REASON_*` in `django.middleware.csrf`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// `Origin checking failed - ORIGIN does not match any trusted origins.`
    BadOrigin(String),
    /// `Referer checking failed - no Referer.` (HTTPS without Origin)
    NoReferer,
    /// `Referer checking failed - Referer is malformed.`
    MalformedReferer,
    /// `Referer checking failed - Referer is insecure while host is secure.`
    InsecureReferer,
    /// `Referer checking failed - REFERER does not match any trusted origins.`
    BadReferer(String),
    /// `CSRF cookie not set.` (here: the session holds no secret)
    NoSecret,
    /// `CSRF token missing.`
    TokenMissing,
    /// `CSRF token from SOURCE has incorrect length.` / `has invalid characters.`
    BadTokenFormat {
        /// `POST` or `the 'X-Csrftoken' HTTP header`.
        source: String,
        /// What is wrong with it.
        format: TokenFormat,
    },
    /// `CSRF token from SOURCE incorrect.`
    Incorrect {
        /// `POST` or `the 'X-Csrftoken' HTTP header`.
        source: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::BadOrigin(o) => write!(
                f,
                "Origin checking failed - {o} does not match any trusted origins."
            ),
            Reason::NoReferer => f.write_str("Referer checking failed - no Referer."),
            Reason::MalformedReferer => {
                f.write_str("Referer checking failed - Referer is malformed.")
            }
            Reason::InsecureReferer => {
                f.write_str("Referer checking failed - Referer is insecure while host is secure.")
            }
            Reason::BadReferer(r) => write!(
                f,
                "Referer checking failed - {r} does not match any trusted origins."
            ),
            Reason::NoSecret => f.write_str("CSRF cookie not set."),
            Reason::TokenMissing => f.write_str("CSRF token missing."),
            Reason::BadTokenFormat { source, format } => {
                write!(f, "CSRF token from {source} {}.", format.as_str())
            }
            Reason::Incorrect { source } => write!(f, "CSRF token from {source} incorrect."),
        }
    }
}

/// What the check needs from a request; the adapters fill it.
#[derive(Debug, Clone, Default)]
pub struct CsrfRequest<'a> {
    /// The method (`POST`…).
    pub method: &'a str,
    /// Whether the request came over HTTPS (Django's `request.is_secure()`).
    pub secure: bool,
    /// The `Host` (Django's `request.get_host()`), with its port if any.
    pub host: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `Referer` header.
    pub referer: Option<&'a str>,
    /// The `csrfmiddlewaretoken` form field (POST, url-encoded forms).
    pub form_token: Option<&'a str>,
    /// The [`CsrfConfig::header_name`] header.
    pub header_token: Option<&'a str>,
}

/// Django's `is_same_domain(host, pattern)`: `pattern` lower-cased; a leading `.` matches
/// the domain and every subdomain.
pub fn is_same_domain(host: &str, pattern: &str) -> bool {
    if pattern.is_empty() {
        return false;
    }
    let pattern = pattern.to_ascii_lowercase();
    (pattern.starts_with('.') && (host.ends_with(&pattern) || host == &pattern[1..]))
        || pattern == host
}

/// `urlsplit(url)`'s scheme (lower-cased) and netloc, `None` where Python raises.
fn split_url(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = match url.split_once(':') {
        Some((s, rest))
            if !s.is_empty()
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')) =>
        {
            (s.to_ascii_lowercase(), rest)
        }
        _ => (String::new(), url),
    };
    let netloc = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            &after[..end]
        }
        None => "",
    };
    // Python refuses unbalanced IPv6 brackets.
    if netloc.contains('[') != netloc.contains(']') {
        return None;
    }
    Some((scheme, netloc))
}

/// A custom failure body (`CSRF_FAILURE_VIEW`).
type FailureBody = Arc<dyn Fn(&Reason) -> String + Send + Sync>;

/// CSRF protection configured like the Django site, under `CSRF_USE_SESSIONS = True`:
/// `CSRF_TRUSTED_ORIGINS`, `CSRF_HEADER_NAME`, `CSRF_FAILURE_VIEW` (a body for the 403),
/// `SESSION_COOKIE_DOMAIN` (the Referer rule) and `SECURE_PROXY_SSL_HEADER`. Cheap to
/// clone.
#[derive(Clone)]
pub struct CsrfConfig {
    trusted_origins: Arc<[String]>,
    header_name: Arc<str>,
    cookie_domain: Option<Arc<str>>,
    proxy_ssl_header: Option<(Arc<str>, Arc<str>)>,
    failure: Option<FailureBody>,
}

impl fmt::Debug for CsrfConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfConfig")
            .field("trusted_origins", &self.trusted_origins)
            .field("header_name", &self.header_name)
            .field("cookie_domain", &self.cookie_domain)
            .field("proxy_ssl_header", &self.proxy_ssl_header)
            .field("failure", &self.failure.is_some())
            .finish()
    }
}

impl Default for CsrfConfig {
    fn default() -> CsrfConfig {
        CsrfConfig::new()
    }
}

impl CsrfConfig {
    /// Django's defaults: no trusted origins, the `X-CSRFToken` header, no session cookie
    /// domain, no proxy header (a request is secure when its URI says `https`).
    pub fn new() -> CsrfConfig {
        CsrfConfig {
            trusted_origins: Arc::from([]),
            header_name: Arc::from(DEFAULT_HEADER_NAME),
            cookie_domain: None,
            proxy_ssl_header: None,
            failure: None,
        }
    }

    /// `CSRF_TRUSTED_ORIGINS`: origins (`https://example.com`, `https://*.example.com`)
    /// trusted for unsafe requests besides the request's own; their hosts are also the
    /// trusted Referer hosts on HTTPS.
    #[must_use]
    pub fn with_trusted_origins<I, S>(mut self, origins: I) -> CsrfConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_origins = origins.into_iter().map(Into::into).collect();
        self
    }

    /// `CSRF_HEADER_NAME`: the header carrying the token, as Django writes it
    /// (`HTTP_X_CSRFTOKEN`) or as an HTTP header name (`X-CSRFToken`).
    #[must_use]
    pub fn with_header_name(mut self, name: &str) -> CsrfConfig {
        let name = match name.strip_prefix("HTTP_") {
            Some(meta) => meta.replace('_', "-"),
            None => name.to_owned(),
        };
        self.header_name = Arc::from(name);
        self
    }

    /// `SESSION_COOKIE_DOMAIN` (Django's `good_referer` under `CSRF_USE_SESSIONS`): an
    /// HTTPS Referer must be this domain (a leading `.` allows subdomains) rather than
    /// the request's host.
    #[must_use]
    pub fn with_session_cookie_domain(mut self, domain: Option<&str>) -> CsrfConfig {
        self.cookie_domain = domain.map(Arc::from);
        self
    }

    /// `SECURE_PROXY_SSL_HEADER`: a request is secure when this header (as an HTTP
    /// header name, `X-Forwarded-Proto`) has this value (`https`). Only set it behind a
    /// proxy that sets the header on every request.
    #[must_use]
    pub fn with_secure_proxy_ssl_header(mut self, header: &str, value: &str) -> CsrfConfig {
        self.proxy_ssl_header = Some((Arc::from(header), Arc::from(value)));
        self
    }

    /// `CSRF_FAILURE_VIEW`: the body of the 403 (text/plain) for a reason; default
    /// [`failure_text`].
    #[must_use]
    pub fn with_failure_body(
        mut self,
        body: impl Fn(&Reason) -> String + Send + Sync + 'static,
    ) -> CsrfConfig {
        self.failure = Some(Arc::new(body));
        self
    }

    /// The token header's name.
    pub fn header_name(&self) -> &str {
        &self.header_name
    }

    /// The `SECURE_PROXY_SSL_HEADER` pair, if set.
    pub fn secure_proxy_ssl_header(&self) -> Option<(&str, &str)> {
        self.proxy_ssl_header.as_ref().map(|(h, v)| (&**h, &**v))
    }

    /// The 403 body for `reason`.
    pub fn failure_body(&self, reason: &Reason) -> String {
        match &self.failure {
            Some(f) => f(reason),
            None => failure_text(reason),
        }
    }

    /// Django's `_origin_verified`.
    fn origin_verified(&self, req: &CsrfRequest<'_>, origin: &str) -> bool {
        if let Some(host) = req.host {
            let scheme = if req.secure { "https" } else { "http" };
            if origin == format!("{scheme}://{host}") {
                return true;
            }
        }
        self.is_trusted_origin(origin)
    }

    /// Whether `origin` is one of `CSRF_TRUSTED_ORIGINS` (exactly, or under a `*`
    /// wildcard of the same scheme): Django's `_origin_verified` without the request's
    /// own origin.
    pub fn is_trusted_origin(&self, origin: &str) -> bool {
        if self
            .trusted_origins
            .iter()
            .any(|o| !o.contains('*') && o == origin)
        {
            return true;
        }
        let Some((scheme, netloc)) = split_url(origin) else {
            return false;
        };
        self.trusted_origins
            .iter()
            .filter(|o| o.contains('*'))
            .filter_map(|o| split_url(o))
            .filter(|(s, _)| *s == scheme)
            .any(|(_, n)| is_same_domain(netloc, n.trim_start_matches('*')))
    }

    /// Django's `_check_referer` (HTTPS requests without `Origin`).
    fn check_referer(&self, req: &CsrfRequest<'_>) -> Result<(), Reason> {
        let referer = req.referer.ok_or(Reason::NoReferer)?;
        let (scheme, netloc) = split_url(referer).ok_or(Reason::MalformedReferer)?;
        if scheme.is_empty() || netloc.is_empty() {
            return Err(Reason::MalformedReferer);
        }
        if scheme != "https" {
            return Err(Reason::InsecureReferer);
        }
        let trusted = self.trusted_origins.iter().filter_map(|o| split_url(o));
        if trusted
            .into_iter()
            .any(|(_, n)| is_same_domain(netloc, n.trim_start_matches('*')))
        {
            return Ok(());
        }
        let bad = || Reason::BadReferer(referer.to_owned());
        let good = match &self.cookie_domain {
            None => req.host.ok_or_else(bad)?.to_owned(),
            Some(domain) => {
                // Django appends the server port unless it is 443 or 80; the port here is
                // the Host header's.
                match req.host.and_then(|h| h.rsplit_once(':')).map(|(_, p)| p) {
                    Some(port) if port != "443" && port != "80" && !port.contains(']') => {
                        format!("{domain}:{port}")
                    }
                    _ => domain.to_string(),
                }
            }
        };
        if is_same_domain(netloc, &good) {
            Ok(())
        } else {
            Err(bad())
        }
    }

    /// `CsrfViewMiddleware.process_view` for a request whose session holds `secret`
    /// (`_csrftoken`): safe methods (`GET`, `HEAD`, `OPTIONS`, `TRACE`) pass; an `Origin`
    /// must be the request's own or trusted; without one, an HTTPS request needs a
    /// trusted `Referer`; then the form field `csrfmiddlewaretoken` (else the token
    /// header) must carry the secret (masked or not).
    ///
    /// ```
    /// use sessionkit_django::csrf::{CsrfConfig, CsrfRequest, Reason, mask, new_secret};
    ///
    /// let config = CsrfConfig::new().with_trusted_origins(["https://*.example.com"]);
    /// let secret = new_secret();
    /// let token = mask(&secret).unwrap();
    /// let post = CsrfRequest {
    ///     method: "POST",
    ///     secure: true,
    ///     host: Some("api.example.com"),
    ///     origin: Some("https://www.example.com"),
    ///     form_token: Some(&token),
    ///     ..CsrfRequest::default()
    /// };
    /// assert_eq!(config.check(&post, Some(&secret)), Ok(()));
    ///
    /// let evil = CsrfRequest { origin: Some("https://evil.test"), ..post.clone() };
    /// assert_eq!(config.check(&evil, Some(&secret)).unwrap_err().to_string(),
    ///     "Origin checking failed - https://evil.test does not match any trusted origins.");
    /// assert_eq!(config.check(&post, None), Err(Reason::NoSecret));
    /// ```
    pub fn check(&self, req: &CsrfRequest<'_>, secret: Option<&str>) -> Result<(), Reason> {
        if is_safe_method(req.method) {
            return Ok(());
        }
        if let Some(origin) = req.origin {
            if !self.origin_verified(req, origin) {
                return Err(Reason::BadOrigin(origin.to_owned()));
            }
        } else if req.secure {
            self.check_referer(req)?;
        }
        let secret = secret.ok_or(Reason::NoSecret)?;
        let (token, source) = match req.form_token.filter(|t| !t.is_empty()) {
            Some(t) => (t, "POST".to_owned()),
            None => {
                let t = req.header_token.ok_or(Reason::TokenMissing)?;
                (
                    t,
                    format!("the {:?} HTTP header", header_title(&self.header_name)),
                )
            }
        };
        let source = source.replace('"', "'");
        if let Err(format) = check_token_format(token) {
            return Err(Reason::BadTokenFormat { source, format });
        }
        if token_matches(token, secret) {
            Ok(())
        } else {
            Err(Reason::Incorrect { source })
        }
    }
}

/// `HttpHeaders.parse_header_name`'s title case (`X-Csrftoken`).
fn header_title(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Whether Django exempts `method` (`GET`, `HEAD`, `OPTIONS`, `TRACE`).
pub fn is_safe_method(method: &str) -> bool {
    matches!(method, "GET" | "HEAD" | "OPTIONS" | "TRACE")
}

/// The default 403 body: Django's page title and the reason (Django shows the reason only
/// with `DEBUG`; it names no secret, so it is shown here).
pub fn failure_text(reason: &Reason) -> String {
    format!("Forbidden (403)\nCSRF verification failed. Request aborted.\n\nReason: {reason}\n")
}

/// The session's CSRF secret (Django's `_get_secret` under `CSRF_USE_SESSIONS`): the
/// value under `_csrftoken`, unmasked if it is a 64-character token. `None` when absent
/// or not a valid secret.
pub fn session_secret(session: &Session) -> Option<String> {
    let Some(Value::String(s)) = session.get_value(CSRF_SESSION_KEY) else {
        return None;
    };
    let s = if s.len() == CSRF_TOKEN_LENGTH {
        unmask(&s)?
    } else {
        s
    };
    is_valid_secret(&s).then_some(s)
}

/// Django's `get_token(request)` under `CSRF_USE_SESSIONS`: a fresh masked token for the
/// session's secret, storing a new secret first when the session has none (or an invalid
/// one). Put it in forms as `csrfmiddlewaretoken` or send it as `X-CSRFToken`.
///
/// ```
/// use sessionkit_core::Session;
/// use sessionkit_django::csrf::{get_token, session_secret, token_matches};
///
/// let session = Session::detached();
/// let t1 = get_token(&session).unwrap();
/// let t2 = get_token(&session).unwrap();
/// assert_ne!(t1, t2); // masked anew each time
/// let secret = session_secret(&session).unwrap();
/// assert!(token_matches(&t1, &secret) && token_matches(&t2, &secret));
/// ```
pub fn get_token(session: &Session) -> Result<String, SessionError> {
    let secret = match session_secret(session) {
        Some(s) => s,
        None => {
            let s = new_secret();
            session.insert(CSRF_SESSION_KEY, &s)?;
            s
        }
    };
    // A valid secret always masks.
    Ok(mask(&secret).unwrap_or_default())
}

/// The last `csrfmiddlewaretoken` of an `application/x-www-form-urlencoded` body
/// (Django's `request.POST.get(...)`: the last value wins), percent- and `+`-decoded.
///
/// ```
/// use sessionkit_django::csrf::form_token;
///
/// assert_eq!(form_token(b"a=1&csrfmiddlewaretoken=abc%44&b=2").as_deref(), Some("abcD"));
/// assert_eq!(form_token(b"a=1"), None);
/// ```
pub fn form_token(body: &[u8]) -> Option<String> {
    body.split(|&b| b == b'&').rev().find_map(|pair| {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        (url_decode(name) == FORM_FIELD).then(|| url_decode(value))
    })
}

fn url_decode(bytes: &[u8]) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
