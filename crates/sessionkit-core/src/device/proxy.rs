//! Trusted proxies and the `X-Forwarded-For` rule.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::config::ConfigError;

/// The setting's name in errors ([`ConfigError::setting`]).
const SETTING: &str = "trusted_proxies";

/// One trusted proxy: an address (`10.0.0.1`, `::1`) or a CIDR range (`10.0.0.0/8`,
/// `fd00::/8`). IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are read as IPv4.
///
/// ```
/// use sessionkit_core::device::ProxyRange;
///
/// let range: ProxyRange = "10.0.0.0/8".parse().unwrap();
/// assert!(range.contains("10.1.2.3".parse().unwrap()));
/// assert!(!range.contains("11.0.0.1".parse().unwrap()));
///
/// let err = "10.0.0.0/33".parse::<ProxyRange>().unwrap_err();
/// assert_eq!(err.setting(), "trusted_proxies");
/// assert!(err.reason().contains("33"), "{err}");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyRange {
    network: IpAddr,
    prefix: u8,
}

impl ProxyRange {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask32(self.prefix);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask128(self.prefix);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }

    /// The network address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length (32 or 128 for a single address).
    pub fn prefix(&self) -> u8 {
        self.prefix
    }
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for ProxyRange {
    type Err = ConfigError;

    /// Reads `ADDRESS` or `ADDRESS/PREFIX`. Refused, with the setting's name
    /// (`trusted_proxies`) and the reason: an address that is not one, a prefix longer
    /// than the address (`10.0.0.0/33`, `::/129`) or not a number, and a range with host
    /// bits set (`10.0.0.1/8`: the network is `10.0.0.0/8`).
    fn from_str(s: &str) -> Result<ProxyRange, ConfigError> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network = addr
            .parse::<IpAddr>()
            .map_err(|_| {
                ConfigError::new(
                    SETTING,
                    format!("{s:?} is not an IP address or a CIDR range (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)"),
                )
            })?
            .to_canonical();
        let bits: u8 = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => {
                let n: u8 = p
                    .parse()
                    .ok()
                    .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        ConfigError::new(
                            SETTING,
                            format!(
                                "{s:?}: the prefix length {p:?} is not a number from 0 to {bits}"
                            ),
                        )
                    })?;
                if n > bits {
                    return Err(ConfigError::new(
                        SETTING,
                        format!(
                            "{s:?}: a prefix length of {n} is longer than the {bits} bits of an {} address",
                            if bits == 32 { "IPv4" } else { "IPv6" }
                        ),
                    ));
                }
                n
            }
        };
        let range = ProxyRange { network, prefix };
        let masked = match network {
            IpAddr::V4(a) => IpAddr::from((u32::from(a) & mask32(prefix)).to_be_bytes()),
            IpAddr::V6(a) => IpAddr::from((u128::from(a) & mask128(prefix)).to_be_bytes()),
        };
        if masked != network {
            return Err(ConfigError::new(
                SETTING,
                format!("{s:?} has host bits set: the range is {masked}/{prefix}"),
            ));
        }
        Ok(range)
    }
}

impl fmt::Display for ProxyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl fmt::Debug for ProxyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The proxies whose `X-Forwarded-For` is believed
/// ([`ConfigBuilder::trusted_proxies`](crate::ConfigBuilder::trusted_proxies)); empty by
/// default, which ignores the header.
///
/// ```
/// use sessionkit_core::device::TrustedProxies;
///
/// let proxies = TrustedProxies::parse_list("10.0.0.0/8, fd00::/8").unwrap();
/// let peer = "10.0.0.5".parse().unwrap();
/// // The rightmost entry that is not a trusted proxy is the client.
/// let ip = proxies.client_ip(Some(peer), ["198.51.100.1, 203.0.113.9, 10.0.0.7"]);
/// assert_eq!(ip, Some("203.0.113.9".parse().unwrap()));
///
/// // From a peer that is not a trusted proxy, the header is a client's claim: ignored.
/// let stranger = "192.0.2.1".parse().unwrap();
/// assert_eq!(proxies.client_ip(Some(stranger), ["203.0.113.9"]), Some(stranger));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    ranges: Vec<ProxyRange>,
}

impl TrustedProxies {
    /// Parses each entry ([`ProxyRange`]'s form); the first bad one is the error.
    pub fn parse<I, S>(entries: I) -> Result<TrustedProxies, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let ranges = entries
            .into_iter()
            .map(|e| e.as_ref().parse())
            .collect::<Result<Vec<ProxyRange>, _>>()?;
        Ok(TrustedProxies { ranges })
    }

    /// Parses a list separated by commas and/or whitespace (the form of a single
    /// configuration value or environment variable, e.g. `SESSIONKIT_TRUSTED_PROXIES`, the
    /// CLI's naming for its variables); blank entries are skipped.
    pub fn parse_list(list: &str) -> Result<TrustedProxies, ConfigError> {
        TrustedProxies::parse(
            list.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|e| !e.is_empty()),
        )
    }

    /// These ranges and `more`'s.
    pub(crate) fn with(mut self, more: TrustedProxies) -> TrustedProxies {
        self.ranges.extend(more.ranges);
        self
    }

    /// The ranges.
    pub fn ranges(&self) -> &[ProxyRange] {
        &self.ranges
    }

    /// Whether there are none (the header is then ignored).
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// The client's IP for a connection from `peer` carrying the `X-Forwarded-For`
    /// headers `forwarded_for` (in the order they arrived; each a comma-separated list).
    ///
    /// The peer, unless it is a trusted proxy; then the header is walked from the right,
    /// skipping trusted proxies, and the first other address is the client. If the walk
    /// meets an entry that is not an address (`unknown`, garbage), or runs out while
    /// every entry was a trusted proxy, the client is the last trusted address reached:
    /// what a trusted hop vouched for, never a value a client could have chosen. Entries
    /// may carry a port (`192.0.2.1:1234`, `[2001:db8::1]:443`). The header is not read
    /// at all when the peer is not trusted.
    pub fn client_ip<'h>(
        &self,
        peer: Option<IpAddr>,
        forwarded_for: impl IntoIterator<Item = &'h str, IntoIter: DoubleEndedIterator>,
    ) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.contains(peer) {
            return Some(peer);
        }
        let mut client = peer;
        let entries = forwarded_for
            .into_iter()
            .rev()
            .flat_map(|h| h.rsplit(','))
            .map(str::trim)
            // Empty list elements (`a,,b`, a trailing comma) are allowed by HTTP's list
            // syntax and mean nothing.
            .filter(|e| !e.is_empty());
        for entry in entries {
            let Some(ip) = parse_entry(entry) else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port, possibly quoted.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let e = entry.trim_matches('"');
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = e.strip_prefix('[') {
        // [v6] or [v6]:port
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.parse::<u16>().is_ok());
        return port_ok
            .then(|| inside.parse::<std::net::Ipv6Addr>().ok())
            .flatten()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    // v4:port
    let (addr, port) = e.split_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.ranges).finish()
    }
}
