//! `kithara config`: the settings stored in the cache, and the one way to
//! change them (`--max-bytes SIZE` and `--max-kept-bytes SIZE` elsewhere
//! apply to one run only).

use std::process::ExitCode;

use kithara_cache::{AssetCache, CacheOptions};

use crate::args::Global;
use crate::cache_dir::resolve;
use crate::error::CliError;
use crate::size::human;

/// Stores `--max-bytes` (evicting streamed assets to fit) and
/// `--max-kept-bytes` (evicting nothing) when given, then prints the
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
    if let Some(max) = global.max_kept_bytes {
        cache.set_max_kept_bytes(max)?;
        cache.flush()?;
    }
    let stats = cache.stats()?;
    let max = stats.max_bytes;
    println!("max-bytes = {max} ({})", human(max));
    match stats.max_kept_bytes {
        Some(kept) => println!("max-kept-bytes = {kept} ({})", human(kept)),
        None => println!("max-kept-bytes = unlimited"),
    }
    Ok(ExitCode::SUCCESS)
}
