//! Device metadata: the trusted-proxy rule, CIDR parsing, user-agent sanitizing, labels.

use std::net::IpAddr;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn proxies(list: &[&str]) -> TrustedProxies {
    TrustedProxies::parse(list).unwrap()
}

// ---- the client IP ----

#[test]
fn without_trusted_proxies_the_header_is_ignored() {
    let none = TrustedProxies::default();
    assert!(none.is_empty());
    let peer = ip("10.0.0.1");
    assert_eq!(none.client_ip(Some(peer), ["203.0.113.9"]), Some(peer));
    assert_eq!(none.client_ip(None, ["203.0.113.9"]), None);
}

#[test]
fn a_spoofed_header_from_an_untrusted_peer_is_ignored() {
    let p = proxies(&["10.0.0.0/8"]);
    let attacker = ip("198.51.100.66");
    for header in ["127.0.0.1", "10.0.0.1", "203.0.113.9, 10.0.0.2", "garbage"] {
        assert_eq!(
            p.client_ip(Some(attacker), [header]),
            Some(attacker),
            "{header}"
        );
    }
}

#[test]
fn the_rightmost_untrusted_entry_is_the_client() {
    let p = proxies(&["10.0.0.0/8", "192.168.1.1"]);
    let peer = Some(ip("10.0.0.2"));
    // One proxy.
    assert_eq!(p.client_ip(peer, ["203.0.113.9"]), Some(ip("203.0.113.9")));
    // A chain of proxies: the trusted hops are skipped; what the client itself claimed
    // (leftmost) is not believed.
    assert_eq!(
        p.client_ip(peer, ["1.1.1.1, 203.0.113.9, 192.168.1.1, 10.9.9.9"]),
        Some(ip("203.0.113.9"))
    );
    // The chain split over several headers, in order.
    assert_eq!(
        p.client_ip(peer, ["1.1.1.1, 203.0.113.9", "192.168.1.1", "10.9.9.9"]),
        Some(ip("203.0.113.9"))
    );
    // No header, or an empty one: the peer.
    assert_eq!(p.client_ip(peer, [] as [&str; 0]), peer);
    assert_eq!(p.client_ip(peer, [" , "]), peer);
    // Every entry a trusted proxy: the leftmost (the first hop the proxies vouch for).
    assert_eq!(
        p.client_ip(peer, ["10.1.1.1, 192.168.1.1"]),
        Some(ip("10.1.1.1"))
    );
}

#[test]
fn garbage_stops_the_walk_at_the_last_trusted_address() {
    let p = proxies(&["10.0.0.0/8"]);
    let peer = Some(ip("10.0.0.2"));
    for header in [
        "unknown",
        "203.0.113.9, unknown",
        "not an ip",
        "999.1.1.1",
        "203.0.113.9, <script>",
        "1.2.3.4:99999",
        "[::1",
        "[::1]x",
    ] {
        assert_eq!(p.client_ip(peer, [header]), peer, "{header}");
    }
    // Garbage left of the client does not matter.
    assert_eq!(
        p.client_ip(peer, ["junk, 203.0.113.9, 10.0.0.3"]),
        Some(ip("203.0.113.9"))
    );
    // Garbage between two proxies: the proxy that reported it.
    assert_eq!(
        p.client_ip(peer, ["203.0.113.9, junk, 10.0.0.3"]),
        Some(ip("10.0.0.3"))
    );
}

#[test]
fn entries_with_ports_quotes_and_ipv6() {
    let p = proxies(&["10.0.0.0/8", "2001:db8::/32"]);
    let peer = Some(ip("10.0.0.2"));
    assert_eq!(
        p.client_ip(peer, ["203.0.113.9:4711"]),
        Some(ip("203.0.113.9"))
    );
    assert_eq!(
        p.client_ip(peer, ["\"[2001:db9::1]:443\""]),
        Some(ip("2001:db9::1"))
    );
    assert_eq!(
        p.client_ip(peer, ["[2001:db9::1]"]),
        Some(ip("2001:db9::1"))
    );
    assert_eq!(
        p.client_ip(peer, ["2001:db9::5, 2001:db8::7"]),
        Some(ip("2001:db9::5"))
    );
    // An IPv6 peer inside a trusted IPv6 range.
    assert_eq!(
        p.client_ip(Some(ip("2001:db8::1")), ["198.51.100.4"]),
        Some(ip("198.51.100.4"))
    );
    // IPv4-mapped IPv6 (a dual-stack socket) is IPv4, both as peer and as entry.
    assert_eq!(
        p.client_ip(Some(ip("::ffff:10.0.0.2")), ["::ffff:198.51.100.4"]),
        Some(ip("198.51.100.4"))
    );
    assert_eq!(
        p.client_ip(Some(ip("::ffff:198.51.100.4")), ["1.1.1.1"]),
        Some(ip("198.51.100.4"))
    );
}

