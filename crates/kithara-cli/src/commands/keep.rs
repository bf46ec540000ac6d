//! `kithara keep` / `kithara unkeep`: move a cached track between the kept
//! budget (never evicted by streaming) and the streamed one.

use kithara_cache::AssetCache;
use serde_json::json;

use crate::commands::rm::find;
use crate::console::Console;
use crate::error::CliError;
use crate::size::human;

/// Keeps (`keep`) or unkeeps the asset named by `target`, as `rm` finds
/// it; prints its id and what an unkeep evicted (or, with `--json`, one
/// JSON object).
pub fn exec(
    cache: &AssetCache,
    target: &str,
    keep: bool,
    as_json: bool,
    con: &mut Console,
) -> Result<(), CliError> {
    let asset = cache.asset(find(cache, target)?);
    let evicted = if keep {
        asset.keep()?;
        Vec::new()
    } else {
        asset.unkeep()?
    };
    let bytes = asset.info().map_or(0, |i| i.bytes);
    let id = asset.id();
    if as_json {
        let v = json!({
            "id": id.to_hex(),
            "kept": keep,
            "bytes": bytes,
            "evicted": evicted.iter().map(|e| e.to_hex()).collect::<Vec<_>>(),
        });
        return con.out(format_args!("{v}"));
    }
    for e in &evicted {
        con.out(format_args!("evicted {e}"))?;
    }
    let what = if keep { "kept" } else { "unkept" };
    con.out(format_args!("{what} {id}  {}", human(bytes)))
}
