//! Where the cache lives and how it is opened.

use std::path::PathBuf;

use kithara_cache::{AssetCache, CacheOptions};

use crate::args::Global;
use crate::error::CliError;

/// `--cache-dir`, else `$KITHARA_CACHE_DIR`, else the platform cache directory + `kithara`.
pub fn resolve(global: &Global) -> Result<PathBuf, CliError> {
    if let Some(dir) = &global.cache_dir {
        return Ok(dir.clone());
    }
    if let Some(dir) = std::env::var_os("KITHARA_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(dir.into());
    }
    dirs::cache_dir()
        .map(|d| d.join("kithara"))
        .ok_or_else(|| CliError::Usage("no platform cache directory: pass --cache-dir DIR".into()))
}

/// Opens and owns the cache; `--max-bytes` is stored when given.
pub fn open_owner(global: &Global) -> Result<AssetCache, CliError> {
    let mut opts = CacheOptions::new(resolve(global)?);
    if let Some(max) = global.max_bytes {
        opts = opts.max_bytes(max);
    }
    Ok(AssetCache::open(opts)?)
}

/// Opens the cache for inspection beside its owner; `None` if it does not exist yet.
pub fn open_inspect(global: &Global) -> Result<Option<AssetCache>, CliError> {
    let root = resolve(global)?;
    if !root.exists() {
        return Ok(None);
    }
    Ok(Some(AssetCache::open_read_only(root)?))
}
