//! [`Config`]: Django's `SESSION_*` settings, with Django's defaults, plus what Django
//! lacks (idle and absolute timeouts, Partitioned cookies, validated cookie prefixes, load
//! timeouts and the concurrency policy), all off or neutral by default.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::device::TrustedProxies;
use crate::expiry::LONGEST;

/// The `SameSite` cookie attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Lax` (Django's default).
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None` (requires `Secure`).
    None,
}

impl SameSite {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }

    /// Parses `Lax`, `Strict`, `None` (any case); `"false"`/`"off"` mean "omit the
    /// attribute" (Django's `SESSION_COOKIE_SAMESITE = False`), returned as `Ok(None)`.
    pub fn parse(s: &str) -> Result<Option<SameSite>, ConfigError> {
        match s.to_ascii_lowercase().as_str() {
            "lax" => Ok(Some(SameSite::Lax)),
            "strict" => Ok(Some(SameSite::Strict)),
            "none" => Ok(Some(SameSite::None)),
            "false" | "off" | "" => Ok(None),
            _ => Err(ConfigError::new(
                "cookie_samesite",
                format!("{s:?} is not one of Lax, Strict, None, false"),
            )),
        }
    }
}

/// What the engine does with concurrent requests on one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Concurrency {
    /// Compare-and-set saves: on a conflict the engine reloads, replays this request's
    /// operations key by key and retries. Requests run in parallel; `update_with` loses
    /// nothing; a plain read-then-write is last-writer-wins on that key only.
    #[default]
    Optimistic,
    /// One request at a time per session (a lock held from load to save), for
    /// applications that want strictly serial sessions.
    Lock,
}

/// How the session id travels between the client and the server.
///
/// Browsers use the cookie (Django's way, the default). API and mobile clients often find
/// a header simpler: the id arrives in a request header, and every new or rotated id leaves
/// in the same response header (an empty value when the session ended). With `Both`, a
/// request may carry either; when it carries both and they disagree, **the header wins**
/// (it is explicit, and a browser never sets it by itself), and responses carry both.
///
/// ```
/// use sessionkit_core::{Config, Transport};
///
/// let config = Config::builder()
///     .transport(Transport::Header("X-Session-Id".into()))
///     .build()
///     .unwrap();
/// assert_eq!(config.session_header(), Some("X-Session-Id"));
/// assert!(!config.uses_cookie());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// The session cookie (`SESSION_COOKIE_NAME`): Django's way.
    #[default]
    Cookie,
    /// A request and response header of this name; no cookie.
    Header(String),
    /// The cookie and a header of this name.
    Both(String),
}

/// A setting that was refused, with the setting's name and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid session setting `{setting}`: {reason}")]
pub struct ConfigError {
    setting: &'static str,
    reason: String,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            setting,
            reason: reason.into(),
        }
    }

    /// The name of the offending setting (our name; the Django equivalent is in its docs).
    pub fn setting(&self) -> &'static str {
        self.setting
    }

    /// Why it was refused.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Validated session settings. `Config::default()` is Django's defaults; build others with
