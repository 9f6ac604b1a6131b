//! Durations and sizes on the command line, checked when parsed: a value out of range is a
//! usage error that says the range, never a wrapped or saturated number.

use std::time::Duration;

/// Parses a whole number with a unit: `500ms`, `10s`, `2m`, `1h`; a bare number is seconds.
/// The result must lie in `min..=max`.
pub fn parse_duration(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (t, 1_000)
    };
    let range = || format!("{} to {}", show(min), show(max));
    let amount: u64 = num.trim().parse().map_err(|_| {
        format!("{s:?} is not a duration: expected a whole number with a unit, e.g. 500ms, 10s, 2m ({})", range())
    })?;
    let d = amount
        .checked_mul(unit_ms)
        .map(Duration::from_millis)
        .filter(|d| (min..=max).contains(d))
        .ok_or_else(|| format!("{s:?} is out of range: expected {}", range()))?;
    Ok(d)
}

/// A duration as the shortest exact `Nh` / `Nm` / `Ns` / `Nms`.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0s".to_owned(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

/// Parses a number of bytes (`16384`, or with a binary unit: `16KiB`, `1MiB`) in
/// `min..=max`.
pub fn parse_bytes(s: &str, min: usize, max: usize) -> Result<usize, String> {
    let t = s.trim();
    let (num, unit) = if let Some(n) = t.strip_suffix("KiB") {
        (n, 1024)
    } else if let Some(n) = t.strip_suffix("MiB") {
        (n, 1024 * 1024)
    } else {
        (t, 1)
    };
    let range = || format!("{min} to {max} bytes");
    let amount: usize = num.trim().parse().map_err(|_| {
        format!(
            "{s:?} is not a size: expected a whole number of bytes, e.g. 16384 or 16KiB ({})",
            range()
        )
    })?;
    amount
        .checked_mul(unit)
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{s:?} is out of range: expected {}", range()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("500ms", MS, DAY),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(parse_duration("10s", MS, DAY), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration(" 10 ", MS, DAY), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m", MS, DAY), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("24h", MS, DAY), Ok(DAY));
        assert_eq!(
            parse_duration("0s", Duration::ZERO, DAY),
            Ok(Duration::ZERO)
        );
        for bad in [
            "",
            "soon",
            "-1s",
            "1.5s",
            "10 seconds",
            "0ms",
            "25h",
            "18446744073709551615h",
        ] {
            let e = parse_duration(bad, MS, DAY).unwrap_err();
            assert!(e.contains("1ms to 24h"), "{bad}: {e}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("16384", 1024, 1 << 20), Ok(16384));
        assert_eq!(parse_bytes("16KiB", 1024, 1 << 20), Ok(16384));
        assert_eq!(parse_bytes("1MiB", 1024, 1 << 20), Ok(1 << 20));
        for bad in ["0", "1023", "2MiB", "-1", "1e3", "18446744073709551615MiB"] {
            let e = parse_bytes(bad, 1024, 1 << 20).unwrap_err();
            assert!(e.contains("1024 to 1048576 bytes"), "{bad}: {e}");
        }
    }

    #[test]
    fn shown() {
        assert_eq!(show(Duration::from_millis(1500)), "1500ms");
        assert_eq!(show(Duration::from_secs(30)), "30s");
        assert_eq!(show(Duration::from_secs(120)), "2m");
        assert_eq!(show(DAY), "24h");
    }
}
