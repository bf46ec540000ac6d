//! HLS sessions as the commands run them: options from flags, and a runtime.

use kithara_cache::AssetCache;
use kithara_hls::{CacheMode, HlsOptions};
use tokio::runtime::{Builder, Runtime};

use crate::args::{KeyArgs, NetArgs};
use crate::error::CliError;

/// Parses a `--key-header` value, `Name: value`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| "expected 'Name: value'".to_owned())?;
    Ok((name.trim().to_owned(), value.trim().to_owned()))
}

/// Parses a `--header` value, `Name: value`, refusing what is not a valid
/// HTTP header (the value is never echoed: it may be a secret).
pub fn parse_valid_header(text: &str) -> Result<(String, String), String> {
    let pair = parse_header(text)?;
    kithara_hls::header_map(std::slice::from_ref(&pair), "header")
        .map_err(|_| format!("{:?} is not a valid HTTP header name and value", pair.0))?;
    Ok(pair)
}

/// Parses a `--user-agent` value: any text valid in a header value.
pub fn parse_user_agent(text: &str) -> Result<String, String> {
    kithara_hls::header_map(&[("user-agent".to_owned(), text.to_owned())], "user agent")
        .map_err(|_| "not valid in an HTTP header (visible ASCII and spaces)".to_owned())?;
    Ok(text.to_owned())
}

/// Parses a `--key-query` value, `k=v`.
pub fn parse_query(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| "expected k=v".to_owned())?;
    Ok((k.to_owned(), v.to_owned()))
}

/// Session options reading through `cache`, with the key request extras
/// and the network settings.
pub fn options(cache: AssetCache, keys: &KeyArgs, net: &NetArgs) -> HlsOptions {
    let mut opts = HlsOptions::new().cache(CacheMode::Persistent(cache));
    for (name, value) in &net.all_headers {
        opts = opts.header(name.clone(), value.clone());
    }
    if let Some(agent) = &net.user_agent {
        opts = opts.user_agent(agent.clone());
    }
    if let Some(t) = net.connect_timeout {
        opts = opts.connect_timeout(t);
    }
    if let Some(t) = net.read_timeout {
        opts = opts.read_timeout(t);
    }
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