/// [`Config::builder`].
///
/// ```
/// use std::time::Duration;
/// use sessionkit_core::{Config, SameSite};
///
/// let config = Config::builder()
///     .cookie_name("__Host-session")
///     .cookie_secure(true)
///     .idle_timeout(Duration::from_secs(30 * 60))
///     .build()
///     .unwrap();
/// assert_eq!(config.cookie_samesite(), Some(SameSite::Lax));
///
/// // Browsers silently drop a __Host- cookie without Secure: refused up front.
/// let err = Config::builder().cookie_name("__Host-session").build().unwrap_err();
/// assert_eq!(err.setting(), "cookie_secure");
/// ```
#[derive(Clone)]
pub struct Config {
    cookie_name: String,
    cookie_age: i64,
    cookie_domain: Option<String>,
    cookie_path: String,
    cookie_secure: bool,
    cookie_httponly: bool,
    cookie_samesite: Option<SameSite>,
    cookie_partitioned: bool,
    save_every_request: bool,
    expire_at_browser_close: bool,
    idle_timeout: Option<Duration>,
    absolute_timeout: Option<Duration>,
    touch_interval: Option<Duration>,
    load_timeout: Duration,
    save_timeout: Duration,
    concurrency: Concurrency,
    lock_timeout: Duration,
    lock_lease: Duration,
    max_save_attempts: u32,
    retry_after: Duration,
    rotation_grace: Duration,
    hash_keys_at_rest: bool,
    max_sessions_per_user: Option<u32>,
    transport: Transport,
    /// The session header's name, from `transport` (shared by every response).
    session_header: Option<Arc<str>>,
    record_client_info: bool,
    trusted_proxies: TrustedProxies,
    bind_user_agent: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            cookie_name: "sessionid".to_owned(),
            cookie_age: 1_209_600,
            cookie_domain: None,
            cookie_path: "/".to_owned(),
            cookie_secure: false,
            cookie_httponly: true,
            cookie_samesite: Some(SameSite::Lax),
            cookie_partitioned: false,
            save_every_request: false,
            expire_at_browser_close: false,
            idle_timeout: None,
            absolute_timeout: None,
            touch_interval: None,
            load_timeout: Duration::from_secs(5),
            save_timeout: Duration::from_secs(5),
            concurrency: Concurrency::Optimistic,
            lock_timeout: Duration::from_secs(10),
            lock_lease: Duration::from_secs(30),
            max_save_attempts: 64,
            retry_after: Duration::from_secs(1),
            rotation_grace: Duration::from_secs(30),
            hash_keys_at_rest: false,
            max_sessions_per_user: None,
            transport: Transport::Cookie,
            session_header: None,
            record_client_info: true,
            trusted_proxies: TrustedProxies::default(),
            bind_user_agent: false,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("cookie_name", &self.cookie_name)
            .field("cookie_age", &self.cookie_age)
            .field("cookie_domain", &self.cookie_domain)
            .field("cookie_path", &self.cookie_path)
            .field("cookie_secure", &self.cookie_secure)
            .field("cookie_httponly", &self.cookie_httponly)
            .field("cookie_samesite", &self.cookie_samesite)
            .field("cookie_partitioned", &self.cookie_partitioned)
            .field("save_every_request", &self.save_every_request)
            .field("expire_at_browser_close", &self.expire_at_browser_close)
            .field("idle_timeout", &self.idle_timeout)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("concurrency", &self.concurrency)
            .field("transport", &self.transport)
            .field("record_client_info", &self.record_client_info)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("bind_user_agent", &self.bind_user_agent)
            .finish_non_exhaustive()
    }
}

macro_rules! getters {
    ($($(#[$doc:meta])* $name:ident: $t:ty => |$c:ident| $e:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(&self) -> $t {
            let $c = self;
            $e
        }
    )*};
}