// ---- ranges ----

#[test]
fn range_extremes() {
    let all4: ProxyRange = "0.0.0.0/0".parse().unwrap();
    assert!(all4.contains(ip("0.0.0.0")) && all4.contains(ip("255.255.255.255")));
    assert!(
        !all4.contains(ip("::1")),
        "an IPv4 range holds no IPv6 address"
    );
    let all6: ProxyRange = "::/0".parse().unwrap();
    assert!(all6.contains(ip("::")) && all6.contains(ip("ffff::1")));
    let one4: ProxyRange = "192.0.2.1/32".parse().unwrap();
    assert!(one4.contains(ip("192.0.2.1")) && !one4.contains(ip("192.0.2.0")));
    assert_eq!(one4, "192.0.2.1".parse().unwrap());
    let one6: ProxyRange = "2001:db8::1/128".parse().unwrap();
    assert!(one6.contains(ip("2001:db8::1")) && !one6.contains(ip("2001:db8::2")));
    assert_eq!(one6.prefix(), 128);
    let v6: ProxyRange = "fd00::/8".parse().unwrap();
    assert!(v6.contains(ip("fdff::1")) && !v6.contains(ip("fe00::1")));
    let odd: ProxyRange = "10.0.0.0/31".parse().unwrap();
    assert!(odd.contains(ip("10.0.0.1")) && !odd.contains(ip("10.0.0.2")));
    assert_eq!(odd.to_string(), "10.0.0.0/31");
    // With everything trusted, the leftmost entry is the client.
    let p = TrustedProxies::parse(["0.0.0.0/0", "::/0"]).unwrap();
    assert_eq!(
        p.client_ip(Some(ip("10.0.0.1")), ["1.2.3.4, 5.6.7.8"]),
        Some(ip("1.2.3.4"))
    );
}

#[test]
fn bad_ranges_are_clear_configuration_errors() {
    for (bad, says) in [
        ("10.0.0.0/33", "33"),
        ("::/129", "129"),
        ("10.0.0.0/", "prefix"),
        ("10.0.0.0/-1", "prefix"),
        ("10.0.0.0/+8", "prefix"),
        ("10.0.0.0/8/8", "prefix"),
        ("10.0.0.0/x", "prefix"),
        ("10.0.0.256", "not an IP address"),
        ("example.com", "not an IP address"),
        ("", "not an IP address"),
        ("10.0.0.1/8", "host bits"),
        ("2001:db8::1/32", "2001:db8::/32"),
    ] {
        let err = bad.parse::<ProxyRange>().unwrap_err();
        assert_eq!(err.setting(), "trusted_proxies", "{bad}");
        assert!(err.reason().contains(says), "{bad}: {err}");
        assert!(err.to_string().contains("trusted_proxies"), "{err}");
    }
}

#[test]
fn lists_and_the_config_setting() {
    let p = TrustedProxies::parse_list(" 10.0.0.0/8,  ::1\n192.168.0.0/16,").unwrap();
    assert_eq!(p.ranges().len(), 3);
    assert!(p.contains(ip("::1")) && p.contains(ip("192.168.3.4")));
    assert!(TrustedProxies::parse_list("").unwrap().is_empty());
    assert!(TrustedProxies::parse_list("10.0.0.0/8, 1.2.3.4/40").is_err());

    let c = crate::Config::builder()
        .trusted_proxies(["10.0.0.0/8"])
        .trusted_proxies(vec!["fd00::/8".to_owned()])
        .build()
        .unwrap();
    assert_eq!(c.trusted_proxies().ranges().len(), 2);
    let err = crate::Config::builder()
        .trusted_proxies(["10.0.0.0/33"])
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "trusted_proxies");
    // Kept through to_builder.
    let again = c.to_builder().build().unwrap();
    assert_eq!(again.trusted_proxies(), c.trusted_proxies());
}

#[test]
fn recording_settings() {
    let c = crate::Config::default();
    assert!(c.record_client_info());
    assert!(!c.bind_user_agent());
    assert!(c.trusted_proxies().is_empty());
    let err = crate::Config::builder()
        .record_client_info(false)
        .bind_user_agent(true)
        .build()
        .unwrap_err();
    assert_eq!(err.setting(), "bind_user_agent");
    assert!(err.reason().contains("record_client_info"), "{err}");
}

// ---- user agents and labels ----

