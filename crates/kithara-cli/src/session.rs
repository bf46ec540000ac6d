//! HLS sessions as the commands run them: options from flags, and a runtime.

use kithara_cache::AssetCache;
use kithara_hls::{CacheMode, HlsOptions};
use tokio::runtime::{Builder, Runtime};

use crate::args::KeyArgs;
use crate::error::CliError;

/// Parses a `--key-header` value, `Name: value`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| "expected 'Name: value'".to_owned())?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// Parses a `--key-query` value, `k=v`.
pub fn parse_query(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| "expected k=v".to_owned())?;
    Ok((k.to_owned(), v.to_owned()))
}

/// Session options reading through `cache`, with the key request extras.
pub fn options(cache: AssetCache, keys: &KeyArgs) -> HlsOptions {
    let mut opts = HlsOptions::new().cache(CacheMode::Persistent(cache));
    for (name, value) in &keys.headers {
        opts = opts.key_header(name.clone(), value.clone());
    }
    for (k, v) in &keys.queries {
        opts = opts.key_query(k.clone(), v.clone());
    }
    opts
}

/// The async runtime the HLS client runs on.
pub fn runtime() -> Result<Runtime, CliError> {
    Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}