impl Config {
    /// A builder starting from Django's defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
            trusted_proxies: Vec::new(),
        }
    }

    /// A builder starting from this configuration.
    pub fn to_builder(&self) -> ConfigBuilder {
        ConfigBuilder {
            config: self.clone(),
            trusted_proxies: Vec::new(),
        }
    }

    getters! {
        /// `SESSION_COOKIE_NAME` (default `sessionid`).
        cookie_name: &str => |c| c.cookie_name.as_str();
        /// `SESSION_COOKIE_AGE` in seconds (default two weeks, 1209600).
        cookie_age: i64 => |c| c.cookie_age;
        /// `SESSION_COOKIE_DOMAIN` (default none).
        cookie_domain: Option<&str> => |c| c.cookie_domain.as_deref();
        /// `SESSION_COOKIE_PATH` (default `/`).
        cookie_path: &str => |c| c.cookie_path.as_str();
        /// `SESSION_COOKIE_SECURE` (default false).
        cookie_secure: bool => |c| c.cookie_secure;
        /// `SESSION_COOKIE_HTTPONLY` (default true).
        cookie_httponly: bool => |c| c.cookie_httponly;
        /// `SESSION_COOKIE_SAMESITE` (default Lax; `None` omits the attribute).
        cookie_samesite: Option<SameSite> => |c| c.cookie_samesite;
        /// The `Partitioned` attribute (CHIPS); Django has no such setting (default off).
        cookie_partitioned: bool => |c| c.cookie_partitioned;
        /// `SESSION_SAVE_EVERY_REQUEST` (default false).
        save_every_request: bool => |c| c.save_every_request;
        /// `SESSION_EXPIRE_AT_BROWSER_CLOSE` (default false).
        expire_at_browser_close: bool => |c| c.expire_at_browser_close;
        /// Idle timeout: a session unused this long expires (default off).
        idle_timeout: Option<Duration> => |c| c.idle_timeout;
        /// Absolute timeout: a session this old expires however active (default off).
        absolute_timeout: Option<Duration> => |c| c.absolute_timeout;
        /// How stale `last_seen` may get before a read-only request refreshes it (with an
        /// idle timeout: default a tenth of it).
        touch_interval: Option<Duration> => |c| c.touch_interval.or(c.idle_timeout.map(|i| i / 10));
        /// How long a load may take before the request gets a 503 (default 5 s).
        load_timeout: Duration => |c| c.load_timeout;
        /// How long the end-of-request writes may take before the request gets a 503
        /// (default 5 s).
        save_timeout: Duration => |c| c.save_timeout;
        /// The concurrency policy (default optimistic compare-and-set with replay).
        concurrency: Concurrency => |c| c.concurrency;
        /// In lock mode, how long a request waits for the session's lock (default 10 s).
        lock_timeout: Duration => |c| c.lock_timeout;
        /// In lock mode with a store that has leases, how long a lease lasts if its holder
        /// never releases it (a crashed node): the longest a session can stay blocked
        /// (default 30 s).
        lock_lease: Duration => |c| c.lock_lease;
        /// How many compare-and-set attempts a save makes before giving up with a 503.
        max_save_attempts: u32 => |c| c.max_save_attempts;
        /// The `Retry-After` sent with a 503 (default 1 s).
        retry_after: Duration => |c| c.retry_after;
        /// [`retry_after`](Config::retry_after) as the header carries it: whole seconds,
        /// rounded up, at least 1 (the one place the header's value is computed).
        retry_after_secs: u64 => |c| {
            let d = c.retry_after;
            (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
        };
        /// After a key rotation, how long requests still carrying the old key get no
        /// removal cookie (default 30 s; stores without rotation markers delete at once).
        rotation_grace: Duration => |c| c.rotation_grace;
        /// Whether stores see a hash of each key instead of the key (native layouts only:
        /// Django looks sessions up by the raw key). A leaked store then yields no usable
        /// cookies. Default off; turning it on (or off) logs everyone out once.
        hash_keys_at_rest: bool => |c| c.hash_keys_at_rest;
        /// How many live sessions one user may have (default: no limit). A login beyond it
        /// revokes that user's least recently used sessions (see
        /// [`EngineBuilder::try_build`](crate::EngineBuilder::try_build) for the stores
        /// that can).
        max_sessions_per_user: Option<u32> => |c| c.max_sessions_per_user;
        /// How the session id travels (default: the cookie).
        transport: &Transport => |c| &c.transport;
        /// Whether the session cookie is read and written (`Transport::Cookie` or `Both`).
        uses_cookie: bool => |c| !matches!(c.transport, Transport::Header(_));
        /// The session header's name, when the transport has one.
        session_header: Option<&str> => |c| c.session_header.as_deref();
        /// Whether the engine records each session's client — IP address, user agent and
        /// device label (see [`crate::device`]; default on). Personal data, kept as long
        /// as the session.
        record_client_info: bool => |c| c.record_client_info;
        /// The proxies whose `X-Forwarded-For` is believed when recording the client's IP
        /// (default none: the header is ignored).
        trusted_proxies: &TrustedProxies => |c| &c.trusted_proxies;
        /// Whether a session is bound to the user agent it was last written with: a
        /// request with another one finds it flushed (default off).
        bind_user_agent: bool => |c| c.bind_user_agent;
    }

    /// This configuration without a per-user limit (a store that cannot honour it).
    pub(crate) fn without_max_sessions_per_user(mut self) -> Config {
        self.max_sessions_per_user = None;
        self
    }

    /// The session header's name, shared (responses carry it without copying).
    pub(crate) fn session_header_name(&self) -> Option<&Arc<str>> {
        self.session_header.as_ref()
    }
}