#[test]
fn user_agents_are_bounded_and_cleaned() {
    assert_eq!(
        sanitize_user_agent("a\u{1b}[31mb\u{7f}c\u{85}d").as_deref(),
        Some("a[31mbcd")
    );
    assert_eq!(sanitize_user_agent("   "), None);
    assert_eq!(sanitize_user_agent(""), None);
    let long = "x".repeat(10_000);
    assert_eq!(
        sanitize_user_agent(&long).unwrap().len(),
        MAX_USER_AGENT_LEN
    );
    // Cut at a character boundary.
    let wide = format!("a{}", "€".repeat(200));
    let cut = sanitize_user_agent(&wide).unwrap();
    assert!(cut.len() <= MAX_USER_AGENT_LEN && cut.len() > MAX_USER_AGENT_LEN - 3);
    // A space left at the cut is trimmed.
    let spaced = format!("{} y", "x".repeat(MAX_USER_AGENT_LEN - 1));
    assert_eq!(
        sanitize_user_agent(&spaced).unwrap().len(),
        MAX_USER_AGENT_LEN - 1
    );
    let info = ClientInfo::from_stored(None, Some("curl/8"), Some("Bad\nlabel"));
    assert_eq!(info.device(), "Badlabel");
    let info = ClientInfo::from_stored(None, Some("curl/8"), Some(" "));
    assert_eq!(info.device(), "curl");
    let long_label = "L".repeat(500);
    let info = ClientInfo::from_stored(None, None, Some(&long_label));
    assert_eq!(info.device().len(), MAX_DEVICE_LABEL_LEN);
}

/// The printable-ASCII fast path gives what the character-by-character rule gives, at and
/// around every boundary (length, printable range, surrounding spaces).
#[test]
fn the_ascii_fast_path_agrees_with_the_rule() {
    let max = MAX_USER_AGENT_LEN;
    let mut inputs: Vec<String> = vec![
        String::new(),
        " ".into(),
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0".into(),
        "  curl/8.5.0  ".into(),
        "a\tb".into(),
        "a\u{7f}b".into(),
        "a\u{1f}b".into(),
        "~ !".into(),
        "caf\u{e9}".into(),
        "a\u{85}b".into(),
    ];
    for n in [max - 1, max, max + 1] {
        inputs.push("x".repeat(n));
        inputs.push(format!(" {} ", "x".repeat(n)));
        inputs.push(format!("{} y", "x".repeat(n.saturating_sub(2))));
    }
    for raw in &inputs {
        assert_eq!(
            super::sanitize(raw, max),
            super::sanitize_chars(raw, max),
            "{raw:?}"
        );
    }
}

/// A write keeps the label its session recorded while the user agent stays the same (no
/// table reading), and derives it again when the user agent changed.
#[test]
fn a_request_reuses_the_label_of_the_same_user_agent() {
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
    let known = ClientInfo::from_stored(Some(ip("203.0.113.7")), Some(ua), Some("My laptop"));
    let again = ClientInfo::of_request(Some(ip("198.51.100.1")), Some(ua), Some(&known));
    assert_eq!(again.device(), "My laptop");
    assert_eq!(again.ip(), Some(ip("198.51.100.1")));
    assert_eq!(again.user_agent(), Some(ua));
    let other = ClientInfo::of_request(None, Some("curl/8.5.0"), Some(&known));
    assert_eq!(other.device(), "curl");
    let none = ClientInfo::of_request(None, None, Some(&known));
    assert_eq!(none.device(), UNKNOWN_DEVICE);
    assert_eq!(none.user_agent(), None);
    let first = ClientInfo::of_request(None, Some(ua), None);
    assert_eq!(first, ClientInfo::new(None, Some(ua)));
}

#[test]
fn device_labels() {
    let cases = [
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on Linux",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome on Windows",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "Chrome on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0",
            "Opera on Linux",
        ),
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome on ChromeOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
            "Internet Explorer on Windows",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64)",
            "Unknown browser on Linux",
        ),
        ("Mozilla/5.0 Firefox/133.0", "Firefox"),
        ("curl/8.5.0", "curl"),
        ("Wget/1.21.4", "Wget"),
        ("python-requests/2.32.3", "Python requests"),
        ("Go-http-client/2.0", "Go HTTP client"),
        ("Googlebot/2.1", UNKNOWN_DEVICE),
        ("", UNKNOWN_DEVICE),
    ];
    for (ua, label) in cases {
        assert_eq!(device_label(Some(ua)), label, "{ua}");
    }
    assert_eq!(device_label(None), UNKNOWN_DEVICE);
}

#[test]
fn ip_text_is_what_display_writes() {
    let mut cases: Vec<IpAddr> = [
        "0.0.0.0",
        "255.255.255.255",
        "10.0.0.1",
        "192.168.100.9",
        "1.20.199.250",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    cases.extend((0..=255u8).map(|o| IpAddr::from([o, 255 - o, o / 3, o.wrapping_mul(7)])));
    cases.push("2001:db8::1".parse().unwrap());
    cases.push("::ffff:203.0.113.7".parse().unwrap());
    for ip in cases {
        let mut out = String::new();
        super::push_ip(&mut out, ip);
        assert_eq!(out, ip.to_string());
    }
}
