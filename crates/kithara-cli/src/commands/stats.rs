//! `kithara stats`: totals of the cache.

use std::process::ExitCode;

use kithara_cache::{CacheStats, DEFAULT_MAX_BYTES};
use serde_json::json;

use crate::args::Global;
use crate::cache_dir::{open_inspect, resolve};
use crate::error::CliError;
use crate::size::human;

/// Prints the totals, as text or JSON.
pub fn run(global: &Global, as_json: bool) -> Result<ExitCode, CliError> {
    let dir = resolve(global)?;
    let stats = open_inspect(global)?.map(|c| c.stats()).transpose()?;
    // Without a cache yet: nothing stored, the limits this run would use.
    let count = |f: fn(&CacheStats) -> usize| stats.as_ref().map_or(0, f);
    let total = stats.as_ref().map_or(0, |s| s.total_bytes);
    let max = stats
        .as_ref()
        .map_or(global.max_bytes.unwrap_or(DEFAULT_MAX_BYTES), |s| {
            s.max_bytes
        });
    let kept_bytes = stats.as_ref().map_or(0, |s| s.kept_bytes);
    let max_kept = stats
        .as_ref()
        .map_or(global.max_kept_bytes, |s| s.max_kept_bytes);
    let (assets, kept_assets, pinned) = (
        count(|s| s.asset_count),
        count(|s| s.kept_assets),
        count(|s| s.pinned_assets),
    );
    if as_json {
        let v = json!({
            "total_bytes": total,
            "max_bytes": max,
            "kept_bytes": kept_bytes,
            "kept_assets": kept_assets,
            "max_kept_bytes": max_kept,
            "asset_count": assets,
            "pinned_assets": pinned,
            "cache_dir": dir.display().to_string(),
        });
        println!("{v}");
    } else {
        let max_kept = max_kept.map_or("unlimited".into(), |m| format!("{m} ({})", human(m)));
        println!("cache dir:      {}", dir.display());
        println!("total bytes:    {total} ({})", human(total));
        println!("max bytes:      {max} ({})", human(max));
        println!("kept bytes:     {kept_bytes} ({})", human(kept_bytes));
        println!("max kept bytes: {max_kept}");
        println!("assets:         {assets}");
        println!("kept assets:    {kept_assets}");
        println!("pinned assets:  {pinned}");
    }
    Ok(ExitCode::SUCCESS)
}
