//! Where the cache lives and how it is opened.

use std::path::PathBuf;

use kithara_cache::{AssetCache, CacheOptions};

use crate::args::Global;
use crate::error::CliError;

/// `--cache-dir` (or `$KITHARA_CACHE_DIR`, through clap), else the
/// platform cache directory + `kithara`.
pub fn resolve(global: &Global) -> Result<PathBuf, CliError> {
    if let Some(dir) = global
        .cache_dir
        .as_ref()
        .filter(|d| !d.as_os_str().is_empty())
    {
        return Ok(dir.clone());
    }
    dirs::cache_dir()
        .map(|d| d.join("kithara"))
        .ok_or_else(|| CliError::Usage("no platform cache directory: pass --cache-dir DIR".into()))
}

/// Opens and owns the cache; `--max-bytes` and `--max-kept-bytes` are in
/// force for this run only (only `kithara config` stores a limit).
pub fn open_owner(global: &Global) -> Result<AssetCache, CliError> {
    Ok(AssetCache::open(owner_options(global)?)?)
}

/// The options of an owner: `--max-bytes` and `--max-kept-bytes` for this run only.
pub fn owner_options(global: &Global) -> Result<CacheOptions, CliError> {
    // Named in another opener's in-use error.
    let mut opts = CacheOptions::new(resolve(global)?).owner(format!("kithara {}", global.command));
    if let Some(max) = global.max_bytes {
        opts = opts.run_max_bytes(max);
    }
    if let Some(max) = global.max_kept_bytes {
        opts = opts.run_max_kept_bytes(max);
    }
    Ok(opts)
}

/// Opens the cache for inspection beside its owner; `None` if it does not exist yet.
pub fn open_inspect(global: &Global) -> Result<Option<AssetCache>, CliError> {
    let root = resolve(global)?;
    if !root.exists() {
        return Ok(None);
    }
    Ok(Some(AssetCache::open_read_only(root)?))
}
