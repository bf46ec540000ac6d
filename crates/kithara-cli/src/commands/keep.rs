//! `kithara keep` / `kithara unkeep`: move a cached track between the kept
//! budget (never evicted by streaming) and the streamed one.

use std::process::ExitCode;

use serde_json::json;

use crate::args::Global;
use crate::cache_dir::open_owner;
use crate::commands::rm::find;
use crate::error::CliError;
use crate::size::human;

/// Keeps (`keep`) or unkeeps the asset named by `target`, as `rm` finds
/// it; prints its id and what an unkeep evicted (or, with `--json`, one
/// JSON object).
pub fn run(global: &Global, target: &str, keep: bool, as_json: bool) -> Result<ExitCode, CliError> {
    let cache = open_owner(global)?;
    let asset = cache.asset(find(&cache, target)?);
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
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    for e in &evicted {
        println!("evicted {e}");
    }
    let what = if keep { "kept" } else { "unkept" };
    println!("{what} {id}  {}", human(bytes));
    Ok(ExitCode::SUCCESS)
}
