//! `--variant` values, parsed by clap (`value_parser`).

use kithara_hls::VariantSelect;

/// What `kithara fetch --variant` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchVariant {
    /// One variant.
    One(VariantSelect),
    /// Every variant of the master playlist.
    All,
}

/// Parses `N`, `highest` or `lowest`.
pub fn parse_one(text: &str) -> Result<VariantSelect, String> {
    match text.to_ascii_lowercase().as_str() {
        "highest" => Ok(VariantSelect::Highest),
        "lowest" => Ok(VariantSelect::Lowest),
        n => n
            .parse()
            .map(VariantSelect::Index)
            .map_err(|_| "expected an index, highest or lowest".to_owned()),
    }
}

/// Parses `N`, `all`, `highest` or `lowest`.
pub fn parse_fetch(text: &str) -> Result<FetchVariant, String> {
    if text.eq_ignore_ascii_case("all") {
        return Ok(FetchVariant::All);
    }
    parse_one(text)
        .map(FetchVariant::One)
        .map_err(|_| "expected an index, all, highest or lowest".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants() {
        assert_eq!(parse_fetch("ALL").unwrap(), FetchVariant::All);
        assert_eq!(
            parse_fetch("2").unwrap(),
            FetchVariant::One(VariantSelect::Index(2))
        );
        assert_eq!(parse_one("lowest").unwrap(), VariantSelect::Lowest);
        assert!(parse_one("all").is_err());
        assert!(parse_fetch("best").is_err());
    }
}
