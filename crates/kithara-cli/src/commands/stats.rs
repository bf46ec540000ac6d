//! `kithara stats`: totals of the cache.

use std::process::ExitCode;

use kithara_cache::DEFAULT_MAX_BYTES;
use serde_json::json;

use crate::args::Global;
use crate::cache_dir::{open_inspect, resolve};
use crate::error::CliError;
use crate::size::human;

/// Prints the totals, as text or JSON.
pub fn run(global: &Global, as_json: bool) -> Result<ExitCode, CliError> {
    let dir = resolve(global)?;
    let (total, max, assets, pinned) = match open_inspect(global)? {
        Some(cache) => {
            let s = cache.stats()?;
            (s.total_bytes, s.max_bytes, s.asset_count, s.pinned_assets)
        }
        None => (0, global.max_bytes.unwrap_or(DEFAULT_MAX_BYTES), 0, 0),
    };
    if as_json {
        let v = json!({
            "total_bytes": total,
            "max_bytes": max,
            "asset_count": assets,
            "pinned_assets": pinned,
            "cache_dir": dir.display().to_string(),
        });
        println!("{v}");
    } else {
        println!("cache dir:     {}", dir.display());
        println!("total bytes:   {total} ({})", human(total));
        println!("max bytes:     {max} ({})", human(max));
        println!("assets:        {assets}");
        println!("pinned assets: {pinned}");
    }
    Ok(ExitCode::SUCCESS)
}
