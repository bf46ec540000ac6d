//! Turning command-line options into HLS session options.

use kithara_cache::AssetCache;
use kithara_hls::{CacheMode, HlsOptions, VariantSelect};

use crate::error::CliError;

/// What `--variant` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VariantArg {
    One(VariantSelect),
    All,
}

pub fn parse_variant(text: &str, allow_all: bool) -> Result<VariantArg, CliError> {
    match text.to_ascii_lowercase().as_str() {
        "highest" => Ok(VariantArg::One(VariantSelect::Highest)),
        "lowest" => Ok(VariantArg::One(VariantSelect::Lowest)),
        "all" if allow_all => Ok(VariantArg::All),
        n => n
            .parse()
            .map(|i| VariantArg::One(VariantSelect::Index(i)))
            .map_err(|_| {
                let all = if allow_all { ", all" } else { "" };
                CliError::Usage(format!(
                    "invalid --variant {text:?}: expected an index{all}, highest or lowest"
                ))
            }),
    }
}

/// Session options reading through `cache`, with the key request extras.
pub fn options(
    cache: AssetCache,
    headers: &[String],
    queries: &[String],
) -> Result<HlsOptions, CliError> {
    let mut opts = HlsOptions::new().cache(CacheMode::Persistent(cache));
    for h in headers {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            CliError::Usage(format!(
                "invalid --key-header {h:?}: expected 'Name: value'"
            ))
        })?;
        opts = opts.key_header(name.trim(), value.trim());
    }
    for q in queries {
        let (k, v) = q
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("invalid --key-query {q:?}: expected k=v")))?;
        opts = opts.key_query(k, v);
    }
    Ok(opts)
}

pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::io("start async runtime", "tokio"))
}
