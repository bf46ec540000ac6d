//! `kithara gc`: evict least-recently-used assets until the cache fits.

use std::process::ExitCode;

use crate::args::Global;
use crate::cache_dir::open_owner;
use crate::error::CliError;
use crate::size::human;

/// Evicts until the cache fits its limit and lists what went.
pub fn run(global: &Global) -> Result<ExitCode, CliError> {
    let cache = open_owner(global)?;
    let before = cache.assets()?;
    let removed = cache.gc()?;
    for id in &removed {
        let info = before.iter().find(|a| a.id == *id);
        let bytes = info.map_or(0, |a| a.bytes);
        let url = info.and_then(|a| a.source_url.as_deref()).unwrap_or("-");
        println!("removed {}  {}  {url}", id.to_hex(), human(bytes));
    }
    let stats = cache.stats()?;
    println!(
        "{} asset(s) removed; {} of {} used",
        removed.len(),
        human(stats.total_bytes),
        human(stats.max_bytes)
    );
    Ok(ExitCode::SUCCESS)
}
