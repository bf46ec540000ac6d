//! `kithara gc`: evict least-recently-used streamed assets until they fit
//! `--max-bytes`; kept ones only with `--include-kept`, down to `--max-kept-bytes`.

use kithara_cache::{AssetCache, AssetInfo};
use serde_json::json;

use crate::commands::ls::row_json;
use crate::console::Console;
use crate::error::CliError;
use crate::size::human;

/// Evicts until the cache fits its limit (and with `include_kept`, the
/// kept assets theirs) and lists what went (or, with `--json`, one JSON
/// object). `at_open` is what opening the cache for this command evicted
/// (a smaller `--max-bytes`).
pub fn exec(
    cache: &AssetCache,
    include_kept: bool,
    as_json: bool,
    at_open: Vec<AssetInfo>,
    con: &mut Console,
) -> Result<(), CliError> {
    let mut removed = at_open;
    let before = cache.assets()?;
    let mut evicted = cache.gc()?;
    if include_kept {
        evicted.extend(cache.gc_kept()?);
    }
    for id in evicted {
        if let Some(info) = before.iter().find(|a| a.id == id) {
            removed.push(info.clone());
        }
    }
    let stats = cache.stats()?;
    if as_json {
        let v = json!({
            "removed": removed.iter().map(row_json).collect::<Vec<_>>(),
            "total_bytes": stats.total_bytes,
            "max_bytes": stats.max_bytes,
            "kept_bytes": stats.kept_bytes,
            "max_kept_bytes": stats.max_kept_bytes,
        });
        return con.out(format_args!("{v}"));
    }
    for info in &removed {
        let url = info.source_url.as_deref().unwrap_or("-");
        con.out(format_args!(
            "removed {}  {}  {url}",
            info.id.to_hex(),
            human(info.bytes)
        ))?;
    }
    con.out(format_args!(
        "{} asset(s) removed; {} of {} used",
        removed.len(),
        human(stats.total_bytes),
        human(stats.max_bytes)
    ))
}
