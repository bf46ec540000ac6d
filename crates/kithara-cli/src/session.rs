//! HLS sessions as the commands run them: options from flags, and a runtime.

use kithara_cache::AssetCache;
use kithara_hls::{CacheMode, HlsOptions};
use tokio::runtime::{Builder, Runtime};

use crate::error::CliError;

/// Session options reading through `cache`, with the key request extras
/// given as `--key-header 'Name: value'` and `--key-query k=v`.
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

/// The async runtime the HLS client runs on.
pub fn runtime() -> Result<Runtime, CliError> {
    Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}
