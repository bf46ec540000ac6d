//! Durations on the command line: `90`, `90s`, `5m`, `1h` (whole numbers).

use std::time::Duration;

/// Parse `N`, `Ns`, `Nm` or `Nh` (seconds without a unit).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid duration {text:?}: expected e.g. 90s, 5m or 1h"))?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => None,
    };
    secs.map(Duration::from_secs)
        .ok_or_else(|| format!("invalid duration {text:?}: expected e.g. 90s, 5m or 1h"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bad_input() {
        assert_eq!(parse("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("2h").unwrap(), Duration::from_secs(7200));
        for bad in ["", "m", "5d", "-1s", "1.5m", "99999999999999999999h"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
