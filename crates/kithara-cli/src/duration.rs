//! Durations on the command line: `90`, `90s`, `5m`, `1h` (whole numbers);
//! positions in a track also as a clock, `1:30` or `1:02:03`.

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

/// Parse a position in a track: what [`parse`] takes, or `M:SS` / `H:MM:SS`
/// (minutes and seconds below 60 after the first field).
pub fn parse_position(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.contains(':') {
        return parse(text);
    }
    let bad = || format!("invalid time {text:?}: expected e.g. 90, 90s, 1:30 or 1:02:03");
    let fields: Vec<&str> = text.split(':').collect();
    if fields.len() > 3 {
        return Err(bad());
    }
    let mut secs: u64 = 0;
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: u64 = field.parse().map_err(|_| bad())?;
        if i > 0 && (field.len() != 2 || n >= 60) {
            return Err(bad());
        }
        secs = secs
            .checked_mul(60)
            .and_then(|s| s.checked_add(n))
            .ok_or_else(bad)?;
    }
    Ok(Duration::from_secs(secs))
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

    #[test]
    fn positions_as_a_clock() {
        assert_eq!(parse_position("1:30").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_position("1:02:03").unwrap(),
            Duration::from_secs(3723)
        );
        assert_eq!(parse_position("0:08").unwrap(), Duration::from_secs(8));
        assert_eq!(parse_position("90s").unwrap(), Duration::from_secs(90));
        for bad in ["1:", ":30", "1:60", "1:5", "1:2:3:4", "1:-5", "a:30"] {
            assert!(parse_position(bad).is_err(), "{bad:?}");
        }
    }
}