/// Builds a [`Config`]; [`ConfigBuilder::build`] refuses unsafe or impossible combinations.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
    /// `trusted_proxies` entries not yet parsed (parsed by `build`, which reports the
    /// first bad one).
    trusted_proxies: Vec<String>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ident: $t:ty) => $field:ident = $e:expr;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, $arg: $t) -> Self {
            self.config.$field = $e;
            self
        }
    )*};
}

impl ConfigBuilder {
    setters! {
        /// Sets `SESSION_COOKIE_NAME`.
        cookie_name(name: impl Into<String>) => cookie_name = name.into();
        /// Sets `SESSION_COOKIE_AGE` (seconds).
        cookie_age(seconds: i64) => cookie_age = seconds;
        /// Sets `SESSION_COOKIE_DOMAIN`.
        cookie_domain(domain: impl Into<String>) => cookie_domain = Some(domain.into());
        /// Sets `SESSION_COOKIE_PATH`.
        cookie_path(path: impl Into<String>) => cookie_path = path.into();
        /// Sets `SESSION_COOKIE_SECURE`.
        cookie_secure(on: bool) => cookie_secure = on;
        /// Sets `SESSION_COOKIE_HTTPONLY`.
        cookie_httponly(on: bool) => cookie_httponly = on;
        /// Sets `SESSION_COOKIE_SAMESITE` (`None` omits the attribute).
        cookie_samesite(samesite: Option<SameSite>) => cookie_samesite = samesite;
        /// Sets the `Partitioned` attribute (requires Secure).
        cookie_partitioned(on: bool) => cookie_partitioned = on;
        /// Sets `SESSION_SAVE_EVERY_REQUEST`.
        save_every_request(on: bool) => save_every_request = on;
        /// Sets `SESSION_EXPIRE_AT_BROWSER_CLOSE`.
        expire_at_browser_close(on: bool) => expire_at_browser_close = on;
        /// Sets the idle timeout.
        idle_timeout(timeout: Duration) => idle_timeout = Some(timeout);
        /// Sets the absolute timeout.
        absolute_timeout(timeout: Duration) => absolute_timeout = Some(timeout);
        /// Sets how stale `last_seen` may get before a read refreshes it.
        touch_interval(interval: Duration) => touch_interval = Some(interval);
        /// Sets the load timeout.
        load_timeout(timeout: Duration) => load_timeout = timeout;
        /// Sets the save timeout.
        save_timeout(timeout: Duration) => save_timeout = timeout;
        /// Sets the concurrency policy.
        concurrency(policy: Concurrency) => concurrency = policy;
        /// Sets the lock wait in lock mode.
        lock_timeout(timeout: Duration) => lock_timeout = timeout;
        /// Sets the lease length in lock mode.
        lock_lease(lease: Duration) => lock_lease = lease;
        /// Sets the number of compare-and-set attempts.
        max_save_attempts(attempts: u32) => max_save_attempts = attempts;
        /// Sets the `Retry-After` of 503 responses.
        retry_after(after: Duration) => retry_after = after;
        /// Sets the rotation grace window.
        rotation_grace(window: Duration) => rotation_grace = window;
        /// Hashes keys at rest (native layouts only).
        hash_keys_at_rest(on: bool) => hash_keys_at_rest = on;
        /// Sets how the session id travels (default: the cookie).
        transport(transport: Transport) => transport = transport;
        /// Limits the live sessions of one user (at least 1): a login beyond the limit
        /// revokes the user's least recently used sessions (event `revoked`, cause `cap`).
        max_sessions_per_user(limit: u32) => max_sessions_per_user = Some(limit);
        /// Records each session's client — IP address, user agent, device label — at its
        /// creation and at every write (default on; see [`crate::device`]). Off, nothing is
        /// recorded and a session's stored client info is erased at its next write.
        record_client_info(on: bool) => record_client_info = on;
        /// Binds sessions to their user agent (default off; needs
        /// [`record_client_info`](ConfigBuilder::record_client_info)): a request whose
        /// user agent differs from the one recorded with its session gets the session
        /// flushed (a new empty session) and a log line says why.
        bind_user_agent(on: bool) => bind_user_agent = on;
        /// Sets the trusted proxies, already parsed (replaces any set before).
        trusted_proxy_ranges(proxies: TrustedProxies) => trusted_proxies = proxies;
    }

