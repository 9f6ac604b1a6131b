//! Device metadata: which client a session belongs to.
//!
//! With [`Config::record_client_info`](crate::Config::record_client_info) on (the
//! default), the engine keeps beside each session, in [`Metadata::client`](crate::Metadata::client),
//! a [`ClientInfo`]: the client's IP address, its user agent and a short device label
//! derived from it ("Firefox on Linux", "Safari on iOS", "curl").
//!
//! * **When.** The client info is that of the request that last *wrote* the session: it is
//!   recorded when the session is created and on every write the engine already makes
//!   (a save, a key rotation). It costs no extra write: a request that only reads the
//!   session, or only refreshes its expiry (a touch), leaves it as it was. A request whose
//!   adapter supplied no client info (a plain [`Engine::begin`](crate::Engine::begin))
//!   keeps what the session had.
//! * **The IP.** The socket's peer address; or, only when that peer is one of the
//!   [`trusted_proxies`](crate::ConfigBuilder::trusted_proxies), the rightmost
//!   `X-Forwarded-For` entry that is not itself a trusted proxy (see
//!   [`TrustedProxies::client_ip`]). Without trusted proxies the header is ignored: any
//!   client can send it.
//! * **The user agent.** At most [`MAX_USER_AGENT_LEN`] bytes, control characters
//!   dropped, surrounding spaces trimmed ([`sanitize_user_agent`]).
//! * **The label.** [`device_label`]: a small table of common browsers, operating systems
//!   and HTTP tools; anything else is [`UNKNOWN_DEVICE`].
//!
//! IP addresses and user agents are personal data. They live exactly as long as the
//! session: they are part of its record, deleted with it (logout, expiry, revocation,
//! `clear_expired`). Turning [`record_client_info`](crate::ConfigBuilder::record_client_info)
//! off records nothing, costs nothing per request, and erases a session's stored client
//! info at its next write.
//!
//! [`bind_user_agent`](crate::ConfigBuilder::bind_user_agent) (off by default) ties a
//! session to the user agent it was last written with: a request carrying another one
//! finds its session flushed (a new empty session, the old record deleted) and a log line
//! says why. It is a speed bump against a stolen cookie replayed from another browser, not
//! a defence: a thief can copy the header too.

mod label;
mod proxy;

use std::net::IpAddr;
use std::ops::{Deref, Range};
use std::sync::Arc;

pub use label::{UNKNOWN_DEVICE, device_label};
pub use proxy::{ProxyRange, TrustedProxies};

/// The longest user agent kept, in bytes (longer ones are cut at a character boundary).
pub const MAX_USER_AGENT_LEN: usize = 512;

/// The longest device label kept, in bytes (labels read back from a store are cut to it).
pub const MAX_DEVICE_LABEL_LEN: usize = 64;

/// Who a session's client is: its IP address, user agent and device label, as recorded
/// by the request that last wrote the session.
///
/// ```
/// use sessionkit_core::ClientInfo;
///
/// let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
/// let info = ClientInfo::new(Some("203.0.113.7".parse().unwrap()), Some(ua));
/// assert_eq!(info.device(), "Firefox on Linux");
/// assert_eq!(info.user_agent(), Some(ua));
///
/// // Control characters are dropped; the label of nothing is "Unknown device".
/// let odd = ClientInfo::new(None, Some("evil\r\nX-Header: 1"));
/// assert_eq!(odd.user_agent(), Some("evilX-Header: 1"));
/// assert_eq!(ClientInfo::new(None, None).device(), "Unknown device");
/// ```
///
/// The two texts are shared, not copied, between clones: the engine hands a session's
/// client info from the load to the next write, where an unchanged user agent keeps the
/// texts it had (no allocation on a returning visit's write).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientInfo {
    ip: Option<IpAddr>,
    user_agent: Option<Text>,
    device: Text,
}

/// A text a [`ClientInfo`] holds: a shared string, or a part of one. The in-process store
/// keeps a session's data, user and client texts in one string; a load then hands out
/// parts of it instead of copies. Compared and shown as the text it spells.
#[derive(Clone)]
struct Text {
    src: Arc<str>,
    start: u32,
    end: u32,
}

impl Text {
    /// `src[range]`, if `range` lies on character boundaries of `src` (and fits `u32`).
    fn part(src: &Arc<str>, range: Range<usize>) -> Option<Text> {
        src.get(range.clone())?;
        Some(Text {
            src: Arc::clone(src),
            start: u32::try_from(range.start).ok()?,
            end: u32::try_from(range.end).ok()?,
        })
    }
}

