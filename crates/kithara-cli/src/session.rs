//! HLS sessions as the commands run them: options from flags, and a runtime.

use kithara_cache::AssetCache;
use kithara_hls::{CacheMode, HlsOptions};
use tokio::runtime::{Builder, Runtime};

use crate::error::CliError;

/// The key request extras given as `--key-header 'Name: value'` and
/// `--key-query k=v`: `(headers, query pairs)`.
pub type KeyExtras = (Vec<(String, String)>, Vec<(String, String)>);

/// Parse `--key-header` and `--key-query` values.
pub fn key_extras(headers: &[String], queries: &[String]) -> Result<KeyExtras, CliError> {
    let headers = headers
        .iter()
        .map(|h| {
            let (name, value) = h.split_once(':').ok_or_else(|| {
                CliError::Usage(format!(
                    "invalid --key-header {h:?}: expected 'Name: value'"
                ))
            })?;
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect::<Result<_, CliError>>()?;
    let queries = queries
        .iter()
        .map(|q| {
            let (k, v) = q.split_once('=').ok_or_else(|| {
                CliError::Usage(format!("invalid --key-query {q:?}: expected k=v"))
            })?;
            Ok((k.to_owned(), v.to_owned()))
        })
        .collect::<Result<_, CliError>>()?;
    Ok((headers, queries))
}

/// Session options reading through `cache`, with the key request extras.
pub fn options(
    cache: AssetCache,
    headers: &[String],
    queries: &[String],
) -> Result<HlsOptions, CliError> {
    let mut opts = HlsOptions::new().cache(CacheMode::Persistent(cache));
    let (headers, queries) = key_extras(headers, queries)?;
    for (name, value) in headers {
        opts = opts.key_header(name, value);
    }
    for (k, v) in queries {
        opts = opts.key_query(k, v);
    }
    Ok(opts)
}

/// The async runtime the HLS client runs on.
pub fn runtime() -> Result<Runtime, CliError> {
    Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}
