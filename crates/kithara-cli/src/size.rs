//! Byte sizes as people write them: `512MiB`, `2GB`, `1048576`.

/// Parses a size; binary (`KiB`, `MiB`, `GiB`, `TiB`) and decimal (`KB`, `MB`,
/// `GB`, `TB`) units, case-insensitive, an optional `B`, optional spaces.
pub fn parse(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| {
        format!(
            "invalid size {text:?}: expected a number with an optional unit such as 512MiB or 2GB"
        )
    })?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        other => return Err(format!("invalid size {text:?}: unknown unit {other:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size {text:?}: too large"))
}

/// Formats bytes for people, in binary units.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("512MiB"), Ok(512 << 20));
        assert_eq!(parse("2GB"), Ok(2_000_000_000));
        assert_eq!(parse("1048576"), Ok(1 << 20));
        assert_eq!(parse("1 gib"), Ok(1 << 30));
        assert!(parse("12XB").is_err());
        assert!(parse("MiB").is_err());
        assert!(parse("99999999999TiB").is_err());
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(10), "10 B");
    }
}