impl Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        // `part` checked the range; a whole string's range is its own.
        let text = self.src.get(self.start as usize..self.end as usize);
        debug_assert!(text.is_some());
        text.unwrap_or("")
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::from(Arc::<str>::from(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::from(Arc::<str>::from(s))
    }
}

impl From<Arc<str>> for Text {
    /// All of `src`. A text longer than `u32::MAX` bytes cannot reach here: the user
    /// agent and the label are bounded far below it.
    fn from(src: Arc<str>) -> Text {
        let end = u32::try_from(src.len()).unwrap_or(u32::MAX);
        Text { src, start: 0, end }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        **self == **other
    }
}

impl Eq for Text {}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

impl ClientInfo {
    /// The client info of a request: its IP (already resolved, see
    /// [`TrustedProxies::client_ip`]) and its `User-Agent` header, sanitized
    /// ([`sanitize_user_agent`]); the label is derived from it ([`device_label`]).
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> ClientInfo {
        let user_agent: Option<Text> = user_agent.and_then(|u| sanitize(u, MAX_USER_AGENT_LEN));
        let device = device_label(user_agent.as_deref()).into();
        ClientInfo {
            ip: ip.map(|ip| ip.to_canonical()),
            user_agent,
            device,
        }
    }

    /// Client info as a store read it back, keeping the stored label (bounded to
    /// [`MAX_DEVICE_LABEL_LEN`], control characters dropped); an absent or empty label
    /// is derived again from the user agent.
    pub fn from_stored(
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
        device: Option<&str>,
    ) -> ClientInfo {
        let user_agent: Option<Text> = user_agent.and_then(|u| sanitize(u, MAX_USER_AGENT_LEN));
        // The table is read only when no label was stored: it is the costly part (a
        // browser's user agent is searched for a few dozen markers), and every load of a
        // stored session passes here.
        let device = match device.and_then(|d| sanitize(d, MAX_DEVICE_LABEL_LEN)) {
            Some(label) => label,
            None => device_label(user_agent.as_deref()).into(),
        };
        ClientInfo {
            ip: ip.map(|ip| ip.to_canonical()),
            user_agent,
            device,
        }
    }

    /// Client info from parts of `text` that a [`ClientInfo`] gave out (its user agent
    /// and label, as the in-process store keeps them in a session's one string): no
    /// sanitizing, no table, no copy — the two texts share `text`. Text from anywhere else
    /// goes through [`ClientInfo::from_stored`]. `None` if a range does not lie in `text`.
    pub(crate) fn from_clean_parts(
        ip: Option<IpAddr>,
        text: &Arc<str>,
        user_agent: Option<Range<usize>>,
        device: Range<usize>,
    ) -> Option<ClientInfo> {
        let user_agent = match user_agent {
            Some(range) => Some(Text::part(text, range)?),
            None => None,
        };
        Some(ClientInfo {
            ip,
            user_agent,
            device: Text::part(text, device)?,
        })
    }

    /// The client info of a request whose user agent, already sanitized, is `user_agent`:
    /// the label is `known`'s when `known` (what the session recorded before) has the same
    /// user agent — the label is a function of it —, else it is derived from the table.
    /// Every write records client info, and a session's user agent rarely changes.
    pub(crate) fn of_request(
        ip: Option<IpAddr>,
        user_agent: Option<&str>,
        known: Option<&ClientInfo>,
    ) -> ClientInfo {
        let ip = ip.map(|ip| ip.to_canonical());
        match known.filter(|k| k.user_agent() == user_agent) {
            // The same user agent: the same texts, shared.
            Some(k) => ClientInfo {
                ip,
                user_agent: k.user_agent.clone(),
                device: k.device.clone(),
            },
            None => ClientInfo {
                ip,
                user_agent: user_agent.map(Text::from),
                device: device_label(user_agent).into(),
            },
        }
    }

