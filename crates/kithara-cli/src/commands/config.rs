//! `kithara config`: the settings stored in the cache, and the one way to
//! change them (`--max-bytes SIZE` elsewhere applies to one run only).

use std::process::ExitCode;

use kithara_cache::{AssetCache, CacheOptions};

use crate::args::Global;
use crate::cache_dir::resolve;
use crate::error::CliError;
use crate::size::human;

/// Stores `--max-bytes` when given (evicting to fit), then prints the
/// stored settings.
pub fn run(global: &Global) -> Result<ExitCode, CliError> {
    let cache = AssetCache::open(CacheOptions::new(resolve(global)?))?;
    if let Some(max) = global.max_bytes {
        let evicted = cache.set_max_bytes(max)?;
        cache.flush()?;
        if !evicted.is_empty() {
            eprintln!("evicted {} asset(s) to fit", evicted.len());
        }
    }
    let max = cache.stats()?.max_bytes;
    println!("max-bytes = {max} ({})", human(max));
    Ok(ExitCode::SUCCESS)
}