    /// Trusts these proxies' `X-Forwarded-For` (addresses or CIDR ranges, IPv4 or IPv6:
    /// `10.0.0.1`, `10.0.0.0/8`, `fd00::/8`; see
    /// [`TrustedProxies::client_ip`](crate::device::TrustedProxies::client_ip) for the
    /// rule). Added to those set before; [`build`](ConfigBuilder::build) parses them and
    /// refuses a bad one (setting `trusted_proxies`, e.g. `10.0.0.0/33`).
    ///
    /// ```
    /// use sessionkit_core::Config;
    ///
    /// let config = Config::builder().trusted_proxies(["10.0.0.0/8", "::1"]).build().unwrap();
    /// assert_eq!(config.trusted_proxies().ranges().len(), 2);
    ///
    /// let err = Config::builder().trusted_proxies(["10.0.0.0/33"]).build().unwrap_err();
    /// assert_eq!(err.setting(), "trusted_proxies");
    /// ```
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.trusted_proxies
            .extend(proxies.into_iter().map(Into::into));
        self
    }

    /// Validates the settings.
    ///
    /// Refused: a cookie name that is not an HTTP token; `SameSite=None`, `Partitioned`,
    /// or a `__Secure-`/`__Host-` name without `Secure`; a `__Host-` name with a Domain or
    /// a Path other than `/`; a path not starting with `/`; attribute values containing
    /// `;`, control characters or spaces; a non-positive cookie age; zero timeouts; zero
    /// save attempts; an idle timeout longer than the absolute one; a per-user limit of 0;
    /// a trusted proxy that is not an address or a CIDR range; `bind_user_agent` without
    /// `record_client_info`.
    pub fn build(self) -> Result<Config, ConfigError> {
        let mut c = self.config;
        if !self.trusted_proxies.is_empty() {
            let added = TrustedProxies::parse(&self.trusted_proxies)?;
            c.trusted_proxies = c.trusted_proxies.with(added);
        }
        if c.bind_user_agent && !c.record_client_info {
            return Err(ConfigError::new(
                "bind_user_agent",
                "binding sessions to their user agent needs record_client_info (the user agent is compared with the recorded one)",
            ));
        }
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        c.session_header = match &c.transport {
            Transport::Cookie => None,
            Transport::Header(name) | Transport::Both(name) => {
                // Also the headers a cross-site page may set without a CORS preflight
                // (Accept, Accept-Language, Content-Language, Content-Type): a session id
                // in one of them could be planted by another site.
                let reserved = [
                    "cookie",
                    "set-cookie",
                    "vary",
                    "content-length",
                    "host",
                    "accept",
                    "accept-language",
                    "content-language",
                    "content-type",
                ];
                if !token(name) || reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                    return Err(ConfigError::new(
                        "transport",
                        format!(
                            "{name:?} cannot carry the session id: a header name is letters, digits and !#$%&'*+-.^_`|~, and not one of Cookie, Set-Cookie, Vary, Content-Length, Host, Accept, Accept-Language, Content-Language, Content-Type (a cross-site page may set those)"
                        ),
                    ));
                }
                Some(Arc::from(name.as_str()))
            }
        };
        if !token(&c.cookie_name) {
            return Err(ConfigError::new(
                "cookie_name",
                format!(
                    "{:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
                    c.cookie_name
                ),
            ));
        }
        let attr_ok = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
        };
        if !c.cookie_path.starts_with('/') || !attr_ok(&c.cookie_path) {
            return Err(ConfigError::new(
                "cookie_path",
                format!(
                    "{:?} must start with / and contain no spaces, commas, semicolons or control characters",
                    c.cookie_path
                ),
            ));
        }
        if let Some(d) = &c.cookie_domain
            && (d.is_empty() || !attr_ok(d))
        {
            return Err(ConfigError::new(
                "cookie_domain",
                format!("{d:?} is not a valid domain"),
            ));
        }
        if c.cookie_age <= 0 || c.cookie_age.unsigned_abs() > LONGEST.as_secs() {
            return Err(ConfigError::new(
                "cookie_age",
                format!(
                    "{} must be a positive number of seconds, at most {} (the span from 1970 to the year 9999)",
                    c.cookie_age,
                    LONGEST.as_secs()
                ),
            ));
        }
        if c.cookie_samesite == Some(SameSite::None) && !c.cookie_secure {
            return Err(ConfigError::new(
                "cookie_secure",
                "SameSite=None requires Secure (browsers reject the cookie otherwise)",
            ));
        }
        if c.cookie_partitioned && !c.cookie_secure {
            return Err(ConfigError::new(
                "cookie_secure",
                "Partitioned requires Secure (browsers reject the cookie otherwise)",
            ));
        }
        let host = c.cookie_name.starts_with("__Host-");
        if (host || c.cookie_name.starts_with("__Secure-")) && !c.cookie_secure {
            return Err(ConfigError::new(
                "cookie_secure",
                format!("a cookie named {:?} requires Secure", c.cookie_name),
            ));
        }
        if host && c.cookie_domain.is_some() {
            return Err(ConfigError::new(
                "cookie_domain",
                "a __Host- cookie must not have a Domain",
            ));
        }
        if host && c.cookie_path != "/" {
            return Err(ConfigError::new(
                "cookie_path",
                "a __Host- cookie must have Path=/",
            ));
        }
        // Each duration setting, and whether zero is meaningless for it.
        let durations = [
            ("load_timeout", Some(c.load_timeout), true),
            ("save_timeout", Some(c.save_timeout), true),
            ("lock_timeout", Some(c.lock_timeout), true),
            ("lock_lease", Some(c.lock_lease), true),
            ("idle_timeout", c.idle_timeout, true),
            ("absolute_timeout", c.absolute_timeout, true),
            ("touch_interval", c.touch_interval, false),
            ("retry_after", Some(c.retry_after), false),
            ("rotation_grace", Some(c.rotation_grace), false),
        ];
        for (name, d, positive) in durations {
            if positive && d == Some(Duration::ZERO) {
                return Err(ConfigError::new(name, "must be greater than zero"));
            }
        }
        // Durations are added to dates; past this span the sum cannot be represented, so
        // such a value is refused here rather than saturated silently later.
        for (name, d, _) in durations {
            if let Some(d) = d
                && d > LONGEST
            {
                return Err(ConfigError::new(
                    name,
                    format!(
                        "{d:?} is longer than {} seconds (the span from 1970 to the year 9999)",
                        LONGEST.as_secs()
                    ),
                ));
            }
        }
        if let (Some(idle), Some(abs)) = (c.idle_timeout, c.absolute_timeout)
            && idle > abs
        {
            return Err(ConfigError::new(
                "idle_timeout",
                format!("{idle:?} is longer than the absolute timeout {abs:?}"),
            ));
        }
        if c.max_save_attempts == 0 {
            return Err(ConfigError::new("max_save_attempts", "must be at least 1"));
        }
        if c.max_sessions_per_user == Some(0) {
            return Err(ConfigError::new(
                "max_sessions_per_user",
                "must be at least 1 (a limit of 0 would log every user out at login)",
            ));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests;