    /// The client info as one line of text, for stores that keep it in a single field:
    /// `IP<TAB>USER-AGENT<TAB>LABEL`, an absent IP or user agent as the empty string.
    /// None of the three can hold a tab (the user agent and the label have no control
    /// characters), so the form is unambiguous; [`ClientInfo::from_stored_text`] reads it.
    ///
    /// ```
    /// use sessionkit_core::ClientInfo;
    ///
    /// let info = ClientInfo::new(Some("2001:db8::1".parse().unwrap()), Some("curl/8.5.0"));
    /// assert_eq!(info.to_stored_text(), "2001:db8::1\tcurl/8.5.0\tcurl");
    /// assert_eq!(ClientInfo::from_stored_text(&info.to_stored_text()), Some(info));
    /// assert_eq!(ClientInfo::from_stored_text("not an ip\t\t"), None);
    /// ```
    pub fn to_stored_text(&self) -> String {
        let ua = self.user_agent.as_deref().unwrap_or("");
        let mut out = String::with_capacity(48 + ua.len() + self.device.len());
        if let Some(ip) = self.ip {
            push_ip(&mut out, ip);
        }
        out.push('\t');
        out.push_str(ua);
        out.push('\t');
        out.push_str(&self.device);
        out
    }

    /// Reads [`ClientInfo::to_stored_text`]'s form back (through
    /// [`ClientInfo::from_stored`]); `None` when the text is not in that form (not three
    /// tab-separated parts, or an IP that does not parse), for the store to log.
    pub fn from_stored_text(text: &str) -> Option<ClientInfo> {
        let mut parts = text.split('\t');
        let (ip, ua, label) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let ip = if ip.is_empty() {
            None
        } else {
            Some(ip.parse().ok()?)
        };
        fn opt(s: &str) -> Option<&str> {
            (!s.is_empty()).then_some(s)
        }
        Some(ClientInfo::from_stored(ip, opt(ua), opt(label)))
    }

    /// The client's IP address, if the request had one (IPv4-mapped IPv6 addresses are
    /// kept as IPv4).
    pub fn ip(&self) -> Option<IpAddr> {
        self.ip
    }

    /// The user agent, sanitized; `None` when the request sent none (or only control
    /// characters and spaces).
    pub fn user_agent(&self) -> Option<&str> {
        self.user_agent.as_deref()
    }

    /// The short device label ("Firefox on Linux", "curl", [`UNKNOWN_DEVICE`]).
    pub fn device(&self) -> &str {
        &self.device
    }
}

/// Appends `ip` as `Display` writes it. An IPv4 address (nearly every client) is written
/// digit by digit: `Display` pads and buffers, which cost more than the rest of a
/// session's client text.
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
        }
        IpAddr::V6(_) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{ip}");
        }
    }
}

/// A `User-Agent` value as it is recorded and compared: control characters dropped,
/// surrounding spaces trimmed, cut to [`MAX_USER_AGENT_LEN`] bytes at a character
/// boundary; `None` when nothing is left.
///
/// ```
/// use sessionkit_core::device::{MAX_USER_AGENT_LEN, sanitize_user_agent};
///
/// assert_eq!(sanitize_user_agent(" curl/8.5.0\t").as_deref(), Some("curl/8.5.0"));
/// assert_eq!(sanitize_user_agent("\u{0}\u{7f} "), None);
/// assert_eq!(sanitize_user_agent(&"é".repeat(400)).unwrap().len(), MAX_USER_AGENT_LEN);
/// ```
pub fn sanitize_user_agent(raw: &str) -> Option<Box<str>> {
    sanitize(raw, MAX_USER_AGENT_LEN)
}

/// Drops control characters, trims, cuts to `max` bytes at a character boundary; the
/// result in the text type the caller keeps (`Box<str>`, `Arc<str>`), built in one
/// allocation on the fast path.
fn sanitize<T: From<String> + for<'a> From<&'a str>>(raw: &str, max: usize) -> Option<T> {
    // Fast path, taken by nearly every real user agent: printable ASCII that fits is kept
    // as it is (one copy; no per-character work). Every adapter request with recording on
    // passes here, whether or not it writes its session.
    let trimmed = raw.trim();
    if trimmed.len() <= max && trimmed.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return (!trimmed.is_empty()).then(|| T::from(trimmed));
    }
    sanitize_chars(raw, max).map(T::from)
}

/// [`sanitize`] character by character: the rule itself, which the fast path must agree
/// with (tested).
fn sanitize_chars(raw: &str, max: usize) -> Option<String> {
    let mut out = String::with_capacity(raw.len().min(max));
    for c in raw.trim().chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    let trimmed = out.trim_end();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.len() != out.len() {
        out.truncate(trimmed.len());
    }
    Some(out)
}

#[cfg(test)]
mod tests;
