//! `kithara ls`: one row per asset.

use std::process::ExitCode;

use kithara_cache::AssetInfo;
use serde_json::json;

use crate::args::Global;
use crate::cache_dir::open_inspect;
use crate::error::CliError;
use crate::size::human;

/// Lists the assets, as a table or JSON.
pub fn run(global: &Global, as_json: bool) -> Result<ExitCode, CliError> {
    let assets = match open_inspect(global)? {
        Some(cache) => cache.assets()?,
        None => Vec::new(),
    };
    if as_json {
        let rows: Vec<_> = assets.iter().map(row_json).collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16}  {:>10}  {:>6}  {:<20}  {:<6}  {:<4}  SOURCE",
        "ID", "BYTES", "FILES", "LAST ACCESS", "PINNED", "KEPT"
    );
    for a in &assets {
        println!(
            "{:<16}  {:>10}  {:>6}  {:<20}  {:<6}  {:<4}  {}",
            &a.id.to_hex()[..16],
            human(a.bytes),
            a.files,
            humantime::format_rfc3339_seconds(a.last_access).to_string(),
            if a.pinned { "yes" } else { "no" },
            if a.kept { "yes" } else { "no" },
            a.source_url.as_deref().unwrap_or("-"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// One asset as JSON (also the rows of `gc --json` and `rm --json`).
pub fn row_json(a: &AssetInfo) -> serde_json::Value {
    json!({
        "id": a.id.to_hex(),
        "source_url": a.source_url,
        "bytes": a.bytes,
        "files": a.files,
        "last_access": humantime::format_rfc3339_seconds(a.last_access).to_string(),
        "access_tick": a.access_tick,
        "pinned": a.pinned,
        "kept": a.kept,
    })
}
